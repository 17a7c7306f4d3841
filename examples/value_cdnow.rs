//! custseg's value models on CDNOW and on simulated customers; `scripts/verify_value.sh`
//! compares the first two modes with lifetimes 0.11.3.
//!
//! ```text
//! cargo run --release --example value_cdnow -- cdnow data/public/CDNOW_master.txt 1997-09-30 out.json
//! cargo run --release --example value_cdnow -- summary cdnow_customers_summary_with_transactions.csv out.json [--fit-only]
//! cargo run --release --example value_cdnow -- speed 1000000 [--whole-days]
//! ```
//!
//! `cdnow` folds the transactions as lifetimes' `summary_data_from_transaction_data(freq="D")`
//! does with `observation_period_end` = the as-of date (purchases on that day count): x =
//! distinct purchase days after the first, t_x and T in days, m = mean of the repeat days'
//! summed amounts. It fits BG/NBD, Pareto/NBD and Gamma-Gamma and writes, per customer,
//! p_alive, the expected purchases over 273 days (39 weeks) and the 360-day CLV at 10 %/year.
//! `summary` fits a ready summary (columns x|frequency, t_x|recency, T and optionally
//! zbar|monetary_value); with `--fit-only` it writes the fits (parameters, convergence, fit
//! times) without the per-customer predictions, as benches/compare_value.py times it.
//! `speed` times the fits on simulated customers.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use custseg::value::{
    simulate, BgNbd, ClvSettings, FitOptions, Fitted, GammaGamma, ParetoNbd, PurchaseModel, Rfm,
    ValueError,
};
use serde_json::{json, Value};

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<()> {
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["cdnow", path, as_of, out] => {
            let (ids, data) = fold_cdnow(path, as_of)?;
            write(out, &fit_all(&ids, &data, true)?)
        }
        ["summary", path, out] => {
            let (ids, data) = read_summary(path)?;
            write(out, &fit_all(&ids, &data, false)?)
        }
        ["summary", path, out, "--fit-only"] => {
            let (_, data) = read_summary(path)?;
            write(out, &fits(&data)?.summary())
        }
        ["speed", n] => speed(n.parse().context("customer count")?, false),
        ["speed", n, "--whole-days"] => speed(n.parse().context("customer count")?, true),
        _ => bail!(
            "usage: value_cdnow cdnow PATH AS_OF OUT | summary PATH OUT [--fit-only] | speed N [--whole-days]"
        ),
    }
}

fn write(path: &str, v: &Value) -> Result<()> {
    std::fs::write(path, serde_json::to_vec(v)?).with_context(|| format!("writing {path}"))
}

/// Days since 1970-01-01 of a YYYYMMDD date (Howard Hinnant's days_from_civil).
fn day_number(yyyymmdd: i64) -> i64 {
    let (y, m, d) = (yyyymmdd / 10_000, (yyyymmdd / 100) % 100, yyyymmdd % 100);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn fold_cdnow(path: &str, as_of: &str) -> Result<(Vec<String>, Vec<Rfm>)> {
    let end = day_number(
        as_of
            .replace('-', "")
            .parse()
            .context("as-of date YYYY-MM-DD")?,
    );
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let mut days: BTreeMap<String, BTreeMap<i64, f64>> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [id, date, _, amount] = f.as_slice() else {
            bail!("{path}:{}: 4 fields expected", n + 1)
        };
        let Ok(date) = date.parse::<i64>() else {
            continue;
        }; // the header line
        let day = day_number(date);
        if day > end {
            continue;
        }
        let amount: f64 = amount
            .parse()
            .with_context(|| format!("{path}:{}: amount", n + 1))?;
        *days
            .entry(id.to_string())
            .or_default()
            .entry(day)
            .or_default() += amount;
    }
    let mut ids = Vec::new();
    let mut data = Vec::new();
    for (id, d) in days {
        let (Some((&first, _)), Some((&last, _))) = (d.first_key_value(), d.last_key_value())
        else {
            continue;
        };
        let x = (d.len() - 1) as f64;
        let repeat: f64 = d.values().skip(1).sum();
        let m = if x > 0.0 { repeat / x } else { 0.0 };
        ids.push(id);
        data.push(Rfm::new(x, (last - first) as f64, (end - first) as f64, m));
    }
    Ok((ids, data))
}

fn read_summary(path: &str) -> Result<(Vec<String>, Vec<Rfm>)> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("reading {path}"))?;
    let header = reader.headers()?.clone();
    let col = |names: &[&str]| header.iter().position(|h| names.contains(&h));
    let (Some(x), Some(t_x), Some(t)) = (
        col(&["x", "frequency"]),
        col(&["t_x", "recency"]),
        col(&["T"]),
    ) else {
        bail!("{path}: needs columns x|frequency, t_x|recency and T");
    };
    let m = col(&["zbar", "monetary_value"]);
    let id = col(&["ID", "id", "customer_id"]);
    let mut ids = Vec::new();
    let mut data = Vec::new();
    for (n, row) in reader.records().enumerate() {
        let row = row?;
        let num = |i: usize| -> Result<f64> {
            row.get(i)
                .unwrap_or("")
                .trim()
                .parse()
                .with_context(|| format!("{path}: row {}", n + 1))
        };
        ids.push(id.and_then(|i| row.get(i)).unwrap_or("").to_string());
        let mean = match m {
            Some(i) => num(i)?,
            None => 0.0,
        };
        data.push(Rfm::new(num(x)?, num(t_x)?, num(t)?, mean));
    }
    Ok((ids, data))
}

