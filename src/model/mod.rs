//! Model versions: the `model.json` format ([`format`]), loading with a format-version check
//! first ([`Model::load`]), and the on-disk registry of versions ([`registry`]).

pub mod format;
pub mod registry;

use std::path::{Path, PathBuf};

pub use format::{Metrics, ModelFile, FORMAT_VERSION};
pub use registry::Registry;

use crate::features::Encoding;
use crate::score::Centroids;

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
}

impl Model {
    /// Loads `model.json` from a version folder (or the file itself), checking
    /// `format_version` before anything else, then validating the content.
    pub fn load(path: &Path) -> Result<Model, ModelError> {
        let file_path = if path.is_dir() {
            path.join("model.json")
        } else {
            path.to_path_buf()
        };
        let bytes = std::fs::read(&file_path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ModelError::NotFound {
                what: format!("{}: no model file", file_path.display()),
            },
            _ => ModelError::io(&file_path, e),
        })?;
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
        let invalid = |reason: String| ModelError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        validate(&file).map_err(invalid)?;
        let centroids = Centroids::from_rows(&file.centroids)
            .ok_or_else(|| malformed("centroids are empty or ragged".into()))?;
        let lifecycle_at = file
            .lifecycle
            .as_ref()
            .and_then(|_| crate::features::lifecycle::find_inputs(|n| file.features.position(n)));
        Ok(Model {
            file,
            centroids,
            dir: PathBuf::new(),
            lifecycle_at,
        })
    }
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
