//! `ctx list`: what the workspace declares, as a table or `ctx.list/v1` JSON.

use std::path::Path;

use crate::cli::{ListArgs, ListKind, ReportFormat};
use crate::commands;
use crate::date::Date;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::listing::{ListingKind, Row};
use crate::output::Printer;
use crate::session;

pub fn run(root: Option<&Path>, args: &ListArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let kind = match args.kind {
        ListKind::Domains => ListingKind::Domains,
        ListKind::Services => ListingKind::Services,
        ListKind::Features => ListingKind::Features,
        ListKind::Strategies => ListingKind::Strategies,
        ListKind::Agents => ListingKind::Agents,
        ListKind::Gates => ListingKind::Gates,
    };
    // A document with an error does not hide the others: they are listed, the problems
    // printed, and the exit code says the configuration has errors.
    let (listing, problems) =
        session::partial_listing(root, Date::today_utc(), kind).map_err(Error::Config)?;
    for problem in &problems {
        printer.diagnostic(
            &format!("{}\n", problem.render(printer.color())),
            problem.is_error(),
        );
    }
    let errors = problems.iter().filter(|problem| problem.is_error()).count();
    match args.format {
        ReportFormat::Json => commands::print_json(printer, &listing, "the listing")?,
        ReportFormat::Text if listing.items.is_empty() => {
            printer.status(&format!("no {} declared", listing.kind));
        }
        ReportFormat::Text => commands::print_data(
            printer,
            &crate::output::printable(&table(listing.kind, listing.columns, &listing.items)),
        )?,
    }
    if errors > 0 {
        printer.error(&format!(
            "configuration has {errors} error{}; listed what could be read",
            if errors == 1 { "" } else { "s" }
        ));
    }
    Ok(ExitStatus::of_problems(errors > 0))
}

/// A plain aligned table: NAME, the columns, ORIGIN.
fn table(kind: &str, columns: &[&str], rows: &[Row]) -> String {
    let cell = |value: Option<&serde_json::Value>| -> String {
        match value {
            None | Some(serde_json::Value::Null) => String::from("-"),
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(serde_json::Value::Array(values)) if values.is_empty() => String::from("-"),
            Some(serde_json::Value::Array(values)) => values
                .iter()
                .map(|value| {
                    value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned)
                })
                .collect::<Vec<_>>()
                .join(", "),
            Some(serde_json::Value::Object(counts)) => counts
                .iter()
                .filter(|(_, count)| count.as_u64().is_some_and(|count| count > 0))
                .map(|(name, count)| {
                    let name = name.replace('_', " ");
                    match count.as_u64() {
                        Some(1) => format!("1 {}", name.trim_end_matches('s')),
                        _ => format!("{count} {name}"),
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
            Some(other) => other.to_string(),
        }
    };
    let name_header = if kind == "gates" { "GATE" } else { "NAME" };
    let mut lines: Vec<Vec<String>> = vec![
        std::iter::once(name_header.to_owned())
            .chain(
                columns
                    .iter()
                    .map(|column| column.replace('_', " ").to_uppercase()),
            )
            .chain(std::iter::once(String::from("ORIGIN")))
            .collect(),
    ];
    for row in rows {
        lines.push(
            std::iter::once(row.name.clone())
                .chain(columns.iter().map(|column| cell(row.fields.get(*column))))
                .chain(std::iter::once(format!(
                    "{}:{}",
                    row.origin.file, row.origin.line
                )))
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|index| {
            lines
                .iter()
                .map(|line| line[index].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &lines {
        let last = line.len() - 1;
        for (index, value) in line.iter().enumerate() {
            out.push_str(value);
            if index < last {
                out.push_str(&" ".repeat(widths[index] - value.chars().count() + 2));
            }
        }
        out.push('\n');
    }
    out
}
