//! Principal components for the report's 2-D scatter: the covariance matrix of the rows
//! (d × d, d = scaled columns, a few dozen at most) and its eigenpairs by the cyclic Jacobi
//! method, which is exact for symmetric matrices, needs no random start and gives every
//! eigenvalue (so the explained-variance share is eigenvalue / trace).

use ndarray::{Array1, Array2, ArrayView2, Axis};

/// The top principal components of a set of rows.
#[derive(Clone, Debug)]
pub struct Pca {
    /// Column means the rows are centred on.
    pub mean: Array1<f64>,
    /// Components as rows (unit vectors), by decreasing variance.
    pub components: Array2<f64>,
    /// Variance along each component.
    pub variances: Vec<f64>,
    /// Total variance (trace of the covariance matrix).
    pub total_variance: f64,
}

impl Pca {
    /// Fits `n_components` components to `rows` (one observation per row). With fewer
    /// columns than components, the missing ones are zero vectors with zero variance.
    ///
    /// ```
    /// use custseg::report::pca::Pca;
    /// use ndarray::array;
    ///
    /// // Points on the line y = x: one component explains everything.
    /// let rows = array![[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]];
    /// let pca = Pca::fit(rows.view(), 2);
    /// let c = pca.components.row(0);
    /// assert!((c[0] - 0.5f64.sqrt()).abs() < 1e-9 && (c[1] - 0.5f64.sqrt()).abs() < 1e-9);
    /// assert!((pca.explained_share()[0] - 1.0).abs() < 1e-9);
    /// ```
    pub fn fit(rows: ArrayView2<f64>, n_components: usize) -> Pca {
        let (n, d) = rows.dim();
        let mean = if n == 0 {
            Array1::zeros(d)
        } else {
            rows.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(d))
        };
        let centred = &rows - &mean;
        let denom = (n.max(2) - 1) as f64;
        let cov = centred.t().dot(&centred) / denom;
        let (values, vectors) = jacobi_eigen(cov);
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        let mut components = Array2::zeros((n_components, d));
        let mut variances = vec![0.0; n_components];
        for (c, &i) in order.iter().take(n_components).enumerate() {
            let mut v = vectors.column(i).to_owned();
            // Deterministic sign: the largest-magnitude entry is positive.
            let big = v
                .iter()
                .copied()
                .fold(0.0_f64, |m, x| if x.abs() > m.abs() { x } else { m });
            if big < 0.0 {
                v.mapv_inplace(|x| -x);
            }
            components.row_mut(c).assign(&v);
            variances[c] = values[i].max(0.0);
        }
        let total_variance = values.iter().map(|v| v.max(0.0)).sum();
        Pca {
            mean,
            components,
            variances,
            total_variance,
        }
    }

    /// Share of the total variance each component explains (0 when there is no variance).
    pub fn explained_share(&self) -> Vec<f64> {
        self.variances
            .iter()
            .map(|v| {
                if self.total_variance > 0.0 {
                    v / self.total_variance
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Coordinates of `rows` on the components.
    pub fn project(&self, rows: ArrayView2<f64>) -> Array2<f64> {
        (&rows - &self.mean).dot(&self.components.t())
    }
}

/// Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations: returns the
/// eigenvalues and the eigenvectors as columns (unsorted).
pub fn jacobi_eigen(mut a: Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let d = a.nrows();
    let mut v = Array2::<f64>::eye(d);
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[[i, j]] * a[[i, j]])
            .sum::<f64>()
            .sqrt();
        if off <= 1e-14 * scale.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..d {
            for q in (p + 1)..d {
                let apq = a[[p, q]];
                if apq.abs() <= f64::MIN_POSITIVE {
                    continue;
                }
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← Jᵀ A J on rows/columns p and q.
                for k in 0..d {
                    let akp = a[[k, p]];
                    let akq = a[[k, q]];
                    a[[k, p]] = c * akp - s * akq;
                    a[[k, q]] = s * akp + c * akq;
                }
                for k in 0..d {
                    let apk = a[[p, k]];
                    let aqk = a[[q, k]];
                    a[[p, k]] = c * apk - s * aqk;
                    a[[q, k]] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let vkp = v[[k, p]];
                    let vkq = v[[k, q]];
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[[i, i]]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::array;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256Plus;

    #[test]
    fn jacobi_recovers_a_known_spectrum() {
        let a = array![[4.0, 1.0, 0.0], [1.0, 3.0, 0.5], [0.0, 0.5, 1.0]];
        let (vals, vecs) = jacobi_eigen(a.clone());
        for (i, &l) in vals.iter().enumerate() {
            let v = vecs.column(i);
            let av = a.dot(&v);
            for k in 0..3 {
                assert_abs_diff_eq!(av[k], l * v[k], epsilon = 1e-10);
            }
        }
        assert_abs_diff_eq!(vals.iter().sum::<f64>(), 8.0, epsilon = 1e-10);
    }

    #[test]
    fn pca_finds_the_principal_axis_of_elongated_data() {
        // Points along (1, 2, 0, 1)/√6 with spread 10, small isotropic noise elsewhere,
        // shifted away from the origin.
        let axis = array![1.0, 2.0, 0.0, 1.0] / 6f64.sqrt();
        let second = array![0.0, 0.0, 1.0, 0.0];
        let mut rng = Xoshiro256Plus::seed_from_u64(3);
        let n = 2000;
        let mut rows = Array2::zeros((n, 4));
        for i in 0..n {
            let t: f64 = rng.gen_range(-10.0..10.0);
            let u: f64 = rng.gen_range(-3.0..3.0);
            for k in 0..4 {
                let noise: f64 = rng.gen_range(-0.1..0.1);
                rows[[i, k]] = 5.0 + t * axis[k] + u * second[k] + noise;
            }
        }
        let pca = Pca::fit(rows.view(), 2);
        let c0 = pca.components.row(0);
        let c1 = pca.components.row(1);
        assert_abs_diff_eq!(c0.dot(&axis).abs(), 1.0, epsilon = 1e-3);
        assert_abs_diff_eq!(c1.dot(&second).abs(), 1.0, epsilon = 1e-3);
        // Uniform(-10, 10) has variance 100/3, uniform(-3, 3) has 3.
        assert_abs_diff_eq!(pca.variances[0], 100.0 / 3.0, epsilon = 1.5);
        assert_abs_diff_eq!(pca.variances[1], 3.0, epsilon = 0.2);
        let share = pca.explained_share();
        assert!(share[0] > 0.9 && share[0] + share[1] > 0.99, "{share:?}");
        // Projections are centred.
        let p = pca.project(rows.view());
        assert_abs_diff_eq!(p.column(0).mean().unwrap(), 0.0, epsilon = 1e-9);
    }

    #[test]
    fn pca_of_degenerate_input_is_finite() {
        let rows = Array2::from_elem((5, 3), 1.0);
        let pca = Pca::fit(rows.view(), 2);
        assert_eq!(pca.explained_share(), vec![0.0, 0.0]);
        assert!(pca.project(rows.view()).iter().all(|x| x.is_finite()));
        let one_col = Array2::from_shape_vec((3, 1), vec![1.0, 2.0, 3.0]).unwrap();
        let pca = Pca::fit(one_col.view(), 2);
        assert_abs_diff_eq!(pca.explained_share()[0], 1.0, epsilon = 1e-12);
        assert_eq!(pca.variances[1], 0.0);
        let empty = Array2::<f64>::zeros((0, 3));
        assert!(Pca::fit(empty.view(), 2)
            .variances
            .iter()
            .all(|v| *v == 0.0));
    }
}
