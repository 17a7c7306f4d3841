//! Predictive customer value: who will buy again, how often, for how much, and when.
//!
//! Plain data in, plain data out; nothing here depends on the rest of the crate. A customer is
//! an [`Rfm`] summary in the conventions of lifetimes' `summary_data_from_transaction_data`:
//! `x` repeat purchases (periods with a purchase after the first), `t_x` the time of the last
//! purchase and `t` the age, both measured from the first purchase, and `m` the mean value of
//! the repeat purchases. The time unit is the caller's (custseg uses days); the fitted rate
//! parameters (α, β) are in that unit. [`clv`] and the next-order date assume days.
//!
//! Models, fitted by maximum likelihood ([`optimize::bfgs`] with exact gradients, parameters in
//! log space, time rescaled so that the oldest customer has age 1 and money so that the mean
//! repeat-order value is 1 while fitting):
//! - [`BgNbd`]: BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way").
//! - [`ParetoNbd`]: Pareto/NBD (Schmittlein, Morrison & Colombo 1987), likelihood as in Fader &
//!   Hardie, "A note on deriving the Pareto/NBD model and related expressions" (2005).
//! - [`GammaGamma`]: spend per order (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value
//!   curves"), fitted on repeat buyers.
//!
//! The log-likelihood is summed over customers in fixed chunks of [`CHUNK`] with rayon and the
//! chunk sums added in chunk order, so a fit does not depend on the number of threads.
//! Customers with identical `(x, t_x, t)` are merged into one weighted row first
//! ([`FitOptions::merge_duplicates`]), which on day-grained data shrinks the work several-fold.
//!
//! Per customer ([`ValueModel::predict`]): `p_alive`, the expected number of orders over the
//! horizon, the expected spend per order, the discounted CLV and the next order, see [`clv`]
//! for their exact definitions.

pub mod bgnbd;
pub mod clv;
pub mod dual;
pub mod gamma_gamma;
pub mod holdout;
pub mod optimize;
pub mod pareto_nbd;
pub mod simulate;
pub mod special;

#[cfg(test)]
mod cdnow_tests;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use bgnbd::BgNbd;
pub use clv::{ClvSettings, CustomerValue, PredictMemo, PurchaseModel, ValueModel};
pub use gamma_gamma::GammaGamma;
pub use optimize::Termination;
pub use pareto_nbd::ParetoNbd;

/// One customer's purchase summary (see the module documentation for the conventions).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rfm {
    /// Repeat purchases: purchase periods after the first (an integer ≥ 0).
    pub x: f64,
    /// Time of the last purchase since the first (0 when `x` = 0).
    pub t_x: f64,
    /// Age: time from the first purchase to the end of the observation (≥ `t_x`).
    pub t: f64,
    /// Mean value of the repeat purchases (0 when `x` = 0).
    pub m: f64,
}

impl Rfm {
    /// A summary; check it with [`Rfm::validate`].
    pub fn new(x: f64, t_x: f64, t: f64, m: f64) -> Self {
        Rfm { x, t_x, t, m }
    }

    /// Checks the conventions; `index` is echoed in the error.
    pub fn validate(&self, index: usize) -> Result<(), ValueError> {
        let bad = |field: &'static str, value: f64, constraint: &'static str| {
            Err(ValueError::InvalidCustomer {
                index,
                field,
                value,
                constraint,
            })
        };
        if !(self.x.is_finite() && self.x >= 0.0 && self.x == self.x.floor()) {
            return bad("x", self.x, "must be a non-negative integer");
        }
        if !(self.t.is_finite() && self.t >= 0.0) {
            return bad("t", self.t, "must be finite and >= 0");
        }
        if !(self.t_x.is_finite() && self.t_x >= 0.0 && self.t_x <= self.t) {
            return bad("t_x", self.t_x, "must be within [0, t]");
        }
        if self.x == 0.0 && self.t_x != 0.0 {
            return bad("t_x", self.t_x, "must be 0 when x = 0");
        }
        if !(self.m.is_finite() && self.m >= 0.0) {
            return bad("m", self.m, "must be finite and >= 0");
        }
        Ok(())
    }
}

