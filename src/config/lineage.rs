//! Override checks at validation time (SPEC §3 rules 2, 3, 5 and 6).
//!
//! A plain key overrides the same `(section, key)` in the layers of its lineage (domain
//! over org; service over org and its own domain; feature over org). A qualified key
//! `<layer>/<key>` (services and features) must name a layer of the lineage and a key
//! that layer has. A `final` item may be neither overridden nor disabled. An item
//! without content (no `path`, `text` or `run`) must override something.
//!
//! This module only decides whether the configuration is valid; computing merged
//! bundles is the bundle stage's job.

use super::diagnostic::{Location, Problem};
use super::suggest;
use super::workspace::{Domain, ItemKey, ItemMeta, Items, LayerKind, Section, Service, Workspace};
use rustc_hash::FxHashMap as HashMap;

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

fn entries(items: &Items) -> Vec<Entry<'_>> {
    let patterns = items.patterns.iter().map(|item| Entry {
        section: Section::Patterns,
        meta: &item.meta,
        complete: item.path.is_some(),
    });
    let constraints = items.constraints.iter().map(|item| Entry {
        section: Section::Constraints,
        meta: &item.meta,
        complete: item.text.is_some(),
    });
    let gates = items.quality_gates.iter().map(|item| Entry {
        section: Section::QualityGates,
        meta: &item.meta,
        complete: item.run.is_some(),
    });
    patterns.chain(constraints).chain(gates).collect()
}

/// Domains and services by name (the workspace's own lookups scan its lists, and every
/// feature and service looks up several).
struct Names<'w> {
    domains: HashMap<&'w str, &'w Domain>,
    services: HashMap<&'w str, &'w Service>,
}

impl<'w> Names<'w> {
    fn of(workspace: &'w Workspace) -> Self {
        // The first declaration wins, as in `Workspace::domain` and `Workspace::service`.
        let mut domains = HashMap::default();
        for domain in &workspace.domains {
            domains.entry(domain.name.as_str()).or_insert(domain);
        }
        let mut services = HashMap::default();
        for service in &workspace.services {
            services.entry(service.name.as_str()).or_insert(service);
        }
        Self { domains, services }
    }
}

fn integration_layer<'w>(names: &Names<'w>, service: &'w Service) -> Layer<'w> {
    let shared = service
        .depends_on
        .iter()
        .filter_map(|name| names.services.get(name.as_str()).copied())
        .flat_map(|dependency| dependency.shared_patterns.iter());
    Layer {
        kind: LayerKind::Integration,
        name: service.name.as_str(),
        entries: service
            .integration_patterns
            .iter()
            .chain(shared)
            .map(|item| Entry {
                section: Section::Patterns,
                meta: &item.meta,
                complete: item.path.is_some(),
            })
            .collect(),
    }
}

/// Run every override check on the workspace.
pub fn check(
    workspace: &Workspace,
    at: &dyn Fn(&super::workspace::Origin) -> Location,
    problems: &mut Vec<Problem>,
) {
    let org = workspace.org.as_ref().map(|org| Layer {
        kind: LayerKind::Org,
        name: org.name.as_str(),
        entries: entries(&org.items),
    });
    let names = Names::of(workspace);
    let domain_layer = |name: &str| {
        names.domains.get(name).map(|domain| Layer {
            kind: LayerKind::Domain,
            name: domain.name.as_str(),
            entries: entries(&domain.items),
        })
    };
    let mut checker = Checker { at, problems };
    if let Some(layer) = &org {
        checker.document(&layer.entries, &[], &[]);
    }
    for domain in &workspace.domains {
        checker.document(&entries(&domain.items), org.as_slice(), &[]);
    }
    for service in &workspace.services {
        let mut lineage: Vec<Layer<'_>> = Vec::new();
        lineage.extend(org.iter().cloned());
        if let Some(domain) = service
            .domain
            .as_ref()
            .and_then(|name| domain_layer(name.as_str()))
        {
            lineage.push(domain);
        }
        checker.document(&entries(&service.items), &lineage, &lineage);
    }
    for feature in &workspace.features {
        let mut lineage: Vec<Layer<'_>> = Vec::new();
        lineage.extend(org.iter().cloned());
        let services: Vec<&Service> = feature
            .services
            .iter()
            .filter_map(|name| names.services.get(name.as_str()).copied())
            .collect();
        let mut domain_names: Vec<&str> =
            feature.domains.iter().map(|name| name.as_str()).collect();
        for service in &services {
            if let Some(domain) = &service.domain
                && !domain_names.contains(&domain.as_str())
            {
                domain_names.push(domain.as_str());
            }
        }
        lineage.extend(domain_names.iter().filter_map(|name| domain_layer(name)));
        for service in &services {
            lineage.push(integration_layer(&names, service));
            lineage.push(Layer {
                kind: LayerKind::Service,
                name: service.name.as_str(),
                entries: entries(&service.items),
            });
        }
        let plain: Vec<Layer<'_>> = org.iter().cloned().collect();
        checker.document(&entries(&feature.items), &plain, &lineage);
    }
}

struct Checker<'a> {
    at: &'a dyn Fn(&super::workspace::Origin) -> Location,
    problems: &'a mut Vec<Problem>,
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
                    if named.is_empty() {
                        let mut names: Vec<String> = qualified
                            .iter()
                            .map(|candidate| candidate.name.to_owned())
                            .collect();
                        names.dedup();
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
