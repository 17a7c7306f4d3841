//! Customer tables as they come (issue 11, observation 4): seeded look-alikes of UCI Bank
//! Marketing (semicolon, quoted, no id column, outcome `y`), Kaggle's Customer Personality
//! Analysis (tab, `ID`, `Year_Birth`, `Dt_Customer` as DD-MM-YYYY, `Mnt*` spend, 0/1 flags,
//! `Response`) and UCI Wholesale customers (no id, `Channel`/`Region` codes, product spend),
//! trained and scored back through the binary and over a real socket.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{custseg, read_csv, text};
use crate::server::{config, post, start};

/// A small seeded generator (SplitMix64), so the fixtures are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    /// Heavy-tailed positive amount around `scale`.
    fn spend(&mut self, scale: f64) -> i64 {
        (scale * (-self.unit().max(1e-9).ln()).powf(1.5)).round() as i64
    }
}

/// bank.csv look-alike: `"age";"job";…;"y"`, no id column.
pub fn write_bank(dir: &Path, rows: usize) -> PathBuf {
    let mut r = Rng(11);
    let mut s = String::from(
        "\"age\";\"job\";\"marital\";\"education\";\"default\";\"balance\";\"housing\";\"loan\";\"contact\";\"day\";\"month\";\"duration\";\"campaign\";\"pdays\";\"previous\";\"poutcome\";\"y\"\n",
    );
    let jobs = [
        "admin.",
        "blue-collar",
        "technician",
        "services",
        "management",
        "retired",
    ];
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    for _ in 0..rows {
        let rich = r.unit() < 0.3;
        let pdays = if r.unit() < 0.8 { -1 } else { r.int(1, 400) };
        let _ = writeln!(
            s,
            "{};\"{}\";\"{}\";\"{}\";\"{}\";{};\"{}\";\"{}\";\"{}\";{};\"{}\";{};{};{};{};\"{}\";\"{}\"",
            r.int(19, 88),
            r.pick(&jobs),
            r.pick(&["married", "single", "divorced"]),
            r.pick(&["primary", "secondary", "tertiary", "unknown"]),
            r.pick(&["no", "no", "no", "yes"]),
            if rich { r.spend(8000.0) } else { r.spend(600.0) - 200 },
            r.pick(&["yes", "no"]),
            r.pick(&["no", "no", "yes"]),
            r.pick(&["cellular", "telephone", "unknown"]),
            r.int(1, 31),
            r.pick(&months),
            r.spend(250.0),
            r.int(1, 12),
            pdays,
            if pdays < 0 { 0 } else { r.int(1, 6) },
            r.pick(&["unknown", "failure", "success", "other"]),
            if rich && r.unit() < 0.5 { "yes" } else { "no" }
        );
    }
    let p = dir.join("bank.csv");
    std::fs::write(&p, s).unwrap();
    p
}

/// marketing_campaign.csv look-alike (tab-separated).
pub fn write_marketing(dir: &Path, rows: usize) -> PathBuf {
    let mut r = Rng(7);
    let mut s = String::from(
        "ID\tYear_Birth\tEducation\tMarital_Status\tIncome\tKidhome\tTeenhome\tDt_Customer\tRecency\tMntWines\tMntFruits\tMntMeatProducts\tMntFishProducts\tMntSweetProducts\tMntGoldProds\tNumDealsPurchases\tNumWebPurchases\tNumCatalogPurchases\tNumStorePurchases\tNumWebVisitsMonth\tAcceptedCmp3\tAcceptedCmp4\tAcceptedCmp5\tAcceptedCmp1\tAcceptedCmp2\tComplain\tZ_CostContact\tZ_Revenue\tResponse\n",
    );
    for i in 0..rows {
        let rich = r.unit() < 0.4;
        let scale = if rich { 300.0 } else { 15.0 };
        let income = if r.unit() < 0.02 {
            String::new()
        } else {
            (if rich {
                r.int(55_000, 110_000)
            } else {
                r.int(5_000, 50_000)
            })
            .to_string()
        };
        // 2012-07-30 .. 2014-06-29, written DD-MM-YYYY.
        let (y, m, d) = (r.int(2012, 2014), r.int(1, 12), r.int(1, 28));
        let (y, m) = match (y, m) {
            (2012, m) if m < 8 => (2012, m + 5),
            (2014, m) if m > 6 => (2014, m - 6),
            other => other,
        };
        let flag = |r: &mut Rng, p: f64| u8::from(r.unit() < p);
        let mut line = format!(
            "{}\t{}\t{}\t{}\t{income}\t{}\t{}\t{d:02}-{m:02}-{y}\t{}",
            5000 + i * 3,
            r.int(1940, 1996),
            r.pick(&["Graduation", "PhD", "Master", "Basic", "2n Cycle"]),
            r.pick(&["Married", "Together", "Single", "Divorced", "Widow"]),
            if rich { r.int(0, 1) } else { r.int(0, 2) },
            r.int(0, 2),
            r.int(0, 99),
        );
        for w in [1.0, 0.1, 0.6, 0.15, 0.1, 0.15] {
            let _ = write!(line, "\t{}", r.spend(scale * w));
        }
        for hi in [5, 10, 8, 12] {
            let _ = write!(line, "\t{}", r.int(0, if rich { hi } else { hi / 2 }));
        }
        let _ = write!(line, "\t{}", r.int(0, 10));
        for p in [0.07, 0.07, 0.07, 0.06, 0.01, 0.01] {
            let _ = write!(
                line,
                "\t{}",
                flag(&mut r, if rich { 2.0 * p } else { p / 2.0 })
            );
        }
        let _ = writeln!(
            line,
            "\t3\t11\t{}",
            flag(&mut r, if rich { 0.3 } else { 0.05 })
        );
        s.push_str(&line);
    }
    let p = dir.join("marketing_campaign.csv");
    std::fs::write(&p, s).unwrap();
    p
}

