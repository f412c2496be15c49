//! The terminal reporter: progress bars on a terminal (a heartbeat line otherwise), one
//! line per finished gate with the failure's output block, GitHub Actions groups and
//! annotations in GitHub mode, and the summary table at the end. All on stderr.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::gates::capture::clean;
use crate::gates::events::{GateEvent, Reporter};
use crate::gates::plan::GateResult;
use crate::ids::GateId;
use crate::output::Printer;

/// How often a non-terminal run says it is still alive.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// Progress and results on stderr.
pub struct Terminal<'p> {
    printer: &'p Printer,
    github: bool,
    bars: Option<Bars>,
    last_heartbeat: Instant,
}

struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    running: HashMap<GateId, ProgressBar>,
}

impl<'p> Terminal<'p> {
    pub fn new(printer: &'p Printer, github: bool) -> Self {
        Self {
            printer,
            github,
            bars: None,
            last_heartbeat: Instant::now(),
        }
    }

    fn line(&self, text: &str) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.multi.println(text);
            }
            None => self.printer.text(&format!("{text}\n")),
        }
    }

    fn open(&mut self, total: usize) {
        self.bars = (self.printer.progress() && !self.github).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let overall = multi.add(ProgressBar::new(total as u64));
            overall.set_style(
                ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} gates  {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            Bars {
                multi,
                overall,
                running: HashMap::new(),
            }
        });
    }

    fn close(&mut self) {
        if let Some(bars) = self.bars.take() {
            bars.overall.finish_and_clear();
            let _ = bars.multi.clear();
        }
    }

    fn finished(&mut self, result: &GateResult, done: usize, total: usize) {
        if let Some(bars) = &mut self.bars {
            if let Some(bar) = bars.running.remove(&result.gate.id) {
                bar.finish_and_clear();
                bars.multi.remove(&bar);
            }
            bars.overall.set_position(done as u64);
        }
        if self.github {
            self.printer.text(&super::github_gate(result));
            return;
        }
        let mut text = format!(
            "{:<11} {:>7.2}s  {}  [{done}/{total}]",
            result.status.as_str().to_uppercase(),
            result.duration.as_secs_f64(),
            result.gate.id
        );
        if result.status.is_failure() {
            // The whole block at once, so parallel gates never interleave.
            let output = clean(&String::from_utf8_lossy(&result.output));
            text.push_str(&format!(
                "\n──── {} {}: {} ────\n$ {}\n{}{}──── end of {} (log: {}) ────",
                result.status.as_str(),
                result.gate.id,
                result.message,
                crate::output::printable(&result.gate.shown_run()),
                output,
                if output.is_empty() || output.ends_with('\n') {
                    ""
                } else {
                    "\n"
                },
                result.gate.id,
                result.log
            ));
        }
        self.line(&text);
    }

    fn tick(&mut self, running: &[(&GateId, Duration)], done: usize, total: usize) {
        if let Some(bars) = &self.bars {
            for (id, elapsed) in running {
                if let Some(bar) = bars.running.get(*id) {
                    bar.set_message(format!("{id}  {:.0}s", elapsed.as_secs_f64()));
                    bar.tick();
                }
            }
            return;
        }
        if self.last_heartbeat.elapsed() >= HEARTBEAT {
            self.last_heartbeat = Instant::now();
            let list: Vec<String> = running
                .iter()
                .map(|(id, elapsed)| format!("{id} {:.0}s", elapsed.as_secs_f64()))
                .collect();
            self.line(&format!(
                "… {done}/{total} done, running: {}",
                list.join(", ")
            ));
        }
    }
}

impl Reporter for Terminal<'_> {
    fn report(&mut self, event: &GateEvent<'_>) {
        match event {
            GateEvent::RunStarted { plan } => {
                self.printer.status(&format!(
                    "running {} gate{} ({} at a time), run {}",
                    plan.gates.len(),
                    if plan.gates.len() == 1 { "" } else { "s" },
                    plan.jobs,
                    plan.run_id
                ));
                self.open(plan.gates.len());
            }
            GateEvent::GateStarted { gate, .. } => {
                if let Some(bars) = &mut self.bars {
                    let bar = bars.multi.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("  {spinner} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.set_message(gate.id.to_string());
                    bars.running.insert(gate.id.clone(), bar);
                }
            }
            GateEvent::GateOutput { .. } => {}
            GateEvent::GateRetried { result, attempt } => {
                self.line(&format!(
                    "RETRY       {:>7.2}s  {}  (attempt {attempt} {}: {})",
                    result.duration.as_secs_f64(),
                    result.gate.id,
                    result.status.as_str(),
                    result.message
                ));
            }
            GateEvent::GateFinished {
                result,
                done,
                total,
            } => self.finished(result, *done, *total),
            GateEvent::Tick {
                running,
                done,
                total,
            } => self.tick(running, *done, *total),
            GateEvent::Interrupted { signal, second } => {
                let name = signal.as_str();
                if *second {
                    self.line(&format!(
                        "received {name} again: killing every running gate now"
                    ));
                } else {
                    self.line(&format!(
                        "received {name}: no new gates; running gates get SIGTERM, then SIGKILL after the grace period (Ctrl-C again to kill now)"
                    ));
                }
            }
            GateEvent::RunFinished { outcome, .. } => {
                self.close();
                self.printer.text(&super::summary(outcome));
            }
        }
    }
}
