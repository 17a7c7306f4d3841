//! Playbooks: what to do with each segment. A playbook is a goal, the recommended actions
//! and the KPI to watch, with a short stable `code` that CRMs, webhooks and HTTP clients
//! act on. Every convention name has its own; a descriptive name (no convention name fits,
//! or a model without RFM) gets its tier's, turned to winning back when the segment is
//! slipping (a `Lapsed`/`Fading` name, or fewer than half its members likely alive by the
//! value model). The config's `[segments.playbooks]` overrides any field per segment name
//! or id.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::segment::{base_name, Segment, Tier};

/// What to do with a segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Playbook {
    /// Short, stable snake_case code systems act on (`win_back`).
    pub code: String,
    /// What the treatment is for.
    pub goal: String,
    /// Recommended actions, most important first.
    pub actions: Vec<String>,
    /// The KPI that tells whether it works.
    pub kpi: String,
    /// Where it came from.
    pub source: PlaybookSource,
}

/// Where a playbook came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaybookSource {
    /// The default of the segment's convention name.
    Name,
    /// The default of a descriptive name's tier (and whether the segment is slipping).
    Tier,
    /// Set or amended in the config (`[segments.playbooks]`).
    Config,
}

/// A `[segments.playbooks."NAME or ID"]` entry: the fields it sets replace the default's.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybookOverride {
    pub code: Option<String>,
    pub goal: Option<String>,
    pub actions: Option<Vec<String>>,
    pub kpi: Option<String>,
}

/// Longest text (goal, action or KPI) a playbook override may hold, in characters.
pub const MAX_TEXT_CHARS: usize = 500;
/// Most actions a playbook override may list.
pub const MAX_ACTIONS: usize = 10;

impl PlaybookOverride {
    /// Why the entry is unusable, or None: a code that is not 1–40 snake_case characters
    /// starting with a letter, an empty or over-long text, an empty list or too many actions.
    pub fn problem(&self) -> Option<String> {
        if let Some(code) = &self.code {
            let ok = code.len() <= 40
                && code.starts_with(|c: char| c.is_ascii_lowercase())
                && (code.bytes())
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Some(format!(
                    "code {code:?} must be 1-40 characters of a-z, 0-9 and _, starting with a letter"
                ));
            }
        }
        let texts = [("goal", &self.goal), ("kpi", &self.kpi)];
        for (field, text) in texts {
            if let Some(t) = text {
                if let Some(p) = text_problem(t) {
                    return Some(format!("{field}: {p}"));
                }
            }
        }
        if let Some(actions) = &self.actions {
            if actions.is_empty() || actions.len() > MAX_ACTIONS {
                return Some(format!("actions: list 1 to {MAX_ACTIONS} actions"));
            }
            for (i, a) in actions.iter().enumerate() {
                if let Some(p) = text_problem(a) {
                    return Some(format!("actions[{i}]: {p}"));
                }
            }
        }
        None
    }
}

fn text_problem(t: &str) -> Option<String> {
    if t.trim().is_empty() {
        Some("is empty".into())
    } else if t.chars().count() > MAX_TEXT_CHARS {
        Some(format!("is longer than {MAX_TEXT_CHARS} characters"))
    } else {
        None
    }
}

/// A default playbook: code, goal, actions, KPI.
type Default4 = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
);

