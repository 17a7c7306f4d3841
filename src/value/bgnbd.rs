//! BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way").
//!
//! While alive a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after each
//! purchase they drop out with probability p ~ Beta(a, b). With A = ln Γ(r+x) − ln Γ(r) +
//! r ln α + ln B(a, b+x) − ln B(a, b) (paper, eq. 6), one customer's log-likelihood is
//!
//! ℓ = A + ln[ (α+T)^−(r+x) + 1{x>0} · a/(b+x−1) · (α+t_x)^−(r+x) ],
//!
//! summed with log-sum-exp. Its gradient is analytic (digamma for the Γ terms); the terms that
//! depend on x alone are computed once per distinct x, so a customer costs two logarithms and
//! an exponential.
//!
//! P(alive) = 1/(1 + 1{x>0} · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)) (Fader, Hardie & Lee,
//! note 021). The expected purchases in (T, T+t] (eq. 10) is written, with Euler's
//! transformation ₂F₁(r+x, b+x; c; z) = (1−z)^(a−1−r−x) ₂F₁(a+b−1−r, a−1; c; z),
//! c = a+b+x−1, z = t/(α+T+t), as
//!
//! E = P(alive) · [ c·(1 − (1−z)^(a−1))/(a−1) − (1−z)^(a−1)·S ],
//! S = Σ_{n≥1} (a+b−1−r)ₙ (a)ₙ₋₁ / ((c+1)ₙ₋₁ n!) zⁿ,
//!
//! which is finite and continuous through a = 1 (where (1 − (1−z)^(a−1))/(a−1) = −ln(1−z)), has
//! no 0/0 at c = 0, and whose series parameters do not grow with x.

use serde::{Deserialize, Serialize};

use super::special::{digamma, expm1_over, hyp2f1, ln_gamma};
use super::{
    chunked_sum, minimise, Convergence, CountData, FitOptions, Fitted, Problem, Rfm, ValueError,
};

const MODEL: &str = "bg_nbd";

/// BG/NBD parameters; α is in the caller's time unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    /// Shape of the purchase-rate Gamma.
    pub r: f64,
    /// Scale (time) of the purchase-rate Gamma.
    pub alpha: f64,
    /// Dropout Beta's a.
    pub a: f64,
    /// Dropout Beta's b.
    pub b: f64,
}

/// Per-x constants of the likelihood and its gradient (parameters, not log-parameters).
struct XTerms {
    /// A of the module documentation.
    constant: f64,
    d_r: f64,
    d_a: f64,
    d_b: f64,
    /// ln a − ln(b+x−1), for x > 0.
    ln_drop: f64,
    /// 1/(b+x−1).
    inv_bx1: f64,
}

impl XTerms {
    fn new(p: &BgNbd, x: f64) -> Self {
        let BgNbd { r, alpha, a, b } = *p;
        let constant =
            ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + ln_gamma(a + b) + ln_gamma(b + x)
                - ln_gamma(b)
                - ln_gamma(a + b + x);
        let (dg_rx, dg_bx, dg_abx) = if x == 0.0 {
            (digamma(r), digamma(b), digamma(a + b))
        } else {
            (digamma(r + x), digamma(b + x), digamma(a + b + x))
        };
        let dg_ab = digamma(a + b);
        let bx1 = b + x - 1.0;
        XTerms {
            constant,
            d_r: dg_rx - digamma(r) + alpha.ln(),
            d_a: dg_ab - dg_abx,
            d_b: dg_ab + dg_bx - digamma(b) - dg_abx,
            ln_drop: if x > 0.0 {
                a.ln() - bx1.ln()
            } else {
                f64::NEG_INFINITY
            },
            inv_bx1: if x > 0.0 { 1.0 / bx1 } else { 0.0 },
        }
    }
}

