//! CLI tests: one binary, a module per command, run against fixture workspaces.

#![allow(clippy::disallowed_methods, reason = "tests spawn the ctx binary")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly on broken fixtures"
)]

mod agents;
mod architecture;
mod bundle;
mod cache;
mod example;
mod export;
mod federation;
mod gates;
mod hardening;
mod help;
mod hostile;
mod init;
mod list;
mod mcp;
mod outcomes;
mod readme;
mod scale;
mod schema;
mod secrets;
mod session;
pub mod synthesis;
mod validate;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root (the shipped example workspace).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A workspace in a temp folder from `(path, text)` files.
pub fn workspace_of(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    dir
}

/// Run `git ARGS` in `root` (as a fixed author), failing the test if it fails.
pub fn git(root: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(root)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// The item of a JSON bundle whose `field` is `value` (the first; fails if none).
pub fn item_where<'b>(
    bundle: &'b serde_json::Value,
    field: &str,
    value: &str,
) -> &'b serde_json::Value {
    bundle["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item[field] == value)
        .unwrap_or_else(|| panic!("no item with {field} = {value}"))
}

pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// Run `ctx` with `args` in `root`, colour off, "today" pinned.
pub fn ctx(root: &Path, args: &[&str]) -> Run {
    run_ctx(Command::new(env!("CARGO_BIN_EXE_ctx")), root, args)
}

/// [`ctx`] with its standard output going into `stdout` (a file, from its offset); the
/// run's `stdout` is then empty.
pub fn ctx_into(root: &Path, args: &[&str], stdout: std::fs::File) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ctx"));
    command.stdout(stdout);
    run_ctx(command, root, args)
}

/// [`ctx`] as an unprivileged user (`nobody`, through util-linux `setpriv`) when the
/// tests run as root, so that file permissions apply to it.
pub fn ctx_unprivileged(root: &Path, args: &[&str]) -> Run {
    // `/proc/self` belongs to the effective user.
    let root_user = std::os::unix::fs::MetadataExt::uid(
        &std::fs::metadata("/proc/self").expect("/proc is mounted"),
    ) == 0;
    if !root_user {
        return ctx(root, args);
    }
    let mut command = Command::new("setpriv");
    command.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        env!("CARGO_BIN_EXE_ctx"),
    ]);
    run_ctx(command, root, args)
}

/// [`ctx`] unable to write files past `bytes` (`ulimit -f`, with SIGXFSZ ignored): every
/// write beyond fails with EFBIG, as on a full disk. (`ulimit -f` counts 512-byte
/// blocks in dash, KiB in bash: the limit is at most `bytes`.)
pub fn ctx_with_file_size_limit(root: &Path, bytes: u64, args: &[&str]) -> Run {
    ctx_under_ulimit(root, "-f", (bytes / 1024).max(1), args)
}

/// [`ctx`] with its private writable memory capped at `bytes` (`ulimit -d`): using more
/// aborts it, so a run that exits normally stayed within the bound.
pub fn ctx_with_memory_limit(root: &Path, bytes: u64, args: &[&str]) -> Run {
    ctx_under_ulimit(root, "-d", bytes / 1024, args)
}

fn ctx_under_ulimit(root: &Path, limit: &str, value: u64, args: &[&str]) -> Run {
    let mut command = Command::new("sh");
    command.args([
        "-c",
        &format!("trap '' XFSZ; ulimit {limit} \"$1\"; shift; exec \"$@\""),
        "sh",
        &value.to_string(),
        env!("CARGO_BIN_EXE_ctx"),
    ]);
    // Out of memory while printing a backtrace deadlocks in std; without one it aborts.
    command.env("RUST_BACKTRACE", "0");
    run_ctx(command, root, args)
}

fn run_ctx(mut command: Command, root: &Path, args: &[&str]) -> Run {
    let output = command
        .arg("-C")
        .arg(root)
        .arg("--color")
        .arg("never")
        .args(args)
        .env("CTX_TODAY", "2026-11-21")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run ctx (as root, file-permission tests need util-linux `setpriv`)");
    Run::from(output)
}

/// Wait for `child` to exit, polling, failing with `what` after `within`.
pub fn wait_for_exit(
    child: &mut std::process::Child,
    within: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("poll ctx") {
            return status;
        }
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Wait (bounded: the kill is asynchronous) until the process whose id `pid_file` holds
/// is gone or a zombie, failing with `what` after five seconds.
pub fn assert_pid_gone(pid_file: &Path, what: &str) {
    let pid = std::fs::read_to_string(pid_file).unwrap();
    let proc = std::path::PathBuf::from(format!("/proc/{}", pid.trim()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while proc.exists()
        && !std::fs::read_to_string(proc.join("stat"))
            .unwrap_or_default()
            .contains(") Z ")
    {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Run `ctx -C <repo> ARGS` with its stdout closed at once: it must exit 0 quietly.
pub fn assert_quiet_on_broken_pipe(args: &[&str]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ctx"))
        .arg("-C")
        .arg(repo_root())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ctx");
    // Close the read end at once: every write ctx makes hits a broken pipe.
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait for ctx");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

/// A finished run of `ctx`.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Fail with the full output when the exit code is not `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
        self
    }
}
