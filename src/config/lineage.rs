//! Override checks at validation time (SPEC §3 rules 2, 3, 5 and 6).
//!
//! A plain key overrides the same `(section, key)` in the layers of its lineage (domain
//! over org; strategy over org, its domains and smaller strategies within its domain set;
//! service over org and its own domain; feature over org). A qualified key
//! `<layer>/<key>` (services and features) must name a layer of the lineage and a key
//! that layer has. A `final` item may be neither overridden nor disabled. An item
//! without content (no `path`, `text` or `run`) must override something.
//!
//! The layers and lineages come from [`crate::resolve::lineage`], the one layer order
//! that bundles and gate selection use too. This module only decides whether the
//! configuration is valid; merging is [`crate::resolve::merge`]'s job.

use super::diagnostic::{Location, Problem};
use super::suggest;
use super::workspace::{
    ConstraintItem, GateItem, ItemKey, ItemMeta, Items, LayerKind, PatternItem, Section, Workspace,
};
use crate::resolve::lineage::{self, LayerPlan, Scope};

/// One item as seen by the checks.
#[derive(Clone, Copy)]
struct Entry<'w> {
    section: Section,
    meta: &'w ItemMeta,
    /// Has its own content (`path`, `text` or `run`).
    complete: bool,
}

/// A layer's items, by name.
#[derive(Clone)]
struct Layer<'w> {
    kind: LayerKind,
    name: &'w str,
    entries: Vec<Entry<'w>>,
}

/// The entries of a layer's patterns, constraints and gates, in that order.
fn entries_of<'w>(
    patterns: impl Iterator<Item = &'w PatternItem>,
    constraints: impl Iterator<Item = &'w ConstraintItem>,
    gates: impl Iterator<Item = &'w GateItem>,
) -> Vec<Entry<'w>> {
    let patterns = patterns.map(|item| Entry {
        section: Section::Patterns,
        meta: &item.meta,
        complete: item.path.is_some(),
    });
    let constraints = constraints.map(|item| Entry {
        section: Section::Constraints,
        meta: &item.meta,
        complete: item.text.is_some(),
    });
    let gates = gates.map(|item| Entry {
        section: Section::QualityGates,
        meta: &item.meta,
        complete: item.run.is_some(),
    });
    patterns.chain(constraints).chain(gates).collect()
}

fn entries(items: &Items) -> Vec<Entry<'_>> {
    entries_of(
        items.patterns.iter(),
        items.constraints.iter(),
        items.quality_gates.iter(),
    )
}

/// A planned layer as the checks see it.
fn layer<'w>(plan: &LayerPlan<'w>, workspace: &'w Workspace) -> Layer<'w> {
    Layer {
        kind: plan.id.kind,
        name: name_in(workspace, plan),
        entries: entries_of(
            plan.patterns.iter().map(|planned| planned.item),
            plan.constraints.iter().copied(),
            plan.gates.iter().copied(),
        ),
    }
}

/// The layer's name, borrowed from the workspace (plans own theirs).
fn name_in<'w>(workspace: &'w Workspace, plan: &LayerPlan<'w>) -> &'w str {
    let name: &str = &plan.id.name;
    let found = match plan.id.kind {
        LayerKind::Org => workspace.org.as_ref().map(|org| org.name.as_str()),
        LayerKind::Domain => workspace.domain(name).map(|domain| domain.name.as_str()),
        LayerKind::Integration | LayerKind::Service => {
            workspace.service(name).map(|service| service.name.as_str())
        }
        LayerKind::Feature => workspace.feature(name).map(|feature| feature.name.as_str()),
        LayerKind::Strategy => workspace
            .strategy(name)
            .map(|strategy| strategy.name.as_str()),
        LayerKind::Execution => None,
    };
    found.unwrap_or_default()
}

/// The layers of a one-document scope, in the one layer order, split into the
/// document's own layer (the last) and, for its plain keys, the layers of its lineage,
/// and for qualified keys every layer before it.
fn lineage_of<'w>(workspace: &'w Workspace, scope: &Scope<'w>) -> (Vec<Layer<'w>>, Vec<Layer<'w>>) {
    let plans = lineage::for_scope(workspace, scope);
    let Some((own, before)) = plans.split_last() else {
        return (Vec::new(), Vec::new());
    };
    let plain = own
        .lineage
        .iter()
        .map(|&index| layer(&plans[index], workspace))
        .collect();
    let qualified = before.iter().map(|plan| layer(plan, workspace)).collect();
    (plain, qualified)
}

