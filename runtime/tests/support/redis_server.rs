//! A real `redis-server` on a free 127.0.0.1 port, killed when dropped.
//!
//! The binary is `$SWITCHYARD_REDIS_SERVER` if set, else `redis-server` on `PATH`. If
//! neither exists the test fails (it never skips) with the command that installs it.
//! The server runs with no persistence (`--save '' --appendonly no`), so a kill and
//! restart is an outage that also loses the data, as the daemon must tolerate.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a start may take before the test fails.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Fresh ports tried when another process takes the chosen one first.
const START_ATTEMPTS: usize = 5;

/// A running (or deliberately killed) `redis-server`.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers `PING`.
    pub fn start() -> Self {
        let binary = find_binary();
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let dir = std::env::temp_dir()
                .join(format!("switchyard-redis-{}-{port}", std::process::id()));
            let mut server = Self {
                binary: binary.clone(),
                port,
                dir,
                child: None,
            };
            match server.spawn_and_wait() {
                Ok(()) => return server,
                // Most likely another test took the port between our probe and the bind.
                Err(failure) => last_failure = failure,
            }
        }
        panic!("redis-server did not start after {START_ATTEMPTS} attempts: {last_failure}");
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The port, kept across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills it with SIGKILL (a crash); its data is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An already exited process is as dead as asked.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again, empty, on the same port.
    pub fn restart(&mut self) {
        self.kill();
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(failure) => last_failure = failure,
            }
        }
        panic!(
            "redis-server did not restart on port {}: {last_failure}",
            self.port
        );
    }

    fn spawn_and_wait(&mut self) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let log_path = self.dir.join("redis.log");
        let port = self.port.to_string();
        let child = Command::new(&self.binary)
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--protected-mode",
                "yes",
            ])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.binary.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!(
                        "exited with {status}; log: {}",
                        log_tail(&log_path)
                    ));
                }
            }
            if answers_ping(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
        Err(format!(
            "no PONG within {READY_TIMEOUT:?}; log: {}",
            log_tail(&log_path)
        ))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn find_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SWITCHYARD_REDIS_SERVER") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "SWITCHYARD_REDIS_SERVER={} is not a file",
            path.display()
        );
        return path;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from))
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| Path::is_file(candidate))
        .unwrap_or_else(|| {
            panic!(
                "redis-server not found on PATH: the store contract tests need a real Redis. \
                 Install it with `apt-get update && apt-get install -y redis-server`, or point \
                 SWITCHYARD_REDIS_SERVER at the binary."
            )
        })
}

fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("binding a loopback port");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}