/// Why a value model could not be fitted or evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// A customer summary breaks the conventions of [`Rfm`].
    #[error("customer {index}: {field} = {value} {constraint}")]
    InvalidCustomer {
        /// Position of the customer in the input.
        index: usize,
        /// Field name.
        field: &'static str,
        /// Offending value.
        value: f64,
        /// The rule it breaks.
        constraint: &'static str,
    },
    /// Too few customers with a repeat purchase to identify the model.
    #[error("{model}: {found} repeat buyers, at least {required} are needed to fit")]
    TooFewRepeatBuyers {
        /// Model name.
        model: &'static str,
        /// Repeat buyers in the input.
        found: usize,
        /// Minimum ([`FitOptions::min_repeat_buyers`]).
        required: usize,
    },
    /// No start of the optimizer reached a minimum.
    #[error(
        "{model}: the fit did not converge ({termination:?} after {iterations} iterations, \
         gradient norm {gradient_norm:.3e}, log-likelihood {log_likelihood})"
    )]
    NotConverged {
        /// Model name.
        model: &'static str,
        /// How the best attempt ended.
        termination: Termination,
        /// Its iterations.
        iterations: usize,
        /// Its largest gradient component (mean log-likelihood, log parameters).
        gradient_norm: f64,
        /// Its log-likelihood.
        log_likelihood: f64,
    },
    /// The maximum lies at the edge of the parameter space.
    #[error(
        "{model}: parameter {param} = {value:.3e} (on the rescaled axis) is at a boundary; it \
         must lie within [{lower:.0e}, {upper:.0e}]"
    )]
    AtBoundary {
        /// Model name.
        model: &'static str,
        /// Parameter name.
        param: &'static str,
        /// Its value with time rescaled to the oldest customer's age and money to the mean order.
        value: f64,
        /// Smallest plausible value.
        lower: f64,
        /// Largest plausible value.
        upper: f64,
    },
    /// Gamma-Gamma's q ≤ 1: the population mean spend per order p·v/(q−1) does not exist.
    #[error("gamma_gamma: q = {q:.4} <= 1, so the mean spend per order is infinite")]
    InfiniteMeanSpend {
        /// Fitted q.
        q: f64,
    },
    /// A computed quantity is not finite.
    #[error("{model}: {what} is not finite")]
    NonFinite {
        /// Model name.
        model: &'static str,
        /// The quantity.
        what: &'static str,
    },
    /// A fitting option is out of range.
    #[error("fit option {field} {constraint}")]
    InvalidOption {
        /// Option name.
        field: &'static str,
        /// The rule it breaks.
        constraint: &'static str,
    },
}

impl ValueError {
    /// The parameter of an [`ValueError::AtBoundary`].
    fn boundary_param(&self) -> Option<&'static str> {
        match self {
            ValueError::AtBoundary { param, .. } => Some(param),
            _ => None,
        }
    }
}

/// Options of the maximum-likelihood fits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Fewest customers with `x > 0` (default 30).
    pub min_repeat_buyers: usize,
    /// BFGS iterations per start (default 500).
    pub max_iterations: usize,
    /// Largest gradient component of the mean log-likelihood per customer, in the log
    /// parameters, at a minimum (default 1e-8).
    pub gradient_tolerance: f64,
    /// Merge customers with identical summaries into weighted rows first (default true).
    pub merge_duplicates: bool,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            min_repeat_buyers: 30,
            max_iterations: 500,
            gradient_tolerance: 1e-8,
            merge_duplicates: true,
        }
    }
}

impl FitOptions {
    fn validate(&self) -> Result<(), ValueError> {
        if self.max_iterations == 0 {
            return Err(ValueError::InvalidOption {
                field: "max_iterations",
                constraint: "must be > 0",
            });
        }
        if !(self.gradient_tolerance.is_finite() && self.gradient_tolerance > 0.0) {
            return Err(ValueError::InvalidOption {
                field: "gradient_tolerance",
                constraint: "must be finite and > 0",
            });
        }
        Ok(())
    }
}

