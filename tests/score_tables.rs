//! `custseg score` of customer tables in awkward text (issue 13): the rows, ids and row
//! numbers a file gives are the ones written in each test, whatever the quoting, line ends,
//! blank lines or thread count, and as training reads the same file.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::common::{custseg, dataset, read_csv, text};

const HEADER: &str = "CustomerID,Genre,Age,Annual Income (k$),Spending Score (1-100)";

/// A folder with model `mall` trained on the public Mall customers (once per test run).
fn models() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mall = dataset("Mall_Customers.csv");
        let args = ["train", "--customers", mall.to_str().unwrap()];
        let out = custseg(
            &[&args[..], &["--k", "5", "--name", "mall"]].concat(),
            dir.path(),
        );
        assert!(out.status.success(), "{}", text(&out));
        dir
    })
    .path()
}

/// The first `n` data lines of Mall_Customers.csv, split into fields.
fn mall_rows(n: usize) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dataset("Mall_Customers.csv")).unwrap();
    let rows = text.lines().skip(1).take(n);
    rows.map(|l| l.split(',').map(String::from).collect())
        .collect()
}

/// Scores `files` (written into a fresh folder) with `mall` on `threads` threads.
fn score(files: &[(&str, &[u8])], extra: &[&str], threads: &str) -> (Output, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["score".to_string(), "--model".into()];
    args.push(models().join("models/mall").display().to_string());
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        args.extend(["--input".to_string(), name.to_string()]);
    }
    args.extend(["--output", "s.csv"].map(String::from));
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = Command::new(env!("CARGO_BIN_EXE_custseg"))
        .args(&args)
        .current_dir(dir.path())
        .env("CI", "1")
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap();
    let csv = std::fs::read(dir.path().join("s.csv")).unwrap_or_default();
    (out, csv)
}

/// Ids and segments of a scored CSV.
fn ids_and_segments(csv: &[u8]) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.csv");
    std::fs::write(&p, csv).unwrap();
    let (header, rows) = read_csv(&p);
    let seg = header.iter().position(|h| h == "segment_id").unwrap();
    rows.into_iter()
        .map(|r| (r[0].clone(), r[seg].clone()))
        .collect()
}

/// The error line of a failed run, which must be exit 2.
fn error_of(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{}", text(out));
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

#[test]
fn awkward_text_scores_the_same_customers_as_plain_csv() {
    let rows = mall_rows(6);
    let plain: String = rows.iter().map(|r| r.join(",") + "\n").collect();
    let plain = format!("{HEADER}\n{plain}");
    let (out, expected) = score(&[("plain.csv", plain.as_bytes())], &[], "2");
    assert!(out.status.success(), "{}", text(&out));
    let expected = ids_and_segments(&expected);
    let ids: Vec<&str> = expected.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["0001", "0002", "0003", "0004", "0005", "0006"]);
    let r = |i: usize| rows[i].join(",");
    let (quoted_id, rest) = rows[2].split_first().unwrap();
    let variants = [
        // CRLF, a byte-order mark, blank lines and no final line end.
        format!(
            "\u{feff}{HEADER}\r\n\r\n{}\r\n{}\r\n \r\n{}\r\n{}\r\n\r\n{}\r\n{}",
            r(0),
            r(1),
            r(2),
            r(3),
            r(4),
            r(5)
        ),
        // Quoted fields with a delimiter, line feeds and a quote inside, in an extra column.
        format!(
            "{HEADER},Note\n{},\"a, b\nc\"\n{},\"x\n\ny\"\"z\"\n\"{quoted_id}\",{},plain\n{},\n{},\"\n\"\n{}\n",
            r(0),
            r(1),
            rest.join(","),
            r(3),
            r(4),
            r(5)
        ),
    ];
    for v in &variants {
        for threads in ["1", "2"] {
            let (out, csv) = score(&[("t.csv", v.as_bytes())], &[], threads);
            assert!(out.status.success(), "{v:?}: {}", text(&out));
            assert_eq!(
                ids_and_segments(&csv),
                expected,
                "{v:?} on {threads} threads"
            );
        }
    }
}

