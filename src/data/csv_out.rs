//! The CSV writer of every output custseg writes (`assignments.csv`, `segments.csv`, the
//! scores of `custseg score`): comma-separated fields, one record per line ending in `\n`,
//! a field quoted only when it has to be. Rows are appended to byte buffers, so blocks of
//! rows can be formatted in parallel and written one after the other.

/// Appends one field, quoted when it holds a comma, a quote, a line break or a tab (so a
/// file of ids with tabs is never taken for a tab-separated one) or starts or ends with a
/// space (which readers that trim would lose); a quote inside is doubled.
pub fn field(out: &mut Vec<u8>, f: &str) {
    if f.bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r' | b'\t'))
        || f.starts_with(' ')
        || f.ends_with(' ')
    {
        out.push(b'"');
        for b in f.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(f.as_bytes());
    }
}

/// `v` to `digits` significant digits, trailing zeros dropped (`0.58108239`, `12.5`,
/// `0.0000003`); whole numbers of more digits are written whole: enough for any reader, a
/// third of the bytes of a round trip. The digits are those of `format!("{v:.decimals$}")`
/// (exact rounding); most values take a shorter exact path ([`rounded_fixed`]).
pub fn significant(v: f64, digits: usize) -> String {
    let mut s = String::new();
    significant_to(&mut s, v, digits);
    s
}

/// [`significant`], appended to `out`.
pub fn significant_to(out: &mut String, v: f64, digits: usize) {
    use std::fmt::Write as _;
    if v == 0.0 || !v.is_finite() {
        let _ = write!(out, "{}", if v == 0.0 { 0.0 } else { v });
        return;
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (digits as i32 - 1 - magnitude).clamp(0, 40) as usize;
    let start = out.len();
    if !rounded_fixed(out, v, decimals) {
        let _ = write!(out, "{v:.decimals$}");
    }
    if out[start..].contains('.') {
        let kept = out[start..]
            .trim_end_matches('0')
            .trim_end_matches('.')
            .len();
        out.truncate(start + kept);
    }
}

/// Appends `format!("{v:.decimals$}")` by one multiplication and an integer, when that is
/// provably the same text: 10^decimals is exact (≤ 10^22), |v|·10^decimals is an
/// integer-exact double (< 2^53), and its fraction is not within a few units in the last place
/// of one half, so the product's rounding error cannot change which integer the exact value
/// rounds to. `false` otherwise, with nothing appended (the caller formats exactly).
fn rounded_fixed(out: &mut String, v: f64, decimals: usize) -> bool {
    let Some(&tens) = super::EXACT_TENS.get(decimals) else {
        return false;
    };
    let scaled = v.abs() * tens;
    if scaled.is_nan() || scaled >= 9_007_199_254_740_992.0 {
        return false;
    }
    let whole = scaled.floor();
    let ulp = f64::from_bits(scaled.to_bits() + 1) - scaled;
    if ((scaled - whole) - 0.5).abs() <= 4.0 * ulp {
        return false;
    }
    // The integer's decimal digits, most significant first (< 2^53: at most 16).
    let mut n = scaled.round() as u64;
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits only, so always UTF-8.
    let digits = std::str::from_utf8(&buf[at..]).unwrap_or_default();
    if v < 0.0 {
        out.push('-');
    }
    if decimals == 0 {
        out.push_str(digits);
    } else if digits.len() > decimals {
        let (int, frac) = digits.split_at(digits.len() - decimals);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', decimals - digits.len()));
        out.push_str(digits);
    }
    true
}

/// Appends one record: its fields ([`field`]) separated by commas, then `\n`. A record of
/// one empty field is written `""`, so it does not read back as a blank line.
pub fn record<S: AsRef<str>>(out: &mut Vec<u8>, fields: impl IntoIterator<Item = S>) {
    let start = out.len();
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        field(out, f.as_ref());
    }
    if out.len() == start {
        out.extend_from_slice(b"\"\"");
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut out = Vec::new();
        for f in [
            "plain",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            " padded",
            "",
            "\tx",
        ] {
            field(&mut out, f);
            out.push(b'|');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"|\" padded\"||\"\tx\"|"
        );
    }

    #[test]
    fn records_read_back_as_written() {
        let rows: Vec<Vec<&str>> = vec![
            vec!["id", "name", "x"],
            vec!["c,1", "a \"b\"", ""],
            vec![" s", "line\nbreak", "\t"],
            vec![""],
        ];
        let mut out = Vec::new();
        for r in &rows {
            record(&mut out, r);
        }
        let mut rd = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&out[..]);
        let back: Vec<Vec<String>> = rd
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        assert_eq!(back, rows);
    }

    #[test]
    fn the_short_path_writes_what_exact_formatting_writes() {
        // Random magnitudes and digits, values next to a rounding tie, and negatives.
        use rand::{RngCore, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        let mut next = || rng.next_u64();
        let mut short = 0;
        for i in 0..400_000 {
            let r = next();
            let mantissa = (r >> 11) as f64 / (1u64 << 53) as f64;
            let exponent = (r % 34) as i32 - 14;
            let mut v = (1.0 + 9.0 * mantissa) * 10f64.powi(exponent);
            if i % 3 == 0 {
                // k + 0.5 at the last kept digit, and its neighbours.
                let d = 7 - exponent.clamp(-14, 7);
                let tie = ((v * 10f64.powi(d)).floor() + 0.5) / 10f64.powi(d);
                let step = (r % 3) as i64 - 1;
                v = f64::from_bits((tie.to_bits() as i64 + step) as u64);
            }
            if i % 2 == 1 {
                v = -v;
            }
            let decimals = (7 - v.abs().log10().floor() as i32).clamp(0, 40) as usize;
            // Appended after what the buffer holds, which stays.
            let mut s = String::from("x,");
            if rounded_fixed(&mut s, v, decimals) {
                assert_eq!(
                    s[2..],
                    format!("{v:.decimals$}"),
                    "{v:e} to {decimals} decimals"
                );
                short += 1;
            } else {
                assert_eq!(s, "x,");
            }
        }
        assert!(short > 200_000, "the short path took only {short} values");
    }

    #[test]
    fn significant_digits_round_and_stay_short() {
        assert_eq!(significant(0.581_082_387_853_136_5, 8), "0.58108239");
        assert_eq!(significant(12.5, 8), "12.5");
        assert_eq!(significant(0.0, 8), "0");
        assert_eq!(significant(1234567890.0, 4), "1234567890");
        assert_eq!(significant(9.999_999_999, 8), "10");
        assert_eq!(significant(-0.012_345_678_9, 4), "-0.01235");
        assert_eq!(significant(3.0e-7, 8), "0.0000003");
        let mut out = String::from("120.");
        significant_to(&mut out, 1500.0, 8);
        assert_eq!(out, "120.1500", "only the appended digits are trimmed");
    }
}