/// How a fit ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Convergence {
    /// Whether the optimizer stopped at a minimum.
    pub converged: bool,
    /// Why it stopped.
    pub termination: Termination,
    /// BFGS iterations of the accepted start.
    pub iterations: usize,
    /// Likelihood-and-gradient evaluations over all starts.
    pub evaluations: usize,
    /// Largest gradient component of the mean log-likelihood (log parameters).
    pub gradient_norm: f64,
    /// Log-likelihood summed over the customers, in the caller's units.
    pub log_likelihood: f64,
    /// Customers the model was fitted on.
    pub customers: usize,
}

impl Convergence {
    /// The record of a minimum [`minimise`] accepted.
    pub(crate) fn accepted<const N: usize>(
        m: &optimize::Minimum<N>,
        evaluations: usize,
        log_likelihood: f64,
        customers: usize,
    ) -> Self {
        Convergence {
            converged: true,
            termination: m.termination,
            iterations: m.iterations,
            evaluations,
            gradient_norm: m.gradient_norm(),
            log_likelihood,
            customers,
        }
    }
}

/// Fitted parameters with their convergence record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fitted<P> {
    /// Parameters in the caller's units.
    pub params: P,
    /// How the fit ended.
    pub convergence: Convergence,
}

/// Customers per chunk of the parallel likelihood sums.
pub const CHUNK: usize = 4096;

/// Σ over `0..n` of `f(chunk)`, in chunks of [`CHUNK`] computed in parallel and added in chunk
/// order: the same bits whatever the thread count.
pub(crate) fn chunked_sum<const K: usize, F>(n: usize, f: F) -> [f64; K]
where
    F: Fn(std::ops::Range<usize>) -> [f64; K] + Sync,
{
    let chunks = n.div_ceil(CHUNK);
    let range = |c: usize| c * CHUNK..((c + 1) * CHUNK).min(n);
    let partial: Vec<[f64; K]> = if chunks >= 4 {
        (0..chunks).into_par_iter().map(|c| f(range(c))).collect()
    } else {
        (0..chunks).map(|c| f(range(c))).collect()
    };
    partial.iter().fold([0.0; K], |mut acc, p| {
        for (a, v) in acc.iter_mut().zip(p) {
            *a += v;
        }
        acc
    })
}

/// Purchase summaries prepared for a count model's likelihood: validated, time rescaled,
/// optionally merged, structure-of-arrays.
pub(crate) struct CountData {
    /// Index of each row's x in `xs`.
    pub x_index: Vec<u32>,
    /// Rescaled t_x.
    pub t_x: Vec<f64>,
    /// Rescaled t.
    pub t: Vec<f64>,
    /// Customers per row.
    pub weight: Vec<f64>,
    /// Distinct x, ascending.
    pub xs: Vec<f64>,
    /// Total weight per distinct x.
    pub x_weight: Vec<f64>,
    /// Total weight (customers).
    pub total_weight: f64,
    /// Σ weight·x.
    pub total_x: f64,
    /// Caller time units per rescaled unit (the oldest customer's age).
    pub scale: f64,
}

impl CountData {
    pub(crate) fn new(
        data: &[Rfm],
        model: &'static str,
        options: &FitOptions,
    ) -> Result<Self, ValueError> {
        options.validate()?;
        for (i, c) in data.iter().enumerate() {
            c.validate(i)?;
        }
        let repeat = data.iter().filter(|c| c.x > 0.0).count();
        if repeat < options.min_repeat_buyers.max(1) {
            return Err(ValueError::TooFewRepeatBuyers {
                model,
                found: repeat,
                required: options.min_repeat_buyers.max(1),
            });
        }
        let scale = data.iter().fold(0.0_f64, |m, c| m.max(c.t));
        if scale <= 0.0 {
            return Err(ValueError::InvalidCustomer {
                index: 0,
                field: "t",
                value: 0.0,
                constraint: "must be > 0 for at least one customer",
            });
        }
        let rows = merged_rows(data, options.merge_duplicates);
        let mut xs: Vec<f64> = rows.iter().map(|(c, _)| c.x).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let mut out = CountData {
            x_index: Vec::with_capacity(rows.len()),
            t_x: Vec::with_capacity(rows.len()),
            t: Vec::with_capacity(rows.len()),
            weight: Vec::with_capacity(rows.len()),
            x_weight: vec![0.0; xs.len()],
            xs,
            total_weight: 0.0,
            total_x: 0.0,
            scale,
        };
        for (c, w) in rows {
            let k = out.xs.partition_point(|&v| v < c.x);
            out.x_index.push(k as u32);
            out.t_x.push(c.t_x / scale);
            out.t.push(c.t / scale);
            out.weight.push(w);
            out.x_weight[k] += w;
            out.total_weight += w;
            out.total_x += w * c.x;
        }
        Ok(out)
    }

