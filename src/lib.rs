//! custseg: customer segmentation from real transaction logs and customer tables.
//!
//! Data flows one way, each layer using only those before it: `data` (ingestion and
//! cleaning) → `features` (RFM + demographics, transforms, scaling) → `geometry` (centroids
//! and distances) → `model` (the model format: features, segments, centroids) → `train`
//! (custseg's own k-means kernel, checked against linfa-clustering in the tests; k search;
//! segment naming) and `score` (the same feature code, so a customer scored later lands
//! where the trainer would have put it) → the store (`store`), `report` and
//! `export` → `server` and the CLI. `python3 scripts/architecture.py` lists what still runs
//! against that flow.

pub mod atomic;
pub mod changes;
pub mod data;
pub mod drift;
pub mod error;
pub mod evaluate;
pub mod export;
pub mod features;
pub mod generate;
pub mod geometry;
pub mod model;
pub mod npy;
pub mod progress;
pub mod report;
pub mod score;
pub mod server;
pub mod store;
pub mod toml_file;
pub mod train;
/// Predictive customer value: BG/NBD, Pareto/NBD, Gamma-Gamma and CLV (plain data in and out).
pub mod value;

pub use error::{Error, Result};
pub use features::{FeatureSpec, RawValue};
pub use model::Model;
pub use store::Registry;
pub use train::{TrainOutput, TrainParams};