impl BgNbd {
    /// Fits the model by maximum likelihood.
    ///
    /// ```
    /// use custseg::value::{simulate, BgNbd, FitOptions};
    /// let truth = BgNbd { r: 0.5, alpha: 20.0, a: 0.8, b: 2.5 };
    /// let data = simulate::bgnbd(&truth, 5_000, 365.0, 7);
    /// let fit = BgNbd::fit(&data, &FitOptions::default()).unwrap();
    /// assert!(fit.convergence.converged);
    /// assert!((fit.params.r / truth.r - 1.0).abs() < 0.2);
    /// ```
    pub fn fit(data: &[Rfm], options: &FitOptions) -> Result<Fitted<BgNbd>, ValueError> {
        let d = CountData::new(data, MODEL, options)?;
        let objective = |theta: &[f64; 4]| {
            let p = BgNbd::from_log(theta);
            let (ll, g) = log_likelihood_gradient(&d, &p);
            let w = d.total_weight;
            let f = -ll / w;
            (f.is_finite() && g.iter().all(|v| v.is_finite())).then(|| (f, g.map(|v| -v / w)))
        };
        let to_caller = |f: f64| -f * d.total_weight - d.total_x * d.scale.ln();
        let starts = [[0.0; 4], [-1.0, -1.0, 0.0, 1.0], [1.0, 0.0, -1.0, -1.0]];
        let (m, evaluations) = minimise(
            objective,
            &starts,
            options,
            &Problem::new(MODEL, ["r", "alpha", "a", "b"]),
            to_caller,
        )?;
        let mut params = BgNbd::from_log(&m.x);
        params.alpha *= d.scale;
        let convergence = Convergence::accepted(&m, evaluations, to_caller(m.f), data.len());
        Ok(Fitted {
            params,
            convergence,
        })
    }

    fn from_log(theta: &[f64; 4]) -> Self {
        BgNbd {
            r: theta[0].exp(),
            alpha: theta[1].exp(),
            a: theta[2].exp(),
            b: theta[3].exp(),
        }
    }

    /// One customer's log-likelihood (in the caller's units).
    pub fn log_likelihood(&self, c: &Rfm) -> f64 {
        let k = XTerms::new(self, c.x);
        let a3 = -(self.r + c.x) * (self.alpha + c.t).ln();
        if c.x == 0.0 {
            return k.constant + a3;
        }
        let a4 = k.ln_drop - (self.r + c.x) * (self.alpha + c.t_x).ln();
        k.constant + super::special::log_add_exp(a3, a4)
    }

    /// P(alive at T | x, t_x, T).
    pub fn p_alive(&self, c: &Rfm) -> f64 {
        if c.x == 0.0 {
            return 1.0;
        }
        let ln_odds = self.a.ln() - (self.b + c.x - 1.0).ln()
            + (self.r + c.x) * ((c.t - c.t_x) / (self.alpha + c.t_x)).ln_1p();
        logistic(-ln_odds)
    }

    /// Expected repeat purchases of a new customer in (0, t] (paper, eq. 9).
    pub fn expected_purchases(&self, t: f64) -> f64 {
        self.conditional_expected_purchases(t, &Rfm::new(0.0, 0.0, 0.0, 0.0))
    }

    /// Expected purchases in (T, T+t] given the history (paper, eq. 10); ≥ 0, NaN only if the
    /// series cannot be summed (z within ~1e-6 of 1, i.e. t ≳ 1e6·(α+T)).
    pub fn conditional_expected_purchases(&self, t: f64, c: &Rfm) -> f64 {
        self.conditional_expectation(c, self.p_alive(c)).at(t)
    }

    /// [`BgNbd::conditional_expected_purchases`] of one customer at many t (the CLV's
    /// discounting steps), given its P(alive): the series coefficients, which depend on x
    /// alone, are tabulated once for all t.
    pub fn conditional_expectation<'a>(
        &'a self,
        c: &'a Rfm,
        p_alive: f64,
    ) -> ConditionalExpectation<'a> {
        ConditionalExpectation {
            model: self,
            customer: c,
            p_alive,
            c: self.a + self.b + c.x - 1.0,
            eps: self.a - 1.0,
            s1: self.a + self.b - 1.0 - self.r,
            coefficients: Vec::with_capacity(256),
        }
    }
}

