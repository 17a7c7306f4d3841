//! Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves
//! for customer base analysis"; Fader & Hardie, "The Gamma-Gamma model of monetary value").
//!
//! A customer's order values are Gamma(p, ν) with ν ~ Gamma(q, v) across customers. For a
//! repeat buyer with x repeat orders of mean value m, the density of m is
//!
//! ℓ = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(v + x·m),
//!
//! fitted on the customers with x > 0 and m > 0 (money rescaled to a mean m of 1 while
//! fitting). The expected spend per order given (x, m) (eq. 5) is
//! (p·v + p·x·m)/(p·x + q − 1), a weighted mean of the population mean p·v/(q−1) and m; it
//! needs q > 1, which the fit checks.

use serde::{Deserialize, Serialize};

use super::special::{digamma, ln_gamma};
use super::{chunked_sum, minimise, Convergence, FitOptions, Fitted, Problem, Rfm, ValueError};

const MODEL: &str = "gamma_gamma";

/// Gamma-Gamma parameters; v is in the caller's money unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    /// Shape of an order's value.
    pub p: f64,
    /// Shape of the rate Gamma.
    pub q: f64,
    /// Scale (money) of the rate Gamma.
    pub v: f64,
}

/// Repeat buyers prepared for the likelihood.
struct SpendData {
    x_index: Vec<u32>,
    /// ln of the rescaled m.
    ln_m: Vec<f64>,
    /// Rescaled m.
    m: Vec<f64>,
    xs: Vec<f64>,
    x_count: Vec<f64>,
    /// Caller money units per rescaled unit.
    scale: f64,
}

impl SpendData {
    fn new(data: &[Rfm], options: &FitOptions) -> Result<Self, ValueError> {
        for (i, c) in data.iter().enumerate() {
            c.validate(i)?;
        }
        let buyers: Vec<&Rfm> = data.iter().filter(|c| c.x > 0.0 && c.m > 0.0).collect();
        let required = options.min_repeat_buyers.max(1);
        if buyers.len() < required {
            return Err(ValueError::TooFewRepeatBuyers {
                model: MODEL,
                found: buyers.len(),
                required,
            });
        }
        let scale = buyers.iter().map(|c| c.m).sum::<f64>() / buyers.len() as f64;
        let mut xs: Vec<f64> = buyers.iter().map(|c| c.x).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let mut x_count = vec![0.0; xs.len()];
        let mut x_index = Vec::with_capacity(buyers.len());
        for c in &buyers {
            let k = xs.partition_point(|&v| v < c.x);
            x_index.push(k as u32);
            x_count[k] += 1.0;
        }
        let m: Vec<f64> = buyers.iter().map(|c| c.m / scale).collect();
        let ln_m = m.iter().map(|v| v.ln()).collect();
        Ok(SpendData {
            x_index,
            ln_m,
            m,
            xs,
            x_count,
            scale,
        })
    }
}

impl GammaGamma {
    /// Fits the model on the repeat buyers (x > 0, m > 0) of `data`.
    ///
    /// ```
    /// use custseg::value::{simulate, FitOptions, GammaGamma};
    /// let truth = GammaGamma { p: 6.0, q: 4.0, v: 15.0 };
    /// let data = simulate::gamma_gamma(&truth, 5_000, 7);
    /// let fit = GammaGamma::fit(&data, &FitOptions::default()).unwrap();
    /// assert!(fit.convergence.converged);
    /// assert!((fit.params.p / truth.p - 1.0).abs() < 0.25);
    /// ```
    pub fn fit(data: &[Rfm], options: &FitOptions) -> Result<Fitted<GammaGamma>, ValueError> {
        options.validate()?;
        let d = SpendData::new(data, options)?;
        let n = d.m.len() as f64;
        let objective = |theta: &[f64; 3]| {
            let (ll, g) = log_likelihood_gradient(&d, theta);
            let f = -ll / n;
            (f.is_finite() && g.iter().all(|v| v.is_finite())).then(|| (f, g.map(|v| -v / n)))
        };
        let to_caller = |f: f64| -f * n - n * d.scale.ln();
        let starts = [[0.0, 2f64.ln(), 0.0], [1.0, 1.0, 0.0], [2.0, 0.5, 1.0]];
        let (m, evaluations) = minimise(
            objective,
            &starts,
            options,
            &Problem::new(MODEL, ["p", "q", "v"]),
            to_caller,
        )?;
        let [p, q, v] = m.x.map(f64::exp);
        if q <= 1.0 {
            return Err(ValueError::InfiniteMeanSpend { q });
        }
        let convergence = Convergence::accepted(&m, evaluations, to_caller(m.f), d.m.len());
        Ok(Fitted {
            params: GammaGamma {
                p,
                q,
                v: v * d.scale,
            },
            convergence,
        })
    }

