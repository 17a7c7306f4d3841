//! The segment types a model file stores: each segment's name, value tier, RFM standing and
//! per-feature profile, and the renames of kept segments. Plain data for the model format,
//! the store, the report and the scorer; the trainer builds them (`train::segments`).

use serde::{Deserialize, Serialize};

use crate::features::lifecycle::SegmentValue;

/// Value tier of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    High,
    Medium,
    Low,
}

impl Tier {
    /// `high`, `medium` or `low`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Tier::High => "high",
            Tier::Medium => "medium",
            Tier::Low => "low",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Percentile standing (0..1) of a segment's medians among all customers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standing {
    /// 1 = most recent.
    pub recency: f64,
    pub frequency: f64,
    pub monetary: f64,
    /// 1 = longest-standing customers; absent without tenure.
    pub tenure: Option<f64>,
}

/// Share of one category level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelShare {
    pub level: String,
    pub share: f64,
}

/// A feature's profile within a segment, in original units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureProfile {
    Numeric {
        feature: String,
        mean: f64,
        median: f64,
    },
    Categorical {
        feature: String,
        /// Shares among the members with a value.
        shares: Vec<LevelShare>,
        /// Share of members without a value (absent: none, or a model written before it
        /// was recorded).
        #[serde(default, skip_serializing_if = "is_zero")]
        missing_share: f64,
    },
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// One segment of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Index of its centroid.
    pub id: usize,
    /// Business name, unique within the model.
    pub name: String,
    /// Value tier.
    pub tier: Tier,
    /// Training customers in the segment.
    pub size: u64,
    /// Share of training customers.
    pub share_customers: f64,
    /// Share of net revenue (monetary), when known.
    pub share_revenue: Option<f64>,
    /// RFM standing of the segment's medians, when R, F and M are known.
    pub standing: Option<Standing>,
    /// Per-feature profile.
    pub profile: Vec<FeatureProfile>,
    /// 99th percentile of the training customers' distance to this centroid; scoring warns
    /// beyond it. Absent in models written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_p99: Option<f64>,
    /// Historical value and lifecycle mix (models trained on transactions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<SegmentValue>,
    /// The numbers that justify the name (median R/F/M scores, lifecycle mix), or why it
    /// was set otherwise. Absent in models written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_reason: Option<String>,
    /// Predicted value of the members (models with a value model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted: Option<SegmentPrediction>,
    /// The members' mix over each share block (category, channel, time of day, viewed
    /// category) and country, largest first; absent without behaviour features.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mix: Vec<Mix>,
    /// What the behaviour features say sets the segment apart ("Mostly Wine, Store
    /// channel"), when anything does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behaviour: Option<String>,
    /// What to do with the segment (goal, actions, KPI); absent in models written before
    /// playbooks (the scorer then uses [`super::playbook::default_for`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook: Option<super::playbook::Playbook>,
}

impl Segment {
    /// A segment with an id, a name and a tier and nothing measured yet (size 0, no
    /// profile): what the trainer fills in.
    pub fn empty(id: usize, name: &str, tier: Tier) -> Segment {
        Segment {
            id,
            name: name.into(),
            tier,
            size: 0,
            share_customers: 0.0,
            share_revenue: None,
            standing: None,
            profile: Vec::new(),
            distance_p99: None,
            value: None,
            name_reason: None,
            predicted: None,
            mix: Vec::new(),
            behaviour: None,
            playbook: None,
        }
    }
}

/// A segment's mix over one block: the mean share of each level among its members (of
/// purchase value for the spend shares, of views for `view_share`, of members for
/// `main_country`), largest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mix {
    pub block: String,
    pub levels: Vec<LevelShare>,
}

impl Mix {
    /// `Wine 42%, Grocery 18%, …` (the first `n` levels).
    pub fn text(&self, n: usize) -> String {
        (self.levels.iter().take(n))
            .map(|l| format!("{} {:.0}%", l.level, 100.0 * l.share))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A segment's predicted value: means over its training customers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentPrediction {
    /// Mean P(alive).
    pub p_alive: f64,
    /// Share of members at least as likely alive as not (P(alive) ≥ 0.5).
    pub likely_alive_share: f64,
    /// Mean expected orders over the horizon.
    pub expected_orders: f64,
    /// Mean expected spend per order.
    pub expected_spend_per_order: f64,
    /// Mean predicted CLV.
    pub predicted_clv: f64,
    /// Share of all training customers' predicted CLV.
    pub share_predicted_clv: f64,
}

/// A kept segment whose inherited name no longer fits its numbers after a retrain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rename {
    /// Segment id (kept).
    pub id: usize,
    /// Name in the previous version.
    pub from: String,
    /// Name in this version.
    pub to: String,
    /// Why the old name no longer fits.
    pub reason: String,
}

/// A segment name without its disambiguating ` (…)` suffix.
pub fn base_name(name: &str) -> &str {
    match name.rfind(" (") {
        Some(i) if name.ends_with(')') => &name[..i],
        _ => name,
    }
}
