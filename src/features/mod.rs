//! Features: RFM from transactions ([`rfm`]), demographic columns from customer tables, and
//! the fitted [`FeatureSpec`] that turns raw values into the scaled space k-means works in.
//!
//! Defaults: a numeric feature gets `log1p` (sign-preserving) when its training skewness is
//! above 1, then standard scaling; a categorical feature is one-hot encoded, centred by its
//! level shares and scaled so the whole block has unit variance (it counts as one feature);
//! every feature's scaled values are multiplied by √weight so `weight` is its share of the
//! squared distance. Missing values take the training median (numeric) or mode (categorical).

pub mod behaviour;
pub mod consistency;
pub mod lifecycle;
pub mod rfm;
pub mod spec;
pub mod suggest;
pub mod table;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use spec::{Encoding, Feature, FeatureSpec, FeatureWarning, FitReport, Source, Transform};

/// A raw (unscaled) feature value.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue {
    /// A number.
    Num(f64),
    /// A category label (or a number given as text).
    Text(String),
    /// No value.
    Missing,
}

/// Errors in feature declarations or values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeatureError {
    /// The config names a feature no input provides.
    #[error("config names feature '{name}', which no input provides; available: {available}")]
    UnknownFeature { name: String, available: String },
    /// A feature declaration is invalid.
    #[error("config: feature '{name}': {reason}")]
    BadDecl { name: String, reason: String },
    /// A value that can be neither used nor imputed.
    #[error("{path} row {row} column {column}: {reason}")]
    BadValue {
        path: String,
        row: u64,
        column: String,
        reason: String,
    },
    /// After dropping constant and unusable columns nothing is left.
    #[error("no usable features: {reason}")]
    NoFeatures { reason: String },
    /// A value given at scoring time has the wrong type.
    #[error("feature '{feature}': {reason}")]
    WrongType { feature: String, reason: String },
    /// A value so far outside the training data that its scaled value cannot be scored with
    /// finite arithmetic.
    #[error("feature '{feature}': {value:e} is too far outside the training range to score")]
    Unscorable { feature: String, value: f64 },
}

/// Declared kind of a feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Numeric,
    Categorical,
}

/// Transform requested in the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TransformChoice {
    /// `log1p` when skewness > 1, else none.
    #[default]
    Auto,
    None,
    Log1p,
}

/// A feature declaration from the config file (`[features.NAME]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureDecl {
    /// Force numeric or categorical (default: inferred from the values).
    pub kind: Option<Kind>,
    /// Transform for numeric features.
    pub transform: Option<TransformChoice>,
    /// Share of the squared distance (default 1).
    pub weight: Option<f64>,
    /// `false` leaves the feature out.
    pub enabled: Option<bool>,
}

/// All feature declarations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureConfig {
    /// Per-feature declarations, by feature name.
    #[serde(default)]
    pub features: BTreeMap<String, FeatureDecl>,
    /// Customer-table columns (feature names or headers) to ignore.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Undeclared categorical columns with more levels than this are skipped (default 50).
    pub max_levels: Option<usize>,
    /// Top levels of each spend-share block (`category_share`, `channel_share`; default 8),
    /// the others pooled as `(other)`.
    pub share_levels: Option<usize>,
}

impl FeatureConfig {
    /// Checks every declaration's values.
    pub fn validate(&self) -> Result<(), FeatureError> {
        for (name, decl) in &self.features {
            if let Some(w) = decl.weight {
                if !(w.is_finite() && w > 0.0) {
                    return Err(FeatureError::BadDecl {
                        name: name.clone(),
                        reason: format!("weight must be a positive number, got {w}"),
                    });
                }
            }
            if decl.kind == Some(Kind::Categorical) && decl.transform.is_some() {
                return Err(FeatureError::BadDecl {
                    name: name.clone(),
                    reason: "a transform applies to numeric features only".into(),
                });
            }
        }
        if self.share_levels == Some(0) {
            return Err(FeatureError::BadDecl {
                name: "share_levels".into(),
                reason: "must be at least 1".into(),
            });
        }
        if self.max_levels == Some(0) {
            return Err(FeatureError::BadDecl {
                name: "max_levels".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// True unless the config disables or excludes the feature.
    pub fn enabled(&self, name: &str, header: &str) -> bool {
        let excluded = self
            .exclude
            .iter()
            .any(|e| e == name || e.eq_ignore_ascii_case(header));
        !excluded && self.features.get(name).and_then(|d| d.enabled) != Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_levels_must_be_at_least_one() {
        let c = FeatureConfig {
            share_levels: Some(0),
            ..FeatureConfig::default()
        };
        assert!(
            matches!(c.validate(), Err(FeatureError::BadDecl { name, .. }) if name == "share_levels")
        );
    }

    #[test]
    fn weight_must_be_positive() {
        let mut cfg = FeatureConfig::default();
        cfg.features.insert(
            "age".into(),
            FeatureDecl {
                weight: Some(0.0),
                ..Default::default()
            },
        );
        assert!(matches!(cfg.validate(), Err(FeatureError::BadDecl { .. })));
    }

    #[test]
    fn transform_needs_numeric_kind() {
        let mut cfg = FeatureConfig::default();
        cfg.features.insert(
            "gender".into(),
            FeatureDecl {
                kind: Some(Kind::Categorical),
                transform: Some(TransformChoice::Log1p),
                ..Default::default()
            },
        );
        assert!(matches!(cfg.validate(), Err(FeatureError::BadDecl { .. })));
    }

    #[test]
    fn max_levels_cannot_be_zero() {
        let cfg = FeatureConfig {
            max_levels: Some(0),
            ..Default::default()
        };
        assert!(matches!(cfg.validate(), Err(FeatureError::BadDecl { .. })));
    }

    #[test]
    fn exclude_and_disable_remove_features() {
        let mut cfg = FeatureConfig {
            exclude: vec!["Email".into()],
            ..Default::default()
        };
        cfg.features.insert(
            "age".into(),
            FeatureDecl {
                enabled: Some(false),
                ..Default::default()
            },
        );
        assert!(!cfg.enabled("email", "email"));
        assert!(!cfg.enabled("age", "Age"));
        assert!(cfg.enabled("income", "Income"));
    }
}
