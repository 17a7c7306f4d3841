//! Special functions for the value models: `ln Γ`, digamma, log-sum-exp and the Gauss
//! hypergeometric function ₂F₁.
//!
//! All are hand-written (no crate): `ln_gamma` is Lanczos' approximation (g = 7, nine
//! terms, ~1e-15 relative on Γ) with the reflection formula below ½, `digamma` shifts its
//! argument above 10 and uses the asymptotic series. Both are checked against mpmath in the
//! tests below.
//!
//! [`hyp2f1`] is the general real ₂F₁(a, b; c; z) for z < 1:
//! - z < 0: Pfaff's transformation ₂F₁(a,b;c;z) = (1−z)^−a ₂F₁(a, c−b; c; z/(z−1)) maps it into
//!   [0, 1);
//! - 0 ≤ z ≤ 0.9: the Gauss series (at most a few hundred terms beyond its peak);
//! - 0.9 < z < 1: the 1−z transformation (Abramowitz & Stegun 15.3.6), whose two series are in
//!   1−z < 0.1, unless c−a−b is within 0.01 of an integer (its Γ(c−a−b) and Γ(a+b−c) poles
//!   would cancel) or its two terms cancel to more than three digits (large a, b); then the
//!   Gauss series in z is summed to the end (it converges for every z < 1, in about
//!   ln(ε)/ln(z) terms, up to 2·10⁶).
//!
//! [`hyp2f1_one`] is the special case ₂F₁(1, b; c; z) with 0 < b < c and 0 ≤ z < 1, the only
//! one the Pareto/NBD likelihood needs (after Euler's transformation, see `pareto_nbd`). Its
//! terms are all positive; it uses the series for z ≤ 0.3 and Gauss' continued fraction above,
//! which for this case has only positive partial numerators (it is a Stieltjes fraction) and
//! converges for every z < 1 in O(1/√(1−z)) steps instead of the series' O(1/(1−z)). It is
//! generic over [`Scalar`](super::dual::Scalar), so the likelihood's gradient comes out of the
//! same code by forward-mode differentiation. [`Hyp2f1OneTable`] tabulates the series'
//! coefficients for one (b, c), which the Pareto/NBD fit shares between the customers with the
//! same x.

use std::f64::consts::PI;

use super::dual::Scalar;

const LN_PI: f64 = 1.144_729_885_849_400_2;
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;
const LANCZOS_G: f64 = 7.0;
const LANCZOS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];
/// Relative accuracy the series and the continued fraction are summed to.
const EPS: f64 = 1e-16;
/// Terms of a Gauss series before [`HypergeometricError::NotConverged`].
const MAX_TERMS: usize = 2_000_000;

/// Why ₂F₁ could not be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HypergeometricError {
    /// An argument is NaN or infinite, z ≥ 1, or c is a pole (0, −1, −2, …).
    #[error("2F1({a}, {b}; {c}; {z}) is outside the domain (finite a, b, c; c not 0, -1, -2, ...; z < 1)")]
    Domain {
        /// First numerator parameter.
        a: f64,
        /// Second numerator parameter.
        b: f64,
        /// Denominator parameter.
        c: f64,
        /// Argument.
        z: f64,
    },
    /// The series did not reach its tolerance within its term limit.
    #[error("2F1 series did not converge in {terms} terms")]
    NotConverged {
        /// Terms summed.
        terms: usize,
    },
    /// The result or an intermediate term overflowed.
    #[error("2F1 overflowed")]
    Overflow,
}

