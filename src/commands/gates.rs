//! `ctx gates`: select, run, report.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::bundle::layer::Scope;
use crate::cli::{BundleOptions, GatesArgs, GithubMode};
use crate::commands;
use crate::config::workspace::Workspace;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::gates::capture::clean;
use crate::gates::report;
use crate::gates::run::{self, GateResult, GateStatus, Observer, Plan};
use crate::gates::select::{self, SelectedGate};
use crate::output::{self, Printer};

/// How often a non-terminal run says it is still alive.
const HEARTBEAT: Duration = Duration::from_secs(30);

pub fn run(root: Option<&Path>, args: &GatesArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let today = commands::today(args.today.as_deref())?;
    let validation = commands::open_valid(root, today, printer)?;
    let workspace = &validation.workspace;
    let mut request = select::Request {
        all: args.all,
        ..select::Request::default()
    };
    if let Some(name) = &args.feature {
        let known: Vec<String> = workspace
            .features
            .iter()
            .map(|feature| feature.name.to_string())
            .collect();
        request.feature = Some(
            workspace
                .feature(name)
                .ok_or_else(|| commands::unknown("feature", name, &known))?,
        );
    }
    let mut scope = Scope::default();
    for name in &args.domain {
        scope.add_domain(Some(commands::find_domain(workspace, name)?));
    }
    for name in &args.service {
        scope.add_service(Some(commands::find_service(workspace, name)?));
    }
    request.scope = scope;
    let mut gates = select::select(workspace, &request, today);
    if args.changed {
        let changed = select::changed_files(&workspace.root, args.base.as_deref()).map_err(|error| Error::Usage {
            message: format!("`--changed`: {error}"),
            help: Some(String::from(
                "fetch the history the base needs (in GitHub Actions: `actions/checkout` with `fetch-depth: 0`; elsewhere `git fetch origin main`), or name a base with `--base REF`",
            )),
        })?;
        printer.note(&format!("{} changed files", changed.len()));
        gates = select::keep_changed(workspace, gates, &changed);
    }
    let timeout_override = match &args.timeout {
        Some(text) => Some(
            humantime::parse_duration(text).map_err(|error| Error::Usage {
                message: format!("`--timeout {text}` is not a duration: {error}"),
                help: Some(String::from(
                    "write a duration such as \"90s\", \"10m\" or \"1h 30m\"",
                )),
            })?,
        ),
        None => None,
    };
    if args.dry_run {
        return dry_run(&gates, printer);
    }
    if gates.is_empty() {
        printer.status("no gates selected; nothing to run");
        return Ok(ExitStatus::Success);
    }
    let run_id = run_id();
    let run_dir = workspace.root.join(".ctx").join("runs").join(&run_id);
    std::fs::create_dir_all(&run_dir).map_err(|source| Error::Output {
        what: format!("`{}`", run_dir.display()),
        source,
    })?;
    let bundle = args
        .feature
        .as_ref()
        .and_then(|feature| write_bundle(workspace, feature, args, &run_dir, printer));
    let jobs = match args.jobs.unwrap_or(workspace.settings.jobs) {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        jobs => jobs,
    };
    let plan = Plan {
        gates,
        jobs,
        default_timeout: workspace.settings.timeout,
        timeout_override,
        grace: workspace.settings.grace,
        fail_fast: args.fail_fast,
        root: workspace.root.clone(),
        run_id,
        run_dir,
        trace_id: run::random_hex(32, "trace"),
        feature: args.feature.clone(),
        bundle,
        secrets: workspace.settings.secrets,
    };
    let github = match args.github {
        GithubMode::On => true,
        GithubMode::Off => false,
        GithubMode::Auto => std::env::var("GITHUB_ACTIONS").is_ok_and(|value| value == "true"),
    };
    printer.status(&format!(
        "running {} gate{} ({} at a time), run {}",
        plan.gates.len(),
        if plan.gates.len() == 1 { "" } else { "s" },
        jobs,
        plan.run_id
    ));
    let mut observer = Terminal::new(printer, github, plan.gates.len());
    let outcome = run::run(&plan, &mut observer);
    observer.close();
    printer.text(&report::summary(&outcome));
    let mut write_failed = false;
    let mut write = |path: &Path, text: String, what: &str| {
        if let Err(error) = output::write_atomic(path, text.as_bytes()) {
            printer.error(&format!(
                "cannot write the {what} `{}`: {error}; the previous file is left as it was",
                path.display()
            ));
            write_failed = true;
        }
    };
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report::json(&plan, &outcome)).unwrap_or_default();
        write(path, format!("{text}\n"), "JSON report");
    }
    if let Some(path) = &args.junit {
        write(path, report::junit(&outcome), "JUnit report");
    }
    if github && let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        use std::io::Write as _;
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&summary)
            .and_then(|mut file| file.write_all(report::github_summary(&outcome).as_bytes()));
        if let Err(error) = appended {
            printer.error(&format!("cannot append to `$GITHUB_STEP_SUMMARY`: {error}"));
            write_failed = true;
        }
    }
    Ok(match outcome.interrupted_by {
        Some(15) => ExitStatus::Terminated,
        Some(_) => ExitStatus::Interrupted,
        None if outcome
            .results
            .iter()
            .any(|result| result.status == GateStatus::Error) =>
        {
            ExitStatus::Infrastructure
        }
        None if write_failed => ExitStatus::OutputError,
        None if outcome.results.iter().any(|result| {
            result.gate.blocking && matches!(result.status, GateStatus::Fail | GateStatus::Timeout)
        }) =>
        {
            ExitStatus::GateFailed
        }
        None => ExitStatus::Success,
    })
}

