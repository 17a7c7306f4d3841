//! The trainer on real data: CDNOW (whitespace, YYYYMMDD), Mall customers (CRLF, no final
//! newline, demographics only), an Online-Retail-shaped invoice log, Parquet, folders, globs
//! and gzip.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use approx::assert_abs_diff_eq;
use custseg::data::dates::{days_from_civil, parse_date, DayOrder};
use custseg::features::spec::RawColumn;
use custseg::features::Encoding;
use custseg::Registry;
use linfa::traits::Predict;
use linfa_clustering::KMeans;
use linfa_nn::distance::L2Dist;

use crate::common::{self, adjusted_rand_index, custseg, dataset, read_csv, text, train_fixed};

/// Per-customer (recency, frequency, monetary, tenure) computed straight from the CDNOW
/// file: split on whitespace, skip the header, drop exact duplicate rows, then fold.
/// (recency, frequency, monetary, tenure) of one customer.
type Rfmt = (i32, usize, f64, i32);

fn cdnow_by_hand() -> (HashMap<String, Rfmt>, i32) {
    let text = std::fs::read_to_string(dataset("CDNOW_master.txt")).unwrap();
    let mut seen = HashSet::new();
    let mut per: HashMap<String, (i32, i32, HashSet<i32>, f64)> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut max_day = i32::MIN;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() || !seen.insert(f.join(" ")) {
            continue;
        }
        let (y, m, d) = (
            f[1][0..4].parse().unwrap(),
            f[1][4..6].parse().unwrap(),
            f[1][6..8].parse().unwrap(),
        );
        let day = days_from_civil(y, m, d);
        let amount: f64 = f[3].parse().unwrap();
        max_day = max_day.max(day);
        let e = per.entry(f[0].to_string()).or_insert_with(|| {
            order.push(f[0].to_string());
            (i32::MAX, i32::MIN, HashSet::new(), 0.0)
        });
        e.0 = e.0.min(day);
        e.1 = e.1.max(day);
        e.2.insert(day);
        e.3 += amount;
    }
    let as_of = max_day + 1;
    let out = per
        .into_iter()
        .map(|(id, (first, last, days, money))| {
            (id, (as_of - last, days.len(), money, as_of - first))
        })
        .collect();
    (out, as_of)
}

#[test]
fn cdnow_auto_k_assignments_match_an_independent_fold() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset("CDNOW_master.txt");
    let out = custseg(
        &[
            "train",
            "--transactions",
            data.to_str().unwrap(),
            "--k",
            "auto",
            "--n-init",
            "2",
            "--models-dir",
            "m",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let report = text(&out);
    assert!(report.contains("duplicate 255"), "{report}");

    let (expected, as_of) = cdnow_by_hand();
    assert_eq!(as_of, days_from_civil(1998, 7, 1));
    let (header, rows) = read_csv(&dir.path().join("m/default/v1/assignments.csv"));
    assert_eq!(
        &header[..6],
        [
            "customer_id",
            "recency_days",
            "frequency",
            "monetary",
            "avg_order_value",
            "tenure_days"
        ]
    );
    assert_eq!(rows.len(), 23_570);
    assert_eq!(rows.len(), expected.len());
    for r in &rows {
        let (recency, frequency, monetary, tenure) = expected[&r[0]];
        assert_eq!(r[1].parse::<i32>().unwrap(), recency, "recency of {}", r[0]);
        assert_eq!(
            r[2].parse::<usize>().unwrap(),
            frequency,
            "frequency of {}",
            r[0]
        );
        assert_eq!(
            r[3].parse::<f64>().unwrap(),
            monetary,
            "monetary of {}",
            r[0]
        );
        assert_eq!(r[5].parse::<i32>().unwrap(), tenure, "tenure of {}", r[0]);
    }
    // Ids keep their leading zeros.
    assert_eq!(rows[0][0], "00001");

    let model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("m/default/v1/model.json")).unwrap())
            .unwrap();
    assert_eq!(model["as_of"], "1998-07-01");
    let metrics: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("m/default/v1/metrics.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(metrics["k_search"].as_array().unwrap().len(), 9);
    assert_eq!(metrics["data"]["transactions"]["duplicate"], 255);
    assert_eq!(metrics["data"]["transactions"]["rows_read"], 69_659);
}