/// The convention names' playbooks (the eleven RFM names, Returners and Browsers).
const BY_NAME: [(&str, Default4); 13] = [
    (
        "Champions",
        (
            "reward_vip",
            "Keep and reward the best customers",
            &[
                "VIP service: priority support, early access to new products",
                "Exclusive rewards instead of discounts",
                "Invite reviews and referrals",
            ],
            "repeat-purchase rate and revenue retained",
        ),
    ),
    (
        "Loyal",
        (
            "upsell_loyal",
            "Grow share of wallet of loyal customers",
            &[
                "Loyalty programme tiers and member benefits",
                "Upsell higher-value products; cross-sell from past purchases",
                "Ask for reviews",
            ],
            "average order value and orders per customer",
        ),
    ),
    (
        "Potential Loyalist",
        (
            "nurture_loyalty",
            "Turn recent, promising buyers into loyal ones",
            &[
                "Membership or loyalty programme invitation",
                "Personalised recommendations from what they bought",
                "Limited-time offer on a second category",
            ],
            "share reaching a third order",
        ),
    ),
    (
        "New",
        (
            "onboard_new",
            "Make the first order a habit",
            &[
                "Welcome series: onboarding, how to get value",
                "Incentive for a second order within 30 days",
                "Do not flood them with discounts",
            ],
            "second-order rate within 30 days",
        ),
    ),
    (
        "Promising",
        (
            "build_engagement",
            "Build engagement before interest fades",
            &[
                "Limited-time offers on popular products",
                "Free trials or samples",
                "Brand story and social proof",
            ],
            "repeat-purchase rate",
        ),
    ),
    (
        "Need Attention",
        (
            "reengage",
            "Re-engage before they slip away",
            &[
                "Limited-time offers based on past purchases",
                "Personalised recommendations",
                "Ask what would bring them back (survey)",
            ],
            "reactivation rate within 30 days",
        ),
    ),
    (
        "About to Sleep",
        (
            "reactivate",
            "Reactivate before they lapse",
            &[
                "Share popular and new products in their categories",
                "Discount on items relevant to their history",
                "Reconnect on their preferred channel",
            ],
            "reactivation rate",
        ),
    ),
    (
        "At Risk",
        (
            "win_back",
            "Win back valuable customers who are slipping away",
            &[
                "Personalised win-back message with a renewal offer",
                "Remind them of the value they got",
                "Helpful resources or service follow-up",
            ],
            "win-back rate and revenue recovered",
        ),
    ),
    (
        "Can't Lose Them",
        (
            "win_back_vip",
            "Win back top customers before a competitor does",
            &[
                "Personal outreach (account manager or call)",
                "Exclusive renewal offer; show what is new",
                "Ask why they stopped",
            ],
            "win-back rate of this segment's revenue",
        ),
    ),
    (
        "Hibernating",
        (
            "low_cost_reactivation",
            "Revive cheaply, or let go",
            &[
                "Relevant products and special discounts in low-cost channels",
                "Recreate brand value with content",
            ],
            "reactivation rate against contact cost",
        ),
    ),
    (
        "Lost",
        (
            "suppress_or_revive",
            "Spend little: one revival attempt, then suppress",
            &[
                "One win-back campaign",
                "Otherwise exclude from paid campaigns",
            ],
            "cost saved and reactivations per campaign",
        ),
    ),
    (
        "Returners",
        (
            "review_returns",
            "Cut the cost of returns",
            &[
                "Review their return reasons; better sizing and product information",
                "Exclude from discount campaigns",
            ],
            "return rate and net revenue per customer",
        ),
    ),
    (
        "Browsers",
        (
            "convert_browsers",
            "Turn browsing into a first purchase",
            &[
                "Browse and abandoned-cart reminders",
                "First-order incentive",
                "Retarget the categories they view",
            ],
            "view-to-first-order conversion",
        ),
    ),
];

/// Descriptive names' playbooks by tier, for active and for slipping segments.
fn by_tier(tier: Tier, slipping: bool) -> Default4 {
    match (tier, slipping) {
        (Tier::High, false) => (
            "retain_high_value",
            "Keep high-value customers loyal",
            &[
                "Priority service and early access",
                "Exclusive rewards instead of discounts",
                "Invite referrals",
            ],
            "retention rate and revenue per customer",
        ),
        (Tier::High, true) => (
            "win_back_high_value",
            "Win back high-value customers who are slipping away",
            &[
                "Personal outreach with a renewal offer",
                "Ask why they buy less",
            ],
            "win-back rate and revenue recovered",
        ),
        (Tier::Medium, false) => (
            "grow_value",
            "Lift the middle toward the top tier",
            &[
                "Cross-sell and bundles based on past purchases",
                "Limited-time offers",
                "Loyalty programme enrolment",
            ],
            "average order value and purchase frequency",
        ),
        (Tier::Medium, true) => (
            "reengage",
            "Re-engage before they slip away",
            &[
                "Limited-time offers based on past purchases",
                "Personalised recommendations",
            ],
            "reactivation rate within 30 days",
        ),
        (Tier::Low, false) => (
            "low_cost_nurture",
            "Nurture at low cost",
            &[
                "Automated newsletters and recommendations",
                "Low-cost channels only",
            ],
            "share moving up to the medium tier",
        ),
        (Tier::Low, true) => (
            "suppress_or_revive",
            "Spend little: one revival attempt, then suppress",
            &[
                "One win-back campaign",
                "Otherwise exclude from paid campaigns",
            ],
            "cost saved and reactivations per campaign",
        ),
    }
}

