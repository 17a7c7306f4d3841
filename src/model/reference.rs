//! `model.json` → `reference`: a compact summary of the training population, so a later
//! population can be compared with it (`custseg drift`, the server's drift gauges) without
//! keeping any per-customer data in the model file.
//!
//! Per numeric feature it keeps the training deciles as bin edges with the share of training
//! customers in each bin (for the population stability index), and the empirical CDF on a
//! grid of at most [`GRID_POINTS`] values (for the Kolmogorov–Smirnov statistic; exact when
//! the feature has no more distinct values than that). Per categorical feature it keeps the
//! share of each model level plus an "other" bucket for levels training never saw. It also
//! keeps the segment mix and the share of customers with `out_of_range` and
//! `far_from_centroid` warnings.
//!
//! Values are the ones the model's encoding sees: a missing value counts as its imputed
//! median or mode, as in scoring. [`Counts`] bins a population against a reference the same
//! way for the training customers, a scored file and the server's window.

use serde::{Deserialize, Serialize};

use crate::features::spec::level_of;
use crate::features::{Encoding, Feature, FeatureSpec, FeatureWarning, RawValue};

/// Largest number of grid points of a numeric feature's CDF (its cells fit in a `u16`).
pub const GRID_POINTS: usize = 200;
/// Quantile bins of a numeric feature (deciles).
pub const BINS: usize = 10;

/// The training population of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// Training customers summarized.
    pub customers: u64,
    /// One entry per model feature, in feature order.
    pub features: Vec<FeatureReference>,
    /// Share of the training customers in each segment, in the model's segment order.
    pub segment_shares: Vec<f64>,
    /// Share of training customers with an `out_of_range` warning (0 when the ranges are the
    /// training's own).
    pub out_of_range_share: f64,
    /// Share of training customers farther from their centroid than the segment's
    /// `distance_p99` (the `far_from_centroid` rule).
    pub far_from_centroid_share: f64,
}

/// The training distribution of one feature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureReference {
    Numeric {
        name: String,
        /// Upper edges of the bins but the last (ascending, distinct): a value `x` is in the
        /// first bin whose edge is `>= x`, else in the last one.
        edges: Vec<f64>,
        /// Training share of each bin (`edges.len() + 1` of them).
        shares: Vec<f64>,
        /// Ascending, distinct grid values.
        grid: Vec<f64>,
        /// Training share of values `<= grid[i]`.
        cdf: Vec<f64>,
        /// Training share of values `< grid[i]`.
        below: Vec<f64>,
    },
    Categorical {
        name: String,
        /// Training share of each of the model's levels, then of levels it never saw (0).
        shares: Vec<f64>,
    },
}

impl FeatureReference {
    /// The feature's name.
    pub fn name(&self) -> &str {
        match self {
            FeatureReference::Numeric { name, .. } | FeatureReference::Categorical { name, .. } => {
                name
            }
        }
    }

    /// Number of bins (PSI buckets).
    pub fn n_bins(&self) -> usize {
        match self {
            FeatureReference::Numeric { shares, .. }
            | FeatureReference::Categorical { shares, .. } => shares.len(),
        }
    }

    /// Number of grid cells, `2·grid.len() + 1`: below each grid value, at it, and above the
    /// grid; 0 for a categorical feature.
    pub fn n_cells(&self) -> usize {
        match self {
            FeatureReference::Numeric { grid, .. } => 2 * grid.len() + 1,
            FeatureReference::Categorical { .. } => 0,
        }
    }

