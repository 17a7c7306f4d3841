//! The predictive value model of a training run: a purchase-count model (BG/NBD or
//! Pareto/NBD) and Gamma-Gamma fitted on the training customers' purchase summaries
//! ([`crate::features::rfm::purchase_summary`]), every customer's predicted value, and the
//! per-segment means. A model that cannot be fitted (too few repeat buyers, no convergence, a
//! boundary) is no error: training goes on without it and says why.

use super::params::{ValueKind, ValueParams};
use crate::model::format::{ValueFitRecord, ValueModelRecord};
use crate::model::segment::SegmentPrediction;
use crate::value::{
    BgNbd, ClvSettings, CustomerValue, FitOptions, GammaGamma, ParetoNbd, PurchaseModel, Rfm,
    ValueError,
};

/// Fits the value model `params` asks for on `summaries`: `Ok(None)` when it is turned off,
/// `Err(reason)` when it cannot be fitted.
pub fn fit(summaries: &[Rfm], params: &ValueParams) -> Result<Option<ValueModelRecord>, String> {
    let options = FitOptions::default();
    let why = |e: ValueError| match e {
        ValueError::AtBoundary {
            model: "pareto_nbd",
            param: "s",
            ..
        } => format!(
            "{e}: dropout rates look alike for every customer, a limit Pareto/NBD's gamma \
             mixing only reaches at s = infinity; BG/NBD fits such data"
        ),
        e => e.to_string(),
    };
    let (purchases, purchase_fit) = match params.kind {
        ValueKind::None => return Ok(None),
        ValueKind::BgNbd => {
            let f = BgNbd::fit(summaries, &options).map_err(why)?;
            (PurchaseModel::BgNbd(f.params), f.convergence)
        }
        ValueKind::ParetoNbd => {
            let f = ParetoNbd::fit(summaries, &options).map_err(why)?;
            (PurchaseModel::ParetoNbd(f.params), f.convergence)
        }
    };
    let spend = GammaGamma::fit(summaries, &options).map_err(why)?;
    let record = ValueModelRecord {
        purchases,
        time_unit: "day".into(),
        spend: spend.params,
        log_likelihood: purchase_fit.log_likelihood,
        converged: purchase_fit.converged && spend.convergence.converged,
        horizon_days: f64::from(params.horizon_days),
        discount_rate: params.discount_rate,
        fit: ValueFitRecord {
            purchases: purchase_fit,
            spend: spend.convergence,
        },
    };
    Ok(Some(record))
}

/// Every customer's predicted value under `record`, in parallel (in input order).
pub fn predict_all(
    record: &ValueModelRecord,
    summaries: &[Rfm],
) -> Result<Vec<CustomerValue>, String> {
    predict_with(&record.model(), &record.settings(), summaries)
}

/// [`predict_all`] with another model or horizon (the holdout check's refit).
pub fn predict_with(
    model: &crate::value::ValueModel,
    settings: &ClvSettings,
    summaries: &[Rfm],
) -> Result<Vec<CustomerValue>, String> {
    (model
        .predict_many(summaries, settings)
        .into_iter()
        .enumerate())
    .map(|(i, v)| v.map_err(|e| format!("training customer {}: {e}", i + 1)))
    .collect()
}

/// Means of the members' predicted values per segment (by label; `values` cover the first
/// members, the browsers after them have none and count as 0), with each segment's share of
/// the total predicted CLV.
pub fn segment_predictions(
    values: &[CustomerValue],
    labels: &[usize],
    k: usize,
) -> Vec<SegmentPrediction> {
    let mut sums = vec![[0.0f64; 6]; k];
    // A member without a prediction (a browser, who never bought) counts as nothing.
    for (i, &l) in labels.iter().enumerate() {
        let s = &mut sums[l];
        s[0] += 1.0;
        let Some(v) = values.get(i) else { continue };
        s[1] += v.p_alive;
        s[2] += f64::from(u8::from(v.p_alive >= 0.5));
        s[3] += v.expected_orders;
        s[4] += v.expected_spend_per_order;
        s[5] += v.predicted_clv;
    }
    let total: f64 = sums.iter().map(|s| s[5]).sum();
    sums.iter()
        .map(|s| {
            let n = s[0].max(1.0);
            SegmentPrediction {
                p_alive: s[1] / n,
                likely_alive_share: s[2] / n,
                expected_orders: s[3] / n,
                expected_spend_per_order: s[4] / n,
                predicted_clv: s[5] / n,
                share_predicted_clv: if total > 0.0 { s[5] / total } else { 0.0 },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::simulate;
    use approx::assert_relative_eq;

    fn customers(n: usize) -> Vec<Rfm> {
        let truth = BgNbd {
            r: 0.25,
            alpha: 30.0,
            a: 0.8,
            b: 2.4,
        };
        let mut data = simulate::bgnbd(&truth, n, 365.0, 5);
        simulate::add_spend(
            &mut data,
            &GammaGamma {
                p: 6.0,
                q: 3.7,
                v: 15.0,
            },
            6,
        );
        simulate::to_whole_periods(&mut data);
        data
    }

    #[test]
    fn a_fit_records_both_models_and_the_settings() {
        let data = customers(3_000);
        let params = ValueParams::default();
        let record = fit(&data, &params).unwrap().unwrap();
        assert_eq!(record.purchases.kind(), "bg_nbd");
        assert!(record.converged);
        assert_eq!(record.horizon_days, 365.0);
        assert_eq!(record.fit.purchases.customers, 3_000);
        let pareto = ValueParams {
            kind: ValueKind::ParetoNbd,
            ..params
        };
        assert_eq!(
            fit(&data, &pareto).unwrap().unwrap().purchases.kind(),
            "pareto_nbd"
        );
        let off = ValueParams {
            kind: ValueKind::None,
            ..params
        };
        assert_eq!(fit(&data, &off), Ok(None));
    }

    #[test]
    fn too_few_repeat_buyers_is_a_reason_not_an_error() {
        let data: Vec<Rfm> = (0..50)
            .map(|i| Rfm::new(0.0, 0.0, 10.0 + i as f64, 0.0))
            .collect();
        let reason = fit(&data, &ValueParams::default()).unwrap_err();
        assert!(reason.contains("repeat buyers"), "{reason}");
    }

    #[test]
    fn segment_means_and_clv_shares_add_up() {
        let data = customers(2_000);
        let record = fit(&data, &ValueParams::default()).unwrap().unwrap();
        let values = predict_all(&record, &data).unwrap();
        let labels: Vec<usize> = (0..data.len())
            .map(|i| usize::from(data[i].x > 0.0))
            .collect();
        let seg = segment_predictions(&values, &labels, 2);
        let share: f64 = seg.iter().map(|s| s.share_predicted_clv).sum();
        assert_relative_eq!(share, 1.0, max_relative = 1e-12);
        let members: Vec<&CustomerValue> = values
            .iter()
            .zip(&labels)
            .filter(|(_, &l)| l == 1)
            .map(|(v, _)| v)
            .collect();
        let mean = members.iter().map(|v| v.predicted_clv).sum::<f64>() / members.len() as f64;
        assert_relative_eq!(seg[1].predicted_clv, mean, max_relative = 1e-12);
        assert!(seg[1].expected_orders > seg[0].expected_orders);
    }
}