fn dry_run(gates: &[SelectedGate], printer: &Printer) -> Result<ExitStatus, Error> {
    let mut out = String::new();
    for gate in gates {
        let timeout = gate
            .timeout
            .map(|timeout| format!(", timeout {}", humantime::format_duration(timeout)))
            .unwrap_or_default();
        let blocking = if gate.blocking { "" } else { ", non-blocking" };
        out.push_str(&format!(
            "{}\n  run: {}\n  why: {}{timeout}{blocking}\n",
            gate.id, gate.run, gate.reason
        ));
    }
    out.push_str(&format!(
        "{} gate{} selected (dry run: nothing ran)\n",
        gates.len(),
        if gates.len() == 1 { "" } else { "s" }
    ));
    printer.data(&out).map_err(|source| Error::Output {
        what: String::from("stdout"),
        source,
    })?;
    Ok(ExitStatus::Success)
}

/// The feature's bundle as JSON, for `CTX_BUNDLE` (inputs not required here).
fn write_bundle(
    workspace: &Workspace,
    feature: &str,
    args: &GatesArgs,
    run_dir: &Path,
    printer: &Printer,
) -> Option<std::path::PathBuf> {
    let options = BundleOptions {
        feature: Some(feature.to_owned()),
        describe: None,
        domain: Vec::new(),
        service: Vec::new(),
        agent: None,
        budget: None,
        tokenizer: None,
        set: args.set.clone(),
        today: args.today.clone(),
        no_cache: false,
    };
    let path = run_dir.join("bundle.json");
    let written =
        commands::bundle::make_with(workspace, &options, None, false).and_then(|bundle| {
            output::write_atomic_with(&path, |out| crate::bundle::render::json(&bundle, out))
                .map_err(|error| Error::Bundle {
                    message: format!("cannot write `{}`: {error}", path.display()),
                    help: None,
                })
        });
    match written {
        Ok(()) => Some(path),
        Err(error) => {
            printer.status(&format!("warning: gates run without `CTX_BUNDLE`: {error}"));
            None
        }
    }
}

/// `20261121T012700Z-3fa9c1`: sortable, unique per run.
fn run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = now.as_secs();
    let date =
        crate::date::Date::from_days_since_epoch(i64::try_from(seconds / 86_400).unwrap_or(0));
    let of_day = seconds % 86_400;
    format!(
        "{}T{:02}{:02}{:02}Z-{}",
        date.to_string().replace('-', ""),
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        run::random_hex(6, "run")
    )
}

/// Progress and results on stderr.
struct Terminal<'p> {
    printer: &'p Printer,
    github: bool,
    bars: Option<Bars>,
    last_heartbeat: Instant,
}

struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    running: HashMap<String, ProgressBar>,
}

impl<'p> Terminal<'p> {
    fn new(printer: &'p Printer, github: bool, total: usize) -> Self {
        let bars = (printer.progress() && !github).then(|| {
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
        Self {
            printer,
            github,
            bars,
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

    fn close(&mut self) {
        if let Some(bars) = self.bars.take() {
            bars.overall.finish_and_clear();
            let _ = bars.multi.clear();
        }
    }
}

impl Observer for Terminal<'_> {
    fn started(&mut self, gate: &SelectedGate) {
        if let Some(bars) = &mut self.bars {
            let bar = bars.multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("  {spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(gate.id.clone());
            bars.running.insert(gate.id.clone(), bar);
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
        let failed = matches!(
            result.status,
            GateStatus::Fail | GateStatus::Timeout | GateStatus::Error
        );
        if self.github {
            self.printer.text(&report::github_gate(result));
            return;
        }
        let mut text = format!(
            "{:<11} {:>7.2}s  {}  [{done}/{total}]",
            result.status.as_str().to_uppercase(),
            result.duration.as_secs_f64(),
            result.gate.id
        );
        if failed {
            // The whole block at once, so parallel gates never interleave.
            let output = clean(&String::from_utf8_lossy(&result.output));
            text.push_str(&format!(
                "\n──── {} {}: {} ────\n$ {}\n{}{}──── end of {} (log: {}) ────",
                result.status.as_str(),
                result.gate.id,
                result.message,
                result.gate.run,
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

    fn tick(&mut self, running: &[(&str, Duration)], done: usize, total: usize) {
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

    fn interrupted(&mut self, signal: i32, second: bool) {
        let name = crate::process::signal_name(signal);
        if second {
            self.line(&format!(
                "received {name} again: killing every running gate now"
            ));
        } else {
            self.line(&format!(
                "received {name}: no new gates; running gates get SIGTERM, then SIGKILL after the grace period (Ctrl-C again to kill now)"
            ));
        }
    }
}