#[test]
fn errors_name_the_row_an_editor_shows_after_blank_lines_crlf_and_quoted_line_feeds() {
    let bad = "0009,Male,nineteen,15,3";
    let cases = [
        // Header at line 3, customers at 5, 6 and 9, the bad row at line 11.
        (
            format!("\n\n{HEADER}\n\n0001,Male,19,15,39\n0002,Male,21,15,81\n\n \n0003,Female,20,16,6\n\n{bad}\n"),
            11,
        ),
        // The same with CRLF.
        (
            format!("\n\n{HEADER}\n\n0001,Male,19,15,39\n0002,Male,21,15,81\n\n \n0003,Female,20,16,6\n\n{bad}\n")
                .replace('\n', "\r\n"),
            11,
        ),
        // A quoted id spanning lines 2-4.
        (format!("{HEADER}\n\"00\n\n01\",Male,19,15,39\n{bad}\n"), 5),
        // No header: the first line is row 1.
        ("0001,Male,19,15,39\n\n0002,Male,21,15,81\n0009,Male,19,15x,3\n".into(), 4),
    ];
    for (table, row) in &cases {
        let headerless = !table.contains("CustomerID");
        let map: &[&str] = if headerless {
            &[
                "--map",
                "customer_id=1",
                "--map",
                "genre=2",
                "--map",
                "age=3",
            ]
        } else {
            &[]
        };
        let extra = [
            map,
            &[
                "--map",
                "annual_income_k=4",
                "--map",
                "spending_score_1_100=5",
            ],
        ];
        let extra = if headerless {
            extra.concat()
        } else {
            Vec::new()
        };
        for threads in ["1", "2"] {
            let (out, _) = score(&[("t.csv", table.as_bytes())], &extra, threads);
            let e = error_of(&out);
            assert!(
                e.contains(&format!("t.csv row {row} column ")),
                "{table:?}: {e}"
            );
        }
    }
    // A repeated id names both rows as an editor counts them (header at 3, 0002 at 6 and 11).
    let dup = format!(
        "\n\n{HEADER}\r\n\r\n0001,Male,19,15,39\r\n0002,Male,21,15,81\r\n\r\n\r\n0003,Male,1,2,3\r\n\r\n0002,Female,19,15,3\r\n"
    );
    let (out, _) = score(&[("d.csv", dup.as_bytes())], &[], "2");
    let e = error_of(&out);
    assert!(
        e.contains("d.csv row 11: customer id already appeared at row 6"),
        "{e}"
    );
}

#[test]
fn an_id_repeated_in_a_later_file_names_both_files() {
    // 0002 is row 3 of a.csv and row 2 of b.csv; b's own repeat (0009) names only b.
    let a = format!("{HEADER}\n0001,Male,19,15,39\n0002,Male,21,15,81\n");
    let b = format!("{HEADER}\n0002,Female,19,15,3\n");
    let c = format!("{HEADER}\n0009,Female,19,15,3\n0008,Male,3,4,5\n0009,Male,1,2,3\n");
    let cases = [
        (
            "b.csv",
            b,
            "b.csv row 2: customer id already appeared at row 3 of a.csv",
        ),
        (
            "c.csv",
            c,
            "c.csv row 4: customer id already appeared at row 2 (a customer",
        ),
    ];
    for threads in ["1", "2"] {
        for (name, second, want) in &cases {
            let files = [("a.csv", a.as_bytes()), (*name, second.as_bytes())];
            let e = error_of(&score(&files, &[], threads).0);
            assert!(e.contains(want), "{e}");
        }
    }
}

#[test]
fn the_first_bad_row_in_file_order_stops_the_run() {
    // Row 4 has a bad number, row 5 too many fields, row 6 a repeated id.
    let t = format!(
        "{HEADER}\n0001,Male,19,15,39\n0002,Male,21,15,81\n0003,Male,old,15,3\n0004,Male,19,15,3,extra\n0001,Male,1,1,1\n"
    );
    let (out, _) = score(&[("t.csv", t.as_bytes())], &[], "2");
    assert!(
        error_of(&out).contains("t.csv row 4 column Age"),
        "{}",
        text(&out)
    );
    let t = t.replace(",old,", ",19,");
    let (out, _) = score(&[("t.csv", t.as_bytes())], &[], "2");
    let e = error_of(&out);
    assert!(e.contains("t.csv row 5: malformed: 6 fields"), "{e}");
}