/// Wholesale customers look-alike: `Channel` 1/2, `Region` 1/2/3, six spend columns, no id.
pub fn write_wholesale(dir: &Path, rows: usize) -> PathBuf {
    let mut r = Rng(3);
    let mut s =
        String::from("Channel,Region,Fresh,Milk,Grocery,Frozen,Detergents_Paper,Delicassen\n");
    for _ in 0..rows {
        let retail = r.unit() < 0.32;
        let region = if r.unit() < 0.7 { 3 } else { r.int(1, 2) };
        let w: [f64; 6] = if retail {
            [9000.0, 10000.0, 16000.0, 1500.0, 7000.0, 1500.0]
        } else {
            [13000.0, 3400.0, 4000.0, 3700.0, 800.0, 1400.0]
        };
        let v: Vec<String> = w.iter().map(|x| r.spend(*x).max(3).to_string()).collect();
        let _ = writeln!(s, "{},{region},{}", if retail { 2 } else { 1 }, v.join(","));
    }
    let p = dir.join("Wholesale customers data.csv");
    std::fs::write(&p, s).unwrap();
    p
}

fn model_json(models: &Path, name: &str) -> Value {
    let p = models.join(name).join("v1/model.json");
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

fn feature<'a>(m: &'a Value, name: &str) -> Option<&'a Value> {
    m["features"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
}

fn train(dir: &Path, args: &[&str]) -> String {
    let mut all = vec![
        "train",
        "--models-dir",
        "models",
        "--seed",
        "3",
        "--n-init",
        "3",
    ];
    all.extend_from_slice(args);
    let out = custseg(&all, dir);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    t
}

fn tiers(m: &Value) -> Vec<String> {
    m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["tier"].as_str().unwrap().to_string())
        .collect()
}

/// customer id → segment id of a CSV with `customer_id` and `segment_id` columns.
fn segments_of(path: &Path) -> HashMap<String, String> {
    let (h, rows) = read_csv(path);
    let id = h.iter().position(|c| c == "customer_id").unwrap();
    let seg = h.iter().position(|c| c == "segment_id").unwrap();
    rows.into_iter()
        .map(|r| (r[id].clone(), r[seg].clone()))
        .collect()
}

