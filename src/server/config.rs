//! Server configuration: in-code defaults, then an optional TOML file, then environment
//! variables and flags (the CLI maps both into [`ServerConfig`]). Everything is validated
//! before the server binds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything the server needs, in one value.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: String,
    /// Model store.
    pub models_dir: PathBuf,
    /// Model served by `POST /v1/score`.
    pub default_model: String,
    /// Keys that may score and read models.
    pub api_keys: Vec<String>,
    /// Keys that may also reload models.
    pub admin_keys: Vec<String>,
    /// File with one key per line as `score:KEY` or `admin:KEY` (`#` comments).
    pub key_file: Option<PathBuf>,
    /// Allow a non-loopback bind without any API key.
    pub allow_unauthenticated: bool,
    /// Request body limit in bytes (413 above).
    pub max_body_bytes: usize,
    /// Customers per request (413 above).
    pub max_customers: usize,
    /// Transactions per customer (413 above).
    pub max_transactions: usize,
    /// Nesting depth of request JSON (422 above).
    pub max_json_depth: usize,
    /// Worker threads (0 = one per core).
    pub workers: usize,
    /// Seconds in-flight requests get to finish on SIGTERM.
    pub shutdown_timeout_s: u64,
    /// How often CURRENT files are checked for changes, in milliseconds (0 = never; SIGHUP
    /// and the reload route still work).
    pub watch_interval_ms: u64,
    /// Largest `model.json` / `metrics.json` the server reads, in bytes (checked before
    /// reading).
    pub max_model_bytes: u64,
    /// The as-of date of a request without `as_of`.
    pub default_as_of: DefaultAsOf,
    /// Largest share of a model's features a customer may leave out (imputed) before it is
    /// refused with 422 `too_many_missing`; 1 allows any.
    pub max_missing_share: f64,
    /// Seconds a client gets to send a whole request body (408 `body_timeout` after).
    pub body_timeout_s: u64,
    /// Milliseconds a new or kept-alive connection gets to send its request head before it
    /// is closed (408); idle sockets hold descriptors no longer than this.
    pub header_timeout_ms: u64,
    /// Bytes of request bodies held in memory across all connections; a body that would pass
    /// it is answered 503 `busy` with `Retry-After` before it is read.
    pub max_inflight_body_bytes: usize,
    /// Threads that score (0 = one per core), apart from the HTTP workers.
    pub scoring_threads: usize,
    /// Scoring requests that may wait for a scoring thread; the next answers 503
    /// `overloaded` with `Retry-After`.
    pub scoring_queue: usize,
    /// Open connections across all workers (0 = the descriptor limit less 64 reserved);
    /// beyond it new connections wait in the listen backlog.
    pub max_connections: usize,
    /// A second address serving only `/healthz`, `/readyz` and `/metrics`, with connections
    /// of its own, for probes that must be answered however many connections clients hold.
    pub health_bind: Option<String>,
    /// Serve model and version folders that are symbolic links out of `models_dir`
    /// (refused by default; links inside the store are always fine).
    pub allow_symlinks: bool,
}

/// What a scoring request without `as_of` is evaluated at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultAsOf {
    /// Today (UTC).
    #[default]
    Today,
    /// The served model's own as-of date (today for models without one).
    Model,
}

impl std::str::FromStr for DefaultAsOf {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "today" => Ok(DefaultAsOf::Today),
            "model" => Ok(DefaultAsOf::Model),
            _ => Err(format!("'{s}': expected today or model")),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8080".into(),
            models_dir: PathBuf::from("models"),
            default_model: "default".into(),
            api_keys: Vec::new(),
            admin_keys: Vec::new(),
            key_file: None,
            allow_unauthenticated: false,
            max_body_bytes: 1 << 20,
            max_customers: 1000,
            max_transactions: 10_000,
            max_json_depth: 32,
            workers: 0,
            shutdown_timeout_s: 30,
            watch_interval_ms: 2000,
            max_model_bytes: crate::model::DEFAULT_MAX_MODEL_BYTES,
            default_as_of: DefaultAsOf::Today,
            max_missing_share: 0.5,
            body_timeout_s: 30,
            header_timeout_ms: 5000,
            max_inflight_body_bytes: 128 << 20,
            scoring_threads: 0,
            scoring_queue: 256,
            max_connections: 0,
            health_bind: None,
            allow_symlinks: false,
        }
    }
}

