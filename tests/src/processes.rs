//! Real processes for the process-level tests: the workspace's binaries, built on demand,
//! and children that die with the test.
//!
//! `CARGO_BIN_EXE_<name>` only exists for a package's own binaries, and these tests run
//! binaries of two other packages (`switchyard` and `sim`). They are taken from the
//! running test's profile directory, where `cargo test --workspace` has just built them.
//! When a binary there is older than some source of the workspace (or missing), as after
//! `cargo test -p switchyard-tests` following an edit, the first test that needs it runs
//! `cargo build` for it, with the test's profile and target directory (cargo holds no
//! lock while tests run).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};

/// The path of `package`'s binary `name`, built first if needed.
pub fn binary(package: &str, name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Mutex::default);
    // One build at a time: tests in one binary run on several threads.
    let mut built = built.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let profile_dir = profile_dir();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lies in the workspace");
    let path = profile_dir.join(name);
    if !is_older_than_sources(&path, workspace) {
        built.insert(name.to_owned(), path.clone());
        return path;
    }
    let target_dir = profile_dir
        .parent()
        .expect("a profile directory lies inside the target directory");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_owned(),
        Some(other) => other.to_owned(),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "--quiet", "--profile", &profile, "--target-dir"])
        .arg(target_dir)
        .args(["-p", package, "--bin", name])
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "building {package}'s {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(path.exists(), "{} was not built", path.display());
    built.insert(name.to_owned(), path.clone());
    path
}

/// Whether `binary` is missing or older than a source file (`.rs`, `.toml`, `.lock`) of
/// the workspace: cargo's own notion of stale, by modification time.
fn is_older_than_sources(binary: &Path, workspace: &Path) -> bool {
    /// Files looked at, at most: past it the binary is rebuilt to be safe.
    const FILES_MAX: usize = 50_000;
    let Ok(built) = std::fs::metadata(binary).and_then(|m| m.modified()) else {
        return true;
    };
    let mut pending = vec![workspace.to_owned()];
    let mut seen = 0;
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > FILES_MAX {
                return true;
            }
            let path = entry.path();
            let name = entry.file_name();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !matches!(name.to_str(), Some("target" | ".git")) {
                    pending.push(path);
                }
                continue;
            }
            let source = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("rs" | "toml" | "lock")
            );
            let newer = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified > built);
            if source && newer {
                return true;
            }
        }
    }
    false
}

/// `target/<profile>`: the test executable lives in its `deps` directory.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its executable");
    exe.parent()
        .and_then(Path::parent)
        .expect("test executables live in target/<profile>/deps")
        .to_owned()
}

/// A child process, killed (SIGKILL) when dropped, its stderr kept in a log file.
pub struct ChildProcess {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl ChildProcess {
    /// Spawns `command` with stdout discarded and stderr appended to `log`.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Self {
        let stderr = File::options()
            .create(true)
            .append(true)
            .open(log)
            .expect("the log file opens");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        Self {
            name: name.to_owned(),
            child: Some(child),
            log: log.to_owned(),
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills it at once (SIGKILL) and reaps it: a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already exited is fine: dead is what was asked for.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks it to stop (SIGTERM) and waits for it; answers whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "SIGTERM reaches {}", self.name);
        child.wait().is_ok_and(|status| status.success())
    }

    /// Whether it has exited on its own.
    pub fn has_exited(&mut self) -> bool {
        match &mut self.child {
            None => true,
            Some(child) => child.try_wait().ok().flatten().is_some(),
        }
    }

    /// The last `lines` lines of its log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
