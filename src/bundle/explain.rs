//! `ctx.explain/v1`: how a bundle was made, layer by layer and item by item, each item
//! with the reason for its status. Built from a [`Bundle`]; printed by `ctx explain` and
//! returned by the session API.

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
                    .filter(|item| item.layer.kind == layer.kind && item.layer.name == layer.name)
                    .map(|item| ItemExplanation {
                        id: item.id.clone(),
                        section: item.section,
                        key: item.key.clone(),
                        path: item.path.clone(),
                        origin: item.origin.clone(),
                        status: item.status,
                        reason: reason(item),
                        tokens: item.tokens,
                        overrides: item.overrides.clone(),
                        overridden_by: item.overridden_by.clone(),
                        changed_by: item.changed_by.clone(),
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
        Status::OmittedBinary | Status::OmittedSize | Status::OmittedUnreadable => {
            parts.push(item.note.clone().unwrap_or_default());
        }
        Status::Expired => parts.push(format!(
            "expired on {}",
            item.expires
                .map_or_else(|| String::from("?"), |date| date.to_string())
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
