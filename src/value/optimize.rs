//! BFGS with a strong-Wolfe line search (Nocedal & Wright, *Numerical Optimization*, 2nd ed.,
//! algorithms 3.5, 3.6 and 6.1), for the handful of log-parameters of the value models.
//!
//! Hand-written rather than `argmin`: the problems have 3 or 4 unknowns, exact gradients and an
//! objective that is by far the dominant cost, so the whole optimizer is ~150 lines with no
//! dependency, a fixed-size state (`[f64; N]`) and bit-for-bit reproducible iterates. The
//! objective may return `None` (a non-finite value at a trial point): the line search then
//! shortens the step. A step is also capped at [`MAX_STEP`] in every log-parameter (a factor
//! of e⁴ per iteration) so that a wild first step cannot land where the special functions are
//! slow or overflow.

/// Largest change of one log-parameter in a single line search.
pub const MAX_STEP: f64 = 4.0;
const C1: f64 = 1e-4;
const C2: f64 = 0.9;
const LINE_SEARCH_EVALUATIONS: usize = 40;
/// Relative decrease of the objective below which a step counts as no progress.
const STALL_DECREASE: f64 = 1e-15;

/// How the optimizer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Termination {
    /// The largest gradient component fell below the tolerance.
    Gradient,
    /// The line search could not decrease the objective any further although the gradient
    /// was small (within 100× the tolerance): the optimum at floating-point resolution.
    Stalled,
    /// The line search failed with a large gradient.
    LineSearchFailed,
    /// The iteration limit was reached.
    MaxIterations,
    /// The starting point had a non-finite objective.
    BadStart,
    /// An iterate left the box of plausible parameters: the maximum lies at its edge or beyond.
    OutOfBounds,
}

/// Outcome of a minimisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Minimum<const N: usize> {
    /// Minimiser.
    pub x: [f64; N],
    /// Objective at `x`.
    pub f: f64,
    /// Gradient at `x`.
    pub g: [f64; N],
    /// BFGS iterations.
    pub iterations: usize,
    /// Objective-and-gradient evaluations.
    pub evaluations: usize,
    /// Why it stopped.
    pub termination: Termination,
}

impl<const N: usize> Minimum<N> {
    /// Largest absolute gradient component.
    pub fn gradient_norm(&self) -> f64 {
        norm_inf(&self.g)
    }

    /// Whether the stopping point is a minimum (gradient test met, or stalled on it).
    pub fn converged(&self) -> bool {
        matches!(
            self.termination,
            Termination::Gradient | Termination::Stalled
        )
    }
}

/// How far past the box a trial point of the line search may go (in each log-parameter).
const BOX_MARGIN: f64 = 0.5;

/// The box `[lower, upper]` (per coordinate) the iterates must stay in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds<const N: usize> {
    /// Lower bounds.
    pub lower: [f64; N],
    /// Upper bounds.
    pub upper: [f64; N],
}

impl<const N: usize> Bounds<N> {
    /// No bounds.
    pub const UNBOUNDED: Bounds<N> = Bounds {
        lower: [f64::NEG_INFINITY; N],
        upper: [f64::INFINITY; N],
    };

    /// Whether `x` lies in the box.
    pub fn contains(&self, x: &[f64; N]) -> bool {
        (0..N).all(|i| x[i] >= self.lower[i] && x[i] <= self.upper[i])
    }

    /// Largest step along `p` from `x` that keeps every coordinate within the box widened by
    /// [`BOX_MARGIN`] (`x` inside the box).
    fn step_limit(&self, x: &[f64; N], p: &[f64; N]) -> f64 {
        (0..N).fold(f64::INFINITY, |limit, i| {
            let room = if p[i] > 0.0 {
                (self.upper[i] + BOX_MARGIN - x[i]) / p[i]
            } else if p[i] < 0.0 {
                (self.lower[i] - BOX_MARGIN - x[i]) / p[i]
            } else {
                f64::INFINITY
            };
            limit.min(room)
        })
    }
}

