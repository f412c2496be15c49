//! `ctx explain`: how a feature's bundle is made, layer by layer and item by item.

use std::fmt::Write as _;
use std::path::Path;

use crate::bundle::explain::Explanation;
use crate::cli::{ExplainArgs, ReportFormat};
use crate::commands;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub fn run(
    root: Option<&Path>,
    args: &ExplainArgs,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    let mut session = commands::open(root, args.options.today, false, printer)?;
    let explanation = session.explain(&commands::bundle_request(&args.options))?;
    match args.format {
        ReportFormat::Json => commands::print_json(printer, &explanation, "the explanation")?,
        ReportFormat::Text => commands::print_data(printer, &text(&explanation))?,
    }
    Ok(ExitStatus::Success)
}

fn text(explanation: &Explanation) -> String {
    let mut out = String::new();
    let tokens = &explanation.tokens;
    let budget = if tokens.budget > 0 {
        format!(" of a {} budget", tokens.budget)
    } else {
        String::from(", no budget")
    };
    let _ = writeln!(
        out,
        "bundle `{}`: {} layers, {} tokens{budget} ({})",
        explanation.feature.as_deref().unwrap_or("-"),
        explanation.layers.len(),
        tokens.total,
        tokens.tokenizer
    );
    for layer in &explanation.layers {
        let _ = writeln!(
            out,
            "\n{} `{}` ({}:{}) · {} tokens",
            layer.layer.kind.as_str(),
            layer.layer.name,
            layer.layer.origin.file,
            layer.layer.origin.line,
            layer.layer.tokens
        );
        if layer.items.is_empty() {
            let _ = writeln!(out, "  (no items)");
        }
        for item in &layer.items {
            let what = match item.path.as_deref() {
                Some(path) if path != item.key => {
                    format!("{}/{} `{path}`", item.section.as_str(), item.key)
                }
                _ => format!("{}/{}", item.section.as_str(), item.key),
            };
            let _ = write!(
                out,
                "  {:<18} {what}  {}:{}  {} tokens",
                item.status.as_str(),
                item.origin.file,
                item.origin.line,
                item.tokens
            );
            if !item.reason.is_empty() {
                let _ = write!(out, "  ({})", item.reason);
            }
            out.push('\n');
        }
    }
    for secret in &explanation.secrets {
        let _ = writeln!(
            out,
            "\nsecret redacted: {}:{} (rule `{}`) in `{}`",
            secret.path, secret.line, secret.rule, secret.item
        );
    }
    for note in &explanation.notes {
        let _ = writeln!(out, "\nnote: {note}");
    }
    out
}
