//! The fitted feature specification: feature order, kinds, transforms, scaler statistics,
//! category vocabularies, weights and imputation values. It is stored in `model.json` and is
//! all a scorer needs to put a new customer in the model's space.

use serde::{Deserialize, Serialize};

use super::{FeatureConfig, FeatureDecl, FeatureError, Kind, RawValue, TransformChoice};

/// Where a feature comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Computed from transactions.
    Transactions,
    /// A column of the customer table.
    Customers,
}

/// A numeric transform applied before scaling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    None,
    /// `sign(x)·ln(1+|x|)`: `log1p` for non-negative values, mirrored for negative ones.
    Log1p,
}

/// Largest scaled value the scorer accepts: squared distances over any realistic number of
/// columns stay finite.
pub const MAX_SCALED: f64 = 1e100;

impl Transform {
    /// Applies the transform.
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Transform::None => x,
            Transform::Log1p => x.signum() * x.abs().ln_1p(),
        }
    }
}

/// How a feature becomes scaled columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Encoding {
    /// One column: `(transform(x) − mean) / std · √weight`.
    Numeric {
        transform: Transform,
        /// Training mean after the transform.
        mean: f64,
        /// Training standard deviation after the transform (population).
        std: f64,
        /// Value used when missing (training median, original units).
        impute: f64,
        /// Training range in original units (for out-of-range warnings).
        min: f64,
        max: f64,
    },
    /// One column per level: `(1[level] − share) · scale · √weight`; an unknown level is all
    /// zeros before centring.
    Categorical {
        /// Levels, most frequent first.
        levels: Vec<String>,
        /// Training share of each level (after imputation).
        shares: Vec<f64>,
        /// `1/√(1 − Σ share²)`: gives the block unit total variance.
        scale: f64,
        /// Value used when missing (training mode).
        impute: String,
    },
}

/// One feature of the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// Feature name, as used in API bodies and CSV headers.
    pub name: String,
    /// Where it comes from.
    pub source: Source,
    /// Header in the customer table, when it came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Share of the squared distance.
    pub weight: f64,
    /// Encoding and its fitted statistics.
    pub encoding: Encoding,
    /// How the value is computed from a raw customer-table column (a date → days since
    /// as-of, a birth year → age); absent for columns used as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived: Option<super::table::Derivation>,
}

/// Something noteworthy about one value while encoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum FeatureWarning {
    /// The value was missing and the training median/mode was used.
    Imputed { feature: String },
    /// A category never seen in training; encoded as the unknown level.
    UnknownCategory { feature: String },
    /// A numeric value outside the training range.
    OutOfRange { feature: String },
    /// Farther from its segment's centroid than 99% of that segment's training customers.
    FarFromCentroid { segment: String },
    /// A field the model does not use (a typo, or a feature left out in training); with the
    /// model feature it is close to ([`super::suggest`]) and a message saying so.
    UnknownField {
        field: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        did_you_mean: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Transactions on or after `as_of` were ignored.
    TransactionsAfterAsOf { count: usize },
    /// Exact duplicates of an earlier transaction (every field equal) were dropped, as the
    /// trainer drops duplicate rows.
    DuplicateTransactions { count: usize },
    /// Transactions the model's row filters drop (`--exclude`, `--min-unit-price` in
    /// training) were left out, as the trainer leaves them out.
    FilteredTransactions { count: usize },
    /// No purchase before `as_of` in the model's window (only returns, or all later): the
    /// customer is valid but has no segment.
    NoPurchases,
    /// The model uses event features and the customer carries no `events`: they count as
    /// no activity (send `events: []` to say so).
    NoEvents,
    /// No purchase in the window but events: segmented by their events, as the model's
    /// training segmented browsers (`include_browsers`).
    Browser,
    /// The predicted value comes from the RFM features, not transactions: it assumes one
    /// order per purchase day and a first order worth the average (send transactions for
    /// the exact figures).
    ValueFromFeatures,
    /// The model has a value model but this customer's value cannot be predicted (its
    /// recency, frequency, tenure or average order value is missing or imputed).
    ValueUnavailable,
}

