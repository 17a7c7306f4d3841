//! Criterion benches of the value models (src/value): whole maximum-likelihood fits of
//! BG/NBD, Gamma-Gamma and Pareto/NBD on 100k seeded simulated customers with day-grained
//! times (as a real summary is), and scoring one customer with `ValueModel::predict` (default
//! settings: a 365-day horizon in 30-day steps) under each purchase model.
//!
//!     cargo bench --bench value
//!
//! The fits at 1M customers and with continuous times are timed by
//! `cargo run --release --example value_cdnow -- speed N [--whole-days]`; the comparison with
//! lifetimes is benches/compare_value.sh.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

use custseg::value::{
    simulate, BgNbd, ClvSettings, FitOptions, GammaGamma, ParetoNbd, PurchaseModel, Rfm, ValueModel,
};

const CUSTOMERS: usize = 100_000;

/// The parameters of `value_cdnow speed`: lifetimes' CDNOW fits in days.
const BG: BgNbd = BgNbd {
    r: 0.2426,
    alpha: 30.9,
    a: 0.7929,
    b: 2.4258,
};
const PARETO: ParetoNbd = ParetoNbd {
    r: 0.5534,
    alpha: 74.1,
    s: 0.6061,
    beta: 81.6,
};
const SPEND: GammaGamma = GammaGamma {
    p: 6.25,
    q: 3.74,
    v: 15.45,
};

/// BG/NBD customers with spend, and Pareto/NBD customers, both in whole days over a year.
fn customers() -> (Vec<Rfm>, Vec<Rfm>) {
    let mut bg = simulate::bgnbd(&BG, CUSTOMERS, 365.0, 1);
    simulate::add_spend(&mut bg, &SPEND, 2);
    simulate::to_whole_periods(&mut bg);
    let mut pareto = simulate::pareto_nbd(&PARETO, CUSTOMERS, 365.0, 3);
    simulate::to_whole_periods(&mut pareto);
    (bg, pareto)
}

fn fits(c: &mut Criterion) {
    let (bg, pareto) = customers();
    let options = FitOptions::default();
    let mut g = c.benchmark_group("value_fit_100k_whole_days");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("bg_nbd", |b| {
        b.iter(|| BgNbd::fit(black_box(&bg), &options).expect("fits"))
    });
    g.bench_function("gamma_gamma", |b| {
        b.iter(|| GammaGamma::fit(black_box(&bg), &options).expect("fits"))
    });
    g.bench_function("pareto_nbd", |b| {
        b.iter(|| ParetoNbd::fit(black_box(&pareto), &options).expect("fits"))
    });
    g.finish();
}

fn predict(c: &mut Criterion) {
    let (bg, pareto) = customers();
    let options = FitOptions::default();
    let spend = GammaGamma::fit(&bg, &options).expect("fits").params;
    let models = [
        (
            "bg_nbd",
            PurchaseModel::BgNbd(BgNbd::fit(&bg, &options).expect("fits").params),
            &bg,
        ),
        (
            "pareto_nbd",
            PurchaseModel::ParetoNbd(ParetoNbd::fit(&pareto, &options).expect("fits").params),
            &pareto,
        ),
    ];
    let settings = ClvSettings::default();
    let mut g = c.benchmark_group("value_predict_one_customer");
    for (name, purchases, data) in models {
        let model = ValueModel { purchases, spend };
        // The first 4096 simulated customers in turn: a realistic mix of x, t_x and T.
        let sample = &data[..4096];
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % sample.len();
                model
                    .predict(black_box(&sample[i]), &settings)
                    .expect("valid")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, fits, predict);
criterion_main!(benches);