/// Builds linfa's own KMeans from the saved centroids (through its serde form) and checks its
/// `predict` against the trainer's assignments on the training matrix.
#[test]
fn cdnow_assignments_agree_with_linfa_predict() {
    let out = train_fixed(&[dataset("CDNOW_master.txt")], &[], &[], 5);
    let k = out.model.k;
    let d = out.model.features.n_columns();
    let flat: Vec<f64> = out.model.centroids.concat();
    let json = serde_json::json!({
        "centroids": {"v": 1, "dim": [k, d], "data": flat},
        "cluster_count": {"v": 1, "dim": [k], "data": vec![0.0; k]},
        "inertia": 0.0,
        "dist_fn": null,
    });
    let linfa_model: KMeans<f64, L2Dist> = serde_json::from_value(json).unwrap();
    let theirs: Vec<usize> = linfa_model.predict(&out.matrix).to_vec();
    assert_eq!(theirs.len(), out.assignments.labels.len());
    assert_eq!(adjusted_rand_index(&theirs, &out.assignments.labels), 1.0);
    assert_eq!(theirs, out.assignments.labels);
    // Segment sizes add up and names are unique.
    let total: u64 = out.model.segments.iter().map(|s| s.size).sum();
    assert_eq!(total, 23_570);
    let names: HashSet<&str> = out.model.segments.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), k);
}