impl FeatureWarning {
    /// `unknown_field` for `field`, with `did you mean FEATURE` when it is close to one of
    /// `features` (the features the customer did not give).
    pub fn unknown_field<'a>(field: &str, features: impl IntoIterator<Item = &'a str>) -> Self {
        let did_you_mean = super::suggest::did_you_mean(field, features).map(str::to_string);
        FeatureWarning::UnknownField {
            field: field.to_string(),
            message: did_you_mean
                .as_ref()
                .map(|f| format!("not a model feature; did you mean {f}?")),
            did_you_mean,
        }
    }
}

impl Feature {
    /// Number of scaled columns.
    pub fn width(&self) -> usize {
        match &self.encoding {
            Encoding::Numeric { .. } => 1,
            Encoding::Categorical { levels, .. } => levels.len(),
        }
    }

    /// True for numeric features.
    pub fn is_numeric(&self) -> bool {
        matches!(self.encoding, Encoding::Numeric { .. })
    }

    /// Writes the scaled columns of one raw value into `out` (length [`Feature::width`]).
    pub fn encode(
        &self,
        raw: &RawValue,
        out: &mut [f64],
        warnings: &mut Vec<FeatureWarning>,
    ) -> Result<(), FeatureError> {
        let w = self.weight.sqrt();
        match &self.encoding {
            Encoding::Numeric {
                transform,
                mean,
                std,
                impute,
                min,
                max,
            } => {
                let (x, imputed) = self.number_of(raw, *impute)?;
                if imputed {
                    warnings.push(FeatureWarning::Imputed {
                        feature: self.name.clone(),
                    });
                }
                if x < *min || x > *max {
                    warnings.push(FeatureWarning::OutOfRange {
                        feature: self.name.clone(),
                    });
                }
                let v = (transform.apply(x) - mean) / std * w;
                // Beyond 1e100 standard deviations the squared distances would overflow.
                if !v.is_finite() || v.abs() > MAX_SCALED {
                    return Err(FeatureError::Unscorable {
                        feature: self.name.clone(),
                        value: x,
                    });
                }
                out[0] = v;
            }
            Encoding::Categorical {
                levels,
                shares,
                scale,
                impute,
            } => {
                let (hit, imputed) = level_of(levels, impute, raw);
                if imputed {
                    warnings.push(FeatureWarning::Imputed {
                        feature: self.name.clone(),
                    });
                }
                if hit.is_none() {
                    warnings.push(FeatureWarning::UnknownCategory {
                        feature: self.name.clone(),
                    });
                }
                for (j, (o, share)) in out.iter_mut().zip(shares).enumerate() {
                    let one = if hit == Some(j) { 1.0 } else { 0.0 };
                    *o = (one - share) * scale * w;
                }
            }
        }
        Ok(())
    }
}

impl Feature {
    /// The number a numeric feature's encoding sees for `raw`: the value, a numeric label
    /// parsed, or `impute` for a missing one (then `true`); an error for a non-finite number
    /// or a label that is not one.
    pub fn number_of(&self, raw: &RawValue, impute: f64) -> Result<(f64, bool), FeatureError> {
        match raw {
            RawValue::Num(v) if v.is_finite() => Ok((*v, false)),
            RawValue::Num(_) => Err(FeatureError::WrongType {
                feature: self.name.clone(),
                reason: "must be a finite number".into(),
            }),
            RawValue::Missing => Ok((impute, true)),
            RawValue::Text(s) => {
                crate::data::parse_number(s)
                    .map(|x| (x, false))
                    .ok_or_else(|| FeatureError::WrongType {
                        feature: self.name.clone(),
                        reason: "expected a number".into(),
                    })
            }
        }
    }
}

/// The level of `levels` a categorical feature's encoding gives `raw` (None: a level
/// training never saw), and whether it was imputed (`impute`, the training mode, for a
/// missing value). Labels are trimmed; numbers are labels as [`format_number_label`] writes
/// them.
pub fn level_of(levels: &[String], impute: &str, raw: &RawValue) -> (Option<usize>, bool) {
    let (label, imputed): (std::borrow::Cow<str>, bool) = match raw {
        RawValue::Text(s) => (s.trim().into(), false),
        RawValue::Num(v) => (format_number_label(*v).into(), false),
        RawValue::Missing => (impute.into(), true),
    };
    (levels.iter().position(|l| *l == label), imputed)
}

