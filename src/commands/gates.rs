//! `ctx gates`: select, run, report.

use std::path::Path;

use crate::cli::{GatesArgs, GithubMode};
use crate::commands;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::gates::events::FanOut;
use crate::gates::report::stream::Sink;
use crate::gates::report::{CacheRecorder, EventStream, FileReporter, Files, Handlers, Terminal};
use crate::gates::run::{Control, Interrupter};
use crate::output::{Destination, Printer};
use crate::session::{GatesRequest, RunOptions};
use crate::store::record::Recorder;

pub fn run(root: Option<&Path>, args: &GatesArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    if let Some(parts) = args.matrix {
        commands::print_json(
            printer,
            &crate::gates::partition::matrix(usize::from(parts)),
            "the matrix",
        )?;
        return Ok(ExitStatus::Success);
    }
    let mut session = commands::open(root, args.today, false, printer)?;
    if let Some(gate) = &args.why {
        return why(&session, args, gate, printer);
    }
    let mut plan = session.gates_plan(&GatesRequest {
        feature: args.feature.clone(),
        domains: args.domain.clone(),
        services: args.service.clone(),
        all: args.all,
        changed: args.changed.then(|| args.base.clone()),
    })?;
    if let Some(changed) = &plan.changed {
        printer.note(&format!("{} changed files", changed.len()));
    }
    if let Some(partition) = &args.partition {
        let selected = plan.gates.len();
        plan.gates = partition.apply(plan.gates);
        printer.status(&format!(
            "partition {partition}: {} of {selected} selected gates",
            plan.gates.len()
        ));
    }
    if args.dry_run {
        let mut text = crate::gates::report::dry_run(&plan.gates);
        if let Some(partition) = &args.partition {
            text.push_str(&format!("(part {partition} of the selection)\n"));
        }
        commands::print_data(printer, &text)?;
        return Ok(ExitStatus::Success);
    }
    if plan.gates.is_empty() {
        printer.status("no gates selected; nothing to run");
        return Ok(ExitStatus::Success);
    }
    let (json_report, junit_report, events_destination) = report_destinations(&session, args)?;
    let prepared = session.prepare_run(
        plan.gates,
        &RunOptions {
            jobs: args.jobs,
            timeout: args.timeout,
            fail_fast: args.fail_fast,
            feature: args.feature.clone(),
            inputs: args.set.clone(),
            rerun: args.rerun,
            retries: args.retries,
            max_fail: args
                .max_fail
                .map(|max| usize::try_from(max).unwrap_or(usize::MAX)),
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
    let workspace = session.workspace();
    let mut terminal = Terminal::new(printer, github);
    let mut recorder = CacheRecorder::new(session.gate_cache());
    let mut handlers = Handlers::new(
        workspace.settings.hooks.clone(),
        workspace.root.clone(),
        workspace.settings.hook_timeout,
        printer,
    );
    let mut events = events_stream(events_destination.as_ref(), printer)?;
    let mut files = FileReporter::new(
        Files {
            json: json_report,
            junit: junit_report,
            step_summary: github
                .then(|| std::env::var_os("GITHUB_STEP_SUMMARY").map(Into::into))
                .flatten(),
        },
        printer,
    );
    let control = Control::new();
    let signals = forward_signals(control.interrupter());
    let mut record = (!args.no_store).then(|| {
        Recorder::new(
            crate::store::workspace_id(workspace),
            workspace.root.clone(),
        )
    });
    let mut fan_out = FanOut::new()
        .with(&mut terminal)
        .with(&mut recorder)
        .with(&mut handlers)
        .with(&mut files);
    if let Some(events) = &mut events {
        fan_out = fan_out.with(events);
    }
    if let Some(record) = &mut record {
        fan_out = fan_out.with(record);
    }
    let outcome = session.run_gates(&prepared.plan, control, &mut fan_out);
    drop(fan_out);
    // The handlers are the run's: after it, signals have their default effect again.
    if let Some(handle) = signals {
        handle.close();
    }
    if let Some(run) = record.and_then(|record| record.finished) {
        let location = crate::store::Location::resolve(
            &workspace.root,
            workspace.settings.store_url.as_deref(),
        );
        match crate::store::deliver(&workspace.root, &location, &run) {
            Ok(spooled) if spooled > 0 => {
                printer.note(&format!("{spooled} spooled run record(s) delivered"))
            }
            Ok(_) => {}
            Err(warning) => printer.status(&format!(
                "warning: the outcome store could not record the run: {warning}"
            )),
        }
    }
    let written = files.all_written() && events.as_ref().is_none_or(EventStream::all_written);
    Ok(ExitStatus::of_run(outcome.verdict(), written))
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

/// `--why GATE`: whether its cached pass would be reused, and what changed since.
fn why(
    session: &crate::session::Session,
    args: &GatesArgs,
    gate: &str,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    let plan = session.gates_plan(&GatesRequest {
        feature: args.feature.clone(),
        domains: args.domain.clone(),
        services: args.service.clone(),
        all: args.all
            || (args.feature.is_none() && args.domain.is_empty() && args.service.is_empty()),
        changed: None,
    })?;
    let known: Vec<String> = plan
        .gates
        .iter()
        .map(|selected| selected.id.to_string())
        .collect();
    let Some(selected) = plan
        .gates
        .iter()
        .find(|selected| selected.id.to_string() == gate || selected.id.key == gate)
    else {
        return Err(crate::session::unknown("gate", gate, &known));
    };
    let text = match session.cache_why(selected) {
        crate::session::CacheWhy::NoInputs => format!(
            "{}: no `inputs`, so it always runs (declare `inputs:` to cache its passes)\n",
            selected.id
        ),
        crate::session::CacheWhy::NeverPassed => format!(
            "{}: no recorded pass with these inputs (it has not passed since its inputs were declared, or the entry was unusable)\n",
            selected.id
        ),
        crate::session::CacheWhy::Reused { run_id } => format!(
            "{}: cached: every input is as at the pass of run {run_id}; it will not run (`--rerun` runs it)\n",
            selected.id
        ),
        crate::session::CacheWhy::Changed { run_id, changes } => format!(
            "{}: will run: since the pass of run {run_id}, {}\n",
            selected.id,
            changes.join("; ")
        ),
    };
    commands::print_data(printer, &text)?;
    Ok(ExitStatus::Success)
}

/// The report files, checked before anything runs: never over one of the run's inputs,
/// never the same file twice; a FIFO or device is written through.
#[allow(clippy::type_complexity)]
fn report_destinations(
    session: &crate::session::Session,
    args: &GatesArgs,
) -> Result<
    (
        Option<Destination>,
        Option<Destination>,
        Option<Destination>,
    ),
    Error,
> {
    let inputs = session.inputs(None);
    let outputs: Vec<(&str, &std::path::PathBuf)> = [
        ("--json", &args.json),
        ("--junit", &args.junit),
        ("--events", &args.events),
    ]
    .into_iter()
    .filter_map(|(flag, path)| path.as_ref().map(|path| (flag, path)))
    .collect();
    for (index, (flag, path)) in outputs.iter().enumerate() {
        if let Some((other, _)) = outputs[..index].iter().find(|(_, earlier)| earlier == path) {
            return Err(Error::Usage {
                message: format!(
                    "`{other}` and `{flag}` name the same file `{}`",
                    path.display()
                ),
                help: Some(String::from("give each report a file of its own")),
            });
        }
    }
    let destination =
        |flag: &str, path: &Option<std::path::PathBuf>| -> Result<Option<Destination>, Error> {
            path.as_ref()
                .map(|path| {
                    crate::output::destination(path, &inputs).map_err(|refused| Error::Usage {
                        message: format!("`{flag}`: {refused}"),
                        help: Some(String::from("write the report somewhere else")),
                    })
                })
                .transpose()
        };
    let json_report = destination("--json", &args.json)?;
    let junit_report = destination("--junit", &args.junit)?;
    let events_destination = destination("--events", &args.events)?;
    Ok((json_report, junit_report, events_destination))
}

/// The `--events` stream, if asked for.
fn events_stream<'p>(
    destination: Option<&Destination>,
    printer: &'p Printer,
) -> Result<Option<EventStream<'p>>, Error> {
    Ok(match destination {
        None => None,
        Some(Destination::Stdout) => Some(EventStream::new(Sink::Stdout(printer))),
        Some(Destination::File(path) | Destination::Through(path)) => {
            let regular = !path.exists() || path.is_file();
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(regular)
                .truncate(regular)
                .open(path)
                .map_err(|source| Error::Output {
                    what: format!("`{}`", path.display()),
                    source,
                })?;
            Some(EventStream::new(Sink::File(file)))
        }
    })
}
