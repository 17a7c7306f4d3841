//! `--config FILE.toml`: training defaults, column mapping, feature declarations and segment
//! names in one file. Unknown keys are errors, so a typo never silently does nothing.
//!
//! ```toml
//! [train]
//! k = "auto"        # or a number
//! k_min = 3
//! seed = 7
//! as_of = "2026-01-01"
//! keep_duplicates = false   # true: keep exact-duplicate transaction lines
//! exclude = ["StockCode=POST|M|AMAZONFEE"]   # drop lines whose column matches in full
//! min_unit_price = 0.01     # drop lines priced below (needs a unit price column)
//! value_model = "bg_nbd"    # or "pareto_nbd", "none"
//! horizon_days = 365
//! discount_rate = 0.10
//! holdout_days = 90         # also check the value model on the last 90 days
//! include_browsers = true   # with --events: segment customers who browse but never buy
//!
//! [map]
//! customer_id = "CustomerID"
//! date_format = "%d-%m-%Y"   # optional: how the dates are written
//!
//! exclude = ["email"]
//!
//! [features.monetary]
//! transform = "log1p"
//! weight = 2.0
//!
//! [features.gender]
//! kind = "categorical"
//! weight = 0.5
//!
//! [segments]
//! value_feature = "spending_score_1_100"
//! tier_by = "predicted_clv"   # default: the value column
//! [segments.names]
//! "Champions" = "VIP"
//! [segments.playbooks."At Risk"]   # or a segment id: [segments.playbooks.3]
//! goal = "Win them back before the season ends"
//! actions = ["Call within a week", "Renewal offer: 15% off"]
//! kpi = "win-back rate"
//! code = "win_back_call"          # any field left out keeps the default
//!
//! [drift]                    # custseg drift --config
//! psi_watch = 0.1
//! psi_retrain = 0.25
//! fail_on = "retrain"        # exit code 3 at this verdict or worse
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use custseg::features::{FeatureConfig, FeatureDecl};
use custseg::train::TrainError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    #[serde(default, deserialize_with = "k_value")]
    pub k: Option<String>,
    pub k_min: Option<usize>,
    pub k_max: Option<usize>,
    pub n_init: Option<usize>,
    pub seed: Option<u64>,
    pub max_iter: Option<u64>,
    pub tol: Option<f64>,
    pub as_of: Option<String>,
    pub window_days: Option<u32>,
    pub max_dropped_share: Option<f64>,
    pub k_sample: Option<usize>,
    pub silhouette_sample: Option<usize>,
    pub keep_duplicates: Option<bool>,
    #[serde(default)]
    pub exclude: Vec<String>,
    pub min_unit_price: Option<f64>,
    pub value_model: Option<String>,
    pub horizon_days: Option<u32>,
    pub discount_rate: Option<f64>,
    pub holdout_days: Option<u32>,
    /// Segment customers with events but no purchase (`--include-browsers`).
    pub include_browsers: Option<bool>,
    pub name: Option<String>,
}

fn k_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum K {
        N(u64),
        S(String),
    }
    Ok(Option::<K>::deserialize(d)?.map(|k| match k {
        K::N(n) => n.to_string(),
        K::S(s) => s,
    }))
}

/// The `[map]` key that states how dates are written instead of naming a column.
pub const DATE_FORMAT_KEY: &str = "date_format";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentsSection {
    #[serde(default)]
    pub names: BTreeMap<String, String>,
    pub value_feature: Option<String>,
    /// `predicted_clv`: tiers by the segments' median predicted CLV.
    pub tier_by: Option<TierBy>,
    /// Playbook overrides by segment name or id.
    #[serde(default)]
    pub playbooks: BTreeMap<String, custseg::model::PlaybookOverride>,
}

/// What tiers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierBy {
    /// The value column (monetary, or a spend-like column).
    Value,
    /// The predicted CLV of the value model.
    PredictedClv,
}

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub train: TrainSection,
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    #[serde(default)]
    pub features: BTreeMap<String, FeatureDecl>,
    #[serde(default)]
    pub exclude: Vec<String>,
    pub max_levels: Option<usize>,
    /// Top levels per spend-share block (`category_share`, `channel_share`).
    pub share_levels: Option<usize>,
    #[serde(default)]
    pub segments: SegmentsSection,
    /// `custseg drift` thresholds.
    #[serde(default)]
    pub drift: super::drift::DriftSection,
}