    /// The bin and grid cell of a raw value of feature `f` (`None` when the encoding would
    /// refuse it, which scoring reports as an error first).
    pub fn locate(&self, f: &Feature, raw: &RawValue) -> Option<(usize, usize)> {
        match (self, &f.encoding) {
            (FeatureReference::Numeric { edges, grid, .. }, Encoding::Numeric { impute, .. }) => {
                let (x, _) = f.number_of(raw, *impute).ok()?;
                let p = grid.partition_point(|g| *g < x);
                let on = grid.get(p) == Some(&x);
                Some((edges.partition_point(|e| *e < x), 2 * p + usize::from(on)))
            }
            (
                FeatureReference::Categorical { .. },
                Encoding::Categorical { levels, impute, .. },
            ) => {
                let (hit, _) = level_of(levels, impute, raw);
                Some((hit.unwrap_or(levels.len()), 0))
            }
            _ => None,
        }
    }

    /// Checks the entry against its model feature: same name and kind, bins and grid
    /// consistent, shares finite.
    fn validate(&self, f: &Feature) -> Result<(), String> {
        let bad = |what: &str| Err(format!("reference of feature '{}': {what}", f.name));
        if self.name() != f.name {
            return bad(&format!("named '{}'", self.name()));
        }
        let ascending =
            |v: &[f64]| v.windows(2).all(|w| w[0] < w[1]) && v.iter().all(|x| x.is_finite());
        let shares_ok = |v: &[f64]| {
            v.iter()
                .all(|s| s.is_finite() && (0.0..=1.0 + 1e-9).contains(s))
        };
        match (self, &f.encoding) {
            (
                FeatureReference::Numeric {
                    edges,
                    shares,
                    grid,
                    cdf,
                    below,
                    ..
                },
                Encoding::Numeric { .. },
            ) => {
                if shares.len() != edges.len() + 1
                    || cdf.len() != grid.len()
                    || below.len() != grid.len()
                {
                    return bad("bins and shares (or grid and cdf) differ in length");
                }
                if !ascending(edges) || !ascending(grid) || grid.len() > GRID_POINTS {
                    return bad(
                        "edges and grid must be ascending, distinct, finite (grid at most 200)",
                    );
                }
                if !shares_ok(shares) || !shares_ok(cdf) || !shares_ok(below) {
                    return bad("shares must be between 0 and 1");
                }
            }
            (
                FeatureReference::Categorical { shares, .. },
                Encoding::Categorical { levels, .. },
            ) => {
                if shares.len() != levels.len() + 1 {
                    return bad("needs one share per level plus one for unseen levels");
                }
                if !shares_ok(shares) {
                    return bad("shares must be between 0 and 1");
                }
            }
            _ => return bad("kind differs from the feature's encoding"),
        }
        Ok(())
    }
}

impl Reference {
    /// Checks the reference against the model's features and segment count.
    pub fn validate(&self, spec: &FeatureSpec, k: usize) -> Result<(), String> {
        if self.features.len() != spec.features.len() {
            return Err(format!(
                "reference has {} features, the model {}",
                self.features.len(),
                spec.features.len()
            ));
        }
        if self.segment_shares.len() != k {
            return Err(format!(
                "reference has {} segment shares, the model {k} segments",
                self.segment_shares.len()
            ));
        }
        for (r, f) in self.features.iter().zip(&spec.features) {
            r.validate(f)?;
        }
        Ok(())
    }
}

/// Whether a scored customer's warnings include `out_of_range` and `far_from_centroid`.
pub fn warning_flags(warnings: &[FeatureWarning]) -> (bool, bool) {
    let out = warnings
        .iter()
        .any(|w| matches!(w, FeatureWarning::OutOfRange { .. }));
    let far = warnings
        .iter()
        .any(|w| matches!(w, FeatureWarning::FarFromCentroid { .. }));
    (out, far)
}

/// A population binned against a reference: per feature the customers in each bin and grid
/// cell, per segment the customers in it, and the customers with each warning.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    pub customers: u64,
    /// Per feature, customers per bin.
    pub bins: Vec<Vec<u64>>,
    /// Per feature, customers per grid cell (empty for categorical features).
    pub cells: Vec<Vec<u64>>,
    /// Customers per segment (model order).
    pub segments: Vec<u64>,
    pub out_of_range: u64,
    pub far_from_centroid: u64,
}

