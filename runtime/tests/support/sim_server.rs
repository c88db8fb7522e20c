//! The simulated Redis (`switchyard_sim::redis_sim`) served on a free 127.0.0.1 port
//! by a task of the test's own runtime, killable and restartable like the real one.

use std::time::Duration;

use switchyard_sim::redis_sim::RedisSim;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Rebinding attempts after a kill (the old socket closes as its task is dropped).
const REBIND_ATTEMPTS: usize = 50;

/// A running (or deliberately killed) simulated Redis.
#[derive(Debug)]
pub struct SimRedisServer {
    port: u16,
    sim: RedisSim,
    task: Option<JoinHandle<()>>,
}

impl SimRedisServer {
    /// Starts one on a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("binding a loopback port");
        let port = listener
            .local_addr()
            .expect("a bound listener has an address")
            .port();
        let sim = RedisSim::new();
        let task = tokio::spawn(sim.clone().serve(listener));
        Self {
            port,
            sim,
            task: Some(task),
        }
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The server's state, for assertions.
    pub fn sim(&self) -> &RedisSim {
        &self.sim
    }

    /// Kills it: the listener and every connection close at once.
    pub async fn kill(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // Waiting for the cancelled task guarantees its sockets are closed.
            let _ = task.await;
        }
    }

    /// Starts an empty server again on the same port.
    pub async fn restart(&mut self) {
        self.kill().await;
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(error) => {
                    attempts += 1;
                    assert!(
                        attempts < REBIND_ATTEMPTS,
                        "cannot rebind port {}: {error}",
                        self.port
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        self.sim = RedisSim::new();
        self.task = Some(tokio::spawn(self.sim.clone().serve(listener)));
    }
}

impl Drop for SimRedisServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
