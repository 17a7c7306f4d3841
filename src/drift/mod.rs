//! When to retrain: a new population against the model's training population
//! ([`crate::model::reference`]). Per feature the population stability index (PSI) and a
//! two-sample test (Kolmogorov–Smirnov for numeric features, chi-square for categorical
//! ones), the segment mix the model gives now against training (with its PSI), the share of
//! customers with `out_of_range` and `far_from_centroid` warnings, and a verdict.
//!
//! The new population is scored by batch scoring itself ([`crate::score::batch`], with an
//! [`Observer`]), so its features are computed by the one code path `custseg score` uses and
//! its warnings follow the same rules. The server keeps the same counts over a sliding
//! window of the customers it scored ([`window::Window`]); both are compared by [`compare`].
//!
//! The verdict is the worst of the features' and the segment mix's PSI bands: below
//! `psi_watch` (default 0.1) `stable`, up to `psi_retrain` (default 0.25) `watch`, above it
//! `retrain` — the usual convention for the PSI of decile bins. The tests' p-values are
//! reported but do not decide: with thousands of customers a shift too small to matter is
//! already significant.

pub mod stats;
pub mod window;

use std::path::Path;

use serde::Serialize;

use crate::features::RawValue;
use crate::model::reference::{shares_of, Counts, FeatureReference, Reference, ReferenceBuilder};
use crate::model::{Model, ModelError};
use crate::progress::Progress;
use crate::score::batch::{score_observed, BatchInput, BatchSummary, Observer};
use crate::score::Scored;

/// PSI bands of the verdict.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Thresholds {
    /// PSI from which a feature (or the segment mix) is `watch`.
    pub psi_watch: f64,
    /// PSI above which it is `retrain`.
    pub psi_retrain: f64,
}

impl Default for Thresholds {
    /// 0.1 and 0.25.
    fn default() -> Self {
        Thresholds {
            psi_watch: 0.1,
            psi_retrain: 0.25,
        }
    }
}

impl Thresholds {
    /// Both finite and positive, `psi_watch <= psi_retrain`; the reason otherwise.
    pub fn validate(&self) -> Result<(), String> {
        let ok = |x: f64| x.is_finite() && x > 0.0;
        if !ok(self.psi_watch) || !ok(self.psi_retrain) {
            return Err(format!(
                "PSI thresholds must be positive numbers (watch {}, retrain {})",
                self.psi_watch, self.psi_retrain
            ));
        }
        if self.psi_watch > self.psi_retrain {
            return Err(format!(
                "the watch threshold {} is above the retrain threshold {}",
                self.psi_watch, self.psi_retrain
            ));
        }
        Ok(())
    }

    /// The band of a PSI.
    pub fn verdict(&self, psi: f64) -> Verdict {
        if psi > self.psi_retrain {
            Verdict::Retrain
        } else if psi >= self.psi_watch {
            Verdict::Watch
        } else {
            Verdict::Stable
        }
    }
}

/// How far a population has moved from the training one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Stable,
    Watch,
    Retrain,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Stable => "stable",
            Verdict::Watch => "watch",
            Verdict::Retrain => "retrain",
        }
    }

    /// Parses `stable`, `watch` or `retrain`.
    pub fn parse(s: &str) -> Option<Verdict> {
        [Verdict::Stable, Verdict::Watch, Verdict::Retrain]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One feature's drift.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeatureDrift {
    pub feature: String,
    /// `numeric` or `categorical`.
    pub kind: &'static str,
    pub psi: f64,
    pub verdict: Verdict,
    /// `ks` (numeric) or `chi_square` (categorical).
    pub test: &'static str,
    /// KS D or the chi-square statistic.
    pub statistic: f64,
    pub p_value: f64,
    /// Chi-square degrees of freedom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub df: Option<usize>,
    /// The KS statistic's 5% critical value for these sample sizes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critical_value: Option<f64>,
}

