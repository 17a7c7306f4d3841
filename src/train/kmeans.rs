//! k-means fitting: seeded greedy k-means++ restarts and Lloyd iterations with custseg's own
//! data-parallel kernel ([`super::lloyd`]), keeping the initialization with the lowest
//! inertia. Every initialization gets its own stream of the model's seed (a xoshiro jump per
//! run), so results depend only on the data, k, the parameters and the seed — not on the
//! number of threads. Convergence follows scikit-learn: stop when labels stop changing or the
//! total squared centroid shift is at most `tol` × the mean per-column variance.
//! linfa-clustering is the reference: the tests check that linfa, started from the same
//! centroids, reaches the same labels and centroids. (linfa's update is m_k-means — the old
//! centroid counts as one more point — which has the same fixed point as Lloyd's.)

use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;

use super::lloyd::{self, Points};
use super::TrainError;
use crate::geometry::Centroids;

/// Result of fitting one k.
#[derive(Clone, Debug)]
pub struct KmFit {
    /// `(k, d)` centroids in scaled space.
    pub centroids: Array2<f64>,
    /// Sum of squared distances to the nearest centroid.
    pub inertia: f64,
    /// Lloyd steps of the winning initialization.
    pub iterations: u64,
    /// Inertia of every initialization, in run order.
    pub run_inertias: Vec<f64>,
    /// Lloyd steps of every initialization, in run order.
    pub run_iterations: Vec<u64>,
}

/// The matrix as a row-major slice (copied only if it is not in standard layout).
fn with_points<T>(x: ArrayView2<f64>, f: impl FnOnce(&Points) -> T) -> T {
    let std = x.as_standard_layout();
    let data = std.as_slice().expect("standard layout");
    let p = Points {
        data,
        n: x.nrows(),
        d: x.ncols().max(1),
    };
    f(&p)
}

fn to_array(c: Vec<f64>, k: usize) -> Array2<f64> {
    let d = c.len() / k.max(1);
    Array2::from_shape_vec((k, d), c).expect("k × d centroids")
}

/// Sum of squared distances of every row to its nearest centroid.
pub fn inertia(x: ArrayView2<f64>, centroids: &Array2<f64>) -> f64 {
    let c = centroids.as_standard_layout();
    with_points(x, |p| {
        lloyd::inertia(p, c.as_slice().expect("standard"), centroids.nrows())
    })
}

/// Nearest centroid and distance (not squared) of every row, in parallel.
pub fn labels_and_distances(x: ArrayView2<f64>, centroids: &Array2<f64>) -> (Vec<usize>, Vec<f64>) {
    let c = centroids.as_standard_layout();
    let (l, sq) = with_points(x, |p| {
        lloyd::assign(p, c.as_slice().expect("standard"), centroids.nrows())
    });
    (
        l.into_iter().map(|v| v as usize).collect(),
        sq.into_iter().map(f64::sqrt).collect(),
    )
}

/// Converts an ndarray of centroids into the scorer's layout.
pub fn to_centroids(centroids: &Array2<f64>) -> Centroids {
    let rows: Vec<Vec<f64>> = centroids.rows().into_iter().map(|r| r.to_vec()).collect();
    Centroids::from_rows(&rows).unwrap_or_else(|| {
        // Only reachable with zero columns, which fitting rejects earlier.
        Centroids::from_rows(&[vec![0.0]]).expect("non-empty")
    })
}

/// The random stream of initialization `run` under `seed`.
pub fn run_rng(seed: u64, run: usize) -> Xoshiro256Plus {
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    for _ in 0..run {
        rng.jump();
    }
    rng
}

/// Fits k-means with `n_init` seeded k-means++ initializations and keeps the lowest inertia.
pub fn fit(
    x: ArrayView2<f64>,
    k: usize,
    n_init: usize,
    max_iter: u64,
    tol: f64,
    seed: u64,
) -> Result<KmFit, TrainError> {
    if k > x.nrows() {
        return Err(TrainError::TooFewCustomers { k, n: x.nrows() });
    }
    if n_init == 0 {
        return Err(TrainError::NInitZero);
    }
    with_points(x, |p| {
        let tol_abs = tol * lloyd::mean_variance(p);
        let norms = lloyd::row_norms(p);
        let mut best: Option<lloyd::Lloyd> = None;
        let mut run_inertias = Vec::with_capacity(n_init);
        let mut run_iterations = Vec::with_capacity(n_init);
        for run in 0..n_init {
            let init = lloyd::kmeans_plus_plus(p, &norms, k, &mut run_rng(seed, run));
            let r = lloyd::lloyd(p, init, k, max_iter, tol_abs);
            run_inertias.push(r.inertia);
            run_iterations.push(r.iterations);
            if best.as_ref().is_none_or(|b| r.inertia < b.inertia) {
                best = Some(r);
            }
        }
        let best = best.ok_or(TrainError::NInitZero)?;
        Ok(KmFit {
            centroids: to_array(best.centroids, k),
            inertia: best.inertia,
            iterations: best.iterations,
            run_inertias,
            run_iterations,
        })
    })
}

