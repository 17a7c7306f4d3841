//! Criterion benches of the hot kernels: one Lloyd step and greedy k-means++ seeding on a
//! seeded Gaussian mixture (100k × 10, k = 8), custseg's kernel next to linfa's step, and
//! scoring one customer (JSON → features → nearest centroid) with the golden model.
//!
//!     cargo bench --bench kernels
//!
//! Whole-program comparisons with scikit-learn are in benches/compare_sklearn.sh.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256Plus;

use custseg::train::lloyd::{self, Points};

fn mixture(n: usize, d: usize, k: usize, seed: u64) -> Vec<f64> {
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    let centers: Vec<f64> = (0..k * d).map(|_| rng.gen_range(-1.5..1.5)).collect();
    let mut out = Vec::with_capacity(n * d);
    for _ in 0..n {
        let c = rng.gen_range(0..k);
        for j in 0..d {
            let z: f64 = rng.sample(StandardNormal);
            out.push(centers[c * d + j] + z);
        }
    }
    out
}

fn kmeans(c: &mut Criterion) {
    let (n, d, k) = (100_000, 10, 8);
    let data = mixture(n, d, k, 1);
    let p = Points::new(&data, d).expect("n × d");
    let norms = lloyd::row_norms(&p);
    let init = lloyd::kmeans_plus_plus(&p, &norms, k, &mut Xoshiro256Plus::seed_from_u64(2));
    let mut g = c.benchmark_group("kmeans_100k_x10_k8");
    g.sample_size(20);
    g.bench_function("custseg_lloyd_step_and_exact_inertia", |b| {
        b.iter(|| lloyd::lloyd(&p, black_box(init.clone()), k, 1, 0.0))
    });
    g.bench_function("custseg_kmeans_plus_plus", |b| {
        b.iter(|| lloyd::kmeans_plus_plus(&p, &norms, k, &mut Xoshiro256Plus::seed_from_u64(3)))
    });
    let x = Array2::from_shape_vec((n, d), data.clone()).expect("n × d");
    let init_arr = Array2::from_shape_vec((k, d), init.clone()).expect("k × d");
    g.bench_function("linfa_fit_one_step", |b| {
        b.iter(|| {
            KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(0))
                .n_runs(1)
                .max_n_iterations(1)
                .init_method(KMeansInit::Precomputed(init_arr.clone()))
                .fit(&DatasetBase::new(x.view(), ()))
                .expect("fits")
        })
    });
    g.finish();
}

fn scoring(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden/v1");
    let model = custseg::Model::load(&dir).expect("golden model");
    let customer = serde_json::json!({"customer_id": "c1", "recency_days": 12, "frequency": 9,
        "monetary": 1420.5, "avg_order_value": 157.8, "tenure_days": 610, "age": 41,
        "gender": "F", "annual_income": 72000, "occupation": "Manager", "region": "North",
        "signup_channel": "app"});
    let mut scratch = custseg::score::Scratch::default();
    c.bench_function("score_one_customer_from_json_value", |b| {
        b.iter(|| {
            let p = custseg::score::request::prepare(
                &model.file.features,
                black_box(&customer),
                20_000,
                None,
                10_000,
                &Default::default(),
            )
            .expect("valid");
            model
                .score(&p.raw, p.summary.as_ref(), &mut scratch)
                .expect("scores")
        })
    });
}

criterion_group!(benches, kmeans, scoring);
criterion_main!(benches);