#[test]
fn same_inputs_and_seed_give_byte_identical_models_except_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let sample = common::repo("data/sample");
    let run = |store: &str| {
        let out = custseg(
            &[
                "train",
                "--transactions",
                sample.join("transactions.csv").to_str().unwrap(),
                "--customers",
                sample.join("customers.csv").to_str().unwrap(),
                "--k-max",
                "5",
                "--seed",
                "3",
                "--models-dir",
                store,
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{}", text(&out));
        let s =
            std::fs::read_to_string(dir.path().join(store).join("default/v1/model.json")).unwrap();
        s.lines()
            .filter(|l| !l.contains("\"created_at\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(run("a"), run("b"));
    let other_seed = custseg(
        &[
            "train",
            "--transactions",
            sample.join("transactions.csv").to_str().unwrap(),
            "--k",
            "4",
            "--seed",
            "4",
            "--models-dir",
            "c",
        ],
        dir.path(),
    );
    assert!(other_seed.status.success());
}

/// An invoice log shaped like the UCI Online Retail data: order lines, 'C' cancellations with
/// negative quantities, float-formatted customer ids, blank ids, M/D/YYYY H:MM dates.
const RETAIL: &str = "\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850.0,United Kingdom
536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,17850.0,United Kingdom
536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,12/1/2010 8:34,1.69,13047.0,United Kingdom
536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,12/1/2010 8:34,1.69,13047.0,United Kingdom
C536379,D,Discount,-1,12/1/2010 9:41,27.50,14527.0,United Kingdom
536380,22961,JAM MAKING SET PRINTED,24,12/1/2010 9:41,1.45,14527.0,United Kingdom
536414,22139,RETROSPOT TEA SET CERAMIC 11 PC,56,12/1/2010 11:52,0.00,,United Kingdom
536544,21773,DECORATIVE ROSE BATHROOM BOTTLE,1,12/1/2010 14:32,2.51,,United Kingdom
536600,22086,PAPER CHAIN KIT 50'S CHRISTMAS,12,12/3/2010 10:01,2.55,17850.0,United Kingdom
C536601,22086,PAPER CHAIN KIT 50'S CHRISTMAS,-2,12/5/2010 10:01,2.55,17850.0,United Kingdom
536602,22086,PAPER CHAIN KIT 50'S CHRISTMAS,3,not a date,2.55,13047.0,United Kingdom
536603,22086,PAPER CHAIN KIT 50'S CHRISTMAS,3,12/6/2010 10:01,NaN,13047.0,United Kingdom
536604,22086,PAPER CHAIN KIT 50'S CHRISTMAS,4,12/9/2010 10:01,1.25,13047.0,United Kingdom
536605,22752,SET 7 BABUSHKA NESTING BOXES,2,12/9/2010 12:00,7.65,12583.0,France
";

#[test]
fn online_retail_shaped_log_is_cleaned_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("retail.csv");
    std::fs::write(&path, RETAIL).unwrap();
    // Every date is in December 1-9, so the day/month order must be given; the fixture drops
    // 2 of 15 rows for a missing id on purpose.
    let map = custseg::data::ColumnMap {
        date_format: Some(custseg::data::dates::DateFormat::parse("%m/%d/%Y %H:%M").unwrap()),
        ..Default::default()
    };
    let inputs = custseg::train::TrainInputs {
        transactions: vec![path],
        map,
        ..Default::default()
    };
    let params = linfa::ParamGuard::check(
        custseg::train::TrainParams::new()
            .k(custseg::train::KChoice::Fixed(2))
            .n_init(3)
            .seed(1)
            .max_dropped_share(1.0),
    )
    .unwrap();
    let out = custseg::train::train(
        &inputs,
        &params,
        None,
        &custseg::progress::Progress::hidden(),
    )
    .unwrap();
    let c = out.metrics.data.transactions.clone().unwrap();
    assert_eq!(c.rows_read, 15);
    assert_eq!(c.missing_customer_id, 2);
    assert_eq!(c.bad_date, 1);
    assert_eq!(c.bad_amount, 1);
    assert_eq!(c.duplicate, 1);
    assert_eq!(c.returns, 2);
    assert_eq!(c.rows_kept, 10);
    assert_eq!(
        c.first_seen["bad_date"],
        format!(
            "{} row 13 column InvoiceDate",
            dir.path().join("retail.csv").display()
        )
    );
    assert_eq!(
        c.first_seen["bad_amount"],
        format!(
            "{} row 14 column UnitPrice",
            dir.path().join("retail.csv").display()
        )
    );

    let as_of = parse_date("2010-12-10", DayOrder::MonthFirst).unwrap();
    assert_eq!(out.model.as_of.as_deref(), Some("2010-12-10"));
    let a = &out.assignments;
    assert_eq!(a.ids, ["17850", "13047", "14527", "12583"]);
    let col = |name: &str| match &a.columns.iter().find(|c| c.name == name).unwrap().values {
        RawColumn::Numbers(v) => v.iter().map(|x| x.unwrap()).collect::<Vec<f64>>(),
        RawColumn::Labels(_) => panic!("numeric expected"),
    };
    let dec1 = parse_date("2010-12-01", DayOrder::MonthFirst).unwrap();
    let dec3 = parse_date("2010-12-03", DayOrder::MonthFirst).unwrap();
    let dec9 = parse_date("2010-12-09", DayOrder::MonthFirst).unwrap();
    // 17850: invoices 536365, 536366 (Dec 1) and 536600 (Dec 3); cancellation C536601 is a return.
    assert_eq!(col("recency_days")[0], f64::from(as_of - dec3));
    assert_eq!(col("frequency")[0], 3.0);
    assert_abs_diff_eq!(
        col("monetary")[0],
        6.0 * 2.55 + 6.0 * 3.39 + 6.0 * 1.85 + 12.0 * 2.55 - 2.0 * 2.55,
        epsilon = 1e-9
    );
    assert_eq!(col("tenure_days")[0], f64::from(as_of - dec1));
    // 13047: one invoice on Dec 1 (its duplicate line dropped) and one on Dec 9.
    assert_eq!(col("frequency")[1], 2.0);
    assert_abs_diff_eq!(col("monetary")[1], 32.0 * 1.69 + 4.0 * 1.25, epsilon = 1e-9);
    assert_eq!(col("recency_days")[1], f64::from(as_of - dec9));
    // 14527: the discount line is a return, not an order.
    assert_eq!(col("frequency")[2], 1.0);
    assert_abs_diff_eq!(col("monetary")[2], 24.0 * 1.45 - 27.5, epsilon = 1e-9);
}

#[test]
fn mall_customers_demographics_only() {
    let out = train_fixed(&[], &[dataset("Mall_Customers.csv")], &[], 5);
    assert_eq!(out.assignments.ids.len(), 200);
    assert_eq!(out.assignments.ids[0], "0001");
    assert_eq!(out.assignments.ids[199], "0200");
    let names: Vec<&str> = out
        .model
        .features
        .features
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["genre", "age", "annual_income_k", "spending_score_1_100"]
    );
    let Encoding::Categorical { levels, .. } = &out.model.features.features[0].encoding else {
        panic!("genre must be categorical")
    };
    assert_eq!(levels, &["Female", "Male"]);
    assert_eq!(out.model.as_of, None);
    // The last row has no final newline and must still be read.
    let RawColumn::Numbers(age) = &out.assignments.columns[1].values else {
        panic!()
    };
    assert_eq!(age[199], Some(30.0));
    assert!(out.model.segments.iter().all(|s| !s.name.is_empty()));
}

fn write_parquet(path: &std::path::Path, ids: &[&str], days: &[i32], amounts: &[f64]) {
    use parquet::basic::Compression;
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    let schema = Arc::new(
        parse_message_type(
            "message tx { REQUIRED BYTE_ARRAY CustomerID (UTF8); REQUIRED INT32 order_date (DATE); REQUIRED DOUBLE amount; }",
        )
        .unwrap(),
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let mut w =
        SerializedFileWriter::new(std::fs::File::create(path).unwrap(), schema, props).unwrap();
    let mut rg = w.next_row_group().unwrap();
    let ids: Vec<ByteArray> = ids.iter().map(|s| ByteArray::from(*s)).collect();
    let mut c = rg.next_column().unwrap().unwrap();
    c.typed::<ByteArrayType>()
        .write_batch(&ids, None, None)
        .unwrap();
    c.close().unwrap();
    let mut c = rg.next_column().unwrap().unwrap();
    c.typed::<Int32Type>()
        .write_batch(days, None, None)
        .unwrap();
    c.close().unwrap();
    let mut c = rg.next_column().unwrap().unwrap();
    c.typed::<DoubleType>()
        .write_batch(amounts, None, None)
        .unwrap();
    c.close().unwrap();
    rg.close().unwrap();
    w.close().unwrap();
}

#[test]
fn parquet_folder_glob_and_gzip_give_the_same_features_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let ids = ["a", "b", "c", "a", "b", "d", "e", "e"];
    let days: Vec<i32> = [1, 2, 3, 10, 20, 21, 5, 30]
        .iter()
        .map(|d| days_from_civil(2024, 1, 1) + d)
        .collect();
    let amounts = [10.0, 20.5, 3.0, 7.25, -2.0, 100.0, 1.0, 2.0];
    let mut csv = String::from("CustomerID;order_date;amount\n");
    for i in 0..ids.len() {
        csv.push_str(&format!(
            "{};{};{}\n",
            ids[i],
            custseg::data::dates::format_day(days[i]),
            amounts[i]
        ));
    }
    let csv_path = dir.path().join("one.csv");
    std::fs::write(&csv_path, &csv).unwrap();
    let pq = dir.path().join("tx.parquet");
    write_parquet(&pq, &ids, &days, &amounts);
    // The same rows split over two gzipped files in a folder.
    let parts = dir.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    for (i, chunk) in [&lines[1..4], &lines[4..]].iter().enumerate() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        writeln!(enc, "{}", lines[0]).unwrap();
        for l in chunk.iter() {
            writeln!(enc, "{l}").unwrap();
        }
        std::fs::write(parts.join(format!("part{i}.csv.gz")), enc.finish().unwrap()).unwrap();
    }
    let reference = train_fixed(&[csv_path], &[], &[], 2);
    let glob = PathBuf::from(format!("{}/part*.csv.gz", parts.display()));
    for input in [pq, parts.clone(), glob] {
        let other = train_fixed(std::slice::from_ref(&input), &[], &[], 2);
        assert_eq!(
            other.assignments.ids,
            reference.assignments.ids,
            "{}",
            input.display()
        );
        for (a, b) in other
            .assignments
            .columns
            .iter()
            .zip(&reference.assignments.columns)
        {
            match (&a.values, &b.values) {
                (RawColumn::Numbers(x), RawColumn::Numbers(y)) => {
                    assert_eq!(x, y, "{} from {}", a.name, input.display())
                }
                _ => panic!("numeric features expected"),
            }
        }
        assert_eq!(other.model.centroids, reference.model.centroids);
    }
}

#[test]
fn transactions_and_customer_table_join_with_imputation() {
    let sample = common::repo("data/sample");
    let out = train_fixed(
        &[sample.join("transactions.csv")],
        &[sample.join("customers.csv")],
        &[],
        4,
    );
    let names: Vec<&str> = out
        .model
        .features
        .features
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "recency_days",
            "frequency",
            "monetary",
            "avg_order_value",
            "tenure_days",
            "return_rate",
            "age",
            "gender",
            "annual_income",
            "occupation",
            "region",
            "signup_channel"
        ]
    );
    let imputed: BTreeMap<String, u64> = out.metrics.data.imputed.iter().cloned().collect();
    assert!(imputed["age"] > 0 && imputed["region"] > 0, "{imputed:?}");
    assert_eq!(out.metrics.data.customers_without_profile, 0);
    assert!(out.metrics.data.transactions.as_ref().unwrap().returns > 0);
}

