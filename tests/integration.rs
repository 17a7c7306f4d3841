//! Integration tests, one binary: the trainer on real data (CDNOW, Mall customers, an
//! Online-Retail-shaped log), model files and the golden format, the CLI's failure cases,
//! the HTTP scorer over real sockets, and the per-version report.html.

mod behaviour;
mod changes;
mod cli;
mod common;
mod dates;
mod drift;
mod events;
mod export;
mod export_sql;
mod filters;
mod hostile;
mod kserve;
mod model_format;
mod names;
mod outputs;
mod playbooks;
mod properties;
mod report;
mod retrain;
mod rows;
mod score_tables;
mod scoring;
mod security;
mod server;
mod tables;
mod train;
mod value;