    pub(crate) fn len(&self) -> usize {
        self.t.len()
    }
}

/// The customers as `(summary, weight)` rows, identical `(x, t_x, t)` merged if asked.
fn merged_rows(data: &[Rfm], merge: bool) -> Vec<(Rfm, f64)> {
    if !merge {
        return data.iter().map(|c| (*c, 1.0)).collect();
    }
    let key = |c: &Rfm| (c.x.to_bits(), c.t_x.to_bits(), c.t.to_bits());
    let mut keys: Vec<(u64, u64, u64)> = data.iter().map(key).collect();
    keys.par_sort_unstable();
    let mut rows: Vec<(Rfm, f64)> = Vec::new();
    let mut previous = None;
    for k in keys {
        if previous == Some(k) {
            if let Some(last) = rows.last_mut() {
                last.1 += 1.0;
            }
            continue;
        }
        previous = Some(k);
        let c = Rfm::new(
            f64::from_bits(k.0),
            f64::from_bits(k.1),
            f64::from_bits(k.2),
            0.0,
        );
        rows.push((c, 1.0));
    }
    rows
}

/// Where a parameter is plausible (natural value, rescaled axis) unless a model says otherwise:
/// beyond, a shape has collapsed to a point mass or a scale dwarfs every customer's age.
pub(crate) const PLAUSIBLE: (f64, f64) = (1e-6, 1e6);

/// What [`minimise`] fits: parameter names and their plausible ranges (natural values, on
/// the rescaled axis; the optimizer works on their logarithms).
pub(crate) struct Problem<const N: usize> {
    pub(crate) model: &'static str,
    pub(crate) names: [&'static str; N],
    pub(crate) ranges: [(f64, f64); N],
}

impl<const N: usize> Problem<N> {
    /// Every parameter within [`PLAUSIBLE`].
    pub(crate) fn new(model: &'static str, names: [&'static str; N]) -> Self {
        Problem {
            model,
            names,
            ranges: [PLAUSIBLE; N],
        }
    }

    fn bounds(&self) -> optimize::Bounds<N> {
        optimize::Bounds {
            lower: self.ranges.map(|r| r.0.ln()),
            upper: self.ranges.map(|r| r.1.ln()),
        }
    }

    /// The parameter furthest outside (or closest to the edge of) its range, as an error.
    fn at_boundary(&self, x: &[f64; N]) -> ValueError {
        let bounds = self.bounds();
        let excess = |i: usize| (bounds.lower[i] - x[i]).max(x[i] - bounds.upper[i]);
        let i = (0..N)
            .max_by(|&a, &b| excess(a).total_cmp(&excess(b)))
            .unwrap_or(0);
        ValueError::AtBoundary {
            model: self.model,
            param: self.names[i],
            value: x[i].exp(),
            lower: self.ranges[i].0,
            upper: self.ranges[i].1,
        }
    }
}

