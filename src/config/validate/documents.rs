//! Converting the org, domain, service and agent documents, with their references.

use rustc_hash::FxHashMap as HashMap;

use crate::config::convert::{Converter, KeyRule};
use crate::config::diagnostic::Problem;
use crate::config::model::{self, Spanned};
use crate::config::suggest;
use crate::config::workspace::{
    Agent, AgentName, AgentSection, Domain, DomainName, Items, Org, OrgName, Service, ServiceName,
    Topic,
};
use crate::paths;

pub(super) fn org(convert: &mut Converter<'_>, wire: &model::Org) -> Org {
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
            &wire.extensions,
            KeyRule::PlainOnly,
        ),
        origin: convert.origin(wire.name.pos),
    }
}

pub(super) fn domain(convert: &mut Converter<'_>, wire: &model::Domain) -> Domain {
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
            &wire.extensions,
            KeyRule::PlainOnly,
        ),
        origin: convert.origin(wire.name.pos),
    }
}

pub(super) fn service(
    convert: &mut Converter<'_>,
    wire: &model::Service,
    tables: &Tables<'_>,
) -> Service {
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
        extensions: convert.extensions(&wire.extensions, &wire.local_patterns),
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
pub(super) struct Tables<'a> {
    /// The org document, whose gates every feature inherits.
    pub(super) org: Option<&'a model::Org>,
    pub(super) domains: HashMap<&'a str, &'a model::Domain>,
    pub(super) services: HashMap<&'a str, &'a model::Service>,
    pub(super) domain_names: &'a [String],
    pub(super) service_names: &'a [String],
    /// Documents that could not be read (already reported), by kind and name.
    pub(super) broken: &'a [crate::config::load::Broken],
    /// The source each domain and service is imported from (`None`: the workspace's).
    pub(super) imported: HashMap<(&'a str, &'a str), Option<&'a str>>,
    /// Every strategy, as declared.
    pub(super) strategies: Vec<&'a model::Strategy>,
}

impl Tables<'_> {
    /// Tenancy: a document of one source never refers to another source's documents
    /// (only the importing workspace joins them).
    fn same_tenant(
        &self,
        convert: &mut Converter<'_>,
        name: &Spanned<String>,
        kind: &str,
        context: &str,
    ) {
        let Some(own) = convert.file.imported.clone() else {
            return;
        };
        let Some(Some(theirs)) = self.imported.get(&(kind, name.value.as_str())) else {
            return;
        };
        if *theirs != own {
            convert.problems.push(
                Problem::error(
                    "config::tenancy",
                    convert.locate(name.pos),
                    format!(
                        "{context} in source `{own}` names {kind} `{}` of source `{theirs}`: a source sees only its own documents",
                        name.value
                    ),
                )
                .label(format!("{kind} of `{theirs}`"))
                .help("declare what it needs in the same source, or join them in a document of this workspace"),
            );
        }
    }

    /// Whether a document of `kind` named `name` could not be read: what refers to it
    /// cannot be checked, and is not reported (the document's own error is).
    pub(super) fn is_broken(&self, kind: &str, name: &str) -> bool {
        self.broken.iter().any(|broken| broken.could_be(kind, name))
    }

    /// Check that `name` is a declared domain or service; error at the reference
    /// (unless it names a document that could not be read).
    pub(super) fn reference(
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
        if known {
            self.same_tenant(convert, name, kind, context);
        }
        if !known && !self.is_broken(kind, &name.value) {
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

pub(super) fn agent(convert: &mut Converter<'_>, wire: &model::Agent) -> Agent {
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