/// `ln |Γ(x)|` for x > 0 (Lanczos); for x < ½ through the reflection formula, so it is also
/// right for negative non-integer x. Returns +∞ at the poles 0, −1, −2, ….
pub fn ln_gamma(x: f64) -> f64 {
    if x < 0.5 {
        let s = sin_pi(x).abs();
        if s == 0.0 {
            return f64::INFINITY;
        }
        return LN_PI - s.ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + LANCZOS_G + 0.5;
    let mut series = LANCZOS[0];
    for (i, c) in LANCZOS.iter().enumerate().skip(1) {
        series += c / (x + i as f64);
    }
    HALF_LN_2PI + (x + 0.5) * t.ln() - t + series.ln()
}

/// The sign of Γ(x): 1 for x > 0, ±1 between the poles, 0 at a pole.
pub fn gamma_sign(x: f64) -> f64 {
    if x > 0.0 {
        return 1.0;
    }
    if x == x.floor() {
        return 0.0;
    }
    // Γ is negative on (−1, 0), positive on (−2, −1), …
    if (x.floor() as i64).rem_euclid(2) == 0 {
        1.0
    } else {
        -1.0
    }
}

/// sin(πx), exact at the integers.
fn sin_pi(x: f64) -> f64 {
    let r = x - 2.0 * (x / 2.0).round();
    if r == r.trunc() {
        return 0.0;
    }
    (PI * r).sin()
}

/// The digamma function ψ(x) = d ln Γ(x)/dx for x > 0.
pub fn digamma(x: f64) -> f64 {
    let mut x = x;
    let mut shift = 0.0;
    while x < 10.0 {
        shift -= 1.0 / x;
        x += 1.0;
    }
    let inv2 = 1.0 / (x * x);
    let tail = inv2
        * (1.0 / 12.0
            - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 / 132.0))));
    shift + x.ln() - 0.5 / x - tail
}

/// ln(eᵃ + eᵇ) without overflow; −∞ terms are fine.
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// ln(eᵃ − eᵇ) for a ≥ b (−∞ when a = b).
pub fn log_sub_exp(a: f64, b: f64) -> f64 {
    if b == f64::NEG_INFINITY {
        return a;
    }
    a + (-(b - a).exp_m1()).ln()
}

/// ln Σ eˣⁱ over a slice without overflow (−∞ for an empty slice).
pub fn log_sum_exp(xs: &[f64]) -> f64 {
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if hi == f64::NEG_INFINITY || !hi.is_finite() {
        return hi;
    }
    hi + xs.iter().map(|x| (x - hi).exp()).sum::<f64>().ln()
}

/// (eᵏᵘ − 1)/k, continuous at k = 0 (where it is u).
pub fn expm1_over(k: f64, u: f64) -> f64 {
    let ku = k * u;
    if ku.abs() < 1e-300 {
        return u;
    }
    ku.exp_m1() / k
}

/// The Gauss hypergeometric function ₂F₁(a, b; c; z) for real parameters and z < 1 (see the
/// module documentation for the method).
///
/// ```
/// use custseg::value::special::hyp2f1;
/// // ₂F₁(1, 1; 2; z) = −ln(1−z)/z
/// let z = 0.9_f64;
/// let f = hyp2f1(1.0, 1.0, 2.0, z).unwrap();
/// assert!((f - (-(1.0 - z).ln() / z)).abs() < 1e-13);
/// ```
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64, HypergeometricError> {
    let domain = HypergeometricError::Domain { a, b, c, z };
    if !(a.is_finite() && b.is_finite() && c.is_finite() && z.is_finite()) || z >= 1.0 {
        return Err(domain);
    }
    if c <= 0.0 && c == c.floor() {
        return Err(domain);
    }
    if z == 0.0 || a == 0.0 || b == 0.0 {
        return Ok(1.0);
    }
    let terminates = |p: f64| p < 0.0 && p == p.floor();
    if terminates(a) || terminates(b) {
        return gauss_series(a, b, c, z);
    }
    if z < 0.0 {
        let w = z / (z - 1.0);
        let inner = hyp2f1_unit(a, c - b, c, w)?;
        return finite((1.0 - z).powf(-a) * inner);
    }
    hyp2f1_unit(a, b, c, z)
}

