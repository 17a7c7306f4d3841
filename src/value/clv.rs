//! Per-customer value from a fitted purchase model and spend model; times in days.
//!
//! For a customer (x, t_x, T, m) at the end of their observation, [`ValueModel::predict`] gives:
//!
//! - `p_alive`: P(alive at T | history) of the purchase model.
//! - `expected_orders`: E[purchases in (T, T+H]], H = `horizon_days`.
//! - `expected_spend_per_order`: Gamma-Gamma's E[order value | x, m]; the population mean
//!   p·v/(q−1) for x = 0.
//! - `predicted_clv`: discounted expected spend over the horizon, as lifetimes'
//!   `customer_lifetime_value(freq="D")` computes it, in 30-day steps:
//!
//!   CLV = spend · Σᵢ₌₁ⁿ [E(tᵢ) − E(tᵢ₋₁)] / (1+R)^(tᵢ/365),   tᵢ = min(30i, H), n = ⌈H/30⌉,
//!
//!   with E(t) the expected purchases in (T, T+t] and R the annual discount rate. For H a
//!   multiple of 30 this is exactly lifetimes with `time = H/30` months and a monthly
//!   `discount_rate = (1+R)^(30/365) − 1`; a last partial step is discounted at its end.
//! - `next_order_in_days`: the median time from T to the next purchase of a customer who is
//!   alive, `(α+T)·(2^(1/(r+x)) − 1)`: given alive at T, both models have the purchase rate
//!   λ | history ~ Gamma(r+x, α+T), so the wait W to the next purchase (ignoring a later
//!   dropout) has P(W > w) = ((α+T)/(α+T+w))^(r+x). `None` when `p_alive` is below
//!   [`ClvSettings::min_p_alive`] (the customer is more likely gone than not, by default).
//!   Finite and ≥ 0 otherwise.
//!
//! Every output is finite and non-negative for a valid [`Rfm`]; anything else is an error.

use serde::{Deserialize, Serialize};

use super::{BgNbd, GammaGamma, ParetoNbd, Rfm, ValueError};

/// Days in the year of the annual discount rate.
pub const DAYS_PER_YEAR: f64 = 365.0;
/// Length of a discounting step in days (lifetimes' month for `freq="D"`).
pub const STEP_DAYS: f64 = 30.0;

/// A fitted purchase-count model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
pub enum PurchaseModel {
    /// BG/NBD.
    BgNbd(BgNbd),
    /// Pareto/NBD.
    ParetoNbd(ParetoNbd),
}

impl PurchaseModel {
    /// Model name as in the model file (`bg_nbd`, `pareto_nbd`).
    pub fn kind(&self) -> &'static str {
        match self {
            PurchaseModel::BgNbd(_) => "bg_nbd",
            PurchaseModel::ParetoNbd(_) => "pareto_nbd",
        }
    }

    /// P(alive at T | history).
    pub fn p_alive(&self, c: &Rfm) -> f64 {
        match self {
            PurchaseModel::BgNbd(m) => m.p_alive(c),
            PurchaseModel::ParetoNbd(m) => m.p_alive(c),
        }
    }

    /// Expected purchases in (T, T+t].
    pub fn conditional_expected_purchases(&self, t: f64, c: &Rfm) -> f64 {
        match self {
            PurchaseModel::BgNbd(m) => m.conditional_expected_purchases(t, c),
            PurchaseModel::ParetoNbd(m) => m.conditional_expected_purchases(t, c),
        }
    }

    /// Expected repeat purchases of a new customer in (0, t].
    pub fn expected_purchases(&self, t: f64) -> f64 {
        match self {
            PurchaseModel::BgNbd(m) => m.expected_purchases(t),
            PurchaseModel::ParetoNbd(m) => m.expected_purchases(t),
        }
    }

    /// Median days from T to the next purchase of an alive customer (module documentation).
    pub fn median_days_to_next_purchase(&self, c: &Rfm) -> f64 {
        let (r, alpha) = match self {
            PurchaseModel::BgNbd(m) => (m.r, m.alpha),
            PurchaseModel::ParetoNbd(m) => (m.r, m.alpha),
        };
        (alpha + c.t) * (std::f64::consts::LN_2 / (r + c.x)).exp_m1()
    }

    /// Σ over 30-day steps of the discounted expected purchases (the CLV without the spend).
    pub fn discounted_expected_purchases(&self, c: &Rfm, s: &ClvSettings) -> f64 {
        self.horizon(c, s).discounted
    }

    /// P(alive), the expected purchases over the horizon and their discounted sum, in one pass
    /// over the discounting steps: the last step ends at the horizon, and Pareto/NBD's P(alive)
    /// (its two ₂F₁, most of the cost of an expectation) is computed once, not once per step.
    fn horizon(&self, c: &Rfm, s: &ClvSettings) -> Horizon {
        self.horizon_over(c, &Steps::of(s))
    }

    /// [`PurchaseModel::horizon`] with the steps and their discount factors at hand.
    fn horizon_over(&self, c: &Rfm, steps: &Steps) -> Horizon {
        let p_alive = self.p_alive(c);
        let mut bg = match self {
            PurchaseModel::BgNbd(m) => Ok(m.conditional_expectation(c, p_alive)),
            PurchaseModel::ParetoNbd(m) => Err(m),
        };
        let mut expected = |t: f64| match &mut bg {
            Ok(steps) => steps.at(t),
            Err(m) => m.conditional_expected_purchases_given_p_alive(t, c, p_alive),
        };
        let (mut previous, mut last) = (0.0, f64::NAN);
        let mut discounted = 0.0;
        for &(t, factor) in &steps.ends {
            let e = expected(t);
            discounted += (e - previous).max(0.0) * factor;
            (previous, last) = (e, t);
        }
        // The last step ends at the horizon (steps·30 ≥ horizon) but for rounding.
        let expected_orders = if last == steps.horizon_days {
            previous
        } else {
            expected(steps.horizon_days)
        };
        Horizon {
            p_alive,
            expected_orders,
            discounted,
        }
    }
}

