//! Merging: the only place that decides which items a bundle has and what they say.
//!
//! The rules (SPEC §3), applied layer by layer from least to most specific:
//!
//! 1. An item's identity is `(section, key)` inside the layer that declares it
//!    (sections: patterns, constraints, quality_gates, examples). Each item is shown under
//!    its layer.
//! 2. Plain keys override along the lineage only: a domain item replaces the org item
//!    with the same section and key; a strategy item replaces the same key from the org,
//!    from its own domains and from a strategy applied before it whose domain set is a
//!    strict subset of its own; a service item replaces the same key from the org
//!    and from its own domain; a feature item replaces the same key from the org.
//!    Unrelated layers never override each other. The replaced item stays, with status
//!    `overridden`.
//! 3. A qualified key `<layer>/<key>` changes or removes the item of that one layer
//!    in place (the item stays in its layer; the change is recorded in `changed_by`).
//! 4. An overriding item is merged field by field over the overridden one: fields it
//!    does not set are inherited (`{ timeout: 30s }` keeps the gate's `run`). Every
//!    overridden origin is recorded in `overrides`.
//! 5. `enabled: false` removes an inherited item: it stays listed with status `disabled`.
//! 6. `final` items are never overridden or disabled (validation refuses such configs,
//!    so merging never sees one).
//! 7. Expired items (`expires` before today) are dropped: listed with status `expired`,
//!    and they override nothing.
//! 8. Two dependencies publishing the same shared pattern key with the same path and
//!    lines appear once (`also_from` names the others); with different content, both
//!    appear, each under its origin service.
//! 9. Order is deterministic: layers in bundle order, and within a layer patterns,
//!    constraints, gates, examples, each in file order.

use std::time::Duration;

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::lineage::LayerPlan;
use crate::config::workspace::{GateInputs, ItemKey, ItemMeta, LineRange, Origin, Section};
use crate::date::Date;
use crate::ids::{ItemId, LayerId};

/// Why an item is, or is not, in the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Included,
    OmittedBudget,
    OmittedBinary,
    OmittedSize,
    /// The file vanished or could not be read while the bundle was built.
    OmittedUnreadable,
    Expired,
    Disabled,
    Overridden,
    FilteredAgent,
    /// A domain pattern no phase names, in a feature that takes only named ones.
    FilteredFeature,
    /// An extension not run: extensions run only when allowed (`--extensions`).
    Skipped,
    /// An extension that failed or timed out: the reason is its note.
    OmittedError,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Included => "included",
            Self::OmittedBudget => "omitted-budget",
            Self::OmittedBinary => "omitted-binary",
            Self::OmittedSize => "omitted-size",
            Self::OmittedUnreadable => "omitted-unreadable",
            Self::Expired => "expired",
            Self::Disabled => "disabled",
            Self::Overridden => "overridden",
            Self::FilteredAgent => "filtered-agent",
            Self::FilteredFeature => "filtered-feature",
            Self::Skipped => "skipped",
            Self::OmittedError => "omitted-error",
        }
    }
}

/// What an item says, by section. Every field is optional so that overrides can be
/// merged field by field (rule 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Pattern {
        path: Option<String>,
        lines: Option<LineRange>,
        why: Option<String>,
    },
    Constraint {
        text: Option<String>,
    },
    Gate {
        run: Option<String>,
        timeout: Option<Duration>,
        cwd: Option<String>,
        env: Vec<(String, String)>,
        blocking: Option<bool>,
        inputs: Option<GateInputs>,
        group: Option<String>,
        retries: Option<u32>,
    },
    Example {
        path: String,
    },
}

impl Payload {
    /// Rule 4: fields set in `over` replace those of `self`.
    fn overlay(&mut self, over: &Self) {
        fn take<T: Clone>(into: &mut Option<T>, from: &Option<T>) {
            if from.is_some() {
                into.clone_from(from);
            }
        }
        match (self, over) {
            (
                Self::Pattern { path, lines, why },
                Self::Pattern {
                    path: new_path,
                    lines: new_lines,
                    why: new_why,
                },
            ) => {
                // A new path without lines is a new file, not an excerpt of it.
                if new_path.is_some() {
                    *lines = None;
                }
                take(path, new_path);
                take(lines, new_lines);
                take(why, new_why);
            }
            (Self::Constraint { text }, Self::Constraint { text: new_text }) => {
                take(text, new_text)
            }
            (
                Self::Gate {
                    run,
                    timeout,
                    cwd,
                    env,
                    blocking,
                    inputs,
                    group,
                    retries,
                },
                Self::Gate {
                    run: new_run,
                    timeout: new_timeout,
                    cwd: new_cwd,
                    env: new_env,
                    blocking: new_blocking,
                    inputs: new_inputs,
                    group: new_group,
                    retries: new_retries,
                },
            ) => {
                take(retries, new_retries);
                take(inputs, new_inputs);
                take(group, new_group);
                take(run, new_run);
                take(timeout, new_timeout);
                take(cwd, new_cwd);
                take(blocking, new_blocking);
                for (name, value) in new_env {
                    match env.iter_mut().find(|(existing, _)| existing == name) {
                        Some(entry) => entry.1.clone_from(value),
                        None => env.push((name.clone(), value.clone())),
                    }
                }
            }
            _ => {}
        }
    }
}