/// ₂F₁ for 0 ≤ z < 1.
fn hyp2f1_unit(a: f64, b: f64, c: f64, z: f64) -> Result<f64, HypergeometricError> {
    let m = c - a - b;
    if z <= 0.9 || (m - m.round()).abs() < 0.01 {
        return gauss_series(a, b, c, z);
    }
    match one_minus_z(a, b, c, z) {
        Ok(v) => Ok(v),
        Err(_) => gauss_series(a, b, c, z),
    }
}

/// A&S 15.3.6: ₂F₁(a,b;c;z) = Γ(c)Γ(m)/(Γ(c−a)Γ(c−b)) ₂F₁(a,b;1−m;1−z)
///   + (1−z)^m Γ(c)Γ(−m)/(Γ(a)Γ(b)) ₂F₁(c−a,c−b;1+m;1−z), m = c−a−b not an integer.
fn one_minus_z(a: f64, b: f64, c: f64, z: f64) -> Result<f64, HypergeometricError> {
    let m = c - a - b;
    let w = 1.0 - z;
    let gamma_ratio = |num: [f64; 2], den: [f64; 2]| {
        let sign =
            gamma_sign(num[0]) * gamma_sign(num[1]) * gamma_sign(den[0]) * gamma_sign(den[1]);
        if sign == 0.0 {
            // A pole in the denominator: 1/Γ = 0 (the numerator has none: c and m are not poles).
            return 0.0;
        }
        let ln = ln_gamma(num[0]) + ln_gamma(num[1]) - ln_gamma(den[0]) - ln_gamma(den[1]);
        sign * ln.exp()
    };
    let k1 = gamma_ratio([c, m], [c - a, c - b]);
    let k2 = gamma_ratio([c, -m], [a, b]);
    let t1 = if k1 != 0.0 {
        k1 * gauss_series(a, b, 1.0 - m, w)?
    } else {
        0.0
    };
    let t2 = if k2 != 0.0 {
        k2 * w.powf(m) * gauss_series(c - a, c - b, 1.0 + m, w)?
    } else {
        0.0
    };
    let total = t1 + t2;
    // The two terms can be large with opposite signs (large a, b): more than three digits
    // lost is refused, and the caller sums the series in z instead.
    if total.is_nan() || total.abs() * 1e3 < t1.abs() + t2.abs() {
        return Err(HypergeometricError::Overflow);
    }
    finite(total)
}

/// Σ (a)ₙ(b)ₙ/((c)ₙ n!) zⁿ, summed until the terms are below EPS of the sum and shrinking.
fn gauss_series(a: f64, b: f64, c: f64, z: f64) -> Result<f64, HypergeometricError> {
    let mut term = 1.0_f64;
    let mut sum = 1.0_f64;
    let mut compensation = 0.0_f64;
    for n in 0..MAX_TERMS {
        let k = n as f64;
        let ratio = (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        term *= ratio;
        if term == 0.0 {
            return Ok(sum);
        }
        // Kahan summation: long series near z = 1 add many small terms.
        let y = term - compensation;
        let t = sum + y;
        compensation = (t - sum) - y;
        sum = t;
        if !sum.is_finite() || !term.is_finite() {
            return Err(HypergeometricError::Overflow);
        }
        if ratio.abs() < 1.0 && term.abs() <= EPS * sum.abs() * (1.0 - ratio.abs()) {
            return Ok(sum);
        }
    }
    Err(HypergeometricError::NotConverged { terms: MAX_TERMS })
}

fn finite(v: f64) -> Result<f64, HypergeometricError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(HypergeometricError::Overflow)
    }
}

/// ₂F₁(1, b; c; z) for 0 < b < c and 0 ≤ z < 1, generic over [`Scalar`] so that it also
/// carries derivatives. Returns NaN if it did not converge (only for z within ~1e-9 of 1).
pub fn hyp2f1_one<S: Scalar>(b: S, c: S, z: S) -> S {
    if z.value() <= 0.3 {
        hyp2f1_one_series(b, c, z)
    } else {
        hyp2f1_one_fraction(b, c, z)
    }
}

