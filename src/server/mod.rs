//! The HTTP scorer (actix-web): routes per SPEC, bearer-key auth with score/admin scopes,
//! request limits, Prometheus metrics, hot reload (route, CURRENT watch, SIGHUP) with atomic
//! swaps, and graceful shutdown on SIGTERM (actix's signal handling with a shutdown timeout).
//! Logs carry method, route pattern, status and latency — never bodies, ids or values.

pub mod auth;
pub mod config;
pub mod error;
pub mod handlers;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod state;

use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Server, Service};
use actix_web::{web, App, HttpServer};

pub use config::ServerConfig;
pub use state::AppState;

/// A server that is bound and ready to run.
pub struct Bound {
    /// The server future; await it (or `run` it) to serve.
    pub server: Server,
    /// Addresses it listens on.
    pub addrs: Vec<SocketAddr>,
    /// Shared state.
    pub state: Arc<AppState>,
    /// The health listener's addresses and handle (`health_bind`), already running.
    pub health: Option<(Vec<SocketAddr>, actix_web::dev::ServerHandle)>,
    /// Sending `()` triggers an immediate check of every model's CURRENT; dropping it stops
    /// the watcher.
    pub reload_trigger: mpsc::Sender<()>,
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// (The I/O error is in the message only, so a printed chain names it once.)
    #[error("cannot listen on {bind}: {cause}")]
    Bind { bind: String, cause: std::io::Error },
    #[error("cannot start the server's threads: {cause}")]
    Threads { cause: std::io::Error },
}

/// The app with shared state and the given routes (all of them, [`routes::configure`], or
/// the health listener's, [`routes::configure_health`]), the JSON 404, and the per-request
/// metrics and log line.
pub fn app(
    state: web::Data<AppState>,
    routes: fn(&mut web::ServiceConfig),
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let metrics_state = state.clone();
    App::new()
        .app_data(state)
        .configure(routes)
        .default_service(web::to(routes::not_found))
        .wrap_fn(move |req, srv| {
            let started = Instant::now();
            let method = metrics::method_label(req.method().as_str());
            let st = metrics_state.clone();
            let fut = srv.call(req);
            async move {
                let res = fut.await?;
                let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
                let status = res.status().as_u16();
                let secs = started.elapsed().as_secs_f64();
                st.metrics.request(method, &route, status, secs);
                tracing::info!(method = %method, route = %route, status, ms = secs * 1000.0, "request");
                Ok(res)
            }
        })
}

/// Validates the config, loads every model in the store, binds, and starts the CURRENT
/// watcher. Must be called inside an actix system.
pub fn bind(config: ServerConfig) -> Result<Bound, ServerError> {
    let (addr, keys) = config.validate()?;
    let cap = config.connection_cap()?;
    let state = Arc::new(
        AppState::new(config.clone(), &keys).map_err(|cause| ServerError::Threads { cause })?,
    );
    state.reload_changed();
    let data = web::Data::from(state.clone());
    let workers = match config.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let server = HttpServer::new(move || app(data.clone(), routes::configure))
        .shutdown_timeout(config.shutdown_timeout_s)
        .workers(workers)
        .max_connections(limits::per_worker(cap, workers))
        .client_request_timeout(Duration::from_millis(config.header_timeout_ms))
        .bind(addr)
        .map_err(|source| ServerError::Bind {
            bind: config.bind.clone(),
            cause: source,
        })?;
    let addrs = server.addrs();
    let server = server.run();
    let health = match config.health_addr()? {
        Some(haddr) => Some(bind_health(&config, haddr, web::Data::from(state.clone()))?),
        None => None,
    };

    let (tx, rx) = mpsc::channel::<()>();
    let watched = state.clone();
    let interval =
        (config.watch_interval_ms > 0).then(|| Duration::from_millis(config.watch_interval_ms));
    std::thread::Builder::new()
        .name("custseg-watch".into())
        .spawn(move || loop {
            let next = match interval {
                Some(d) => rx
                    .recv_timeout(d)
                    .map_err(|e| matches!(e, mpsc::RecvTimeoutError::Disconnected)),
                None => rx.recv().map_err(|_| true),
            };
            match next {
                Err(true) => break,
                _ => watched.reload_changed(),
            }
        })
        .map_err(|source| ServerError::Bind {
            bind: config.bind.clone(),
            cause: source,
        })?;
    Ok(Bound {
        server,
        addrs,
        state,
        health,
        reload_trigger: tx,
    })
}

/// Starts the health listener: `/healthz`, `/readyz` and `/metrics` on an address of their
/// own, with one worker and connections of their own, so probes are answered however many
/// connections clients hold on the main address.
fn bind_health(
    config: &ServerConfig,
    addr: SocketAddr,
    data: web::Data<AppState>,
) -> Result<(Vec<SocketAddr>, actix_web::dev::ServerHandle), ServerError> {
    let server = HttpServer::new(move || app(data.clone(), routes::configure_health))
        .workers(1)
        .max_connections(limits::HEALTH_CONNECTIONS)
        .client_request_timeout(Duration::from_millis(config.header_timeout_ms))
        .shutdown_timeout(1)
        .bind(addr)
        .map_err(|source| ServerError::Bind {
            bind: addr.to_string(),
            cause: source,
        })?;
    let addrs = server.addrs();
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    Ok((addrs, handle))
}

/// Runs the server until SIGTERM/SIGINT; SIGHUP reloads changed models.
pub fn run(config: ServerConfig) -> anyhow::Result<()> {
    run_with(config, |_| {})
}

/// [`run`], calling `on_bound` with the listening addresses once the server is bound (the
/// demo prints its curl example there, with the real port).
pub fn run_with(config: ServerConfig, on_bound: impl FnOnce(&[SocketAddr])) -> anyhow::Result<()> {
    actix_rt::System::new().block_on(async move {
        let bound = bind(config)?;
        on_bound(&bound.addrs);
        let st = &bound.state;
        let loaded = st.loaded();
        for a in &bound.addrs {
            println!("custseg serving on http://{a}");
        }
        for a in bound.health.iter().flat_map(|(addrs, _)| addrs) {
            println!("  health and metrics also on http://{a}");
        }
        if loaded.is_empty() {
            println!(
                "no models in {} yet: /readyz answers 503 until one is trained",
                st.config.models_dir.display()
            );
        }
        for (n, v) in &loaded {
            println!("  model {n} v{v}");
        }
        if st.auth.is_open() {
            println!(
                "  no API keys configured: anyone who can reach this address can score and reload"
            );
        }
        #[cfg(unix)]
        {
            let trigger = bound.reload_trigger.clone();
            actix_rt::spawn(async move {
                if let Ok(mut hup) =
                    actix_rt::signal::unix::signal(actix_rt::signal::unix::SignalKind::hangup())
                {
                    while hup.recv().await.is_some() {
                        let _ = trigger.send(());
                    }
                }
            });
        }
        tracing::info!(
            connections = st.config.connection_cap()?,
            scoring_slots = st.scoring.limit(),
            body_budget = st.body_budget.limit(),
            "limits"
        );
        bound.server.await?;
        if let Some((_, h)) = &bound.health {
            h.stop(true).await;
        }
        drop(bound.reload_trigger);
        Ok(())
    })
}