/// Minimises `f` (returning value and gradient, or `None` where not finite) from `x0`.
///
/// A line search never goes more than [`BOX_MARGIN`] past `bounds`; once an iterate lies
/// outside, the search ends with [`Termination::OutOfBounds`] (the objective out there may be
/// costly or flat, and the caller reports a boundary).
pub fn bfgs<const N: usize, F>(
    f: F,
    x0: [f64; N],
    gtol: f64,
    max_iterations: usize,
    bounds: &Bounds<N>,
) -> Minimum<N>
where
    F: Fn(&[f64; N]) -> Option<(f64, [f64; N])>,
{
    let mut evaluations = 1;
    let Some((mut fx, mut g)) = f(&x0) else {
        return Minimum {
            x: x0,
            f: f64::NAN,
            g: [f64::NAN; N],
            iterations: 0,
            evaluations,
            termination: Termination::BadStart,
        };
    };
    let mut x = x0;
    let mut h = identity::<N>();
    let mut fresh_h = true;
    let mut termination = Termination::MaxIterations;
    let mut iterations = 0;
    while iterations < max_iterations {
        if norm_inf(&g) <= gtol {
            termination = Termination::Gradient;
            break;
        }
        iterations += 1;
        let mut p = mat_vec(&h, &g).map(|v| -v);
        if dot(&p, &g) >= 0.0 {
            // Not a descent direction (rounding): restart from steepest descent.
            h = identity::<N>();
            fresh_h = true;
            p = g.map(|v| -v);
        }
        let step_cap = (MAX_STEP / norm_inf(&p).max(f64::MIN_POSITIVE))
            .min(bounds.step_limit(&x, &p).max(0.0));
        let first = if fresh_h {
            (1.0 / norm_inf(&g)).min(1.0)
        } else {
            1.0
        };
        let search = line_search(&f, &x, fx, &g, &p, first.min(step_cap), step_cap);
        evaluations += search.evaluations;
        let Some((alpha, fnew, gnew)) = search.point else {
            if fresh_h {
                termination = if norm_inf(&g) <= 100.0 * gtol {
                    Termination::Stalled
                } else {
                    Termination::LineSearchFailed
                };
                break;
            }
            h = identity::<N>();
            fresh_h = true;
            continue;
        };
        let s: [f64; N] = std::array::from_fn(|i| alpha * p[i]);
        let y: [f64; N] = std::array::from_fn(|i| gnew[i] - g[i]);
        x = std::array::from_fn(|i| x[i] + s[i]);
        let decrease = fx - fnew;
        fx = fnew;
        g = gnew;
        if !bounds.contains(&x) {
            termination = Termination::OutOfBounds;
            break;
        }
        if decrease <= STALL_DECREASE * fx.abs().max(1.0) && norm_inf(&g) <= 100.0 * gtol {
            // The objective no longer resolves the progress: the optimum at floating-point
            // resolution (without this, BFGS spends many evaluations on failing searches).
            termination = Termination::Stalled;
            break;
        }
        let sy = dot(&s, &y);
        if sy > 1e-12 * norm2(&s) * norm2(&y) {
            if fresh_h {
                // Nocedal & Wright (6.20): scale the first approximation.
                let scale = sy / dot(&y, &y);
                h = identity::<N>().map(|row| row.map(|v| v * scale));
            }
            h = bfgs_update(&h, &s, &y, sy);
            fresh_h = false;
        }
    }
    if termination == Termination::MaxIterations && norm_inf(&g) <= gtol {
        termination = Termination::Gradient;
    }
    Minimum {
        x,
        f: fx,
        g,
        iterations,
        evaluations,
        termination,
    }
}

struct Search<const N: usize> {
    point: Option<(f64, f64, [f64; N])>,
    evaluations: usize,
}

/// Strong-Wolfe line search along `p` (Nocedal & Wright algorithm 3.5).
fn line_search<const N: usize, F>(
    f: &F,
    x: &[f64; N],
    f0: f64,
    g0: &[f64; N],
    p: &[f64; N],
    first: f64,
    max_alpha: f64,
) -> Search<N>
where
    F: Fn(&[f64; N]) -> Option<(f64, [f64; N])>,
{
    let d0 = dot(g0, p);
    let evaluations = std::cell::Cell::new(0);
    let mut phi = |alpha: f64| {
        evaluations.set(evaluations.get() + 1);
        let xt: [f64; N] = std::array::from_fn(|i| x[i] + alpha * p[i]);
        f(&xt).map(|(fv, gv)| (fv, dot(&gv, p), gv))
    };
    let mut lo = (0.0, f0, d0);
    let mut alpha = first;
    let mut point = None;
    for i in 0..LINE_SEARCH_EVALUATIONS {
        let Some((fa, da, ga)) = phi(alpha) else {
            // Non-finite: treat as too far and bisect towards the last good point.
            point = zoom(&mut phi, lo, (alpha, f64::INFINITY, f64::NAN), f0, d0);
            break;
        };
        if approximately_wolfe(f0, d0, fa, da) {
            point = Some((alpha, fa, ga));
            break;
        }
        if fa > f0 + C1 * alpha * d0 || (i > 0 && fa >= lo.1) {
            point = zoom(&mut phi, lo, (alpha, fa, da), f0, d0);
            break;
        }
        if da.abs() <= -C2 * d0 {
            point = Some((alpha, fa, ga));
            break;
        }
        if da >= 0.0 {
            point = zoom(&mut phi, (alpha, fa, da), lo, f0, d0);
            break;
        }
        if alpha >= max_alpha {
            // Capped: accept the sufficient decrease without the curvature condition.
            point = Some((alpha, fa, ga));
            break;
        }
        lo = (alpha, fa, da);
        alpha = (2.0 * alpha).min(max_alpha);
    }
    Search {
        point,
        evaluations: evaluations.get(),
    }
}