/// ln ₂F₁(1, b; c; z) and its partial derivatives in (b, c, z), for 0 < b < c, 0 ≤ z < 1.
pub fn ln_hyp2f1_one_grad(b: f64, c: f64, z: f64) -> (f64, [f64; 3]) {
    let (h, g) = hyp2f1_one_grad(b, c, z);
    (h.ln(), g)
}

/// ₂F₁(1, b; c; z) and the partial derivatives of its logarithm in (b, c, z), for 0 < b < c,
/// 0 ≤ z < 1.
///
/// For z ≤ 0.3 one pass of the series carries the derivatives as running sums
/// (∂tₙ/∂b = tₙ Σₖ<ₙ 1/(b+k), ∂tₙ/∂c = −tₙ Σₖ<ₙ 1/(c+k), ∂tₙ/∂z = n tₙ/z); above, the continued
/// fraction is differentiated with [`Dual4`](super::dual::Dual4). [`Hyp2f1OneTable`] sums the
/// same series faster when b and c are shared by many z.
pub fn hyp2f1_one_grad(b: f64, c: f64, z: f64) -> (f64, [f64; 3]) {
    if z > 0.3 {
        use super::dual::Dual4;
        let h = hyp2f1_one_fraction(
            Dual4::variable(b, 0),
            Dual4::variable(c, 1),
            Dual4::variable(z, 2),
        );
        return (h.v, [h.d[0] / h.v, h.d[1] / h.v, h.d[2] / h.v]);
    }
    if z == 0.0 {
        return (1.0, [0.0, 0.0, b / c]);
    }
    // u = tₙ/z keeps ∂/∂z = Σ n·uₙ free of a division by a tiny z.
    let (mut u, mut sum, mut sb, mut sc) = (1.0 / z, 1.0, 0.0, 0.0);
    let (mut hb, mut hc, mut hz) = (0.0, 0.0, 0.0);
    for n in 1..MAX_TERMS {
        let (bk, ck) = (b + (n - 1) as f64, c + (n - 1) as f64);
        // One division for both reciprocals: the loop's cost.
        let inv = 1.0 / (bk * ck);
        let (ib, ic) = (ck * inv, bk * inv);
        u *= bk * ic * z;
        sb += ib;
        sc += ic;
        let t = u * z;
        sum += t;
        hb += t * sb;
        hc -= t * sc;
        hz += n as f64 * u;
        if t * (n as f64).max(sb).max(sc).max(1.0) <= EPS * sum {
            break;
        }
    }
    (sum, [hb / sum, hc / sum, hz / sum])
}

/// The z up to which [`Hyp2f1OneTable`] sums its series (at most ~750 terms): there the
/// tabulated series is still about twice as fast as the dual-number continued fraction of
/// [`hyp2f1_one_grad`] (the two break even near z = 0.98), and a table stays within ~30 kB.
pub const TABLE_MAX_Z: f64 = 0.95;