/// The three fits of one summary, each timed.
struct Fits {
    bg: Fitted<BgNbd>,
    pn: std::result::Result<Fitted<ParetoNbd>, ValueError>,
    gg: std::result::Result<Fitted<GammaGamma>, ValueError>,
    ms: Value,
}

impl Fits {
    /// Parameters, convergence and fit times, without per-customer output.
    fn summary(&self) -> Value {
        let spend = match &self.gg {
            Ok(g) => json!({ "params": g.params, "convergence": g.convergence }),
            Err(e) => json!({ "error": e.to_string() }),
        };
        json!({
            "bg_nbd": { "params": self.bg.params, "convergence": self.bg.convergence },
            "pareto_nbd": match &self.pn {
                Ok(f) => json!({ "params": f.params, "convergence": f.convergence }),
                Err(e) => json!({ "error": e.to_string() }),
            },
            "gamma_gamma": spend,
            "fit_ms": self.ms,
            "threads": rayon::current_num_threads(),
        })
    }
}

fn fits(data: &[Rfm]) -> Result<Fits> {
    let options = FitOptions::default();
    let clock = Instant::now();
    let bg = BgNbd::fit(data, &options)?;
    let bg_ms = clock.elapsed().as_secs_f64() * 1e3;
    let clock = Instant::now();
    let pn = ParetoNbd::fit(data, &options);
    let pn_ms = clock.elapsed().as_secs_f64() * 1e3;
    let clock = Instant::now();
    let gg = GammaGamma::fit(data, &options);
    let gg_ms = clock.elapsed().as_secs_f64() * 1e3;
    Ok(Fits {
        bg,
        pn,
        gg,
        ms: json!({ "bg_nbd": bg_ms, "pareto_nbd": pn_ms, "gamma_gamma": gg_ms }),
    })
}

fn fit_all(ids: &[String], data: &[Rfm], days: bool) -> Result<Value> {
    let Fits { bg, pn, gg, ms } = fits(data)?;
    let pn = pn?;
    let horizon = if days { 273.0 } else { 39.0 };
    let clv = ClvSettings {
        horizon_days: 360.0,
        ..ClvSettings::default()
    };
    let per_customer = |m: PurchaseModel| {
        json!({
            "p_alive": data.iter().map(|c| m.p_alive(c)).collect::<Vec<_>>(),
            "expected": data.iter().map(|c| m.conditional_expected_purchases(horizon, c)).collect::<Vec<_>>(),
            "discounted_360": data.iter().map(|c| m.discounted_expected_purchases(c, &clv)).collect::<Vec<_>>(),
        })
    };
    let spend = match &gg {
        Ok(g) => json!({
            "params": g.params,
            "convergence": g.convergence,
            "expected_spend": data.iter().map(|c| g.params.expected_spend(c)).collect::<Vec<_>>(),
        }),
        Err(e) => json!({ "error": e.to_string() }),
    };
    Ok(json!({
        "customers": ids.iter().zip(data).map(|(id, c)| json!([id, c.x, c.t_x, c.t, c.m])).collect::<Vec<_>>(),
        "horizon": horizon,
        "bg_nbd": { "params": bg.params, "convergence": bg.convergence, "predictions": per_customer(PurchaseModel::BgNbd(bg.params)) },
        "pareto_nbd": { "params": pn.params, "convergence": pn.convergence, "predictions": per_customer(PurchaseModel::ParetoNbd(pn.params)) },
        "gamma_gamma": spend,
        "fit_ms": ms,
    }))
}

fn speed(n: usize, whole_days: bool) -> Result<()> {
    let threads = rayon::current_num_threads();
    let bg_truth = BgNbd {
        r: 0.2426,
        alpha: 30.9,
        a: 0.7929,
        b: 2.4258,
    };
    let pn_truth = ParetoNbd {
        r: 0.5534,
        alpha: 74.1,
        s: 0.6061,
        beta: 81.6,
    };
    let gg_truth = GammaGamma {
        p: 6.25,
        q: 3.74,
        v: 15.45,
    };
    let mut data = simulate::bgnbd(&bg_truth, n, 365.0, 1);
    simulate::add_spend(&mut data, &gg_truth, 2);
    let mut pareto = simulate::pareto_nbd(&pn_truth, n, 365.0, 3);
    if whole_days {
        simulate::to_whole_periods(&mut data);
        simulate::to_whole_periods(&mut pareto);
    }
    let options = FitOptions::default();
    let clock = Instant::now();
    let bg = BgNbd::fit(&data, &options)?;
    let bg_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let gg = GammaGamma::fit(&data, &options)?;
    let gg_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let pn = ParetoNbd::fit(&pareto, &options)?;
    let pn_s = clock.elapsed().as_secs_f64();
    let repeat = data.iter().filter(|c| c.x > 0.0).count();
    println!("{n} customers ({repeat} repeat buyers), {threads} threads, whole days: {whole_days}");
    println!(
        "BG/NBD       {bg_s:7.3} s  {:?}  {} iterations, {} evaluations",
        bg.params, bg.convergence.iterations, bg.convergence.evaluations
    );
    println!(
        "Gamma-Gamma  {gg_s:7.3} s  {:?}  {} iterations, {} evaluations",
        gg.params, gg.convergence.iterations, gg.convergence.evaluations
    );
    println!("BG/NBD + GG  {:7.3} s", bg_s + gg_s);
    println!(
        "Pareto/NBD   {pn_s:7.3} s  {:?}  {} iterations, {} evaluations",
        pn.params, pn.convergence.iterations, pn.convergence.evaluations
    );
    Ok(())
}
