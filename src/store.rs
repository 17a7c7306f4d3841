//! The model store: `DIR/NAME/vN/` folders written to a temporary folder and renamed into
//! place (never edited afterwards), and `DIR/NAME/CURRENT` naming the served version,
//! replaced atomically. Saving holds an exclusive lock on `DIR/NAME/.lock` so two trainers
//! cannot take the same version number.
//!
//! Models come only from the store: a model folder, version folder or model file that
//! resolves outside the store's root (a symbolic link out of it) is refused: left out of
//! [`Registry::names`] and [`Registry::versions`] with one warning per path, and an
//! [`ModelError::OutsideStore`] error when asked for by name. Links that stay inside the
//! store (`models/prod -> default`, `v3 -> v2`) are fine. [`Registry::allow_symlinks`]
//! turns the check off.

use rayon::prelude::*;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::data::{csv_out, is_formula_like, spreadsheet_safe};
use crate::features::spec::RawColumn;
use crate::model::{FeatureProfile, Model, ModelError};
use crate::train::TrainOutput;

/// A model store rooted at a directory (default `models`).
#[derive(Clone, Debug)]
pub struct Registry {
    root: PathBuf,
    allow_symlinks: bool,
    /// Paths refused as outside the store and already warned about (one warning each).
    warned: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<PathBuf>>>,
}

/// Summary of one model name.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ModelSummary {
    pub name: String,
    pub versions: Vec<u32>,
    pub current: Option<u32>,
}

/// Checks a model name: 1–64 of `[A-Za-z0-9_-]`, so it is always a plain folder name.
pub fn check_name(name: &str) -> Result<(), ModelError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ModelError::BadName { name: name.into() })
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    write_synced_parts(path, &[bytes])
}

/// Writes `parts` one after the other into a new file and syncs it.
fn write_synced_parts<B: AsRef<[u8]>>(path: &Path, parts: &[B]) -> Result<(), ModelError> {
    let mut f = File::create(path).map_err(|e| ModelError::io(path, e))?;
    for p in parts {
        f.write_all(p.as_ref())
            .map_err(|e| ModelError::io(path, e))?;
    }
    f.sync_all().map_err(|e| ModelError::io(path, e))
}

/// Removes `.CURRENT.tmp-*` files that a failed or killed promote left behind. Called under
/// the store's lock, so no other writer can own one of them.
fn remove_stale_current_tmp(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(".CURRENT.tmp-") {
            let _ = fs::remove_file(e.path());
        }
    }
}

fn sync_dir(path: &Path) -> Result<(), ModelError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|e| ModelError::io(path, e))
}