fn of(d: Default4, source: PlaybookSource) -> Playbook {
    Playbook {
        code: d.0.into(),
        goal: d.1.into(),
        actions: d.2.iter().map(|a| a.to_string()).collect(),
        kpi: d.3.into(),
        source,
    }
}

/// The default playbook of a segment: its convention name's (a ` (…)` suffix ignored), else
/// its tier's.
pub fn default_for(s: &Segment) -> Playbook {
    let base = base_name(&s.name);
    if let Some((_, d)) = BY_NAME.iter().find(|(n, _)| *n == base) {
        return of(*d, PlaybookSource::Name);
    }
    let lapsing_name = ["Lapsed ", "Fading "].iter().any(|p| base.starts_with(p));
    let unlikely_alive = (s.predicted.as_ref()).is_some_and(|p| p.likely_alive_share < 0.5);
    of(
        by_tier(s.tier, lapsing_name || unlikely_alive),
        PlaybookSource::Tier,
    )
}

/// Gives every segment its playbook: the default, amended by the override keyed by its name
/// or, failing that, its id. Returns the override keys that matched no segment.
pub fn assign(
    segments: &mut [Segment],
    overrides: &BTreeMap<String, PlaybookOverride>,
) -> Vec<String> {
    let mut used = std::collections::BTreeSet::new();
    for s in segments.iter_mut() {
        let mut p = default_for(s);
        let found = (overrides.get_key_value(&s.name))
            .or_else(|| overrides.get_key_value(&s.id.to_string()));
        if let Some((key, o)) = found {
            used.insert(key);
            p.code = o.code.clone().unwrap_or(p.code);
            p.goal = o.goal.clone().unwrap_or(p.goal);
            p.actions = o.actions.clone().unwrap_or(p.actions);
            p.kpi = o.kpi.clone().unwrap_or(p.kpi);
            p.source = PlaybookSource::Config;
        }
        s.playbook = Some(p);
    }
    (overrides.keys())
        .filter(|k| !used.contains(k))
        .cloned()
        .collect()
}

