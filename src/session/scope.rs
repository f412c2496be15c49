//! From a request's names to the workspace's things: the scope of a bundle request, its
//! inputs, and "no such name" errors with `did you mean`.

use std::collections::BTreeMap;

use super::BundleRequest;
use crate::bundle::build::Request;
use crate::bundle::model::{KeywordMatch, ScopeKind};
use crate::bundle::select;
use crate::config::suggest;
use crate::config::workspace::{Agent, Domain, Feature, Service, Workspace};
use crate::error::Error;
use crate::resolve::lineage::Scope;

/// Turn a request into a scope: a declared feature, an ad-hoc feature chosen by
/// keywords, or explicit domains and services.
pub(super) fn scope_of<'w>(
    workspace: &'w Workspace,
    request: &BundleRequest,
    agent: Option<&'w Agent>,
) -> Result<Request<'w>, Error> {
    let mut extra = Scope::default();
    for name in &request.domains {
        extra.add_domain(Some(find_domain(workspace, name)?));
    }
    for name in &request.services {
        extra.add_service(Some(find_service(workspace, name)?));
    }
    if request.changed {
        if request.feature.is_some()
            || request.describe.is_some()
            || request.from_run.is_some()
            || request.from_bundle.is_some()
        {
            return Err(Error::Usage {
                message: String::from(
                    "`changed` takes its scope from the changed files: it cannot be combined with a feature, a description or a hand-off",
                ),
                help: Some(String::from(
                    "for a feature's bundle with a diff, hand off instead: `--from-run`/`--from` add the changes since the base",
                )),
            });
        }
        return changed_scope(workspace, request, &extra, agent);
    }
    let with_extra = |mut scope: Scope<'w>| {
        for domain in &extra.domains {
            scope.add_domain(Some(domain));
        }
        for service in &extra.services {
            scope.add_service(Some(service));
        }
        scope
    };
    if let Some(name) = &request.feature
        && let Some(feature) = workspace.feature(name)
    {
        return Ok(Request {
            name: name.clone(),
            kind: ScopeKind::Feature,
            description: feature.description.clone(),
            scope: with_extra(Scope::of_feature(workspace, feature)),
            agent,
            matched: Vec::new(),
            execution: None,
        });
    }
    if let Some(name) = &request.feature
        && let Some(best) = suggest::closest(
            name,
            workspace
                .features
                .iter()
                .map(|feature| feature.name.as_str()),
        )
        .first()
    {
        // A near miss of a declared feature is a typo, not a description: building a
        // smaller bundle from keywords would pass for the feature.
        return Err(Error::Usage {
            message: format!("no feature named `{name}`"),
            help: Some(format!(
                "did you mean `{best}`? To bundle the domains whose keywords the words mention, say so: `--describe \"{name}\"`"
            )),
        });
    }
    let text = request.feature.as_deref().or(request.describe.as_deref());
    let mut scope = Scope::default();
    let mut matches = Vec::new();
    if let Some(text) = text {
        for matched in select::domains(workspace, text) {
            scope.add_domain(Some(matched.domain));
            matches.push(KeywordMatch {
                domain: matched.domain.name.to_string(),
                keywords: matched.keywords,
            });
        }
    }
    let scope = with_extra(scope);
    if scope.domains.is_empty() && scope.services.is_empty() {
        return Err(no_match(workspace, request));
    }
    let (name, kind) = match (&request.feature, &request.describe) {
        (Some(name), _) => (name.clone(), ScopeKind::AdHoc),
        (None, Some(_)) => (String::from("ad-hoc"), ScopeKind::AdHoc),
        (None, None) if scope.services.len() == 1 && request.domains.is_empty() => {
            (scope.services[0].name.to_string(), ScopeKind::Service)
        }
        (None, None) => (String::from("ad-hoc"), ScopeKind::AdHoc),
    };
    Ok(Request {
        name,
        kind,
        description: request.describe.clone(),
        scope,
        agent,
        matched: matches,
        execution: None,
    })
}

/// `--changed`: the domains and services that own the files changed since the base (the
/// rules of `ctx gates --changed`), plus any named; the diffs in the execution layer.
fn changed_scope<'w>(
    workspace: &'w Workspace,
    request: &BundleRequest,
    extra: &Scope<'w>,
    agent: Option<&'w Agent>,
) -> Result<Request<'w>, Error> {
    let changes = super::execution::changes_of(&workspace.root, request)?;
    if changes.files.is_empty() {
        return Err(Error::Usage {
            message: format!("`--changed`: nothing changed since `{}`", changes.base),
            help: Some(String::from(
                "name another base with `--base REF`, or bundle a feature: `ctx bundle <feature>`",
            )),
        });
    }
    let owners = crate::gates::select::Owners::of(workspace, &changes.files);
    let mut scope = Scope::default();
    for (name, _) in &owners.domains {
        scope.add_domain(workspace.domain(name));
    }
    for (name, _) in &owners.services {
        scope.add_service(workspace.service(name));
    }
    for domain in &extra.domains {
        scope.add_domain(Some(domain));
    }
    for service in &extra.services {
        scope.add_service(Some(service));
    }
    if scope.domains.is_empty() && scope.services.is_empty() {
        let shown: Vec<String> = changes
            .files
            .iter()
            .take(5)
            .map(|file| format!("`{file}`"))
            .collect();
        return Err(Error::Usage {
            message: format!(
                "`--changed`: no domain or service owns the {} changed file{} ({}{})",
                changes.files.len(),
                if changes.files.len() == 1 { "" } else { "s" },
                shown.join(", "),
                if changes.files.len() > 5 { ", …" } else { "" }
            ),
            help: Some(String::from(
                "domains own files by `match.paths`, services by `paths` (globs); add the globs that cover them, or name a scope with `--domain`/`--service`",
            )),
        });
    }
    Ok(Request {
        name: String::from("changes"),
        kind: ScopeKind::Changed,
        description: None,
        scope,
        agent,
        matched: Vec::new(),
        execution: Some(super::execution::of_changes(&workspace.root, &changes)?),
    })
}

