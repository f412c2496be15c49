//! Converting a feature: its scope, inputs and phases, each reference checked.

use rustc_hash::FxHashMap as HashMap;

use super::documents::Tables;
use crate::config::convert::{self, Converter, KeyRule};
use crate::config::diagnostic::Problem;
use crate::config::model;
use crate::config::suggest;
use crate::config::workspace::{
    DomainName, DomainPatterns, Feature, FeatureName, Input, Phase, ServiceName, Strategy,
    StrategyName, ValidationStep,
};

pub(super) fn feature(
    convert: &mut Converter<'_>,
    wire: &model::Feature,
    tables: &Tables<'_>,
) -> Feature {
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
    // With a document of its scope unreadable, the gates and patterns phases may name
    // are not all known: names not found are not reported (the document's error is).
    let incomplete = tables.broken.iter().any(|broken| broken.kind == "org")
        || wire
            .domains
            .iter()
            .any(|name| tables.is_broken("domain", &name.value))
        || wire.services.iter().any(|name| {
            tables.is_broken("service", &name.value)
                || tables
                    .services
                    .get(name.value.as_str())
                    .and_then(|service| service.domain.as_ref())
                    .is_some_and(|domain| tables.is_broken("domain", &domain.value))
        });
    // Gate names a phase may cite: every gate key of the feature's scope, the org's
    // included (`ctx gates <feature>` runs those too).
    let gate_names = gate_names(
        tables,
        &scope_domains,
        scope_services
            .iter()
            .map(|service| &service.quality_gates)
            .chain([&wire.quality_gates]),
    );

    let inputs = inputs(convert, wire);

    let phases = phases(
        convert,
        &wire.phases,
        &PhaseScope {
            tables,
            domains: &scope_domains,
            gate_names: &gate_names,
            incomplete,
            owner: "feature",
        },
    );
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
        domain_patterns: domain_patterns(convert, wire, tables, &scope_domains),
        items: convert.items(
            &wire.patterns,
            &wire.constraints,
            &wire.quality_gates,
            &wire.examples,
            &wire.extensions,
            KeyRule::QualifiedAllowed,
        ),
        origin: convert.origin(wire.name.pos),
    }
}

/// One phase: its domains (within the feature's scope), the patterns it names (declared
/// by those domains) and its validation steps (gates of the scope, or prose).
/// A strategy: its domain set (declared, each once, at least one), its phases checked
/// like a feature's against that set, and its items, whose plain keys override those of
/// its domains (checked with the other overrides).
pub(super) fn strategy(
    convert: &mut Converter<'_>,
    wire: &model::Strategy,
    tables: &Tables<'_>,
) -> Strategy {
    let mut domains: Vec<&str> = Vec::new();
    let mut listed: Vec<&str> = Vec::new();
    for domain in &wire.domains {
        if listed.contains(&domain.value.as_str()) {
            let problem = Problem::error(
                "config::duplicate-domain",
                convert.locate(domain.pos),
                format!(
                    "strategy `{}` lists domain `{}` twice",
                    wire.name.value, domain.value
                ),
            )
            .label("listed again")
            .help("a strategy's `domains` is a set; list each domain once");
            convert.problems.push(problem);
            continue;
        }
        listed.push(&domain.value);
        if tables.reference(convert, domain, "domain", "strategy `domains`") {
            domains.push(&domain.value);
        }
    }
    if wire.domains.is_empty() {
        let problem = Problem::error(
            "config::strategy-domains",
            convert.locate(wire.name.pos),
            format!("strategy `{}` names no domains", wire.name.value),
        )
        .help("list the domains whose meeting it describes, e.g. `domains: [payment, inventory]`; it applies to every bundle that has them all");
        convert.problems.push(problem);
    }
    let incomplete = tables.broken.iter().any(|broken| broken.kind == "org")
        || wire
            .domains
            .iter()
            .any(|name| tables.is_broken("domain", &name.value));
    let gate_names = gate_names(tables, &domains, [&wire.quality_gates]);
    let phases = phases(
        convert,
        &wire.phases,
        &PhaseScope {
            tables,
            domains: &domains,
            gate_names: &gate_names,
            incomplete,
            owner: "strategy",
        },
    );
    Strategy {
        name: StrategyName::new(convert.name(&wire.name, "strategy")),
        description: wire
            .description
            .as_ref()
            .map(|text| text.value.trim().to_owned()),
        domains: listed.iter().map(|name| DomainName::new(*name)).collect(),
        phases,
        items: convert.items(
            &wire.patterns,
            &wire.constraints,
            &wire.quality_gates,
            &wire.examples,
            &wire.extensions,
            KeyRule::PlainOnly,
        ),
        origin: convert.origin(wire.name.pos),
    }
}