/// Invalid server settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    #[error("bind address '{bind}': {reason}")]
    Bind { bind: String, reason: String },
    #[error("{field} must be at least {min}")]
    TooSmall { field: &'static str, min: usize },
    #[error("no API keys are configured and {bind} is not a loopback address: set CUSTSEG_API_KEYS/CUSTSEG_ADMIN_KEYS or a key file, or pass --allow-unauthenticated")]
    Unauthenticated { bind: String },
    #[error("key file {}: line {line}: expected score:KEY or admin:KEY", path.display())]
    KeyFile { path: PathBuf, line: usize },
    #[error("API keys must be at least 16 characters (a key of {len} was given)")]
    ShortKey { len: usize },
    #[error("bad model name '{name}'")]
    BadName { name: String },
    #[error("{field} must be a number from 0 to 1")]
    NotAShare { field: &'static str },
    #[error("max_inflight_body_bytes ({budget}) must be at least max_body_bytes ({body})")]
    BudgetBelowBody { budget: usize, body: usize },
    #[error("max_connections {asked} is above what the descriptor limit allows ({allowed}: RLIMIT_NOFILE less {reserved} kept for files); raise `ulimit -n` or ask for fewer")]
    OverDescriptorLimit {
        asked: usize,
        allowed: usize,
        reserved: u64,
    },
}

/// Keys by scope after merging the lists and the key file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Keys {
    pub score: Vec<String>,
    pub admin: Vec<String>,
}

impl Keys {
    /// True when any key is configured.
    pub fn any(&self) -> bool {
        !self.score.is_empty() || !self.admin.is_empty()
    }
}

impl ServerConfig {
    /// Reads a TOML config file (unknown keys are errors).
    pub fn from_file(path: &Path) -> Result<ServerConfig, ConfigError> {
        crate::toml_file::read(path).map_err(|reason| ConfigError::File {
            path: path.into(),
            reason,
        })
    }

    /// Checks every setting; returns the parsed bind address and the keys.
    pub fn validate(&self) -> Result<(SocketAddr, Keys), ConfigError> {
        let addr: SocketAddr =
            self.bind
                .parse()
                .map_err(|e: std::net::AddrParseError| ConfigError::Bind {
                    bind: self.bind.clone(),
                    reason: e.to_string(),
                })?;
        for (field, v, min) in [
            ("max_body_bytes", self.max_body_bytes, 64),
            ("max_customers", self.max_customers, 1),
            ("max_transactions", self.max_transactions, 1),
            ("max_json_depth", self.max_json_depth, 3),
            (
                "max_model_bytes",
                usize::try_from(self.max_model_bytes).unwrap_or(usize::MAX),
                1024,
            ),
            (
                "body_timeout_s",
                usize::try_from(self.body_timeout_s).unwrap_or(usize::MAX),
                1,
            ),
            (
                "header_timeout_ms",
                usize::try_from(self.header_timeout_ms).unwrap_or(usize::MAX),
                100,
            ),
        ] {
            if v < min {
                return Err(ConfigError::TooSmall { field, min });
            }
        }
        if !(0.0..=1.0).contains(&self.max_missing_share) {
            return Err(ConfigError::NotAShare {
                field: "max_missing_share",
            });
        }
        if self.max_inflight_body_bytes < self.max_body_bytes {
            return Err(ConfigError::BudgetBelowBody {
                budget: self.max_inflight_body_bytes,
                body: self.max_body_bytes,
            });
        }
        self.connection_cap()?;
        self.health_addr()?;
        if crate::store::check_name(&self.default_model).is_err() {
            return Err(ConfigError::BadName {
                name: self.default_model.clone(),
            });
        }
        let mut keys = Keys {
            score: self
                .api_keys
                .iter()
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .collect(),
            admin: self
                .admin_keys
                .iter()
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .collect(),
        };
        if let Some(path) = &self.key_file {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                match line.split_once(':') {
                    Some(("score", k)) => keys.score.push(k.trim().to_string()),
                    Some(("admin", k)) => keys.admin.push(k.trim().to_string()),
                    _ => {
                        return Err(ConfigError::KeyFile {
                            path: path.clone(),
                            line: i + 1,
                        })
                    }
                }
            }
        }
        if let Some(k) = keys.score.iter().chain(&keys.admin).find(|k| k.len() < 16) {
            return Err(ConfigError::ShortKey { len: k.len() });
        }
        if !keys.any() && !addr.ip().is_loopback() && !self.allow_unauthenticated {
            return Err(ConfigError::Unauthenticated {
                bind: self.bind.clone(),
            });
        }
        Ok((addr, keys))
    }
}

impl ServerConfig {
    /// Open connections allowed across all workers: `max_connections`, or the descriptor
    /// limit less the descriptors kept for files when it is 0.
    pub fn connection_cap(&self) -> Result<usize, ConfigError> {
        let health = if self.health_bind.is_some() {
            super::limits::HEALTH_CONNECTIONS
        } else {
            0
        };
        let allowed =
            super::limits::connections_from_rlimit().map(|a| a.saturating_sub(health).max(16));
        match (self.max_connections, allowed) {
            (0, Some(a)) => Ok(a),
            (0, None) => Ok(25_000),
            (n, Some(a)) if n > a => Err(ConfigError::OverDescriptorLimit {
                asked: n,
                allowed: a,
                reserved: super::limits::RESERVED_DESCRIPTORS,
            }),
            (n, _) => Ok(n),
        }
    }

