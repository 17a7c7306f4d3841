//! Exporting a model version to other systems, so segments can be assigned where the data
//! already is (a Spark job, a warehouse, a JVM service) without running custseg there.
//!
//! [`pmml()`] writes a PMML 4.4 `ClusteringModel` that reproduces custseg's scoring exactly:
//! the same imputation, transforms, scaling and one-hot centring as
//! [`Feature::encode`](crate::features::Feature::encode), squared Euclidean distance and the
//! nearest centroid, with the segment ids and names of the model.

pub mod pmml;

pub use pmml::{pmml, ExportError};

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename,
/// then fsync of the folder. Readers see the old file or the whole new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| {
            Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
            )
        })?
        .to_string_lossy();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let tmp = folder.join(format!(".{file_name}.tmp-{}-{nanos}", std::process::id()));
    let written = (|| {
        // A failure to create names the file asked for (usually its folder is missing).
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(path, e))?;
        f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return written;
    }
    // The rename is durable once the folder is synced (not possible on every platform).
    if let Ok(d) = std::fs::File::open(&folder) {
        let _ = d.sync_all();
    }
    Ok(())
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
