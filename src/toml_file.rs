//! The one TOML file loader (training configs, server configs): the file is read whole and
//! parsed into `T`, whose serde attributes decide what an unknown key is (both configs refuse
//! them). The error is the reason only; callers wrap it in their own error with the path.

use std::path::Path;

/// Reads and parses `path`; `Err` holds why it cannot be read or parsed (line and column
/// from the TOML parser).
pub fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    toml::from_str(&text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct C {
        k: u32,
    }

    #[test]
    fn unreadable_files_and_unknown_keys_are_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        assert!(super::read::<C>(&p).unwrap_err().contains("No such file"));
        std::fs::write(&p, "k = 3\n").unwrap();
        assert_eq!(super::read::<C>(&p).unwrap().k, 3);
        std::fs::write(&p, "kk = 3\n").unwrap();
        assert!(super::read::<C>(&p).unwrap_err().contains("unknown field"));
    }
}
