//! "Did you mean …": the model feature a misspelled field or column name was probably meant
//! to be. One rule for the HTTP scorer (unknown JSON fields) and batch scoring (a table
//! without a model feature's column), so both give the same hint.
//!
//! A name is close to a feature name when, compared case- and punctuation-insensitively
//! (`Recency_Days` = `recency-days` = `recencydays`), they are equal, or within a small edit
//! distance (1 for names of up to 5 letters, 2 for longer ones, so `age` is not `sex`), or one
//! is the other with trailing words left off (`recency` for `recency_days`, `monetary_value`
//! for `monetary`; at least 4 letters).

use crate::data::table::{feature_name, normalize_name};

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// True when one name's words are the other's first words (`recency` / `recency_days`),
/// the shorter one having at least 4 letters.
fn word_prefix(a: &str, b: &str) -> bool {
    let (a, b) = (feature_name(a), feature_name(b));
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.len() >= 4 && short != long && long.starts_with(&format!("{short}_"))
}

/// How close `given` is to `feature` (lower is closer), or `None` when it is not close.
fn closeness(given: &str, feature: &str) -> Option<usize> {
    let (g, f) = (normalize_name(given), normalize_name(feature));
    if g.is_empty() {
        return None;
    }
    if g == f {
        return Some(0);
    }
    let shorter = g.chars().count().min(f.chars().count());
    let limit = match shorter {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    };
    let d = edit_distance(&g, &f);
    if d <= limit {
        return Some(d);
    }
    word_prefix(given, feature).then_some(3)
}

/// True when `given` is close to `feature` by the rule above.
pub fn is_close(given: &str, feature: &str) -> bool {
    closeness(given, feature).is_some()
}

/// The candidate closest to `given`, if any is close (the first of equally close ones).
///
/// ```
/// use custseg::features::suggest::did_you_mean;
/// let features = ["recency_days", "frequency", "monetary"];
/// assert_eq!(did_you_mean("recency", features), Some("recency_days"));
/// assert_eq!(did_you_mean("Frequncy", features), Some("frequency"));
/// assert_eq!(did_you_mean("colour", features), None);
/// ```
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter_map(|c| closeness(given, c).map(|d| (d, c)))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_punctuation_do_not_matter() {
        assert!(is_close("Recency_Days", "recency_days"));
        assert!(is_close("recency-days", "recency_days"));
        assert!(is_close("RecencyDays", "recency_days"));
    }

    #[test]
    fn small_edit_distances_are_close() {
        assert!(is_close("frequncy", "frequency"));
        assert!(is_close("monetry", "monetary"));
        assert!(is_close("tenure_dyas", "tenure_days"));
        assert!(is_close("ages", "age"));
        assert!(!is_close("sex", "age"));
        assert!(!is_close("region", "gender"));
        assert!(!is_close("x", "age"));
    }

    #[test]
    fn a_unit_suffix_left_off_is_close() {
        assert!(is_close("recency", "recency_days"));
        assert!(is_close("tenure", "tenure_days"));
        assert!(is_close("monetary_value", "monetary"));
        assert!(is_close("avg_order", "avg_order_value"));
        // Too short to be a safe guess.
        assert!(!is_close("age_group", "age"));
        assert!(!is_close("avg", "avg_order_value"));
    }

    #[test]
    fn the_closest_candidate_wins() {
        let f = ["recency_days", "tenure_days", "frequency"];
        assert_eq!(did_you_mean("recency_day", f), Some("recency_days"));
        assert_eq!(did_you_mean("stock_code", f), None);
    }

    #[test]
    fn edit_distance_is_levenshtein() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