/// One customer's E(t) of the module documentation,
///
/// E(t) = P(alive) · [c·(1 − (1−z)^(a−1))/(a−1) − (1−z)^(a−1)·S(z)],   z = t/(α+T+t),
/// S(z) = Σₙ≥₁ sₙ zⁿ,   s₁ = a+b−1−r,   sₙ₊₁/sₙ = (a+b−1−r+n)(a−1+n)/((c+n)(n+1)),
///
/// from [`BgNbd::conditional_expectation`]. Up to z = 0.9 the coefficients sₙ are tabulated as
/// far as the longest series so far needed them (no division per term and t); above, the
/// series is slow (≈ 36/(1−z) terms), so where a ≠ 1 and the 1−z transformation applies S is
/// taken from ₂F₁ instead (S = c(F − 1)/(a−1)), and otherwise summed without a table.
pub struct ConditionalExpectation<'a> {
    model: &'a BgNbd,
    customer: &'a Rfm,
    p_alive: f64,
    c: f64,
    eps: f64,
    s1: f64,
    /// (sₙ₊₁/sₙ, sₙ₊₁) for n = 1, 2, …
    coefficients: Vec<(f64, f64)>,
}

/// Largest z whose series uses the table.
const TABLE_Z: f64 = 0.9;

impl ConditionalExpectation<'_> {
    /// E(t), the expected purchases in (T, T+t].
    pub fn at(&mut self, t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        let at = self.model.alpha + self.customer.t;
        let z = t / (at + t);
        let ln_1mz = -(t / at).ln_1p();
        let h1 = -expm1_over(self.eps, ln_1mz);
        let s = if z <= TABLE_Z {
            self.tabulated(z)
        } else {
            self.transformed(z).unwrap_or_else(|| self.direct(z))
        };
        let bracket = self.c * h1 - (self.eps * ln_1mz).exp() * s;
        (self.p_alive * bracket).max(0.0)
    }

    /// sₙ₊₁/sₙ.
    fn ratio(&self, n: usize) -> f64 {
        let k = n as f64;
        (self.s1 + k) * (self.eps + k) / ((self.c + k) * (k + 1.0))
    }

    /// S(z) from ₂F₁(a+b−1−r, a−1; c; z) where the 1−z transformation applies.
    fn transformed(&self, z: f64) -> Option<f64> {
        let (eps, c) = (self.eps, self.c);
        if eps.abs() <= 0.05 || c.abs() <= 0.05 {
            return None;
        }
        let m = c - self.s1 - eps;
        if (m - m.round()).abs() < 0.01 {
            return None;
        }
        hyp2f1(self.s1, eps, c, z).ok().map(|f| c * (f - 1.0) / eps)
    }

    /// S(z) term by term.
    fn direct(&self, z: f64) -> f64 {
        let mut term = self.s1 * z;
        let mut sum = term;
        for n in 1..MAX_SERIES_TERMS {
            let ratio = self.ratio(n) * z;
            term *= ratio;
            sum += term;
            if series_done(term, sum, ratio) {
                return sum;
            }
        }
        f64::NAN
    }

    /// S(z) from the tabulated coefficients, 0 < z ≤ [`TABLE_Z`].
    fn tabulated(&mut self, z: f64) -> f64 {
        let mut zn = z;
        let mut sum = self.s1 * z;
        for n in 1..MAX_SERIES_TERMS {
            if n > self.coefficients.len() {
                let rho = self.ratio(n);
                let previous = self.coefficients.last().map_or(self.s1, |&(_, s)| s);
                self.coefficients.push((rho, previous * rho));
            }
            let (rho, s) = self.coefficients[n - 1];
            zn *= z;
            let term = s * zn;
            sum += term;
            if series_done(term, sum, rho * z) {
                return sum;
            }
        }
        f64::NAN
    }
}