/// Gate names a phase may cite: every gate key of the document's scope — the org's, its
/// domains', and `more` (its services' and its own).
fn gate_names<'a>(
    tables: &Tables<'a>,
    domains: &[&str],
    more: impl IntoIterator<Item = &'a model::ItemMap<model::Gate>>,
) -> Vec<String> {
    let mut names: Vec<String> = tables
        .org
        .into_iter()
        .map(|org| &org.quality_gates)
        .chain(
            domains
                .iter()
                .filter_map(|name| tables.domains.get(name).copied())
                .map(|domain| &domain.quality_gates),
        )
        .chain(more)
        .flat_map(|gates| gates.entries.iter())
        .map(|(key, _)| key.value.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// What a feature's or a strategy's phases are checked against.
struct PhaseScope<'a> {
    tables: &'a Tables<'a>,
    /// The domains of the document's scope.
    domains: &'a [&'a str],
    /// Gate names the phases may cite.
    gate_names: &'a [String],
    /// A document of the scope could not be read: unknown names are not reported.
    incomplete: bool,
    /// `feature` or `strategy`, for messages.
    owner: &'static str,
}

/// A document's phases, names unique, each reference checked.
fn phases(
    convert: &mut Converter<'_>,
    wire: &[model::Spanned<model::Phase>],
    scope: &PhaseScope<'_>,
) -> Vec<Phase> {
    let mut phases = Vec::new();
    let mut phase_names: HashMap<&str, model::Pos> = HashMap::default();
    for phase in wire {
        let phase = &phase.value;
        if let Some(first) = phase_names.get(phase.name.value.as_str()) {
            let problem = Problem::error(
                "config::duplicate-name",
                convert.locate(phase.name.pos),
                format!("phase `{}` appears twice", phase.name.value),
            )
            .related(convert.locate(*first), "first here")
            .help(format!("phase names are unique within a {}", scope.owner));
            convert.problems.push(problem);
        } else {
            phase_names.insert(&phase.name.value, phase.name.pos);
        }
        phases.push(convert_phase(convert, phase, scope));
    }
    phases
}

