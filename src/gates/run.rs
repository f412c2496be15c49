//! Running gates: at most `jobs` at a time, each in its own process group, with output
//! drained concurrently, timeouts enforced on the group, and clean shutdown.
//!
//! One event loop owns all decisions. Per gate, a waiter thread reports the exit and
//! two reader threads report end-of-output; a signal thread reports SIGINT/SIGTERM.
//! Timers (timeout, grace, the 100 ms pipe linger after exit) are checked between events.
//! When a gate is done, whatever is left of its process group is killed.

use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::capture::Sink;
use super::events::{GateEvent, Reporter};
use super::plan::{GateResult, GateStatus, Outcome, Plan};
use super::select::SelectedGate;
use crate::ids::GateId;
use crate::process;
use crate::state::GateFiles;

/// How long to wait for a gate's pipes to close after its main process exits.
pub const PIPE_LINGER: Duration = Duration::from_millis(100);
/// Bytes of output kept in reports.
pub const REPORT_TAIL: usize = 8 * 1024;

enum Event {
    Exited(usize, std::io::Result<ExitStatus>),
    PipeClosed(usize),
    Interrupt(Signal),
}

/// The caller's way to stop a run, from any thread: the CLI forwards its signals
/// here, a server its cancellations. The first interrupt stops new gates and sends
/// SIGTERM to the running ones; a second kills them at once.
#[derive(Clone)]
pub struct Interrupter(Sender<Event>);

impl Interrupter {
    /// Ask the run to stop; `false` when the run is already over.
    pub fn interrupt(&self, signal: Signal) -> bool {
        self.0.send(Event::Interrupt(signal)).is_ok()
    }
}

/// A run's event channel, made before the run so the caller can hold an
/// [`Interrupter`] while it runs.
pub struct Control {
    sender: Sender<Event>,
    receiver: Receiver<Event>,
}

impl Default for Control {
    fn default() -> Self {
        let (sender, receiver) = mpsc::channel();
        Self { sender, receiver }
    }
}

impl Control {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn interrupter(&self) -> Interrupter {
        Interrupter(self.sender.clone())
    }
}

struct Running {
    index: usize,
    group: u32,
    started: Instant,
    deadline: Instant,
    files: GateFiles,
    sink: Arc<Sink>,
    exit: Option<std::io::Result<ExitStatus>>,
    exited_at: Option<Instant>,
    pipes_open: u8,
    term_sent: Option<Instant>,
    killed: bool,
    timed_out: bool,
    interrupted: bool,
    lingering_killed: bool,
    /// Its pipes were still held by an escaped process when it was declared over.
    escaped: bool,
}

/// Run the plan's gates, reporting every event to `reporter`. Signals are the caller's
/// business: it forwards them through `control`'s [`Interrupter`].
pub fn run(plan: &Plan, control: Control, reporter: &mut dyn Reporter) -> Outcome {
    process::become_subreaper();
    reporter.report(&GateEvent::RunStarted { plan });
    let outcome = Loop {
        plan,
        watchdog: process::Watchdog::start(),
        sender: control.sender,
        receiver: control.receiver,
        reporter,
        attempts: vec![0; plan.gates.len()],
        earlier: vec![Vec::new(); plan.gates.len()],
        failures: 0,
    }
    .run();
    reporter.report(&GateEvent::RunFinished {
        plan,
        outcome: &outcome,
    });
    outcome
}

struct Loop<'a> {
    plan: &'a Plan,
    /// Kills the gates' groups if ctx dies without a word.
    watchdog: Option<process::Watchdog>,
    sender: Sender<Event>,
    receiver: Receiver<Event>,
    reporter: &'a mut dyn Reporter,
    /// Per gate: how many times it started.
    attempts: Vec<u32>,
    /// Per gate: why its earlier attempts failed.
    earlier: Vec<Vec<String>>,
    /// Blocking failures so far (for `--max-fail`).
    failures: usize,
}

