//! `sim node` as a real process: it starts quickly, logs where it listens, obeys the
//! admin endpoint and stops cleanly on SIGTERM, closing websockets with 1001.

mod emulator_support;

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use emulator_support::{PASSWORD, PROMPT, request_on, ws_on};
use hyper::Method;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A port that was free a moment ago (bound to :0, then released for the child).
fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener
        .local_addr()
        .expect("a bound listener has an address")
}

struct NodeProcess {
    child: Child,
    addr: SocketAddr,
}

impl NodeProcess {
    fn spawn(addr: SocketAddr, extra: &[&str]) -> NodeProcess {
        let child = Command::new(env!("CARGO_BIN_EXE_sim"))
            .args([
                "node",
                "--listen",
                &addr.to_string(),
                "--password",
                PASSWORD,
            ])
            .args(["--name", "us-1", "--region", "us", "--seed", "3"])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the sim binary starts");
        NodeProcess { child, addr }
    }

    /// Polls `/version` until the node answers; returns how long that took.
    async fn wait_ready(&self) -> Duration {
        let started = Instant::now();
        while started.elapsed() < PROMPT {
            if let Ok(io) = TcpStream::connect(self.addr).await
                && let Ok(reply) = request_on(
                    io,
                    Method::GET,
                    "/version",
                    &[("Authorization", PASSWORD)],
                    Vec::new(),
                )
                .await
                && reply.status == 200
            {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the node did not answer within {PROMPT:?}");
    }

    /// Sends a signal to this child, by its pid, with the shell's `kill` builtin.
    fn signal(&self, name: &str) {
        let status = Command::new("sh")
            .args(["-c", &format!("kill -s {name} {}", self.child.id())])
            .status()
            .expect("sh runs");
        assert!(status.success());
    }

    async fn wait_exit(&mut self) -> ExitStatus {
        let started = Instant::now();
        while started.elapsed() < PROMPT {
            if let Some(status) = self.child.try_wait().expect("the child can be waited on") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the node did not exit within {PROMPT:?}");
    }

    fn logs(&mut self) -> String {
        let mut logs = String::new();
        if let Some(stderr) = self.child.stderr.as_mut() {
            let _ = stderr.read_to_string(&mut logs);
        }
        logs
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        // Only if a test failed before the node exited: never leave it running.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test]
async fn sim_node_starts_fast_and_stops_on_sigterm_closing_websockets_with_1001() {
    let mut node = NodeProcess::spawn(free_port(), &[]);
    let ready_after = node.wait_ready().await;
    assert!(
        ready_after < Duration::from_secs(3),
        "ready after {ready_after:?}"
    );

    let io = TcpStream::connect(node.addr).await.expect("connects");
    let mut ws = ws_on(io, &node.addr.to_string(), &[])
        .await
        .expect("handshake");
    ws.expect_op("ready").await;
    ws.expect_op("stats").await;

    node.signal("TERM");
    let code = tokio::time::timeout(PROMPT, ws.close_code())
        .await
        .expect("closes");
    assert_eq!(code, Some(1001));
    let status = node.wait_exit().await;
    assert_eq!(status.code(), Some(0));
    let logs = node.logs();
    assert!(logs.contains("lavalink emulator listening"), "{logs}");
    assert!(
        logs.contains(&node.addr.to_string()),
        "the log names the address: {logs}"
    );
    assert!(logs.contains("SIGTERM"), "{logs}");
}

#[tokio::test]
async fn sim_node_stops_on_sigint_and_serves_the_admin_endpoint() {
    let admin = free_port();
    let mut node = NodeProcess::spawn(
        free_port(),
        &[
            "--admin-listen",
            &admin.to_string(),
            "--error-rate",
            "1",
            "--error-status",
            "502",
        ],
    );
    let started = Instant::now();
    let reply = loop {
        let attempt = async {
            let io = TcpStream::connect(node.addr).await.ok()?;
            request_on(
                io,
                Method::GET,
                "/version",
                &[("Authorization", PASSWORD)],
                Vec::new(),
            )
            .await
            .ok()
        };
        if let Some(reply) = attempt.await {
            break reply;
        }
        assert!(started.elapsed() < PROMPT, "the node never answered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        reply.status, 502,
        "the --error-rate flag applies from the start"
    );

    let io = TcpStream::connect(admin)
        .await
        .expect("the admin endpoint listens");
    let cleared = request_on(
        io,
        Method::PATCH,
        "/faults",
        &[],
        br#"{"error_rate":0}"#.to_vec(),
    )
    .await
    .expect("admin speaks HTTP");
    assert_eq!(cleared.status, 200);
    node.wait_ready().await;

    node.signal("INT");
    assert_eq!(node.wait_exit().await.code(), Some(0));
}

#[tokio::test]
async fn sim_node_rejects_bad_arguments_with_exit_code_2() {
    let status = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["node", "--listen", "not-an-address"])
        .stderr(Stdio::null())
        .status()
        .expect("the sim binary runs");
    assert_eq!(status.code(), Some(2));
    let status = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["node", "--error-rate", "3"])
        .stderr(Stdio::null())
        .status()
        .expect("the sim binary runs");
    assert_eq!(status.code(), Some(2), "an invalid fault is invalid input");
}
