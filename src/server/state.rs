//! Shared server state: the loaded models behind an `ArcSwap`, so a reload replaces a model
//! atomically while requests already running keep the `Arc` of the model they started with.
//! Loading and validation happen off the request path; a model that fails to load never
//! replaces a good one.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use serde::Serialize;

use super::auth::Auth;
use super::config::{Keys, ServerConfig};
use super::limits::{BodyBudget, ScoringPool};
use super::metrics::Metrics;
use crate::drift::window::{Window, DEFAULT_CAPACITY};
use crate::model::{read_store_file, Model};
use crate::store::Registry;

/// A model being served.
#[derive(Debug)]
pub struct LoadedModel {
    pub name: String,
    pub version: u32,
    pub model: Model,
    /// `metrics.json` of the version, when readable.
    pub metrics: Option<serde_json::Value>,
    /// The last customers scored with it, binned against its training population (models
    /// with a `reference`), for the drift gauges of `/metrics`.
    pub drift: Option<Window>,
}

impl LoadedModel {
    /// A served model and its empty drift window.
    pub fn new(name: &str, version: u32, model: Model, metrics: Option<serde_json::Value>) -> Self {
        let drift = (model.file.reference.clone()).map(|r| Window::new(r, DEFAULT_CAPACITY));
        LoadedModel {
            name: name.to_string(),
            version,
            model,
            metrics,
            drift,
        }
    }

    /// Scores one customer (raw values in feature order, see [`Model::score`]) and counts it
    /// in the model's drift window. Every scoring route calls this, not `Model::score`, so
    /// the drift gauges see every customer the server scores.
    pub fn score(
        &self,
        raw: &[crate::features::RawValue],
        summary: Option<&crate::value::Rfm>,
        scratch: &mut crate::score::Scratch,
    ) -> Result<crate::score::Scored, crate::features::FeatureError> {
        let s = self.model.score(raw, summary, scratch)?;
        if let Some(w) = &self.drift {
            w.observe(&self.model.file.features, raw, s.index, &s.warnings);
        }
        Ok(s)
    }
}

/// Result of a reload.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReloadOutcome {
    pub model: String,
    pub version: u32,
    pub previous_version: Option<u32>,
    pub changed: bool,
}

/// Everything handlers share. Built once, outside the worker factory.
pub struct AppState {
    pub config: ServerConfig,
    pub registry: Registry,
    pub auth: Auth,
    pub metrics: Metrics,
    /// Memory of request bodies in flight, across all connections.
    pub body_budget: Arc<BodyBudget>,
    /// Where scoring runs, apart from the HTTP workers.
    pub scoring: ScoringPool,
    models: ArcSwap<BTreeMap<String, Arc<LoadedModel>>>,
    reload_lock: Mutex<()>,
    /// Versions that failed to load, with their file's modification time, so the watcher
    /// does not retry (and re-log) the same broken file every tick.
    failed: Mutex<HashMap<String, (u32, Option<SystemTime>)>>,
    /// Models whose `CURRENT` cannot be read, with that file's modification time: each
    /// change of a broken `CURRENT` is logged and counted once.
    broken_current: Mutex<HashMap<String, Option<SystemTime>>>,
}

impl AppState {
    /// Fails only when the scoring threads cannot be started.
    pub fn new(config: ServerConfig, keys: &Keys) -> std::io::Result<Self> {
        Ok(AppState {
            body_budget: BodyBudget::new(config.max_inflight_body_bytes),
            scoring: ScoringPool::new(config.scoring_threads, config.scoring_queue)?,
            registry: Registry::new(&config.models_dir).allow_symlinks(config.allow_symlinks),
            auth: Auth::new(keys),
            metrics: Metrics::default(),
            models: ArcSwap::from_pointee(BTreeMap::new()),
            reload_lock: Mutex::new(()),
            broken_current: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
            config,
        })
    }

    /// The served version of a model.
    pub fn get(&self, name: &str) -> Option<Arc<LoadedModel>> {
        self.models.load().get(name).cloned()
    }

    /// Every served model.
    pub fn served(&self) -> Vec<Arc<LoadedModel>> {
        self.models.load().values().cloned().collect()
    }

    /// `(name, version)` of every served model.
    pub fn loaded(&self) -> Vec<(String, u32)> {
        self.models
            .load()
            .values()
            .map(|m| (m.name.clone(), m.version))
            .collect()
    }

