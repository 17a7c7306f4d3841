//! `custseg export --format pmml`, checked by evaluating the exported document with a small
//! PMML interpreter written from the PMML 4.4 specification (DataDictionary validity,
//! MiningField missing/invalid value treatment, DerivedField expressions, squared Euclidean
//! nearest cluster) — it never calls custseg's encoder — against `Model::score` on every
//! training customer of real models, plus customers with missing values, unknown
//! categories, padded labels and hostile text. `scripts/verify_pmml.sh` does the same with a
//! real evaluator (pypmml).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use custseg::features::{Encoding, RawValue};
use custseg::Model;

use crate::common::{custseg, dataset, read_csv, repo, text};

// ---------------------------------------------------------------------------------------------
// A PMML ClusteringModel interpreter (the subset custseg writes, by the specification).

#[derive(Clone, Debug, PartialEq)]
enum Val {
    Num(f64),
    Str(String),
    Bool(bool),
    Missing,
}

#[derive(Debug)]
enum Expr {
    FieldRef(String),
    Constant(Val),
    Apply(String, Vec<Expr>),
    NormDiscrete {
        field: String,
        value: String,
        map_missing_to: Option<f64>,
    },
}

#[derive(Debug)]
struct InputField {
    name: String,
    continuous: bool,
    values: Vec<String>,
    replacement: Option<String>,
    invalid: String,
}

#[derive(Debug)]
struct Cluster {
    id: String,
    name: String,
    center: Vec<f64>,
}

#[derive(Debug)]
struct Pmml {
    inputs: Vec<InputField>,
    derived: Vec<(String, Expr)>,
    /// (field, weight) of every ClusteringField.
    fields: Vec<(String, f64)>,
    clusters: Vec<Cluster>,
}

fn ns_children<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    tag: &'static str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == tag)
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, tag: &'static str) -> roxmltree::Node<'a, 'i> {
    ns_children(node, tag)
        .next()
        .unwrap_or_else(|| panic!("<{}> has no <{tag}>", node.tag_name().name()))
}

fn parse_expr(node: roxmltree::Node) -> Expr {
    match node.tag_name().name() {
        "FieldRef" => Expr::FieldRef(node.attribute("field").unwrap().into()),
        "Constant" => {
            let t = node.text().unwrap_or_default();
            Expr::Constant(match node.attribute("dataType") {
                Some("double") | Some("float") | Some("integer") => {
                    Val::Num(t.trim().parse().unwrap())
                }
                _ => Val::Str(t.into()),
            })
        }
        "Apply" => Expr::Apply(
            node.attribute("function").unwrap().into(),
            node.children()
                .filter(|c| c.is_element())
                .map(parse_expr)
                .collect(),
        ),
        "NormDiscrete" => Expr::NormDiscrete {
            field: node.attribute("field").unwrap().into(),
            value: node.attribute("value").unwrap().into(),
            map_missing_to: node.attribute("mapMissingTo").map(|v| v.parse().unwrap()),
        },
        other => panic!("unsupported expression <{other}>"),
    }
}

