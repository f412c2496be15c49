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

use super::convert::Converter;
use super::diagnostic::{Location, Problem, SourceFile};
use super::load::{Loaded, locate};
use super::model::{self, Document, KINDS, Spanned};
use super::settings::Settings;
use super::suggest;
use super::workspace::{Origin, Workspace};
use crate::date::Date;
use crate::paths;

mod cycles;
mod documents;
mod expiry;
mod feature;
mod names;

pub use cycles::find_cycles;
pub use expiry::{EXPIRY_WARNING_DAYS, all_metas};

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
    lock: &super::lock::Read,
    locked: bool,
) -> Validation {
    let mut problems = loaded.problems.clone();
    let ByKind {
        orgs,
        domains,
        services,
        features,
        agents,
        strategies,
    } = by_kind(loaded, &mut problems);

    // 1. Unique names.
    let name_of = |name: &Spanned<String>| name.value.clone();
    names::check(
        &orgs,
        &domains,
        &services,
        &features,
        &agents,
        &strategies,
        &mut problems,
    );

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
    let tables = documents::Tables {
        org: orgs.first().map(|org| org.wire),
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
        broken: &loaded.broken,
        imported: domains
            .iter()
            .map(|domain| {
                (
                    ("domain", domain.wire.name.value.as_str()),
                    domain.file.imported.as_deref(),
                )
            })
            .chain(services.iter().map(|service| {
                (
                    ("service", service.wire.name.value.as_str()),
                    service.file.imported.as_deref(),
                )
            }))
            .collect(),
        strategies: strategies.iter().map(|strategy| strategy.wire).collect(),
    };

    // 2 and 3. Fields and references, document by document.
    let mut workspace = Workspace {
        root: root.to_path_buf(),
        settings: settings.clone(),
        org: None,
        domains: Vec::new(),
        services: Vec::new(),
        features: Vec::new(),
        strategies: Vec::new(),
        agents: Vec::new(),
        resolver: Arc::clone(&resolver),
        names: std::sync::OnceLock::new(),
    };
    let group_names: Vec<String> = settings.groups.keys().cloned().collect();
    let context = Context {
        resolver: &resolver,
        max_file_bytes: settings.max_file_bytes,
        agents: &agent_names,
        groups: &group_names,
    };
    workspace.org = convert_each(
        &orgs[..orgs.len().min(1)],
        &context,
        &mut problems,
        documents::org,
    )
    .pop();
    workspace.domains = convert_each(&domains, &context, &mut problems, documents::domain);
    workspace.services = convert_each(&services, &context, &mut problems, |convert, wire| {
        documents::service(convert, wire, &tables)
    });
    workspace.features = convert_each(&features, &context, &mut problems, |convert, wire| {
        feature::feature(convert, wire, &tables)
    });
    workspace.strategies = convert_each(&strategies, &context, &mut problems, |convert, wire| {
        feature::strategy(convert, wire, &tables)
    });
    workspace.agents = convert_each(&agents, &context, &mut problems, documents::agent);

    // 4. Cycles.
    cycles::check(&services, &mut problems);

    // 5 and 6. Overrides, expiry, inputs and drift, on the typed workspace.
    workspace_checks(&workspace, loaded, today, lock, locked, &mut problems);
    Validation {
        workspace,
        problems,
    }
}

/// The checks that need the typed workspace: overrides along the lineage, expiry,
/// `{{ inputs.KEY }}` references, drift against `ctx.lock`, and the sources' checkouts.
fn workspace_checks(
    workspace: &Workspace,
    loaded: &Loaded,
    today: Date,
    lock: &super::lock::Read,
    locked: bool,
    problems: &mut Vec<Problem>,
) {
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
    super::lineage::check(workspace, &loaded.broken, &at, problems);
    expiry::check(workspace, today, &at, problems);
    feature::check_placeholders(workspace, &at, problems);
    super::lock::check(workspace, lock, locked, &at, problems);
    if locked
        && !workspace.settings.sources.is_empty()
        && let Ok(Some(lock)) = lock
    {
        problems.extend(super::sources::verify(
            &workspace.root,
            &workspace.settings.sources,
            lock,
        ));
    }
}

/// The documents loaded, sorted by kind.
struct ByKind<'a> {
    orgs: Vec<Declared<'a, model::Org>>,
    domains: Vec<Declared<'a, model::Domain>>,
    services: Vec<Declared<'a, model::Service>>,
    features: Vec<Declared<'a, model::Feature>>,
    agents: Vec<Declared<'a, model::Agent>>,
    strategies: Vec<Declared<'a, model::Strategy>>,
}

/// Sort the documents by kind; an unknown or missing `kind` is a problem.
fn by_kind<'a>(loaded: &'a Loaded, problems: &mut Vec<Problem>) -> ByKind<'a> {
    let mut orgs = Vec::new();
    let mut domains = Vec::new();
    let mut services = Vec::new();
    let mut features = Vec::new();
    let mut agents = Vec::new();
    let mut strategies = Vec::new();
    for loaded_document in &loaded.documents {
        let file = &loaded_document.file;
        match &loaded_document.document {
            Document::Org(wire) => orgs.push(Declared { file, wire }),
            Document::Domain(wire) => domains.push(Declared { file, wire }),
            Document::Service(wire) => services.push(Declared { file, wire }),
            Document::Feature(wire) => features.push(Declared { file, wire }),
            Document::Agent(wire) => agents.push(Declared { file, wire }),
            Document::Strategy(wire) => strategies.push(Declared { file, wire }),
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
                    .help("start every document with `kind:` (org, domain, strategy, service, feature or agent), then `name:`"),
                );
            }
        }
    }

    ByKind {
        orgs,
        domains,
        services,
        features,
        agents,
        strategies,
    }
}

/// What every document conversion shares.
struct Context<'a> {
    resolver: &'a paths::Resolver,
    max_file_bytes: u64,
    agents: &'a [String],
    groups: &'a [String],
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
            groups: context.groups,
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