/// Nothing matched: say so, with the features and every domain's keywords.
fn no_match(workspace: &Workspace, request: &BundleRequest) -> Error {
    let keywords: Vec<String> = workspace
        .domains
        .iter()
        .map(|domain| {
            let words = if domain.keywords.is_empty() {
                String::from("(no keywords)")
            } else {
                domain.keywords.join(", ")
            };
            format!("`{}`: {words}", domain.name)
        })
        .collect();
    let features: Vec<String> = workspace
        .features
        .iter()
        .map(|feature| feature.name.to_string())
        .collect();
    let (message, near) = match (&request.feature, &request.describe) {
        (Some(name), _) => (
            format!("no feature named `{name}`, and no domain's keywords match it"),
            suggest::closest(name, features.iter().map(String::as_str))
                .first()
                .map(|best| format!("did you mean `{best}`? ")),
        ),
        (None, Some(text)) => (format!("no domain's keywords match \"{text}\""), None),
        (None, None) => (String::from("nothing to bundle"), None),
    };
    Error::Usage {
        message,
        help: Some(format!(
            "{}declared features: {}; domains and their keywords: {}",
            near.unwrap_or_default(),
            suggest::list(&features),
            keywords.join("; ")
        )),
    }
}

/// Inputs against the feature's declared inputs: unknown keys are errors, and so are
/// missing inputs when `require`d.
pub(super) fn inputs(
    feature: &Feature,
    given: &[(String, String)],
    require: bool,
) -> Result<BTreeMap<String, String>, Error> {
    let known: Vec<String> = feature
        .inputs
        .iter()
        .map(|input| input.key.clone())
        .collect();
    let mut values = BTreeMap::new();
    for (key, value) in given {
        if !known.iter().any(|name| name == key) {
            let near = suggest::closest(key, known.iter().map(String::as_str));
            let hint = near
                .first()
                .map(|best| format!("did you mean `{best}`? "))
                .unwrap_or_default();
            return Err(Error::Usage {
                message: format!("feature `{}` has no input `{key}`", feature.name),
                help: Some(if known.is_empty() {
                    String::from("this feature declares no inputs")
                } else {
                    format!("{hint}its inputs: {}", suggest::list(&known))
                }),
            });
        }
        values.insert(key.clone(), value.clone());
    }
    let missing: Vec<String> = feature
        .inputs
        .iter()
        .filter(|input| !values.contains_key(&input.key))
        .map(|input| format!("`{}` ({})", input.key, input.description))
        .collect();
    if require && !missing.is_empty() {
        return Err(Error::Usage {
            message: format!("feature `{}` needs {}", feature.name, missing.join(", ")),
            help: Some(format!(
                "pass {}",
                feature
                    .inputs
                    .iter()
                    .filter(|input| !values.contains_key(&input.key))
                    .map(|input| format!("`--set {}=...`", input.key))
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
        });
    }
    Ok(values)
}

/// A usage error for a name nothing declares, with `did you mean` and the known names.
pub fn unknown(kind: &str, name: &str, known: &[String]) -> Error {
    let near = suggest::closest(name, known.iter().map(String::as_str));
    let hint = near
        .first()
        .map(|best| format!("did you mean `{best}`? "))
        .unwrap_or_default();
    Error::Usage {
        message: format!("no {kind} named `{name}`"),
        help: Some(format!("{hint}declared {kind}s: {}", suggest::list(known))),
    }
}

fn names<'w, T: 'w>(
    items: impl IntoIterator<Item = &'w T>,
    name: impl Fn(&T) -> String,
) -> Vec<String> {
    items.into_iter().map(name).collect()
}

pub(super) fn find_feature<'w>(workspace: &'w Workspace, name: &str) -> Result<&'w Feature, Error> {
    workspace.feature(name).ok_or_else(|| {
        let known = names(&workspace.features, |feature| feature.name.to_string());
        unknown("feature", name, &known)
    })
}

pub(super) fn find_domain<'w>(workspace: &'w Workspace, name: &str) -> Result<&'w Domain, Error> {
    workspace.domain(name).ok_or_else(|| {
        let known = names(&workspace.domains, |domain| domain.name.to_string());
        unknown("domain", name, &known)
    })
}

pub(super) fn find_service<'w>(workspace: &'w Workspace, name: &str) -> Result<&'w Service, Error> {
    workspace.service(name).ok_or_else(|| {
        let known = names(&workspace.services, |service| service.name.to_string());
        unknown("service", name, &known)
    })
}

pub(super) fn find_agent<'w>(workspace: &'w Workspace, name: &str) -> Result<&'w Agent, Error> {
    workspace
        .agents
        .iter()
        .find(|agent| agent.name.as_str() == name)
        .ok_or_else(|| {
            let known = names(&workspace.agents, |agent| agent.name.to_string());
            unknown("agent", name, &known)
        })
}