/// Runs BFGS from each start until one converges inside the plausible box; returns the
/// accepted minimum and the evaluations spent, or the error of the best failed attempt (a
/// boundary when the best attempt left the box or converged on its edge).
pub(crate) fn minimise<const N: usize, F>(
    f: F,
    starts: &[[f64; N]],
    options: &FitOptions,
    problem: &Problem<N>,
    log_likelihood_of: impl Fn(f64) -> f64,
) -> Result<(optimize::Minimum<N>, usize), ValueError>
where
    F: Fn(&[f64; N]) -> Option<(f64, [f64; N])>,
{
    let bounds = problem.bounds();
    let mut evaluations = 0;
    let mut best: Option<optimize::Minimum<N>> = None;
    for start in starts {
        let m = optimize::bfgs(
            &f,
            *start,
            options.gradient_tolerance,
            options.max_iterations,
            &bounds,
        );
        evaluations += m.evaluations;
        if m.converged() && bounds.contains(&m.x) && m.f.is_finite() {
            return Ok((m, evaluations));
        }
        let agree = best.is_some_and(|b| {
            // Two starts leaving the box through the same parameter: a third would too.
            let out = |x: &[f64; N]| problem.at_boundary(x).boundary_param();
            b.termination == Termination::OutOfBounds
                && m.termination == Termination::OutOfBounds
                && out(&b.x) == out(&m.x)
        });
        if best.is_none_or(|b| b.f.is_nan() || m.f < b.f) {
            best = Some(m);
        }
        if agree {
            break;
        }
    }
    let Some(best) = best else {
        return Err(ValueError::InvalidOption {
            field: "starts",
            constraint: "must not be empty",
        });
    };
    if !best.f.is_finite() {
        return Err(ValueError::NonFinite {
            model: problem.model,
            what: "log-likelihood",
        });
    }
    if best.converged() || best.termination == Termination::OutOfBounds {
        return Err(problem.at_boundary(&best.x));
    }
    Err(ValueError::NotConverged {
        model: problem.model,
        termination: best.termination,
        iterations: best.iterations,
        gradient_norm: best.gradient_norm(),
        log_likelihood: log_likelihood_of(best.f),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfm_validation_names_the_field() {
        let ok = Rfm::new(2.0, 10.0, 30.0, 5.0);
        assert!(ok.validate(0).is_ok());
        let cases = [
            (Rfm::new(1.5, 1.0, 2.0, 1.0), "x"),
            (Rfm::new(-1.0, 0.0, 2.0, 1.0), "x"),
            (Rfm::new(1.0, 3.0, 2.0, 1.0), "t_x"),
            (Rfm::new(0.0, 1.0, 2.0, 0.0), "t_x"),
            (Rfm::new(1.0, 1.0, f64::NAN, 1.0), "t"),
            (Rfm::new(1.0, 1.0, 2.0, -3.0), "m"),
        ];
        for (c, field) in cases {
            let err = c.validate(7).unwrap_err();
            assert!(
                matches!(err, ValueError::InvalidCustomer { index: 7, field: f, .. } if f == field),
                "{err}"
            );
        }
    }

    #[test]
    fn chunked_sum_does_not_depend_on_the_thread_count() {
        let n = 10 * CHUNK + 17;
        let f = |r: std::ops::Range<usize>| [r.map(|i| (i as f64).sqrt().sin()).sum::<f64>()];
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let a = one.install(|| chunked_sum(n, f));
        let b = three.install(|| chunked_sum(n, f));
        assert_eq!(a[0].to_bits(), b[0].to_bits());
    }

    #[test]
    fn merging_keeps_the_weights() {
        let data = vec![
            Rfm::new(1.0, 2.0, 5.0, 1.0),
            Rfm::new(0.0, 0.0, 5.0, 0.0),
            Rfm::new(1.0, 2.0, 5.0, 9.0),
            Rfm::new(0.0, 0.0, 5.0, 0.0),
            Rfm::new(0.0, 0.0, 4.0, 0.0),
        ];
        let options = FitOptions {
            min_repeat_buyers: 1,
            ..FitOptions::default()
        };
        let d = CountData::new(&data, "test", &options).unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d.total_weight, 5.0);
        assert_eq!(d.total_x, 2.0);
        assert_eq!(d.xs, vec![0.0, 1.0]);
        assert_eq!(d.x_weight, vec![3.0, 2.0]);
    }

    #[test]
    fn too_few_repeat_buyers_is_an_error() {
        let data = vec![Rfm::new(1.0, 2.0, 5.0, 1.0), Rfm::new(0.0, 0.0, 5.0, 0.0)];
        let err = CountData::new(&data, "bg_nbd", &FitOptions::default()).err();
        assert!(matches!(
            err,
            Some(ValueError::TooFewRepeatBuyers {
                found: 1,
                required: 30,
                ..
            })
        ));
    }
}