/// ₂F₁(1, b; c; z) and the partials of its logarithm in (b, c, z), as [`hyp2f1_one_grad`], for
/// one pair 0 < b < c and many z: the series' coefficients tₙ = (b)ₙ/(c)ₙ are tabulated once
/// together with those of its partials (tₙ Σₖ<ₙ 1/(b+k), −tₙ Σₖ<ₙ 1/(c+k), n tₙ) and of its
/// stopping test, so that a z costs one multiplication and five multiply-adds per term
/// instead of a division and more (about 4× faster). Terms are tabulated far enough for every
/// z ≤ min(`z_max`, [`TABLE_MAX_Z`]); a larger z falls back to [`hyp2f1_one_grad`]. The
/// Pareto/NBD likelihood, whose b and c depend on x alone, builds one per distinct x and
/// evaluation.
///
/// ```
/// use custseg::value::special::{hyp2f1_one_grad, Hyp2f1OneTable};
/// let table = Hyp2f1OneTable::new(1.6, 2.2, 0.5);
/// let (h, g) = table.eval(0.4);
/// let (want, want_g) = hyp2f1_one_grad(1.6, 2.2, 0.4);
/// assert!((h / want - 1.0).abs() < 1e-14 && (g[2] / want_g[2] - 1.0).abs() < 1e-14);
/// ```
#[derive(Debug, Clone)]
pub struct Hyp2f1OneTable {
    b: f64,
    c: f64,
    /// Per term n = 1, 2, …: [tₙ, tₙ Σₖ<ₙ 1/(b+k), −tₙ Σₖ<ₙ 1/(c+k), n tₙ, tₙ max(n, Σ, Σ, 1)].
    terms: Vec<[f64; 5]>,
    /// Largest z whose series stops within `terms`.
    z_limit: f64,
}

impl Hyp2f1OneTable {
    /// Tabulates the series of ₂F₁(1, b; c; ·) for arguments up to `z_max` (0 < b < c).
    pub fn new(b: f64, c: f64, z_max: f64) -> Self {
        let z_max = z_max.clamp(0.0, TABLE_MAX_Z);
        let mut terms = Vec::new();
        let (mut t, mut sb, mut sc) = (1.0, 0.0, 0.0);
        let mut z_limit = z_max;
        for n in 1..MAX_TERMS {
            let (bk, ck) = (b + (n - 1) as f64, c + (n - 1) as f64);
            sb += 1.0 / bk;
            sc += 1.0 / ck;
            t *= bk / ck;
            let nf = n as f64;
            let stop = t * nf.max(sb).max(sc).max(1.0);
            terms.push([t, t * sb, -t * sc, nf * t, stop]);
            // The sum is at least 1: the test below stops every z ≤ z_max by this term.
            let bound = stop * z_max.powi(n as i32);
            if !(bound.is_finite() && t.is_finite()) {
                // NaN parameters: every z > 0 goes to the fallback.
                z_limit = 0.0;
                break;
            }
            if bound <= EPS {
                break;
            }
        }
        Hyp2f1OneTable {
            b,
            c,
            terms,
            z_limit,
        }
    }

    /// ₂F₁(1, b; c; z) and the partials of its logarithm in (b, c, z), for 0 ≤ z < 1.
    pub fn eval(&self, z: f64) -> (f64, [f64; 3]) {
        if z > self.z_limit {
            return hyp2f1_one_grad(self.b, self.c, z);
        }
        if z == 0.0 {
            return (1.0, [0.0, 0.0, self.b / self.c]);
        }
        let (mut sum, mut hb, mut hc, mut hz) = (1.0, 0.0, 0.0, 0.0);
        // zⁿ⁻¹ and zⁿ.
        let (mut before, mut zn) = (1.0, z);
        for [t, tb, tc, nt, stop] in &self.terms {
            sum += t * zn;
            hb += tb * zn;
            hc += tc * zn;
            hz += nt * before;
            if stop * zn <= EPS * sum {
                return (sum, [hb / sum, hc / sum, hz / sum]);
            }
            before = zn;
            zn *= z;
        }
        hyp2f1_one_grad(self.b, self.c, z)
    }
}

/// Σ zⁿ (b)ₙ/(c)ₙ: positive terms whose ratio (b+n)/(c+n)·z grows towards z, so after term n
/// the rest is below termₙ·z/(1−z).
fn hyp2f1_one_series<S: Scalar>(b: S, c: S, z: S) -> S {
    let mut term = S::from_f64(1.0);
    let mut sum = S::from_f64(1.0);
    let tail = z.value() / (1.0 - z.value());
    for n in 0..MAX_TERMS {
        let k = n as f64;
        term = term * (b + k) / (c + k) * z;
        sum = sum + term;
        if term.negligible(sum, EPS / tail.max(1.0)) {
            return sum;
        }
    }
    S::from_f64(f64::NAN)
}

