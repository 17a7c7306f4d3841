//! The one atomic file writer: whatever custseg replaces (an export, a batch-scoring output,
//! a model's `CURRENT`) is written to a temporary file in the same folder, fsynced, renamed
//! over the target, and the folder is synced. Readers see the old file or the whole new one,
//! never a part; on any failure the temporary file is removed and the target is untouched.
//! (A model version is a folder and is written by the store the same way, a folder at a time.)

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The temporary file `path` is written through: `.NAME.tmp-PID-NANOS` beside it.
pub fn temporary_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}-{nanos}", std::process::id()))
}

/// Writes `path` atomically through `fill`, which gets the buffered temporary file and its
/// path (for its own error messages). `io_error` turns an I/O failure on a path into the
/// caller's error; a failure to create the temporary file names `path` (usually its folder
/// is missing).
pub fn write_with<T, E>(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>, &Path) -> Result<T, E>,
    io_error: impl Fn(&Path, io::Error) -> E,
) -> Result<T, E> {
    if path.file_name().is_none() {
        let e = io::Error::new(io::ErrorKind::InvalidInput, "not a file name");
        return Err(io_error(path, e));
    }
    let tmp = temporary_for(path);
    let written = (|| {
        let file = File::create(&tmp).map_err(|e| io_error(path, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let value = fill(&mut w, &tmp)?;
        let file = w.into_inner().map_err(|e| io_error(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| io_error(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
        Ok(value)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return written;
    }
    // The rename is durable once the folder is synced (not possible on every platform).
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(folder) {
        let _ = d.sync_all();
    }
    written
}

/// [`write_with`] for bytes in memory.
pub fn write_bytes<E>(
    path: &Path,
    bytes: &[u8],
    io_error: impl Fn(&Path, io::Error) -> E + Copy,
) -> Result<(), E> {
    write_with(
        path,
        |w, tmp| w.write_all(bytes).map_err(|e| io_error(tmp, e)),
        io_error,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect()
    }

    #[test]
    fn a_write_replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        std::fs::write(&p, "old\n").unwrap();
        write_bytes(&p, b"new\n", |_, e| e).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_failed_fill_keeps_the_old_file_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        std::fs::write(&p, "old\n").unwrap();
        let r: Result<(), io::Error> = write_with(
            &p,
            |w, _| {
                w.write_all(b"half").unwrap();
                Err(io::Error::other("the source broke"))
            },
            |_, e| e,
        );
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old\n");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_missing_folder_is_named_by_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("no/such/out.csv");
        let err = write_bytes(&p, b"x", |path, e| format!("{}: {e}", path.display()));
        assert!(err.unwrap_err().starts_with(&p.display().to_string()));
    }
}
