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
/// `0.0000003`); whole numbers of more digits are written whole. One `format!` per value:
/// enough for any reader, a third of the bytes of a round trip.
pub fn significant(v: f64, digits: usize) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{}", if v == 0.0 { 0.0 } else { v });
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (digits as i32 - 1 - magnitude).clamp(0, 40) as usize;
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        let kept = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(kept);
    }
    s
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
    fn significant_digits_round_and_stay_short() {
        assert_eq!(significant(0.581_082_387_853_136_5, 8), "0.58108239");
        assert_eq!(significant(12.5, 8), "12.5");
        assert_eq!(significant(0.0, 8), "0");
        assert_eq!(significant(1234567890.0, 4), "1234567890");
        assert_eq!(significant(9.999_999_999, 8), "10");
        assert_eq!(significant(-0.012_345_678_9, 4), "-0.01235");
        assert_eq!(significant(3.0e-7, 8), "0.0000003");
    }
}
