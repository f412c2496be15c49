//! `ctx record`, `ctx insights`, `ctx stats`, `ctx store`: the outcome store's commands.

use std::path::Path;

use crate::cli::{
    InsightsArgs, OutcomeArg, RecordArgs, ReportFormat, StatsArgs, StoreAction, StoreArgs,
};
use crate::commands;
use crate::config::workspace::Workspace;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::output::Printer;
use crate::store::{self, Location, Store, StoreError};

fn open(workspace: &Workspace) -> Result<(Store, Location), Error> {
    let location = Location::resolve(&workspace.root, workspace.settings.store_url.as_deref());
    match Store::open(&location) {
        Ok(store) => Ok((store, location)),
        Err(error) => Err(failed(&error, &location)),
    }
}

fn failed(error: &StoreError, location: &Location) -> Error {
    Error::Usage {
        message: error.to_string(),
        help: Some(error.help(location)),
    }
}

pub fn record(
    root: Option<&Path>,
    args: &RecordArgs,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    let session = commands::open(root, None, false, printer)?;
    let workspace = session.workspace();
    let id = store::workspace_id(workspace);
    let (mut store, location) = open(workspace)?;
    let run = if args.run == "latest" {
        store
            .latest_run(&id, args.feature.as_deref())
            .map_err(|error| failed(&error, &location))?
            .ok_or_else(|| Error::Usage {
                message: format!(
                    "no recorded run{} in `{}`",
                    args.feature
                        .as_deref()
                        .map(|feature| format!(" of feature `{feature}`"))
                        .unwrap_or_default(),
                    location.describe()
                ),
                help: Some(String::from(
                    "run `ctx gates <feature>` first: every run is recorded",
                )),
            })?
    } else {
        args.run.clone()
    };
    let outcome = match args.outcome {
        OutcomeArg::Success => "success",
        OutcomeArg::Failure => "failure",
    };
    let found = store
        .set_outcome(&id, &run, outcome, args.note.as_deref())
        .map_err(|error| failed(&error, &location))?;
    if !found {
        return Err(Error::Usage {
            message: format!("no run `{run}` in `{}`", location.describe()),
            help: Some(String::from(
                "use `--run latest`, or a run id from `ctx gates` (`run <id>` on its first line)",
            )),
        });
    }
    printer.status(&format!("recorded {outcome} for run {run}"));
    Ok(ExitStatus::Success)
}

pub fn insights(
    root: Option<&Path>,
    args: &InsightsArgs,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    let session = commands::open(root, None, false, printer)?;
    let workspace = session.workspace();
    let id = store::workspace_id(workspace);
    let (mut store, location) = open(workspace)?;
    let mut insights = store::insights::analyse(
        &mut store,
        &id,
        args.feature.as_deref(),
        args.last,
        args.min_runs,
    )
    .map_err(|error| failed(&error, &location))?;
    if args.propose && insights.needs_runs == 0 {
        store::insights::propose(&mut insights);
        let inbox = crate::state::State::of(&workspace.root).inbox();
        let today = crate::date::Date::today_utc().to_string();
        let snapshot = insights.clone();
        for (index, proposal) in insights.proposals.iter_mut().enumerate() {
            if !proposal.kept {
                continue;
            }
            let slug: String = proposal
                .item
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            let path = inbox.join(format!("{:02}-{}-{slug}.yaml", index + 1, proposal.kind));
            std::fs::create_dir_all(&inbox)
                .and_then(|()| {
                    crate::output::write_atomic(
                        &path,
                        store::insights::patch_text(proposal, &snapshot, &today).as_bytes(),
                    )
                })
                .map_err(|source| Error::Output {
                    what: format!("`{}`", path.display()),
                    source,
                })?;
            proposal.file = Some(crate::paths::relative_display(&workspace.root, &path));
        }
    }
    match args.format {
        ReportFormat::Json => commands::print_json(printer, &insights, "the insights")?,
        ReportFormat::Text => commands::print_data(printer, &text(&insights))?,
    }
    Ok(ExitStatus::Success)
}

fn percent(rate: f64) -> String {
    format!("{:.0} %", rate * 100.0)
}