/// Run every override check on the workspace.
pub fn check(
    workspace: &Workspace,
    broken: &[super::load::Broken],
    at: &dyn Fn(&super::workspace::Origin) -> Location,
    problems: &mut Vec<Problem>,
) {
    let mut checker = Checker {
        at,
        problems,
        broken,
    };
    if let Some(org) = &workspace.org {
        checker.document(&entries(&org.items), &[], &[]);
    }
    for domain in &workspace.domains {
        let scope = Scope {
            domains: vec![domain],
            ..Scope::default()
        };
        let (plain, _) = lineage_of(workspace, &scope);
        checker.document(&entries(&domain.items), &plain, &[]);
    }
    for service in &workspace.services {
        let scope = Scope {
            services: vec![service],
            ..Scope::default()
        };
        let (plain, _) = lineage_of(workspace, &scope);
        checker.document(&entries(&service.items), &plain, &plain);
    }
    for strategy in &workspace.strategies {
        let mut scope = Scope::default();
        for name in &strategy.domains {
            scope.add_domain(workspace.domain(name.as_str()));
        }
        // Its own layer among the strategies its domains take (not always the last).
        let plans = lineage::for_scope(workspace, &scope);
        let plain = plans
            .iter()
            .find(|plan| {
                plan.id.kind == LayerKind::Strategy && *plan.id.name == *strategy.name.as_str()
            })
            .map(|own| {
                own.lineage
                    .iter()
                    .map(|&index| layer(&plans[index], workspace))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        checker.document(&entries(&strategy.items), &plain, &[]);
    }
    for feature in &workspace.features {
        let scope = Scope::of_feature(workspace, feature);
        let (plain, qualified) = lineage_of(workspace, &scope);
        checker.document(&entries(&feature.items), &plain, &qualified);
    }
}

struct Checker<'a> {
    at: &'a dyn Fn(&super::workspace::Origin) -> Location,
    problems: &'a mut Vec<Problem>,
    /// Documents that could not be read: a layer named after one is not reported.
    broken: &'a [super::load::Broken],
}

impl Checker<'_> {
    /// Check one document's items against its plain and qualified lineage.
    fn document(&mut self, items: &[Entry<'_>], plain: &[Layer<'_>], qualified: &[Layer<'_>]) {
        for entry in items {
            let overridden: Vec<(&Layer<'_>, Entry<'_>)> = match &entry.meta.key {
                ItemKey::Plain(key) => plain
                    .iter()
                    .flat_map(|layer| find(layer, entry.section, key).map(|found| (layer, found)))
                    .collect(),
                ItemKey::Qualified { layer, key } => {
                    let named: Vec<&Layer<'_>> = qualified
                        .iter()
                        .filter(|candidate| candidate.name == layer)
                        .collect();
                    if named.is_empty()
                        && self.broken.iter().any(|broken| {
                            ["domain", "service", "org"]
                                .iter()
                                .any(|kind| broken.could_be(kind, layer))
                        })
                    {
                        continue;
                    }
                    if named.is_empty() {
                        let mut names: Vec<String> = Vec::new();
                        for candidate in qualified {
                            if !names.iter().any(|name| name == candidate.name) {
                                names.push(candidate.name.to_owned());
                            }
                        }
                        let problem = Problem::error(
                            "config::qualified-layer",
                            (self.at)(&entry.meta.origin),
                            format!("`{}` names layer `{layer}`, which is not in this document's lineage", entry.meta.key),
                        )
                        .label("unknown layer");
                        self.problems.push(suggest::with_did_you_mean(
                            problem,
                            layer,
                            &names,
                            "layers it can address",
                        ));
                        continue;
                    }
                    let found: Vec<(&Layer<'_>, Entry<'_>)> = named
                        .iter()
                        .flat_map(|layer| {
                            find(layer, entry.section, key).map(|found| (*layer, found))
                        })
                        .collect();
                    if found.is_empty() {
                        let mut keys: Vec<String> = named
                            .iter()
                            .flat_map(|layer| layer.entries.iter())
                            .filter(|candidate| candidate.section == entry.section)
                            .map(|candidate| candidate.meta.key.key().to_owned())
                            .collect();
                        keys.sort();
                        keys.dedup();
                        let problem = Problem::error(
                            "config::qualified-key",
                            (self.at)(&entry.meta.origin),
                            format!(
                                "layer `{layer}` has no {} item `{key}`",
                                entry.section.as_str()
                            ),
                        )
                        .label("unknown key");
                        self.problems.push(suggest::with_did_you_mean(
                            problem,
                            key,
                            &keys,
                            &format!("{} of `{layer}`", entry.section.as_str()),
                        ));
                        continue;
                    }
                    found
                }
            };
            for (layer, target) in &overridden {
                if target.meta.is_final {
                    let action = if entry.meta.enabled == Some(false) {
                        "disables"
                    } else {
                        "overrides"
                    };
                    self.problems.push(
                        Problem::error(
                            "config::final",
                            (self.at)(&entry.meta.origin),
                            format!(
                                "`{}.{}` {action} a `final` item of {} `{}`",
                                entry.section.as_str(),
                                entry.meta.key,
                                layer.kind.describe(),
                                layer.name
                            ),
                        )
                        .label(format!("{action} a final item"))
                        .related((self.at)(&target.meta.origin), "declared `final: true` here")
                        .help("a `final` item cannot be overridden or disabled; remove this item, or rename it to add a separate rule"),
                    );
                }
            }
            if overridden.is_empty() && !entry.complete {
                let field = match entry.section {
                    Section::Patterns => "path",
                    Section::Constraints => "text",
                    Section::QualityGates | Section::Examples => "run",
                };
                let what = if entry.meta.enabled == Some(false) {
                    "disables"
                } else {
                    "changes"
                };
                self.problems.push(
                    Problem::error(
                        "config::override-nothing",
                        (self.at)(&entry.meta.origin),
                        format!(
                            "`{}.{}` has no `{field}` and {what} no inherited item",
                            entry.section.as_str(),
                            entry.meta.key
                        ),
                    )
                    .help(format!(
                        "add `{field}:`, or name an inherited item (a plain key from the lineage, or `<layer>/<key>` in a service or feature)"
                    )),
                );
            }
        }
    }
}

fn find<'w>(layer: &Layer<'w>, section: Section, key: &str) -> Option<Entry<'w>> {
    layer
        .entries
        .iter()
        .find(|candidate| {
            candidate.section == section
                && matches!(&candidate.meta.key, ItemKey::Plain(plain) if plain == key)
        })
        .copied()
}