/// A segment's playbook: its own, or (a model written before playbooks) the default.
pub fn of_segment(s: &Segment) -> std::borrow::Cow<'_, Playbook> {
    match &s.playbook {
        Some(p) => std::borrow::Cow::Borrowed(p),
        None => std::borrow::Cow::Owned(default_for(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::segment::SegmentPrediction;

    fn seg(id: usize, name: &str, tier: Tier) -> Segment {
        Segment::empty(id, name, tier)
    }

    #[test]
    fn every_convention_name_has_its_own_code() {
        let mut codes: Vec<&str> = BY_NAME.iter().map(|(_, d)| d.0).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), BY_NAME.len());
        for (name, d) in BY_NAME {
            let p = default_for(&seg(0, name, Tier::Low));
            assert_eq!((p.code.as_str(), p.source), (d.0, PlaybookSource::Name));
            assert!(!p.actions.is_empty() && !p.goal.is_empty() && !p.kpi.is_empty());
        }
    }

    #[test]
    fn a_disambiguated_name_keeps_its_base_names_playbook() {
        assert_eq!(
            default_for(&seg(3, "Loyal (high M)", Tier::High)).code,
            "upsell_loyal"
        );
    }

    #[test]
    fn descriptive_names_go_by_tier_and_slipping_segments_are_won_back() {
        let code = |name: &str, tier| default_for(&seg(0, name, tier)).code;
        assert_eq!(
            code("Active frequent high spenders", Tier::High),
            "retain_high_value"
        );
        assert_eq!(
            code("Lapsed frequent high spenders", Tier::High),
            "win_back_high_value"
        );
        assert_eq!(
            code("Fading occasional mid spenders", Tier::Medium),
            "reengage"
        );
        assert_eq!(code("High Annual Income", Tier::Medium), "grow_value");
        assert_eq!(code("Low Spending Score", Tier::Low), "low_cost_nurture");
        let mut s = seg(0, "Recent occasional high spenders", Tier::High);
        s.predicted = Some(SegmentPrediction {
            p_alive: 0.3,
            likely_alive_share: 0.2,
            expected_orders: 0.1,
            expected_spend_per_order: 10.0,
            predicted_clv: 1.0,
            share_predicted_clv: 0.01,
        });
        assert_eq!(default_for(&s).code, "win_back_high_value");
        assert_eq!(default_for(&s).source, PlaybookSource::Tier);
    }

    #[test]
    fn overrides_by_name_or_id_replace_only_the_fields_they_set() {
        let mut segs = vec![seg(0, "Champions", Tier::High), seg(4, "Lost", Tier::Low)];
        let mut o = BTreeMap::new();
        o.insert(
            "Champions".to_string(),
            PlaybookOverride {
                kpi: Some("NPS".into()),
                ..Default::default()
            },
        );
        o.insert(
            "4".to_string(),
            PlaybookOverride {
                code: Some("do_nothing".into()),
                actions: Some(vec!["Nothing".into()]),
                ..Default::default()
            },
        );
        o.insert("Nobody".to_string(), PlaybookOverride::default());
        assert_eq!(assign(&mut segs, &o), vec!["Nobody".to_string()]);
        let champions = segs[0].playbook.as_ref().unwrap();
        assert_eq!(
            (champions.code.as_str(), champions.kpi.as_str()),
            ("reward_vip", "NPS")
        );
        assert_eq!(champions.source, PlaybookSource::Config);
        let lost = segs[1].playbook.as_ref().unwrap();
        assert_eq!((lost.code.as_str(), lost.actions.len()), ("do_nothing", 1));
        assert_eq!(lost.goal, default_for(&seg(4, "Lost", Tier::Low)).goal);
    }

    #[test]
    fn a_code_must_be_snake_case() {
        for bad in ["", "Win", "1st", "win-back", "win back", &"a".repeat(41)] {
            let o = PlaybookOverride {
                code: Some(bad.to_string()),
                ..Default::default()
            };
            assert!(o.problem().unwrap().contains("code"), "{bad:?}");
        }
        let ok = PlaybookOverride {
            code: Some("win_back_2".into()),
            ..Default::default()
        };
        assert_eq!(ok.problem(), None);
    }

    #[test]
    fn texts_must_be_present_and_short_and_actions_few() {
        let o = |goal: &str, actions: Vec<String>| PlaybookOverride {
            goal: Some(goal.into()),
            actions: Some(actions),
            ..Default::default()
        };
        assert!(o(" ", vec!["a".into()])
            .problem()
            .unwrap()
            .starts_with("goal"));
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        assert!(o(&long, vec!["a".into()])
            .problem()
            .unwrap()
            .contains("longer"));
        assert!(o("g", vec![]).problem().unwrap().starts_with("actions"));
        assert!(o("g", vec!["a".into(); MAX_ACTIONS + 1])
            .problem()
            .is_some());
        assert!(o("g", vec!["a".into(), "".into()])
            .problem()
            .unwrap()
            .starts_with("actions[1]"));
        assert_eq!(o("g", vec!["a".into()]).problem(), None);
    }

    #[test]
    fn a_model_without_playbooks_gets_the_defaults() {
        let s = seg(1, "At Risk", Tier::Medium);
        assert_eq!(of_segment(&s).code, "win_back");
    }
}
