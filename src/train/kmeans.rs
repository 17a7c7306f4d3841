//! k-means fitting with linfa-clustering. We drive linfa one Lloyd step at a time
//! (`max_n_iterations(1)` with the previous centroids as a precomputed init) so that we own
//! the restart loop: every initialization gets its own seeded k-means++ stream (recorded via
//! the model's seed), and the iteration count and per-run inertia are reported, which
//! linfa's `fit` does not expose. The convergence rule is linfa's: stop when the centroids
//! move less than `tol` (Frobenius norm) or after `max_iter` steps.

use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;

use super::TrainError;
use crate::score::Centroids;

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
}

fn step(
    x: ArrayView2<f64>,
    init: KMeansInit<f64>,
    k: usize,
    rng: Xoshiro256Plus,
    tol: f64,
) -> Result<Array2<f64>, TrainError> {
    let ds = DatasetBase::new(x, ());
    let model = KMeans::params_with_rng(k, rng)
        .n_runs(1)
        .max_n_iterations(1)
        .tolerance(tol)
        .init_method(init)
        .fit(&ds)
        .map_err(|e| TrainError::Linfa(e.to_string()))?;
    Ok(model.centroids().clone())
}

/// Runs Lloyd steps from `start` (already one step past its initialization) to convergence.
fn iterate(
    x: ArrayView2<f64>,
    mut centroids: Array2<f64>,
    max_iter: u64,
    tol: f64,
    first_iter: u64,
) -> Result<(Array2<f64>, u64), TrainError> {
    let k = centroids.nrows();
    let mut n = first_iter;
    while n < max_iter {
        let next = step(
            x,
            KMeansInit::Precomputed(centroids.clone()),
            k,
            Xoshiro256Plus::seed_from_u64(0),
            tol,
        )?;
        let shift = (&next - &centroids).mapv(|v| v * v).sum().sqrt();
        centroids = next;
        n += 1;
        if shift < tol {
            break;
        }
    }
    Ok((centroids, n))
}

/// Sum of squared distances of every row to its nearest centroid.
pub fn inertia(x: ArrayView2<f64>, centroids: &Array2<f64>) -> f64 {
    let c = to_centroids(centroids);
    x.rows()
        .into_iter()
        .map(|r| c.nearest(r.as_slice().unwrap_or(&r.to_vec())).1)
        .sum()
}

/// Converts an ndarray of centroids into the scorer's layout.
pub fn to_centroids(centroids: &Array2<f64>) -> Centroids {
    let rows: Vec<Vec<f64>> = centroids.rows().into_iter().map(|r| r.to_vec()).collect();
    Centroids::from_rows(&rows).unwrap_or_else(|| {
        // Only reachable with zero columns, which fitting rejects earlier.
        Centroids::from_rows(&[vec![0.0]]).expect("non-empty")
    })
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
    let base = Xoshiro256Plus::seed_from_u64(seed);
    let mut best: Option<KmFit> = None;
    let mut run_inertias = Vec::with_capacity(n_init);
    for run in 0..n_init {
        let mut rng = base.clone();
        for _ in 0..run {
            rng.jump();
        }
        let first = step(x, KMeansInit::KMeansPlusPlus, k, rng, tol)?;
        let (centroids, iterations) = iterate(x, first, max_iter, tol, 1)?;
        let inertia = inertia(x, &centroids);
        run_inertias.push(inertia);
        if best.as_ref().is_none_or(|b| inertia < b.inertia) {
            best = Some(KmFit {
                centroids,
                inertia,
                iterations,
                run_inertias: Vec::new(),
            });
        }
    }
    let mut best = best.ok_or(TrainError::NInitZero)?;
    best.run_inertias = run_inertias;
    Ok(best)
}

/// Refines given centroids on (more) data: a warm start with one run.
pub fn refine(
    x: ArrayView2<f64>,
    start: &Array2<f64>,
    max_iter: u64,
    tol: f64,
) -> Result<KmFit, TrainError> {
    let (centroids, iterations) = iterate(x, start.clone(), max_iter, tol, 0)?;
    let inertia = inertia(x, &centroids);
    Ok(KmFit {
        centroids,
        inertia,
        iterations,
        run_inertias: vec![inertia],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::traits::Predict;
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

    #[test]
    fn our_assignment_matches_linfa_predict() {
        let x = blobs(2);
        let fitted = fit(x.view(), 3, 2, 100, 1e-6, 3).unwrap();
        let ds = DatasetBase::new(x.view(), ());
        let model = KMeans::params_with_rng(3, Xoshiro256Plus::seed_from_u64(0))
            .n_runs(1)
            .max_n_iterations(1)
            .init_method(KMeansInit::Precomputed(fitted.centroids.clone()))
            .fit(&ds)
            .unwrap();
        // linfa's model moved one step; predict with our centroids through a zero-step
        // comparison instead: both must agree on the model linfa returns.
        let linfa_labels: Array1<usize> = model.predict(&x);
        let ours = to_centroids(model.centroids());
        for (row, &l) in x.rows().into_iter().zip(linfa_labels.iter()) {
            assert_eq!(ours.nearest(row.as_slice().unwrap()).0, l);
        }
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