/// One item after merging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedItem {
    /// Index into [`Merged::layers`].
    pub layer: usize,
    pub section: Section,
    pub key: String,
    /// For shared patterns in an integration layer: the service that publishes it.
    pub from_service: Option<String>,
    pub origin: Origin,
    pub status: Status,
    pub overrides: Vec<Origin>,
    pub overridden_by: Vec<Origin>,
    pub changed_by: Vec<Origin>,
    /// Where the text of a constraint changed in place comes from (the last change that
    /// set one), so the text is never shown with the origin of the text it replaced.
    pub text_from: Option<Origin>,
    pub also_from: Vec<String>,
    pub topics: Vec<String>,
    pub audience: Vec<String>,
    pub expires: Option<Date>,
    pub payload: Payload,
}

impl MergedItem {
    /// Stable id: `domain:payment/patterns/payment_flow` (`@service` for shared patterns).
    pub fn id(&self, layers: &[LayerId]) -> ItemId {
        let mut id = ItemId::new(layers[self.layer].clone(), self.section, self.key.clone());
        id.from_service.clone_from(&self.from_service);
        id
    }
}

/// The merged layers and items of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub layers: Vec<LayerId>,
    pub items: Vec<MergedItem>,
}

/// An item as declared, before merging.
struct Incoming<'a> {
    section: Section,
    meta: Option<&'a ItemMeta>,
    key: ItemKey,
    origin: Origin,
    from_service: Option<&'a str>,
    payload: Payload,
}

impl<'a> Incoming<'a> {
    /// A declared item: its key and origin are its metadata's.
    fn declared(
        section: Section,
        meta: &'a ItemMeta,
        from_service: Option<&'a str>,
        payload: Payload,
    ) -> Self {
        Self {
            section,
            meta: Some(meta),
            key: meta.key.clone(),
            origin: meta.origin.clone(),
            from_service,
            payload,
        }
    }
}

fn incoming<'a>(layer: &'a LayerPlan<'_>) -> Vec<Incoming<'a>> {
    let patterns = layer.patterns.iter().map(|planned| {
        let item = planned.item;
        let payload = Payload::Pattern {
            path: item.path.clone(),
            lines: item.lines,
            why: item.why.clone(),
        };
        Incoming::declared(Section::Patterns, &item.meta, planned.from_service, payload)
    });
    let constraints = layer.constraints.iter().map(|item| {
        let payload = Payload::Constraint {
            text: item.text.clone(),
        };
        Incoming::declared(Section::Constraints, &item.meta, None, payload)
    });
    let gates = layer.gates.iter().map(|item| {
        let payload = Payload::Gate {
            run: item.run.clone(),
            timeout: item.timeout,
            cwd: item.cwd.clone(),
            env: item.env.clone(),
            blocking: item.blocking,
            inputs: item.inputs.clone(),
            group: item.group.clone(),
            retries: item.retries,
        };
        Incoming::declared(Section::QualityGates, &item.meta, None, payload)
    });
    let examples = layer.examples.iter().map(|item| Incoming {
        section: Section::Examples,
        meta: None,
        key: ItemKey::Plain(item.path.clone()),
        origin: item.origin.clone(),
        from_service: None,
        payload: Payload::Example {
            path: item.path.clone(),
        },
    });
    patterns
        .chain(constraints)
        .chain(gates)
        .chain(examples)
        .collect()
}

/// Append `item`, indexing its position by key.
fn push(items: &mut Vec<MergedItem>, by_key: &mut FxHashMap<String, Vec<usize>>, item: MergedItem) {
    by_key
        .entry(item.key.clone())
        .or_default()
        .push(items.len());
    items.push(item);
}

