//! A minimal reader for NumPy `.npy` files holding a 2-D little-endian float64 array in C
//! order — the exchange format of the scikit-learn comparison (`benches/compare_sklearn.py`).

use std::path::Path;

use crate::data::DataError;

fn bad(path: &Path, reason: impl Into<String>) -> DataError {
    DataError::Unreadable {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads an `(n, d)` `<f8` C-order array: returns the values row-major and `d`.
pub fn read_f64_matrix(path: &Path) -> Result<(Vec<f64>, usize), DataError> {
    let bytes = std::fs::read(path).map_err(|e| bad(path, e.to_string()))?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad(path, "not a .npy file"));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(path, format!("unsupported .npy version {v}"))),
    };
    let header = bytes
        .get(start..start + header_len)
        .map(String::from_utf8_lossy)
        .ok_or_else(|| bad(path, "truncated header"))?;
    if !header.contains("'descr': '<f8'") {
        return Err(bad(path, "expected little-endian float64 ('<f8') data"));
    }
    if !header.contains("'fortran_order': False") {
        return Err(bad(path, "expected C-order data"));
    }
    let shape = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad(path, "no shape in header"))?;
    let dims: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| bad(path, format!("bad shape ({shape})")))
        })
        .collect::<Result<_, _>>()?;
    let [n, d] = dims[..] else {
        return Err(bad(
            path,
            format!("expected a 2-D array, shape is ({shape})"),
        ));
    };
    let body = &bytes[start + header_len..];
    if d == 0 || body.len() != n * d * 8 {
        return Err(bad(
            path,
            format!("{} data bytes for shape ({n}, {d})", body.len()),
        ));
    }
    let values = body
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    Ok((values, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str, values: &[f64]) -> Vec<u8> {
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    #[test]
    fn reads_a_float64_matrix() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.npy");
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        std::fs::write(
            &p,
            npy(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }",
                &v,
            ),
        )
        .unwrap();
        assert_eq!(read_f64_matrix(&p).unwrap(), (v.to_vec(), 2));
    }

    #[test]
    fn rejects_other_dtypes_orders_shapes_and_sizes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.npy");
        for (header, n, expect) in [
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }",
                1,
                "float64",
            ),
            (
                "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 1), }",
                2,
                "C-order",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                2,
                "2-D",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 1), }",
                2,
                "data bytes",
            ),
        ] {
            std::fs::write(&p, npy(header, &vec![0.0; n])).unwrap();
            let e = read_f64_matrix(&p).unwrap_err().to_string();
            assert!(e.contains(expect) && e.contains("x.npy"), "{e}");
        }
        std::fs::write(&p, b"hello").unwrap();
        assert!(read_f64_matrix(&p).is_err());
    }
}
