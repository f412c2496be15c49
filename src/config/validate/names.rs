//! Names: unique per kind, one org, and no layer name shared by an org, a domain, a
//! strategy and a service (a name identifies a layer in qualified keys).

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use super::Declared;
use crate::config::diagnostic::{Problem, SourceFile};
use crate::config::load::locate;
use crate::config::model::{self, Spanned};

/// Every name check.
pub(super) fn check(
    orgs: &[Declared<'_, model::Org>],
    domains: &[Declared<'_, model::Domain>],
    services: &[Declared<'_, model::Service>],
    features: &[Declared<'_, model::Feature>],
    agents: &[Declared<'_, model::Agent>],
    strategies: &[Declared<'_, model::Strategy>],
    problems: &mut Vec<Problem>,
) {
    unique(orgs, |org| &org.name, "org", problems);
    unique(domains, |domain| &domain.name, "domain", problems);
    unique(services, |service| &service.name, "service", problems);
    unique(features, |feature| &feature.name, "feature", problems);
    unique(agents, |agent| &agent.name, "agent", problems);
    unique(strategies, |strategy| &strategy.name, "strategy", problems);
    if let [first, second, ..] = orgs {
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
        )
        .chain(
            strategies
                .iter()
                .map(|strategy| ("strategy", strategy.file, &strategy.wire.name)),
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
