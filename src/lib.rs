//! custseg: customer segmentation from real transaction logs and customer tables.
//!
//! The pipeline is `data` (ingestion and cleaning) → `features` (RFM + demographics,
//! transforms, scaling) → `train` (k-means with linfa-clustering, k search, segment naming)
//! → `model` (versioned model files on disk, each with a self-contained `report.html` drawn
//! by `report`). The scoring path (`score`) reuses the same feature code, so a customer
//! scored later lands where the trainer would have put it.

pub mod data;
pub mod error;
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
pub mod train;

pub use error::{Error, Result};
pub use features::{FeatureSpec, RawValue};
pub use model::{Model, Registry};
pub use train::{TrainOutput, TrainParams};