/// Gauss' continued fraction for ₂F₁(1, b; d+1; z) with d = c−1:
/// 1/(1 + e₁z/(1 + e₂z/(1 + …))), e₁ = −b/(d+1), e₂ⱼ = j(b−d−j)/((d+2j−1)(d+2j)),
/// e₂ⱼ₊₁ = −(d+j)(b+j)/((d+2j)(d+2j+1)); every eₙ < 0 when b < c. Evaluated with the modified
/// Lentz algorithm.
fn hyp2f1_one_fraction<S: Scalar>(b: S, c: S, z: S) -> S {
    const TINY: f64 = 1e-300;
    let d = c - 1.0;
    let mut f = S::from_f64(1.0);
    let mut cc = f;
    let mut dd = S::from_f64(0.0);
    for n in 1..MAX_TERMS {
        let coefficient = if n == 1 {
            -b / c
        } else if n % 2 == 0 {
            let j = (n / 2) as f64;
            (b - d - j) * j / ((d + (2.0 * j - 1.0)) * (d + 2.0 * j))
        } else {
            let j = ((n - 1) / 2) as f64;
            -((d + j) * (b + j)) / ((d + 2.0 * j) * (d + (2.0 * j + 1.0)))
        };
        let an = coefficient * z;
        dd = an * dd + 1.0;
        if dd.value().abs() < TINY {
            dd = S::from_f64(TINY);
        }
        cc = an / cc + 1.0;
        if cc.value().abs() < TINY {
            cc = S::from_f64(TINY);
        }
        dd = dd.recip();
        let delta = cc * dd;
        f = f * delta;
        if (delta - 1.0).negligible(S::from_f64(1.0), EPS) {
            return f.recip();
        }
    }
    S::from_f64(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::super::dual::Dual4;
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn ln_gamma_matches_mpmath() {
        let cases = [
            (0.001, 6.907_178_885_383_854),
            (0.5, 0.572_364_942_924_700_1),
            (1.0, 0.0),
            (1.5, -0.120_782_237_635_245_22),
            (2.0, 0.0),
            (3.7, 1.428_072_326_665_388),
            (10.2, 13.254_266_744_235_55),
            (100.5, 361.435_540_467_777_6),
            (1e5, 1_051_287.708_973_656_9),
            (-0.5, 1.265_512_123_484_645_4),
            (-2.3, 0.369_566_663_455_008),
        ];
        for (x, want) in cases {
            assert_relative_eq!(ln_gamma(x), want, epsilon = 1e-13, max_relative = 1e-13);
        }
        assert_eq!(ln_gamma(-3.0), f64::INFINITY);
        assert_eq!(gamma_sign(-0.5), -1.0);
        assert_eq!(gamma_sign(-2.3), -1.0);
        assert_eq!(gamma_sign(-1.5), 1.0);
    }

    #[test]
    fn digamma_matches_mpmath() {
        let cases = [
            (1e-3, -1_000.575_571_931_810_3),
            (0.5, -1.963_510_026_021_423_5),
            (1.0, -0.577_215_664_901_532_9),
            (2.5, 0.703_156_640_645_243_2),
            (7.3, 1.917_820_335_637_986),
            (50.0, 3.901_989_673_427_892),
            (1e4, 9.210_290_371_142_85),
        ];
        for (x, want) in cases {
            assert_relative_eq!(digamma(x), want, max_relative = 1e-13);
        }
    }

    #[test]
    fn log_sum_exp_is_stable() {
        assert_relative_eq!(log_add_exp(1000.0, 1000.0), 1000.0 + 2f64.ln());
        assert_eq!(log_add_exp(f64::NEG_INFINITY, -3.0), -3.0);
        assert_relative_eq!(
            log_sub_exp(0.0, -1e-20),
            (1e-20f64).ln(),
            max_relative = 1e-12
        );
        assert_eq!(log_sub_exp(2.0, 2.0), f64::NEG_INFINITY);
        assert_relative_eq!(
            log_sum_exp(&[-1000.0, -1000.0, -1000.0]),
            -1000.0 + 3f64.ln()
        );
        assert_relative_eq!(expm1_over(0.0, 2.5), 2.5);
        assert_relative_eq!(expm1_over(1e-9, 2.0), 2.0 + 2e-9, max_relative = 1e-12);
    }

    #[test]
    fn hyp2f1_closed_forms() {
        for z in [0.3, 0.6, 0.9, 0.999, -0.5, -5.0, -1e3] {
            let want = -(1.0 - z).ln() / z;
            assert_relative_eq!(
                hyp2f1(1.0, 1.0, 2.0, z).unwrap(),
                want,
                max_relative = 1e-13
            );
        }
        for (a, b, z) in [
            (0.7_f64, 2.3, 0.6_f64),
            (0.7, 2.3, 0.97),
            (1.9, 0.4, -3.0),
            (2.5, 5.5, 0.2),
        ] {
            let want = (1.0 - z).powf(-a);
            assert_relative_eq!(hyp2f1(a, b, b, z).unwrap(), want, max_relative = 1e-12);
        }
    }

    #[test]
    fn hyp2f1_matches_mpmath() {
        let cases = [
            ((0.5, 1.5, 2.5, 0.95), 1.826_248_983_978_926_8),
            ((2.2, 3.3, 1.7, 0.7), 127.704_655_705_087_4),
            ((5.2426, 7.4258, 8.2187, 0.8), 1_734.582_053_396_243_8),
            ((1.25, -0.4, 3.1, 0.97), 0.801_442_939_482_494_2),
            ((3.5, 2.5, 6.0, 0.9), 13.230_225_924_148_693),
            ((1.3, 2.1, 4.400_000_1, 0.8), 2.151_852_490_076_706_5),
            ((0.6, 0.7, 0.9, -20.0), 0.223_973_330_068_087_37),
            ((10.0, 20.0, 25.0, 0.3), 16.347_159_611_415_935),
            ((0.7, 1.1, 3.3, -0.6), 0.886_724_820_079_528_2),
            ((1.8, 0.9, 2.0, 0.55), 1.891_374_704_442_017_6),
            ((2.0, 3.0, 4.0, 0.999), 2_967.443_900_663_838),
        ];
        for ((a, b, c, z), want) in cases {
            let got = hyp2f1(a, b, c, z).unwrap();
            assert_relative_eq!(got, want, max_relative = 1e-11);
        }
        // A terminating series with cancellation: compare absolutely.
        let got = hyp2f1(-2.0, 3.0, 1.5, 0.9).unwrap();
        assert!((got - -0.008).abs() < 1e-14, "{got}");
    }

    #[test]
    fn hyp2f1_rejects_its_domain_edges() {
        assert!(matches!(
            hyp2f1(1.0, 1.0, 2.0, 1.0),
            Err(HypergeometricError::Domain { .. })
        ));
        assert!(matches!(
            hyp2f1(1.0, 1.0, -2.0, 0.5),
            Err(HypergeometricError::Domain { .. })
        ));
        assert!(matches!(
            hyp2f1(f64::NAN, 1.0, 2.0, 0.5),
            Err(HypergeometricError::Domain { .. })
        ));
    }

    #[test]
    fn hyp2f1_one_matches_mpmath_and_the_general_function() {
        let cases = [
            ((3.55, 5.16, 0.1), 1.074_308_520_694_870_7),
            ((1.6, 5.1, 0.95), 1.564_486_119_284_954),
            ((2.5, 2.6, 0.999), 575.129_597_118_599_8),
            ((0.01, 50.0, 0.5), 1.000_101_009_898_102),
            ((40.5, 41.7, 0.6), 2.399_620_871_126_512),
            ((1.0, 3.0, 0.9999), 1.998_357_583_458_720_8),
        ];
        for ((b, c, z), want) in cases {
            assert_relative_eq!(hyp2f1_one(b, c, z), want, max_relative = 1e-12);
        }
        // Series and continued fraction agree on both sides of the switch.
        for &(b, c) in &[(0.3, 0.4), (2.0, 9.0), (30.0, 31.5), (1.6, 200.0)] {
            for z in [0.05, 0.25, 0.3, 0.35, 0.6, 0.9] {
                let series = hyp2f1_one_series(b, c, z);
                let fraction = hyp2f1_one_fraction(b, c, z);
                assert_relative_eq!(series, fraction, max_relative = 1e-13);
                assert_relative_eq!(series, hyp2f1(1.0, b, c, z).unwrap(), max_relative = 1e-11);
            }
        }
    }

    #[test]
    fn fast_log_gradient_matches_the_dual_numbers() {
        for &(b, c) in &[(0.6, 2.2), (3.5, 4.1), (40.0, 41.6)] {
            for z in [0.0, 1e-9, 0.05, 0.29, 0.31, 0.8] {
                let (v, g) = ln_hyp2f1_one_grad(b, c, z);
                let h = hyp2f1_one(
                    Dual4::variable(b, 0),
                    Dual4::variable(c, 1),
                    Dual4::variable(z, 2),
                );
                assert_relative_eq!(v, h.v.ln(), epsilon = 1e-15, max_relative = 1e-14);
                for (gi, di) in g.iter().zip(h.d) {
                    assert_relative_eq!(*gi, di / h.v, epsilon = 1e-15, max_relative = 1e-12);
                }
            }
        }
    }

    #[test]
    fn table_matches_the_series_and_the_continued_fraction() {
        for &(b, c) in &[
            (0.6, 2.2),
            (1.6, 2.2),
            (3.5, 4.1),
            (1.6, 60.0),
            (40.0, 41.6),
        ] {
            let table = Hyp2f1OneTable::new(b, c, 0.9);
            // Below 0.3 the series, above the fraction; 0.97 is past the table (fallback).
            for z in [0.0, 1e-12, 0.05, 0.29, 0.31, 0.6, 0.9, 0.97] {
                let (h, g) = table.eval(z);
                let (want, want_g) = hyp2f1_one_grad(b, c, z);
                assert_relative_eq!(h, want, max_relative = 1e-13);
                for (gi, wi) in g.iter().zip(want_g) {
                    assert_relative_eq!(*gi, wi, epsilon = 1e-15, max_relative = 1e-12);
                }
            }
        }
        // A table for z ≤ 0 only holds a term and sends every z > 0 to the fallback.
        let (h, _) = Hyp2f1OneTable::new(1.6, 2.2, 0.0).eval(0.5);
        assert_relative_eq!(h, hyp2f1_one(1.6, 2.2, 0.5), max_relative = 1e-13);
    }

    #[test]
    fn hyp2f1_one_derivatives_match_finite_differences() {
        let (b, c, z) = (1.7, 4.3, 0.8);
        for slot in 0..3 {
            let seed = |v: f64, i: usize| Dual4::variable(v, if i == slot { 0 } else { 9 });
            let got = hyp2f1_one(seed(b, 0), seed(c, 1), seed(z, 2)).d[0];
            let h = 1e-6;
            let mut hi = [b, c, z];
            let mut lo = [b, c, z];
            hi[slot] += h;
            lo[slot] -= h;
            let fd =
                (hyp2f1_one(hi[0], hi[1], hi[2]) - hyp2f1_one(lo[0], lo[1], lo[2])) / (2.0 * h);
            assert_relative_eq!(got, fd, max_relative = 1e-7);
        }
    }
}