fn text(insights: &store::insights::Insights) -> String {
    let mut out = format!(
        "{} runs{}: {} successes, {} failures\n",
        insights.runs,
        insights
            .feature
            .as_deref()
            .map(|feature| format!(" of `{feature}`"))
            .unwrap_or_default(),
        insights.successes,
        insights.failures
    );
    if insights.needs_runs > 0 {
        out.push_str(&format!(
            "needs {} more run(s) before it says anything (`--min-runs` to change)\n",
            insights.needs_runs
        ));
        return out;
    }
    if insights.successes == 0 || insights.failures == 0 {
        out.push_str(
            "every analysed run had the same outcome: nothing separates success from failure yet\n",
        );
    }
    for (title, list) in [
        (
            "goes with success (in >= 70 % of successes)",
            &insights.with_success,
        ),
        (
            "missing from failures (absent from >= 60 % of failures)",
            &insights.missing_from_failures,
        ),
        (
            "present in failures (in >= 50 % of failures)",
            &insights.present_in_failures,
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{title}:\n"));
        for id in list {
            if let Some(item) = insights.items.iter().find(|item| &item.id == id) {
                out.push_str(&format!(
                    "  {id}: in {} of {} successes ({}), {} of {} failures ({})\n",
                    item.in_successes,
                    insights.successes,
                    percent(item.success_rate),
                    item.in_failures,
                    insights.failures,
                    percent(item.failure_rate)
                ));
            }
        }
    }
    if !insights.flaky_gates.is_empty() {
        out.push_str("\nflaky gates:\n");
        for gate in &insights.flaky_gates {
            out.push_str(&format!(
                "  {}: passed after a retry in {} run(s); passed and failed on {} commit(s)\n",
                gate.id, gate.flaky_runs, gate.mixed_commits
            ));
        }
    }
    if !insights.proposals.is_empty() {
        out.push_str("\nproposals (tested against history; kept above 80 %):\n");
        for proposal in &insights.proposals {
            out.push_str(&format!(
                "  {} {}{}\n",
                if proposal.kept {
                    "kept    "
                } else {
                    "rejected"
                },
                proposal.summary,
                proposal
                    .file
                    .as_deref()
                    .map(|file| format!(" -> {file}"))
                    .unwrap_or_default()
            ));
        }
    }
    out
}

pub fn stats(
    root: Option<&Path>,
    args: &StatsArgs,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    let session = commands::open(root, None, false, printer)?;
    let workspace = session.workspace();
    let (mut store, location) = open(workspace)?;
    let stats = store::insights::stats(&mut store, &store::workspace_id(workspace))
        .map_err(|error| failed(&error, &location))?;
    match args.format {
        ReportFormat::Json => commands::print_json(printer, &stats, "the stats")?,
        ReportFormat::Text => {
            let mut out = format!("{} runs\n\nFEATURE  RUNS  PASS RATE\n", stats["runs"]);
            for feature in stats["features"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "{}  {}  {}\n",
                    feature["feature"].as_str().unwrap_or("-"),
                    feature["runs"],
                    percent(feature["pass_rate"].as_f64().unwrap_or(0.0))
                ));
            }
            out.push_str("\nGATE  RUNS  PASS RATE  FLAKY  P50  P90\n");
            for gate in stats["gates"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "{}  {}  {}  {}  {} ms  {} ms\n",
                    gate["gate"].as_str().unwrap_or("-"),
                    gate["runs"],
                    percent(gate["pass_rate"].as_f64().unwrap_or(0.0)),
                    gate["flaky"],
                    gate["p50_ms"],
                    gate["p90_ms"]
                ));
            }
            commands::print_data(printer, &out)?;
        }
    }
    Ok(ExitStatus::Success)
}

pub fn store(
    root: Option<&Path>,
    args: &StoreArgs,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    let session = commands::open(root, None, false, printer)?;
    let workspace = session.workspace();
    let (mut store, location) = open(workspace)?;
    match args.action {
        StoreAction::Sync => {
            let sent = store::deliver_spooled(
                &mut store,
                &crate::state::State::of(&workspace.root).spool(),
            );
            printer.status(&format!(
                "{sent} spooled run record(s) delivered to `{}`",
                location.describe()
            ));
        }
        StoreAction::Prune => {
            let keep = args.older_than.or(workspace.settings.store_keep).ok_or_else(|| Error::Usage {
                message: String::from("no age given to prune at"),
                help: Some(String::from("pass `--older-than 90d`, or set `keep = \"90d\"` under `[store]` in `ctx.toml`")),
            })?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_millis());
            let before = i64::try_from(now.saturating_sub(keep.as_millis())).unwrap_or(0);
            let removed = store
                .prune(&store::workspace_id(workspace), before)
                .map_err(|error| failed(&error, &location))?;
            printer.status(&format!(
                "pruned {removed} run(s) older than {}",
                humantime::format_duration(keep)
            ));
        }
    }
    Ok(ExitStatus::Success)
}
