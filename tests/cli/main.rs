//! CLI tests: one binary, a module per command, run against fixture workspaces.

#![allow(clippy::disallowed_methods, reason = "tests spawn the ctx binary")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly on broken fixtures"
)]

mod agents;
mod bundle;
mod example;
mod gates;
mod help;
mod hostile;
mod list;
mod schema;
mod secrets;
mod validate;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root (the shipped example workspace).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// Run `ctx` with `args` in `root`, colour off, "today" pinned.
pub fn ctx(root: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_ctx"))
        .arg("-C")
        .arg(root)
        .arg("--color")
        .arg("never")
        .args(args)
        .env("CTX_TODAY", "2026-11-21")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run ctx");
    Run::from(output)
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