/// Merge the layers of a bundle (the rules in the module docs).
pub fn merge(layers: &[LayerPlan<'_>], today: Date) -> Merged {
    let ids: Vec<LayerId> = layers.iter().map(|layer| layer.id.clone()).collect();
    let mut items: Vec<MergedItem> = Vec::new();
    // Every rule looks for items with the incoming key: their positions in `items`, in
    // order, by key (so merging stays linear in the number of items).
    let mut by_key: FxHashMap<String, Vec<usize>> = FxHashMap::default();
    for (index, layer) in layers.iter().enumerate() {
        for incoming in incoming(layer) {
            let meta = incoming.meta;
            let expires = meta.and_then(|meta| meta.expires);
            let disables = meta.and_then(|meta| meta.enabled) == Some(false);
            let fresh = |status: Status, payload: Payload, overrides: Vec<Origin>| MergedItem {
                layer: index,
                section: incoming.section,
                key: incoming.key.key().to_owned(),
                from_service: incoming.from_service.map(str::to_owned),
                origin: incoming.origin.clone(),
                status,
                overrides,
                overridden_by: Vec::new(),
                changed_by: Vec::new(),
                text_from: None,
                also_from: Vec::new(),
                topics: meta
                    .map(|meta| meta.topics.iter().map(ToString::to_string).collect())
                    .unwrap_or_default(),
                audience: meta
                    .map(|meta| meta.audience.iter().map(ToString::to_string).collect())
                    .unwrap_or_default(),
                expires,
                payload,
            };
            // Rule 7: an expired item is listed and does nothing else.
            if expires.is_some_and(|date| date < today) {
                push(
                    &mut items,
                    &mut by_key,
                    fresh(Status::Expired, incoming.payload.clone(), Vec::new()),
                );
                continue;
            }
            let same_key = |key: &str| by_key.get(key).cloned().unwrap_or_default();
            let live =
                |item: &MergedItem| !matches!(item.status, Status::Expired | Status::Disabled);
            match &incoming.key {
                ItemKey::Qualified {
                    layer: target_layer,
                    key,
                } => {
                    // Rule 3: change or remove one layer's item in place.
                    for position in same_key(key) {
                        let target = &mut items[position];
                        if !(*ids[target.layer].name == **target_layer
                            && target.section == incoming.section
                            && target.status != Status::Expired)
                        {
                            continue;
                        }
                        if disables {
                            target.status = Status::Disabled;
                            target.overridden_by.push(incoming.origin.clone());
                        } else {
                            target.payload.overlay(&incoming.payload);
                            target.changed_by.push(incoming.origin.clone());
                            if let Payload::Constraint { text: Some(_) } = &incoming.payload {
                                target.text_from = Some(incoming.origin.clone());
                            }
                        }
                    }
                }
                ItemKey::Plain(key) => {
                    // Rule 8: the same shared pattern from two dependencies appears once.
                    let same_key = same_key(key);
                    if let Some(publisher) = incoming.from_service
                        && let Some(&twin) = same_key.iter().find(|&&position| {
                            let item = &items[position];
                            item.layer == index
                                && item.section == incoming.section
                                && item.from_service.is_some()
                                && item.payload == incoming.payload
                        })
                    {
                        items[twin].also_from.push(publisher.to_owned());
                        continue;
                    }
                    // Rule 2: plain keys override the same key along the lineage only.
                    let targets: Vec<usize> = same_key
                        .into_iter()
                        .filter(|&position| {
                            let item = &items[position];
                            layer.lineage.contains(&item.layer)
                                && item.section == incoming.section
                                && live(item)
                        })
                        .collect();
                    if disables {
                        // Rule 5.
                        for &position in &targets {
                            items[position].status = Status::Disabled;
                            items[position].overridden_by.push(incoming.origin.clone());
                        }
                        continue;
                    }
                    let Some(&base) = targets.last() else {
                        push(
                            &mut items,
                            &mut by_key,
                            fresh(Status::Included, incoming.payload.clone(), Vec::new()),
                        );
                        continue;
                    };
                    // Rule 4: merge field by field over the most specific overridden item.
                    let mut payload = items[base].payload.clone();
                    payload.overlay(&incoming.payload);
                    let mut overrides = Vec::new();
                    for &position in &targets {
                        let target = &mut items[position];
                        target.status = Status::Overridden;
                        target.overridden_by.push(incoming.origin.clone());
                        overrides.push(target.origin.clone());
                        overrides.extend(target.overrides.iter().cloned());
                    }
                    overrides.sort();
                    overrides.dedup();
                    push(
                        &mut items,
                        &mut by_key,
                        fresh(Status::Included, payload, overrides),
                    );
                }
            }
        }
    }
    Merged { layers: ids, items }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