#[test]
fn registry_versions_current_promote_and_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("models");
    let reg = Registry::new(&store);
    let mall = dataset("Mall_Customers.csv");
    let mut out = train_fixed(&[], std::slice::from_ref(&mall), &[], 3);
    assert_eq!(reg.save("mall", &mut out, false).unwrap().0, 1);
    assert_eq!(
        reg.current("mall").unwrap(),
        Some(1),
        "the first version becomes CURRENT"
    );
    let mut out = train_fixed(&[], &[mall], &[], 4);
    assert_eq!(reg.save("mall", &mut out, false).unwrap().0, 2);
    assert_eq!(
        reg.current("mall").unwrap(),
        Some(1),
        "no-promote keeps CURRENT"
    );
    let s = store.to_str().unwrap();
    let run = |args: &[&str]| custseg(args, dir.path());
    assert!(run(&["models", "promote", "mall", "v2", "--models-dir", s])
        .status
        .success());
    assert_eq!(reg.current("mall").unwrap(), Some(2));
    let listed = text(&run(&["models", "list", "--models-dir", s]));
    assert!(
        listed.contains("mall") && listed.contains("v2*"),
        "{listed}"
    );
    let shown = run(&["models", "show", "mall/v1", "--models-dir", s]);
    assert!(
        shown.status.success() && text(&shown).contains("k = 3"),
        "{}",
        text(&shown)
    );
    assert!(run(&["models", "rollback", "mall", "--models-dir", s])
        .status
        .success());
    assert_eq!(reg.current("mall").unwrap(), Some(1));
    let again = run(&["models", "rollback", "mall", "--models-dir", s]);
    assert_eq!(again.status.code(), Some(2), "nothing before v1");
    // No temporary folders are left behind and every version loads.
    let leftovers: Vec<_> = std::fs::read_dir(store.join("mall"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    for v in reg.versions("mall").unwrap() {
        custseg::Model::load(&store.join(format!("mall/v{v}"))).unwrap();
    }
}
