//! Seeded simulation of customers from the models' own generative stories, for parameter
//! recovery tests, examples and benchmarks.
//!
//! Ages are uniform on (0, `max_age`]; the same seed gives the same customers.

use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution, Exp, Gamma};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::{BgNbd, GammaGamma, ParetoNbd, Rfm};

fn gamma(shape: f64, scale: f64) -> Gamma<f64> {
    // Parameters come from fitted or hand-written models: positive and finite.
    Gamma::new(shape, scale).unwrap_or_else(|_| panic!("invalid Gamma({shape}, {scale})"))
}

/// BG/NBD customers: λ ~ Gamma(r, scale 1/α), p ~ Beta(a, b); exponential gaps at rate λ, and
/// after each purchase the customer leaves with probability p. `m` is 0.
pub fn bgnbd(p: &BgNbd, n: usize, max_age: f64, seed: u64) -> Vec<Rfm> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let rate = gamma(p.r, 1.0 / p.alpha);
    let drop = Beta::new(p.a, p.b).unwrap_or_else(|_| panic!("invalid Beta({}, {})", p.a, p.b));
    (0..n)
        .map(|_| {
            let t = max_age * (1.0 - rng.gen::<f64>());
            let lambda: f64 = rate.sample(&mut rng);
            let dropout: f64 = drop.sample(&mut rng);
            let (mut x, mut t_x, mut now) = (0.0, 0.0, 0.0);
            if lambda > 0.0 {
                let gap = Exp::new(lambda).unwrap_or_else(|_| panic!("invalid rate {lambda}"));
                loop {
                    now += gap.sample(&mut rng);
                    if now > t {
                        break;
                    }
                    x += 1.0;
                    t_x = now;
                    if rng.gen::<f64>() < dropout {
                        break;
                    }
                }
            }
            Rfm::new(x, t_x, t, 0.0)
        })
        .collect()
}

/// Pareto/NBD customers: λ ~ Gamma(r, 1/α), μ ~ Gamma(s, 1/β), lifetime ~ Exp(μ), purchases
/// at rate λ while alive. `m` is 0.
pub fn pareto_nbd(p: &ParetoNbd, n: usize, max_age: f64, seed: u64) -> Vec<Rfm> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let rate = gamma(p.r, 1.0 / p.alpha);
    let death = gamma(p.s, 1.0 / p.beta);
    (0..n)
        .map(|_| {
            let t = max_age * (1.0 - rng.gen::<f64>());
            let lambda: f64 = rate.sample(&mut rng);
            let mu: f64 = death.sample(&mut rng);
            let life = if mu > 0.0 {
                -rng.gen::<f64>().ln() / mu
            } else {
                f64::INFINITY
            };
            let end = t.min(life);
            let (mut x, mut t_x, mut now) = (0.0, 0.0, 0.0);
            if lambda > 0.0 {
                loop {
                    now += -(1.0 - rng.gen::<f64>()).ln() / lambda;
                    if now > end {
                        break;
                    }
                    x += 1.0;
                    t_x = now;
                }
            }
            Rfm::new(x, t_x, t, 0.0)
        })
        .collect()
}

/// Fills `m` of every repeat buyer with the mean of `x` order values from Gamma-Gamma:
/// ν ~ Gamma(q, scale 1/v), each order ~ Gamma(p, scale 1/ν).
pub fn add_spend(data: &mut [Rfm], g: &GammaGamma, seed: u64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let nu = gamma(g.q, 1.0 / g.v);
    for c in data.iter_mut().filter(|c| c.x > 0.0) {
        let rate: f64 = nu.sample(&mut rng);
        let order = gamma(g.p, 1.0 / rate.max(f64::MIN_POSITIVE));
        let total: f64 = (0..c.x as usize).map(|_| order.sample(&mut rng)).sum();
        c.m = total / c.x;
    }
}

/// Repeat buyers only, for the spend model: x ~ 1 + Poisson-ish(3) (geometric), t_x = x,
/// t = 2x, and `m` from [`add_spend`].
pub fn gamma_gamma(g: &GammaGamma, n: usize, seed: u64) -> Vec<Rfm> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut data: Vec<Rfm> = (0..n)
        .map(|_| {
            let mut x = 1.0;
            while rng.gen::<f64>() < 0.75 && x < 60.0 {
                x += 1.0;
            }
            Rfm::new(x, x, 2.0 * x, 0.0)
        })
        .collect();
    add_spend(&mut data, g, seed);
    data
}

/// Rounds times down to whole periods (as a day-grained summary would be).
pub fn to_whole_periods(data: &mut [Rfm]) {
    for c in data {
        c.t = c.t.floor();
        c.t_x = c.t_x.floor();
    }
}
