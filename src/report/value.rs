//! The report's predicted-value sections: each segment's predicted value (models with a value
//! model) and the holdout check (`train --holdout-days`) with lifetimes' calibration vs
//! holdout plot.

use std::fmt::Write as _;

use super::{by_id, charts, esc, int, num, pct, seg_label, swatch};
use crate::model::format::{HoldoutRecord, ModelFile};

/// Per segment: mean P(alive), share likely alive, expected orders, spend per order and
/// predicted CLV, with the value model's parameters.
pub(super) fn predicted_section(h: &mut String, m: &ModelFile) {
    let Some(vm) = &m.value_model else { return };
    if m.segments.iter().any(|s| s.predicted.is_none()) {
        return;
    }
    let params = serde_json::to_string(&vm.purchases).unwrap_or_default();
    let _ = write!(
        h,
        "<section id=\"predicted\"><h2>Predicted value</h2><p class=\"note\">{} (rates per day) \
         with Gamma-Gamma p = {}, q = {}, v = {} for the spend per order, fitted on the training \
         customers. Expected orders and predicted CLV cover the {} days after the as-of; the CLV \
         is discounted at {}% a year. Parameters: <code>{}</code>.</p><table><tr>\
         <th class=\"l\">segment</th><th>mean P(alive)</th><th>likely alive</th>\
         <th>expected orders</th><th>spend per order</th><th>predicted CLV</th>\
         <th>share of predicted CLV</th></tr>",
        if vm.purchases.kind() == "bg_nbd" {
            "BG/NBD"
        } else {
            "Pareto/NBD"
        },
        num(vm.spend.p),
        num(vm.spend.q),
        num(vm.spend.v),
        num(vm.horizon_days),
        num(100.0 * vm.discount_rate),
        esc(&params)
    );
    for &j in &by_id(&m.segments) {
        let s = &m.segments[j];
        let Some(p) = &s.predicted else { continue };
        let _ = write!(
            h,
            "<tr><td class=\"l\">{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td></tr>",
            swatch(s.id),
            esc(&seg_label(s)),
            num(p.p_alive),
            pct(p.likely_alive_share),
            num(p.expected_orders),
            num(p.expected_spend_per_order),
            num(p.predicted_clv),
            pct(p.share_predicted_clv)
        );
    }
    h.push_str("</table></section>\n");
}

fn opt(v: Option<f64>) -> String {
    v.map_or("–".into(), num)
}

fn err(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{:+.1}%", 100.0 * v))
}

/// The holdout check: totals, ranking quality, per segment and the calibration plot.
pub(super) fn holdout_section(h: &mut String, r: &HoldoutRecord) {
    let s = &r.summary;
    let _ = write!(
        h,
        "<section id=\"holdout\"><h2>Holdout check</h2><p class=\"note\">The model is as of {}; \
         its predictions for the {} days that followed (to {}, exclusive) against what its {} \
         customers did. Orders are purchase days.</p><table>\
         <tr><th class=\"l\"></th><th>predicted</th><th>actual</th><th>error of the total</th>\
         <th>MAE per customer</th></tr>\
         <tr><td class=\"l\">orders</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\
         <tr><td class=\"l\">spend</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>\
         <p>AUC of any repurchase: by P(alive) {}, by expected orders {}. Spearman ρ, orders {}, \
         spend {}.</p><table><tr><th class=\"l\">segment</th><th>customers</th>\
         <th>predicted orders</th><th>actual orders</th><th>predicted spend</th>\
         <th>actual spend</th><th>bought again</th><th>error (orders)</th></tr>",
        esc(&r.calibration_end),
        r.holdout_days,
        esc(&r.holdout_end),
        int(r.customers),
        num(s.orders.predicted_total),
        num(s.orders.actual_total),
        err(s.orders.relative_error),
        num(s.orders.mean_absolute_error),
        num(s.spend.predicted_total),
        num(s.spend.actual_total),
        err(s.spend.relative_error),
        num(s.spend.mean_absolute_error),
        opt(s.repurchase_auc_p_alive),
        opt(s.repurchase_auc_predicted_orders),
        opt(s.spearman_orders),
        opt(s.spearman_spend),
    );
    for g in r.by_segment.iter().chain(&r.by_stage) {
        let _ = write!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            esc(&g.group),
            int(g.customers as u64),
            opt(g.mean_predicted_orders),
            opt(g.mean_actual_orders),
            opt(g.mean_predicted_spend),
            opt(g.mean_actual_spend),
            g.repurchase_share.map_or("–".into(), pct),
            err(g.orders_relative_error),
        );
    }
    h.push_str("</table>");
    let rows: Vec<(String, f64, f64)> = s
        .by_calibration_frequency
        .iter()
        .filter_map(|f| {
            Some((
                f.label.clone(),
                f.mean_actual_orders?,
                f.mean_predicted_orders?,
            ))
        })
        .collect();
    h.push_str(&charts::calibration_vs_holdout(&rows));
    h.push_str("</section>\n");
}
