//! `ctx validate`: load everything, report every problem, exit 2 on any error.

use std::path::Path;

use crate::cli::{ReportFormat, ValidateArgs};
use crate::commands;
use crate::config::{self, diagnostic::DiagnosticsReport};
use crate::date::Date;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::output::Printer;
use crate::session;

pub fn run(
    root: Option<&Path>,
    args: &ValidateArgs,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    let today = args.today.unwrap_or_else(Date::today_utc);
    let problems = match session::validate_locked(root, today, args.locked) {
        Ok(validation) => {
            let counts = Counts::of(&validation.workspace);
            let problems = validation.problems;
            if args.format == ReportFormat::Text
                && !problems.iter().any(|problem| problem.is_error())
            {
                let settings = &validation.workspace.settings;
                printer.note(&format!(
                    "workspace root `{}`, settings from {}, config read from {}",
                    validation.workspace.root.display(),
                    settings.source.as_ref().map_or(
                        "defaults (no `ctx.toml`)".to_owned(),
                        |file| format!("`{}`", file.path)
                    ),
                    settings
                        .config
                        .iter()
                        .map(|path| format!("`{path}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ));
                for warning in &problems {
                    printer.diagnostic(&format!("{}\n", warning.render(printer.color())), false);
                }
                printer.status(&format!(
                    "ok: {} ({}){}",
                    counts,
                    validation.workspace.root.display(),
                    warnings_suffix(problems.len())
                ));
                // Nothing else needs the workspace: free it off the exit path.
                crate::parallel::drop_in_background(validation.workspace);
                return Ok(ExitStatus::Success);
            }
            problems
        }
        Err(problems) => problems,
    };
    let has_errors = problems.iter().any(|problem| problem.is_error());
    match args.format {
        ReportFormat::Json => {
            commands::print_json(
                printer,
                &DiagnosticsReport::new(&problems),
                "the diagnostics",
            )?;
            Ok(ExitStatus::of_problems(has_errors))
        }
        ReportFormat::Text => Err(Error::Config(problems)),
    }
}

fn warnings_suffix(count: usize) -> String {
    match count {
        0 => String::new(),
        1 => String::from(", 1 warning"),
        _ => format!(", {count} warnings"),
    }
}

/// "1 org, 6 domains, …" for the success line.
struct Counts {
    parts: Vec<String>,
}

impl Counts {
    fn of(workspace: &config::workspace::Workspace) -> Self {
        let plural = |count: usize, word: &str| {
            format!("{count} {word}{}", if count == 1 { "" } else { "s" })
        };
        let mut parts = vec![
            plural(usize::from(workspace.org.is_some()), "org"),
            plural(workspace.domains.len(), "domain"),
            plural(workspace.services.len(), "service"),
            plural(workspace.features.len(), "feature"),
        ];
        match workspace.strategies.len() {
            0 => {}
            1 => parts.push(String::from("1 strategy")),
            count => parts.push(format!("{count} strategies")),
        }
        parts.push(plural(workspace.agents.len(), "agent"));
        Self { parts }
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.parts.join(", "))
    }
}
