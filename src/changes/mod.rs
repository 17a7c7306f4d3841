//! Membership changes between two versions of a model (`custseg changes NAME vN vM`): one
//! record per customer who entered (only in vM), left (only in vN) or moved (another
//! segment, tier or lifecycle stage), from each version's `assignments.csv` and `model.json`.
//! Segment ids are the identity across versions (the lineage keeps them stable), so a
//! renamed segment is not a move. Written as CSV, JSON Lines or a CRM import file, or
//! delivered to a webhook ([`webhook`]).

pub mod webhook;

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::data::csv_out;
use crate::features::lifecycle::Stage;
use crate::model::{Model, ModelError, Segment};
use crate::train::lineage::{saved_labels, SavedLabels};

/// Errors of `changes`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChangesError {
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A webhook URL that is not http(s), or malformed.
    #[error("webhook URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The shared secret's environment variable is unset or empty.
    #[error("the webhook secret: environment variable {var} is not set (or empty)")]
    MissingSecret { var: String },
    /// Batches that never got a 2xx.
    #[error("{failed} of {total} batches were not acknowledged; they are in {}; running the same command again resends only those (acknowledged batches are recorded in {})", dead_letter.display(), state.display())]
    Undelivered {
        failed: usize,
        total: usize,
        dead_letter: PathBuf,
        state: PathBuf,
    },
    #[error("{}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

impl ChangesError {
    /// Bad URLs, missing secrets and bad models are the user's to fix; undelivered batches
    /// and I/O are not.
    pub fn is_user_error(&self) -> bool {
        match self {
            ChangesError::Model(e) => e.is_user_error(),
            ChangesError::BadUrl { .. } | ChangesError::MissingSecret { .. } => true,
            ChangesError::Undelivered { .. } | ChangesError::Io { .. } => false,
        }
    }

    pub(crate) fn io(path: &std::path::Path, cause: std::io::Error) -> Self {
        ChangesError::Io {
            path: path.to_path_buf(),
            cause,
        }
    }
}

/// What happened to a customer between the versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Entered,
    Left,
    Moved,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Entered => "entered",
            Kind::Left => "left",
            Kind::Moved => "moved",
        }
    }
}

/// A customer's place in one version.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Place {
    pub segment_id: usize,
    pub segment: String,
    pub tier: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// The segment's playbook code.
    pub action: String,
}

/// One customer's change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub customer_id: String,
    pub change: Kind,
    /// What differs for a move: `segment`, `tier`, `stage` (all that apply).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub what: Vec<&'static str>,
    pub from: Option<Place>,
    pub to: Option<Place>,
}

/// The changes from one version to another.
#[derive(Clone, Debug, PartialEq)]
pub struct Changes {
    pub name: String,
    pub from_version: u32,
    pub to_version: u32,
    /// The later version's `created_at`: when the new segmentation was made.
    pub changed_at: String,
    /// Whether the later version was trained against the earlier one's lineage (else
    /// segment ids may not denote the same groups).
    pub same_lineage: bool,
    pub customers_from: usize,
    pub customers_to: usize,
    pub changes: Vec<Change>,
}

fn place(model: &Model, saved: &SavedLabels, i: usize) -> Place {
    let seg: &Segment = &model.file.segments[saved.labels[i]];
    Place {
        segment_id: seg.id,
        segment: seg.name.clone(),
        tier: seg.tier.to_string(),
        stage: saved.stages.get(i).copied().flatten(),
        action: crate::model::playbook::of_segment(seg).code.clone(),
    }
}

/// What differs between two places of the same customer.
fn differences(a: &Place, b: &Place) -> Vec<&'static str> {
    let mut what = Vec::new();
    if a.segment_id != b.segment_id {
        what.push("segment");
    }
    if a.tier != b.tier {
        what.push("tier");
    }
    if a.stage != b.stage {
        what.push("stage");
    }
    what
}

