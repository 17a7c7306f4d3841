//! Where input rows come from: expanding a path (file, directory or glob) into files, opening
//! each one (transparently gunzipping `.gz`), and fingerprinting the bytes read with SHA-256 so
//! the model records exactly which inputs it was trained on.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::DataError;

/// Expands one user-supplied input path into a sorted list of files.
///
/// A directory contributes its non-hidden regular files (not recursive); a path containing
/// `*`, `?` or `[` is a glob. Anything that matches nothing is an error naming the path.
pub fn expand(input: &Path) -> Result<Vec<PathBuf>, DataError> {
    let text = input.to_string_lossy();
    let mut files = Vec::new();
    if input.is_dir() {
        let entries = std::fs::read_dir(input).map_err(|e| DataError::Unreadable {
            path: input.to_path_buf(),
            reason: e.to_string(),
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| DataError::Unreadable {
                path: input.to_path_buf(),
                reason: e.to_string(),
            })?;
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if path.is_file() && !hidden {
                files.push(path);
            }
        }
    } else if text.contains(['*', '?', '[']) {
        let paths = glob::glob(&text).map_err(|e| DataError::Unreadable {
            path: input.to_path_buf(),
            reason: format!("bad glob pattern: {e}"),
        })?;
        for p in paths.flatten() {
            if p.is_file() {
                files.push(p);
            }
        }
    } else if input.is_file() {
        files.push(input.to_path_buf());
    } else {
        return Err(DataError::Unreadable {
            path: input.to_path_buf(),
            reason: "no such file or directory".into(),
        });
    }
    if files.is_empty() {
        return Err(DataError::Unreadable {
            path: input.to_path_buf(),
            reason: "matched no files".into(),
        });
    }
    files.sort();
    Ok(files)
}

/// Fingerprint of one input file, recorded in the model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileFingerprint {
    /// The path as the user gave it (or as found in a directory or glob).
    pub path: String,
    /// SHA-256 of the file's bytes on disk (compressed bytes for `.gz`).
    pub sha256: String,
    /// Size in bytes on disk.
    pub bytes: u64,
    /// Data rows read (header excluded).
    pub rows: u64,
}

/// A shared SHA-256 state fed by [`HashingReader`].
#[derive(Clone, Default)]
pub struct SharedHasher {
    inner: Arc<Mutex<(Sha256, u64)>>,
}

impl SharedHasher {
    /// Bytes hashed so far.
    pub fn bytes(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).1
    }

    /// Hex digest and byte count of everything hashed so far.
    pub fn finish(&self) -> (String, u64) {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let digest = guard.0.clone().finalize();
        (hex(&digest), guard.1)
    }
}

/// Lower-case hex of a byte slice.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Passes bytes through while hashing them.
pub struct HashingReader<R> {
    inner: R,
    hasher: SharedHasher,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut guard = self.hasher.inner.lock().unwrap_or_else(|p| p.into_inner());
        guard.0.update(&buf[..n]);
        guard.1 += n as u64;
        Ok(n)
    }
}

/// True when the file name says gzip.
pub fn is_gzip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz") || e.eq_ignore_ascii_case("gzip"))
}

/// True when the file is Parquet (by extension, or by the `PAR1` magic bytes).
pub fn is_parquet(path: &Path) -> bool {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
    {
        return true;
    }
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"PAR1"
}

/// Opens a file, naming it in the error.
fn open_file(path: &Path) -> Result<File, DataError> {
    File::open(path).map_err(|e| DataError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The text of `on_disk`, decompressed when the file name says gzip.
fn text_of<R: Read + 'static>(path: &Path, on_disk: R) -> Box<dyn Read> {
    if is_gzip(path) {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            1 << 16,
            on_disk,
        )))
    } else {
        Box::new(on_disk)
    }
}

/// Opens a text file for reading, decompressing gzip, hashing the on-disk bytes.
pub fn open_text(path: &Path) -> Result<(Box<dyn Read>, SharedHasher), DataError> {
    let hasher = SharedHasher::default();
    let hashing = HashingReader {
        inner: open_file(path)?,
        hasher: hasher.clone(),
    };
    Ok((text_of(path, hashing), hasher))
}

/// [`open_text`] without the hash, for a second read of a file already fingerprinted.
pub fn open_text_again(path: &Path) -> Result<Box<dyn Read>, DataError> {
    Ok(text_of(path, open_file(path)?))
}

/// SHA-256 and size of a whole file (used for Parquet, which is read by seeking).
pub fn hash_file(path: &Path) -> Result<(String, u64), DataError> {
    let hasher = SharedHasher::default();
    let mut reader = HashingReader {
        inner: open_file(path)?,
        hasher: hasher.clone(),
    };
    io::copy(&mut reader, &mut io::sink()).map_err(|e| DataError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(hasher.finish())
}