/// The discounting steps of a horizon: each step's end tᵢ = min(30i, H) and its factor
/// (1+R)^(−tᵢ/365), which every customer shares.
#[derive(Debug, Clone, Default, PartialEq)]
struct Steps {
    horizon_days: f64,
    ends: Vec<(f64, f64)>,
}

impl Steps {
    fn of(s: &ClvSettings) -> Steps {
        let n = (s.horizon_days / STEP_DAYS).ceil() as usize;
        let ln_discount = s.annual_discount_rate.ln_1p() / DAYS_PER_YEAR;
        let ends = (1..=n)
            .map(|i| {
                let t = (i as f64 * STEP_DAYS).min(s.horizon_days);
                (t, (-ln_discount * t).exp())
            })
            .collect();
        Steps {
            horizon_days: s.horizon_days,
            ends,
        }
    }
}

/// What [`PurchaseModel::horizon`] gives.
#[derive(Debug, Clone, Copy)]
struct Horizon {
    p_alive: f64,
    expected_orders: f64,
    discounted: f64,
}

/// Horizon, discounting and the next-order cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClvSettings {
    /// Days after T over which orders and CLV are predicted (default 365).
    pub horizon_days: f64,
    /// Annual discount rate R (default 0.10).
    pub annual_discount_rate: f64,
    /// `next_order_in_days` is `None` below this P(alive) (default 0.5).
    pub min_p_alive: f64,
}

impl Default for ClvSettings {
    fn default() -> Self {
        ClvSettings {
            horizon_days: 365.0,
            annual_discount_rate: 0.10,
            min_p_alive: 0.5,
        }
    }
}

impl ClvSettings {
    /// Checks the ranges: horizon in (0, 36500] days, rate in [0, 10], cut-off in [0, 1].
    pub fn validate(&self) -> Result<(), ValueError> {
        let bad = |field, constraint| Err(ValueError::InvalidOption { field, constraint });
        if !(self.horizon_days > 0.0 && self.horizon_days <= 36_500.0) {
            return bad("horizon_days", "must be within (0, 36500]");
        }
        if !(self.annual_discount_rate >= 0.0 && self.annual_discount_rate <= 10.0) {
            return bad("annual_discount_rate", "must be within [0, 10]");
        }
        if !(0.0..=1.0).contains(&self.min_p_alive) {
            return bad("min_p_alive", "must be within [0, 1]");
        }
        Ok(())
    }
}

/// A purchase model with a spend model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValueModel {
    /// Purchase counts.
    pub purchases: PurchaseModel,
    /// Spend per order.
    pub spend: GammaGamma,
}

/// One customer's predicted value (module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CustomerValue {
    /// P(alive at T).
    pub p_alive: f64,
    /// Expected orders over the horizon.
    pub expected_orders: f64,
    /// Expected value of an order.
    pub expected_spend_per_order: f64,
    /// Discounted expected spend over the horizon.
    pub predicted_clv: f64,
    /// Median days from T to the next order if likely alive.
    pub next_order_in_days: Option<f64>,
}

