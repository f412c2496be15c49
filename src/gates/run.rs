//! Running gates: at most `jobs` at a time, each in its own process group, with output
//! drained concurrently, timeouts enforced on the group, and clean shutdown.
//!
//! One event loop owns all decisions. Per gate, a waiter thread reports the exit and
//! two reader threads report end-of-output; a signal thread reports SIGINT/SIGTERM.
//! Timers (timeout, grace, the 100 ms pipe linger after exit) are checked between events.
//! When a gate is done, whatever is left of its process group is killed.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde::Serialize;

use super::capture::Sink;
use super::select::SelectedGate;
use crate::process;

/// How long to wait for a gate's pipes to close after its main process exits.
pub const PIPE_LINGER: Duration = Duration::from_millis(100);
/// Bytes of output kept in reports.
pub const REPORT_TAIL: usize = 8 * 1024;

/// A gate's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GateStatus {
    Pass,
    Fail,
    Timeout,
    Error,
    Interrupted,
}

impl GateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Timeout => "timeout",
            Self::Error => "error",
            Self::Interrupted => "interrupted",
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
    pub run_id: String,
    pub run_dir: PathBuf,
    pub trace_id: String,
    pub feature: Option<String>,
    pub bundle: Option<PathBuf>,
    /// Secrets in captured output are redacted unless this is `Off`.
    pub secrets: crate::config::settings::SecretsMode,
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    pub results: Vec<GateResult>,
    /// Gates never started (fail-fast or interrupt).
    pub skipped: Vec<SelectedGate>,
    /// SIGINT (2) or SIGTERM (15) received.
    pub interrupted_by: Option<i32>,
}

/// Progress callbacks (terminal output, GitHub groups).
pub trait Observer {
    fn started(&mut self, gate: &SelectedGate);
    fn finished(&mut self, result: &GateResult, done: usize, total: usize);
    /// Called about every 100 ms with the running gates and their elapsed time.
    fn tick(&mut self, running: &[(&str, Duration)], done: usize, total: usize);
    fn interrupted(&mut self, signal: i32, second: bool);
}

enum Event {
    Exited(usize, std::io::Result<ExitStatus>),
    PipeClosed(usize),
    Signal(i32),
}

struct Running {
    index: usize,
    group: u32,
    started: Instant,
    deadline: Instant,
    sink: Arc<Sink>,
    exit: Option<std::io::Result<ExitStatus>>,
    exited_at: Option<Instant>,
    pipes_open: u8,
    term_sent: Option<Instant>,
    killed: bool,
    timed_out: bool,
    interrupted: bool,
    lingering_killed: bool,
}

/// Run the plan's gates and report each through `observer`.
pub fn run(plan: &Plan, observer: &mut dyn Observer) -> Outcome {
    let (sender, receiver) = mpsc::channel();
    let signals = listen_for_signals(sender.clone());
    let outcome = Loop {
        plan,
        sender,
        receiver,
        observer,
    }
    .run();
    if let Some(handle) = signals {
        handle.close();
    }
    outcome
}

fn listen_for_signals(sender: Sender<Event>) -> Option<signal_hook::iterator::Handle> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .ok()?;
    let handle = signals.handle();
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if sender.send(Event::Signal(signal)).is_err() {
                break;
            }
        }
    });
    Some(handle)
}

struct Loop<'a> {
    plan: &'a Plan,
    sender: Sender<Event>,
    receiver: Receiver<Event>,
    observer: &'a mut dyn Observer,
}