/// One segment's share now and at training.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SegmentShare {
    pub id: usize,
    pub name: String,
    pub training_share: f64,
    pub share: f64,
}

/// The segment mix.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SegmentMix {
    pub psi: f64,
    pub verdict: Verdict,
    pub shares: Vec<SegmentShare>,
}

/// A warning's share now and at training.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct WarningShare {
    pub training_share: f64,
    pub share: f64,
}

/// The two warnings a drift check follows.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Warnings {
    pub out_of_range: WarningShare,
    pub far_from_centroid: WarningShare,
}

/// The result of a drift check (the `--json` output of `custseg drift`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriftReport {
    pub model: String,
    pub version: u32,
    /// Customers compared (scored).
    pub customers: u64,
    pub training_customers: u64,
    /// Where the training population came from: `model` (its `reference`) or `assignments`
    /// (the version's `assignments.csv`, for models written before it).
    pub reference: &'static str,
    pub verdict: Verdict,
    /// Why, one line per feature or the segment mix at `watch` or worse (worst first).
    pub reasons: Vec<String>,
    pub thresholds: Thresholds,
    pub features: Vec<FeatureDrift>,
    pub segments: SegmentMix,
    pub warnings: Warnings,
}

/// One feature's statistics from its counts.
fn feature_drift(
    r: &FeatureReference,
    counts: &Counts,
    j: usize,
    n: u64,
    t: &Thresholds,
) -> FeatureDrift {
    let bins = &counts.bins[j];
    let m: u64 = bins.iter().sum();
    match r {
        FeatureReference::Numeric {
            name,
            shares,
            cdf,
            below,
            ..
        } => {
            let psi = stats::psi(shares, &shares_of(bins));
            let d = stats::ks_statistic(cdf, below, &counts.cells[j]);
            FeatureDrift {
                feature: name.clone(),
                kind: "numeric",
                psi,
                verdict: t.verdict(psi),
                test: "ks",
                statistic: d,
                p_value: stats::ks_p_value(d, n, m),
                df: None,
                critical_value: Some(stats::ks_critical(0.05, n, m)),
            }
        }
        FeatureReference::Categorical { name, shares } => {
            let psi = stats::psi(shares, &shares_of(bins));
            let chi = stats::chi_square(shares, n, bins);
            FeatureDrift {
                feature: name.clone(),
                kind: "categorical",
                psi,
                verdict: t.verdict(psi),
                test: "chi_square",
                statistic: chi.statistic,
                p_value: chi.p_value,
                df: Some(chi.df),
                critical_value: None,
            }
        }
    }
}

/// Compares `counts` (a population binned against `reference`) with the training population.
pub fn compare(
    model: &Model,
    reference: &Reference,
    source: &'static str,
    counts: &Counts,
    t: &Thresholds,
) -> DriftReport {
    let n = reference.customers;
    let features: Vec<FeatureDrift> = (reference.features.iter().enumerate())
        .map(|(j, r)| feature_drift(r, counts, j, n, t))
        .collect();
    let now = shares_of(&counts.segments);
    let seg_psi = stats::psi(&reference.segment_shares, &now);
    let segments = SegmentMix {
        psi: seg_psi,
        verdict: t.verdict(seg_psi),
        shares: (model
            .file
            .segments
            .iter()
            .zip(&reference.segment_shares)
            .zip(&now))
        .map(|((s, tr), sh)| SegmentShare {
            id: s.id,
            name: s.name.clone(),
            training_share: *tr,
            share: *sh,
        })
        .collect(),
    };
    let m = counts.customers.max(1) as f64;
    let warnings = Warnings {
        out_of_range: WarningShare {
            training_share: reference.out_of_range_share,
            share: counts.out_of_range as f64 / m,
        },
        far_from_centroid: WarningShare {
            training_share: reference.far_from_centroid_share,
            share: counts.far_from_centroid as f64 / m,
        },
    };
    let mut flagged: Vec<(f64, Verdict, String)> = features
        .iter()
        .map(|f| (f.psi, f.verdict, format!("feature {}", f.feature)))
        .chain([(seg_psi, segments.verdict, "segment mix".to_string())])
        .filter(|(_, v, _)| *v > Verdict::Stable)
        .collect();
    flagged.sort_by(|a, b| b.0.total_cmp(&a.0));
    let verdict = flagged.iter().map(|f| f.1).max().unwrap_or(Verdict::Stable);
    let reasons = flagged
        .iter()
        .map(|(psi, v, what)| {
            let bound = match v {
                Verdict::Retrain => format!("> {}", t.psi_retrain),
                _ => format!(">= {}", t.psi_watch),
            };
            format!("{what}: PSI {psi:.3} {bound} ({})", v.as_str())
        })
        .collect();
    DriftReport {
        model: model.file.name.clone(),
        version: model.file.version,
        customers: counts.customers,
        training_customers: n,
        reference: source,
        verdict,
        reasons,
        thresholds: *t,
        features,
        segments,
        warnings,
    }
}

