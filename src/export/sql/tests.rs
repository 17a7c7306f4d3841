use super::*;
use crate::model::Model;

/// The golden model with the column records a current training writes.
fn golden() -> ModelFile {
    let json = include_bytes!("../../../tests/data/golden/v1/model.json");
    let mut m = Model::from_slice(json, std::path::Path::new("golden/v1/model.json"))
        .expect("golden model loads")
        .file;
    let roles = [
        ("customer_id", "customer_id"),
        ("date", "order_date"),
        ("order_id", "order_id"),
        ("quantity", "quantity"),
        ("unit_price", "unit_price"),
    ];
    m.input.transaction_columns = roles
        .iter()
        .map(|(f, c)| (f.to_string(), c.to_string()))
        .collect();
    m.input.transaction_header = [
        "order_id",
        "customer_id",
        "order_date",
        "quantity",
        "unit_price",
        "note",
    ]
    .map(String::from)
    .to_vec();
    m.input.customer_id_column = Some("customer_id".into());
    m
}

fn opts(dialect: Dialect) -> SqlOptions {
    SqlOptions {
        dialect,
        transactions_table: "transactions".into(),
        customers_table: Some("customers".into()),
        as_of: None,
    }
}

#[test]
fn one_query_with_every_step_and_the_output_columns() {
    let m = golden();
    let q = sql(&m, &opts(Dialect::DuckDb)).unwrap();
    for cte in [
        "lines",
        "deduped",
        "txns",
        "windowed",
        "rfm",
        "profiles",
        "features",
        "scaled",
        "distances",
        "best",
    ] {
        assert!(q.contains(&format!("\n{cte} AS (\n")), "{cte}: {q}");
    }
    for out in [
        "AS customer_id",
        "AS segment_id",
        "AS segment,",
        "AS tier",
        "AS action",
        "AS distance",
    ] {
        assert!(q.contains(out), "{out}");
    }
    assert!(q.contains("SELECT DISTINCT * FROM lines"));
    assert!(q.contains(r#"FROM "transactions""#) && q.contains(r#"FROM "customers""#));
    assert!(
        q.contains("cs_day < DATE '2026-07-01'"),
        "the model's as-of"
    );
    // One scaled column per model column, one distance per centroid.
    let n = m.features.n_columns();
    assert_eq!(q.matches(" AS cs_s").count(), n);
    let distances = q.matches(" AS cs_d").count() - q.matches(" AS cs_day").count();
    assert_eq!(distances, m.centroids.len());
    assert!(!q.contains("r_score"), "the golden model has no lifecycle");
    // Every centroid value appears as its exact digits.
    for c in &m.centroids {
        for v in c {
            assert!(q.contains(&Dialect::DuckDb.number(*v)), "{v}");
        }
    }
}

#[test]
fn segments_are_picked_first_on_ties_with_their_ids_names_and_tiers() {
    let mut m = golden();
    let ids = [7, 2, 11, 0];
    for (s, id) in m.segments.iter_mut().zip(ids) {
        s.id = id;
    }
    m.segments[1].name = "Loyal 'true' fans".into();
    let q = sql(&m, &opts(Dialect::Postgres)).unwrap();
    assert!(q.contains("LEAST(cs_d0, cs_d1, cs_d2, cs_d3) AS cs_best"));
    let id_case = "CASE WHEN cs_d0 = cs_best THEN 7 WHEN cs_d1 = cs_best THEN 2 WHEN cs_d2 = cs_best THEN 11 WHEN cs_d3 = cs_best THEN 0 END AS segment_id";
    assert!(q.contains(id_case), "{q}");
    assert!(q.contains("THEN 'Loyal ''true'' fans'"));
    let spark = sql(&m, &opts(Dialect::Spark)).unwrap();
    assert!(spark.contains(r"THEN 'Loyal \'true\' fans'"));
}

#[test]
fn categorical_levels_and_names_are_escaped_never_spliced() {
    let mut m = golden();
    let g = m.features.position("gender").unwrap();
    if let Encoding::Categorical { levels, .. } = &mut m.features.features[g].encoding {
        levels[0] = "x'); DROP TABLE customers; --".into();
    }
    m.features.features[g].column = Some(r#"gen"der"#.into());
    let q = sql(&m, &opts(Dialect::DuckDb)).unwrap();
    assert!(q.contains("= 'x''); DROP TABLE customers; --' THEN"));
    assert!(q.contains(r#""gen""der""#));
    let mut bad = golden();
    bad.segments[0].name = "a\0b".into();
    assert!(matches!(
        sql(&bad, &opts(Dialect::DuckDb)),
        Err(SqlError::Nul { .. })
    ));
}

#[test]
fn behaviour_features_are_refused_by_name() {
    let mut m = golden();
    m.features.features[4].name = "category_share:Wine".into();
    let e = sql(&m, &opts(Dialect::DuckDb)).unwrap_err();
    assert!(
        matches!(&e, SqlError::Unsupported { feature, .. } if feature == "category_share:Wine"),
        "{e}"
    );
    assert!(e.to_string().contains("behaviour or event feature"), "{e}");
}

#[test]
fn customer_features_need_the_customer_table() {
    let m = golden();
    let mut o = opts(Dialect::DuckDb);
    o.customers_table = None;
    let e = sql(&m, &o).unwrap_err();
    assert!(matches!(e, SqlError::NeedsCustomersTable { .. }), "{e}");
    assert!(e.to_string().contains("age, gender"), "{e}");
}

#[test]
fn models_without_recorded_columns_are_refused() {
    let mut m = golden();
    m.input.transaction_columns.clear();
    let e = sql(&m, &opts(Dialect::DuckDb)).unwrap_err();
    assert!(matches!(e, SqlError::NotRecorded { .. }), "{e}");
    let mut m = golden();
    m.input.customer_id_column = None;
    assert!(matches!(
        sql(&m, &opts(Dialect::DuckDb)),
        Err(SqlError::NotRecorded { .. })
    ));
}

#[test]
fn duplicates_are_distinct_over_every_column_unless_kept() {
    let mut m = golden();
    let q = sql(&m, &opts(Dialect::DuckDb)).unwrap();
    // The role columns, and every other column of the training log.
    assert!(q.contains(r#""note" AS cs_x0"#), "{q}");
    assert!(q.contains(r#""quantity" AS cs_q"#) && q.contains(r#""unit_price" AS cs_p"#));
    assert!(q.contains(r#"CAST(cs_q AS DOUBLE) * CAST(cs_p AS DOUBLE) AS cs_amount"#));
    m.params.keep_duplicates = true;
    let q = sql(&m, &opts(Dialect::DuckDb)).unwrap();
    assert!(!q.contains("DISTINCT *") && q.contains("SELECT * FROM lines"));
}

#[test]
fn as_of_window_and_filters_follow_the_model() {
    let mut m = golden();
    m.params.window_days = Some(30);
    m.params.filters.exclude.push(crate::data::Exclude {
        column: "NOTE".into(),
        pattern: "TEST|PO'ST".into(),
    });
    m.params.filters.min_unit_price = Some(0.01);
    let mut o = opts(Dialect::Spark);
    o.as_of = Some(crate::data::dates::days_from_civil(2025, 2, 1));
    let q = sql(&m, &o).unwrap();
    assert!(q.contains("cs_day < DATE '2025-02-01'"));
    assert!(q.contains("cs_day >= DATE '2025-01-02'"), "{q}");
    assert!(
        q.contains(r"NOT (COALESCE(TRIM(CAST(`note` AS STRING)), '') RLIKE '^(?:TEST|PO\'ST)$')"),
        "{q}"
    );
    assert!(q.contains("NOT COALESCE(CAST(`unit_price` AS DOUBLE) < 1e-2, FALSE)"));
}

#[test]
fn numeric_encoding_keeps_custsegs_order_of_operations() {
    let m = golden();
    let q = sql(&m, &opts(Dialect::DuckDb)).unwrap();
    let f = &m.features.features[2];
    let Encoding::Numeric {
        mean,
        std,
        transform,
        ..
    } = &f.encoding
    else {
        panic!("monetary is numeric")
    };
    let d = Dialect::DuckDb;
    let t = match transform {
        Transform::Log1p => {
            "CASE WHEN cs_v2 < 0 THEN -(LN(1e0 + -(cs_v2))) ELSE LN(1e0 + cs_v2) END".to_string()
        }
        Transform::None => "cs_v2".into(),
    };
    let expect = format!(
        "({t} - {}) / {} * {} AS cs_s2",
        d.number(*mean),
        d.number(*std),
        d.number(f.weight.sqrt())
    );
    assert!(q.contains(&expect), "{expect}\n{q}");
}

#[test]
fn lifecycle_scores_and_stage_come_with_models_that_have_them() {
    let mut m = golden();
    m.lifecycle = Some(ValueModel {
        recency_cuts: [10.0, 20.0, 30.0, 40.0],
        frequency_cuts: [1.0, 1.0, 2.0, 3.0],
        monetary_cuts: [5.0, 10.0, 20.0, 50.0],
        typical_interval_days: 12.5,
    });
    let q = sql(&m, &opts(Dialect::BigQuery)).unwrap();
    assert!(q.contains("AS r_score") && q.contains("AS f_score") && q.contains("AS m_score"));
    assert!(q.contains("CASE WHEN cs_tenure < 1.25e1 THEN 'new'"), "{q}");
    assert!(q.contains("THEN 'at_risk'") && q.contains("ELSE 'churned' END AS lifecycle"));
    assert!(q.contains("DATE_DIFF(DATE '2026-07-01', cs_day, DAY)"));
    assert!(q.contains("FROM `transactions`"));
}

#[test]
fn every_dialect_writes_a_query() {
    let m = golden();
    for d in Dialect::ALL {
        let q = sql(&m, &opts(d)).unwrap();
        assert!(q.starts_with("-- custseg model"), "{}", d.name());
        assert!(q.contains(d.double()), "{}", d.name());
    }
    let snow = sql(&m, &opts(Dialect::Snowflake)).unwrap();
    assert!(snow.contains("DATEDIFF(day, cs_day, DATE '2026-07-01')"));
    assert!(snow.contains(r#"TRIM(CAST("customer_id" AS VARCHAR), ' ')"#));
}

#[test]
fn a_model_without_an_as_of_needs_one() {
    let mut m = golden();
    m.as_of = None;
    assert!(matches!(
        sql(&m, &opts(Dialect::DuckDb)),
        Err(SqlError::NoAsOf)
    ));
    let mut o = opts(Dialect::DuckDb);
    o.as_of = Some(crate::data::dates::days_from_civil(2026, 1, 1));
    assert!(sql(&m, &o).unwrap().contains("cs_day < DATE '2026-01-01'"));
}

#[test]
fn a_customer_table_model_reads_the_customer_table_only() {
    let mut m = golden();
    m.features.features.drain(..5);
    for c in &mut m.centroids {
        c.drain(..5);
    }
    m.input.transaction_columns.clear();
    m.as_of = None;
    let mut o = opts(Dialect::Postgres);
    o.transactions_table = "never_read".into();
    let q = sql(&m, &o).unwrap();
    assert!(
        q.contains("FROM profiles p") && !q.contains("never_read"),
        "{q}"
    );
    assert!(!q.contains("\nrfm AS") && !q.contains("cs_recency"));
    assert!(q.contains("features AS MATERIALIZED (") && q.contains("scaled AS MATERIALIZED ("));
}
