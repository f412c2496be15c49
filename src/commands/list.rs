//! `ctx list`: what the workspace declares, as a table or `ctx.list/v1` JSON.

use std::path::Path;

use serde::Serialize;

use crate::cli::{ListArgs, ListKind, ReportFormat};
use crate::commands;
use crate::config::workspace::{GateItem, ItemKey, Items, Origin, Workspace};
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::output::Printer;

/// One row of any listing: the JSON form, also rendered as a table.
#[derive(Debug, Serialize)]
struct Row {
    name: String,
    #[serde(flatten)]
    fields: serde_json::Map<String, serde_json::Value>,
    origin: Origin,
}

#[derive(Debug, Serialize)]
struct Listing {
    schema: &'static str,
    kind: &'static str,
    items: Vec<Row>,
}

pub fn run(root: Option<&Path>, args: &ListArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let validation = commands::open_valid(root, commands::today(None)?, printer)?;
    let workspace = &validation.workspace;
    let (kind, columns, rows) = match args.kind {
        ListKind::Domains => (
            "domains",
            &["owners", "keywords", "paths", "items"][..],
            domains(workspace),
        ),
        ListKind::Services => (
            "services",
            &["domain", "depends_on", "paths", "items"][..],
            services(workspace),
        ),
        ListKind::Features => (
            "features",
            &["domains", "services", "phases", "inputs"][..],
            features(workspace),
        ),
        ListKind::Agents => (
            "agents",
            &["topics", "sections", "budget"][..],
            agents(workspace),
        ),
        ListKind::Gates => (
            "gates",
            &["run", "overrides", "timeout", "blocking"][..],
            gates(workspace),
        ),
    };
    let text = match args.format {
        ReportFormat::Json => {
            let listing = Listing {
                schema: "ctx.list/v1",
                kind,
                items: rows,
            };
            commands::print_json(printer, &listing, "the listing")?;
            String::new()
        }
        ReportFormat::Text if rows.is_empty() => {
            printer.status(&format!("no {kind} declared"));
            String::new()
        }
        ReportFormat::Text => table(kind, columns, &rows),
    };
    printer.data(&text).map_err(|source| Error::Output {
        what: String::from("stdout"),
        source,
    })?;
    Ok(ExitStatus::Success)
}

fn row(name: impl Into<String>, origin: &Origin, fields: Vec<(&str, serde_json::Value)>) -> Row {
    Row {
        name: name.into(),
        fields: fields
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect(),
        origin: origin.clone(),
    }
}

fn strings<T: ToString>(values: &[T]) -> serde_json::Value {
    serde_json::Value::from(values.iter().map(ToString::to_string).collect::<Vec<_>>())
}

fn item_counts(items: &Items) -> serde_json::Value {
    serde_json::json!({
        "patterns": items.patterns.len(),
        "constraints": items.constraints.len(),
        "quality_gates": items.quality_gates.len(),
        "examples": items.examples.len(),
    })
}

fn domains(workspace: &Workspace) -> Vec<Row> {
    workspace
        .domains
        .iter()
        .map(|domain| {
            row(
                domain.name.as_str(),
                &domain.origin,
                vec![
                    ("owners", strings(&domain.owners)),
                    ("keywords", strings(&domain.keywords)),
                    ("paths", strings(&domain.paths)),
                    ("items", item_counts(&domain.items)),
                ],
            )
        })
        .collect()
}

fn services(workspace: &Workspace) -> Vec<Row> {
    workspace
        .services
        .iter()
        .map(|service| {
            let mut items = item_counts(&service.items);
            items["shared_patterns"] = service.shared_patterns.len().into();
            items["integration_patterns"] = service.integration_patterns.len().into();
            row(
                service.name.as_str(),
                &service.origin,
                vec![
                    (
                        "domain",
                        service
                            .domain
                            .as_ref()
                            .map_or(serde_json::Value::Null, |name| name.to_string().into()),
                    ),
                    ("depends_on", strings(&service.depends_on)),
                    ("paths", strings(&service.paths)),
                    ("items", items),
                ],
            )
        })
        .collect()
}

fn features(workspace: &Workspace) -> Vec<Row> {
    workspace
        .features
        .iter()
        .map(|feature| {
            let phases: Vec<&str> = feature
                .phases
                .iter()
                .map(|phase| phase.name.as_str())
                .collect();
            let inputs: Vec<&str> = feature
                .inputs
                .iter()
                .map(|input| input.key.as_str())
                .collect();
            row(
                feature.name.as_str(),
                &feature.origin,
                vec![
                    ("domains", strings(&feature.domains)),
                    ("services", strings(&feature.services)),
                    ("phases", strings(&phases)),
                    ("inputs", strings(&inputs)),
                ],
            )
        })
        .collect()
}

fn agents(workspace: &Workspace) -> Vec<Row> {
    workspace
        .agents
        .iter()
        .map(|agent| {
            let sections = agent
                .sections
                .as_ref()
                .map_or(serde_json::Value::Null, |sections| {
                    serde_json::to_value(sections).unwrap_or(serde_json::Value::Null)
                });
            row(
                agent.name.as_str(),
                &agent.origin,
                vec![
                    ("topics", strings(&agent.topics)),
                    ("sections", sections),
                    (
                        "budget",
                        agent
                            .budget
                            .map_or(serde_json::Value::Null, serde_json::Value::from),
                    ),
                ],
            )
        })
        .collect()
}

fn gates(workspace: &Workspace) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut add = |layer: String, gates: &[GateItem]| {
        for gate in gates {
            rows.push(row(
                format!("{layer}/{}", gate.meta.key),
                &gate.meta.origin,
                vec![
                    (
                        "run",
                        gate.run
                            .clone()
                            .map_or(serde_json::Value::Null, serde_json::Value::from),
                    ),
                    (
                        "overrides",
                        match &gate.meta.key {
                            ItemKey::Qualified { layer, key } => format!("{layer}/{key}").into(),
                            ItemKey::Plain(_) => serde_json::Value::Null,
                        },
                    ),
                    (
                        "timeout",
                        gate.timeout.map_or(serde_json::Value::Null, |timeout| {
                            humantime::format_duration(timeout).to_string().into()
                        }),
                    ),
                    ("blocking", gate.blocking.unwrap_or(true).into()),
                ],
            ));
        }
    };
    if let Some(org) = &workspace.org {
        add(format!("org:{}", org.name), &org.items.quality_gates);
    }
    for domain in &workspace.domains {
        add(
            format!("domain:{}", domain.name),
            &domain.items.quality_gates,
        );
    }
    for service in &workspace.services {
        add(
            format!("service:{}", service.name),
            &service.items.quality_gates,
        );
    }
    for feature in &workspace.features {
        add(
            format!("feature:{}", feature.name),
            &feature.items.quality_gates,
        );
    }
    rows
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