    /// Log-density of a repeat buyer's mean order value (NaN unless x > 0 and m > 0).
    pub fn log_likelihood(&self, c: &Rfm) -> f64 {
        let GammaGamma { p, q, v } = *self;
        let (x, m) = (c.x, c.m);
        if !(x > 0.0 && m > 0.0) {
            return f64::NAN;
        }
        ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q)
            + q * v.ln()
            + (p * x - 1.0) * m.ln()
            + p * x * x.ln()
            - (p * x + q) * (v + x * m).ln()
    }

    /// Population mean spend per order, p·v/(q−1) (+∞ if q ≤ 1).
    pub fn mean_spend(&self) -> f64 {
        if self.q <= 1.0 {
            return f64::INFINITY;
        }
        self.p * self.v / (self.q - 1.0)
    }

    /// Expected spend per order given the history (eq. 5); the population mean for x = 0. A
    /// repeat buyer with m = 0 (free orders; not used in the fit) is shrunk towards 0 the same way.
    pub fn expected_spend(&self, c: &Rfm) -> f64 {
        if c.x == 0.0 {
            return self.mean_spend();
        }
        let px = self.p * c.x;
        (self.p * self.v + px * c.m) / (px + self.q - 1.0)
    }
}

/// Total log-likelihood (rescaled money) and its gradient in (ln p, ln q, ln v).
fn log_likelihood_gradient(d: &SpendData, theta: &[f64; 3]) -> (f64, [f64; 3]) {
    let [p, q, v] = theta.map(f64::exp);
    let dg_q = digamma(q);
    let lg_q = ln_gamma(q);
    let ln_v = v.ln();
    let sums = chunked_sum::<4, _>(d.m.len(), |range| {
        let mut acc = [0.0; 4];
        for i in range {
            let x = d.xs[d.x_index[i] as usize];
            let px = p * x;
            let l = (v + x * d.m[i]).ln();
            acc[0] += (px - 1.0) * d.ln_m[i] - (px + q) * l;
            acc[1] += x * (d.ln_m[i] - l);
            acc[2] -= l;
            acc[3] -= (px + q) / (v + x * d.m[i]);
        }
        acc
    });
    let (mut ll, mut gp, mut gq, mut gv) = (sums[0], sums[1], sums[2], sums[3]);
    for (&x, &w) in d.xs.iter().zip(&d.x_count) {
        let px = p * x;
        let dg_pxq = digamma(px + q);
        ll += w * (ln_gamma(px + q) - ln_gamma(px) - lg_q + q * ln_v + px * x.ln());
        gp += w * x * (dg_pxq - digamma(px) + x.ln());
        gq += w * (dg_pxq - dg_q + ln_v);
        gv += w * q / v;
    }
    (ll, [gp * p, gq * q, gv * v])
}

#[cfg(test)]
mod tests {
    use super::super::simulate;
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn gradient_matches_finite_differences() {
        let data = simulate::gamma_gamma(
            &GammaGamma {
                p: 4.0,
                q: 3.0,
                v: 20.0,
            },
            2_000,
            2,
        );
        let d = SpendData::new(&data, &FitOptions::default()).unwrap();
        let theta = [1.0, 0.7, -0.2];
        let (_, g) = log_likelihood_gradient(&d, &theta);
        for i in 0..3 {
            let h = 1e-6;
            let (mut hi, mut lo) = (theta, theta);
            hi[i] += h;
            lo[i] -= h;
            let fd = (log_likelihood_gradient(&d, &hi).0 - log_likelihood_gradient(&d, &lo).0)
                / (2.0 * h);
            assert_relative_eq!(g[i], fd, max_relative = 1e-6, epsilon = 1e-6);
        }
    }

    #[test]
    fn fit_recovers_simulated_parameters_and_the_likelihood_adds_up() {
        let truth = GammaGamma {
            p: 6.25,
            q: 3.74,
            v: 15.45,
        };
        let data = simulate::gamma_gamma(&truth, 30_000, 4);
        let fit = GammaGamma::fit(&data, &FitOptions::default()).unwrap();
        assert!(fit.convergence.converged);
        let got = fit.params;
        for (g, t) in [(got.p, truth.p), (got.q, truth.q), (got.v, truth.v)] {
            assert!((g / t - 1.0).abs() < 0.1, "{got:?} vs {truth:?}");
        }
        let direct: f64 = data
            .iter()
            .filter(|c| c.x > 0.0)
            .map(|c| got.log_likelihood(c))
            .sum();
        assert_relative_eq!(fit.convergence.log_likelihood, direct, max_relative = 1e-10);
    }

    #[test]
    fn expected_spend_matches_lifetimes_on_the_published_fit() {
        // lifetimes 0.11.3 GammaGammaFitter.conditional_expected_average_profit, params_ set.
        let g = GammaGamma {
            p: 6.25,
            q: 3.74,
            v: 15.45,
        };
        let cases = [
            ((2.0, 22.35), 24.667_814_960_629_922),
            ((1.0, 11.77), 18.923_804_226_918_797),
            ((0.0, 0.0), 35.241_788_321_167_88),
        ];
        for ((x, m), want) in cases {
            assert_relative_eq!(
                g.expected_spend(&Rfm::new(x, 1.0_f64.min(x), 10.0, m)),
                want,
                max_relative = 1e-12
            );
        }
    }

    #[test]
    fn q_at_most_one_is_reported() {
        // Spend with a heavy tail across customers: q is driven below 1.
        let data = simulate::gamma_gamma(
            &GammaGamma {
                p: 2.0,
                q: 0.6,
                v: 5.0,
            },
            20_000,
            6,
        );
        let err = GammaGamma::fit(&data, &FitOptions::default()).err();
        assert!(
            matches!(err, Some(ValueError::InfiniteMeanSpend { .. })),
            "{err:?}"
        );
    }
}
