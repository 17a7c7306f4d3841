//! Spreadsheet formula injection: the one rule for which cell texts a spreadsheet (Excel,
//! LibreOffice, Google Sheets) may run as a formula, and how custseg makes such a cell safe
//! for people without changing it for machines.
//!
//! A cell is *formula-like* when it starts with `=`, `+`, `-`, `@`, a TAB or a CR, unless it
//! is a plain number (`-5`, `+3`, `-1.25e3`: spreadsheets read those as numbers, and
//! prefixing them would turn numbers into text). Machine outputs (`assignments.csv`, the
//! default `custseg score` CSV) keep every cell byte-exact so joins work, and only count
//! such cells ([`is_formula_like`]); people-facing outputs (`segments.csv`,
//! `custseg score --spreadsheet-safe`) write them with a leading `'` ([`spreadsheet_safe`]),
//! the OWASP recommendation that spreadsheets display as the original text.
//! User-supplied display texts (segment names in a config) that are formula-like are refused
//! outright ([`is_formula_like`] again), so names are the same in every output.

use std::borrow::Cow;

/// The characters a formula-like cell starts with.
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// True when `cell` could be run as a formula by a spreadsheet: it starts with one of
/// [`FORMULA_STARTS`] and is not a plain number.
///
/// ```
/// use custseg::data::is_formula_like;
/// assert!(is_formula_like("=1+1"));
/// assert!(is_formula_like("+44 20 7946 0000"));
/// assert!(!is_formula_like("-5"));
/// assert!(!is_formula_like("Champions"));
/// ```
pub fn is_formula_like(cell: &str) -> bool {
    cell.starts_with(FORMULA_STARTS) && !is_plain_number(cell)
}

/// `cell` as a spreadsheet shows it as text: formula-like cells get a leading `'`, every
/// other cell is returned unchanged (borrowed).
///
/// ```
/// use custseg::data::spreadsheet_safe;
/// assert_eq!(spreadsheet_safe("@SUM(A1)"), "'@SUM(A1)");
/// assert_eq!(spreadsheet_safe("-1.25e3"), "-1.25e3");
/// assert_eq!(spreadsheet_safe("c1"), "c1");
/// ```
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    if is_formula_like(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// An optional sign, digits with an optional fraction (or a fraction alone), and an optional
/// exponent: what spreadsheets read as a number. No spaces, no `inf`/`NaN`, no separators.
fn is_plain_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_prefixed() {
        for cell in [
            "=1+1",
            "\t=2+2",
            "@SUM(A1)",
            "+44 20",
            "-cmd",
            "\rx",
            "=",
            "-",
            "+",
            "=HYPERLINK(\"http://x\")",
        ] {
            assert!(is_formula_like(cell), "{cell:?}");
            assert_eq!(spreadsheet_safe(cell), format!("'{cell}"), "{cell:?}");
        }
    }

    #[test]
    fn plain_numbers_and_ordinary_text_are_left_alone() {
        for cell in [
            "-5", "+5", "-1.25e3", "-.5", "-5.", "+1E-7", "12", "c1", "", " =x", "a=b", "'=x",
        ] {
            assert!(!is_formula_like(cell), "{cell:?}");
            assert!(
                matches!(spreadsheet_safe(cell), Cow::Borrowed(c) if c == cell),
                "{cell:?}"
            );
        }
    }

    #[test]
    fn number_lookalikes_are_not_plain_numbers() {
        for cell in [
            "-1e", "-e5", "-.", "+44 20", "-1,5", "-inf", "-NaN", "-0x10", "--5",
        ] {
            assert!(is_formula_like(cell), "{cell:?}");
        }
    }
}