impl Loop<'_> {
    fn run(mut self) -> Outcome {
        let total = self.plan.gates.len();
        let mut next = 0;
        let mut running: Vec<Running> = Vec::new();
        let mut results: Vec<Option<GateResult>> = vec![None; total];
        let mut done = 0;
        let mut stop = false;
        let mut interrupted_by = None;
        let mut last_tick = Instant::now();
        loop {
            while !stop && next < total && running.len() < self.plan.jobs.max(1) {
                let index = next;
                next += 1;
                match self.start(index) {
                    Ok(state) => running.push(state),
                    Err(result) => {
                        done += 1;
                        self.observer.finished(&result, done, total);
                        results[index] = Some(*result);
                        if self.plan.fail_fast {
                            stop = true;
                        }
                    }
                }
            }
            if running.is_empty() && (stop || next >= total) {
                break;
            }
            match self.receiver.recv_timeout(Duration::from_millis(20)) {
                Ok(Event::Exited(index, status)) => {
                    if let Some(state) = running.iter_mut().find(|state| state.index == index) {
                        state.exit = Some(status);
                        state.exited_at = Some(Instant::now());
                    }
                }
                Ok(Event::PipeClosed(index)) => {
                    if let Some(state) = running.iter_mut().find(|state| state.index == index) {
                        state.pipes_open = state.pipes_open.saturating_sub(1);
                    }
                }
                Ok(Event::Signal(signal)) => {
                    let second = interrupted_by.is_some();
                    interrupted_by.get_or_insert(signal);
                    stop = true;
                    self.observer.interrupted(signal, second);
                    for state in &mut running {
                        state.interrupted = true;
                        if second {
                            process::signal_group(state.group, Signal::SIGKILL);
                            state.killed = true;
                        } else if state.term_sent.is_none() {
                            process::signal_group(state.group, Signal::SIGTERM);
                            state.term_sent = Some(Instant::now());
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
            }
            let now = Instant::now();
            for state in &mut running {
                self.enforce_timers(state, now);
            }
            // Finish every gate whose process exited and whose pipes closed.
            let mut index = 0;
            while index < running.len() {
                if running[index].exit.is_some() && running[index].pipes_open == 0 {
                    let state = running.swap_remove(index);
                    let result = self.finish(state);
                    done += 1;
                    let failed = matches!(
                        result.status,
                        GateStatus::Fail | GateStatus::Timeout | GateStatus::Error
                    ) && result.gate.blocking;
                    self.observer.finished(&result, done, total);
                    let position = self
                        .plan
                        .gates
                        .iter()
                        .position(|gate| gate.id == result.gate.id)
                        .unwrap_or(0);
                    results[position] = Some(result);
                    if failed && self.plan.fail_fast {
                        stop = true;
                    }
                } else {
                    index += 1;
                }
            }
            if now.duration_since(last_tick) >= Duration::from_millis(100) {
                last_tick = now;
                let elapsed: Vec<(&str, Duration)> = running
                    .iter()
                    .map(|state| {
                        (
                            self.plan.gates[state.index].id.as_str(),
                            now.duration_since(state.started),
                        )
                    })
                    .collect();
                self.observer.tick(&elapsed, done, total);
            }
        }
        Outcome {
            results: results.into_iter().flatten().collect(),
            skipped: self.plan.gates[next..].to_vec(),
            interrupted_by,
        }
    }

    /// Timeout: SIGTERM to the group, then SIGKILL after the grace period. After the
    /// main process exits, wait at most [`PIPE_LINGER`] for the pipes, then kill the group.
    fn enforce_timers(&self, state: &mut Running, now: Instant) {
        if state.exit.is_none() && state.term_sent.is_none() && now >= state.deadline {
            state.timed_out = true;
            process::signal_group(state.group, Signal::SIGTERM);
            state.term_sent = Some(now);
        }
        if let Some(sent) = state.term_sent
            && !state.killed
            && now >= sent + self.plan.grace
        {
            process::signal_group(state.group, Signal::SIGKILL);
            state.killed = true;
        }
        if let Some(exited) = state.exited_at
            && state.pipes_open > 0
            && !state.lingering_killed
            && now >= exited + PIPE_LINGER
        {
            process::signal_group(state.group, Signal::SIGKILL);
            state.lingering_killed = true;
        }
    }

    fn start(&mut self, index: usize) -> Result<Running, Box<GateResult>> {
        let gate = &self.plan.gates[index];
        let file_name = file_name(&gate.id);
        let log_path = self.plan.run_dir.join(format!("{file_name}.log"));
        let output_dir = self.plan.run_dir.join("out").join(&file_name);
        let log_display = crate::paths::relative_display(&self.plan.root, &log_path);
        let error = |message: String| {
            Box::new(GateResult {
                gate: gate.clone(),
                status: GateStatus::Error,
                exit_code: None,
                signal: None,
                duration: Duration::ZERO,
                log: log_display.clone(),
                tail: String::new(),
                output: Vec::new(),
                output_bytes: 0,
                message,
            })
        };
        let cwd = match &gate.cwd {
            Some(cwd) => self.plan.root.join(cwd),
            None => self.plan.root.clone(),
        };
        if !cwd.is_dir() {
            return Err(error(format!(
                "working folder `{}` does not exist",
                gate.cwd.as_deref().unwrap_or(".")
            )));
        }
        if let Err(problem) = std::fs::create_dir_all(&output_dir) {
            return Err(error(format!(
                "cannot create `{}`: {problem}",
                output_dir.display()
            )));
        }
        let log = std::fs::File::create(&log_path).ok();
        let mut env = gate.env.clone();
        env.extend([
            (
                String::from("CTX_ROOT"),
                self.plan.root.display().to_string(),
            ),
            (String::from("CTX_RUN_ID"), self.plan.run_id.clone()),
            (String::from("CTX_GATE"), gate.id.clone()),
            (String::from("CTX_SCOPE"), gate.scope.clone()),
            (
                String::from("CTX_GATE_OUTPUT_DIR"),
                output_dir.display().to_string(),
            ),
            (
                String::from("TRACEPARENT"),
                format!("00-{}-{}-01", self.plan.trace_id, random_hex(16, &gate.id)),
            ),
        ]);
        if let Some(feature) = &self.plan.feature {
            env.push((String::from("CTX_FEATURE"), feature.clone()));
        }
        if let Some(bundle) = &self.plan.bundle {
            env.push((String::from("CTX_BUNDLE"), bundle.display().to_string()));
        }
        let mut child = match process::spawn_gate(&gate.run, &cwd, &env) {
            Ok(child) => child,
            Err(problem) => return Err(error(format!("cannot start `sh`: {problem}"))),
        };
        self.observer.started(gate);
        let started = Instant::now();
        let sink = Arc::new(Sink::new(log));
        let group = child.id();
        for stream in [
            child
                .stdout
                .take()
                .map(|out| Box::new(out) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|err| Box::new(err) as Box<dyn std::io::Read + Send>),
        ] {
            let sink = Arc::clone(&sink);
            let sender = self.sender.clone();
            std::thread::spawn(move || {
                if let Some(stream) = stream {
                    sink.drain(stream);
                }
                let _ = sender.send(Event::PipeClosed(index));
            });
        }
        let sender = self.sender.clone();
        std::thread::spawn(move || {
            let status = child.wait();
            let _ = sender.send(Event::Exited(index, status));
        });
        let timeout = self
            .plan
            .timeout_override
            .or(gate.timeout)
            .unwrap_or(self.plan.default_timeout);
        Ok(Running {
            index,
            group,
            started,
            deadline: started + timeout,
            sink,
            exit: None,
            exited_at: None,
            pipes_open: 2,
            term_sent: None,
            killed: false,
            timed_out: false,
            interrupted: false,
            lingering_killed: false,
        })
    }

    fn finish(&self, state: Running) -> GateResult {
        // Nothing of the gate may outlive it: kill whatever is left of its group.
        if process::group_alive(state.group) {
            process::signal_group(state.group, Signal::SIGKILL);
        }
        let gate = self.plan.gates[state.index].clone();
        let duration = state
            .exited_at
            .unwrap_or_else(Instant::now)
            .duration_since(state.started);
        let log = crate::paths::relative_display(
            &self.plan.root,
            &self
                .plan
                .run_dir
                .join(format!("{}.log", file_name(&gate.id))),
        );
        let (mut output, output_bytes) = match state.sink.capture.lock() {
            Ok(capture) => (capture.bytes(), capture.total()),
            Err(_) => (Vec::new(), 0),
        };
        // What goes into reports and onto the terminal never carries a secret: scrub
        // everything captured first, then cut the tail (a cut could hide a key's BEGIN).
        if self.plan.secrets != crate::config::settings::SecretsMode::Off {
            let text = String::from_utf8_lossy(&output).into_owned();
            let (scrubbed, found) = crate::secrets::scrub(&text);
            if !found.is_empty() {
                output = scrubbed.into_bytes();
            }
        }
        let tail = {
            let text = String::from_utf8_lossy(&output);
            let mut start = text.len().saturating_sub(REPORT_TAIL);
            while !text.is_char_boundary(start) {
                start += 1;
            }
            super::capture::clean(&text[start..])
        };
        let (exit_code, signal) = match &state.exit {
            Some(Ok(status)) => {
                use std::os::unix::process::ExitStatusExt;
                (status.code(), status.signal())
            }
            _ => (None, None),
        };
        let timeout = self
            .plan
            .timeout_override
            .or(gate.timeout)
            .unwrap_or(self.plan.default_timeout);
        let (status, message) = if state.interrupted {
            (
                GateStatus::Interrupted,
                String::from("interrupted: ctx received a signal while the gate ran"),
            )
        } else if state.timed_out {
            let how = if state.killed {
                "killed with SIGKILL after the grace period"
            } else {
                "stopped by SIGTERM"
            };
            (
                GateStatus::Timeout,
                format!(
                    "timed out after {}; {how}",
                    humantime::format_duration(timeout)
                ),
            )
        } else {
            match (&state.exit, exit_code, signal) {
                (Some(Err(problem)), _, _) => (
                    GateStatus::Error,
                    format!("cannot wait for the gate: {problem}"),
                ),
                (_, Some(0), _) => (GateStatus::Pass, String::from("passed")),
                (_, Some(127), _) => (
                    GateStatus::Fail,
                    String::from("command not found (exit 127)"),
                ),
                (_, Some(126), _) => (
                    GateStatus::Fail,
                    String::from("command not executable (exit 126)"),
                ),
                (_, Some(code), _) => (GateStatus::Fail, format!("exited with status {code}")),
                (_, None, Some(number)) => (
                    GateStatus::Fail,
                    format!(
                        "killed by signal {number} ({})",
                        process::signal_name(number)
                    ),
                ),
                _ => (
                    GateStatus::Error,
                    String::from("ended without an exit status"),
                ),
            }
        };
        let message = if state.lingering_killed && status == GateStatus::Pass {
            String::from("passed; background processes still holding its output were killed")
        } else {
            message
        };
        GateResult {
            gate,
            status,
            exit_code,
            signal: signal.map(process::signal_name),
            duration,
            log,
            tail,
            output,
            output_bytes,
            message,
        }
    }
}

/// A file name for a gate id: `domain:payment/payment-tests` → `domain_payment__payment-tests`.
pub fn file_name(id: &str) -> String {
    id.chars()
        .map(|character| match character {
            ':' => '_',
            '/' => '~',
            character
                if character.is_ascii_alphanumeric()
                    || matches!(character, '-' | '_' | '.' | '@') =>
            {
                character
            }
            _ => '_',
        })
        .collect::<String>()
        .replace('~', "__")
}

/// `length` hex digits that differ per call (trace and span ids; not for secrets).
pub fn random_hex(length: usize, salt: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = blake3::Hasher::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.update(&now.as_nanos().to_le_bytes());
    hasher.update(&std::process::id().to_le_bytes());
    hasher.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    hasher.update(salt.as_bytes());
    hasher.finalize().to_hex()[..length].to_owned()
}
