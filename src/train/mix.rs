//! Each segment's behaviour mix and the label it earns: from the segments' profiles (the
//! mean of each `category_share[L]`, `channel_share[L]`, `time_share[B]`, `view_share[L]`
//! column over the members, and the members' shares of each `main_country`) the mix per
//! block, largest first; and a label of what sets the segment apart ("Mostly Wine, Store
//! channel").
//!
//! A level sets a segment apart when it is the segment's largest level of its block (not
//! `(other)`), holds at least [`MIN_SHARE`] of it, and at least [`MIN_LIFT`] times its share
//! over all customers. The label names at most two such levels, the most lifted first:
//! `Mostly L` for a category, `L channel`, `L buyers` for a country, `Mostly B shoppers`
//! for a time of day, `Browses L` for a viewed category.

use crate::features::behaviour::{parse_share, OTHER_LEVEL, SHARE_BLOCKS};
use crate::model::{FeatureProfile, LevelShare, Mix, Segment};

/// The least share of its block a level needs to set a segment apart.
pub const MIN_SHARE: f64 = 0.4;
/// The least ratio of the segment's share to everyone's.
pub const MIN_LIFT: f64 = 1.5;

/// The country block's name in the mix.
const COUNTRY: &str = "main_country";

/// Fills each segment's [`Segment::mix`] and [`Segment::behaviour`].
pub fn describe(segments: &mut [Segment]) {
    for s in segments.iter_mut() {
        s.mix = mix_of(s);
    }
    let total: f64 = segments.iter().map(|s| s.size as f64).sum();
    if total <= 0.0 {
        return;
    }
    // Everyone's share of a level: the size-weighted mean of the segments'.
    let overall = |block: &str, level: &str, segs: &[Segment]| -> f64 {
        segs.iter()
            .map(|s| {
                let share = (s.mix.iter().find(|m| m.block == block))
                    .and_then(|m| m.levels.iter().find(|l| l.level == level))
                    .map_or(0.0, |l| l.share);
                share * s.size as f64
            })
            .sum::<f64>()
            / total
    };
    let labels: Vec<Option<String>> = segments
        .iter()
        .map(|s| {
            let mut apart: Vec<(f64, String)> = Vec::new();
            for m in &s.mix {
                let Some(top) = m.levels.iter().find(|l| l.level != OTHER_LEVEL) else {
                    continue;
                };
                let everyone = overall(&m.block, &top.level, segments);
                let lift = if everyone > 0.0 {
                    top.share / everyone
                } else {
                    0.0
                };
                if top.share >= MIN_SHARE && lift >= MIN_LIFT {
                    apart.push((lift, phrase(&m.block, &top.level)));
                }
            }
            apart.sort_by(|a, b| b.0.total_cmp(&a.0));
            apart.truncate(2);
            // In block order, so "Mostly Wine, Store channel" reads category first.
            let order = |p: &String| PHRASE_ORDER.iter().position(|w| p.contains(w));
            apart.sort_by_key(|(_, p)| order(p));
            (!apart.is_empty()).then(|| {
                (apart.into_iter().map(|(_, p)| p))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        })
        .collect();
    for (s, l) in segments.iter_mut().zip(labels) {
        s.behaviour = l;
    }
}

/// The words of each block's phrase, in label order.
const PHRASE_ORDER: [&str; 5] = ["Mostly", "channel", "buyers", "shoppers", "Browses"];

fn phrase(block: &str, level: &str) -> String {
    match block {
        "category_share" => format!("Mostly {level}"),
        "channel_share" => format!("{level} channel"),
        "time_share" => format!("{} shoppers", capitalized(level)),
        "view_share" => format!("Browses {level}"),
        _ => format!("{level} buyers"),
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A segment's mix per block, from its profile.
fn mix_of(s: &Segment) -> Vec<Mix> {
    let mut out: Vec<Mix> = Vec::new();
    for (block, _) in SHARE_BLOCKS {
        let levels: Vec<LevelShare> = (s.profile.iter())
            .filter_map(|p| match p {
                FeatureProfile::Numeric { feature, mean, .. } => {
                    let (k, level) = parse_share(feature)?;
                    (SHARE_BLOCKS[k].0 == block).then(|| LevelShare {
                        level: level.to_string(),
                        share: *mean,
                    })
                }
                _ => None,
            })
            .collect();
        // A block none of the members has (browsers' purchase shares) says nothing.
        if levels.iter().any(|l| l.share > 0.0) {
            out.push(sorted(block, levels));
        }
    }
    for p in &s.profile {
        if let FeatureProfile::Categorical {
            feature,
            shares,
            missing_share,
        } = p
        {
            if feature == COUNTRY {
                // Shares of all members: those without a country (browsers) hold none.
                let of_all = (shares.iter())
                    .map(|l| LevelShare {
                        level: l.level.clone(),
                        share: l.share * (1.0 - missing_share),
                    })
                    .collect();
                out.push(sorted(COUNTRY, of_all));
            }
        }
    }
    out
}

fn sorted(block: &str, mut levels: Vec<LevelShare>) -> Mix {
    levels.sort_by(|a, b| {
        b.share
            .total_cmp(&a.share)
            .then_with(|| a.level.cmp(&b.level))
    });
    Mix {
        block: block.to_string(),
        levels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tier;

    fn seg(size: u64, wine: f64, store: f64) -> Segment {
        let n = |feature: &str, mean: f64| FeatureProfile::Numeric {
            feature: feature.into(),
            mean,
            median: mean,
        };
        Segment {
            size,
            profile: vec![
                n("recency_days", 5.0),
                n("category_share[Wine]", wine),
                n("category_share[Toys]", 1.0 - wine),
                n("channel_share[Store]", store),
                n("channel_share[Web]", 1.0 - store),
            ],
            ..Segment::empty(0, "x", Tier::Medium)
        }
    }

    #[test]
    fn a_level_far_above_everyone_s_share_names_the_segment() {
        let mut segs = vec![seg(100, 0.8, 0.7), seg(300, 0.2, 0.2), seg(100, 0.3, 0.6)];
        describe(&mut segs);
        // Wine over all: (80 + 60 + 30) / 500 = 0.34, 0.8 / 0.34 = 2.35; Store 0.38, 1.84.
        assert_eq!(
            segs[0].behaviour.as_deref(),
            Some("Mostly Wine, Store channel")
        );
        assert_eq!(segs[0].mix[0].block, "category_share");
        assert_eq!(segs[0].mix[0].text(2), "Wine 80%, Toys 20%");
        // Toys 0.8 for the second; everyone's toys 0.66: lift 1.21, not apart. Web 0.8 vs
        // 0.62: 1.29.
        assert_eq!(segs[1].behaviour, None);
        // Store 0.6 vs 0.38: lift 1.58 and share ≥ 0.4: apart; Toys 0.7 / 0.66 not.
        assert_eq!(segs[2].behaviour.as_deref(), Some("Store channel"));
    }

    #[test]
    fn segments_without_share_features_get_no_mix() {
        let mut s = seg(10, 0.5, 0.5);
        s.profile.truncate(1);
        let mut segs = vec![s];
        describe(&mut segs);
        assert!(segs[0].mix.is_empty() && segs[0].behaviour.is_none());
    }
}