    /// The health listener's address, when one is set.
    pub fn health_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        self.health_bind
            .as_deref()
            .map(|b| {
                b.parse()
                    .map_err(|e: std::net::AddrParseError| ConfigError::Bind {
                        bind: b.to_string(),
                        reason: e.to_string(),
                    })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_as_of_is_today_or_model() {
        assert_eq!(ServerConfig::default().default_as_of, DefaultAsOf::Today);
        let c: ServerConfig = toml::from_str("default_as_of = \"model\"").unwrap();
        assert_eq!(c.default_as_of, DefaultAsOf::Model);
        assert!(toml::from_str::<ServerConfig>("default_as_of = \"yesterday\"").is_err());
        assert_eq!("today".parse::<DefaultAsOf>(), Ok(DefaultAsOf::Today));
        assert!("Model".parse::<DefaultAsOf>().is_err());
    }

    #[test]
    fn defaults_are_valid_and_loopback() {
        let (addr, keys) = ServerConfig::default().validate().unwrap();
        assert!(addr.ip().is_loopback());
        assert!(!keys.any());
    }

    #[test]
    fn bind_must_parse() {
        let c = ServerConfig {
            bind: "localhost".into(),
            ..Default::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::Bind { .. })));
    }

    #[test]
    fn limits_have_minimums() {
        let c = ServerConfig {
            max_customers: 0,
            ..Default::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::TooSmall {
                field: "max_customers",
                ..
            })
        ));
        let c = ServerConfig {
            max_json_depth: 1,
            ..Default::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::TooSmall { .. })));
    }

    #[test]
    fn public_bind_needs_keys_or_explicit_opt_out() {
        let c = ServerConfig {
            bind: "0.0.0.0:8080".into(),
            ..Default::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Unauthenticated { .. })
        ));
        let c = ServerConfig {
            bind: "0.0.0.0:8080".into(),
            allow_unauthenticated: true,
            ..Default::default()
        };
        assert!(c.validate().is_ok());
        let c = ServerConfig {
            bind: "0.0.0.0:8080".into(),
            api_keys: vec!["k".repeat(16)],
            ..Default::default()
        };
        assert!(c.validate().is_ok());
    }

    #[test]
    fn keys_must_be_long_enough() {
        let c = ServerConfig {
            api_keys: vec!["short".into()],
            ..Default::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::ShortKey { len: 5 })
        ));
    }

    #[test]
    fn key_file_lines_need_a_scope() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keys");
        std::fs::write(
            &p,
            "# keys\nscore:0123456789abcdef\nadmin:fedcba9876543210\n",
        )
        .unwrap();
        let c = ServerConfig {
            key_file: Some(p.clone()),
            ..Default::default()
        };
        let (_, keys) = c.validate().unwrap();
        assert_eq!((keys.score.len(), keys.admin.len()), (1, 1));
        std::fs::write(&p, "0123456789abcdef\n").unwrap();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::KeyFile { line: 1, .. })
        ));
    }

    #[test]
    fn max_missing_share_is_a_share() {
        for bad in [-0.1, 1.5, f64::NAN] {
            let c = ServerConfig {
                max_missing_share: bad,
                ..Default::default()
            };
            assert!(matches!(c.validate(), Err(ConfigError::NotAShare { .. })));
        }
        let c: ServerConfig = toml::from_str("max_missing_share = 1.0").unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(ServerConfig::default().max_missing_share, 0.5);
    }

    #[test]
    fn body_budget_holds_at_least_one_body() {
        let c = ServerConfig {
            max_body_bytes: 1 << 20,
            max_inflight_body_bytes: 1 << 19,
            ..Default::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::BudgetBelowBody { .. })
        ));
    }

    #[test]
    fn timeouts_have_minimums() {
        let c = ServerConfig {
            body_timeout_s: 0,
            ..Default::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::TooSmall {
                field: "body_timeout_s",
                ..
            })
        ));
    }

    #[test]
    fn connections_stay_below_the_descriptor_limit() {
        let allowed = crate::server::limits::connections_from_rlimit().unwrap();
        let c = ServerConfig::default();
        assert_eq!(c.connection_cap().unwrap(), allowed);
        let c = ServerConfig {
            max_connections: allowed + 1,
            ..Default::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::OverDescriptorLimit { .. })
        ));
        let c = ServerConfig {
            max_connections: 16,
            ..Default::default()
        };
        assert_eq!(c.connection_cap().unwrap(), 16);
    }

    #[test]
    fn default_model_name_is_checked() {
        let c = ServerConfig {
            default_model: "../x".into(),
            ..Default::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::BadName { .. })));
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        assert!(toml::from_str::<ServerConfig>("bindd = \"x\"").is_err());
        let c: ServerConfig = toml::from_str("max_customers = 5").unwrap();
        assert_eq!(c.max_customers, 5);
    }
}
