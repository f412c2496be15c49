//! `ctx gates`: select, run, report.

use std::path::Path;

use crate::cli::{GatesArgs, GithubMode};
use crate::commands;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::gates::events::FanOut;
use crate::gates::report::{FileReporter, Files, Terminal};
use crate::gates::run::{Control, Interrupter};
use crate::output::Printer;
use crate::session::{GatesRequest, RunOptions};

pub fn run(root: Option<&Path>, args: &GatesArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let mut session = commands::open(root, args.today, false, printer)?;
    let plan = session.gates_plan(&GatesRequest {
        feature: args.feature.clone(),
        domains: args.domain.clone(),
        services: args.service.clone(),
        all: args.all,
        changed: args.changed.then(|| args.base.clone()),
    })?;
    if let Some(changed) = &plan.changed {
        printer.note(&format!("{} changed files", changed.len()));
    }
    if args.dry_run {
        commands::print_data(printer, &crate::gates::report::dry_run(&plan.gates))?;
        return Ok(ExitStatus::Success);
    }
    if plan.gates.is_empty() {
        printer.status("no gates selected; nothing to run");
        return Ok(ExitStatus::Success);
    }
    let prepared = session.prepare_run(
        plan.gates,
        &RunOptions {
            jobs: args.jobs,
            timeout: args.timeout,
            fail_fast: args.fail_fast,
            feature: args.feature.clone(),
            inputs: args.set.clone(),
        },
    )?;
    if let Some(warning) = &prepared.bundle_warning {
        printer.status(&format!("warning: {warning}"));
    }
    let github = match args.github {
        GithubMode::On => true,
        GithubMode::Off => false,
        GithubMode::Auto => std::env::var("GITHUB_ACTIONS").is_ok_and(|value| value == "true"),
    };
    let mut terminal = Terminal::new(printer, github);
    let mut files = FileReporter::new(
        Files {
            json: args.json.clone(),
            junit: args.junit.clone(),
            step_summary: github
                .then(|| std::env::var_os("GITHUB_STEP_SUMMARY").map(Into::into))
                .flatten(),
        },
        printer,
    );
    let control = Control::new();
    let signals = forward_signals(control.interrupter());
    let outcome = session.run_gates(
        &prepared.plan,
        control,
        &mut FanOut::new().with(&mut terminal).with(&mut files),
    );
    // The handlers are the run's: after it, signals have their default effect again.
    if let Some(handle) = signals {
        handle.close();
    }
    Ok(ExitStatus::of_run(outcome.verdict(), files.all_written()))
}

/// SIGINT, SIGTERM and SIGHUP, forwarded to the run for as long as it lasts.
fn forward_signals(interrupter: Interrupter) -> Option<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]).ok()?;
    let handle = signals.handle();
    std::thread::spawn(move || {
        for number in signals.forever() {
            let Ok(signal) = nix::sys::signal::Signal::try_from(number) else {
                continue;
            };
            if !interrupter.interrupt(signal) {
                break;
            }
        }
    });
    Some(handle)
}
