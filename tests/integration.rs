//! Integration tests, one binary: the trainer on real data (CDNOW, Mall customers, an
//! Online-Retail-shaped log), model files and the golden format, the CLI's failure cases, and
//! the HTTP scorer over real sockets.

mod cli;
mod common;
mod export;
mod hostile;
mod model_format;
mod properties;
mod retrain;
mod server;
mod train;