impl ValueModel {
    /// Predicts one customer's value.
    ///
    /// ```
    /// use custseg::value::{BgNbd, ClvSettings, GammaGamma, PurchaseModel, Rfm, ValueModel};
    /// let model = ValueModel {
    ///     purchases: PurchaseModel::BgNbd(BgNbd { r: 0.24, alpha: 31.0, a: 0.79, b: 2.4 }),
    ///     spend: GammaGamma { p: 6.25, q: 3.74, v: 15.45 },
    /// };
    /// let v = model.predict(&Rfm::new(2.0, 200.0, 270.0, 30.0), &ClvSettings::default()).unwrap();
    /// assert!(v.p_alive > 0.5 && v.expected_orders > 0.0 && v.predicted_clv > 0.0);
    /// assert!(v.next_order_in_days.is_some());
    /// ```
    pub fn predict(&self, c: &Rfm, s: &ClvSettings) -> Result<CustomerValue, ValueError> {
        c.validate(0)?;
        s.validate()?;
        self.value_of(c, s, &self.purchases.horizon(c, s))
    }

    /// [`ValueModel::predict`] of every customer, in parallel and in input order. Customers
    /// with the same history (x, t_x, T) share one evaluation of the purchase model, which
    /// does not depend on the spend; the results are those of one `predict` each.
    pub fn predict_many(
        &self,
        customers: &[Rfm],
        s: &ClvSettings,
    ) -> Vec<Result<CustomerValue, ValueError>> {
        use rayon::prelude::*;
        // Each valid customer's history, numbered in order of first appearance; the first
        // customer of each stands for it (none with bad settings).
        let settings = s.validate();
        let mut index: std::collections::HashMap<[u64; 3], u32, crate::data::fasthash::FxBuild> =
            Default::default();
        let mut standing = Vec::new();
        let history: Vec<Result<u32, ValueError>> = (customers.iter().enumerate())
            .map(|(i, c)| {
                c.validate(0)?;
                settings.clone()?;
                let next = standing.len() as u32;
                Ok(*index.entry(history_key(c)).or_insert_with(|| {
                    standing.push(i);
                    next
                }))
            })
            .collect();
        let steps = match settings {
            Ok(()) => Steps::of(s),
            Err(_) => Steps::default(),
        };
        let horizons: Vec<Horizon> = standing
            .par_iter()
            .map(|&i| self.purchases.horizon_over(&customers[i], &steps))
            .collect();
        (customers.par_iter())
            .zip(history)
            .map(|(c, h)| self.value_of(c, s, &horizons[h? as usize]))
            .collect()
    }

    /// [`ValueModel::predict`] of one customer after another: a history (x, t_x, T) already
    /// in `memo` reuses its purchase-model evaluation, which does not depend on the spend.
    /// The results are those of `predict`; the memo forgets what it holds when the model or
    /// the settings change and when it reaches [`PredictMemo::LIMIT`] histories.
    pub fn predict_memo(
        &self,
        c: &Rfm,
        s: &ClvSettings,
        memo: &mut PredictMemo,
    ) -> Result<CustomerValue, ValueError> {
        c.validate(0)?;
        s.validate()?;
        let PredictMemo { of, seen } = memo;
        if !matches!(of, Some((p, q, _)) if *p == self.purchases && q == s) {
            seen.clear();
            *of = None;
        }
        let (_, _, steps) = of.get_or_insert_with(|| (self.purchases, *s, Steps::of(s)));
        let key = history_key(c);
        if seen.len() >= PredictMemo::LIMIT && !seen.contains_key(&key) {
            seen.clear();
        }
        let horizon = *seen
            .entry(key)
            .or_insert_with(|| self.purchases.horizon_over(c, steps));
        self.value_of(c, s, &horizon)
    }

    /// A valid customer's value from its purchase model's horizon.
    fn value_of(
        &self,
        c: &Rfm,
        s: &ClvSettings,
        horizon: &Horizon,
    ) -> Result<CustomerValue, ValueError> {
        let model = self.purchases.kind();
        let check = |what: &'static str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(ValueError::NonFinite { model, what })
            }
        };
        let p_alive = check("p_alive", horizon.p_alive)?;
        let expected_orders = check("expected_orders", horizon.expected_orders)?;
        let spend = check("expected_spend_per_order", self.spend.expected_spend(c))?;
        let discounted = check("predicted_clv", horizon.discounted)?;
        let next = check(
            "next_order_in_days",
            self.purchases.median_days_to_next_purchase(c),
        )?;
        Ok(CustomerValue {
            p_alive,
            expected_orders,
            expected_spend_per_order: spend,
            predicted_clv: spend * discounted,
            next_order_in_days: (p_alive >= s.min_p_alive).then_some(next),
        })
    }
}