impl ConfigFile {
    /// Reads and parses a config file; errors name the file and the problem.
    pub fn load(path: &Path) -> Result<ConfigFile, TrainError> {
        let cfg: ConfigFile =
            custseg::toml_file::read(path).map_err(|reason| TrainError::BadConfig {
                path: path.display().to_string(),
                reason,
            })?;
        (cfg.check_names().and_then(|()| cfg.check_playbooks())).map_err(|reason| {
            TrainError::BadConfig {
                path: path.display().to_string(),
                reason,
            }
        })?;
        Ok(cfg)
    }

    /// Segment names are display texts in every output: one a spreadsheet would run as a
    /// formula ([`custseg::data::is_formula_like`]) is refused, naming its key.
    fn check_names(&self) -> Result<(), String> {
        match self
            .segments
            .names
            .iter()
            .find(|(_, name)| custseg::data::is_formula_like(name))
        {
            Some((key, name)) => Err(format!(
                "[segments.names] {key:?} = {name:?}: a segment name may not start with =, +, -, @, a tab or CR (spreadsheets run such cells as formulas)"
            )),
            None => Ok(()),
        }
    }

    /// Each `[segments.playbooks]` entry must be usable
    /// ([`custseg::model::PlaybookOverride::problem`]); the first that is not is named.
    fn check_playbooks(&self) -> Result<(), String> {
        match (self.segments.playbooks.iter()).find_map(|(k, o)| Some((k, o.problem()?))) {
            Some((key, problem)) => Err(format!("[segments.playbooks.{key:?}] {problem}")),
            None => Ok(()),
        }
    }

    /// The feature part.
    pub fn feature_config(&self) -> FeatureConfig {
        FeatureConfig {
            features: self.features.clone(),
            exclude: self.exclude.clone(),
            max_levels: self.max_levels,
            share_levels: self.share_levels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let text = r#"
            exclude = ["email"]
            [train]
            k = 4
            seed = 7
            [map]
            customer_id = "CustomerID"
            [features.monetary]
            transform = "log1p"
            weight = 2.0
            [segments.names]
            "Champions" = "VIP"
        "#;
        let cfg: ConfigFile = toml::from_str(text).unwrap();
        assert_eq!(cfg.train.k.as_deref(), Some("4"));
        assert_eq!(cfg.features["monetary"].weight, Some(2.0));
        assert_eq!(cfg.segments.names["Champions"], "VIP");
    }

    #[test]
    fn playbook_overrides_parse_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[segments.playbooks.\"At Risk\"]\nkpi = \"win-back rate\"\n[segments.playbooks.3]\ncode = \"call\"\n",
        )
        .unwrap();
        let cfg = ConfigFile::load(&path).unwrap();
        assert_eq!(
            cfg.segments.playbooks["At Risk"].kpi.as_deref(),
            Some("win-back rate")
        );
        assert_eq!(cfg.segments.playbooks["3"].code.as_deref(), Some("call"));
        std::fs::write(&path, "[segments.playbooks.Lost]\ncode = \"Win Back\"\n").unwrap();
        let e = ConfigFile::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("[segments.playbooks.\"Lost\"] code \"Win Back\""),
            "{e}"
        );
        std::fs::write(&path, "[segments.playbooks.Lost]\nbudget = 1\n").unwrap();
        let e = ConfigFile::load(&path).unwrap_err().to_string();
        assert!(e.contains("budget"), "{e}");
    }

    #[test]
    fn formula_like_segment_names_are_refused_naming_the_key() {
        for bad in [
            "=HYPERLINK(\"http://x\")",
            "+1 VIP",
            "-x",
            "@SUM(A1)",
            "\tVIP",
        ] {
            let mut cfg = ConfigFile::default();
            cfg.segments.names.insert("Champions".into(), bad.into());
            let e = cfg.check_names().unwrap_err();
            assert!(e.contains("[segments.names] \"Champions\""), "{e}");
        }
        let mut cfg = ConfigFile::default();
        cfg.segments.names.insert("2".into(), "VIP - gold".into());
        assert_eq!(cfg.check_names(), Ok(()));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(toml::from_str::<ConfigFile>("[train]\nkk = 3\n").is_err());
        assert!(toml::from_str::<ConfigFile>("[features.x]\nwieght = 3\n").is_err());
    }
}
