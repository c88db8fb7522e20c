//! Wires the production adapters around the driver and runs until SIGTERM/SIGINT; on
//! SIGHUP it applies the nodes that joined or left its configuration ([`reload`]).
//!
//! Several daemons may share one Redis: a leader lease decides which one acts (see
//! [`crate::leader`]). Shutdown stops taking API requests, stops acting, writes what the
//! store is owed, releases the lease (so a standby takes over at its next attempt rather
//! than after the lease's TTL), and flushes the alert outbox, each within a deadline.

mod reload;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tokio::net::TcpListener;

use crate::adapters::redis_store::{RedisStore, RedisStoreConfig};
use crate::adapters::reqwest_http::ReqwestHttpClient;
use crate::alerts::{AlertClock, AlertDispatcher, AlertSettings};
use crate::api::{ApiState, router};
use crate::config::DaemonConfig;
use crate::driver::{Driver, DriverInput, DriverSettings};
use crate::lavalink::watcher::WatchTarget;
use crate::lavalink::{LavalinkClient, NodeEndpoint};
use crate::leader::{ControllerId, Leadership, LeaseKeeper, Phase};
use crate::metrics::Metrics;
use crate::ports::store::Store;
pub use reload::{Hangups, Reloader};

/// How long shutdown waits for queued alerts.
const ALERT_FLUSH_MS: u64 = 5_000;
/// How long shutdown waits for the writes owed to the store before releasing the lease.
const STORE_FLUSH_MS: u64 = 2_000;

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

/// Runs the daemon until a termination signal; `reload` reads the configuration again
/// on each of `hangups`.
pub async fn run(
    config: DaemonConfig,
    reload: Reloader,
    hangups: Hangups,
) -> Result<(), DaemonError> {
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
        snapshot_full_read_interval: Duration::from_millis(config.snapshot_full_read_interval_ms),
        node_admission_grace: Duration::from_millis(config.node_admission_grace_ms),
        epoch_unix_ms: started_unix_ms,
        ..DriverSettings::default()
    };
    let metrics = Metrics::new();
    if let Some(alerts) = &alerts {
        metrics.watch_alerts(alerts.clone());
    }
    let leadership = Leadership::new(ControllerId {
        instance: config.leader.instance.clone(),
        api_url: Some(config.leader.advertise_url.clone()),
        pid: std::process::id(),
        started_at_ms: started_unix_ms,
    });
    tokio::spawn(report_leadership(leadership.clone(), metrics.clone()));
    let keeper = LeaseKeeper::new(store.clone(), leadership.clone(), config.leader.settings());
    let (stop_keeper, keeper_stopped) = tokio::sync::oneshot::channel::<()>();
    let keeper_task = tokio::spawn(keeper.run(async move {
        let _ = keeper_stopped.await;
    }));
    let (driver, handle) = Driver::new(core, clients, store.clone(), alerts.clone(), settings);
    let driver = driver
        .with_metrics(metrics.clone())
        .with_leadership(leadership.clone());
    let writer = driver.writer().clone();
    let driver_task = tokio::spawn(driver.run());
    let running = reload::RunningNodes::start(&config, handle.clone())?;
    tokio::spawn(reload::on_hangup(hangups, running, reload));
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
    .with_metrics(metrics)
    .with_leadership(leadership.clone());
    let serve = axum::serve(listener, router(state)).with_graceful_shutdown(termination());
    if let Err(error) = serve.await {
        tracing::error!(%error, "API server stopped");
    }
    tracing::info!("shutting down: standing down, releasing the lease and flushing alerts");
    let held = leadership.resign();
    let _ = stop_keeper.send(());
    let _ = keeper_task.await;
    // The loop may already have stopped; either way it takes no more input.
    let _ = handle.send(DriverInput::Shutdown).await;
    let _ = driver_task.await;
    if let Some(token) = held {
        release_lease(&store, &writer, &leadership, token).await;
    }
    if let Some(alerts) = alerts {
        let report = alerts
            .flush(tokio::time::Instant::now() + Duration::from_millis(ALERT_FLUSH_MS))
            .await;
        tracing::info!(?report, "alert outbox flushed");
    }
    Ok(())
}

/// Writes what the store is owed under this term's token, then gives the lease up.
async fn release_lease<S: Store>(
    store: &S,
    writer: &crate::driver::store_writer::StoreWriter,
    leadership: &Leadership,
    token: u64,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(STORE_FLUSH_MS);
    if !writer.flush(deadline).await {
        tracing::warn!(owed = writer.owed(), "store writes still owed at shutdown");
    }
    match store.release_leader(leadership.holder(), token).await {
        Ok(true) => tracing::info!(token, "leader lease released"),
        Ok(false) => tracing::info!(token, "the leader lease had already passed on"),
        Err(error) => tracing::warn!(%error, "cannot release the leader lease; it lapses"),
    }
}

/// Keeps the leader gauge in step with whether this daemon acts.
async fn report_leadership(leadership: Leadership, metrics: Metrics) {
    let mut changes = leadership.subscribe();
    loop {
        let acting = changes.borrow_and_update().phase() == Phase::Acting;
        metrics.set_leader(acting);
        if changes.changed().await.is_err() {
            return;
        }
    }
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
