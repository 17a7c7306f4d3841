//! Request body bytes → the server's JSON parsing (depth limit, shape) → each customer's
//! validation → scoring with the golden model. Must never panic, and anything scored must have
//! finite distances.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use custseg::server::handlers::score::{parse_json, ScoreRequest};
use libfuzzer_sys::fuzz_target;

static MODEL: OnceLock<custseg::Model> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let model = MODEL.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/golden/v1");
        custseg::Model::load(&dir).expect("golden model")
    });
    let Ok(req) = parse_json::<ScoreRequest>(data, 32) else {
        return;
    };
    let mut scratch = Vec::new();
    for c in &req.customers {
        let Ok(p) = custseg::score::request::prepare(&model.file.features, c, 20_000, None, 10_000)
        else {
            continue;
        };
        if let Ok(s) = model.score(&p.raw, &mut scratch) {
            assert!(s.segment_id < model.file.k);
            assert!(
                s.distances.iter().all(|d| d.is_finite()),
                "{:?}",
                s.distances
            );
            assert!(s.margin.is_finite() && s.margin >= 0.0);
        }
    }
});
