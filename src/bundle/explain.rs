//! `ctx.explain/v1`: how a bundle was made, layer by layer and item by item, each item
//! with the reason for its status. Built from a [`Bundle`]; printed by `ctx explain` and
//! returned by the session API.

use std::fmt::Write as _;

use serde::Serialize;

use super::model::{Bundle, ItemJson, LayerJson, OriginJson, SecretJson, TokensJson};
use crate::config::workspace::Section;
use crate::ids::ItemId;
use crate::resolve::merge::Status;

/// `ctx.explain/v1`.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub schema: &'static str,
    pub feature: Option<String>,
    pub tokens: TokensJson,
    pub digest: String,
    pub layers: Vec<LayerExplanation>,
    pub notes: Vec<String>,
    pub secrets: Vec<SecretJson>,
}

/// A layer with its items.
#[derive(Debug, Clone, Serialize)]
pub struct LayerExplanation {
    #[serde(flatten)]
    pub layer: LayerJson,
    pub items: Vec<ItemExplanation>,
}

/// An item without its content, with the reason it is (not) in the bundle.
#[derive(Debug, Clone, Serialize)]
pub struct ItemExplanation {
    pub id: ItemId,
    pub section: Section,
    pub key: String,
    pub path: Option<String>,
    pub origin: OriginJson,
    pub status: Status,
    pub reason: String,
    pub tokens: usize,
    pub overrides: Vec<OriginJson>,
    pub overridden_by: Vec<OriginJson>,
    pub changed_by: Vec<OriginJson>,
}

impl Explanation {
    /// The explanation of a built bundle.
    pub fn of(bundle: &Bundle) -> Self {
        let layers = bundle
            .layers
            .iter()
            .map(|layer| LayerExplanation {
                layer: layer.clone(),
                items: bundle
                    .items
                    .iter()
                    .filter(|item| {
                        item.layer().kind == layer.kind && *item.layer().name == *layer.name
                    })
                    .map(|item| ItemExplanation {
                        id: item.id.clone(),
                        section: item.section(),
                        key: item.key().to_owned(),
                        path: item.path().map(str::to_owned),
                        origin: item.origin.clone(),
                        status: item.status,
                        reason: reason(item),
                        tokens: item.tokens,
                        overrides: item.overrides.clone(),
                        overridden_by: item.rare().overridden_by.clone(),
                        changed_by: item.rare().changed_by.clone(),
                    })
                    .collect(),
            })
            .collect();
        Self {
            schema: "ctx.explain/v1",
            feature: bundle.feature.clone(),
            tokens: bundle.tokens.clone(),
            digest: bundle.digest.clone(),
            layers,
            notes: bundle.notes.clone(),
            secrets: bundle.secrets.clone(),
        }
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
        Status::OmittedBinary
        | Status::OmittedSize
        | Status::OmittedUnreadable
        | Status::Skipped
        | Status::OmittedError => {
            parts.push(item.rare().note.clone().unwrap_or_default());
        }
        Status::Expired => parts.push(format!(
            "expired on {}",
            item.rare()
                .expires
                .map_or_else(|| String::from("?"), |date| date.to_string())
        )),
        Status::Disabled => parts.push(format!(
            "disabled (`enabled: false`) by {}",
            origins(&item.rare().overridden_by)
        )),
        Status::Overridden => parts.push(format!("overridden by {}", origins(&item.rare().overridden_by))),
        Status::FilteredAgent => parts.push(String::from("not for this agent")),
        Status::FilteredFeature => parts.push(String::from(
            "no phase names it, and the feature takes only named domain patterns (`domain_patterns: named`)",
        )),
    }
    if !item.overrides.is_empty() {
        parts.push(format!("overrides {}", origins(&item.overrides)));
    }
    if !item.rare().changed_by.is_empty() {
        parts.push(format!("changed by {}", origins(&item.rare().changed_by)));
    }
    if let Some(service) = &item.rare().from_service {
        parts.push(format!("shared by `{service}`"));
    }
    if let Some(holder) = &item.rare().same_as {
        parts.push(format!("same content as `{holder}`, inlined there"));
    }
    parts.join("; ")
}

impl Explanation {
    /// The explanation as `ctx explain` prints it.
    pub fn to_text(&self) -> String {
        let explanation = self;
        let mut out = String::new();
        let tokens = &explanation.tokens;
        let budget = if tokens.budget > 0 {
            format!(
                " of {} budget",
                super::markdown::with_article(tokens.budget)
            )
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
            if let Some(why) = &layer.layer.why {
                let _ = writeln!(out, "  applies: {why}");
            }
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
}
