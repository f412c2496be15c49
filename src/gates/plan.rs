//! What a gate run is given and what it yields: the [`Plan`], each gate's
//! [`GateResult`] with its [`GateStatus`], the run's [`Outcome`] and its [`RunVerdict`].
//! "Failed" is defined here, once ([`GateStatus::is_failure`], [`GateResult::blocks`]).

use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde::Serialize;

use super::select::SelectedGate;
use crate::ids::RunId;

/// A gate's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GateStatus {
    Pass,
    /// Not run: its inputs are as they were at its last pass.
    Cached,
    /// Passed after failing: a retry passed.
    Flaky,
    Fail,
    Timeout,
    Error,
    Interrupted,
}

impl GateStatus {
    pub const ALL: [Self; 7] = [
        Self::Pass,
        Self::Cached,
        Self::Flaky,
        Self::Fail,
        Self::Timeout,
        Self::Error,
        Self::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Cached => "cached",
            Self::Flaky => "flaky",
            Self::Fail => "fail",
            Self::Timeout => "timeout",
            Self::Error => "error",
            Self::Interrupted => "interrupted",
        }
    }

    /// The one definition of "failed": the gate ran (or tried to) and did not pass for
    /// a reason of its own. An interrupted gate did not fail; the run was stopped.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Fail | Self::Timeout | Self::Error)
    }

    /// JUnit's view: `failure` (the check failed) or `error` (it could not be judged).
    pub fn junit(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Pass | Self::Cached | Self::Flaky => None,
            Self::Fail => Some(("failure", "fail")),
            Self::Timeout => Some(("failure", "timeout")),
            Self::Error => Some(("error", "error")),
            Self::Interrupted => Some(("error", "interrupted")),
        }
    }
}

/// What happened to one gate.
#[derive(Debug, Clone)]
pub struct GateResult {
    pub gate: SelectedGate,
    pub status: GateStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub duration: Duration,
    /// Root-relative log path.
    pub log: String,
    /// Cleaned tail of the output (for reports).
    pub tail: String,
    /// Everything captured (head and tail), as bytes, for the terminal.
    pub output: Vec<u8>,
    pub output_bytes: u64,
    /// A one-line explanation (command not found, killed by signal…).
    pub message: String,
    /// The W3C `traceparent` of the gate's span (also its `TRACEPARENT`).
    pub traceparent: String,
    /// How many times it ran (1 without retries).
    pub attempts: u32,
    /// Why each earlier attempt failed (retries).
    pub earlier_failures: Vec<String>,
}

impl GateResult {
    /// A failure that fails the run: a failed gate that is blocking.
    pub fn blocks(&self) -> bool {
        self.status.is_failure() && self.gate.blocking
    }
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub gates: Vec<SelectedGate>,
    pub jobs: usize,
    pub default_timeout: Duration,
    /// `--timeout`: overrides every gate's timeout.
    pub timeout_override: Option<Duration>,
    pub grace: Duration,
    pub fail_fast: bool,
    pub root: PathBuf,
    pub run_id: RunId,
    pub run_dir: PathBuf,
    pub trace_id: String,
    pub feature: Option<String>,
    pub bundle: Option<PathBuf>,
    /// Secrets in captured output are redacted unless this is `Off`.
    pub secrets: crate::config::settings::SecretsMode,
    /// Resource groups and how many of their gates may run at once.
    pub groups: std::collections::BTreeMap<String, usize>,
    /// Per gate (same order), the parts of its cache key and the pass to reuse, if any.
    pub cache: Vec<Option<CachePlan>>,
    /// The digest of the bundle given as `CTX_BUNDLE`.
    pub bundle_digest: Option<String>,
    /// That bundle's items and tokens per layer (what the outcome store records).
    pub bundle_items: Vec<BundleItem>,
    pub bundle_tokens: std::collections::BTreeMap<String, usize>,
    /// `--retries`: overrides every gate's `retries`.
    pub retries: Option<u32>,
    /// `--max-fail`: stop starting gates after this many blocking failures.
    pub max_fail: Option<usize>,
}

/// One item of the bundle given to a run's gates: what the outcome store records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BundleItem {
    pub id: String,
    pub status: String,
    /// blake3 of what the item says (a file's text as written, or its rule/command).
    pub content_hash: String,
    pub tokens: usize,
}

/// A gate's place in the cache for this run.
#[derive(Debug, Clone)]
pub struct CachePlan {
    pub parts: super::cache::KeyParts,
    /// The pass reused instead of running (`None`: the gate runs).
    pub hit: Option<super::cache::Entry>,
}

impl Plan {
    /// The W3C `traceparent` of a gate's span: one trace per run, a span per gate
    /// (derived from the trace and the gate, so every reporter sees the same one).
    pub fn traceparent(&self, gate: &crate::ids::GateId) -> String {
        let span = blake3::hash(format!("{}/{gate}", self.trace_id).as_bytes()).to_hex();
        format!("00-{}-{}-01", self.trace_id, &span[..16])
    }

    /// The `traceparent` of the run's own span.
    pub fn run_traceparent(&self) -> String {
        let span = blake3::hash(format!("{}/run", self.trace_id).as_bytes()).to_hex();
        format!("00-{}-{}-01", self.trace_id, &span[..16])
    }

    /// The timeout that applies to a gate: `--timeout`, the gate's, the default.
    pub fn timeout_of(&self, gate: &SelectedGate) -> Duration {
        self.timeout_override
            .or(gate.timeout)
            .unwrap_or(self.default_timeout)
    }
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    pub results: Vec<GateResult>,
    /// Gates never started (fail-fast or interrupt).
    pub skipped: Vec<SelectedGate>,
    /// The first interrupt the caller sent (SIGINT, SIGTERM or SIGHUP).
    pub interrupted_by: Option<Signal>,
}

/// The verdict of a whole run (exit codes are derived from it in `exit.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunVerdict {
    /// Every blocking gate passed (or no gate ran).
    Passed,
    /// A blocking gate failed or timed out.
    Failed,
    /// A gate could not be started or waited for.
    Infrastructure,
    /// The run was stopped by a signal (or a caller's cancellation).
    Interrupted(Signal),
}

impl Outcome {
    /// The run's verdict: an interrupt wins, then a gate that could not run, then a
    /// blocking failure.
    pub fn verdict(&self) -> RunVerdict {
        if let Some(signal) = self.interrupted_by {
            RunVerdict::Interrupted(signal)
        } else if self
            .results
            .iter()
            .any(|result| result.status == GateStatus::Error)
        {
            RunVerdict::Infrastructure
        } else if self.results.iter().any(GateResult::blocks) {
            RunVerdict::Failed
        } else {
            RunVerdict::Passed
        }
    }

    /// How many results have each status, every status listed.
    pub fn counts(&self) -> std::collections::BTreeMap<&'static str, usize> {
        GateStatus::ALL
            .into_iter()
            .map(|status| {
                (
                    status.as_str(),
                    self.results
                        .iter()
                        .filter(|result| result.status == status)
                        .count(),
                )
            })
            .collect()
    }
}
