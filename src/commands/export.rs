//! `ctx export`: write (or check) the files assistants read.

use std::path::Path;

use crate::cli::ExportArgs;
use crate::commands;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::export::{self, Change, Target, hooks};
use crate::output::Printer;

pub fn run(root: Option<&Path>, args: &ExportArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let session = commands::open(root, args.today, false, printer)?;
    let workspace = session.workspace();
    if args.session_context {
        return session_context(&session, printer);
    }
    let names: Vec<String> = if args.targets.is_empty() {
        workspace.settings.export_targets.clone()
    } else {
        args.targets.clone()
    };
    if names.is_empty() {
        return Err(Error::Usage {
            message: String::from("no export target named, and `ctx.toml` sets none"),
            help: Some(format!(
                "name targets (`ctx export agents-md claude`), or add to `ctx.toml`:\n\n    [export]\n    targets = [{}]\n\ntargets: {}",
                "\"agents-md\", \"claude\", \"cursor\"",
                Target::ALL.map(Target::as_str).join(", ")
            )),
        });
    }
    let mut targets: Vec<Target> = Vec::new();
    for name in &names {
        let target: Target = name.parse().map_err(|message| Error::Usage {
            message,
            help: None,
        })?;
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    targets.sort();
    let today = session.today();
    let (files, redacted) = export::generate(&session, &targets, today)?;
    for secret in &redacted {
        printer.status(&format!(
            "warning: secret redacted from an exported file: {secret}"
        ));
    }
    let root = workspace.root.clone();
    let planned = export::plan(&root, &files, &targets);
    if args.check {
        return check(&planned, printer);
    }
    let mut report = String::new();
    for item in &planned {
        if item.change != Change::Unchanged || args.dry_run {
            report.push_str(&format!(
                "{:<10} {}{}\n",
                item.change.as_str(),
                item.path,
                item.text
                    .as_ref()
                    .map(|text| format!(" ({} bytes)", text.len()))
                    .unwrap_or_default()
            ));
        }
    }
    if args.dry_run {
        commands::print_data(printer, &report)?;
        printer.status("dry run: nothing written");
        return Ok(ExitStatus::Success);
    }
    export::apply(&root, &planned, args.force)?;
    let changed = planned
        .iter()
        .filter(|item| item.change != Change::Unchanged)
        .count();
    printer.diagnostic(&report, false);
    printer.status(&format!(
        "exported {} ({} files, {changed} changed)",
        targets
            .iter()
            .map(|target| target.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        files.len()
    ));
    if args.hooks {
        if !targets.contains(&Target::Claude) {
            return Err(Error::Usage {
                message: String::from(
                    "`--hooks` writes Claude Code hooks: export the `claude` target with it",
                ),
                help: Some(String::from("run `ctx export claude --hooks`")),
            });
        }
        let changed = hooks::claude_hooks(&root)?;
        printer.status(&format!(
            "hooks in `.claude/settings.json`: {}",
            if changed { "merged" } else { "already there" }
        ));
    }
    if args.mcp {
        let changed = hooks::register_mcp(&root, &targets)?;
        printer.status(&if changed.is_empty() {
            String::from("`ctx mcp` already registered")
        } else {
            format!("`ctx mcp` registered in {}", changed.join(", "))
        });
    }
    Ok(ExitStatus::Success)
}

/// `--check`: every generated file as it should be, or exit 1 with what is not.
fn check(planned: &[export::Planned], printer: &Printer) -> Result<ExitStatus, Error> {
    let mut problems = String::new();
    for item in planned {
        let what = match item.change {
            Change::Unchanged => continue,
            Change::Create => "missing",
            Change::Update => "stale",
            Change::Remove => "extra (no longer generated)",
            Change::Foreign => "exists without ctx's marker",
        };
        problems.push_str(&format!("{what}: {}\n", item.path));
        if let (Some(current), Some(wanted)) = (&item.current, &item.text) {
            problems.push_str(&export::short_diff(current, wanted, 3));
        }
    }
    if problems.is_empty() {
        printer.status(&format!("ok: {} exported files up to date", planned.len()));
        return Ok(ExitStatus::Success);
    }
    printer.diagnostic(&problems, true);
    printer.error("exported files are not up to date; run `ctx export` and commit the result");
    Ok(ExitStatus::of_check(false))
}

/// The SessionStart hook's answer: a short index of the context.
fn session_context(
    session: &crate::session::Session,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    let workspace = session.workspace();
    let mut index = String::from("ctx knows this repository's engineering context. Features:\n");
    for feature in &workspace.features {
        index.push_str(&format!(
            "- {}: {} (context: `ctx bundle {}`, checks: `ctx gates {}`)\n",
            feature.name,
            feature.description.as_deref().unwrap_or("-"),
            feature.name,
            feature.name
        ));
    }
    let answer = serde_json::json!({
        "hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": index}
    });
    commands::print_json(printer, &answer, "the hook's answer")?;
    Ok(ExitStatus::Success)
}