impl Registry {
    /// A store at `root` (created on first save).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Registry {
            root: root.into(),
            allow_symlinks: false,
            warned: Default::default(),
        }
    }

    /// Also read models whose folders or files are symbolic links out of the store
    /// (default: refused, see the module docs).
    pub fn allow_symlinks(mut self, allow: bool) -> Self {
        self.allow_symlinks = allow;
        self
    }

    /// The store rule for links: `path` (a model folder, version folder or model file of
    /// this store) must resolve inside the store's root, unless links are allowed. A path
    /// that does not exist passes: the caller reports what is missing.
    fn check_inside(&self, path: &Path) -> Result<(), ModelError> {
        if self.allow_symlinks {
            return Ok(());
        }
        let Ok(target) = fs::canonicalize(path) else {
            return Ok(());
        };
        let root = match self.root.as_os_str().is_empty() {
            true => Path::new("."),
            false => self.root.as_path(),
        };
        let root = fs::canonicalize(root).map_err(|e| ModelError::io(root, e))?;
        if target.starts_with(&root) {
            Ok(())
        } else {
            Err(ModelError::OutsideStore {
                path: path.to_path_buf(),
                target,
                root,
            })
        }
    }

    /// [`Registry::check_inside`] for a version folder and the files read from it.
    fn check_version_inside(&self, dir: &Path) -> Result<(), ModelError> {
        self.check_inside(dir)?;
        self.check_inside(&dir.join("model.json"))?;
        self.check_inside(&dir.join("metrics.json"))
    }

    /// Logs a refused path once (the watcher lists the store every few seconds).
    fn warn_outside_once(&self, model: &str, version: Option<u32>, e: &ModelError) {
        let ModelError::OutsideStore { path, .. } = e else {
            return;
        };
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.insert(path.clone()) {
            match version {
                Some(v) => tracing::warn!(model, version = v, "left out of the store: {e}"),
                None => tracing::warn!(model, "left out of the store: {e}"),
            }
        }
    }

    /// The store's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Folder of a model name.
    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Versions of a model, ascending.
    pub fn versions(&self, name: &str) -> Result<Vec<u32>, ModelError> {
        check_name(name)?;
        let dir = self.model_dir(name);
        self.check_inside(&dir)?;
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ModelError::io(&dir, e)),
        };
        let mut out: Vec<u32> = entries
            .flatten()
            .filter(|e| e.path().join("model.json").is_file())
            .filter_map(|e| {
                let v = e.file_name().to_str()?.strip_prefix('v')?.parse().ok()?;
                match self.check_version_inside(&e.path()) {
                    Ok(()) => Some(v),
                    Err(err) => {
                        self.warn_outside_once(name, Some(v), &err);
                        None
                    }
                }
            })
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// The version `CURRENT` names, if any.
    pub fn current(&self, name: &str) -> Result<Option<u32>, ModelError> {
        check_name(name)?;
        let path = self.model_dir(name).join("CURRENT");
        match fs::read_to_string(&path) {
            Ok(s) => s
                .trim()
                .strip_prefix('v')
                .and_then(|v| v.parse().ok())
                .map(Some)
                .ok_or_else(|| ModelError::Malformed {
                    path: path.clone(),
                    context: "CURRENT must hold a version such as v3".into(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ModelError::io(&path, e)),
        }
    }

    /// The names of the model folders that hold at least one version, sorted. Only reading
    /// the store's root can fail: one model's broken files never hide the others.
    pub fn names(&self) -> Result<Vec<String>, ModelError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ModelError::io(&self.root, e)),
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(String::from))
            .filter(|n| check_name(n).is_ok())
            .filter(|n| match self.versions(n) {
                Ok(v) => !v.is_empty(),
                Err(e) => {
                    self.warn_outside_once(n, None, &e);
                    false
                }
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// Every model name in the store with its versions.
    pub fn list(&self) -> Result<Vec<ModelSummary>, ModelError> {
        let mut out = Vec::new();
        for name in self.names()? {
            out.push(ModelSummary {
                versions: self.versions(&name)?,
                current: self.current(&name)?,
                name,
            });
        }
        Ok(out)
    }

    /// Resolves `NAME` (its CURRENT version, else the latest) or `NAME/vN` to a version
    /// folder.
    pub fn resolve(&self, spec: &str) -> Result<(String, u32, PathBuf), ModelError> {
        let (name, version) = match spec.split_once('/') {
            Some((n, v)) => {
                let v = v
                    .strip_prefix('v')
                    .and_then(|v| v.parse::<u32>().ok())
                    .ok_or_else(|| ModelError::NotFound {
                        what: format!("'{spec}': expected NAME or NAME/vN"),
                    })?;
                (n, Some(v))
            }
            None => (spec, None),
        };
        check_name(name)?;
        let versions = self.versions(name)?;
        let v = match version {
            Some(v) => v,
            None => match self.current(name)? {
                Some(v) => v,
                None => *versions.last().ok_or_else(|| ModelError::NotFound {
                    what: format!("no model '{name}' in {}", self.root.display()),
                })?,
            },
        };
        let dir = self.model_dir(name).join(format!("v{v}"));
        self.check_version_inside(&dir)?;
        if !versions.contains(&v) {
            return Err(ModelError::NotFound {
                what: format!(
                    "no version v{v} of model '{name}' in {}",
                    self.root.display()
                ),
            });
        }
        Ok((name.to_string(), v, dir))
    }

    /// Reads `file` (a plain file name such as `report.html`) of version `version` of model
    /// `name`: only from a version in the store, only a file that resolves inside the store
    /// (unless links are allowed), and only a regular file of at most `max_bytes`
    /// ([`crate::model::read_store_file`]).
    pub fn read_version_file(
        &self,
        name: &str,
        version: u32,
        file: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ModelError> {
        let (_, _, dir) = self.resolve(&format!("{name}/v{version}"))?;
        let path = dir.join(file);
        self.check_inside(&path)?;
        crate::model::read_store_file(&path, max_bytes)
    }

    /// The version a retrain of `name` continues: the one `CURRENT` names, or else the latest
    /// version that loads. None for a new model.
    pub fn previous(&self, name: &str) -> Option<Model> {
        let dir = self.model_dir(name);
        let current = self.current(name).ok().flatten();
        let mut candidates: Vec<u32> = self.versions(name).unwrap_or_default();
        candidates.reverse();
        if let Some(c) = current {
            candidates.retain(|v| *v != c);
            candidates.insert(0, c);
        }
        candidates.into_iter().find_map(|v| {
            Model::load(&dir.join(format!("v{v}")))
                .map_err(|e| {
                    tracing::warn!(
                        model = name,
                        version = v,
                        "not continuing this version: {e}"
                    )
                })
                .ok()
        })
    }

    /// Points `CURRENT` at an existing version (atomic replace).
    /// Takes the store's lock, so it never interleaves with a save or a prune.
    pub fn set_current(&self, name: &str, version: u32) -> Result<(), ModelError> {
        let (_dir, _lock) = self.lock_existing(name)?;
        self.set_current_locked(name, version)
    }

    /// The folder of an existing model inside the store, locked for writing.
    fn lock_existing(&self, name: &str) -> Result<(PathBuf, File), ModelError> {
        let dir = self.model_dir(name);
        if !dir.is_dir() {
            return Err(ModelError::NotFound {
                what: format!("no model '{name}' in {}", self.root.display()),
            });
        }
        self.check_inside(&dir)?;
        let lock = self.lock(&dir)?;
        Ok((dir, lock))
    }

    fn set_current_locked(&self, name: &str, version: u32) -> Result<(), ModelError> {
        if !self.versions(name)?.contains(&version) {
            return Err(ModelError::NotFound {
                what: format!("no version v{version} of model '{name}'"),
            });
        }
        let dir = self.model_dir(name);
        remove_stale_current_tmp(&dir);
        let target = dir.join("CURRENT");
        crate::atomic::write_bytes(&target, format!("v{version}\n").as_bytes(), |p, e| {
            ModelError::io(p, e)
        })
    }

    /// Removes all but the newest `keep` (at least 1) versions of `name`, never the one
    /// `CURRENT` names (it is kept on top of the `keep`). Each version disappears at once (renamed aside, then
    /// deleted), under the same lock as [`Registry::save`]. Returns the removed versions.
    pub fn prune(&self, name: &str, keep: usize) -> Result<Vec<u32>, ModelError> {
        check_name(name)?;
        let keep = keep.max(1);
        let (dir, _lock) = self.lock_existing(name)?;
        let current = self.current(name)?;
        let versions = self.versions(name)?;
        let cut = versions.len().saturating_sub(keep);
        let mut removed = Vec::new();
        for &v in &versions[..cut] {
            if Some(v) == current {
                continue;
            }
            let path = dir.join(format!("v{v}"));
            let aside = dir.join(format!(".pruned-v{v}-{}", std::process::id()));
            fs::rename(&path, &aside).map_err(|e| ModelError::io(&path, e))?;
            sync_dir(&dir)?;
            fs::remove_dir_all(&aside).map_err(|e| ModelError::io(&aside, e))?;
            removed.push(v);
        }
        Ok(removed)
    }

    /// Removes what interrupted writers left behind: `.tmp-*` version folders and `.pruned-*`
    /// folders. Called with the lock held, when no other writer can be mid-way. Returns how
    /// many were removed.
    fn sweep(dir: &Path) -> usize {
        let Ok(entries) = fs::read_dir(dir) else {
            return 0;
        };
        let mut removed = 0;
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if (name.starts_with(".tmp-v") || name.starts_with(".pruned-v"))
                && e.path().is_dir()
                && fs::remove_dir_all(e.path()).is_ok()
            {
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::info!(
                folders = removed,
                "removed folders left by interrupted writes"
            );
        }
        removed
    }

    fn lock(&self, dir: &Path) -> Result<fs::File, ModelError> {
        let lock_path = dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| ModelError::io(&lock_path, e))?;
        lock.lock().map_err(|e| ModelError::io(&lock_path, e))?;
        Self::sweep(dir);
        Ok(lock)
    }

    /// Saves a trained model as the next version of `name`, filling in the model's name,
    /// version and creation time. Promotes it to `CURRENT` when `promote` is true or when
    /// there is no current version yet. Returns the version and its folder.
    pub fn save(
        &self,
        name: &str,
        out: &mut TrainOutput,
        promote: bool,
    ) -> Result<(u32, PathBuf), ModelError> {
        self.save_with(name, out, promote, &[])
    }

    /// [`Self::save`], with views of the version (such as its report) rendered once its
    /// version and segment ids are settled, and written into it.
    pub fn save_with(
        &self,
        name: &str,
        out: &mut TrainOutput,
        promote: bool,
        views: &[View],
    ) -> Result<(u32, PathBuf), ModelError> {
        check_name(name)?;
        let dir = self.model_dir(name);
        fs::create_dir_all(&dir).map_err(|e| ModelError::io(&dir, e))?;
        self.check_inside(&dir)?;
        let lock = self.lock(&dir)?;

        let version = self.versions(name)?.last().copied().unwrap_or(0) + 1;
        out.model.name = name.to_string();
        out.model.version = version;
        out.model.created_at = crate::data::dates::now_rfc3339();
        if out.model.lineage.is_some() {
            renumber_new_segments(out, self.next_segment_id(name));
        }
        if let Some(m) = out.metrics.migration.as_mut() {
            m.to_version = version;
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = dir.join(format!(".tmp-v{version}-{}-{nanos}", std::process::id()));
        fs::create_dir(&tmp).map_err(|e| ModelError::io(&tmp, e))?;
        let target = dir.join(format!("v{version}"));
        let result = self.write_version(&tmp, out, views).and_then(|()| {
            sync_dir(&tmp)?;
            // The written model must load before it becomes a version.
            Model::load(&tmp)?;
            fs::rename(&tmp, &target).map_err(|e| ModelError::io(&target, e))?;
            sync_dir(&dir)?;
            Ok(target)
        });
        let target = match result {
            Ok(t) => t,
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        if promote || self.current(name)?.is_none() {
            self.set_current_locked(name, version)?;
        }
        drop(lock);
        Ok((version, target))
    }

    /// The smallest segment id no version of `name` on disk has used (ids held by segments,
    /// and each version's recorded `next_segment_id`).
    pub fn next_segment_id(&self, name: &str) -> usize {
        let dir = self.model_dir(name);
        let mut next = 0;
        for v in self.versions(name).unwrap_or_default() {
            let path = dir.join(format!("v{v}/model.json"));
            let Ok(bytes) =
                crate::model::read_store_file(&path, crate::model::DEFAULT_MAX_MODEL_BYTES)
            else {
                continue;
            };
            #[derive(serde::Deserialize)]
            struct Ids {
                #[serde(default)]
                segments: Vec<IdOnly>,
                #[serde(default)]
                lineage: Option<NextOnly>,
            }
            #[derive(serde::Deserialize)]
            struct IdOnly {
                id: usize,
            }
            #[derive(serde::Deserialize)]
            struct NextOnly {
                next_segment_id: usize,
            }
            if let Ok(ids) = serde_json::from_slice::<Ids>(&bytes) {
                for s in ids.segments {
                    next = next.max(s.id.saturating_add(1));
                }
                if let Some(l) = ids.lineage {
                    next = next.max(l.next_segment_id);
                }
            }
        }
        next
    }

    fn write_version(
        &self,
        dir: &Path,
        out: &TrainOutput,
        views: &[View],
    ) -> Result<(), ModelError> {
        let json = |v: &dyn erased::Json, file: &str| -> Result<(), ModelError> {
            let path = dir.join(file);
            let mut bytes = v.to_json().map_err(|e| ModelError::Malformed {
                path: path.clone(),
                context: e.to_string(),
            })?;
            bytes.push(b'\n');
            write_synced(&path, &bytes)
        };
        let start = std::time::Instant::now();
        json(&out.model, "model.json")?;
        write_synced(&dir.join("segments.csv"), &segments_csv(out))?;
        // The views render while the assignments are formatted.
        let (assignments, rendered) = rayon::join(
            || assignments_csv(out),
            || {
                views
                    .iter()
                    .map(|v| (v.file, (v.render)(out)))
                    .collect::<Vec<_>>()
            },
        );
        write_synced_parts(&dir.join("assignments.csv"), &assignments)?;
        drop(assignments);
        for (file, text) in rendered {
            write_synced(&dir.join(file), text.as_bytes())?;
        }
        // metrics.json last, with the time the other files took.
        let mut metrics = out.metrics.clone();
        metrics.timings.write_s = start.elapsed().as_secs_f64();
        metrics.timings.total_s += metrics.timings.write_s;
        json(&metrics, "metrics.json")?;
        Ok(())
    }
}

/// A file of a model version rendered from the saved output (name, version, creation time
/// and segment ids filled in), such as `report.html`.
pub struct View<'a> {
    pub file: &'static str,
    pub render: &'a (dyn Fn(&TrainOutput) -> String + Sync),
}

/// Gives the new segments of a retrained model (those that continue no previous segment) ids
/// from `floor` up when a version saved since training began (another trainer, or a version
/// that was never made CURRENT) already used their ids. Kept ids stay; order stays ascending.
fn renumber_new_segments(out: &mut TrainOutput, floor: usize) {
    let Some(lineage) = out.model.lineage.as_mut() else {
        return;
    };
    let first_new = lineage
        .matches
        .iter()
        .filter(|m| m.previous_id.is_none())
        .map(|m| m.id)
        .min();
    let Some(first_new) = first_new else {
        lineage.next_segment_id = lineage.next_segment_id.max(floor);
        return;
    };
    if first_new >= floor {
        lineage.next_segment_id = lineage.next_segment_id.max(floor);
        return;
    }
    let shift = floor - first_new;
    let mut renamed: Vec<(usize, usize)> = Vec::new();
    for m in lineage
        .matches
        .iter_mut()
        .filter(|m| m.previous_id.is_none())
    {
        renamed.push((m.id, m.id + shift));
        m.id += shift;
    }
    lineage.next_segment_id = lineage.next_segment_id.saturating_add(shift).max(floor);
    let new_id = |id: usize| renamed.iter().find(|r| r.0 == id).map_or(id, |r| r.1);
    for s in &mut out.model.segments {
        s.id = new_id(s.id);
    }
    if let Some(m) = out.metrics.migration.as_mut() {
        for s in &mut m.to_segments {
            s.id = new_id(s.id);
        }
    }
}

mod erased {
    /// Object-safe pretty JSON.
    pub trait Json {
        fn to_json(&self) -> serde_json::Result<Vec<u8>>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> serde_json::Result<Vec<u8>> {
            serde_json::to_vec_pretty(self)
        }
    }
}

/// A CSV for people: every cell through [`spreadsheet_safe`], so a spreadsheet shows
/// formula-like texts (a categorical level such as `=cmd` in a profile) as text.
fn people_csv_bytes(rows: Vec<Vec<String>>) -> Vec<u8> {
    let mut out = Vec::new();
    for r in rows {
        csv_out::record(&mut out, r.iter().map(|c| spreadsheet_safe(c)));
    }
    out
}

/// A number's cell: whole numbers without a decimal point, others as Rust prints them.
fn num_to(out: &mut String, v: f64) {
    use std::fmt::Write as _;
    let _ = if v.fract() == 0.0 && v.abs() < 1e15 {
        write!(out, "{}", v as i64)
    } else {
        write!(out, "{v}")
    };
}

/// One CSV row's cells, reusing their buffers from row to row.
#[derive(Default)]
struct Cells {
    cells: Vec<String>,
    used: usize,
    /// A cell being formatted elsewhere.
    scratch: String,
}

impl Cells {
    /// The next cell, empty.
    fn next(&mut self) -> &mut String {
        if self.used == self.cells.len() {
            self.cells.push(String::new());
        }
        self.used += 1;
        let c = &mut self.cells[self.used - 1];
        c.clear();
        c
    }

    /// Appends a cell of formatted text.
    fn put(&mut self, text: std::fmt::Arguments) {
        use std::fmt::Write as _;
        let _ = self.next().write_fmt(text);
    }

    /// Appends the row as a CSV record and starts the next.
    fn record(&mut self, out: &mut Vec<u8>) {
        csv_out::record(out, &self.cells[..self.used]);
        self.used = 0;
    }
}

/// `segments.csv`: one row per segment with its profile in original units. It is a summary
/// for people (no customer ids, nothing to join on but the numeric `segment_id`), so its
/// cells are written spreadsheet-safe.
pub fn segments_csv(out: &TrainOutput) -> Vec<u8> {
    let segs = &out.model.segments;
    let mut header: Vec<String> = [
        "segment_id",
        "segment",
        "tier",
        "size",
        "share_customers",
        "share_revenue",
        "name_reason",
        "action",
        "goal",
        "actions",
        "kpi",
    ]
    .map(String::from)
    .to_vec();
    let predicted = segs.iter().all(|s| s.predicted.is_some()) && !segs.is_empty();
    if predicted {
        header.extend(
            [
                "mean_p_alive",
                "likely_alive_share",
                "mean_expected_orders",
                "mean_expected_spend_per_order",
                "mean_predicted_clv",
                "share_predicted_clv",
            ]
            .map(String::from),
        );
    }
    // Behaviour: the label and each block's mix as text (`Wine 42%, Grocery 18%, …`).
    let mut blocks: Vec<String> = Vec::new();
    for m in segs.iter().flat_map(|s| &s.mix) {
        if !blocks.contains(&m.block) {
            blocks.push(m.block.clone());
        }
    }
    if !blocks.is_empty() {
        header.push("behaviour".into());
        header.extend(blocks.iter().map(|b| format!("{b}_mix")));
    }
    if let Some(first) = segs.first() {
        for p in &first.profile {
            match p {
                FeatureProfile::Numeric { feature, .. } => {
                    header.push(format!("mean_{feature}"));
                    header.push(format!("median_{feature}"));
                }
                FeatureProfile::Categorical { feature, .. } => {
                    header.push(format!("top_{feature}"))
                }
            }
        }
    }
    let mut rows = vec![header];
    for s in segs {
        let mut r = vec![
            s.id.to_string(),
            s.name.clone(),
            s.tier.to_string(),
            s.size.to_string(),
            format!("{:.6}", s.share_customers),
            s.share_revenue
                .map(|v| format!("{v:.6}"))
                .unwrap_or_default(),
            s.name_reason.clone().unwrap_or_default(),
        ];
        let p = crate::model::playbook::of_segment(s);
        r.extend([
            p.code.clone(),
            p.goal.clone(),
            p.actions.join("; "),
            p.kpi.clone(),
        ]);
        if let Some(p) = s.predicted.as_ref().filter(|_| predicted) {
            r.extend([
                format!("{:.6}", p.p_alive),
                format!("{:.6}", p.likely_alive_share),
                format!("{:.6}", p.expected_orders),
                format!("{:.4}", p.expected_spend_per_order),
                format!("{:.4}", p.predicted_clv),
                format!("{:.6}", p.share_predicted_clv),
            ]);
        }
        if !blocks.is_empty() {
            r.push(s.behaviour.clone().unwrap_or_default());
            for b in &blocks {
                let mix = s.mix.iter().find(|m| &m.block == b);
                r.push(mix.map(|m| m.text(usize::MAX)).unwrap_or_default());
            }
        }
        for p in &s.profile {
            match p {
                FeatureProfile::Numeric { mean, median, .. } => {
                    r.push(format!("{mean:.4}"));
                    r.push(format!("{median:.4}"));
                }
                FeatureProfile::Categorical { shares, .. } => r.push(
                    shares
                        .first()
                        .map(|l| format!("{} ({:.0}%)", l.level, 100.0 * l.share))
                        .unwrap_or_default(),
                ),
            }
        }
        rows.push(r);
    }
    people_csv_bytes(rows)
}

/// Cells of `assignments.csv` that a spreadsheet could run as formulas (ids and label
/// values, written exactly there so joins work): the count for a warning.
pub fn assignments_formula_cells(out: &TrainOutput) -> u64 {
    let a = &out.assignments;
    let labels = a.columns.iter().flat_map(|c| match &c.values {
        RawColumn::Labels(v) => v.as_slice(),
        RawColumn::Numbers(_) => &[],
    });
    let ids = a.ids.iter().filter(|id| is_formula_like(id)).count();
    let levels = labels
        .filter(|l| l.as_deref().is_some_and(is_formula_like))
        .count();
    (ids + levels) as u64
}

/// `assignments.csv`: one row per training customer: id, features in original units
/// (blank when missing), segment id, name and distance to its centroid; as the header and
/// blocks of rows, formatted in parallel, to be written one after the other.
pub fn assignments_csv(out: &TrainOutput) -> Vec<Vec<u8>> {
    let a = &out.assignments;
    let mut header = vec!["customer_id".to_string()];
    header.extend(a.columns.iter().map(|c| c.name.clone()));
    header.extend(["segment_id", "segment", "distance"].map(String::from));
    // RFM scores and lifecycle stage from the model's own features, as the scorer gives them.
    let lifecycle = out.model.lifecycle.as_ref().and_then(|vm| {
        let col = |n: &str| {
            a.columns.iter().find_map(|c| match &c.values {
                RawColumn::Numbers(v) if c.name == n => Some(v.as_slice()),
                _ => None,
            })
        };
        Some((vm, crate::features::lifecycle::find_inputs(col)?))
    });
    if lifecycle.is_some() {
        header.extend(["r_score", "f_score", "m_score", "lifecycle"].map(String::from));
    }
    // Predicted value, when the model has a value model.
    let value_as_of = out
        .model
        .as_of
        .as_deref()
        .and_then(crate::data::dates::parse_iso_date)
        .filter(|_| !a.values.is_empty());
    if value_as_of.is_some() {
        header.extend(crate::features::rfm::VALUE_COLUMNS.map(String::from));
    }
    let row = |i: usize, r: &mut Cells| {
        r.put(format_args!("{}", a.ids[i]));
        for c in &a.columns {
            match &c.values {
                RawColumn::Numbers(v) => match v[i] {
                    Some(x) => num_to(r.next(), x),
                    None => r.put(format_args!("")),
                },
                RawColumn::Labels(v) => r.put(format_args!("{}", v[i].as_deref().unwrap_or(""))),
            }
        }
        let seg = &out.model.segments[a.labels[i]];
        r.put(format_args!("{}", seg.id));
        r.put(format_args!("{}", seg.name));
        r.put(format_args!("{:.6}", a.distances[i]));
        if let Some((vm, cols)) = lifecycle {
            let (scores, stage) = vm.classify(cols.map(|c| c[i]));
            for score in scores
                .map(|s| [s.r, s.f, s.m].map(Some))
                .unwrap_or_default()
            {
                match score {
                    Some(v) => r.put(format_args!("{v}")),
                    None => r.put(format_args!("")),
                }
            }
            r.put(format_args!("{}", stage.map_or("", |s| s.as_str())));
        }
        if let Some(as_of) = value_as_of {
            // A browser (no purchase) has no predicted value: empty cells.
            match a.values.get(i) {
                Some(v) => {
                    let mut buffer = std::mem::take(&mut r.scratch);
                    crate::features::rfm::each_value_cell(Some(as_of), v, &mut buffer, |c| {
                        r.put(format_args!("{c}"))
                    });
                    r.scratch = buffer;
                }
                None => {
                    for _ in crate::features::rfm::VALUE_COLUMNS {
                        r.put(format_args!(""));
                    }
                }
            }
        }
    };
    // Rows are formatted in parallel blocks and joined in order (each CSV field is quoted on
    // its own, so the bytes are those of one writer).
    let mut head = Vec::new();
    csv_out::record(&mut head, &header);
    const BLOCK: usize = 1 << 15;
    let n = a.ids.len();
    let blocks: Vec<Vec<u8>> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let rows = b * BLOCK..n.min((b + 1) * BLOCK);
            let mut out = Vec::with_capacity(96 * rows.len());
            let mut r = Cells::default();
            for i in rows {
                row(i, &mut r);
                r.record(&mut out);
            }
            out
        })
        .collect();
    std::iter::once(head).chain(blocks).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_folder_names() {
        for bad in ["", "../x", "a/b", ".hidden", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name("default").is_ok());
        assert!(check_name("cdnow_2026-11").is_ok());
    }

    #[test]
    fn prune_keeps_the_newest_and_never_current() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::new(dir.path().join("models"));
        for v in 1..=5 {
            let d = reg.model_dir("m").join(format!("v{v}"));
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("model.json"), "{}").unwrap();
        }
        reg.set_current("m", 2).unwrap();
        // What killed writers leave behind is swept once the lock is held.
        for stale in [".tmp-v6-123-456", ".pruned-v0-789"] {
            fs::create_dir_all(reg.model_dir("m").join(stale).join("x")).unwrap();
        }
        assert_eq!(reg.prune("m", 2).unwrap(), vec![1, 3]);
        for stale in [".tmp-v6-123-456", ".pruned-v0-789"] {
            assert!(!reg.model_dir("m").join(stale).exists(), "{stale}");
        }
        assert_eq!(reg.versions("m").unwrap(), vec![2, 4, 5]);
        assert_eq!(reg.current("m").unwrap(), Some(2));
        // Keep 0 is taken as 1; CURRENT survives on top of it.
        assert_eq!(reg.prune("m", 0).unwrap(), vec![4]);
        assert_eq!(reg.versions("m").unwrap(), vec![2, 5]);
        let stray: Vec<_> = fs::read_dir(reg.model_dir("m"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".pruned"))
            .collect();
        assert!(stray.is_empty(), "nothing left aside");
        assert!(matches!(
            reg.prune("nope", 1),
            Err(ModelError::NotFound { .. })
        ));
    }

    fn store_with(versions: &[u32]) -> (tempfile::TempDir, Registry) {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::new(dir.path().join("models"));
        for v in versions {
            let d = reg.model_dir("m").join(format!("v{v}"));
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("model.json"), "{}").unwrap();
        }
        (dir, reg)
    }

    fn leftovers(reg: &Registry) -> Vec<String> {
        fs::read_dir(reg.model_dir("m"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".CURRENT.tmp"))
            .collect()
    }

    #[test]
    fn a_promote_removes_temporary_current_files_left_by_others() {
        let (_dir, reg) = store_with(&[1, 2]);
        fs::write(reg.model_dir("m").join(".CURRENT.tmp-99999"), "v1\n").unwrap();
        reg.set_current("m", 2).unwrap();
        assert_eq!(reg.current("m").unwrap(), Some(2));
        assert!(leftovers(&reg).is_empty(), "{:?}", leftovers(&reg));
    }

    #[test]
    fn a_failed_promote_leaves_no_temporary_file() {
        let (_dir, reg) = store_with(&[1]);
        // CURRENT is a non-empty folder, so renaming onto it fails.
        fs::create_dir_all(reg.model_dir("m").join("CURRENT/x")).unwrap();
        assert!(reg.set_current("m", 1).is_err());
        assert!(leftovers(&reg).is_empty(), "{:?}", leftovers(&reg));
    }

    #[test]
    fn names_list_a_model_whose_current_is_broken() {
        let (_dir, reg) = store_with(&[1]);
        fs::write(reg.model_dir("m").join("CURRENT"), "garbage").unwrap();
        assert_eq!(reg.names().unwrap(), vec!["m".to_string()]);
        assert!(reg.list().is_err(), "list reports the broken CURRENT");
    }

    #[test]
    fn io_errors_name_the_os_error_once() {
        let e = ModelError::io(
            Path::new("/x/CURRENT"),
            std::io::Error::from_raw_os_error(2),
        );
        let chain = format!("{:#}", anyhow::Error::from(e));
        assert_eq!(chain.matches("os error 2").count(), 1, "{chain}");
    }

    #[cfg(unix)]
    #[test]
    fn folders_linked_out_of_the_store_are_refused_unless_allowed() {
        use std::os::unix::fs::symlink;
        let (dir, reg) = store_with(&[1]);
        let outside = tempfile::tempdir().unwrap();
        let evil = outside.path().join("evil");
        fs::create_dir_all(evil.join("v1")).unwrap();
        fs::write(evil.join("v1/model.json"), "{}").unwrap();
        symlink(&evil, reg.model_dir("evil")).unwrap();
        symlink(
            outside.path().join("evil/v1"),
            reg.model_dir("m").join("v2"),
        )
        .unwrap();
        // Inside the store, links are fine: another name for m, and v3 -> v1.
        symlink(reg.model_dir("m"), reg.model_dir("alias")).unwrap();
        symlink(reg.model_dir("m").join("v1"), reg.model_dir("m").join("v3")).unwrap();

        assert_eq!(
            reg.names().unwrap(),
            vec!["alias".to_string(), "m".to_string()]
        );
        assert_eq!(reg.versions("m").unwrap(), vec![1, 3]);
        for spec in ["evil", "evil/v1", "m/v2"] {
            let e = reg.resolve(spec).unwrap_err();
            assert!(matches!(e, ModelError::OutsideStore { .. }), "{spec}: {e}");
            assert!(e.to_string().contains("outside the model store"), "{e}");
        }
        assert!(reg.resolve("alias/v3").is_ok());

        let allowed = Registry::new(reg.root()).allow_symlinks(true);
        assert_eq!(allowed.names().unwrap(), vec!["alias", "evil", "m"]);
        assert_eq!(allowed.versions("m").unwrap(), vec![1, 2, 3]);
        assert!(allowed.resolve("evil").is_ok());
        drop(dir);
    }

    #[test]
    fn people_csvs_write_formula_like_cells_as_text() {
        let rows = vec![
            vec!["segment".to_string(), "top_channel".into(), "mean".into()],
            vec!["Champions".into(), "=cmd (40%)".into(), "-5.0000".into()],
        ];
        let text = String::from_utf8(people_csv_bytes(rows)).unwrap();
        assert_eq!(
            text,
            "segment,top_channel,mean\nChampions,'=cmd (40%),-5.0000\n"
        );
    }

    #[test]
    fn empty_store_lists_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::new(dir.path().join("models"));
        assert!(reg.list().unwrap().is_empty());
        assert_eq!(reg.versions("x").unwrap(), Vec::<u32>::new());
        assert!(matches!(reg.resolve("x"), Err(ModelError::NotFound { .. })));
    }
}
