//! `custseg models diff NAME vN vM`: how two versions' segments correspond and where the
//! customers they share are under each.

use serde::Serialize;

use custseg::model::format::{Migration, SegmentMatch};
use custseg::model::Rename;
use custseg::store::Registry;
use custseg::train::lineage;
use custseg::Model;

use super::UsageError;
use anyhow::Result;

/// The diff, as `--json` prints it.
#[derive(Serialize)]
pub struct Diff {
    pub name: String,
    pub from_version: u32,
    pub to_version: u32,
    pub from_as_of: Option<String>,
    pub to_as_of: Option<String>,
    /// For each segment of the later version: the earlier segment it pairs with.
    pub matches: Vec<SegmentMatch>,
    /// Ids the later version gives to segments it pairs with an earlier segment of another id
    /// (versions that are not consecutive, or trained without lineage).
    pub id_changes: Vec<(usize, usize)>,
    /// Paired segments whose name changed, and why (the later version's lineage when it was
    /// trained on the earlier one, else the later segment's `name_reason`).
    pub renames: Vec<Rename>,
    pub migration: Migration,
}

fn renames(a: &Model, b: &Model, matches: &[SegmentMatch]) -> Vec<Rename> {
    if let Some(l) = b
        .file
        .lineage
        .as_ref()
        .filter(|l| l.previous_version == a.file.version)
    {
        return l.renames.clone();
    }
    matches
        .iter()
        .filter_map(|m| {
            let old = a
                .file
                .segments
                .iter()
                .find(|s| Some(s.id) == m.previous_id)?;
            let new = b.file.segments.iter().find(|s| s.id == m.id)?;
            (old.name != new.name).then(|| Rename {
                id: new.id,
                from: old.name.clone(),
                to: new.name.clone(),
                reason: new.name_reason.clone().unwrap_or_else(|| "-".into()),
            })
        })
        .collect()
}

fn version(raw: &str) -> Result<u32> {
    raw.trim_start_matches('v')
        .parse::<u32>()
        .map_err(|_| UsageError(format!("version '{raw}': expected vN")).into())
}

/// Version `raw` (`v3` or `3`) of model `name` in the store, loaded.
pub fn load_version(reg: &Registry, name: &str, raw: &str) -> Result<Model> {
    let (_, _, dir) = reg.resolve(&format!("{name}/v{}", version(raw)?))?;
    Ok(Model::load(&dir)?)
}

/// Computes the diff of `name` from version `from` to `to`.
pub fn compute(reg: &Registry, name: &str, from: &str, to: &str) -> Result<Diff> {
    let (from_v, to_v) = (version(from)?, version(to)?);
    let (a, b) = (load_version(reg, name, from)?, load_version(reg, name, to)?);
    let (sa, sb) = (lineage::saved_labels(&a)?, lineage::saved_labels(&b)?);
    let k = b.file.k;
    let radii = lineage::radii(&sb.labels, &sb.distances, k);
    let centroids =
        ndarray::Array2::from_shape_vec((k, b.centroids.dim()), b.file.centroids.concat())
            .map_err(|e| anyhow::anyhow!("v{to_v}: centroids: {e}"))?;
    let identity = lineage::match_segments(&a.file, &b.file.features, centroids.view(), &radii);
    let matches: Vec<SegmentMatch> = identity
        .lineage
        .matches
        .into_iter()
        .zip(&b.file.segments)
        .map(|(mut m, s)| {
            m.id = s.id;
            m
        })
        .collect();
    let id_changes = matches
        .iter()
        .filter_map(|m| m.previous_id.filter(|p| *p != m.id).map(|p| (p, m.id)))
        .collect();
    let renames = renames(&a, &b, &matches);
    let (joined, only_in_from) = lineage::join_labels(&sa, &sb.ids);
    let mut migration = lineage::migration(
        from_v,
        &a.file.segments,
        &joined,
        &b.file.segments,
        &sb.labels,
        only_in_from,
    );
    migration.to_version = to_v;
    Ok(Diff {
        name: name.to_string(),
        from_version: from_v,
        to_version: to_v,
        from_as_of: a.file.as_of.clone(),
        to_as_of: b.file.as_of.clone(),
        matches,
        id_changes,
        renames,
        migration,
    })
}

fn short(name: &str, width: usize) -> String {
    let mut s: String = name.chars().take(width).collect();
    if name.chars().count() > width {
        s.pop();
        s.push('…');
    }
    s
}

/// Prints the diff as tables.
pub fn print(d: &Diff) {
    let m = &d.migration;
    let when = |v: u32, as_of: &Option<String>| match as_of {
        Some(a) => format!("v{v} (as of {a})"),
        None => format!("v{v}"),
    };
    println!(
        "Model '{}': {} -> {}",
        d.name,
        when(d.from_version, &d.from_as_of),
        when(d.to_version, &d.to_as_of)
    );
    println!();
    println!(
        "Segments of v{} and the v{} segment each is paired with (centroid distance in v{}'s scaled space; the same group when within the segment's radius):",
        d.to_version, d.from_version, d.to_version
    );
    println!(
        "{:>4}  {:<22}  {:<26}  {:>8}  {:>7}",
        "id", "segment", "paired with", "distance", "radius"
    );
    for (mt, s) in d.matches.iter().zip(&m.to_segments) {
        let paired = match mt.previous_id {
            Some(p) => {
                let name = m
                    .from_segments
                    .iter()
                    .find(|f| f.id == p)
                    .map_or("", |f| f.name.as_str());
                format!("{p} {}", short(name, 22))
            }
            None => "new group".to_string(),
        };
        let dist = mt.distance.map_or("-".into(), |v| format!("{v:.3}"));
        println!(
            "{:>4}  {:<22}  {:<26}  {:>8}  {:>7.3}",
            s.id,
            short(&s.name, 22),
            paired,
            dist,
            mt.radius
        );
    }
    for (from, to) in &d.id_changes {
        println!(
            "  note: segment {from} of v{} is the same group as segment {to} of v{}",
            d.from_version, d.to_version
        );
    }
    for r in &d.renames {
        println!(
            "  renamed segment {}: {} -> {} ({})",
            r.id, r.from, r.to, r.reason
        );
    }
    println!();
    println!(
        "Where the {} customers in both versions are (rows: v{} segment, columns: v{} segment id):",
        m.customers, d.from_version, d.to_version
    );
    let mut head = format!("{:<28}", "");
    for s in &m.to_segments {
        head.push_str(&format!("{:>9}", s.id));
    }
    head.push_str(&format!("{:>9}", "total"));
    println!("{head}");
    for (s, row) in m.from_segments.iter().zip(&m.counts) {
        let mut line = format!("{:<28}", format!("{:>3} {}", s.id, short(&s.name, 23)));
        for c in row {
            line.push_str(&format!("{c:>9}"));
        }
        line.push_str(&format!("{:>9}", row.iter().sum::<u64>()));
        println!("{line}");
    }
    let mut line = format!("{:<28}", format!("new in v{}", d.to_version));
    for c in &m.new_customers {
        line.push_str(&format!("{c:>9}"));
    }
    line.push_str(&format!("{:>9}", m.new_customers.iter().sum::<u64>()));
    println!("{line}");
    println!();
    for s in &m.to_segments {
        println!("  v{} segment {:>3}: {}", d.to_version, s.id, s.name);
    }
    println!(
        "{:.1}% of the customers in both versions kept their segment id; {} customers of v{} are not in v{}.",
        100.0 * m.same_id_share,
        m.only_in_from,
        d.from_version,
        d.to_version
    );
}