const MAX_SERIES_TERMS: usize = 5_000_000;

/// The series' stopping test: the rest, bounded by a geometric tail, is below 1e-16 of the sum.
fn series_done(term: f64, sum: f64, ratio: f64) -> bool {
    term == 0.0 || (ratio.abs() < 1.0 && term.abs() <= 1e-16 * sum.abs() * (1.0 - ratio))
}

fn logistic(v: f64) -> f64 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp();
        e / (1.0 + e)
    }
}

/// Total log-likelihood (rescaled units) and its gradient in the log-parameters.
fn log_likelihood_gradient(d: &CountData, p: &BgNbd) -> (f64, [f64; 4]) {
    let table: Vec<XTerms> = d.xs.iter().map(|&x| XTerms::new(p, x)).collect();
    let BgNbd { r, alpha, .. } = *p;
    let sums = chunked_sum::<5, _>(d.len(), |range| {
        let mut acc = [0.0; 5];
        for i in range {
            let k = &table[d.x_index[i] as usize];
            let x = d.xs[d.x_index[i] as usize];
            let w = d.weight[i];
            let at = alpha + d.t[i];
            let la_t = at.ln();
            let rx = r + x;
            let a3 = -rx * la_t;
            if x == 0.0 {
                acc[0] += w * a3;
                acc[1] -= w * la_t;
                acc[2] -= w * rx / at;
                continue;
            }
            let atx = alpha + d.t_x[i];
            let la_tx = atx.ln();
            let a4 = k.ln_drop - rx * la_tx;
            let (hi, diff) = if a3 >= a4 {
                (a3, a4 - a3)
            } else {
                (a4, a3 - a4)
            };
            let e = diff.exp();
            // Weight of the a4 term in the log-sum-exp.
            let w4 = if a4 > a3 {
                1.0 / (1.0 + e)
            } else {
                e / (1.0 + e)
            };
            let w3 = 1.0 - w4;
            acc[0] += w * (hi + e.ln_1p());
            acc[1] -= w * (w3 * la_t + w4 * la_tx);
            acc[2] -= w * rx * (w3 / at + w4 / atx);
            acc[3] += w * w4;
            acc[4] += w * w4 * k.inv_bx1;
        }
        acc
    });
    let mut ll = sums[0];
    let mut g = [
        sums[1],
        sums[2] + d.total_weight * r / alpha,
        sums[3] / p.a,
        -sums[4],
    ];
    for (k, &wx) in table.iter().zip(&d.x_weight) {
        ll += wx * k.constant;
        g[0] += wx * k.d_r;
        g[2] += wx * k.d_a;
        g[3] += wx * k.d_b;
    }
    let scale = [p.r, p.alpha, p.a, p.b];
    (ll, std::array::from_fn(|i| g[i] * scale[i]))
}

#[cfg(test)]
mod tests {
    use super::super::simulate;
    use super::*;
    use approx::assert_relative_eq;

    const CDNOW_WEEKS: BgNbd = BgNbd {
        r: 0.2426,
        alpha: 4.4135,
        a: 0.7929,
        b: 2.4258,
    };

    fn sample() -> Vec<Rfm> {
        simulate::bgnbd(
            &BgNbd {
                r: 0.6,
                alpha: 15.0,
                a: 0.9,
                b: 3.0,
            },
            3_000,
            200.0,
            11,
        )
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let data = sample();
        let options = FitOptions {
            merge_duplicates: false,
            ..FitOptions::default()
        };
        let d = CountData::new(&data, MODEL, &options).unwrap();
        let theta = [-0.3, -2.0, 0.2, 0.7];
        let (_, g) = log_likelihood_gradient(&d, &BgNbd::from_log(&theta));
        for i in 0..4 {
            let h = 1e-6;
            let (mut hi, mut lo) = (theta, theta);
            hi[i] += h;
            lo[i] -= h;
            let fd = (log_likelihood_gradient(&d, &BgNbd::from_log(&hi)).0
                - log_likelihood_gradient(&d, &BgNbd::from_log(&lo)).0)
                / (2.0 * h);
            assert_relative_eq!(g[i], fd, max_relative = 1e-6, epsilon = 1e-6);
        }
    }

