//! A gate run as a stream of events, and the reporters that consume it (in nextest's
//! style: the runner emits, one fan-out hands each event to every reporter).
//!
//! The runner ([`super::run`]) emits, in order: [`GateEvent::RunStarted`]; per gate
//! [`GateEvent::GateStarted`], [`GateEvent::GateOutput`] (the whole captured output,
//! already scrubbed of secrets, once, when the gate ends) and [`GateEvent::GateFinished`];
//! [`GateEvent::Tick`] about every 100 ms while gates run; [`GateEvent::Interrupted`]
//! when the caller interrupts; [`GateEvent::RunFinished`] last, with the verdict.
//! Reporters (terminal, GitHub, JSON, JUnit, step summary; later a store) implement
//! [`Reporter`]; none of them decides anything about the run.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::plan::{GateResult, Outcome, Plan};
use super::select::SelectedGate;
use crate::ids::GateId;

/// One thing that happened in a gate run.
#[derive(Debug)]
pub enum GateEvent<'a> {
    /// The run begins: the plan with its selection.
    RunStarted { plan: &'a Plan },
    /// A gate's process started (or its cached pass is being reused).
    GateStarted {
        gate: &'a SelectedGate,
        traceparent: &'a str,
    },
    /// Everything a gate printed (head and tail when long; secrets redacted).
    GateOutput { gate: &'a GateId, output: &'a [u8] },
    /// A gate's attempt failed and it runs again (`retries`).
    GateRetried {
        result: &'a GateResult,
        attempt: u32,
    },
    /// A gate ended (or could not start).
    GateFinished {
        result: &'a GateResult,
        done: usize,
        total: usize,
    },
    /// The running gates and how long each has run.
    Tick {
        running: &'a [(&'a GateId, Duration)],
        done: usize,
        total: usize,
    },
    /// The caller asked the run to stop (`second`: asked again, gates are killed now).
    Interrupted { signal: Signal, second: bool },
    /// The run is over.
    RunFinished {
        plan: &'a Plan,
        outcome: &'a Outcome,
    },
}

/// Something that consumes a run's events.
pub trait Reporter {
    fn report(&mut self, event: &GateEvent<'_>);
}

/// Hands every event to each of its reporters, in order.
#[derive(Default)]
pub struct FanOut<'r> {
    reporters: Vec<&'r mut dyn Reporter>,
}

impl<'r> FanOut<'r> {
    pub fn new() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn with(mut self, reporter: &'r mut dyn Reporter) -> Self {
        self.reporters.push(reporter);
        self
    }
}

impl Reporter for FanOut<'_> {
    fn report(&mut self, event: &GateEvent<'_>) {
        for reporter in &mut self.reporters {
            reporter.report(event);
        }
    }
}

/// Records the events' kinds (for tests and debugging).
#[derive(Debug, Default)]
pub struct Trace {
    pub kinds: Vec<String>,
}

impl Reporter for Trace {
    fn report(&mut self, event: &GateEvent<'_>) {
        let kind = match event {
            GateEvent::RunStarted { .. } => String::from("run-started"),
            GateEvent::GateStarted { gate, .. } => format!("gate-started {}", gate.id),
            GateEvent::GateOutput { gate, .. } => format!("gate-output {gate}"),
            GateEvent::GateFinished { result, .. } => {
                format!(
                    "gate-finished {} {}",
                    result.gate.id,
                    result.status.as_str()
                )
            }
            GateEvent::Tick { .. } => return,
            GateEvent::GateRetried { result, attempt } => {
                format!("gate-retried {} {attempt}", result.gate.id)
            }
            GateEvent::Interrupted { signal, .. } => format!("interrupted {signal}"),
            GateEvent::RunFinished { outcome, .. } => {
                format!("run-finished {:?}", outcome.verdict())
            }
        };
        self.kinds.push(kind);
    }
}
