//! Model versions: the `model.json` format ([`format`]), the segment types it holds
//! ([`segment`]), and loading with a format-version check first ([`Model::load`]). The
//! on-disk store of versions is the `store` module, a layer above training (this one knows
//! nothing of it).

pub mod format;
pub mod playbook;
pub mod reference;
pub mod segment;

use std::path::{Path, PathBuf};

pub use format::{Metrics, ModelFile, FORMAT_VERSION};
pub use playbook::{Playbook, PlaybookOverride, PlaybookSource};
pub use segment::{FeatureProfile, LevelShare, Mix, Rename, Segment, Standing, Tier};

use crate::features::Encoding;
use crate::geometry::Centroids;

/// Errors reading, writing or finding models.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// `format_version` is not one this build reads.
    #[error("{}: model format_version {found} is not supported (this custseg reads {supported})", path.display())]
    UnsupportedVersion {
        path: PathBuf,
        found: String,
        supported: u32,
    },
    /// Not a model file, or fields missing or of the wrong type.
    #[error("{}: malformed model file: {context}", path.display())]
    Malformed { path: PathBuf, context: String },
    /// Parsed, but inconsistent (dimensions, non-finite numbers, …).
    #[error("{}: invalid model: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    /// A model name that is not `[A-Za-z0-9_-]`, 1–64 characters.
    #[error("bad model name '{name}': use 1-64 letters, digits, '-' or '_'")]
    BadName { name: String },
    /// A model or version folder (or model file) that resolves outside the model store.
    #[error("{}: resolves to {}, outside the model store {}; models are read only from the store (symbolic links out of it are refused unless allowed)", path.display(), target.display(), root.display())]
    OutsideStore {
        path: PathBuf,
        target: PathBuf,
        root: PathBuf,
    },
    /// Nothing found where a model was expected.
    #[error("{what}")]
    NotFound { what: String },
    /// I/O on the model store.
    /// (The I/O error is in the message only, so a printed chain names it once.)
    #[error("{}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

impl ModelError {
    /// Missing, malformed or unsupported models are the user's problem; I/O is not.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, ModelError::Io { .. })
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.to_path_buf(),
            cause: source,
        }
    }
}

/// Model-store files (`model.json`, `metrics.json`) larger than this are refused unless a
/// caller passes its own limit: real models are kilobytes to a few megabytes.
pub const DEFAULT_MAX_MODEL_BYTES: u64 = 256 << 20;

/// Opens a file without blocking on a FIFO or device (`O_NONBLOCK` has no effect on regular
/// files).
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    opts.open(path)
}