    #[test]
    fn summed_likelihood_matches_the_per_customer_formula() {
        let data = sample();
        let options = FitOptions {
            merge_duplicates: true,
            ..FitOptions::default()
        };
        let d = CountData::new(&data, MODEL, &options).unwrap();
        let p = BgNbd {
            r: 0.7,
            alpha: 0.1,
            a: 1.1,
            b: 2.0,
        };
        let (ll, _) = log_likelihood_gradient(&d, &p);
        let caller = BgNbd {
            alpha: p.alpha * d.scale,
            ..p
        };
        let direct: f64 = data.iter().map(|c| caller.log_likelihood(c)).sum();
        assert_relative_eq!(ll - d.total_x * d.scale.ln(), direct, max_relative = 1e-10);
    }

    #[test]
    fn fit_recovers_simulated_parameters() {
        let truth = BgNbd {
            r: 0.8,
            alpha: 12.0,
            a: 0.7,
            b: 2.2,
        };
        let data = simulate::bgnbd(&truth, 40_000, 300.0, 3);
        let fit = BgNbd::fit(&data, &FitOptions::default()).unwrap();
        assert!(fit.convergence.converged, "{:?}", fit.convergence);
        let got = fit.params;
        for (g, t) in [
            (got.r, truth.r),
            (got.alpha, truth.alpha),
            (got.a, truth.a),
            (got.b, truth.b),
        ] {
            assert!((g / t - 1.0).abs() < 0.12, "{got:?} vs {truth:?}");
        }
    }

    #[test]
    fn p_alive_edge_cases() {
        let p = CDNOW_WEEKS;
        assert_eq!(p.p_alive(&Rfm::new(0.0, 0.0, 30.0, 0.0)), 1.0);
        // Bought at the very end: only the dropout after that purchase counts.
        let at_end = p.p_alive(&Rfm::new(3.0, 30.0, 30.0, 0.0));
        assert_relative_eq!(
            at_end,
            1.0 / (1.0 + p.a / (p.b + 2.0)),
            max_relative = 1e-14
        );
        let long_ago = p.p_alive(&Rfm::new(3.0, 1.0, 1e6, 0.0));
        assert!((0.0..1e-10).contains(&long_ago));
    }

    #[test]
    fn expectations_match_lifetimes_formulas_on_the_published_fit() {
        // lifetimes 0.11.3 BetaGeoFitter with params_ set to the published CDNOW fit (weeks).
        let p = CDNOW_WEEKS;
        let cases = [
            (
                (2.0, 30.43, 38.86),
                39.0,
                1.225_911_199_899_228_5,
                0.726_607_997_300_156_2,
            ),
            ((0.0, 0.0, 38.86), 39.0, 0.194_786_550_387_151_12, 1.0),
            (
                (7.0, 35.0, 38.86),
                52.0,
                5.520_640_161_500_877,
                0.843_785_162_787_672_9,
            ),
            (
                (1.0, 1.71, 38.86),
                39.0,
                0.203_248_882_866_092_33,
                0.212_224_459_248_038_84,
            ),
            ((0.0, 0.0, 0.5), 500.0, 4.650_309_800_746_734, 1.0),
        ];
        for ((x, t_x, t), h, want, alive) in cases {
            let c = Rfm::new(x, t_x, t, 0.0);
            assert_relative_eq!(
                p.conditional_expected_purchases(h, &c),
                want,
                max_relative = 1e-10
            );
            assert_relative_eq!(p.p_alive(&c), alive, max_relative = 1e-12);
        }
        assert_relative_eq!(
            p.expected_purchases(39.0),
            1.195_051_878_409_488_6,
            max_relative = 1e-10
        );
    }