#[test]
fn a_table_without_ids_over_two_files_is_numbered_in_order_on_any_thread_count() {
    let rows = mall_rows(200);
    let body = |rows: &[Vec<String>]| -> String {
        let lines = rows.iter().map(|r| r[1..].join(",") + "\n");
        let mut s = String::from("Genre,Age,Annual Income (k$),Spending Score (1-100)\n");
        for (i, l) in lines.enumerate() {
            // Blank lines and a quoted field here and there.
            if i % 7 == 0 {
                s.push('\n');
            }
            if i % 11 == 0 {
                s.push_str(&format!("\"{}", l.replacen(',', "\",", 1)));
            } else {
                s.push_str(&l);
            }
        }
        s
    };
    let (a, b) = (body(&rows[..130]), body(&rows[130..]));
    let files = [("a.csv", a.as_bytes()), ("b.csv", b.as_bytes())];
    let (one, csv1) = score(&files, &[], "1");
    assert!(one.status.success(), "{}", text(&one));
    assert!(
        text(&one).contains("no customer id column"),
        "{}",
        text(&one)
    );
    let (two, csv2) = score(&files, &[], "2");
    assert!(two.status.success(), "{}", text(&two));
    assert_eq!(csv1, csv2);
    assert_eq!(one.stderr, two.stderr);
    let ids: Vec<String> = ids_and_segments(&csv1)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let expected: Vec<String> = (1..=200).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected);
}

/// Writes `rows` of Mall customers (header [`HEADER`]) as Parquet, in row groups of
/// `group` rows: ids and genre as UTF-8, the numbers as doubles.
fn write_mall_parquet(path: &Path, rows: &[Vec<String>], group: usize) {
    use parquet::basic::{ConvertedType, Repetition, Type as Physical};
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::Type;
    use std::sync::Arc;
    let names: Vec<&str> = HEADER.split(',').collect();
    let fields = names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let b = if j < 2 {
                Type::primitive_type_builder(name, Physical::BYTE_ARRAY)
                    .with_converted_type(ConvertedType::UTF8)
            } else {
                Type::primitive_type_builder(name, Physical::DOUBLE)
            };
            Arc::new(b.with_repetition(Repetition::REQUIRED).build().unwrap())
        })
        .collect();
    let schema = Type::group_type_builder("mall")
        .with_fields(fields)
        .build()
        .unwrap();
    let props = Arc::new(WriterProperties::builder().build());
    let file = std::fs::File::create(path).unwrap();
    let mut w = SerializedFileWriter::new(file, Arc::new(schema), props).unwrap();
    for part in rows.chunks(group) {
        let mut rg = w.next_row_group().unwrap();
        for j in 0..names.len() {
            let mut c = rg.next_column().unwrap().unwrap();
            if j < 2 {
                let v: Vec<ByteArray> = part.iter().map(|r| ByteArray::from(&r[j][..])).collect();
                c.typed::<ByteArrayType>()
                    .write_batch(&v, None, None)
                    .unwrap();
            } else {
                let v: Vec<f64> = part.iter().map(|r| r[j].parse().unwrap()).collect();
                c.typed::<DoubleType>().write_batch(&v, None, None).unwrap();
            }
            c.close().unwrap();
        }
        rg.close().unwrap();
    }
    w.close().unwrap();
}

#[test]
fn a_parquet_table_scores_as_the_same_rows_in_csv_do() {
    // 20,000 customers (the 200 of Mall under 100 sets of ids): more than one batch of the
    // Parquet cursor, in row groups that do not line up with the batches.
    let rows: Vec<Vec<String>> = (0..100)
        .flat_map(|set| {
            mall_rows(200).into_iter().map(move |mut r| {
                r[0] = format!("{set:03}-{}", r[0]);
                r
            })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("mall.parquet");
    write_mall_parquet(&pq, &rows, 3_000);
    let mut csv = format!("{HEADER}\n");
    for r in &rows {
        csv.push_str(&r.join(","));
        csv.push('\n');
    }
    let (text_out, from_csv) = score(&[("mall.csv", csv.as_bytes())], &[], "2");
    assert!(text_out.status.success(), "{}", text(&text_out));
    let parquet = std::fs::read(&pq).unwrap();
    for threads in ["1", "2"] {
        let (out, from_parquet) = score(&[("mall.parquet", &parquet)], &[], threads);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(from_parquet, from_csv, "{threads} thread(s)");
    }
    assert_eq!(ids_and_segments(&from_csv).len(), 20_000);
}