/// The changes from `a` (earlier) to `b` (later), both loaded from the store: customers of
/// `b` in its order (entered or moved), then those only in `a` in its order (left).
pub fn compute(name: &str, a: &Model, b: &Model) -> Result<Changes, ChangesError> {
    let (sa, sb) = (saved_labels(a)?, saved_labels(b)?);
    let index: HashMap<&str, usize> = (sa.ids.iter().map(String::as_str))
        .enumerate()
        .map(|(i, id)| (id, i))
        .collect();
    let mut in_b = vec![false; sa.ids.len()];
    let mut changes = Vec::new();
    for (j, id) in sb.ids.iter().enumerate() {
        let to = place(b, &sb, j);
        match index.get(id.as_str()) {
            None => changes.push(Change {
                customer_id: id.clone(),
                change: Kind::Entered,
                what: Vec::new(),
                from: None,
                to: Some(to),
            }),
            Some(&i) => {
                in_b[i] = true;
                let from = place(a, &sa, i);
                let what = differences(&from, &to);
                if !what.is_empty() {
                    changes.push(Change {
                        customer_id: id.clone(),
                        change: Kind::Moved,
                        what,
                        from: Some(from),
                        to: Some(to),
                    });
                }
            }
        }
    }
    for (i, id) in sa.ids.iter().enumerate().filter(|(i, _)| !in_b[*i]) {
        changes.push(Change {
            customer_id: id.clone(),
            change: Kind::Left,
            what: Vec::new(),
            from: Some(place(a, &sa, i)),
            to: None,
        });
    }
    let same_lineage = (b.file.lineage.as_ref())
        .is_some_and(|l| l.previous_version >= a.file.version)
        && b.file.version > a.file.version;
    Ok(Changes {
        name: name.to_string(),
        from_version: a.file.version,
        to_version: b.file.version,
        changed_at: b.file.created_at.clone(),
        same_lineage,
        customers_from: sa.ids.len(),
        customers_to: sb.ids.len(),
        changes,
    })
}

impl Changes {
    /// Counts of entered, left and moved customers.
    pub fn counts(&self) -> [usize; 3] {
        let mut n = [0; 3];
        for c in &self.changes {
            n[c.change as usize] += 1;
        }
        n
    }

    /// One change as the JSON object of JSON Lines and webhook batches.
    pub fn json(&self, c: &Change) -> serde_json::Value {
        serde_json::json!({
            "customer_id": c.customer_id,
            "change": c.change,
            "what": c.what,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "from": c.from,
            "to": c.to,
            "changed_at": self.changed_at,
        })
    }
}

/// The output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One row per change, both versions' ids, names, tiers and stages.
    Csv,
    /// One JSON object per line ([`Changes::json`]).
    Jsonl,
    /// A CRM import: `customer_id, segment, tier, action, changed_at` (a customer who left
    /// has an empty segment and tier and the action `remove`).
    Crm,
}

const CSV_HEADER: [&str; 14] = [
    "customer_id",
    "change",
    "what",
    "from_version",
    "from_segment_id",
    "from_segment",
    "from_tier",
    "from_stage",
    "to_version",
    "to_segment_id",
    "to_segment",
    "to_tier",
    "to_stage",
    "action",
];

fn place_cells(p: Option<&Place>) -> [String; 4] {
    match p {
        Some(p) => [
            p.segment_id.to_string(),
            p.segment.clone(),
            p.tier.clone(),
            p.stage.map_or("", Stage::as_str).to_string(),
        ],
        None => Default::default(),
    }
}

/// The action a CRM takes for a change: the new segment's playbook code, or `remove`.
fn action(c: &Change) -> &str {
    c.to.as_ref().map_or("remove", |t| t.action.as_str())
}