/// Bins every scored customer against a reference.
struct Binner<'a> {
    model: &'a Model,
    reference: &'a Reference,
    counts: Counts,
}

impl Observer for Binner<'_> {
    fn scored(&mut self, raw: &[RawValue], s: &Scored) {
        let spec = &self.model.file.features;
        self.counts
            .add(self.reference, spec, raw, s.index, &s.warnings);
    }
}

/// Builds a reference from every scored customer.
struct Collector<'a> {
    model: &'a Model,
    builder: ReferenceBuilder,
}

impl Observer for Collector<'_> {
    fn scored(&mut self, raw: &[RawValue], s: &Scored) {
        let flags = crate::model::reference::warning_flags(&s.warnings);
        self.builder
            .push(&self.model.file.features, raw, s.index, flags);
    }
}

/// Scores `input` with `model` as `custseg score` would (the CSV is discarded), showing
/// every scored customer to `observer`.
fn score_quietly(
    model: &Model,
    input: &BatchInput,
    observer: &mut dyn Observer,
    progress: &Progress,
) -> crate::Result<BatchSummary> {
    let mut sink = std::io::sink();
    score_observed(
        model,
        input,
        &mut sink,
        Path::new("<drift>"),
        progress,
        Some(observer),
    )
}

/// The model's training population: its `reference` (`"model"`), else rebuilt from the
/// version's `assignments.csv` (`"assignments"`), which carries the training customers'
/// features; an error saying to retrain when neither is there.
pub fn reference_of(
    model: &Model,
    progress: &Progress,
) -> crate::Result<(Reference, &'static str)> {
    if let Some(r) = &model.file.reference {
        return Ok((r.clone(), "model"));
    }
    let path = model.dir.join("assignments.csv");
    let no_reference = |why: String| ModelError::NotFound {
        what: format!(
            "{}: the model has no training reference (it predates drift checks) and {why}; \
             retrain the model to compare populations with it",
            model.dir.display()
        ),
    };
    if !path.is_file() {
        return Err(no_reference(format!("{} is missing", path.display())).into());
    }
    let input = BatchInput {
        input: vec![path.clone()],
        ..Default::default()
    };
    let mut c = Collector {
        model,
        builder: ReferenceBuilder::new(&model.file.features, model.file.k),
    };
    score_quietly(model, &input, &mut c, progress)
        .map_err(|e| no_reference(format!("{} cannot be used ({e})", path.display())))?;
    Ok((c.builder.finish(&model.file.features), "assignments"))
}

/// Scores `input` with `model` and bins its customers against `reference`.
pub fn measure(
    model: &Model,
    reference: &Reference,
    input: &BatchInput,
    progress: &Progress,
) -> crate::Result<(Counts, BatchSummary)> {
    let mut b = Binner {
        model,
        reference,
        counts: Counts::new(reference),
    };
    let summary = score_quietly(model, input, &mut b, progress)?;
    Ok((b.counts, summary))
}