/// What a purchase-model evaluation depends on: the history (x, t_x, T), bit for bit.
fn history_key(c: &Rfm) -> [u64; 3] {
    [c.x.to_bits(), c.t_x.to_bits(), c.t.to_bits()]
}

/// What [`ValueModel::predict_memo`] remembers between customers: the purchase model and
/// settings it was filled under, their discounting steps, and the evaluation of each history.
#[derive(Debug, Default)]
pub struct PredictMemo {
    of: Option<(PurchaseModel, ClvSettings, Steps)>,
    seen: std::collections::HashMap<[u64; 3], Horizon, crate::data::fasthash::FxBuild>,
}

impl PredictMemo {
    /// Histories held at most (about 3 MB); the memo starts over beyond.
    pub const LIMIT: usize = 65_536;

    /// Forgets every history, keeping the memory and the steps.
    pub fn forget_customers(&mut self) {
        self.seen.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn model(purchases: PurchaseModel) -> ValueModel {
        ValueModel {
            purchases,
            spend: GammaGamma {
                p: 6.25,
                q: 3.74,
                v: 15.45,
            },
        }
    }

    /// A BG/NBD and a Pareto/NBD fit of the same kind of data (weeks).
    fn two_fits() -> (PurchaseModel, PurchaseModel) {
        let bg = BgNbd {
            r: 0.24,
            alpha: 4.41,
            a: 0.79,
            b: 2.43,
        };
        let pareto = ParetoNbd {
            r: 0.55,
            alpha: 10.58,
            s: 0.61,
            beta: 11.67,
        };
        (PurchaseModel::BgNbd(bg), PurchaseModel::ParetoNbd(pareto))
    }

    #[test]
    fn many_customers_get_what_one_predict_each_gives() {
        let (bg, pareto) = two_fits();
        // Shared histories with different spends, a one-time buyer, and an invalid summary.
        let mut cs = Vec::new();
        for i in 0..300 {
            let x = (i % 7) as f64;
            let t_x = if x == 0.0 { 0.0 } else { (i % 5) as f64 * 3.0 };
            let m = if x == 0.0 { 0.0 } else { 10.0 + i as f64 };
            cs.push(Rfm::new(x, t_x, 38.0 + (i % 3) as f64, m));
        }
        cs.push(Rfm::new(2.0, 50.0, 40.0, 5.0));
        let s = ClvSettings::default();
        for purchases in [bg, pareto] {
            let m = model(purchases);
            let many = m.predict_many(&cs, &s);
            assert_eq!(many.len(), cs.len());
            for (c, v) in cs.iter().zip(&many) {
                assert_eq!(format!("{v:?}"), format!("{:?}", m.predict(c, &s)));
            }
            assert!(many.last().unwrap().is_err());
            let bad = ClvSettings {
                horizon_days: -1.0,
                ..s
            };
            assert!(m.predict_many(&cs, &bad).iter().all(|v| v.is_err()));
        }
    }

    #[test]
    fn one_memo_over_models_and_settings_gives_what_predict_gives() {
        let (bg, pareto) = two_fits();
        let short = ClvSettings {
            horizon_days: 100.0,
            annual_discount_rate: 0.3,
            ..ClvSettings::default()
        };
        let bad = ClvSettings {
            horizon_days: 0.0,
            ..short
        };
        // Repeated histories with other spends, under a model and settings that change
        // between customers: a memo filled under one must not answer for another.
        let mut memo = PredictMemo::default();
        let mut reused = 0;
        for round in 0..3 {
            for (purchases, s) in [(bg, ClvSettings::default()), (pareto, short), (bg, short)] {
                let m = model(purchases);
                for i in 0..40 {
                    let x = (i % 4) as f64;
                    let t_x = if x == 0.0 { 0.0 } else { 5.0 + (i % 3) as f64 };
                    let c = Rfm::new(x, t_x, 30.0, if x == 0.0 { 0.0 } else { 7.0 + i as f64 });
                    let before = memo.seen.len();
                    let got = m.predict_memo(&c, &s, &mut memo);
                    reused += usize::from(memo.seen.len() == before);
                    assert_eq!(
                        format!("{got:?}"),
                        format!("{:?}", m.predict(&c, &s)),
                        "{round} {i}"
                    );
                }
                let invalid = Rfm::new(2.0, 50.0, 40.0, 5.0);
                assert!(m.predict_memo(&invalid, &s, &mut memo).is_err());
                let c = Rfm::new(1.0, 3.0, 30.0, 9.0);
                assert!(m.predict_memo(&c, &bad, &mut memo).is_err());
            }
        }
        // 10 histories a (model, settings) pair, each evaluated once a visit.
        assert_eq!(reused, 3 * 3 * 30);
        assert!(memo.seen.len() <= PredictMemo::LIMIT);
    }

    #[test]
    fn clv_matches_lifetimes_customer_lifetime_value() {
        // lifetimes 0.11.3: GammaGammaFitter.customer_lifetime_value(model, x, t_x, T, m,
        // time=12, discount_rate=1.1**(30/365)-1, freq="D") with params_ set (days).
        let bg = PurchaseModel::BgNbd(BgNbd {
            r: 0.2426,
            alpha: 30.8945,
            a: 0.7929,
            b: 2.4258,
        });
        let pn = PurchaseModel::ParetoNbd(ParetoNbd {
            r: 0.5534,
            alpha: 74.0614,
            s: 0.6061,
            beta: 81.5934,
        });
        let s = ClvSettings {
            horizon_days: 360.0,
            ..ClvSettings::default()
        };
        let cases = [
            (
                Rfm::new(2.0, 213.0, 272.0, 22.35),
                36.343_714_255_740_13,
                43.155_474_157_665_79,
            ),
            (
                Rfm::new(0.0, 0.0, 272.0, 0.0),
                8.368_727_664_915_065,
                4.535_123_097_162_659,
            ),
            (
                Rfm::new(7.0, 245.0, 260.0, 40.0),
                223.053_845_592_138_26,
                235.730_986_974_530_85,
            ),
        ];
        for (c, want_bg, want_pn) in cases {
            let got_bg = model(bg).predict(&c, &s).unwrap().predicted_clv;
            let got_pn = model(pn).predict(&c, &s).unwrap().predicted_clv;
            assert_relative_eq!(got_bg, want_bg, max_relative = 1e-10);
            assert_relative_eq!(got_pn, want_pn, max_relative = 1e-10);
        }
    }

    /// Pareto/NBD's steps are the model's own expression (the same bits); BG/NBD's sum its
    /// series from tabulated coefficients (the same to rounding).
    fn same(got: f64, want: f64, purchases: PurchaseModel) {
        match purchases {
            PurchaseModel::ParetoNbd(_) => assert_eq!(got.to_bits(), want.to_bits()),
            PurchaseModel::BgNbd(_) => assert_relative_eq!(got, want, max_relative = 1e-13),
        }
    }

    #[test]
    fn predict_gives_what_the_per_quantity_methods_give() {
        // predict shares P(alive) and the horizon's expectation between its outputs; each must
        // still be what the model's own method gives.
        let models = [
            PurchaseModel::BgNbd(BgNbd {
                r: 0.2426,
                alpha: 30.9,
                a: 0.7929,
                b: 2.4258,
            }),
            PurchaseModel::ParetoNbd(ParetoNbd {
                r: 0.5534,
                alpha: 74.1,
                s: 0.6061,
                beta: 81.6,
            }),
            PurchaseModel::ParetoNbd(ParetoNbd {
                r: 0.8,
                alpha: 40.0,
                s: 0.7,
                beta: 15.0,
            }),
        ];
        let customers = [
            Rfm::new(0.0, 0.0, 200.0, 0.0),
            Rfm::new(2.0, 213.0, 272.0, 22.35),
            Rfm::new(7.0, 245.0, 260.0, 40.0),
            Rfm::new(1.0, 3.0, 365.0, 12.0),
        ];
        for horizon_days in [365.0, 360.0, 45.5, 1.0, 3650.0] {
            let s = ClvSettings {
                horizon_days,
                ..ClvSettings::default()
            };
            for purchases in models {
                for c in &customers {
                    let v = model(purchases).predict(c, &s).unwrap();
                    assert_eq!(v.p_alive.to_bits(), purchases.p_alive(c).to_bits());
                    let e = purchases.conditional_expected_purchases(horizon_days, c);
                    same(v.expected_orders, e, purchases);
                    // The discounting loop as it was, one expectation per step.
                    let steps = (horizon_days / STEP_DAYS).ceil() as usize;
                    let ln_discount = s.annual_discount_rate.ln_1p() / DAYS_PER_YEAR;
                    let (mut previous, mut want) = (0.0, 0.0);
                    for i in 1..=steps {
                        let t = (i as f64 * STEP_DAYS).min(horizon_days);
                        let e = purchases.conditional_expected_purchases(t, c);
                        want += (e - previous).max(0.0) * (-ln_discount * t).exp();
                        previous = e;
                    }
                    same(
                        purchases.discounted_expected_purchases(c, &s),
                        want,
                        purchases,
                    );
                }
            }
        }
    }

    #[test]
    fn next_order_is_the_median_wait_of_an_alive_customer() {
        let p = BgNbd {
            r: 0.5,
            alpha: 20.0,
            a: 0.8,
            b: 2.5,
        };
        let m = model(PurchaseModel::BgNbd(p));
        let c = Rfm::new(3.0, 90.0, 100.0, 25.0);
        let v = m.predict(&c, &ClvSettings::default()).unwrap();
        let w = v.next_order_in_days.unwrap();
        // P(W > w) = ((α+T)/(α+T+w))^(r+x) = ½.
        assert_relative_eq!(
            ((p.alpha + c.t) / (p.alpha + c.t + w)).powf(p.r + c.x),
            0.5,
            max_relative = 1e-12
        );
        // Long gone: no date.
        let gone = m
            .predict(&Rfm::new(3.0, 10.0, 2000.0, 25.0), &ClvSettings::default())
            .unwrap();
        assert!(gone.p_alive < 0.5 && gone.next_order_in_days.is_none());
    }

    #[test]
    fn outputs_are_finite_and_non_negative_at_the_edges() {
        let models = [
            model(PurchaseModel::BgNbd(BgNbd {
                r: 0.2426,
                alpha: 30.9,
                a: 0.7929,
                b: 2.4258,
            })),
            model(PurchaseModel::BgNbd(BgNbd {
                r: 2.0,
                alpha: 3.0,
                a: 1.0,
                b: 0.2,
            })),
            model(PurchaseModel::ParetoNbd(ParetoNbd {
                r: 0.55,
                alpha: 74.0,
                s: 0.61,
                beta: 81.6,
            })),
            model(PurchaseModel::ParetoNbd(ParetoNbd {
                r: 0.55,
                alpha: 0.5,
                s: 1.0,
                beta: 900.0,
            })),
        ];
        let customers = [
            Rfm::new(0.0, 0.0, 0.0, 0.0),
            Rfm::new(0.0, 0.0, 1e-9, 0.0),
            Rfm::new(5.0, 300.0, 300.0, 10.0),
            Rfm::new(1.0, 1e-9, 1e-9, 0.01),
            Rfm::new(150.0, 500.0, 540.0, 1e4),
        ];
        let settings = [
            ClvSettings::default(),
            ClvSettings {
                horizon_days: 1.0,
                annual_discount_rate: 0.0,
                min_p_alive: 0.0,
            },
            ClvSettings {
                horizon_days: 3650.0,
                annual_discount_rate: 2.0,
                min_p_alive: 1.0,
            },
        ];
        for m in &models {
            for c in &customers {
                for s in &settings {
                    let v = m.predict(c, s).unwrap();
                    for x in [
                        v.p_alive,
                        v.expected_orders,
                        v.expected_spend_per_order,
                        v.predicted_clv,
                    ] {
                        assert!(x.is_finite() && x >= 0.0, "{m:?} {c:?} {s:?}: {v:?}");
                    }
                    assert!(v
                        .next_order_in_days
                        .is_none_or(|d| d.is_finite() && d >= 0.0));
                }
            }
        }
    }

    #[test]
    fn invalid_settings_and_customers_are_errors() {
        let m = model(PurchaseModel::BgNbd(BgNbd {
            r: 0.5,
            alpha: 20.0,
            a: 0.8,
            b: 2.5,
        }));
        let c = Rfm::new(1.0, 5.0, 10.0, 3.0);
        let bad = ClvSettings {
            horizon_days: 0.0,
            ..ClvSettings::default()
        };
        assert!(matches!(
            m.predict(&c, &bad),
            Err(ValueError::InvalidOption {
                field: "horizon_days",
                ..
            })
        ));
        assert!(matches!(
            m.predict(&Rfm::new(1.0, 11.0, 10.0, 3.0), &ClvSettings::default()),
            Err(ValueError::InvalidCustomer { field: "t_x", .. })
        ));
    }
}
