//! State shared by the server, its driver, its websocket tasks and the control handle.
//!
//! Locks are `std::sync::Mutex`es held only for short, non-async sections; the fault
//! lock is never taken while the node lock is held.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::config::EmulatorConfig;
use super::faults::{FaultError, Faults};
use super::state::NodeState;

/// The fault draws use their own random stream (the node state has two others).
const STREAM_FAULTS: u64 = 3;

/// What the fault knobs decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestFault {
    pub hang: bool,
    pub delay: Duration,
    pub error_status: Option<u16>,
}

#[derive(Debug)]
struct FaultState {
    faults: Faults,
    rng: ChaCha8Rng,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Arc<EmulatorConfig>,
    faults: Mutex<FaultState>,
    node: Mutex<Option<NodeState>>,
    /// The runtime the node serves on. Its clock is the node's clock: in a turmoil
    /// simulation every host runtime has its own, so a control call from another host
    /// (or from the test between steps) must read time through this handle.
    runtime: Mutex<Option<tokio::runtime::Handle>>,
    /// Wakes the driver after anything that may have moved a deadline.
    pub wake: Notify,
    hang: watch::Sender<bool>,
    shutdown: watch::Sender<bool>,
    pub sockets: SocketTracker,
}

/// A poisoned lock means a handler panicked mid-update. The node keeps serving the
/// other sessions rather than turning one bug into a dead node.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn new(config: EmulatorConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(STREAM_FAULTS);
        let (hang, _) = watch::channel(config.faults.hang);
        let (shutdown, _) = watch::channel(false);
        Self {
            faults: Mutex::new(FaultState {
                faults: config.faults.clone(),
                rng,
            }),
            config: Arc::new(config),
            node: Mutex::new(None),
            runtime: Mutex::new(None),
            wake: Notify::new(),
            hang,
            shutdown,
            sockets: SocketTracker::default(),
        }
    }

    pub fn faults(&self) -> Faults {
        lock(&self.faults).faults.clone()
    }

    pub fn set_faults(&self, faults: Faults) -> Result<(), FaultError> {
        faults.validate()?;
        let hang = faults.hang;
        lock(&self.faults).faults = faults;
        self.hang.send_replace(hang);
        self.wake.notify_one();
        Ok(())
    }

    /// Draws this request's fate. A healthy node draws nothing, so enabling a knob
    /// never shifts other random choices.
    pub fn draw_request_fault(&self) -> RequestFault {
        let mut state = lock(&self.faults);
        let FaultState { faults, rng } = &mut *state;
        let jitter_ms = if faults.jitter_ms > 0 {
            rng.next_u64() % (faults.jitter_ms + 1)
        } else {
            0
        };
        let fails = faults.error_rate > 0.0
            && (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= faults.error_rate;
        RequestFault {
            hang: faults.hang,
            delay: Duration::from_millis(faults.latency_ms + jitter_ms),
            error_status: fails.then_some(faults.error_status),
        }
    }

    pub fn hang_watch(&self) -> watch::Receiver<bool> {
        self.hang.subscribe()
    }

    pub fn shutdown_watch(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Installs a freshly booted node (a restart loses every session, as a real one
    /// does). Must run on the node's runtime. False if a node is already serving.
    pub fn install_node(&self, node: NodeState) -> bool {
        let mut current = lock(&self.node);
        if current.is_some() {
            return false;
        }
        self.shutdown.send_replace(false);
        *lock(&self.runtime) = tokio::runtime::Handle::try_current().ok();
        *current = Some(node);
        true
    }

    /// The current instant on the node's clock, from whichever context asks.
    pub fn now(&self) -> Instant {
        let runtime = lock(&self.runtime).clone();
        match runtime {
            Some(handle) => {
                let _node_clock = handle.enter();
                Instant::now()
            }
            None => Instant::now(),
        }
    }

    pub fn remove_node(&self) -> Option<NodeState> {
        lock(&self.node).take()
    }

    /// Runs `operation` on the node and wakes the driver; `None` when not serving.
    pub fn with_node<T>(
        &self,
        operation: impl FnOnce(&mut NodeState, Instant, &Faults) -> T,
    ) -> Option<T> {
        let result = self.with_node_quiet(operation);
        self.wake.notify_one();
        result
    }

    /// Like [`Shared::with_node`] without waking the driver (for the driver itself).
    pub fn with_node_quiet<T>(
        &self,
        operation: impl FnOnce(&mut NodeState, Instant, &Faults) -> T,
    ) -> Option<T> {
        let faults = self.faults();
        let now = self.now();
        let mut node = lock(&self.node);
        node.as_mut().map(|node| operation(node, now, &faults))
    }

    /// Reads the node without the clock or the faults (cheaper than
    /// [`Shared::with_node_quiet`] for what depends on neither); `None` when not serving.
    pub fn read_node<T>(&self, read: impl FnOnce(&NodeState) -> T) -> Option<T> {
        lock(&self.node).as_ref().map(read)
    }

    /// Unix milliseconds on the node's clock (the epoch before the node starts).
    pub fn wall_ms_now(&self) -> u64 {
        self.with_node_quiet(|node, now, _| node.clock().wall_ms(now))
            .unwrap_or(self.config.epoch_ms)
    }
}

/// Counts live websocket tasks so a graceful shutdown can wait for their close frames.
#[derive(Debug, Default)]
pub(crate) struct SocketTracker {
    live: AtomicUsize,
    idle: Notify,
}

/// Held by a websocket task for its whole life.
#[derive(Debug)]
pub(crate) struct SocketGuard {
    shared: Arc<Shared>,
}

impl SocketTracker {
    pub fn enter(shared: &Arc<Shared>) -> SocketGuard {
        shared.sockets.live.fetch_add(1, Ordering::SeqCst);
        SocketGuard {
            shared: Arc::clone(shared),
        }
    }

    pub async fn wait_idle(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.live.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        let tracker = &self.shared.sockets;
        if tracker.live.fetch_sub(1, Ordering::SeqCst) == 1 {
            tracker.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_node_draws_no_faults() {
        let shared = Shared::new(EmulatorConfig::default());
        let fault = shared.draw_request_fault();
        assert_eq!(
            fault,
            RequestFault {
                hang: false,
                delay: Duration::ZERO,
                error_status: None
            }
        );
    }

    #[test]
    fn error_rate_one_always_fails_and_jitter_stays_in_range() {
        let shared = Shared::new(EmulatorConfig::default());
        shared
            .set_faults(Faults {
                error_rate: 1.0,
                error_status: 503,
                latency_ms: 10,
                jitter_ms: 5,
                ..Faults::default()
            })
            .expect("valid faults");
        for _ in 0..100 {
            let fault = shared.draw_request_fault();
            assert_eq!(fault.error_status, Some(503));
            assert!((10..=15).contains(&fault.delay.as_millis()));
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_jitter() {
        let draw = || {
            let shared = Shared::new(EmulatorConfig {
                seed: 7,
                ..EmulatorConfig::default()
            });
            shared
                .set_faults(Faults {
                    jitter_ms: 1000,
                    ..Faults::default()
                })
                .expect("valid faults");
            (0..10)
                .map(|_| shared.draw_request_fault().delay)
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(), draw());
    }
}