impl Counts {
    /// Empty counts shaped like `reference`.
    pub fn new(reference: &Reference) -> Counts {
        Counts {
            customers: 0,
            bins: reference
                .features
                .iter()
                .map(|f| vec![0; f.n_bins()])
                .collect(),
            cells: reference
                .features
                .iter()
                .map(|f| vec![0; f.n_cells()])
                .collect(),
            segments: vec![0; reference.segment_shares.len()],
            out_of_range: 0,
            far_from_centroid: 0,
        }
    }

    /// Adds one scored customer: raw values in feature order, its segment (position) and
    /// its warnings.
    pub fn add(
        &mut self,
        reference: &Reference,
        spec: &FeatureSpec,
        raw: &[RawValue],
        segment: usize,
        warnings: &[FeatureWarning],
    ) {
        self.customers += 1;
        for (j, (r, f)) in reference.features.iter().zip(&spec.features).enumerate() {
            if let Some((b, c)) = raw.get(j).and_then(|v| r.locate(f, v)) {
                self.bins[j][b] += 1;
                if let Some(n) = self.cells[j].get_mut(c) {
                    *n += 1;
                }
            }
        }
        if let Some(n) = self.segments.get_mut(segment) {
            *n += 1;
        }
        let (out, far) = warning_flags(warnings);
        self.out_of_range += u64::from(out);
        self.far_from_centroid += u64::from(far);
    }
}

/// Shares of counts (all 0 for an empty total).
pub fn shares_of(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|&c| {
            if total == 0 {
                0.0
            } else {
                c as f64 / total as f64
            }
        })
        .collect()
}

/// Collects a training population and summarizes it as a [`Reference`].
pub struct ReferenceBuilder {
    /// Numeric features' values as the encoding sees them (empty for categorical ones).
    values: Vec<Vec<f64>>,
    /// Categorical features' level counts (levels, then unseen).
    levels: Vec<Vec<u64>>,
    segments: Vec<u64>,
    customers: u64,
    out_of_range: u64,
    far_from_centroid: u64,
}

impl ReferenceBuilder {
    /// An empty builder for a model with `spec` and `k` segments.
    pub fn new(spec: &FeatureSpec, k: usize) -> ReferenceBuilder {
        ReferenceBuilder {
            values: spec.features.iter().map(|_| Vec::new()).collect(),
            levels: spec
                .features
                .iter()
                .map(|f| match &f.encoding {
                    Encoding::Categorical { levels, .. } => vec![0; levels.len() + 1],
                    Encoding::Numeric { .. } => Vec::new(),
                })
                .collect(),
            segments: vec![0; k],
            customers: 0,
            out_of_range: 0,
            far_from_centroid: 0,
        }
    }

    /// Adds one training customer: raw values in feature order, segment position and the
    /// two warning flags ([`warning_flags`]).
    pub fn push(
        &mut self,
        spec: &FeatureSpec,
        raw: &[RawValue],
        segment: usize,
        (out, far): (bool, bool),
    ) {
        self.customers += 1;
        for (j, (f, v)) in spec.features.iter().zip(raw).enumerate() {
            match &f.encoding {
                Encoding::Numeric { impute, .. } => {
                    if let Ok((x, _)) = f.number_of(v, *impute) {
                        self.values[j].push(x);
                    }
                }
                Encoding::Categorical { levels, impute, .. } => {
                    let (hit, _) = level_of(levels, impute, v);
                    self.levels[j][hit.unwrap_or(levels.len())] += 1;
                }
            }
        }
        if let Some(n) = self.segments.get_mut(segment) {
            *n += 1;
        }
        self.out_of_range += u64::from(out);
        self.far_from_centroid += u64::from(far);
    }