/// Objective change below which values no longer tell points apart (relative to the
/// objective, at least 1: a mean log-likelihood near 0 is a sum of terms of order 1).
const RESOLUTION: f64 = 1e-12;

/// Hager & Zhang's approximate Wolfe conditions (SIAM J. Optim. 16, 2005): near the minimum,
/// where the objective no longer resolves the decrease the Armijo test asks for, a point is
/// accepted on its slope alone, σφ′(0) ≤ φ′(α) ≤ (2δ−1)φ′(0), if its value is within the
/// resolution of φ(0). Without it, line searches there spend all their evaluations.
fn approximately_wolfe(f0: f64, d0: f64, fa: f64, da: f64) -> bool {
    fa <= f0 + RESOLUTION * f0.abs().max(1.0) && da >= C2 * d0 && da <= (2.0 * C1 - 1.0) * d0
}

type Phi<const N: usize> = Option<(f64, f64, [f64; N])>;

/// Nocedal & Wright algorithm 3.6, cubic interpolation safeguarded by bisection.
fn zoom<const N: usize>(
    phi: &mut impl FnMut(f64) -> Phi<N>,
    mut lo: (f64, f64, f64),
    mut hi: (f64, f64, f64),
    f0: f64,
    d0: f64,
) -> Option<(f64, f64, [f64; N])> {
    let mut best: Option<(f64, f64, [f64; N])> = None;
    for _ in 0..LINE_SEARCH_EVALUATIONS {
        let (a, b) = (lo.0.min(hi.0), lo.0.max(hi.0));
        if (b - a) <= 1e-14 * b.max(1e-300) {
            break;
        }
        let mut alpha = cubic_min(lo, hi).unwrap_or(0.5 * (lo.0 + hi.0));
        let margin = 0.1 * (b - a);
        if !(alpha > a + margin && alpha < b - margin) {
            alpha = 0.5 * (lo.0 + hi.0);
        }
        let Some((fa, da, ga)) = phi(alpha) else {
            hi = (alpha, f64::INFINITY, f64::NAN);
            continue;
        };
        if approximately_wolfe(f0, d0, fa, da) {
            return Some((alpha, fa, ga));
        }
        if fa > f0 + C1 * alpha * d0 || fa >= lo.1 {
            hi = (alpha, fa, da);
            continue;
        }
        best = Some((alpha, fa, ga));
        if da.abs() <= -C2 * d0 {
            return best;
        }
        if da * (hi.0 - lo.0) >= 0.0 {
            hi = lo;
        }
        lo = (alpha, fa, da);
    }
    // Accept a point with sufficient decrease even if the curvature test was not met.
    best.filter(|&(_, fa, _)| fa < f0)
}

/// Minimiser of the cubic through two points with values and slopes, if it exists.
fn cubic_min(p: (f64, f64, f64), q: (f64, f64, f64)) -> Option<f64> {
    let (a, fa, da) = p;
    let (b, fb, db) = q;
    if !(fa.is_finite() && fb.is_finite() && da.is_finite() && db.is_finite()) {
        return None;
    }
    let d1 = da + db - 3.0 * (fa - fb) / (a - b);
    let disc = d1 * d1 - da * db;
    if disc < 0.0 {
        return None;
    }
    let d2 = (b - a).signum() * disc.sqrt();
    let t = b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2);
    t.is_finite().then_some(t)
}

fn bfgs_update<const N: usize>(
    h: &[[f64; N]; N],
    s: &[f64; N],
    y: &[f64; N],
    sy: f64,
) -> [[f64; N]; N] {
    // H⁺ = (I − ρsyᵀ) H (I − ρysᵀ) + ρssᵀ, written out: H − ρ(s(Hy)ᵀ + (Hy)sᵀ) + (ρ²yᵀHy + ρ)ssᵀ.
    let rho = 1.0 / sy;
    let hy = mat_vec(h, y);
    let yhy = dot(y, &hy);
    std::array::from_fn(|i| {
        std::array::from_fn(|j| {
            h[i][j] - rho * (s[i] * hy[j] + hy[i] * s[j]) + (rho * rho * yhy + rho) * s[i] * s[j]
        })
    })
}