impl Pmml {
    fn parse(xml: &str) -> Pmml {
        let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "PMML");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.dmg.org/PMML-4_4")
        );
        assert_eq!(root.attribute("version"), Some("4.4"));
        let model = child(root, "ClusteringModel");
        assert_eq!(model.attribute("functionName"), Some("clustering"));
        assert_eq!(model.attribute("modelClass"), Some("centerBased"));
        let schema = child(model, "MiningSchema");
        let inputs = ns_children(child(root, "DataDictionary"), "DataField")
            .map(|f| {
                let name = f.attribute("name").unwrap().to_string();
                let mf = ns_children(schema, "MiningField")
                    .find(|m| m.attribute("name") == Some(&name))
                    .expect("every field is in the mining schema");
                InputField {
                    continuous: f.attribute("optype") == Some("continuous"),
                    values: ns_children(f, "Value")
                        .map(|v| v.attribute("value").unwrap().to_string())
                        .collect(),
                    replacement: mf.attribute("missingValueReplacement").map(String::from),
                    invalid: mf
                        .attribute("invalidValueTreatment")
                        .unwrap_or("returnInvalid")
                        .into(),
                    name,
                }
            })
            .collect();
        let derived = ns_children(child(model, "LocalTransformations"), "DerivedField")
            .map(|d| {
                let expr = d.children().find(|c| c.is_element()).unwrap();
                (d.attribute("name").unwrap().to_string(), parse_expr(expr))
            })
            .collect();
        let measure = child(model, "ComparisonMeasure");
        assert_eq!(measure.attribute("kind"), Some("distance"));
        child(measure, "squaredEuclidean");
        let default_compare = measure.attribute("compareFunction").unwrap_or("absDiff");
        let fields = ns_children(model, "ClusteringField")
            .map(|f| {
                let compare = f.attribute("compareFunction").unwrap_or(default_compare);
                assert_eq!(compare, "absDiff");
                let w = f
                    .attribute("fieldWeight")
                    .map_or(1.0, |w| w.parse().unwrap());
                (f.attribute("field").unwrap().to_string(), w)
            })
            .collect::<Vec<_>>();
        let clusters: Vec<Cluster> = ns_children(model, "Cluster")
            .enumerate()
            .map(|(i, c)| {
                let array = child(c, "Array");
                assert_eq!(array.attribute("type"), Some("real"));
                let center: Vec<f64> = array
                    .text()
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(|v| v.parse().unwrap())
                    .collect();
                let n: usize = array.attribute("n").unwrap().parse().unwrap();
                assert_eq!(center.len(), n);
                Cluster {
                    id: c
                        .attribute("id")
                        .map_or_else(|| (i + 1).to_string(), String::from),
                    name: c.attribute("name").unwrap_or_default().into(),
                    center,
                }
            })
            .collect();
        assert_eq!(
            model.attribute("numberOfClusters"),
            Some(clusters.len().to_string().as_str())
        );
        assert!(clusters.iter().all(|c| c.center.len() == fields.len()));
        Pmml {
            inputs,
            derived,
            fields,
            clusters,
        }
    }

    /// Evaluates one record (raw text per input field; None = missing). Returns the winning
    /// cluster (first on ties) and its squared distance, or None for an invalid record.
    fn evaluate(&self, record: &HashMap<&str, Option<String>>) -> Option<(&Cluster, f64)> {
        let mut env: HashMap<&str, Val> = HashMap::new();
        for f in &self.inputs {
            let raw = record.get(f.name.as_str()).cloned().flatten();
            let typed = |s: &str| -> Option<Val> {
                if f.continuous {
                    s.trim().parse::<f64>().ok().map(Val::Num)
                } else {
                    Some(Val::Str(s.to_string()))
                }
            };
            let value = match raw {
                None => f.replacement.as_deref().map_or(Some(Val::Missing), typed),
                Some(s) => match typed(&s) {
                    Some(Val::Str(v)) if !f.values.is_empty() && !f.values.contains(&v) => {
                        match f.invalid.as_str() {
                            "asIs" => Some(Val::Str(v)),
                            "asMissing" => Some(Val::Missing),
                            _ => None,
                        }
                    }
                    Some(v) => Some(v),
                    None if f.invalid == "asMissing" => Some(Val::Missing),
                    None => None,
                },
            };
            env.insert(f.name.as_str(), value?);
        }
        for (name, expr) in &self.derived {
            let v = eval(expr, &env);
            env.insert(name.as_str(), v);
        }
        let x: Vec<f64> = self
            .fields
            .iter()
            .map(|(f, _)| match env.get(f.as_str()) {
                Some(Val::Num(v)) => *v,
                other => panic!("clustering field {f} is {other:?}"),
            })
            .collect();
        let mut best: Option<(&Cluster, f64)> = None;
        for c in &self.clusters {
            let d: f64 = x
                .iter()
                .zip(&c.center)
                .zip(&self.fields)
                .map(|((a, b), (_, w))| {
                    let diff = (a - b).abs();
                    w * (diff * diff)
                })
                .sum();
            if best.is_none_or(|(_, bd)| d < bd) {
                best = Some((c, d));
            }
        }
        best
    }
}

fn num(v: &Val) -> Option<f64> {
    match v {
        Val::Num(x) => Some(*x),
        _ => None,
    }
}