    /// Adds the customers another builder of the same model collected (so parts of a
    /// population can be collected in parallel).
    pub fn merge(&mut self, other: ReferenceBuilder) {
        for (mine, theirs) in self.values.iter_mut().zip(other.values) {
            mine.extend(theirs);
        }
        for (mine, theirs) in self.levels.iter_mut().zip(&other.levels) {
            mine.iter_mut().zip(theirs).for_each(|(a, b)| *a += b);
        }
        self.segments
            .iter_mut()
            .zip(&other.segments)
            .for_each(|(a, b)| *a += b);
        self.customers += other.customers;
        self.out_of_range += other.out_of_range;
        self.far_from_centroid += other.far_from_centroid;
    }

    /// The summary (features in parallel; values sorted, so the order customers were added
    /// in does not matter).
    pub fn finish(self, spec: &FeatureSpec) -> Reference {
        use rayon::prelude::*;
        let n = self.customers.max(1) as f64;
        let features = (spec.features.par_iter())
            .zip(self.values)
            .zip(&self.levels)
            .map(|((f, mut values), levels)| match &f.encoding {
                Encoding::Numeric { .. } => {
                    values.sort_by(f64::total_cmp);
                    numeric_reference(&f.name, &values)
                }
                Encoding::Categorical { .. } => FeatureReference::Categorical {
                    name: f.name.clone(),
                    shares: shares_of(levels),
                },
            })
            .collect();
        Reference {
            customers: self.customers,
            features,
            segment_shares: shares_of(&self.segments),
            out_of_range_share: self.out_of_range as f64 / n,
            far_from_centroid_share: self.far_from_centroid as f64 / n,
        }
    }
}

/// Distinct values of a sorted slice at the given positions.
fn distinct_at(sorted: &[f64], positions: impl Iterator<Item = usize>) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::new();
    for i in positions {
        let v = sorted[i];
        if out.last().is_none_or(|l| *l < v) {
            out.push(v);
        }
    }
    out
}