#[test]
fn r11_bank_like_table_without_id_trains_with_numbered_rows_and_leaves_y_out() {
    let dir = tempfile::tempdir().unwrap();
    write_bank(dir.path(), 400);
    let out = train(
        dir.path(),
        &["--customers", "bank.csv", "--k", "3", "--name", "bank"],
    );
    assert!(
        out.contains("no customer id column: rows are numbered"),
        "{out}"
    );
    assert!(out.contains("left out y: looks like an outcome"), "{out}");
    let m = model_json(&dir.path().join("models"), "bank");
    assert!(feature(&m, "y").is_none());
    assert!(feature(&m, "balance").is_some() && feature(&m, "job").is_some());
    let (_, rows) = read_csv(&dir.path().join("models/bank/v1/assignments.csv"));
    assert_eq!(rows.len(), 400);
    assert_eq!(rows[0][0], "1");
    assert_eq!(rows[399][0], "400");
    // Scoring the same file numbers its rows the same way.
    let out = custseg(
        &[
            "score",
            "--model",
            "models/bank",
            "--input",
            "bank.csv",
            "--output",
            "s.csv",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("no customer id column"),
        "{}",
        text(&out)
    );
    let scored = segments_of(&dir.path().join("s.csv"));
    let trained = segments_of(&dir.path().join("models/bank/v1/assignments.csv"));
    assert_eq!(scored, trained);
}

#[test]
fn r11_marketing_like_dates_birth_years_flags_outcome_and_spend() {
    let dir = tempfile::tempdir().unwrap();
    write_marketing(dir.path(), 500);
    let out = train(
        dir.path(),
        &[
            "--customers",
            "marketing_campaign.csv",
            "--k",
            "4",
            "--as-of",
            "2014-07-01",
            "--name",
            "mk",
        ],
    );
    assert!(!out.contains("declare it categorical"), "{out}");
    assert!(
        out.contains("left out response: looks like an outcome"),
        "{out}"
    );
    assert!(out.contains("dt_customer_days: dates (day-first)"), "{out}");
    assert!(out.contains("age: birth years as age"), "{out}");
    assert!(
        out.contains("value column: sum of mntwines, mntfruits"),
        "{out}"
    );
    assert!(out.contains("set apart by"), "{out}");
    let m = model_json(&dir.path().join("models"), "mk");
    assert_eq!(m["as_of"], "2014-07-01");
    assert!(feature(&m, "response").is_none());
    let days = feature(&m, "dt_customer_days").expect("Dt_Customer becomes days since as-of");
    assert_eq!(days["derived"]["kind"], "days_since");
    assert_eq!(days["derived"]["day_first"], true);
    assert_eq!(days["encoding"]["kind"], "numeric");
    // Days from 2014-06-29 (the latest date possible) to 2014-07-01 at least.
    assert!(days["encoding"]["min"].as_f64().unwrap() >= 2.0);
    let age = feature(&m, "age").expect("Year_Birth becomes age");
    assert_eq!(age["derived"]["kind"], "age_from_birth_year");
    let age_max = age["encoding"]["max"].as_f64().unwrap();
    assert!((18.0..=74.0).contains(&age_max), "{age_max}");
    for flag in ["acceptedcmp1", "complain", "acceptedcmp3"] {
        let f = feature(&m, flag).unwrap_or_else(|| panic!("{flag} is a feature"));
        assert_eq!(f["encoding"]["transform"], "none", "{flag}");
    }
    assert_eq!(
        m["value_column"].as_str().unwrap().matches("mnt").count(),
        6
    );
    let t = tiers(&m);
    assert!(t.iter().any(|x| x != "medium"), "{t:?}");
    let revenue: f64 = m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["share_revenue"].as_f64().unwrap())
        .sum();
    assert!((revenue - 1.0).abs() < 1e-9, "{revenue}");

    // Scored back with the same as-of (the model's), the date and birth-year rules give the
    // training segments; so does the model's own assignments.csv, which has the derived columns.
    let trained = segments_of(&dir.path().join("models/mk/v1/assignments.csv"));
    for input in ["marketing_campaign.csv", "models/mk/v1/assignments.csv"] {
        let out = custseg(
            &[
                "score",
                "--model",
                "models/mk",
                "--input",
                input,
                "--output",
                "s.csv",
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(segments_of(&dir.path().join("s.csv")), trained, "{input}");
    }
}

#[test]
fn r11_marketing_like_over_http_applies_the_same_date_rule() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_marketing(dir.path(), 300);
    train(
        dir.path(),
        &[
            "--customers",
            "marketing_campaign.csv",
            "--k",
            "3",
            "--as-of",
            "2014-07-01",
            "--name",
            "default",
        ],
    );
    let trained = segments_of(&dir.path().join("models/default/v1/assignments.csv"));
    // Customers as JSON from the raw table: Dt_Customer and Year_Birth as given in the file.
    let text = std::fs::read_to_string(file).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split('\t')
        .map(custseg::data::table::feature_name)
        .collect();
    let customers: Vec<Value> = lines
        .map(|l| {
            let mut o = serde_json::Map::new();
            for (h, v) in header.iter().zip(l.split('\t')) {
                let v = match (v.parse::<i64>(), v.parse::<f64>()) {
                    (Ok(n), _) => json!(n),
                    (_, Ok(x)) => json!(x),
                    _ if v.is_empty() => Value::Null,
                    _ => json!(v),
                };
                o.insert(
                    if h == "id" {
                        "customer_id".into()
                    } else {
                        h.clone()
                    },
                    v,
                );
            }
            Value::Object(o)
        })
        .collect();
    let s = start(config(&dir.path().join("models")));
    let r = post(
        s.addr,
        "/v1/score",
        &[],
        &json!({"as_of": "2014-07-01", "customers": customers}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), trained.len());
    for res in results {
        let id = res["customer_id"].as_i64().unwrap().to_string();
        assert_eq!(res["segment_id"].to_string(), trained[&id], "{res}");
        let w = res["warnings"].to_string();
        assert!(
            !w.contains("dt_customer") && !w.contains("year_birth"),
            "{w}"
        );
    }
}

#[test]
fn r11_wholesale_like_codes_are_categorical_and_the_value_column_is_said() {
    let dir = tempfile::tempdir().unwrap();
    write_wholesale(dir.path(), 440);
    let out = train(
        dir.path(),
        &[
            "--customers",
            "Wholesale customers data.csv",
            "--k",
            "3",
            "--name",
            "ws",
        ],
    );
    assert!(
        out.contains("channel: integer codes (2 levels) treated as categorical"),
        "{out}"
    );
    assert!(
        out.contains("region: integer codes (3 levels) treated as categorical"),
        "{out}"
    );
    assert!(out.contains("value column: none"), "{out}");
    let m = model_json(&dir.path().join("models"), "ws");
    assert_eq!(
        feature(&m, "channel").unwrap()["encoding"]["kind"],
        "categorical"
    );
    assert_eq!(
        feature(&m, "region").unwrap()["encoding"]["kind"],
        "categorical"
    );
    assert_eq!(feature(&m, "fresh").unwrap()["encoding"]["kind"], "numeric");
    assert!(m.get("value_column").is_none());

    // Declared kinds win; a configured sum of spend columns sets tiers.
    std::fs::write(
        dir.path().join("c.toml"),
        "[features.region]\nkind = \"numeric\"\n[segments]\nvalue_feature = \"fresh+milk+grocery+frozen+detergents_paper+delicassen\"\n",
    )
    .unwrap();
    let out = train(
        dir.path(),
        &[
            "--customers",
            "Wholesale customers data.csv",
            "--k",
            "4",
            "--name",
            "ws2",
            "--config",
            "c.toml",
        ],
    );
    assert!(out.contains("value column: sum of fresh, milk"), "{out}");
    let m = model_json(&dir.path().join("models"), "ws2");
    assert_eq!(
        feature(&m, "region").unwrap()["encoding"]["kind"],
        "numeric"
    );
    // The summed spend is the revenue that segment shares are of. (Tiers stay the median
    // percentile rule: here every segment median is in the middle third.)
    let shares: Vec<f64> = m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["share_revenue"].as_f64().unwrap())
        .collect();
    assert!(
        (shares.iter().sum::<f64>() - 1.0).abs() < 1e-9,
        "{shares:?}"
    );
    assert!(shares.iter().any(|s| *s > 0.4), "{shares:?}");
}