fn identity<const N: usize>() -> [[f64; N]; N] {
    std::array::from_fn(|i| std::array::from_fn(|j| if i == j { 1.0 } else { 0.0 }))
}

fn mat_vec<const N: usize>(m: &[[f64; N]; N], v: &[f64; N]) -> [f64; N] {
    std::array::from_fn(|i| dot(&m[i], v))
}

fn dot<const N: usize>(a: &[f64; N], b: &[f64; N]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm2<const N: usize>(a: &[f64; N]) -> f64 {
    dot(a, a).sqrt()
}

fn norm_inf<const N: usize>(a: &[f64; N]) -> f64 {
    a.iter().fold(0.0_f64, |m, v| m.max(v.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    fn rosenbrock(x: &[f64; 2]) -> Option<(f64, [f64; 2])> {
        let (a, b) = (x[0], x[1]);
        let f = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
        let g = [
            -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
            200.0 * (b - a * a),
        ];
        Some((f, g))
    }

    #[test]
    fn bfgs_minimises_rosenbrock() {
        let m = bfgs(rosenbrock, [-1.2, 1.0], 1e-10, 500, &Bounds::UNBOUNDED);
        assert!(m.converged(), "{m:?}");
        assert_abs_diff_eq!(m.x[0], 1.0, epsilon = 1e-8);
        assert_abs_diff_eq!(m.x[1], 1.0, epsilon = 1e-8);
    }

    #[test]
    fn bfgs_backs_off_from_non_finite_regions() {
        // ln-barrier: undefined for x ≤ 0, minimum at x = 1.
        let f = |x: &[f64; 1]| {
            let v = x[0];
            (v > 0.0).then(|| (v - v.ln(), [1.0 - 1.0 / v]))
        };
        let m = bfgs(f, [3.5], 1e-12, 100, &Bounds::UNBOUNDED);
        assert!(m.converged(), "{m:?}");
        assert_abs_diff_eq!(m.x[0], 1.0, epsilon = 1e-9);
    }

    #[test]
    fn bfgs_reports_a_bad_start() {
        let m = bfgs(
            |_: &[f64; 2]| None,
            [0.0, 0.0],
            1e-8,
            10,
            &Bounds::UNBOUNDED,
        );
        assert_eq!(m.termination, Termination::BadStart);
        assert!(!m.converged());
    }

    #[test]
    fn bfgs_stops_at_the_iteration_limit() {
        let m = bfgs(rosenbrock, [-1.2, 1.0], 1e-14, 3, &Bounds::UNBOUNDED);
        assert_eq!(m.termination, Termination::MaxIterations);
        assert_eq!(m.iterations, 3);
    }

    #[test]
    fn bfgs_stops_when_it_leaves_the_box() {
        // Decreasing for ever along x₀: the minimum is beyond any bound.
        let f = |x: &[f64; 2]| Some(((-x[0]).exp() + x[1] * x[1], [-(-x[0]).exp(), 2.0 * x[1]]));
        let bounds = Bounds {
            lower: [-5.0, -5.0],
            upper: [5.0, 5.0],
        };
        let m = bfgs(f, [0.0, 1.0], 1e-12, 500, &bounds);
        assert_eq!(m.termination, Termination::OutOfBounds);
        assert!(m.x[0] > 5.0 && m.x[0] <= 5.0 + BOX_MARGIN, "{m:?}");
        assert!(!m.converged());
        // Inside the box the same search converges as before.
        let m = bfgs(rosenbrock, [-1.2, 1.0], 1e-10, 500, &bounds);
        assert!(m.converged(), "{m:?}");
    }

    #[test]
    fn bfgs_stalls_once_the_objective_cannot_resolve_progress() {
        // A minimum whose value is large: near it, steps change f by less than its resolution
        // while the gradient tolerance asks for more than the arithmetic can give.
        let f = |x: &[f64; 1]| Some((1e6 + (x[0] - 2.0).powi(2) * 1e-3, [2e-3 * (x[0] - 2.0)]));
        let m = bfgs(f, [0.0], 1e-14, 500, &Bounds::UNBOUNDED);
        assert!(m.converged(), "{m:?}");
        assert!(m.evaluations < 30, "{m:?}");
        assert_abs_diff_eq!(m.x[0], 2.0, epsilon = 1e-3);
    }
}
