//! Exporting a model version to other systems, so segments can be assigned where the data
//! already is (a Spark job, a warehouse, a JVM service) without running custseg there.
//!
//! [`pmml()`] writes a PMML 4.4 `ClusteringModel` that reproduces custseg's scoring exactly:
//! the same imputation, transforms, scaling and one-hot centring as
//! [`Feature::encode`](crate::features::Feature::encode), squared Euclidean distance and the
//! nearest centroid, with the segment ids and names of the model.

pub mod pmml;
pub mod sql;

pub use pmml::{pmml, ExportError};
pub use sql::{sql, Dialect, SqlError, SqlOptions};

use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically (see [`crate::atomic`]): readers see the old file or
/// the whole new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::atomic::write_bytes(path, bytes, |p, e| Error::io(p, e))
}

/// True when `path` (which need not exist) would be inside `folder`, following symlinks.
pub fn is_inside(path: &Path, folder: &Path) -> bool {
    let Ok(folder) = folder.canonicalize() else {
        return false;
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let target = match path.canonicalize() {
        Ok(p) => p,
        Err(_) => match (parent.canonicalize(), path.file_name()) {
            (Ok(p), Some(name)) => p.join(name),
            _ => return false,
        },
    };
    target.starts_with(&folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.pmml");
        write_atomic(&out, b"first").unwrap();
        write_atomic(&out, b"second").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["m.pmml"]);
        let missing = dir.path().join("no/such/folder/m.pmml");
        assert!(write_atomic(&missing, b"x").is_err());
    }

    #[test]
    fn inside_checks_resolve_dots_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("models/m");
        std::fs::create_dir_all(model.join("v1")).unwrap();
        assert!(is_inside(&model.join("v1/x.pmml"), &model));
        assert!(is_inside(&model.join("v1/../x.pmml"), &model));
        assert!(!is_inside(&dir.path().join("models/x.pmml"), &model));
        assert!(!is_inside(&model.join("v1/../../x.pmml"), &model));
    }
}