    /// Loads the version `CURRENT` names (else the latest) and swaps it in if it differs
    /// from the served one. Blocking: call it off the request path.
    pub fn reload(&self, name: &str) -> Result<ReloadOutcome, String> {
        let _guard = self.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        let previous = self.get(name).map(|m| m.version);
        let result = self.load(name);
        match result {
            Ok((version, _)) if Some(version) == previous => Ok(ReloadOutcome {
                model: name.into(),
                version,
                previous_version: previous,
                changed: false,
            }),
            Ok((version, dir)) => match Model::load_limited(&dir, self.config.max_model_bytes) {
                Ok(model) => {
                    let metrics =
                        read_store_file(&dir.join("metrics.json"), self.config.max_model_bytes)
                            .ok()
                            .and_then(|b| serde_json::from_slice(&b).ok());
                    let loaded = Arc::new(LoadedModel::new(name, version, model, metrics));
                    self.models.rcu(|old| {
                        let mut next = BTreeMap::clone(old);
                        next.insert(name.to_string(), loaded.clone());
                        next
                    });
                    self.failed
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(name);
                    self.metrics.reload(name, true);
                    tracing::info!(model = name, version, "model loaded");
                    Ok(ReloadOutcome {
                        model: name.into(),
                        version,
                        previous_version: previous,
                        changed: true,
                    })
                }
                Err(e) => {
                    self.metrics.reload(name, false);
                    let mtime = std::fs::metadata(dir.join("model.json"))
                        .and_then(|m| m.modified())
                        .ok();
                    self.failed
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(name.into(), (version, mtime));
                    tracing::warn!(model = name, version, error = %e, "reload failed; still serving the previous version");
                    Err(format!(
                        "v{version} cannot be served ({e}); still serving {}",
                        previous
                            .map(|v| format!("v{v}"))
                            .unwrap_or_else(|| "nothing".into())
                    ))
                }
            },
            Err(e) => {
                self.metrics.reload(name, false);
                Err(e)
            }
        }
    }

    fn load(&self, name: &str) -> Result<(u32, PathBuf), String> {
        let (_, version, dir) = self.registry.resolve(name).map_err(|e| e.to_string())?;
        Ok((version, dir))
    }

    /// Reloads every model in the store whose CURRENT changed (the watcher and SIGHUP). Each
    /// model is handled on its own: a broken one never stops the others from reloading.
    pub fn reload_changed(&self) {
        if let Ok(names) = self.registry.names() {
            for name in names {
                if let Some(target) = self.target_version(&name) {
                    self.reload_if_changed(&name, target);
                }
            }
        }
        self.metrics.store_check();
    }

    /// The version the watcher should serve for `name`: the one `CURRENT` names, else the
    /// latest. A `CURRENT` that cannot be read is logged and counted as a failed reload once
    /// per change of the file, and the model keeps its served version.
    fn target_version(&self, name: &str) -> Option<u32> {
        let current = self.registry.current(name);
        let mut broken = self
            .broken_current
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match current {
            Ok(Some(v)) => {
                broken.remove(name);
                Some(v)
            }
            Ok(None) => {
                broken.remove(name);
                self.registry.versions(name).ok()?.last().copied()
            }
            Err(e) => {
                let path = self.registry.model_dir(name).join("CURRENT");
                let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
                if broken.get(name) != Some(&mtime) {
                    broken.insert(name.to_string(), mtime);
                    self.metrics.reload(name, false);
                    tracing::warn!(model = name, error = %e, "CURRENT cannot be read; still serving the previous version");
                }
                None
            }
        }
    }

    fn reload_if_changed(&self, name: &str, target: u32) {
        if self.get(name).map(|l| l.version) == Some(target) {
            return;
        }
        let mtime = std::fs::metadata(
            self.registry
                .model_dir(name)
                .join(format!("v{target}/model.json")),
        )
        .and_then(|x| x.modified())
        .ok();
        let known_bad = self
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            == Some(&(target, mtime));
        // Remembered whatever failed (the version's files, or resolving it), so the watcher
        // counts and logs one failure per change rather than one per tick.
        if !known_bad && self.reload(name).is_err() {
            self.failed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.into(), (target, mtime));
        }
    }
}