/// Decile edges, bin shares and the CDF grid of one numeric feature's sorted values.
fn numeric_reference(name: &str, sorted: &[f64]) -> FeatureReference {
    let n = sorted.len();
    let share_le = |x: f64| sorted.partition_point(|v| *v <= x) as f64 / n.max(1) as f64;
    let share_lt = |x: f64| sorted.partition_point(|v| *v < x) as f64 / n.max(1) as f64;
    let (mut edges, grid) = if n == 0 {
        (Vec::new(), Vec::new())
    } else {
        let last = n - 1;
        let edges = distinct_at(sorted, (1..BINS).map(|i| i * last / BINS));
        let all = distinct_at(sorted, 0..n);
        let grid = if all.len() <= GRID_POINTS {
            all
        } else {
            let g = GRID_POINTS - 1;
            distinct_at(sorted, (0..=g).map(|i| (i * last + g / 2) / g))
        };
        (edges, grid)
    };
    // The top edge at the maximum would leave the last bin empty in training.
    if edges.last().is_some_and(|e| Some(e) == sorted.last()) {
        edges.pop();
    }
    let mut shares = Vec::with_capacity(edges.len() + 1);
    let mut below = 0.0;
    for e in &edges {
        let s = share_le(*e);
        shares.push(s - below);
        below = s;
    }
    shares.push(if n == 0 { 0.0 } else { 1.0 - below });
    FeatureReference::Numeric {
        name: name.to_string(),
        cdf: grid.iter().map(|g| share_le(*g)).collect(),
        below: grid.iter().map(|g| share_lt(*g)).collect(),
        edges,
        shares,
        grid,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::features::{Source, Transform};

    /// A numeric feature with impute 5 and range 0..=100.
    pub(crate) fn numeric(name: &str) -> Feature {
        Feature {
            name: name.into(),
            source: Source::Transactions,
            column: None,
            weight: 1.0,
            encoding: Encoding::Numeric {
                transform: Transform::None,
                mean: 0.0,
                std: 1.0,
                impute: 5.0,
                min: 0.0,
                max: 100.0,
            },
            derived: None,
        }
    }

    fn categorical(name: &str) -> Feature {
        Feature {
            name: name.into(),
            source: Source::Customers,
            column: None,
            weight: 1.0,
            encoding: Encoding::Categorical {
                levels: vec!["F".into(), "M".into()],
                shares: vec![0.5, 0.5],
                scale: 1.0,
                impute: "F".into(),
            },
            derived: None,
        }
    }

    fn spec() -> FeatureSpec {
        FeatureSpec {
            features: vec![numeric("x"), categorical("g")],
            ..Default::default()
        }
    }

    fn build(xs: &[f64], gs: &[&str]) -> Reference {
        let spec = spec();
        let mut b = ReferenceBuilder::new(&spec, 2);
        for (i, (x, g)) in xs.iter().zip(gs).enumerate() {
            let raw = [RawValue::Num(*x), RawValue::Text(g.to_string())];
            b.push(&spec, &raw, i % 2, (false, i == 0));
        }
        b.finish(&spec)
    }

    #[test]
    fn deciles_split_distinct_values_into_ten_equal_bins() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        let gs = vec!["F"; 100];
        let r = build(&xs, &gs);
        let FeatureReference::Numeric {
            edges,
            shares,
            grid,
            cdf,
            ..
        } = &r.features[0]
        else {
            panic!("numeric")
        };
        assert_eq!(
            edges,
            &[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0]
        );
        assert!(shares.iter().all(|s| (s - 0.1).abs() < 1e-12), "{shares:?}");
        assert_eq!(grid.len(), 100);
        assert!((cdf[49] - 0.5).abs() < 1e-12);
        assert!((r.far_from_centroid_share - 0.01).abs() < 1e-12);
        assert_eq!(r.segment_shares, vec![0.5, 0.5]);
        r.validate(&spec(), 2).unwrap();
    }

    #[test]
    fn tied_values_share_a_bin_and_the_grid_is_capped() {
        // Half the values are 0: the lower deciles collapse into one edge.
        let xs: Vec<f64> = (0..1000)
            .map(|i| if i < 500 { 0.0 } else { f64::from(i) })
            .collect();
        let r = build(&xs, &vec!["M"; 1000]);
        let FeatureReference::Numeric {
            edges,
            shares,
            grid,
            ..
        } = &r.features[0]
        else {
            panic!("numeric")
        };
        assert_eq!(edges[0], 0.0);
        assert!((shares[0] - 0.5).abs() < 1e-12, "{shares:?}");
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(
            grid.len() <= GRID_POINTS && grid.len() > 100,
            "{}",
            grid.len()
        );
    }

    #[test]
    fn categorical_levels_and_unseen_ones() {
        let r = build(&[1.0, 2.0, 3.0, 4.0], &["F", "M", "M", "X"]);
        let FeatureReference::Categorical { shares, .. } = &r.features[1] else {
            panic!("categorical")
        };
        assert_eq!(shares, &vec![0.25, 0.5, 0.25]);
        let mut c = Counts::new(&r);
        let spec = spec();
        c.add(&r, &spec, &[RawValue::Missing, RawValue::Missing], 1, &[]);
        // Missing values count as their imputed median (5, above every edge) and mode (F).
        assert_eq!(c.bins[1], vec![1, 0, 0]);
        assert_eq!(*c.bins[0].last().unwrap(), 1);
        assert_eq!(c.segments, vec![0, 1]);
    }

    #[test]
    fn a_reference_must_match_the_features() {
        let r = build(&[1.0, 2.0], &["F", "M"]);
        let mut other = spec();
        other.features.swap(0, 1);
        assert!(r.validate(&other, 2).unwrap_err().contains("named"));
        assert!(r
            .validate(&spec(), 3)
            .unwrap_err()
            .contains("segment shares"));
        let mut broken = r.clone();
        if let FeatureReference::Numeric { shares, .. } = &mut broken.features[0] {
            shares.push(0.0);
        }
        assert!(broken.validate(&spec(), 2).unwrap_err().contains("length"));
    }
}
