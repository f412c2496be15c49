//! `--events FILE|-`: the run as JSON Lines (`ctx.events/v1`), one object per event,
//! flushed as it happens. Every event carries the run id, the W3C `traceparent` of its
//! span (the run's, or the gate's) and the digest of the bundle the gates were given.
//! The same objects are what `[hooks]` handlers get on stdin.

use std::io::Write;

use serde_json::{Value, json};

use crate::gates::events::{GateEvent, Reporter};
use crate::gates::plan::{GateStatus, Plan, RunVerdict};
use crate::output::Printer;

/// The JSON of an event (`None` for ticks and output, which are not part of the stream).
pub fn event_json(event: &GateEvent<'_>, plan: Option<&Plan>) -> Option<Value> {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let common = |kind: &str, traceparent: String| {
        json!({
            "schema": "ctx.events/v1",
            "event": kind,
            "at_ms": at,
            "run_id": plan.map(|plan| plan.run_id.to_string()),
            "traceparent": traceparent,
            "bundle_digest": plan.and_then(|plan| plan.bundle_digest.clone()),
        })
    };
    let run_span = plan.map(Plan::run_traceparent).unwrap_or_default();
    let mut value = match event {
        GateEvent::RunStarted { plan } => {
            let mut value = common("run_started", plan.run_traceparent());
            value["feature"] = json!(plan.feature);
            value["jobs"] = json!(plan.jobs);
            value["selection"] = json!(
                plan.gates
                    .iter()
                    .map(|gate| gate.id.to_string())
                    .collect::<Vec<_>>()
            );
            value
        }
        GateEvent::GateStarted { gate, traceparent } => {
            let mut value = common("gate_started", (*traceparent).to_owned());
            value["gate"] = json!(gate.id.to_string());
            value["command"] = json!(gate.shown_run());
            value
        }
        GateEvent::GateFinished {
            result,
            done,
            total,
        } => {
            let mut value = common("gate_finished", result.traceparent.clone());
            value["gate"] = json!(result.gate.id.to_string());
            value["status"] = json!(result.status.as_str());
            value["cached"] = json!(result.status == GateStatus::Cached);
            value["duration_ms"] = json!(result.duration.as_millis() as u64);
            value["exit_code"] = json!(result.exit_code);
            value["signal"] = json!(result.signal);
            value["blocking"] = json!(result.gate.blocking);
            value["done"] = json!(done);
            value["total"] = json!(total);
            value
        }
        GateEvent::Interrupted { signal, second } => {
            let mut value = common("interrupted", run_span);
            value["signal"] = json!(signal.as_str());
            value["second"] = json!(second);
            value
        }
        GateEvent::RunFinished { plan, outcome } => {
            let mut value = common("run_finished", plan.run_traceparent());
            value["verdict"] = json!(match outcome.verdict() {
                RunVerdict::Passed => "passed",
                RunVerdict::Failed => "failed",
                RunVerdict::Infrastructure => "infrastructure",
                RunVerdict::Interrupted(_) => "interrupted",
            });
            value["counts"] = json!(outcome.counts());
            value["not_started"] = json!(outcome.skipped.len());
            value
        }
        GateEvent::GateRetried { result, attempt } => {
            let mut value = common("gate_retried", result.traceparent.clone());
            value["gate"] = json!(result.gate.id.to_string());
            value["attempt"] = json!(attempt);
            value["status"] = json!(result.status.as_str());
            value["message"] = json!(result.message);
            value
        }
        GateEvent::GateOutput { .. } | GateEvent::Tick { .. } => return None,
    };
    if let GateEvent::RunStarted { plan } | GateEvent::RunFinished { plan, .. } = event {
        value["run_id"] = json!(plan.run_id.to_string());
        value["bundle_digest"] = json!(plan.bundle_digest);
    }
    Some(value)
}

/// Where the stream goes.
pub enum Sink<'p> {
    Stdout(&'p Printer),
    File(std::fs::File),
}

/// Writes the events as JSON Lines.
pub struct EventStream<'p> {
    sink: Sink<'p>,
    plan: Option<Plan>,
    failed: bool,
}

impl<'p> EventStream<'p> {
    pub fn new(sink: Sink<'p>) -> Self {
        Self {
            sink,
            plan: None,
            failed: false,
        }
    }

    /// Whether every event was written.
    pub fn all_written(&self) -> bool {
        !self.failed
    }
}

impl Reporter for EventStream<'_> {
    fn report(&mut self, event: &GateEvent<'_>) {
        if let GateEvent::RunStarted { plan } = event {
            self.plan = Some((*plan).clone());
        }
        let Some(value) = event_json(event, self.plan.as_ref()) else {
            return;
        };
        let line = format!("{value}\n");
        let written = match &mut self.sink {
            Sink::Stdout(printer) => printer.data(&line),
            Sink::File(file) => file.write_all(line.as_bytes()).and_then(|()| file.flush()),
        };
        self.failed |= written.is_err();
    }
}
