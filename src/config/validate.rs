//! Validation: wire documents → a typed [`Workspace`], collecting every problem.
//!
//! Order of checks (all run; nothing stops at the first problem):
//! 1. each document has a known `kind`; names are well-formed and unique per kind
//!    (and across org, domain and service, since a name identifies a layer);
//! 2. fields, converted item by item (`convert.rs`): keys, `null` items, dates, `lines`,
//!    timeouts, paths on disk, `audience` agents;
//! 3. references: service `domain` and `depends_on`, feature `domains` and `services`,
//!    phase domains, pattern keys and gate names;
//! 4. `depends_on` cycles, printed with each edge's location;
//! 5. overrides along the lineage (SPEC §3 rules 2, 3, 5, 6): qualified keys name a layer
//!    of the lineage and a key it has; `final` items are never overridden; an item
//!    without content must override something;
//! 6. expiry: expired items and items expiring within 30 days are warnings.

use rustc_hash::FxHashMap as HashMap;
use std::path::Path;
use std::sync::Arc;

use super::convert::{self, Converter, KeyRule};
use super::diagnostic::{Location, Problem, SourceFile};
use super::load::{Loaded, locate};
use super::model::{self, Document, KINDS, Spanned};
use super::settings::Settings;
use super::suggest;
use super::workspace::{
    Agent, AgentName, AgentSection, ConstraintItem, Domain, DomainName, Feature, FeatureName,
    GateItem, Input, ItemMeta, Items, Org, OrgName, Origin, PatternItem, Phase, Section, Service,
    ServiceName, Topic, ValidationStep, Workspace,
};
use crate::date::Date;
use crate::paths;

/// Days ahead of `expires` that `ctx validate` starts warning.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// A workspace and every problem found while building it.
#[derive(Debug)]
pub struct Validation {
    pub workspace: Workspace,
    pub problems: Vec<Problem>,
}

impl Validation {
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(Problem::is_error)
    }
}

/// A document of one kind with its file.
struct Declared<'a, T> {
    file: &'a Arc<SourceFile>,
    wire: &'a T,
}