fn eval(e: &Expr, env: &HashMap<&str, Val>) -> Val {
    match e {
        Expr::FieldRef(f) => env.get(f.as_str()).cloned().unwrap_or(Val::Missing),
        Expr::Constant(v) => v.clone(),
        Expr::NormDiscrete {
            field,
            value,
            map_missing_to,
        } => match env.get(field.as_str()) {
            None | Some(Val::Missing) => map_missing_to.map_or(Val::Missing, Val::Num),
            Some(Val::Str(s)) => Val::Num(if s == value { 1.0 } else { 0.0 }),
            Some(other) => panic!("NormDiscrete on {other:?}"),
        },
        Expr::Apply(f, args) => {
            let a: Vec<Val> = args.iter().map(|x| eval(x, env)).collect();
            if f == "if" {
                return match a[0] {
                    Val::Bool(true) => a[1].clone(),
                    Val::Bool(false) => a.get(2).cloned().unwrap_or(Val::Missing),
                    _ => Val::Missing,
                };
            }
            if f == "trimBlanks" {
                return match &a[0] {
                    Val::Str(s) => Val::Str(s.trim().to_string()),
                    _ => Val::Missing,
                };
            }
            let Some(n) = a.iter().map(num).collect::<Option<Vec<f64>>>() else {
                return Val::Missing;
            };
            match (f.as_str(), n.as_slice()) {
                ("+", [x, y]) => Val::Num(x + y),
                ("-", [x, y]) => Val::Num(x - y),
                ("*", [x, y]) => Val::Num(x * y),
                ("/", [x, y]) => Val::Num(x / y),
                ("abs", [x]) => Val::Num(x.abs()),
                ("ln", [x]) => Val::Num(x.ln()),
                ("ln1p", [x]) => Val::Num(x.ln_1p()),
                ("sqrt", [x]) => Val::Num(x.sqrt()),
                ("lessThan", [x, y]) => Val::Bool(x < y),
                ("greaterThan", [x, y]) => Val::Bool(x > y),
                (f, args) => panic!("unsupported function {f} of {} arguments", args.len()),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Models and records.

/// Trains with the CLI into `store` and returns the version folder.
fn train(store: &Path, name: &str, args: &[&str]) -> PathBuf {
    let mut full = vec!["train", "--name", name, "--models-dir", "m"];
    full.extend_from_slice(args);
    let out = custseg(&full, store);
    assert!(out.status.success(), "{}", text(&out));
    store.join("m").join(name).join("v1")
}

/// Exports with the CLI and returns the document.
fn export(dir: &Path, cwd: &Path) -> String {
    let target = cwd.join(format!(
        "{}.pmml",
        dir.parent().unwrap().file_name().unwrap().to_string_lossy()
    ));
    let out = custseg(
        &[
            "export",
            "--model",
            dir.to_str().unwrap(),
            "--format",
            "pmml",
            "--output",
            target.to_str().unwrap(),
        ],
        cwd,
    );
    assert!(out.status.success(), "{}", text(&out));
    std::fs::read_to_string(target).unwrap()
}

/// A customer as text per feature (None = missing).
type Record = Vec<Option<String>>;

/// The training customers of a model version, from `assignments.csv`.
fn training_records(model: &Model, dir: &Path) -> Vec<Record> {
    let (header, rows) = read_csv(&dir.join("assignments.csv"));
    let cols: Vec<usize> = model
        .file
        .features
        .features
        .iter()
        .map(|f| header.iter().position(|h| *h == f.name).unwrap())
        .collect();
    rows.iter()
        .map(|r| {
            cols.iter()
                .map(|&c| Some(r[c].clone()).filter(|s| !s.is_empty()))
                .collect()
        })
        .collect()
}

/// Customers that exercise imputation, unknown and padded categories, from the first rows.
fn extra_records(model: &Model, base: &[Record]) -> Vec<Record> {
    let features = &model.file.features.features;
    let mut out = vec![vec![None; features.len()]];
    for (i, row) in base.iter().take(40).enumerate() {
        for (j, f) in features.iter().enumerate() {
            let mut r = row.clone();
            r[j] = None;
            out.push(r);
            if let Encoding::Categorical { levels, .. } = &f.encoding {
                let mut r = row.clone();
                r[j] = Some(format!("never seen {i}"));
                out.push(r);
                let mut r = row.clone();
                r[j] = Some(format!("  {} ", levels[i % levels.len()]));
                out.push(r);
            }
        }
    }
    out
}

fn raw_values(model: &Model, record: &Record) -> Vec<RawValue> {
    model
        .file
        .features
        .features
        .iter()
        .zip(record)
        .map(|(f, v)| match v {
            None => RawValue::Missing,
            Some(s) if f.is_numeric() => RawValue::Num(s.parse().unwrap()),
            Some(s) => RawValue::Text(s.clone()),
        })
        .collect()
}

/// Scores every record with the PMML interpreter and with `Model::score`, asserting they
/// agree (the interpreter computes in the same f64 operations, so exactly, even on ties);
/// returns how many records were checked.
fn compare(model: &Model, pmml: &Pmml, records: &[Record]) -> usize {
    let mut scratch = custseg::score::Scratch::default();
    let names: Vec<&str> = model
        .file
        .features
        .features
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    let mut checked = 0;
    for (i, rec) in records.iter().enumerate() {
        let expected = model
            .score(&raw_values(model, rec), None, &mut scratch)
            .unwrap();
        let segment = &model.file.segments[expected.index];
        let input: HashMap<&str, Option<String>> =
            names.iter().copied().zip(rec.iter().cloned()).collect();
        let (cluster, sq) = pmml
            .evaluate(&input)
            .unwrap_or_else(|| panic!("record {i} {rec:?} is invalid for the PMML"));
        assert_eq!(
            (cluster.id.as_str(), cluster.name.as_str()),
            (segment.id.to_string().as_str(), segment.name.as_str()),
            "record {i} {rec:?}: PMML and custseg disagree (margin {})",
            expected.margin
        );
        assert!(
            (sq.sqrt() - expected.distance).abs() <= 1e-9 * expected.distance.max(1.0),
            "record {i}: distance {} vs {}",
            sq.sqrt(),
            expected.distance
        );
        checked += 1;
    }
    checked
}

fn check_dataset(name: &str, args: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = train(tmp.path(), name, args);
    let model = Model::load(&dir).unwrap();
    let xml = export(&dir, tmp.path());
    let pmml = Pmml::parse(&xml);
    assert_eq!(pmml.clusters.len(), model.file.centroids.len());
    for ((c, s), centroid) in pmml
        .clusters
        .iter()
        .zip(&model.file.segments)
        .zip(&model.file.centroids)
    {
        assert_eq!((c.id.clone(), &c.name), (s.id.to_string(), &s.name));
        assert_eq!(&c.center, centroid, "centroids round-trip exactly");
    }
    let training = training_records(&model, &dir);
    assert_eq!(compare(&model, &pmml, &training), training.len());
    let extra = extra_records(&model, &training);
    assert_eq!(compare(&model, &pmml, &extra), extra.len());
    eprintln!(
        "{name}: {} training + {} extra customers agree",
        training.len(),
        extra.len()
    );
}

#[test]
fn pmml_matches_custseg_on_the_bundled_sample() {
    let sample = repo("data/sample");
    let s = |f: &str| sample.join(f).to_str().unwrap().to_string();
    check_dataset(
        "sample",
        &[
            "--transactions",
            &s("transactions.csv"),
            "--customers",
            &s("customers.csv"),
            "--config",
            &s("demo.toml"),
        ],
    );
}

#[test]
fn pmml_matches_custseg_on_mall_customers() {
    let mall = dataset("Mall_Customers.csv");
    check_dataset("mall", &["--customers", mall.to_str().unwrap(), "--k", "5"]);
}

#[test]
fn pmml_matches_custseg_on_cdnow() {
    let cdnow = dataset("CDNOW_master.txt");
    check_dataset(
        "cdnow",
        &[
            "--transactions",
            cdnow.to_str().unwrap(),
            "--k",
            "5",
            "--n-init",
            "3",
        ],
    );
}

#[test]
fn pmml_carries_hostile_names_levels_and_reordered_segment_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let mall = dataset("Mall_Customers.csv");
    let dir = train(
        tmp.path(),
        "mall",
        &["--customers", mall.to_str().unwrap(), "--k", "4"],
    );
    let mut file = Model::load(&dir).unwrap().file;
    let hostile = r#"Fe<m&"ale' x"#;
    let genre = file.features.position("genre").unwrap();
    let Encoding::Categorical { levels, impute, .. } = &mut file.features.features[genre].encoding
    else {
        panic!("genre is categorical")
    };
    let at = levels.iter().position(|l| l == "Female").unwrap();
    levels[at] = hostile.into();
    if impute == "Female" {
        *impute = hostile.into();
    }
    for s in &mut file.segments {
        s.name = format!("<{}> & \"{}\"", s.name, s.id);
    }
    let model =
        Model::from_slice(&serde_json::to_vec(&file).unwrap(), Path::new("model.json")).unwrap();
    let pmml = Pmml::parse(&custseg::export::pmml(&model.file).unwrap());
    assert!(pmml.clusters[0].name.starts_with('<'));
    let records: Vec<Record> = training_records(&model, &dir)
        .into_iter()
        .map(|mut r| {
            if r[genre].as_deref() == Some("Female") {
                r[genre] = Some(hostile.into());
            }
            r
        })
        .collect();
    assert_eq!(compare(&model, &pmml, &records), 200);

    // Segment ids that are not the centroid index (ids are kept across retrains): the PMML
    // names each cluster by its segment's id, in centroid order.
    let mut file = model.file.clone();
    let ids = [9, 4, 0, 12];
    for (s, id) in file.segments.iter_mut().zip(ids) {
        s.id = id;
    }
    let pmml = Pmml::parse(&custseg::export::pmml(&file).unwrap());
    let got: Vec<&str> = pmml.clusters.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(got, ["9", "4", "0", "12"]);
    let mut scratch = custseg::score::Scratch::default();
    let names: Vec<&str> = file
        .features
        .features
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    for rec in &records {
        let j = model
            .score(&raw_values(&model, rec), None, &mut scratch)
            .unwrap();
        let input: HashMap<&str, Option<String>> =
            names.iter().copied().zip(rec.iter().cloned()).collect();
        let (c, _) = pmml.evaluate(&input).unwrap();
        assert_eq!(c.id, ids[j.index].to_string());
    }
}

#[test]
fn export_cli_usage_stdout_and_immutable_model_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let mall = dataset("Mall_Customers.csv");
    let dir = train(
        tmp.path(),
        "mall",
        &["--customers", mall.to_str().unwrap(), "--k", "3"],
    );
    let listing = |d: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        v.sort();
        v
    };
    let before = listing(&dir);
    let run = |args: &[&str]| custseg(args, tmp.path());

    let bad = run(&[
        "export", "--model", "m/mall", "--format", "onnx", "--output", "x.onnx",
    ]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("--format"), "{}", text(&bad));
    assert!(!tmp.path().join("x.onnx").exists());

    for inside in ["m/mall/v1/model.pmml", "m/mall/model.pmml"] {
        let out = run(&[
            "export",
            "--model",
            "m/mall/v1",
            "--format",
            "pmml",
            "--output",
            inside,
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains("--output"), "{}", text(&out));
        assert!(!tmp.path().join(inside).exists());
    }

    let missing = run(&[
        "export", "--model", "m/nope", "--format", "pmml", "--output", "x.pmml",
    ]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));

    let stdout = run(&[
        "export", "--model", "m/mall", "--format", "pmml", "--output", "-",
    ]);
    assert!(stdout.status.success(), "{}", text(&stdout));
    let file = run(&[
        "export",
        "--model",
        "m/mall",
        "--format",
        "pmml",
        "--output",
        "mall.pmml",
    ]);
    assert!(file.status.success(), "{}", text(&file));
    assert!(text(&file).contains("mall v1"), "{}", text(&file));
    let written = std::fs::read(tmp.path().join("mall.pmml")).unwrap();
    assert_eq!(stdout.stdout, written);
    assert!(written.starts_with(b"<?xml"));
    // Exporting again replaces the file whole and leaves no temporary file behind.
    assert!(run(&[
        "export",
        "--model",
        "m/mall/v1",
        "--format",
        "pmml",
        "--output",
        "mall.pmml",
    ])
    .status
    .success());
    let stray: Vec<_> = listing(tmp.path())
        .into_iter()
        .filter(|n| n.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    assert_eq!(
        listing(&dir),
        before,
        "the model folder is never written into"
    );
}
