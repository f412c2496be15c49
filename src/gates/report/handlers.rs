//! `[hooks]` in `ctx.toml`: a command per event type (`run_started`, `gate_started`,
//! `gate_finished`, `gate_failed`, `run_finished`), run with the event's JSON
//! (`ctx.events/v1`) on stdin and `TRACEPARENT` set, in a process group of its own, with
//! a timeout (`hooks.timeout`, 30 s by default). Handlers run one at a time on a thread
//! of their own, so the gates never wait for them; a handler that fails or times out is
//! a warning, never the run's verdict.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::gates::events::{GateEvent, Reporter};
use crate::gates::plan::Plan;
use crate::output::Printer;
use crate::process::{self, HandlerEnd};

struct Job {
    event: String,
    command: String,
    input: String,
    traceparent: String,
}

/// Runs the configured handlers.
pub struct Handlers<'p> {
    commands: BTreeMap<String, String>,
    printer: &'p Printer,
    sender: Option<Sender<Job>>,
    worker: Option<JoinHandle<Vec<String>>>,
    plan: Option<Plan>,
}

impl<'p> Handlers<'p> {
    pub fn new(
        commands: BTreeMap<String, String>,
        root: PathBuf,
        timeout: Duration,
        printer: &'p Printer,
    ) -> Self {
        let (sender, receiver) = mpsc::channel::<Job>();
        let worker = (!commands.is_empty())
            .then(|| {
                std::thread::Builder::new()
                    .spawn(move || {
                        let mut warnings = Vec::new();
                        for job in receiver {
                            let env = [
                                (String::from("TRACEPARENT"), job.traceparent.clone()),
                                (String::from("CTX_EVENT"), job.event.clone()),
                                (String::from("CTX_ROOT"), root.display().to_string()),
                            ];
                            let end = process::run_handler(
                                &job.command,
                                &root,
                                &env,
                                job.input.as_bytes(),
                                timeout,
                            );
                            let problem = match end {
                                Ok(HandlerEnd::Exited(0)) => continue,
                                Ok(HandlerEnd::Exited(code)) => {
                                    format!("exited with status {code}")
                                }
                                Ok(HandlerEnd::Signalled(signal)) => {
                                    format!("was killed by {signal}")
                                }
                                Ok(HandlerEnd::TimedOut) => format!(
                                    "timed out after {}",
                                    humantime::format_duration(timeout)
                                ),
                                Err(error) => format!("could not start: {error}"),
                            };
                            warnings.push(format!(
                                "the `{}` hook `{}` {problem}",
                                job.event, job.command
                            ));
                        }
                        warnings
                    })
                    .ok()
            })
            .flatten();
        Self {
            commands,
            printer,
            sender: Some(sender),
            worker,
            plan: None,
        }
    }

    fn queue(&self, kind: &str, event: &GateEvent<'_>) {
        let Some(command) = self.commands.get(kind) else {
            return;
        };
        let Some(value) = super::stream::event_json(event, self.plan.as_ref()) else {
            return;
        };
        let traceparent = value["traceparent"].as_str().unwrap_or_default().to_owned();
        if let Some(sender) = &self.sender {
            let _ = sender.send(Job {
                event: kind.to_owned(),
                command: command.clone(),
                input: value.to_string(),
                traceparent,
            });
        }
    }
}

impl Reporter for Handlers<'_> {
    fn report(&mut self, event: &GateEvent<'_>) {
        match event {
            GateEvent::RunStarted { plan } => {
                self.plan = Some((*plan).clone());
                self.queue("run_started", event);
            }
            GateEvent::GateStarted { .. } => self.queue("gate_started", event),
            GateEvent::GateFinished { result, .. } => {
                self.queue("gate_finished", event);
                if result.status.is_failure() {
                    self.queue("gate_failed", event);
                }
            }
            GateEvent::RunFinished { .. } => {
                self.queue("run_finished", event);
                // Every queued handler runs before the run is over.
                self.sender = None;
                if let Some(worker) = self.worker.take() {
                    for warning in worker.join().unwrap_or_default() {
                        self.printer.status(&format!("warning: {warning}"));
                    }
                }
            }
            GateEvent::GateOutput { .. }
            | GateEvent::Tick { .. }
            | GateEvent::Interrupted { .. }
            | GateEvent::GateRetried { .. } => {}
        }
    }
}