/// Validate everything that was loaded.
pub fn validate(
    root: &Path,
    settings: Settings,
    loaded: &Loaded,
    today: Date,
    resolver: Arc<paths::Resolver>,
) -> Validation {
    let mut problems = loaded.problems.clone();
    let mut orgs = Vec::new();
    let mut domains = Vec::new();
    let mut services = Vec::new();
    let mut features = Vec::new();
    let mut agents = Vec::new();
    for loaded_document in &loaded.documents {
        let file = &loaded_document.file;
        match &loaded_document.document {
            Document::Org(wire) => orgs.push(Declared { file, wire }),
            Document::Domain(wire) => domains.push(Declared { file, wire }),
            Document::Service(wire) => services.push(Declared { file, wire }),
            Document::Feature(wire) => features.push(Declared { file, wire }),
            Document::Agent(wire) => agents.push(Declared { file, wire }),
            Document::UnknownKind(kind) => {
                let problem = Problem::error(
                    "config::unknown-kind",
                    locate(file, kind.pos),
                    format!("unknown document kind `{}`", kind.value),
                )
                .label("unknown kind");
                let kinds: Vec<String> = KINDS.iter().map(|kind| (*kind).to_owned()).collect();
                problems.push(suggest::with_did_you_mean(
                    problem,
                    &kind.value,
                    &kinds,
                    "kinds",
                ));
            }
            Document::MissingKind(first) => {
                let location = first
                    .as_ref()
                    .map_or_else(|| Location::file_start(file), |key| locate(file, key.pos));
                problems.push(
                    Problem::error(
                        "config::missing-kind",
                        location,
                        "document does not start with `kind:`",
                    )
                    .help("start every document with `kind:` (org, domain, service, feature or agent), then `name:`"),
                );
            }
        }
    }

    // 1. Unique names.
    let name_of = |name: &Spanned<String>| name.value.clone();
    unique(&orgs, |org| &org.name, "org", &mut problems);
    unique(&domains, |domain| &domain.name, "domain", &mut problems);
    unique(&services, |service| &service.name, "service", &mut problems);
    unique(&features, |feature| &feature.name, "feature", &mut problems);
    unique(&agents, |agent| &agent.name, "agent", &mut problems);
    if let [first, second, ..] = orgs.as_slice() {
        problems.push(
            Problem::error(
                "config::second-org",
                locate(second.file, second.wire.name.pos),
                "a workspace has at most one org document",
            )
            .related(
                locate(first.file, first.wire.name.pos),
                "the first org document",
            )
            .help("merge the two org documents into one"),
        );
    }
    let mut layer_names: HashMap<&str, (&'static str, &Arc<SourceFile>, model::Pos)> =
        HashMap::default();
    let layers = orgs
        .iter()
        .map(|org| ("org", org.file, &org.wire.name))
        .chain(
            domains
                .iter()
                .map(|domain| ("domain", domain.file, &domain.wire.name)),
        )
        .chain(
            services
                .iter()
                .map(|service| ("service", service.file, &service.wire.name)),
        );
    for (kind, file, name) in layers {
        match layer_names.get(name.value.as_str()) {
            Some((other_kind, other_file, other_pos)) if *other_kind != kind => problems.push(
                Problem::error(
                    "config::layer-name",
                    locate(file, name.pos),
                    format!(
                        "{kind} `{}` has the same name as {other_kind} `{}`",
                        name.value, name.value
                    ),
                )
                .related(
                    locate(other_file, *other_pos),
                    format!("the {other_kind} is declared here"),
                )
                .help("names identify layers in qualified keys; rename one of them"),
            ),
            Some(_) => {}
            None => {
                layer_names.insert(&name.value, (kind, file, name.pos));
            }
        }
    }

    let domain_names: Vec<String> = domains
        .iter()
        .map(|domain| name_of(&domain.wire.name))
        .collect();
    let service_names: Vec<String> = services
        .iter()
        .map(|service| name_of(&service.wire.name))
        .collect();
    let agent_names: Vec<String> = agents
        .iter()
        .map(|agent| name_of(&agent.wire.name))
        .collect();
    let tables = Tables {
        domains: domains
            .iter()
            .map(|domain| (domain.wire.name.value.as_str(), domain.wire))
            .collect(),
        services: services
            .iter()
            .map(|service| (service.wire.name.value.as_str(), service.wire))
            .collect(),
        domain_names: &domain_names,
        service_names: &service_names,
    };

    // 2 and 3. Fields and references, document by document.
    let mut workspace = Workspace {
        root: root.to_path_buf(),
        settings: settings.clone(),
        org: None,
        domains: Vec::new(),
        services: Vec::new(),
        features: Vec::new(),
        agents: Vec::new(),
        resolver: Arc::clone(&resolver),
    };
    let context = Context {
        resolver: &resolver,
        max_file_bytes: settings.max_file_bytes,
        agents: &agent_names,
    };
    workspace.org = convert_each(&orgs[..orgs.len().min(1)], &context, &mut problems, org).pop();
    workspace.domains = convert_each(&domains, &context, &mut problems, domain);
    workspace.services = convert_each(&services, &context, &mut problems, |convert, wire| {
        service(convert, wire, &tables)
    });
    workspace.features = convert_each(&features, &context, &mut problems, |convert, wire| {
        feature(convert, wire, &tables)
    });
    workspace.agents = convert_each(&agents, &context, &mut problems, agent);

    // 4. Cycles.
    let graph: Vec<(String, Vec<String>)> = services
        .iter()
        .map(|service| {
            let edges = service
                .wire
                .depends_on
                .iter()
                .map(|name| name.value.clone())
                .collect();
            (service.wire.name.value.clone(), edges)
        })
        .collect();
    for cycle in find_cycles(&graph) {
        let edge_location = |from: &str, to: &str| -> Option<Location> {
            let service = services
                .iter()
                .find(|service| service.wire.name.value == from)?;
            let edge = service
                .wire
                .depends_on
                .iter()
                .find(|name| name.value == to)?;
            Some(locate(service.file, edge.pos))
        };
        let rendered = cycle
            .iter()
            .chain(cycle.first())
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(" → ");
        let mut edges = cycle.iter().zip(cycle.iter().cycle().skip(1));
        let Some((first_from, first_to)) = edges.next() else {
            continue;
        };
        let Some(first_location) = edge_location(first_from, first_to) else {
            continue;
        };
        let mut problem = Problem::error(
            "config::cycle",
            first_location,
            format!("`depends_on` cycle: {rendered}"),
        )
        .label(format!("`{first_from}` depends on `{first_to}`"))
        .help("services must form a tree of dependencies; remove one edge of the cycle");
        for (from, to) in edges {
            if let Some(location) = edge_location(from, to) {
                problem = problem.related(location, format!("`{from}` depends on `{to}`"));
            }
        }
        problems.push(problem);
    }

    // 5 and 6. Overrides and expiry, on the typed workspace.
    let files: HashMap<&str, &Arc<SourceFile>> = loaded
        .files
        .iter()
        .map(|file| (file.path.as_str(), file))
        .collect();
    let at = |origin: &Origin| -> Location {
        files.get(origin.file.as_str()).map_or_else(
            || {
                Location::at_offset(
                    &Arc::new(SourceFile::new(origin.file.clone(), Arc::from(""))),
                    0,
                    0,
                )
            },
            |file| Location::token_at(file, origin.line, origin.column),
        )
    };
    super::lineage::check(&workspace, &at, &mut problems);
    expiry(&workspace, today, &at, &mut problems);
    Validation {
        workspace,
        problems,
    }
}

/// The same name declared twice for one kind: both locations.
fn unique<T>(
    declared: &[Declared<'_, T>],
    name: impl Fn(&T) -> &Spanned<String>,
    kind: &str,
    problems: &mut Vec<Problem>,
) {
    // Locations are computed only for duplicates: most names are unique.
    let mut seen: HashMap<&str, (&Arc<SourceFile>, model::Pos)> =
        HashMap::with_capacity_and_hasher(declared.len(), Default::default());
    for entry in declared {
        let spanned = name(entry.wire);
        if let Some((first_file, first_pos)) = seen.get(spanned.value.as_str()) {
            let first = locate(first_file, *first_pos);
            problems.push(
                Problem::error(
                    "config::duplicate-name",
                    locate(entry.file, spanned.pos),
                    format!("{kind} `{}` is declared twice", spanned.value),
                )
                .label("declared again here")
                .related(first, "first declared here")
                .help(format!(
                    "{kind} names are unique; rename or merge one of them"
                )),
            );
        } else {
            seen.insert(&spanned.value, (entry.file, spanned.pos));
        }
    }
}

/// What every document conversion shares.
struct Context<'a> {
    resolver: &'a paths::Resolver,
    max_file_bytes: u64,
    agents: &'a [String],
}

/// Convert documents of one kind on every core; problems keep document order.
fn convert_each<T: Sync, R: Send>(
    declared: &[Declared<'_, T>],
    context: &Context<'_>,
    problems: &mut Vec<Problem>,
    build: impl Fn(&mut Converter<'_>, &T) -> R + Sync,
) -> Vec<R> {
    let outcomes = crate::parallel::map(declared, |declared| {
        let mut found = Vec::new();
        let mut convert = Converter {
            file: Arc::clone(declared.file),
            resolver: context.resolver,
            max_file_bytes: context.max_file_bytes,
            agents: context.agents,
            problems: &mut found,
        };
        let value = build(&mut convert, declared.wire);
        (value, found)
    });
    outcomes
        .into_iter()
        .map(|(value, found)| {
            problems.extend(found);
            value
        })
        .collect()
}

fn org(convert: &mut Converter<'_>, wire: &model::Org) -> Org {
    Org {
        name: OrgName::new(convert.name(&wire.name, "org")),
        description: wire
            .description
            .as_ref()
            .map(|text| text.value.trim().to_owned()),
        items: convert.items(
            &wire.patterns,
            &wire.constraints,
            &wire.quality_gates,
            &wire.examples,
            KeyRule::PlainOnly,
        ),
        origin: convert.origin(wire.name.pos),
    }
}

fn domain(convert: &mut Converter<'_>, wire: &model::Domain) -> Domain {
    let matching = wire.matching.as_ref().map(|matching| &matching.value);
    let paths = matching.map_or(&[][..], |matching| &matching.paths[..]);
    owned_paths(convert, paths);
    Domain {
        name: DomainName::new(convert.name(&wire.name, "domain")),
        description: wire
            .description
            .as_ref()
            .map(|text| text.value.trim().to_owned()),
        owners: wire
            .owners
            .iter()
            .map(|owner| owner.value.clone())
            .collect(),
        keywords: matching
            .map(|matching| {
                matching
                    .keywords
                    .iter()
                    .map(|keyword| keyword.value.to_lowercase())
                    .collect()
            })
            .unwrap_or_default(),
        paths: paths.iter().map(|path| path.value.clone()).collect(),
        items: convert.items(
            &wire.patterns,
            &wire.constraints,
            &wire.quality_gates,
            &wire.examples,
            KeyRule::PlainOnly,
        ),
        origin: convert.origin(wire.name.pos),
    }
}

fn service(convert: &mut Converter<'_>, wire: &model::Service, tables: &Tables<'_>) -> Service {
    if let Some(domain) = &wire.domain {
        tables.reference(convert, domain, "domain", "service `domain`");
    }
    for dependency in &wire.depends_on {
        tables.reference(convert, dependency, "service", "`depends_on`");
        if dependency.value == wire.name.value {
            let problem = Problem::error(
                "config::cycle",
                convert.locate(dependency.pos),
                format!("service `{}` depends on itself", wire.name.value),
            )
            .help("remove it from its own `depends_on`");
            convert.problems.push(problem);
        }
    }
    owned_paths(convert, &wire.paths);
    let items = Items {
        patterns: convert.patterns(&wire.local_patterns, KeyRule::QualifiedAllowed),
        constraints: convert.constraints(&wire.constraints, KeyRule::QualifiedAllowed),
        quality_gates: convert.gates(&wire.quality_gates, KeyRule::QualifiedAllowed),
        examples: convert.examples(&wire.examples),
    };
    Service {
        name: ServiceName::new(convert.name(&wire.name, "service")),
        description: wire
            .description
            .as_ref()
            .map(|text| text.value.trim().to_owned()),
        domain: wire
            .domain
            .as_ref()
            .map(|domain| DomainName::new(domain.value.clone())),
        depends_on: wire
            .depends_on
            .iter()
            .map(|name| ServiceName::new(name.value.clone()))
            .collect(),
        paths: wire.paths.iter().map(|path| path.value.clone()).collect(),
        items,
        shared_patterns: convert.patterns(&wire.shared_patterns, KeyRule::PlainOnly),
        integration_patterns: convert.patterns(&wire.integration_patterns, KeyRule::PlainOnly),
        origin: convert.origin(wire.name.pos),
    }
}

/// Name tables for reference checks.
struct Tables<'a> {
    domains: HashMap<&'a str, &'a model::Domain>,
    services: HashMap<&'a str, &'a model::Service>,
    domain_names: &'a [String],
    service_names: &'a [String],
}

impl Tables<'_> {
    /// Check that `name` is a declared domain or service; error at the reference.
    fn reference(
        &self,
        convert: &mut Converter<'_>,
        name: &Spanned<String>,
        kind: &str,
        context: &str,
    ) -> bool {
        let (known, names) = match kind {
            "domain" => (
                self.domains.contains_key(name.value.as_str()),
                self.domain_names,
            ),
            _ => (
                self.services.contains_key(name.value.as_str()),
                self.service_names,
            ),
        };
        if !known {
            let problem = Problem::error(
                "config::unknown-reference",
                convert.locate(name.pos),
                format!("{context} names unknown {kind} `{}`", name.value),
            )
            .label(format!("unknown {kind}"));
            convert.problems.push(suggest::with_did_you_mean(
                problem,
                &name.value,
                names,
                &format!("declared {kind}s"),
            ));
        }
        known
    }
}

/// Owned-code globs (`match.paths`, service `paths`): syntax errors are errors; a glob
/// matching nothing yet is only a warning (new code may not exist).
fn owned_paths(convert: &mut Converter<'_>, globs: &[Spanned<String>]) {
    for glob in globs {
        let outcome = paths::check_syntax(&glob.value)
            .and_then(|()| convert.resolver.matcher(&glob.value).map(|_| ()));
        if let Err(error) = outcome {
            convert.path_error(glob, "paths", &error);
            continue;
        }
        let matched = if paths::is_glob(&glob.value) {
            convert
                .resolver
                .glob_matches_any(&glob.value)
                .unwrap_or(false)
        } else {
            convert.resolver.resolve(&glob.value).is_ok()
        };
        if !matched {
            let problem = Problem::warning(
                "config::owned-path-unmatched",
                convert.locate(glob.pos),
                format!("owned path `{}` matches no file yet", glob.value),
            )
            .help("`ctx gates --changed` uses these paths; check the glob");
            convert.problems.push(problem);
        }
    }
}

fn feature(convert: &mut Converter<'_>, wire: &model::Feature, tables: &Tables<'_>) -> Feature {
    let mut scope_domains: Vec<&str> = Vec::new();
    for domain in &wire.domains {
        if tables.reference(convert, domain, "domain", "feature `domains`") {
            scope_domains.push(&domain.value);
        }
    }
    let mut scope_services: Vec<&model::Service> = Vec::new();
    for service in &wire.services {
        if tables.reference(convert, service, "service", "feature `services`")
            && let Some(declared) = tables.services.get(service.value.as_str())
        {
            scope_services.push(declared);
            if let Some(domain) = &declared.domain
                && !scope_domains.contains(&domain.value.as_str())
                && tables.domains.contains_key(domain.value.as_str())
            {
                scope_domains.push(&domain.value);
            }
        }
    }
    // Gate names a phase may cite: every gate key of the feature's scope.
    let mut gate_names: Vec<String> = scope_domains
        .iter()
        .filter_map(|name| tables.domains.get(name))
        .flat_map(|domain| domain.quality_gates.entries.iter())
        .chain(
            scope_services
                .iter()
                .flat_map(|service| service.quality_gates.entries.iter()),
        )
        .chain(wire.quality_gates.entries.iter())
        .map(|(key, _)| key.value.clone())
        .collect();
    gate_names.sort();
    gate_names.dedup();

    let mut inputs = Vec::new();
    for (key, description) in &wire.inputs.entries {
        if !convert::is_valid_input(&key.value) {
            let problem = Problem::error(
                "config::input",
                convert.locate(key.pos),
                format!("input key `{}` is not valid", key.value),
            )
            .help(
                "input keys use letters, digits, `_` and `-` (they are set with `--set KEY=VALUE`)",
            );
            convert.problems.push(problem);
        }
        inputs.push(Input {
            key: key.value.clone(),
            description: description.value.clone(),
            origin: convert.origin(key.pos),
        });
    }

    let mut phases = Vec::new();
    let mut phase_names: HashMap<&str, model::Pos> = HashMap::default();
    for phase in &wire.phases {
        let phase = &phase.value;
        if let Some(first) = phase_names.get(phase.name.value.as_str()) {
            let problem = Problem::error(
                "config::duplicate-name",
                convert.locate(phase.name.pos),
                format!("phase `{}` appears twice", phase.name.value),
            )
            .related(convert.locate(*first), "first here")
            .help("phase names are unique within a feature");
            convert.problems.push(problem);
        } else {
            phase_names.insert(&phase.name.value, phase.name.pos);
        }
        let mut phase_domains = Vec::new();
        for domain in &phase.domains {
            if !tables.reference(convert, domain, "domain", "phase `domains`") {
                continue;
            }
            if !scope_domains.contains(&domain.value.as_str()) {
                let problem = Problem::error(
                    "config::phase-domain",
                    convert.locate(domain.pos),
                    format!(
                        "phase `{}` uses domain `{}`, which is not in the feature's scope",
                        phase.name.value, domain.value
                    ),
                )
                .help(format!("add `{}` to the feature's `domains`", domain.value));
                convert.problems.push(problem);
            }
            phase_domains.push(domain.value.as_str());
        }
        let lookup_domains: Vec<&str> = if phase.domains.is_empty() {
            scope_domains.clone()
        } else {
            phase_domains.clone()
        };
        let mut known_patterns: Vec<String> = lookup_domains
            .iter()
            .filter_map(|name| tables.domains.get(name))
            .flat_map(|domain| {
                domain
                    .patterns
                    .entries
                    .iter()
                    .map(|(key, _)| key.value.clone())
            })
            .collect();
        known_patterns.dedup();
        for pattern in &phase.patterns {
            if !known_patterns.contains(&pattern.value) {
                let problem = Problem::error(
                    "config::unknown-pattern",
                    convert.locate(pattern.pos),
                    format!(
                        "phase `{}` names pattern `{}`, which none of its domains ({}) declares",
                        phase.name.value,
                        pattern.value,
                        lookup_domains
                            .iter()
                            .map(|name| format!("`{name}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .label("unknown pattern");
                convert.problems.push(suggest::with_did_you_mean(
                    problem,
                    &pattern.value,
                    &known_patterns,
                    "patterns of those domains",
                ));
            }
        }
        let mut validation = Vec::new();
        for step in &phase.validation {
            let text = step.value.trim();
            if text.chars().any(char::is_whitespace) {
                validation.push(ValidationStep::Prose(text.to_owned()));
                continue;
            }
            if !gate_names.iter().any(|gate| gate == text) {
                let problem = Problem::error(
                    "config::unknown-gate",
                    convert.locate(step.pos),
                    format!(
                        "phase `{}` validation names unknown gate `{text}`",
                        phase.name.value
                    ),
                )
                .label("unknown gate");
                let problem = suggest::with_did_you_mean(
                    problem,
                    text,
                    &gate_names,
                    "gates in this feature's scope",
                );
                convert
                    .problems
                    .push(problem.help_suffix(" (a check in prose must contain a space)"));
            }
            validation.push(ValidationStep::Gate(text.to_owned()));
        }
        phases.push(Phase {
            name: phase.name.value.clone(),
            description: phase
                .description
                .as_ref()
                .map(|text| text.value.trim().to_owned()),
            domains: phase_domains
                .iter()
                .map(|name| DomainName::new(*name))
                .collect(),
            patterns: phase
                .patterns
                .iter()
                .map(|pattern| pattern.value.clone())
                .collect(),
            constraints: convert.constraints(&phase.constraints, KeyRule::PlainOnly),
            validation,
            origin: convert.origin(phase.name.pos),
        });
    }
    Feature {
        name: FeatureName::new(convert.name(&wire.name, "feature")),
        description: wire
            .description
            .as_ref()
            .map(|text| text.value.trim().to_owned()),
        domains: wire
            .domains
            .iter()
            .map(|name| DomainName::new(name.value.clone()))
            .collect(),
        services: wire
            .services
            .iter()
            .map(|name| ServiceName::new(name.value.clone()))
            .collect(),
        inputs,
        phases,
        budget: wire.budget.as_ref().map(|budget| budget.value),
        items: convert.items(
            &wire.patterns,
            &wire.constraints,
            &wire.quality_gates,
            &wire.examples,
            KeyRule::QualifiedAllowed,
        ),
        origin: convert.origin(wire.name.pos),
    }
}

fn agent(convert: &mut Converter<'_>, wire: &model::Agent) -> Agent {
    let sections = wire.sections.as_ref().map(|sections| {
        sections
            .iter()
            .filter_map(|section| {
                let parsed = match section.value.as_str() {
                    "patterns" => Some(AgentSection::Patterns),
                    "constraints" => Some(AgentSection::Constraints),
                    "quality_gates" => Some(AgentSection::QualityGates),
                    "examples" => Some(AgentSection::Examples),
                    "phases" => Some(AgentSection::Phases),
                    _ => None,
                };
                if parsed.is_none() {
                    let known: Vec<String> = [
                        "patterns",
                        "constraints",
                        "quality_gates",
                        "examples",
                        "phases",
                    ]
                    .iter()
                    .map(|name| (*name).to_owned())
                    .collect();
                    let problem = Problem::error(
                        "config::unknown-section",
                        convert.locate(section.pos),
                        format!("unknown section `{}`", section.value),
                    )
                    .label("unknown section");
                    convert.problems.push(suggest::with_did_you_mean(
                        problem,
                        &section.value,
                        &known,
                        "sections",
                    ));
                }
                parsed
            })
            .collect()
    });
    Agent {
        name: AgentName::new(convert.name(&wire.name, "agent")),
        description: wire
            .description
            .as_ref()
            .map(|text| text.value.trim().to_owned()),
        topics: wire
            .topics
            .iter()
            .map(|topic| Topic::new(topic.value.clone()))
            .collect(),
        sections,
        budget: wire.budget.as_ref().map(|budget| budget.value),
        origin: convert.origin(wire.name.pos),
    }
}

/// Every elementary cycle's node list, each reported once (rotated to start at its
/// smallest name), in a deterministic order. Edges to unknown nodes are ignored.
pub fn find_cycles(graph: &[(String, Vec<String>)]) -> Vec<Vec<String>> {
    let index: HashMap<&str, usize> = graph
        .iter()
        .enumerate()
        .map(|(position, (name, _))| (name.as_str(), position))
        .collect();
    let edges: Vec<Vec<usize>> = graph
        .iter()
        .map(|(name, targets)| {
            targets
                .iter()
                .filter(|target| target.as_str() != name)
                .filter_map(|target| index.get(target.as_str()).copied())
                .collect()
        })
        .collect();
    // Iterative DFS with colours; each back edge closes one cycle along the stack.
    let mut state = vec![0u8; graph.len()]; // 0 new, 1 on stack, 2 done
    let mut cycles: Vec<Vec<String>> = Vec::new();
    for start in 0..graph.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&target) = edges[node].get(*next) {
                *next += 1;
                match state[target] {
                    0 => {
                        state[target] = 1;
                        stack.push((target, 0));
                    }
                    1 => {
                        let from = stack
                            .iter()
                            .position(|&(entry, _)| entry == target)
                            .unwrap_or(0);
                        let mut cycle: Vec<String> = stack[from..]
                            .iter()
                            .map(|&(entry, _)| graph[entry].0.clone())
                            .collect();
                        let smallest = cycle
                            .iter()
                            .enumerate()
                            .min_by(|a, b| a.1.cmp(b.1))
                            .map_or(0, |(position, _)| position);
                        cycle.rotate_left(smallest);
                        if !cycles.contains(&cycle) {
                            cycles.push(cycle);
                        }
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
    cycles.sort();
    cycles
}

/// Items that expired (dropped from bundles) or expire within 30 days.
fn expiry(
    workspace: &Workspace,
    today: Date,
    at: &dyn Fn(&Origin) -> Location,
    problems: &mut Vec<Problem>,
) {
    let soon = today.plus_days(EXPIRY_WARNING_DAYS);
    for (section, meta) in all_metas(workspace) {
        let Some(expires) = meta.expires else {
            continue;
        };
        let name = format!("{}.{}", section.as_str(), meta.key);
        if expires < today {
            problems.push(
                Problem::warning(
                    "config::expired",
                    at(&meta.origin),
                    format!("`{name}` expired on {expires} and is left out of bundles"),
                )
                .help("renew it with a later `expires`, or delete it"),
            );
        } else if expires <= soon {
            let days = expires.days_since_epoch() - today.days_since_epoch();
            problems.push(
                Problem::warning(
                    "config::expires-soon",
                    at(&meta.origin),
                    format!("`{name}` expires on {expires} (in {days} days)"),
                )
                .help("renew it with a later `expires` if it still applies"),
            );
        }
    }
}

/// The metadata of every item in the workspace, with its section.
pub fn all_metas(workspace: &Workspace) -> Vec<(Section, &ItemMeta)> {
    let mut metas = Vec::new();
    let item_sets = workspace
        .org
        .iter()
        .map(|org| &org.items)
        .chain(workspace.domains.iter().map(|domain| &domain.items))
        .chain(workspace.services.iter().map(|service| &service.items))
        .chain(workspace.features.iter().map(|feature| &feature.items));
    for items in item_sets {
        metas.extend(
            items
                .patterns
                .iter()
                .map(|item: &PatternItem| (Section::Patterns, &item.meta)),
        );
        metas.extend(
            items
                .constraints
                .iter()
                .map(|item: &ConstraintItem| (Section::Constraints, &item.meta)),
        );
        metas.extend(
            items
                .quality_gates
                .iter()
                .map(|item: &GateItem| (Section::QualityGates, &item.meta)),
        );
    }
    for service in &workspace.services {
        metas.extend(
            service
                .shared_patterns
                .iter()
                .chain(&service.integration_patterns)
                .map(|item| (Section::Patterns, &item.meta)),
        );
    }
    for feature in &workspace.features {
        for phase in &feature.phases {
            metas.extend(
                phase
                    .constraints
                    .iter()
                    .map(|item| (Section::Constraints, &item.meta)),
            );
        }
    }
    metas
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        edges
            .iter()
            .map(|(name, targets)| {
                (
                    (*name).to_owned(),
                    targets.iter().map(|target| (*target).to_owned()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn cycles_are_found_once_and_rotated() {
        let found = find_cycles(&graph(&[
            ("c", &["a"]),
            ("a", &["b"]),
            ("b", &["c"]),
            ("d", &["a"]),
        ]));
        assert_eq!(found, vec![vec!["a", "b", "c"]]);
        assert!(find_cycles(&graph(&[("a", &["b"]), ("b", &[]), ("c", &["a", "b"])])).is_empty());
    }

    /// Whether `node` can reach itself, by brute force.
    fn reaches_itself(edges: &[Vec<usize>], node: usize) -> bool {
        let mut seen = vec![false; edges.len()];
        let mut todo: Vec<usize> = edges[node].clone();
        while let Some(next) = todo.pop() {
            if next == node {
                return true;
            }
            if !std::mem::replace(&mut seen[next], true) {
                todo.extend(&edges[next]);
            }
        }
        false
    }

    proptest! {
        #[test]
        fn a_cycle_is_reported_exactly_when_one_exists(
            adjacency in proptest::collection::vec(proptest::collection::vec(0usize..7, 0..3), 1..7)
        ) {
            let count = adjacency.len();
            let edges: Vec<Vec<usize>> = adjacency
                .iter()
                .enumerate()
                .map(|(from, targets)| targets.iter().map(|target| target % count).filter(|target| *target != from).collect())
                .collect();
            let named: Vec<(String, Vec<String>)> = edges
                .iter()
                .enumerate()
                .map(|(from, targets)| (format!("s{from}"), targets.iter().map(|target| format!("s{target}")).collect()))
                .collect();
            let cycles = find_cycles(&named);
            let has_cycle = (0..count).any(|node| reaches_itself(&edges, node));
            prop_assert_eq!(!cycles.is_empty(), has_cycle);
            for cycle in &cycles {
                // Every reported cycle is made of real edges and closes on itself.
                for (position, name) in cycle.iter().enumerate() {
                    let next = &cycle[(position + 1) % cycle.len()];
                    let from: usize = name[1..].parse().unwrap();
                    let to: usize = next[1..].parse().unwrap();
                    prop_assert!(edges[from].contains(&to), "{name} -> {next} is not an edge");
                }
            }
        }
    }
}
