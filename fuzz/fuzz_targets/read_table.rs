//! Arbitrary file bytes → the training reader (delimiter/header sniffing, transaction
//! cleaning, customer tables). Must return data or a DataError, never panic.
#![no_main]

use custseg::data::{read_customers, read_transactions, ColumnMap};
use custseg::progress::Progress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("custseg-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("input.csv");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let map = ColumnMap::default();
    let _ = read_transactions(&[path.clone()], &map, &Default::default(), &Progress::hidden());
    let _ = read_customers(&[path], &map, &Progress::hidden());
});
