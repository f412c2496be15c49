//! One module per subcommand: each takes its parsed arguments and the [`Printer`],
//! and returns the [`ExitStatus`] or an [`Error`].
//!
//! [`Printer`]: crate::output::Printer
//! [`ExitStatus`]: crate::exit::ExitStatus
//! [`Error`]: crate::error::Error

pub mod bundle;
pub mod explain;
pub mod gates;
pub mod list;
pub mod schema;
pub mod validate;

use std::path::Path;

use crate::config::suggest;
use crate::config::workspace::{Agent, Domain, Service, Workspace};
use crate::config::{self, validate::Validation};
use crate::date::Date;
use crate::error::Error;
use crate::output::Printer;

/// Print `value` as pretty JSON (one document, newline-terminated) on stdout.
pub fn print_json(
    printer: &Printer,
    value: &impl serde::Serialize,
    what: &str,
) -> Result<(), Error> {
    let json = serde_json::to_string_pretty(value).map_err(|error| Error::Output {
        what: what.to_owned(),
        source: error.into(),
    })?;
    printer
        .data(&format!("{json}\n"))
        .map_err(|source| Error::Output {
            what: String::from("stdout"),
            source,
        })
}

/// Parse `--today` / `CTX_TODAY`, defaulting to today's UTC date.
pub fn today(pinned: Option<&str>) -> Result<Date, Error> {
    match pinned {
        None => Ok(Date::today_utc()),
        Some(text) => Date::parse(text.trim()).ok_or_else(|| Error::Usage {
            message: format!("`--today {text}` is not a date"),
            help: Some(String::from(
                "write it as YYYY-MM-DD (also accepted from `CTX_TODAY`)",
            )),
        }),
    }
}

/// Load and validate the workspace; configuration errors stop the command.
/// Warnings are printed here.
pub fn open_valid(
    root: Option<&Path>,
    today: Date,
    printer: &Printer,
) -> Result<Validation, Error> {
    let validation = config::open(root, today).map_err(Error::Config)?;
    if validation.has_errors() {
        return Err(Error::Config(validation.problems));
    }
    for warning in &validation.problems {
        printer.diagnostic(&format!("{}\n", warning.render(printer.color())), false);
    }
    Ok(validation)
}

/// A usage error for a name nothing declares, with `did you mean` and the known names.
pub fn unknown(kind: &str, name: &str, known: &[String]) -> Error {
    let near = suggest::closest(name, known.iter().map(String::as_str));
    let hint = near
        .first()
        .map(|best| format!("did you mean `{best}`? "))
        .unwrap_or_default();
    Error::Usage {
        message: format!("no {kind} named `{name}`"),
        help: Some(format!("{hint}declared {kind}s: {}", suggest::list(known))),
    }
}

pub fn find_domain<'w>(workspace: &'w Workspace, name: &str) -> Result<&'w Domain, Error> {
    workspace.domain(name).ok_or_else(|| {
        let known: Vec<String> = workspace
            .domains
            .iter()
            .map(|domain| domain.name.to_string())
            .collect();
        unknown("domain", name, &known)
    })
}

pub fn find_service<'w>(workspace: &'w Workspace, name: &str) -> Result<&'w Service, Error> {
    workspace.service(name).ok_or_else(|| {
        let known: Vec<String> = workspace
            .services
            .iter()
            .map(|service| service.name.to_string())
            .collect();
        unknown("service", name, &known)
    })
}

pub fn find_agent<'w>(workspace: &'w Workspace, name: &str) -> Result<&'w Agent, Error> {
    workspace
        .agents
        .iter()
        .find(|agent| agent.name.as_str() == name)
        .ok_or_else(|| {
            let known: Vec<String> = workspace
                .agents
                .iter()
                .map(|agent| agent.name.to_string())
                .collect();
            unknown("agent", name, &known)
        })
}