/// A number used as a category label: integers without a fractional part (`3`, not `3.0`).
pub fn format_number_label(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        v.to_string()
    }
}

/// The ordered features of a model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// Features in column order.
    pub features: Vec<Feature>,
    /// Per share block the model has (`category_share`, …), every level training saw (the
    /// ones beyond the top levels are pooled as `(other)`), so scoring can tell a pooled
    /// level from one never seen; absent without share blocks.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub share_levels: std::collections::BTreeMap<String, Vec<String>>,
}

impl FeatureSpec {
    /// Total number of scaled columns.
    pub fn n_columns(&self) -> usize {
        self.features.iter().map(Feature::width).sum()
    }

    /// Names of the scaled columns (`monetary`, `gender=Female`, …).
    pub fn column_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for f in &self.features {
            match &f.encoding {
                Encoding::Numeric { .. } => out.push(f.name.clone()),
                Encoding::Categorical { levels, .. } => {
                    out.extend(levels.iter().map(|l| format!("{}={l}", f.name)))
                }
            }
        }
        out
    }

    /// Position of a feature by name.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.features.iter().position(|f| f.name == name)
    }

    /// True when the model uses features computed from transactions.
    pub fn uses_transactions(&self) -> bool {
        self.features
            .iter()
            .any(|f| f.source == Source::Transactions)
    }

    /// Encodes one customer's raw values (in feature order) into `out`.
    pub fn encode_row(
        &self,
        raw: &[RawValue],
        out: &mut [f64],
        warnings: &mut Vec<FeatureWarning>,
    ) -> Result<(), FeatureError> {
        debug_assert_eq!(raw.len(), self.features.len());
        debug_assert_eq!(out.len(), self.n_columns());
        let mut at = 0;
        for (f, v) in self.features.iter().zip(raw) {
            let w = f.width();
            f.encode(v, &mut out[at..at + w], warnings)?;
            at += w;
        }
        Ok(())
    }
}

/// A feature's training values before fitting.
#[derive(Clone, Debug)]
pub enum RawColumn {
    Numbers(Vec<Option<f64>>),
    Labels(Vec<Option<String>>),
}

impl RawColumn {
    /// The value of row `i`.
    pub fn get(&self, i: usize) -> RawValue {
        match self {
            RawColumn::Numbers(v) => v[i].map_or(RawValue::Missing, RawValue::Num),
            RawColumn::Labels(v) => v[i].clone().map_or(RawValue::Missing, RawValue::Text),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            RawColumn::Numbers(v) => v.len(),
            RawColumn::Labels(v) => v.len(),
        }
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Count of missing values.
    pub fn missing(&self) -> usize {
        match self {
            RawColumn::Numbers(v) => v.iter().filter(|x| x.is_none()).count(),
            RawColumn::Labels(v) => v.iter().filter(|x| x.is_none()).count(),
        }
    }
}

/// A candidate feature for fitting.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub name: String,
    pub source: Source,
    pub column: Option<String>,
    pub values: RawColumn,
}

/// What fitting decided besides the spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Features left out, with the reason.
    pub dropped: Vec<(String, String)>,
    /// Missing values imputed per feature.
    pub imputed: Vec<(String, u64)>,
}

/// Median of a non-empty slice (mean of the two middle values when even; NaN when empty),
/// by selection on a copy: the same order statistics a sort would give, in linear time.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    let (left, &mut upper, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        upper
    } else {
        let lower = left.iter().copied().max_by(f64::total_cmp).unwrap_or(upper);
        (lower + upper) / 2.0
    }
}