#[test]
fn r11_map_customer_id_and_pandas_index_columns_are_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("Unnamed: 0,Ref,spend,visits\n");
    for i in 0..60 {
        let _ = writeln!(s, "{i},R{},{},{}", 100 + i, (i * 37) % 500, i % 9);
    }
    std::fs::write(dir.path().join("t.csv"), s).unwrap();
    let out = train(
        dir.path(),
        &["--customers", "t.csv", "--k", "2", "--name", "idx"],
    );
    assert!(!out.contains("no customer id column"), "{out}");
    let (_, rows) = read_csv(&dir.path().join("models/idx/v1/assignments.csv"));
    assert_eq!(rows[5][0], "5");
    let out = train(
        dir.path(),
        &[
            "--customers",
            "t.csv",
            "--k",
            "2",
            "--name",
            "ref",
            "--map",
            "customer_id=Ref",
        ],
    );
    assert!(!out.contains("no customer id column"), "{out}");
    let (_, rows) = read_csv(&dir.path().join("models/ref/v1/assignments.csv"));
    assert_eq!(rows[5][0], "R105");
}

#[test]
fn r11_mall_customers_still_trains_and_scores_back() {
    let dir = tempfile::tempdir().unwrap();
    let mall = crate::common::dataset("Mall_Customers.csv");
    let mall = mall.to_str().unwrap();
    let out = train(
        dir.path(),
        &["--customers", mall, "--k", "5", "--name", "mall"],
    );
    assert!(!out.contains("no customer id column"), "{out}");
    assert!(
        out.contains("value column: spending_score_1_100 (a score: tiers only"),
        "{out}"
    );
    let m = model_json(&dir.path().join("models"), "mall");
    assert!(m.get("as_of").is_none_or(Value::is_null), "{}", m["as_of"]);
    assert_eq!(
        feature(&m, "genre").unwrap()["encoding"]["kind"],
        "categorical"
    );
    assert_eq!(feature(&m, "age").unwrap()["encoding"]["kind"], "numeric");
    let out = custseg(
        &[
            "score",
            "--model",
            "models/mall",
            "--input",
            mall,
            "--output",
            "s.csv",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        segments_of(&dir.path().join("s.csv")),
        segments_of(&dir.path().join("models/mall/v1/assignments.csv"))
    );
}