fn convert_phase(
    convert: &mut Converter<'_>,
    phase: &model::Phase,
    scope: &PhaseScope<'_>,
) -> Phase {
    let PhaseScope {
        tables,
        domains: scope_domains,
        gate_names,
        incomplete,
        owner,
    } = *scope;
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
                    "phase `{}` uses domain `{}`, which is not in the {owner}'s scope",
                    phase.name.value, domain.value
                ),
            )
            .help(format!("add `{}` to the {owner}'s `domains`", domain.value));
            convert.problems.push(problem);
        }
        phase_domains.push(domain.value.as_str());
    }
    let lookup_domains: Vec<&str> = if phase.domains.is_empty() {
        scope_domains.to_vec()
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
        if !incomplete && !known_patterns.contains(&pattern.value) {
            let message = if lookup_domains.is_empty() {
                format!(
                    "phase `{}` names pattern `{}`, but no domain is in its scope to declare it",
                    phase.name.value, pattern.value,
                )
            } else {
                format!(
                    "phase `{}` names pattern `{}`, which none of its domains ({}) declares",
                    phase.name.value,
                    pattern.value,
                    lookup_domains
                        .iter()
                        .map(|name| format!("`{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let problem = Problem::error(
                "config::unknown-pattern",
                convert.locate(pattern.pos),
                message,
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
        if !incomplete && !gate_names.iter().any(|gate| gate == text) {
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
                gate_names,
                &format!("gates in this {owner}'s scope"),
            );
            convert
                .problems
                .push(problem.help_suffix(" (a check in prose must contain a space)"));
        }
        validation.push(ValidationStep::Gate(text.to_owned()));
    }
    Phase {
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
    }
}

/// The feature's inputs; a key `--set` could not set is an error.
/// `domain_patterns: all | named`; `named` with phases that name no pattern takes no
/// domain pattern at all, which is worth a warning.
fn domain_patterns(
    convert: &mut Converter<'_>,
    wire: &model::Feature,
    tables: &Tables<'_>,
    scope_domains: &[&str],
) -> DomainPatterns {
    let Some(value) = &wire.domain_patterns else {
        return DomainPatterns::All;
    };
    match value.value.as_str() {
        "all" => DomainPatterns::All,
        "named" => {
            // The phases of a strategy that applies name patterns for it too.
            let strategies_name_some = tables.strategies.iter().any(|strategy| {
                !strategy.domains.is_empty()
                    && strategy
                        .domains
                        .iter()
                        .all(|domain| scope_domains.contains(&domain.value.as_str()))
                    && strategy
                        .phases
                        .iter()
                        .any(|phase| !phase.value.patterns.is_empty())
            });
            if !strategies_name_some
                && wire
                    .phases
                    .iter()
                    .all(|phase| phase.value.patterns.is_empty())
            {
                convert.problems.push(
                    Problem::warning(
                        "config::no-named-patterns",
                        convert.locate(value.pos),
                        "`domain_patterns: named`, but no phase names a pattern: the bundle takes no pattern of its domains",
                    )
                    .label("takes no domain pattern")
                    .help("name the patterns each phase needs in its `patterns: [...]`, or remove `domain_patterns`"),
                );
            }
            DomainPatterns::Named
        }
        other => {
            let problem = Problem::error(
                "config::invalid-value",
                convert.locate(value.pos),
                format!("`domain_patterns` is `all` or `named`, not `{other}`"),
            )
            .label("all or named");
            convert.problems.push(suggest::with_did_you_mean(
                problem,
                other,
                &[String::from("all"), String::from("named")],
                "values",
            ));
            DomainPatterns::All
        }
    }
}

fn inputs(convert: &mut Converter<'_>, wire: &model::Feature) -> Vec<Input> {
    let mut inputs = Vec::new();
    // Gates get each input as one variable: two keys must not make the same one.
    let mut variables: HashMap<String, (&str, model::Pos)> = HashMap::default();
    for (key, description) in &wire.inputs.entries {
        let variable = convert::input_variable(&key.value);
        if let Some((first, at)) = variables.get(&variable) {
            let problem = Problem::error(
                "config::input",
                convert.locate(key.pos),
                format!(
                    "inputs `{first}` and `{}` both reach gates as `{variable}`",
                    key.value
                ),
            )
            .related(convert.locate(*at), format!("`{first}` declared here"))
            .help("rename one of them: keys that differ only in case, `-` or `_` are the same variable");
            convert.problems.push(problem);
        } else {
            variables.insert(variable, (&key.value, key.pos));
        }
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
    inputs
}

/// `{{ inputs.KEY }}` in a feature's texts (constraints, pattern `why`, phase
/// descriptions and constraints) must name one of its declared inputs.
pub(super) fn check_placeholders(
    workspace: &crate::config::workspace::Workspace,
    at: &dyn Fn(&crate::config::workspace::Origin) -> crate::config::diagnostic::Location,
    problems: &mut Vec<Problem>,
) {
    use crate::config::placeholders;
    for feature in &workspace.features {
        let known: Vec<String> = feature
            .inputs
            .iter()
            .map(|input| input.key.clone())
            .collect();
        let mut texts: Vec<(&crate::config::workspace::Origin, String, &str)> = Vec::new();
        for constraint in &feature.items.constraints {
            if let Some(text) = &constraint.text {
                texts.push((
                    &constraint.meta.origin,
                    format!("constraint `{}`", constraint.meta.key),
                    text,
                ));
            }
        }
        for pattern in &feature.items.patterns {
            if let Some(why) = &pattern.why {
                texts.push((
                    &pattern.meta.origin,
                    format!("pattern `{}`'s `why`", pattern.meta.key),
                    why,
                ));
            }
        }
        for phase in &feature.phases {
            if let Some(description) = &phase.description {
                texts.push((
                    &phase.origin,
                    format!("phase `{}`'s description", phase.name),
                    description,
                ));
            }
            for constraint in &phase.constraints {
                if let Some(text) = &constraint.text {
                    texts.push((
                        &constraint.meta.origin,
                        format!(
                            "phase `{}` constraint `{}`",
                            phase.name, constraint.meta.key
                        ),
                        text,
                    ));
                }
            }
        }
        for (origin, what, text) in texts {
            for key in placeholders::references(text) {
                if known.iter().any(|name| name == key) {
                    continue;
                }
                let problem = Problem::error(
                    "config::unknown-input",
                    at(origin),
                    format!(
                        "{what} uses `{{{{ inputs.{key} }}}}`, but feature `{}` declares no input `{key}`",
                        feature.name
                    ),
                );
                problems.push(if known.is_empty() {
                    problem.help(format!(
                        "declare it under the feature's `inputs:` (`{key}: what it is`), or remove the reference"
                    ))
                } else {
                    suggest::with_did_you_mean(problem, key, &known, "declared inputs")
                });
            }
        }
    }
}