fn mean_std(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let (mut n, mut sum) = (0.0, 0.0);
    for v in values.clone() {
        n += 1.0;
        sum += v;
    }
    let mean = sum / n;
    let var = values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Sample skewness (third standardized moment).
pub fn skewness(values: &[f64]) -> f64 {
    let (mean, std) = mean_std(values.iter().copied());
    if std == 0.0 {
        return 0.0;
    }
    values
        .iter()
        .map(|v| ((v - mean) / std).powi(3))
        .sum::<f64>()
        / values.len() as f64
}

const DEFAULT_MAX_LEVELS: usize = 50;

/// Fits the spec on training candidates. Constant, empty and (undeclared) high-cardinality
/// columns are dropped and reported; it is an error when nothing usable remains.
pub fn fit(
    candidates: &[Candidate],
    config: &FeatureConfig,
) -> Result<(FeatureSpec, FitReport), FeatureError> {
    let mut spec = FeatureSpec::default();
    let mut report = FitReport::default();
    let default_decl = FeatureDecl::default();
    for c in candidates {
        let decl = config.features.get(&c.name).unwrap_or(&default_decl);
        let weight = decl.weight.unwrap_or(1.0);
        let missing = c.values.missing();
        let fitted = match &c.values {
            RawColumn::Numbers(v) => fit_numeric(v, decl),
            RawColumn::Labels(v) => fit_categorical(
                v,
                decl.kind == Some(Kind::Categorical),
                config.max_levels.unwrap_or(DEFAULT_MAX_LEVELS),
            ),
        };
        match fitted {
            Ok(encoding) => {
                if missing > 0 {
                    report.imputed.push((c.name.clone(), missing as u64));
                }
                spec.features.push(Feature {
                    name: c.name.clone(),
                    source: c.source,
                    column: c.column.clone(),
                    weight,
                    encoding,
                    derived: None,
                });
            }
            Err(reason) => report.dropped.push((c.name.clone(), reason)),
        }
    }
    if spec.features.is_empty() {
        let reason = if report.dropped.is_empty() {
            "the inputs have no feature columns".to_string()
        } else {
            report
                .dropped
                .iter()
                .map(|(n, r)| format!("{n}: {r}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        return Err(FeatureError::NoFeatures { reason });
    }
    Ok((spec, report))
}

fn fit_numeric(values: &[Option<f64>], decl: &FeatureDecl) -> Result<Encoding, String> {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    if present.is_empty() {
        return Err("every value is missing".into());
    }
    let impute = median(&present);
    let transform = match decl.transform.unwrap_or_default() {
        TransformChoice::None => Transform::None,
        TransformChoice::Log1p => Transform::Log1p,
        TransformChoice::Auto if is_flag(&present) => Transform::None,
        TransformChoice::Auto if skewness(&present) > 1.0 => Transform::Log1p,
        TransformChoice::Auto => Transform::None,
    };
    let filled = values.iter().map(|v| transform.apply(v.unwrap_or(impute)));
    let (mean, std) = mean_std(filled);
    let informative = std > 1e-12 * mean.abs().max(1.0);
    if !informative {
        return Err("constant (every customer has the same value)".into());
    }
    let (min, max) = present
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    Ok(Encoding::Numeric {
        transform,
        mean,
        std,
        impute,
        min,
        max,
    })
}

/// True for a 0/1 flag column. Flags are never `log1p`'d: their skewness only says how rare
/// the 1s are, and scaled 0/1 keeps the profile's mean readable as the share of 1s.
fn is_flag(present: &[f64]) -> bool {
    present.iter().all(|v| *v == 0.0 || *v == 1.0)
}

fn fit_categorical(
    values: &[Option<String>],
    declared: bool,
    max_levels: usize,
) -> Result<Encoding, String> {
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for v in values.iter().flatten() {
        *counts.entry(v.as_str()).or_default() += 1;
    }
    if counts.is_empty() {
        return Err("every value is missing".into());
    }
    let present = values.len() - values.iter().filter(|v| v.is_none()).count();
    if !declared && counts.len() > max_levels {
        return Err(format!(
            "{} distinct values (more than max_levels = {max_levels}): free text or an identifier, not a category to cluster on",
            counts.len()
        ));
    }
    if !declared && present >= 20 && counts.len() * 2 > present {
        return Err(format!(
            "looks like an identifier ({} distinct values in {present} rows)",
            counts.len()
        ));
    }
    let mut levels: Vec<(&str, usize)> = counts.into_iter().collect();
    levels.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let impute = levels[0].0.to_string();
    let n = values.len() as f64;
    let missing = values.len() - present;
    let shares: Vec<f64> = levels
        .iter()
        .enumerate()
        .map(|(i, (_, c))| (*c + if i == 0 { missing } else { 0 }) as f64 / n)
        .collect();
    let concentration: f64 = shares.iter().map(|p| p * p).sum();
    if levels.len() < 2 || 1.0 - concentration < 1e-12 {
        return Err("constant (every customer has the same value)".into());
    }
    Ok(Encoding::Categorical {
        levels: levels.iter().map(|(l, _)| l.to_string()).collect(),
        shares,
        scale: 1.0 / (1.0 - concentration).sqrt(),
        impute,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    fn cand(name: &str, values: RawColumn) -> Candidate {
        Candidate {
            name: name.into(),
            source: Source::Customers,
            column: None,
            values,
        }
    }

    #[test]
    fn numeric_is_standardized_and_imputed_with_median() {
        let col = RawColumn::Numbers(vec![Some(1.0), Some(2.0), Some(3.0), None]);
        let (spec, report) = fit(&[cand("x", col)], &FeatureConfig::default()).unwrap();
        assert_eq!(report.imputed, [("x".to_string(), 1)]);
        let Encoding::Numeric {
            mean, std, impute, ..
        } = spec.features[0].encoding
        else {
            panic!("numeric expected")
        };
        assert_abs_diff_eq!(impute, 2.0);
        assert_abs_diff_eq!(mean, 2.0);
        assert_abs_diff_eq!(std, (0.5f64).sqrt(), epsilon = 1e-12);
        let mut out = [0.0];
        let mut w = Vec::new();
        spec.encode_row(&[RawValue::Missing], &mut out, &mut w)
            .unwrap();
        assert_abs_diff_eq!(out[0], 0.0);
        assert_eq!(
            w,
            [FeatureWarning::Imputed {
                feature: "x".into()
            }]
        );
    }

    #[test]
    fn values_too_far_out_to_score_are_an_error_not_infinity() {
        let col = RawColumn::Numbers(vec![Some(1.0), Some(2.0), Some(3.0)]);
        let (spec, _) = fit(&[cand("x", col)], &FeatureConfig::default()).unwrap();
        let f = &spec.features[0];
        let mut out = [0.0];
        let mut w = Vec::new();
        assert!(f.encode(&RawValue::Num(1e9), &mut out, &mut w).is_ok());
        assert!(out[0].is_finite());
        let e = f
            .encode(&RawValue::Num(1e300), &mut out, &mut w)
            .unwrap_err();
        assert!(matches!(e, FeatureError::Unscorable { .. }), "{e}");
    }

    #[test]
    fn skewed_numeric_gets_log1p() {
        let mut v: Vec<Option<f64>> = (0..100).map(|_| Some(1.0)).collect();
        v.extend((0..5).map(|i| Some(1000.0 * f64::from(i + 1))));
        let (spec, _) = fit(
            &[cand("m", RawColumn::Numbers(v))],
            &FeatureConfig::default(),
        )
        .unwrap();
        assert!(matches!(
            spec.features[0].encoding,
            Encoding::Numeric {
                transform: Transform::Log1p,
                ..
            }
        ));
        assert_abs_diff_eq!(Transform::Log1p.apply(-1.0), -(2f64.ln()));
    }

    #[test]
    fn constant_column_is_dropped() {
        let a = cand("a", RawColumn::Numbers(vec![Some(5.0); 4]));
        let b = cand(
            "b",
            RawColumn::Numbers(vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0)]),
        );
        let (spec, report) = fit(&[a, b], &FeatureConfig::default()).unwrap();
        assert_eq!(spec.features.len(), 1);
        assert_eq!(report.dropped[0].0, "a");
    }

    #[test]
    fn all_constant_is_an_error() {
        let a = cand("a", RawColumn::Labels(vec![Some("x".into()); 4]));
        let err = fit(&[a], &FeatureConfig::default()).unwrap_err();
        assert!(matches!(err, FeatureError::NoFeatures { .. }), "{err}");
    }

    #[test]
    fn all_missing_column_is_dropped() {
        let a = cand("a", RawColumn::Numbers(vec![None; 3]));
        let b = cand(
            "b",
            RawColumn::Numbers(vec![Some(1.0), Some(2.0), Some(3.0)]),
        );
        let (_, report) = fit(&[a, b], &FeatureConfig::default()).unwrap();
        assert_eq!(report.dropped[0].1, "every value is missing");
    }

    #[test]
    fn categorical_block_has_unit_variance_and_unknown_level() {
        let labels = ["F", "F", "M", "X"].map(|s| Some(s.to_string())).to_vec();
        let (spec, _) = fit(
            &[cand("g", RawColumn::Labels(labels.clone()))],
            &FeatureConfig::default(),
        )
        .unwrap();
        assert_eq!(spec.column_names(), ["g=F", "g=M", "g=X"]);
        // Total variance of the encoded block over the training rows is 1.
        let mut total = 0.0;
        for l in &labels {
            let mut out = [0.0; 3];
            spec.encode_row(
                &[RawValue::Text(l.clone().unwrap())],
                &mut out,
                &mut Vec::new(),
            )
            .unwrap();
            total += out.iter().map(|v| v * v).sum::<f64>();
        }
        assert_abs_diff_eq!(total / 4.0, 1.0, epsilon = 1e-12);
        let mut w = Vec::new();
        let mut out = [0.0; 3];
        spec.encode_row(&[RawValue::Text("Q".into())], &mut out, &mut w)
            .unwrap();
        assert_eq!(
            w,
            [FeatureWarning::UnknownCategory {
                feature: "g".into()
            }]
        );
    }

    #[test]
    fn high_cardinality_undeclared_is_dropped() {
        let labels: Vec<Option<String>> = (0..100).map(|i| Some(format!("n{i}"))).collect();
        let ok = cand(
            "ok",
            RawColumn::Numbers((0..100).map(|i| Some(f64::from(i))).collect()),
        );
        let (_, report) = fit(
            &[cand("name", RawColumn::Labels(labels)), ok],
            &FeatureConfig::default(),
        )
        .unwrap();
        assert_eq!(report.dropped[0].0, "name");
    }

    #[test]
    fn weight_scales_by_square_root() {
        let mut cfg = FeatureConfig::default();
        cfg.features.insert(
            "x".into(),
            FeatureDecl {
                weight: Some(4.0),
                ..Default::default()
            },
        );
        let col = RawColumn::Numbers(vec![Some(0.0), Some(2.0)]);
        let (spec, _) = fit(&[cand("x", col)], &cfg).unwrap();
        let mut out = [0.0];
        spec.encode_row(&[RawValue::Num(2.0)], &mut out, &mut Vec::new())
            .unwrap();
        assert_abs_diff_eq!(out[0], 2.0);
    }

    #[test]
    fn non_finite_number_is_rejected_at_encode() {
        let col = RawColumn::Numbers(vec![Some(0.0), Some(2.0)]);
        let (spec, _) = fit(&[cand("x", col)], &FeatureConfig::default()).unwrap();
        let err = spec
            .encode_row(&[RawValue::Num(f64::INFINITY)], &mut [0.0], &mut Vec::new())
            .unwrap_err();
        assert!(matches!(err, FeatureError::WrongType { .. }));
    }

    #[test]
    fn flags_are_never_log1p() {
        // Rare 1s: skewness far above 1, yet a 0/1 flag keeps its values.
        let mut v: Vec<Option<f64>> = vec![Some(0.0); 95];
        v.extend([Some(1.0); 5]);
        let (spec, _) = fit(
            &[cand("complain", RawColumn::Numbers(v))],
            &FeatureConfig::default(),
        )
        .unwrap();
        assert!(matches!(
            spec.features[0].encoding,
            Encoding::Numeric {
                transform: Transform::None,
                ..
            }
        ));
    }

    #[test]
    fn many_levels_hint_does_not_suggest_declaring_categorical() {
        let labels: Vec<Option<String>> = (0..120).map(|i| Some(format!("d{i}"))).collect();
        let ok = cand(
            "ok",
            RawColumn::Numbers((0..120).map(|i| Some(f64::from(i))).collect()),
        );
        let (_, report) = fit(
            &[cand("when", RawColumn::Labels(labels)), ok],
            &FeatureConfig::default(),
        )
        .unwrap();
        assert!(
            !report.dropped[0].1.contains("categorical"),
            "{:?}",
            report.dropped
        );
    }
}