/// Reads a file of the model store: only a regular file (a FIFO, socket or device is refused
/// without blocking) of at most `max_bytes` (checked before reading, and again while reading
/// in case it grows).
pub fn read_store_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>, ModelError> {
    use std::io::Read;
    let malformed = |context: String| ModelError::Malformed {
        path: path.to_path_buf(),
        context,
    };
    let file = open_nonblocking(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ModelError::NotFound {
            what: format!("{}: no model file", path.display()),
        },
        _ => ModelError::io(path, e),
    })?;
    let meta = file.metadata().map_err(|e| ModelError::io(path, e))?;
    if !meta.is_file() {
        return Err(malformed("not a regular file".into()));
    }
    let too_large = |n: u64| malformed(format!("{n} bytes, more than the limit of {max_bytes}"));
    if meta.len() > max_bytes {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ModelError::io(path, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// A loaded, validated model ready to score.
#[derive(Clone, Debug)]
pub struct Model {
    /// The file's content.
    pub file: ModelFile,
    /// Centroids in the scorer's layout.
    pub centroids: Centroids,
    /// Where it was loaded from (the version folder).
    pub dir: PathBuf,
    /// Positions of recency_days, frequency, monetary and tenure_days among the features,
    /// when the model scores RFM quintiles and lifecycle stages.
    pub lifecycle_at: Option<[usize; 4]>,
    /// Positions of recency_days, frequency, tenure_days and avg_order_value, when the model
    /// has a value model and those features (value from features).
    pub value_at: Option<[usize; 4]>,
    /// The row rules of its training, compiled once for scoring.
    pub row_rules: crate::data::RowRules,
}

impl Model {
    /// Loads `model.json` from a version folder (or the file itself), checking
    /// `format_version` before anything else, then validating the content.
    pub fn load(path: &Path) -> Result<Model, ModelError> {
        Self::load_limited(path, DEFAULT_MAX_MODEL_BYTES)
    }

    /// [`Model::load`] refusing a `model.json` larger than `max_bytes` before reading it.
    pub fn load_limited(path: &Path, max_bytes: u64) -> Result<Model, ModelError> {
        let file_path = if path.is_dir() {
            path.join("model.json")
        } else {
            path.to_path_buf()
        };
        let bytes = read_store_file(&file_path, max_bytes)?;
        let mut model = Self::from_slice(&bytes, &file_path)?;
        model.dir = file_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Ok(model)
    }

    /// Parses and validates model JSON; `path` is used in messages.
    pub fn from_slice(bytes: &[u8], path: &Path) -> Result<Model, ModelError> {
        let malformed = |context: String| ModelError::Malformed {
            path: path.to_path_buf(),
            context,
        };
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("not JSON: {e}")))?;
        let version = value
            .get("format_version")
            .ok_or_else(|| malformed("no format_version field".into()))?;
        if version.as_u64() != Some(u64::from(FORMAT_VERSION)) {
            return Err(ModelError::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version.to_string(),
                supported: FORMAT_VERSION,
            });
        }
        let file: ModelFile =
            serde_json::from_value(value).map_err(|e| malformed(e.to_string()))?;
        Self::from_file(file, path)
    }

    /// The column mapping scoring applies: the model's own `--map` pairs, then `extra`'s
    /// (which win), with `extra`'s date format.
    pub fn column_map_with(&self, extra: &crate::data::ColumnMap) -> crate::data::ColumnMap {
        let mut map = extra.clone();
        map.pairs = self.file.input.column_map.clone();
        map.pairs.extend(extra.pairs.iter().cloned());
        map
    }

    /// Validates a model file held in memory (a freshly trained one); `path` is used in
    /// messages.
    pub fn from_file(file: ModelFile, path: &Path) -> Result<Model, ModelError> {
        let malformed = |context: String| ModelError::Malformed {
            path: path.to_path_buf(),
            context,
        };
        let invalid = |reason: String| ModelError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        validate(&file).map_err(invalid)?;
        let mut file = file;
        for s in file.segments.iter_mut().filter(|s| s.playbook.is_none()) {
            s.playbook = Some(playbook::default_for(s));
        }
        let centroids = Centroids::from_rows(&file.centroids)
            .ok_or_else(|| malformed("centroids are empty or ragged".into()))?;
        let lifecycle_at = file
            .lifecycle
            .as_ref()
            .and_then(|_| crate::features::lifecycle::find_inputs(|n| file.features.position(n)));
        let value_at = file.value_model.as_ref().and_then(|_| {
            let at = |n| file.features.position(n);
            Some([
                at("recency_days")?,
                at("frequency")?,
                at("tenure_days")?,
                at("avg_order_value")?,
            ])
        });
        let row_rules = file
            .params
            .row_rules()
            .map_err(|e| invalid(format!("params.filters: {e}")))?;
        Ok(Model {
            file,
            centroids,
            dir: PathBuf::new(),
            lifecycle_at,
            value_at,
            row_rules,
        })
    }
}