/// The changes in `format`, as bytes. CSV cells are exact (ids join back to the CRM's);
/// quoting is the one CSV writer's.
pub fn render(ch: &Changes, format: Format) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 * (ch.changes.len() + 1));
    match format {
        Format::Csv => {
            csv_out::record(&mut out, CSV_HEADER);
            for c in &ch.changes {
                let [fi, fs, ft, fst] = place_cells(c.from.as_ref());
                let [ti, ts, tt, tst] = place_cells(c.to.as_ref());
                let what = c.what.join(";");
                let (fv, tv) = (ch.from_version.to_string(), ch.to_version.to_string());
                let row = [
                    c.customer_id.as_str(),
                    c.change.as_str(),
                    &what,
                    &fv,
                    &fi,
                    &fs,
                    &ft,
                    &fst,
                    &tv,
                    &ti,
                    &ts,
                    &tt,
                    &tst,
                    action(c),
                ];
                csv_out::record(&mut out, row);
            }
        }
        Format::Jsonl => {
            for c in &ch.changes {
                // A Value of strings and numbers always serializes.
                let _ = serde_json::to_writer(&mut out, &ch.json(c));
                out.push(b'\n');
            }
        }
        Format::Crm => {
            csv_out::record(
                &mut out,
                ["customer_id", "segment", "tier", "action", "changed_at"],
            );
            for c in &ch.changes {
                let (seg, tier) =
                    c.to.as_ref()
                        .map_or(("", ""), |t| (t.segment.as_str(), t.tier.as_str()));
                let row = [c.customer_id.as_str(), seg, tier, action(c), &ch.changed_at];
                csv_out::record(&mut out, row);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(id: usize, tier: &str, stage: Option<Stage>) -> Place {
        Place {
            segment_id: id,
            segment: format!("S{id}"),
            tier: tier.into(),
            stage,
            action: format!("a{id}"),
        }
    }

    #[test]
    fn a_move_names_every_aspect_that_differs() {
        let a = place(1, "high", Some(Stage::Active));
        assert!(differences(&a, &a.clone()).is_empty());
        assert_eq!(
            differences(&a, &place(2, "high", Some(Stage::Active))),
            ["segment"]
        );
        assert_eq!(
            differences(&a, &place(1, "low", Some(Stage::Active))),
            ["tier"]
        );
        assert_eq!(
            differences(&a, &place(3, "low", Some(Stage::Churned))),
            ["segment", "tier", "stage"]
        );
        // A renamed segment (same id, tier, stage) is not a move.
        let renamed = Place {
            segment: "Other name".into(),
            ..a.clone()
        };
        assert!(differences(&a, &renamed).is_empty());
    }

    fn changes() -> Changes {
        Changes {
            name: "m".into(),
            from_version: 1,
            to_version: 2,
            changed_at: "2026-12-03T00:00:00Z".into(),
            same_lineage: true,
            customers_from: 2,
            customers_to: 2,
            changes: vec![
                Change {
                    customer_id: "c,1".into(),
                    change: Kind::Moved,
                    what: vec!["segment", "stage"],
                    from: Some(place(1, "high", Some(Stage::Active))),
                    to: Some(place(2, "low", Some(Stage::AtRisk))),
                },
                Change {
                    customer_id: "=x".into(),
                    change: Kind::Left,
                    what: vec![],
                    from: Some(place(1, "high", None)),
                    to: None,
                },
            ],
        }
    }

    #[test]
    fn csv_and_crm_rows_read_back_with_both_sides_and_the_action() {
        let ch = changes();
        let read = |b: Vec<u8>| -> Vec<Vec<String>> {
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(&b[..]);
            r.records()
                .map(|x| x.unwrap().iter().map(String::from).collect())
                .collect()
        };
        let rows = read(render(&ch, Format::Csv));
        assert_eq!(rows[0], CSV_HEADER);
        assert_eq!(
            rows[1],
            [
                "c,1",
                "moved",
                "segment;stage",
                "1",
                "1",
                "S1",
                "high",
                "active",
                "2",
                "2",
                "S2",
                "low",
                "at_risk",
                "a2"
            ]
        );
        assert_eq!(rows[2][..4], ["=x", "left", "", "1"]);
        assert_eq!(rows[2][9..], ["", "", "", "", "remove"]);
        let crm = read(render(&ch, Format::Crm));
        assert_eq!(crm[1], ["c,1", "S2", "low", "a2", "2026-12-03T00:00:00Z"]);
        assert_eq!(crm[2], ["=x", "", "", "remove", "2026-12-03T00:00:00Z"]);
        assert_eq!(ch.counts(), [0, 1, 1]);
    }

    #[test]
    fn json_lines_carry_both_places_and_the_versions() {
        let text = String::from_utf8(render(&changes(), Format::Jsonl)).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["to"]["stage"], "at_risk");
        assert_eq!(lines[0]["what"], serde_json::json!(["segment", "stage"]));
        assert_eq!(
            (lines[1]["to"].clone(), lines[1]["from_version"].clone()),
            (serde_json::Value::Null, 1.into())
        );
    }
}
