//! Wires the production adapters around the driver and runs until SIGTERM/SIGINT.
//!
//! Shutdown stops taking API requests, stops the driver, and flushes the alert outbox
//! within a deadline. (The leader lease that lets two daemons share one Redis arrives
//! with the high-availability work; until then run one daemon per Redis.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tokio::net::TcpListener;

use crate::adapters::redis_store::{RedisStore, RedisStoreConfig};
use crate::adapters::reqwest_http::ReqwestHttpClient;
use crate::alerts::{AlertClock, AlertDispatcher, AlertSettings};
use crate::api::{ApiState, router};
use crate::config::DaemonConfig;
use crate::driver::{Driver, DriverInput, DriverSettings};
use crate::lavalink::watcher::{WatchTarget, watch_node};
use crate::lavalink::{LavalinkClient, NodeEndpoint};
use crate::metrics::Metrics;
use crate::ports::websocket::TokioConnector;

/// How long shutdown waits for queued alerts.
const ALERT_FLUSH_MS: u64 = 5_000;

/// Why the daemon could not run.
#[derive(Debug, Error)]
pub enum DaemonError {
    /// A part could not be built from the configuration.
    #[error("{0}")]
    Setup(String),
    /// The API address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

fn unix_ms_now() -> u64 {
    // The one wall-clock read: bots stamp positions with wall-clock time.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn watch_target(endpoint: &NodeEndpoint) -> Result<WatchTarget, DaemonError> {
    let url = url::Url::parse(&endpoint.base_url)
        .map_err(|e| DaemonError::Setup(format!("{}: {e}", endpoint.name)))?;
    Ok(WatchTarget {
        node: endpoint.name.clone(),
        host: url.host_str().unwrap_or("127.0.0.1").to_owned(),
        port: url.port_or_known_default().unwrap_or(2333),
        password: endpoint.password.clone(),
        user_id: 0,
    })
}

/// Runs the daemon until a termination signal.
pub async fn run(config: DaemonConfig) -> Result<(), DaemonError> {
    let started_unix_ms = unix_ms_now();
    let store = RedisStore::connect(config.redis_url.expose(), RedisStoreConfig::default())
        .map_err(|e| DaemonError::Setup(e.to_string()))?;
    let http = ReqwestHttpClient::new().map_err(|e| DaemonError::Setup(e.to_string()))?;
    let alerts = if config.alerts.is_empty() {
        None
    } else {
        let settings = AlertSettings {
            source: config.source.clone(),
            clock: AlertClock::new(tokio::time::Instant::now(), started_unix_ms),
            seed: started_unix_ms,
        };
        Some(
            AlertDispatcher::start(http.clone(), config.alerts.clone(), settings)
                .map_err(|e| DaemonError::Setup(e.to_string()))?,
        )
    };
    let timeout = Duration::from_millis(config.controller.health.probe_timeout_ms);
    let clients = config
        .endpoints
        .iter()
        .map(|endpoint| LavalinkClient::new(http.clone(), endpoint.clone(), timeout))
        .collect();
    let core = config
        .controller()
        .map_err(|e| DaemonError::Setup(e.to_string()))?;
    let settings = DriverSettings {
        health_ttl: Duration::from_millis(config.health_ttl_ms),
        store_poll_interval: Duration::from_millis(config.store_poll_interval_ms),
        epoch_unix_ms: started_unix_ms,
        ..DriverSettings::default()
    };
    let metrics = Metrics::new();
    // Until the leader lease arrives, the one daemon per Redis always acts.
    metrics.set_leader(true);
    if let Some(alerts) = &alerts {
        metrics.watch_alerts(alerts.clone());
    }
    let (driver, handle) = Driver::new(core, clients, store, alerts.clone(), settings);
    let driver = driver.with_metrics(metrics.clone());
    let driver_task = tokio::spawn(driver.run());
    for endpoint in &config.endpoints {
        tokio::spawn(watch_node(
            TokioConnector,
            watch_target(endpoint)?,
            handle.clone(),
        ));
    }
    let listener =
        TcpListener::bind(config.listen)
            .await
            .map_err(|source| DaemonError::Listen {
                address: config.listen,
                source,
            })?;
    tracing::info!(address = %config.listen, nodes = config.endpoints.len(), "switchyard listening");
    let state = ApiState::new(
        handle.clone(),
        config.api_token.clone(),
        config.bot_token.clone(),
    )
    .with_metrics(metrics);
    let serve = axum::serve(listener, router(state)).with_graceful_shutdown(termination());
    if let Err(error) = serve.await {
        tracing::error!(%error, "API server stopped");
    }
    tracing::info!("shutting down: stopping the controller and flushing alerts");
    // The loop may already have stopped; either way it takes no more input.
    let _ = handle.send(DriverInput::Shutdown).await;
    let _ = driver_task.await;
    if let Some(alerts) = alerts {
        let report = alerts
            .flush(tokio::time::Instant::now() + Duration::from_millis(ALERT_FLUSH_MS))
            .await;
        tracing::info!(?report, "alert outbox flushed");
    }
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn termination() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::warn!(%error, "cannot watch SIGTERM; only SIGINT stops the daemon");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
