//! The statistics of a drift check, on binned counts: the population stability index, the
//! two-sample Kolmogorov–Smirnov statistic on a CDF grid with its asymptotic p-value, and
//! Pearson's chi-square test of homogeneity with its p-value. Hand-written (no statistics
//! crate): the Kolmogorov series and the regularized incomplete gamma function (series below
//! `a + 1`, Lentz's continued fraction above) are a few lines each, and `ln Γ` is the value
//! models' own ([`crate::value::special::ln_gamma`]).

use crate::value::special::ln_gamma;

/// Shares below this count as this in the PSI (an empty bin on either side would make it
/// infinite).
pub const EPSILON: f64 = 1e-4;

/// Population stability index Σ (aᵢ − eᵢ)·ln(aᵢ / eᵢ) of `actual` shares against
/// `expected` ones, each share floored at [`EPSILON`].
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(e, a)| {
            let (e, a) = (e.max(EPSILON), a.max(EPSILON));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// Largest gap between a reference CDF and a population's. `cdf[i]` is the reference share
/// `<= grid[i]`, `below[i]` its share `< grid[i]`; `cells` counts the population's values in `2·grid.len() + 1` cells: cell
/// `2i` strictly below `grid[i]` (and above `grid[i-1]`), cell `2i + 1` equal to `grid[i]`,
/// the last above the grid. Both one-sided limits are compared at every grid point, so with
/// a grid of every distinct reference value (the reference CDF is flat between them) this is
/// exactly the two-sample statistic D; with a coarser grid it is the largest gap at the grid
/// points (a lower bound of D, 0 for the reference against itself).
pub fn ks_statistic(cdf: &[f64], below: &[f64], cells: &[u64]) -> f64 {
    let m: u64 = cells.iter().sum();
    if m == 0 {
        return 0.0;
    }
    let share = |c: u64| c as f64 / m as f64;
    let (mut seen, mut d): (u64, f64) = (0, 0.0);
    for (i, (f, b)) in cdf.iter().zip(below).enumerate() {
        // Just below grid[i], then at it.
        seen += cells.get(2 * i).copied().unwrap_or(0);
        d = d.max((share(seen) - b).abs());
        seen += cells.get(2 * i + 1).copied().unwrap_or(0);
        d = d.max((share(seen) - f).abs());
    }
    d
}

/// Kolmogorov's limiting survival function Q(λ) = 2 Σ_{j≥1} (−1)^{j−1} e^{−2j²λ²}.
pub fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    for j in 1..=100 {
        let j = f64::from(j);
        let term = (-2.0 * j * j * lambda * lambda).exp();
        sum += if j % 2.0 == 1.0 { term } else { -term };
        if term < 1e-17 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Asymptotic p-value of a two-sample KS statistic `d` between samples of `n` and `m`, with
/// Stephens' small-sample correction: Q((√nₑ + 0.12 + 0.11/√nₑ)·d), nₑ = nm/(n+m).
pub fn ks_p_value(d: f64, n: u64, m: u64) -> f64 {
    if n == 0 || m == 0 {
        return 1.0;
    }
    let ne = (n as f64 * m as f64 / (n + m) as f64).sqrt();
    kolmogorov_q((ne + 0.12 + 0.11 / ne) * d)
}

/// The two-sample critical value of D at level `alpha`: c(α)·√((n+m)/(nm)), c(α) =
/// √(−ln(α/2)/2).
pub fn ks_critical(alpha: f64, n: u64, m: u64) -> f64 {
    let (n, m) = (n.max(1) as f64, m.max(1) as f64);
    (-(alpha / 2.0).ln() / 2.0).sqrt() * ((n + m) / (n * m)).sqrt()
}

/// A chi-square test result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChiSquare {
    pub statistic: f64,
    pub df: usize,
    pub p_value: f64,
}

/// Pearson's chi-square test of homogeneity of two samples over the same categories: the
/// reference (`ref_n` customers with `ref_shares`) and a population's `counts`. Categories
/// empty in both are left out; df = categories − 1.
pub fn chi_square(ref_shares: &[f64], ref_n: u64, counts: &[u64]) -> ChiSquare {
    let m: u64 = counts.iter().sum();
    let (n, mf) = (ref_n as f64, m as f64);
    let total = n + mf;
    let mut stat = 0.0;
    let mut used = 0usize;
    for (s, &c) in ref_shares.iter().zip(counts) {
        let (a, b) = (s * n, c as f64);
        let col = a + b;
        if col <= 0.0 {
            continue;
        }
        used += 1;
        let (ea, eb) = (col * n / total, col * mf / total);
        stat += (a - ea).powi(2) / ea + (b - eb).powi(2) / eb;
    }
    let df = used.saturating_sub(1);
    if df == 0 || m == 0 || ref_n == 0 {
        return ChiSquare {
            statistic: 0.0,
            df,
            p_value: 1.0,
        };
    }
    ChiSquare {
        statistic: stat,
        df,
        p_value: chi_square_sf(stat, df as f64),
    }
}

/// P(X > x) for X chi-square with `df` degrees of freedom: Q(df/2, x/2).
pub fn chi_square_sf(x: f64, df: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    gamma_q(df / 2.0, x / 2.0)
}

/// The regularized upper incomplete gamma function Q(a, x) for a > 0, x ≥ 0.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let log_front = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        // P(a, x) = e^{−x} x^a / Γ(a+1) · Σ xⁿ / ((a+1)…(a+n)).
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * log_front.exp()).clamp(0.0, 1.0)
    } else {
        // Q(a, x) = e^{−x} x^a / Γ(a) · 1/(x+1−a− 1·(1−a)/(x+3−a− …)), modified Lentz.
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -f64::from(i) * (f64::from(i) - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (log_front.exp() * h).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn psi_matches_a_hand_computation_and_floors_empty_bins() {
        // (0.3−0.5)·ln(0.3/0.5) + (0.7−0.5)·ln(0.7/0.5)
        let want = -0.2 * (0.6f64).ln() + 0.2 * (1.4f64).ln();
        assert_abs_diff_eq!(psi(&[0.5, 0.5], &[0.3, 0.7]), want, epsilon = 1e-15);
        assert_eq!(psi(&[0.2, 0.8], &[0.2, 0.8]), 0.0);
        let empty = psi(&[0.5, 0.5, 0.0], &[0.5, 0.4, 0.1]);
        let floored = -0.1 * (0.8f64).ln() + (0.1 - EPSILON) * (0.1 / EPSILON).ln();
        assert_abs_diff_eq!(empty, floored, epsilon = 1e-12);
    }

    /// Two-sample D by brute force: the CDF gap at every value of either sample, O(n²).
    fn brute_ks(a: &[f64], b: &[f64]) -> f64 {
        let cdf = |s: &[f64], x: f64| s.iter().filter(|v| **v <= x).count() as f64 / s.len() as f64;
        a.iter()
            .chain(b)
            .map(|&x| (cdf(a, x) - cdf(b, x)).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn ks_on_every_distinct_training_value_is_the_two_sample_d() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(16);
        // Ties (integers) and continuous values, with populations overlapping in part.
        let cases: Vec<(Vec<f64>, Vec<f64>)> = vec![
            (
                (0..300)
                    .map(|_| f64::from(rng.gen_range(0..40u32)))
                    .collect(),
                (0..200)
                    .map(|_| f64::from(rng.gen_range(5..60u32)))
                    .collect(),
            ),
            (
                (0..150).map(|_| rng.gen_range(0.0..10.0)).collect(),
                (0..170).map(|_| rng.gen_range(2.0..14.0)).collect(),
            ),
            (
                (0..120).map(|_| rng.gen_range(0.0..1.0)).collect(),
                (0..90).map(|_| rng.gen_range(-1.0..0.5)).collect(),
            ),
        ];
        for (a, b) in &cases {
            let mut grid = a.clone();
            grid.sort_by(f64::total_cmp);
            grid.dedup();
            let share = |keep: &dyn Fn(f64) -> bool| {
                a.iter().filter(|v| keep(**v)).count() as f64 / a.len() as f64
            };
            let cdf: Vec<f64> = grid.iter().map(|g| share(&|v| v <= *g)).collect();
            let below: Vec<f64> = grid.iter().map(|g| share(&|v| v < *g)).collect();
            let mut cells = vec![0u64; 2 * grid.len() + 1];
            for x in b {
                let p = grid.partition_point(|g| g < x);
                cells[2 * p + usize::from(grid.get(p) == Some(x))] += 1;
            }
            let d = ks_statistic(&cdf, &below, &cells);
            assert_abs_diff_eq!(d, brute_ks(a, b), epsilon = 1e-12);
        }
    }

    #[test]
    fn kolmogorov_distribution_matches_its_tables() {
        // Critical values of the Kolmogorov distribution: Q(1.3581) = 0.05, Q(1.6276) = 0.01,
        // Q(1.2239) = 0.10 (Smirnov 1948; Massey 1951).
        assert_abs_diff_eq!(kolmogorov_q(1.3581), 0.05, epsilon = 1e-4);
        assert_abs_diff_eq!(kolmogorov_q(1.6276), 0.01, epsilon = 1e-4);
        assert_abs_diff_eq!(kolmogorov_q(1.2239), 0.10, epsilon = 1e-4);
        assert_eq!(kolmogorov_q(0.0), 1.0);
        // The critical value inverts the limiting distribution: c(0.05) = 1.3581.
        assert_abs_diff_eq!(
            ks_critical(0.05, 1, u64::MAX / 2) * 1.0,
            1.3581,
            epsilon = 1e-3
        );
        let d = ks_critical(0.05, 10_000, 10_000);
        assert_abs_diff_eq!(ks_p_value(d, 10_000, 10_000), 0.05, epsilon = 2e-3);
    }

    #[test]
    fn chi_square_tail_matches_its_tables() {
        // Upper 5% and 1% points of the chi-square distribution (Pearson's tables).
        assert_abs_diff_eq!(
            chi_square_sf(3.841_458_820_694_124, 1.0),
            0.05,
            epsilon = 1e-10
        );
        assert_abs_diff_eq!(
            chi_square_sf(18.307_038_053_275_146, 10.0),
            0.05,
            epsilon = 1e-10
        );
        assert_abs_diff_eq!(
            chi_square_sf(6.634_896_601_021_214, 1.0),
            0.01,
            epsilon = 1e-10
        );
        assert_abs_diff_eq!(
            chi_square_sf(9.210_340_371_976_184, 2.0),
            0.01,
            epsilon = 1e-10
        );
        // df = 2 is exponential: Q = e^{−x/2}.
        assert_abs_diff_eq!(chi_square_sf(1.0, 2.0), (-0.5f64).exp(), epsilon = 1e-14);
    }

    #[test]
    fn chi_square_of_a_two_by_two_table_is_the_textbook_one() {
        // Reference 100 customers 60/40, population 100 customers 40/60: expected 50 in every
        // cell, statistic 4·(10²/50) = 8, df 1.
        let t = chi_square(&[0.6, 0.4, 0.0], 100, &[40, 60, 0]);
        assert_abs_diff_eq!(t.statistic, 8.0, epsilon = 1e-12);
        assert_eq!(t.df, 1);
        assert_abs_diff_eq!(t.p_value, chi_square_sf(8.0, 1.0), epsilon = 1e-15);
        let same = chi_square(&[0.5, 0.5], 10, &[5, 5]);
        assert_eq!(same.statistic, 0.0);
        assert_eq!(same.p_value, 1.0);
    }
}