impl Loop<'_> {
    fn run(mut self) -> Outcome {
        let total = self.plan.gates.len();
        // Gates not started yet, in order; a gate whose group is full waits while later
        // gates of other groups start.
        let mut pending: std::collections::VecDeque<usize> = (0..total).collect();
        let mut running: Vec<Running> = Vec::new();
        let mut results: Vec<Option<GateResult>> = vec![None; total];
        let mut done = 0;
        let mut stop = false;
        let mut interrupted_by = None;
        let mut last_tick = Instant::now();
        loop {
            while !stop && running.len() < self.plan.jobs.max(1) {
                let Some(position) = pending
                    .iter()
                    .position(|&index| self.group_has_room(index, &running))
                else {
                    break;
                };
                let Some(index) = pending.remove(position) else {
                    break;
                };
                if let Some(result) = self.cached(index) {
                    done += 1;
                    self.finished(&result, done, total);
                    results[index] = Some(result);
                    continue;
                }
                match self.start(index) {
                    Ok(state) => running.push(state),
                    Err(result) => {
                        done += 1;
                        self.finished(&result, done, total);
                        if self.plan.fail_fast && result.blocks() {
                            stop = true;
                        }
                        results[index] = Some(*result);
                    }
                }
            }
            if running.is_empty() && (stop || pending.is_empty()) {
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
                Ok(Event::Interrupt(signal)) => {
                    let second = interrupted_by.is_some();
                    interrupted_by.get_or_insert(signal);
                    stop = true;
                    self.reporter
                        .report(&GateEvent::Interrupted { signal, second });
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
            let mut position = 0;
            while position < running.len() {
                if running[position].exit.is_some() && running[position].pipes_open == 0 {
                    let state = running.swap_remove(position);
                    let index = state.index;
                    if let Some(result) = self.complete(state, &mut running, &mut stop) {
                        done += 1;
                        self.finished(&result, done, total);
                        results[index] = Some(result);
                    }
                } else {
                    position += 1;
                }
            }
            if now.duration_since(last_tick) >= Duration::from_millis(100) {
                last_tick = now;
                let elapsed: Vec<(&GateId, Duration)> = running
                    .iter()
                    .map(|state| {
                        (
                            &self.plan.gates[state.index].id,
                            now.duration_since(state.started),
                        )
                    })
                    .collect();
                self.reporter.report(&GateEvent::Tick {
                    running: &elapsed,
                    done,
                    total,
                });
            }
        }
        Outcome {
            results: results.into_iter().flatten().collect(),
            skipped: pending
                .into_iter()
                .map(|index| self.plan.gates[index].clone())
                .collect(),
            interrupted_by,
        }
    }

    fn finished(&mut self, result: &GateResult, done: usize, total: usize) {
        self.reporter.report(&GateEvent::GateOutput {
            gate: &result.gate.id,
            output: &result.output,
        });
        self.reporter.report(&GateEvent::GateFinished {
            result,
            done,
            total,
        });
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
            process::kill_escaped();
            state.lingering_killed = true;
        }
        // Whatever still holds the pipes left the gate's group and session: the gate is
        // over all the same (its readers are abandoned; the escaped are killed).
        if let Some(exited) = state.exited_at
            && state.pipes_open > 0
            && now >= exited + PIPE_LINGER * 3
        {
            state.pipes_open = 0;
            state.escaped = true;
        }
    }

    /// A gate's process ended: its result, or `None` when a failed attempt is run again.
    /// Counts blocking failures for `--fail-fast` and `--max-fail`.
    fn complete(
        &mut self,
        state: Running,
        running: &mut Vec<Running>,
        stop: &mut bool,
    ) -> Option<GateResult> {
        let index = state.index;
        let mut result = self.finish(state);
        result.attempts = self.attempts[index];
        if !*stop && self.retry_allowed(index, &result) {
            self.earlier[index].push(result.message.clone());
            self.reporter.report(&GateEvent::GateRetried {
                result: &result,
                attempt: result.attempts,
            });
            match self.start(index) {
                Ok(state) => {
                    running.push(state);
                    return None;
                }
                Err(failed) => result = *failed,
            }
        }
        result.earlier_failures = std::mem::take(&mut self.earlier[index]);
        if result.status == GateStatus::Pass && !result.earlier_failures.is_empty() {
            result.status = GateStatus::Flaky;
            result.message = format!(
                "flaky: passed on attempt {} after {}",
                result.attempts,
                result.earlier_failures.join("; ")
            );
        }
        if result.blocks() {
            self.failures += 1;
            if self.plan.fail_fast || self.plan.max_fail.is_some_and(|max| self.failures >= max) {
                *stop = true;
            }
        }
        Some(result)
    }

    /// Whether a failed attempt is run again (`retries`, or `--retries`).
    fn retry_allowed(&self, index: usize, result: &GateResult) -> bool {
        let allowed = self.plan.retries.unwrap_or(self.plan.gates[index].retries);
        matches!(result.status, GateStatus::Fail | GateStatus::Timeout)
            && result.attempts <= allowed
    }

    /// Whether a gate's resource group (if any) has room for one more.
    fn group_has_room(&self, index: usize, running: &[Running]) -> bool {
        let Some(group) = &self.plan.gates[index].group else {
            return true;
        };
        let limit = self.plan.groups.get(group).copied().unwrap_or(usize::MAX);
        let busy = running
            .iter()
            .filter(|state| self.plan.gates[state.index].group.as_ref() == Some(group))
            .count();
        busy < limit
    }

    /// A reused pass, when the gate's inputs are as they were at its last pass.
    fn cached(&mut self, index: usize) -> Option<GateResult> {
        let hit = self.plan.cache.get(index)?.as_ref()?.hit.as_ref()?;
        let gate = self.plan.gates[index].clone();
        self.reporter.report(&GateEvent::GateStarted {
            gate: &gate,
            traceparent: &self.plan.traceparent(&gate.id),
        });
        Some(GateResult {
            status: GateStatus::Cached,
            exit_code: Some(0),
            signal: None,
            duration: Duration::ZERO,
            log: String::new(),
            tail: String::new(),
            output: Vec::new(),
            output_bytes: 0,
            message: format!(
                "cached: inputs unchanged since the pass of run {} ({} ms)",
                hit.run_id, hit.duration_ms
            ),
            traceparent: self.plan.traceparent(&gate.id),
            attempts: 0,
            earlier_failures: Vec::new(),
            gate,
        })
    }

    fn start(&mut self, index: usize) -> Result<Running, Box<GateResult>> {
        self.attempts[index] += 1;
        let gate = &self.plan.gates[index];
        let files = GateFiles::of(&self.plan.run_dir, &gate.id);
        let log_display = crate::paths::relative_display(&self.plan.root, &files.log);
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
                traceparent: self.plan.traceparent(&gate.id),
                attempts: 1,
                earlier_failures: Vec::new(),
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
        if let Err(problem) = std::fs::create_dir_all(&files.output_dir) {
            return Err(error(format!(
                "cannot create `{}`: {problem}",
                files.output_dir.display()
            )));
        }
        let log = std::fs::File::create(&files.log).ok();
        let env = self.environment(gate, &files);
        let mut child = match process::spawn_gate(&gate.run, &cwd, &env) {
            Ok(child) => child,
            Err(problem) => return Err(error(format!("cannot start `sh`: {problem}"))),
        };
        self.reporter.report(&GateEvent::GateStarted {
            gate,
            traceparent: &self.plan.traceparent(&gate.id),
        });
        let started = Instant::now();
        let sink = Arc::new(Sink::new(log));
        let group = child.id();
        if let Some(watchdog) = &mut self.watchdog {
            watchdog.started(group);
        }
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
        Ok(Running {
            index,
            group,
            started,
            deadline: started + self.plan.timeout_of(gate),
            files,
            sink,
            exit: None,
            exited_at: None,
            pipes_open: 2,
            term_sent: None,
            killed: false,
            timed_out: false,
            interrupted: false,
            lingering_killed: false,
            escaped: false,
        })
    }

    /// The environment of a gate: its own `env`, then ctx's variables.
    fn environment(&self, gate: &SelectedGate, files: &GateFiles) -> Vec<(String, String)> {
        let mut env = gate.env.clone();
        env.extend([
            (
                String::from("CTX_ROOT"),
                self.plan.root.display().to_string(),
            ),
            (String::from("CTX_RUN_ID"), self.plan.run_id.to_string()),
            (String::from("CTX_GATE"), gate.id.to_string()),
            (String::from("CTX_SCOPE"), gate.id.layer.to_string()),
            (
                String::from("CTX_GATE_OUTPUT_DIR"),
                files.output_dir.display().to_string(),
            ),
            (String::from("TRACEPARENT"), self.plan.traceparent(&gate.id)),
        ]);
        if let Some(feature) = &self.plan.feature {
            env.push((String::from("CTX_FEATURE"), feature.clone()));
        }
        if let Some(bundle) = &self.plan.bundle {
            env.push((String::from("CTX_BUNDLE"), bundle.display().to_string()));
        }
        env
    }

    fn finish(&mut self, state: Running) -> GateResult {
        // Nothing of the gate may outlive it: kill whatever is left of its group.
        if process::group_alive(state.group) {
            process::signal_group(state.group, Signal::SIGKILL);
        }
        if let Some(watchdog) = &mut self.watchdog {
            watchdog.ended(state.group);
        }
        let gate = self.plan.gates[state.index].clone();
        // The whole gate: until its output ended (or was abandoned), not its shell's exit.
        let duration = state.started.elapsed();
        // What left the gate's group and session (and was reparented here) goes with it.
        process::kill_escaped();
        let log = crate::paths::relative_display(&self.plan.root, &state.files.log);
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
        let timeout = self.plan.timeout_of(&gate);
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
        let message = if state.escaped && status == GateStatus::Pass {
            String::from(
                "passed; a process that left the gate's group and session kept its output open and was killed",
            )
        } else if state.lingering_killed && status == GateStatus::Pass {
            String::from("passed; background processes still holding its output were killed")
        } else {
            message
        };
        GateResult {
            traceparent: self.plan.traceparent(&gate.id),
            attempts: 1,
            earlier_failures: Vec::new(),
            status,
            exit_code,
            signal: signal.map(process::signal_name),
            duration,
            log,
            tail,
            output,
            output_bytes,
            message,
            gate,
        }
    }
}