/// Refines given centroids on (more) data: a warm start with one run.
pub fn refine(
    x: ArrayView2<f64>,
    start: &Array2<f64>,
    max_iter: u64,
    tol: f64,
) -> Result<KmFit, TrainError> {
    let k = start.nrows();
    let init = start
        .as_standard_layout()
        .as_slice()
        .expect("standard")
        .to_vec();
    with_points(x, |p| {
        let tol_abs = tol * lloyd::mean_variance(p);
        let r = lloyd::lloyd(p, init, k, max_iter, tol_abs);
        Ok(KmFit {
            centroids: to_array(r.centroids, k),
            inertia: r.inertia,
            iterations: r.iterations,
            run_inertias: vec![r.inertia],
            run_iterations: vec![r.iterations],
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::traits::{Fit, Predict};
    use linfa::DatasetBase;
    use linfa_clustering::{KMeans, KMeansInit};
    use ndarray::Array1;
    use rand::Rng;

    fn blobs(seed: u64) -> Array2<f64> {
        let mut rng = Xoshiro256Plus::seed_from_u64(seed);
        let centers = [[0.0, 0.0], [5.0, 5.0], [0.0, 6.0]];
        Array2::from_shape_fn((300, 2), |(i, j)| {
            centers[i % 3][j] + rng.gen_range(-1.0..1.0)
        })
    }

    #[test]
    fn finds_three_blobs_and_is_deterministic() {
        let x = blobs(1);
        let a = fit(x.view(), 3, 4, 100, 1e-6, 9).unwrap();
        let b = fit(x.view(), 3, 4, 100, 1e-6, 9).unwrap();
        assert_eq!(a.centroids, b.centroids);
        assert_eq!(a.run_inertias.len(), 4);
        // Each blob is ±1 uniform around its centre: mean squared radius is 2/3 per point.
        assert!(a.inertia / 300.0 < 0.8, "{}", a.inertia);
    }

    /// linfa run to convergence from the given centroids.
    fn linfa_from(x: &Array2<f64>, init: Array2<f64>) -> (Array2<f64>, Array1<usize>) {
        let ds = DatasetBase::new(x.view(), ());
        let model = KMeans::params_with_rng(init.nrows(), Xoshiro256Plus::seed_from_u64(0))
            .n_runs(1)
            .max_n_iterations(1000)
            .tolerance(1e-12)
            .init_method(KMeansInit::Precomputed(init))
            .fit(&ds)
            .unwrap();
        let labels = model.predict(x);
        (model.centroids().clone(), labels)
    }

    #[test]
    fn same_init_gives_linfas_labels_and_centroids() {
        let x = blobs(2);
        for seed in 0..5 {
            let init = with_points(x.view(), |p| {
                lloyd::kmeans_plus_plus(p, &lloyd::row_norms(p), 3, &mut run_rng(seed, 0))
            });
            let ours = refine(x.view(), &to_array(init.clone(), 3), 1000, 0.0).unwrap();
            let (theirs, linfa_labels) = linfa_from(&x, to_array(init, 3));
            let (labels, _) = labels_and_distances(x.view(), &ours.centroids);
            assert_eq!(labels, linfa_labels.to_vec(), "seed {seed}");
            for (a, b) in ours.centroids.iter().zip(theirs.iter()) {
                assert!((a - b).abs() < 1e-9, "seed {seed}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn one_step_moves_each_centroid_to_the_mean_of_its_points() {
        // (linfa's step is an m_k-means update, (sum + old) / (count + 1), with the same fixed
        // point as Lloyd's; so one step is checked against the plain means here.)
        let x = blobs(5);
        let init = x.select(ndarray::Axis(0), &[0, 1, 2, 3]);
        let ours = refine(x.view(), &init, 1, 0.0).unwrap();
        let (labels, _) = labels_and_distances(x.view(), &init);
        for j in 0..4 {
            let members: Vec<usize> = (0..x.nrows()).filter(|&i| labels[i] == j).collect();
            let mean = x
                .select(ndarray::Axis(0), &members)
                .mean_axis(ndarray::Axis(0))
                .unwrap();
            for (a, b) in ours.centroids.row(j).iter().zip(mean.iter()) {
                assert!((a - b).abs() < 1e-12, "{a} vs {b}");
            }
        }
        assert_eq!(ours.iterations, 1);
    }

    #[test]
    fn k_larger_than_rows_is_an_error() {
        let x = Array2::zeros((3, 2));
        assert!(matches!(
            fit(x.view(), 4, 1, 10, 1e-4, 0),
            Err(TrainError::TooFewCustomers { k: 4, n: 3 })
        ));
    }
}
