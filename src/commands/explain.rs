//! `ctx explain`: how a feature's bundle is made, layer by layer and item by item.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::bundle::merge::Status;
use crate::bundle::model::{Bundle, ItemJson, LayerJson, OriginJson};
use crate::cli::{ExplainArgs, ReportFormat};
use crate::commands;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::output::Printer;

/// `ctx.explain/v1`.
#[derive(Debug, Serialize)]
struct Explanation<'a> {
    schema: &'static str,
    feature: Option<&'a str>,
    tokens: &'a crate::bundle::model::TokensJson,
    digest: &'a str,
    layers: Vec<LayerExplanation<'a>>,
    notes: &'a [String],
    secrets: &'a [crate::bundle::model::SecretJson],
}

#[derive(Debug, Serialize)]
struct LayerExplanation<'a> {
    #[serde(flatten)]
    layer: &'a LayerJson,
    items: Vec<ItemExplanation<'a>>,
}

/// An item without its content, with the reason it is (not) in the bundle.
#[derive(Debug, Serialize)]
struct ItemExplanation<'a> {
    id: &'a str,
    section: crate::config::workspace::Section,
    key: &'a str,
    path: Option<&'a str>,
    origin: &'a OriginJson,
    status: Status,
    reason: String,
    tokens: usize,
    overrides: &'a [OriginJson],
    overridden_by: &'a [OriginJson],
    changed_by: &'a [OriginJson],
}

pub fn run(
    root: Option<&Path>,
    args: &ExplainArgs,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    let validation = commands::open_valid(
        root,
        commands::today(args.options.today.as_deref())?,
        printer,
    )?;
    let bundle = commands::bundle::make(&validation.workspace, &args.options, None)?;
    let explanation = explain(&bundle);
    match args.format {
        ReportFormat::Json => commands::print_json(printer, &explanation, "the explanation")?,
        ReportFormat::Text => {
            printer
                .data(&text(&explanation))
                .map_err(|source| Error::Output {
                    what: String::from("stdout"),
                    source,
                })?
        }
    }
    Ok(ExitStatus::Success)
}

fn explain(bundle: &Bundle) -> Explanation<'_> {
    let layers = bundle
        .layers
        .iter()
        .map(|layer| LayerExplanation {
            layer,
            items: bundle
                .items
                .iter()
                .filter(|item| item.layer.kind == layer.kind && item.layer.name == layer.name)
                .map(|item| ItemExplanation {
                    id: &item.id,
                    section: item.section,
                    key: &item.key,
                    path: item.path.as_deref(),
                    origin: &item.origin,
                    status: item.status,
                    reason: reason(item),
                    tokens: item.tokens,
                    overrides: &item.overrides,
                    overridden_by: &item.overridden_by,
                    changed_by: &item.changed_by,
                })
                .collect(),
        })
        .collect();
    Explanation {
        schema: "ctx.explain/v1",
        feature: bundle.feature.as_deref(),
        tokens: &bundle.tokens,
        digest: &bundle.digest,
        layers,
        notes: &bundle.notes,
        secrets: &bundle.secrets,
    }
}

fn origins(list: &[OriginJson]) -> String {
    list.iter()
        .map(|origin| format!("{}:{}", origin.file, origin.line))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why an item has its status, in words.
fn reason(item: &ItemJson) -> String {
    let mut parts = Vec::new();
    match item.status {
        Status::Included => {}
        Status::OmittedBudget => parts.push(String::from("content shed to fit the token budget")),
        Status::OmittedBinary | Status::OmittedSize | Status::OmittedUnreadable => {
            parts.push(item.note.clone().unwrap_or_default());
        }
        Status::Expired => parts.push(format!(
            "expired on {}",
            item.expires.as_deref().unwrap_or("?")
        )),
        Status::Disabled => parts.push(format!(
            "disabled (`enabled: false`) by {}",
            origins(&item.overridden_by)
        )),
        Status::Overridden => parts.push(format!("overridden by {}", origins(&item.overridden_by))),
        Status::FilteredAgent => parts.push(String::from("not for this agent")),
    }
    if !item.overrides.is_empty() {
        parts.push(format!("overrides {}", origins(&item.overrides)));
    }
    if !item.changed_by.is_empty() {
        parts.push(format!("changed by {}", origins(&item.changed_by)));
    }
    if let Some(service) = &item.from_service {
        parts.push(format!("shared by `{service}`"));
    }
    parts.join("; ")
}

fn text(explanation: &Explanation<'_>) -> String {
    let mut out = String::new();
    let tokens = explanation.tokens;
    let budget = if tokens.budget > 0 {
        format!(" of a {} budget", tokens.budget)
    } else {
        String::from(", no budget")
    };
    let _ = writeln!(
        out,
        "bundle `{}`: {} layers, {} tokens{budget} ({})",
        explanation.feature.unwrap_or("-"),
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
            let what = match item.path {
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
    for secret in explanation.secrets {
        let _ = writeln!(
            out,
            "\nsecret redacted: {}:{} (rule `{}`) in `{}`",
            secret.path, secret.line, secret.rule, secret.item
        );
    }
    for note in explanation.notes {
        let _ = writeln!(out, "\nnote: {note}");
    }
    out
}