/// A value model scores only with finite positive parameters, q > 1 (a finite mean spend)
/// and settings the trainer accepts.
fn validate_value_model(v: &format::ValueModelRecord) -> Result<(), String> {
    let params: Vec<(&str, f64)> = match v.purchases {
        crate::value::PurchaseModel::BgNbd(p) => {
            vec![("r", p.r), ("alpha", p.alpha), ("a", p.a), ("b", p.b)]
        }
        crate::value::PurchaseModel::ParetoNbd(p) => {
            vec![("r", p.r), ("alpha", p.alpha), ("s", p.s), ("beta", p.beta)]
        }
    };
    let spend = [("p", v.spend.p), ("q", v.spend.q), ("v", v.spend.v)];
    if let Some((name, x)) = params
        .into_iter()
        .chain(spend)
        .find(|(_, x)| !(x.is_finite() && *x > 0.0))
    {
        return Err(format!(
            "value_model parameter {name} = {x} must be finite and > 0"
        ));
    }
    if v.spend.q <= 1.0 {
        return Err(format!("value_model spend q = {} must be > 1", v.spend.q));
    }
    if v.time_unit != "day" {
        return Err(format!(
            "value_model time_unit '{}' is not 'day'",
            v.time_unit
        ));
    }
    v.settings()
        .validate()
        .map_err(|e| format!("value_model: {e}"))
}

fn validate(m: &ModelFile) -> Result<(), String> {
    let d = m.features.n_columns();
    if m.features.features.is_empty() {
        return Err("no features".into());
    }
    if m.centroids.is_empty() || m.centroids.len() != m.k {
        return Err(format!("k = {} but {} centroids", m.k, m.centroids.len()));
    }
    if let Some((j, row)) = m.centroids.iter().enumerate().find(|(_, r)| r.len() != d) {
        return Err(format!(
            "centroid {j} has {} values, features need {d}",
            row.len()
        ));
    }
    if m.centroids.iter().flatten().any(|v| !v.is_finite()) {
        return Err("centroids contain non-finite numbers".into());
    }
    if m.segments.len() != m.k || m.segments.windows(2).any(|w| w[0].id >= w[1].id) {
        return Err("segments must be one per centroid, in ascending id order".into());
    }
    if let Some(v) = &m.value_model {
        validate_value_model(v)?;
    }
    if let Some(r) = &m.reference {
        r.validate(&m.features, m.k)?;
    }
    if let Some(l) = &m.lineage {
        let max_id = m.segments.iter().map(|s| s.id).max().unwrap_or(0);
        if l.matches.len() != m.k
            || l.matches.iter().zip(&m.segments).any(|(a, s)| a.id != s.id)
            || l.next_segment_id <= max_id
        {
            return Err("lineage does not match the segments".into());
        }
    }
    for f in &m.features.features {
        if !(f.weight.is_finite() && f.weight > 0.0) {
            return Err(format!("feature {}: weight must be positive", f.name));
        }
        match &f.encoding {
            Encoding::Numeric {
                mean, std, impute, ..
            } => {
                if !(std.is_finite() && *std > 0.0 && mean.is_finite() && impute.is_finite()) {
                    return Err(format!("feature {}: bad scaler statistics", f.name));
                }
            }
            Encoding::Categorical {
                levels,
                shares,
                scale,
                ..
            } => {
                if levels.is_empty()
                    || levels.len() != shares.len()
                    || !(scale.is_finite() && *scale > 0.0)
                {
                    return Err(format!("feature {}: bad category vocabulary", f.name));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_files_larger_than_the_limit_are_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.json");
        std::fs::write(&p, vec![b' '; 2000]).unwrap();
        assert_eq!(read_store_file(&p, 2000).unwrap().len(), 2000);
        let e = read_store_file(&p, 1999).unwrap_err();
        assert!(e.to_string().contains("more than the limit of 1999"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_in_the_store_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("metrics.json");
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file system node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let e = read_store_file(&p, DEFAULT_MAX_MODEL_BYTES).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let e = Model::load(&p).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_missing_model_file_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Model::load(dir.path()),
            Err(ModelError::NotFound { .. })
        ));
    }
}
