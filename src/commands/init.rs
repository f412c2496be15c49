//! `ctx init`: detect, write, validate, and say what to review.

use std::path::{Path, PathBuf};

use crate::cli::InitArgs;
use crate::date::Date;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::init;
use crate::output::Printer;

pub fn run(root: Option<&Path>, args: &InitArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let root: PathBuf = match root {
        Some(root) => root.to_path_buf(),
        None => std::env::current_dir().map_err(|source| Error::Output {
            what: String::from("the current folder"),
            source,
        })?,
    };
    let found = init::detect(&root, args.import);
    let files = init::render(&root, &found);
    init::write(&root, &files)?;
    let mut report = format!(
        "found {}: {} package(s)\n",
        found.layout,
        found.packages.len()
    );
    for package in &found.packages {
        report.push_str(&format!(
            "  service `{}` in `{}`{}{}\n",
            package.name,
            package.folder,
            if package.depends_on.is_empty() {
                String::new()
            } else {
                format!(", depends on {}", package.depends_on.join(", "))
            },
            package
                .test
                .as_ref()
                .map(|test| format!(", gate `{test}`"))
                .unwrap_or_default()
        ));
    }
    if args.import {
        report.push_str(&format!(
            "imported {} org constraint(s) and {} path-scoped domain(s)\n",
            found.org.len(),
            found.domains.len()
        ));
    }
    report.push_str("wrote ");
    report.push_str(
        &files
            .iter()
            .map(|(path, _)| format!("`{path}`"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    report.push('\n');
    for item in &found.review {
        report.push_str(&format!("review: {item}\n"));
    }
    printer.diagnostic(&report, false);
    let validation =
        crate::session::validate(Some(&root), Date::today_utc()).map_err(Error::Config)?;
    if validation.has_errors() {
        return Err(Error::Config(validation.problems));
    }
    printer.status(
        "ok: the configuration validates; next: `ctx gates --all --dry-run`, then `ctx export`",
    );
    Ok(ExitStatus::Success)
}
