//! Integration tests, one binary: the trainer on real data (CDNOW, Mall customers, an
//! Online-Retail-shaped log), model files and the golden format, and the CLI's failure cases.

mod cli;
mod common;
mod model_format;
mod train;