    #[test]
    fn expectation_is_continuous_through_a_equal_one() {
        let c = Rfm::new(2.0, 20.0, 40.0, 0.0);
        let at = |a: f64| BgNbd { a, ..CDNOW_WEEKS }.conditional_expected_purchases(52.0, &c);
        let (lo, mid, hi) = (at(1.0 - 1e-7), at(1.0), at(1.0 + 1e-7));
        assert!(mid.is_finite() && mid > 0.0);
        assert_relative_eq!(lo, mid, max_relative = 1e-6);
        assert_relative_eq!(hi, mid, max_relative = 1e-6);
    }

    #[test]
    fn expectation_is_finite_for_long_horizons_and_tiny_ages() {
        let p = CDNOW_WEEKS;
        for (c, h) in [
            (Rfm::new(0.0, 0.0, 1e-9, 0.0), 1e4),
            (Rfm::new(40.0, 38.0, 38.5, 0.0), 1e4),
            (Rfm::new(1.0, 1e-6, 1e-6, 0.0), 1e3),
        ] {
            let e = p.conditional_expected_purchases(h, &c);
            assert!(e.is_finite() && e >= 0.0, "{c:?} {h} -> {e}");
        }
        // a > 1: E[X(t)] tends to (a+b−1)/(a−1) = 2.617, slowly for small r (mpmath values).
        let q = BgNbd { a: 2.5, ..p };
        assert_relative_eq!(
            q.expected_purchases(1e3),
            1.665_546_318_741_122_1,
            max_relative = 1e-10
        );
        // z = 1 − 4.4e-9: 1−z carries ~1e-8 relative rounding.
        assert_relative_eq!(
            q.expected_purchases(1e9),
            2.583_608_575_711_209_7,
            max_relative = 1e-8
        );
    }

    #[test]
    fn conditional_expectation_table_matches_the_series() {
        // a < 1, a ≈ 1, a > 1, a+b−1−r < 0 (alternating first terms), a long-lived population.
        let models = [
            (0.2426, 30.9, 0.7929, 2.4258),
            (0.5, 20.0, 1.0 + 1e-9, 2.5),
            (2.0, 3.0, 1.7, 0.2),
            (0.5, 10.0, 0.3, 0.5),
            (0.9, 80.0, 0.05, 40.0),
        ];
        let mut rng = 12_345_u64;
        let mut uniform = move || {
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (rng >> 11) as f64 / (1u64 << 53) as f64
        };
        for (r, alpha, a, b) in models {
            let m = BgNbd { r, alpha, a, b };
            for _ in 0..200 {
                let t = 400.0 * uniform();
                let x = (30.0 * uniform() * uniform()).floor();
                let t_x = if x > 0.0 { t * uniform() } else { 0.0 };
                let c = Rfm::new(x, t_x, t, 10.0);
                let p_alive = m.p_alive(&c);
                let mut steps = m.conditional_expectation(&c, p_alive);
                // Increasing t as predict asks, past z = 0.9 for small T: the table grown for
                // one t gives what a fresh one and the untabulated series give.
                for t in [1.0, 30.0, 90.0, 180.0, 365.0, 720.0, 3650.0] {
                    let want = m.conditional_expected_purchases(t, &c);
                    assert_relative_eq!(steps.at(t), want, max_relative = 1e-15);
                    let z = t / (m.alpha + c.t + t);
                    if z <= TABLE_Z {
                        let mut fresh = m.conditional_expectation(&c, p_alive);
                        let s = fresh.tabulated(z);
                        assert_relative_eq!(
                            s,
                            fresh.direct(z),
                            max_relative = 1e-12,
                            epsilon = 1e-300
                        );
                    }
                }
            }
        }
    }
}
