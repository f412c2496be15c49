//! The record of a run, and the reporter that builds it from the gate event stream.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::gates::events::{GateEvent, Reporter};
use crate::gates::plan::RunVerdict;

/// One bundle item in effect for a run.
pub use crate::gates::plan::BundleItem as ItemRecord;

/// One gate of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateRecord {
    pub id: String,
    pub scope: String,
    pub command_hash: String,
    pub status: String,
    pub attempts: u32,
    pub duration_ms: u64,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
}

/// Everything stored about a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub workspace: String,
    pub run_id: String,
    pub trace_id: String,
    pub started_ms: i64,
    pub finished_ms: i64,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub dirty: bool,
    pub feature: Option<String>,
    pub agent: Option<String>,
    pub scopes: Vec<String>,
    pub bundle_digest: Option<String>,
    pub tokens_by_layer: BTreeMap<String, usize>,
    pub verdict: String,
    pub items: Vec<ItemRecord>,
    pub gates: Vec<GateRecord>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Commit, branch, and whether the tree has uncommitted changes.
type GitState = (Option<String>, Option<String>, bool);

/// The git state of the root.
fn git_state(root: &std::path::Path) -> GitState {
    let out = |args: &[&str]| {
        crate::process::git(root, args)
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let commit = out(&["rev-parse", "HEAD"]);
    let branch = out(&["rev-parse", "--abbrev-ref", "HEAD"]);
    let dirty = out(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|text| !text.is_empty());
    (commit, branch, dirty)
}

/// The store's reporter: builds the run's record from its events and hands it over at
/// the end (the caller delivers it; a store that cannot be reached never fails the run).
pub struct Recorder {
    workspace: String,
    root: PathBuf,
    git: Option<std::thread::JoinHandle<GitState>>,
    record: Option<RunRecord>,
    /// The finished record, after `RunFinished`.
    pub finished: Option<RunRecord>,
}

impl Recorder {
    pub fn new(workspace: String, root: PathBuf) -> Self {
        Self {
            workspace,
            root,
            git: None,
            record: None,
            finished: None,
        }
    }
}

impl Reporter for Recorder {
    fn report(&mut self, event: &GateEvent<'_>) {
        match event {
            GateEvent::RunStarted { plan } => {
                // git runs beside the gates, not before them.
                let root = self.root.clone();
                self.git = std::thread::Builder::new()
                    .spawn(move || git_state(&root))
                    .ok();
                let mut scopes: Vec<String> = plan
                    .gates
                    .iter()
                    .map(|gate| gate.id.layer.to_string())
                    .collect();
                scopes.sort();
                scopes.dedup();
                self.record = Some(RunRecord {
                    workspace: self.workspace.clone(),
                    run_id: plan.run_id.to_string(),
                    trace_id: plan.trace_id.clone(),
                    started_ms: now_ms(),
                    finished_ms: 0,
                    commit: None,
                    branch: None,
                    dirty: false,
                    feature: plan.feature.clone(),
                    agent: None,
                    scopes,
                    bundle_digest: plan.bundle_digest.clone(),
                    tokens_by_layer: plan.bundle_tokens.clone(),
                    verdict: String::new(),
                    items: plan.bundle_items.clone(),
                    gates: Vec::new(),
                });
            }
            GateEvent::GateFinished { result, .. } => {
                if let Some(record) = &mut self.record {
                    record.gates.push(GateRecord {
                        id: result.gate.id.to_string(),
                        scope: result.gate.id.layer.to_string(),
                        command_hash: blake3::hash(result.gate.run.as_bytes()).to_hex()[..16]
                            .to_owned(),
                        status: result.status.as_str().to_owned(),
                        attempts: result.attempts,
                        duration_ms: result.duration.as_millis() as u64,
                        exit_code: result.exit_code,
                        signal: result.signal.clone(),
                    });
                }
            }
            GateEvent::RunFinished { outcome, .. } => {
                if let Some(mut record) = self.record.take() {
                    record.finished_ms = now_ms();
                    record.verdict = String::from(match outcome.verdict() {
                        RunVerdict::Passed => "passed",
                        RunVerdict::Failed => "failed",
                        RunVerdict::Infrastructure => "infrastructure",
                        RunVerdict::Interrupted(_) => "interrupted",
                    });
                    if let Some((commit, branch, dirty)) =
                        self.git.take().and_then(|git| git.join().ok())
                    {
                        record.commit = commit;
                        record.branch = branch;
                        record.dirty = dirty;
                    }
                    self.finished = Some(record);
                }
            }
            _ => {}
        }
    }
}
