//! Building a bundle: merged items → files read → tokens counted → budget applied →
//! sealed with a digest. The result is the [`Bundle`] that JSON and Markdown render.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::budget;
use super::cache::{FileKey, Learning, Preload, Saving, TokenCache};
use super::files;
use super::generated;
use super::inline::{self, Found, Learned};
use super::measure::{Document, Measurer};
use super::model::{
    Bundle, GateJson, ItemJson, KeywordMatch, LayerJson, OriginJson, PhaseConstraintJson,
    PhaseJson, PhasePatternJson, Rare, ScopeJson, ScopeKind, SecretJson, TokensJson,
    ValidationJson,
};
use super::render::RenderError;
use super::tokens;
use crate::config::placeholders;
use crate::config::settings::{SecretsMode, Tokenizer};
use crate::config::workspace::{
    Agent, AgentSection, DomainPatterns, Feature, LayerKind, Origin, Section, Strategy,
    ValidationStep, Workspace,
};
use crate::date::Date;
use crate::ids::{GateId, ItemId, LayerId};
use crate::paths::{self, Resolver};
use crate::resolve::lineage::{self as layer, Scope};
use crate::resolve::merge::{self, Merged, MergedItem, Payload, Status};

/// What a bundle is built with.
#[derive(Debug)]
pub struct Options {
    pub tokenizer: Tokenizer,
    /// Token budget; 0 = unlimited.
    pub budget: u64,
    pub today: Date,
    pub inputs: BTreeMap<String, String>,
    /// Root-relative path of the output file, never included in itself.
    pub exclude: Option<String>,
    /// What to do with secrets in inlined files.
    pub secrets: SecretsMode,
    /// Use (and update) the token cache in `.ctx/cache/`.
    pub cache: CacheUse,
    /// The document the bundle is written as: the budget bounds it, the total counts it.
    pub document: Document,
    /// Whether extensions run (and with what); by default they do not.
    pub extensions: generated::Extensions,
}

/// Whether a build uses the token cache, and a read of it already under way.
#[derive(Debug)]
pub enum CacheUse {
    On(Option<Preload>),
    Off,
}

/// Why a bundle cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    OverBudget(#[from] budget::OverBudget),
    /// The document could not be rendered to be measured.
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("{} secret{} found in inlined files and `secrets.mode` is `fail`", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Secrets(Vec<SecretJson>),
}

/// What to bundle: a scope, its name, and whose view.
#[derive(Debug, Clone)]
pub struct Request<'w> {
    /// The feature's name, the ad-hoc name, or the service's name.
    pub name: String,
    pub kind: ScopeKind,
    pub description: Option<String>,
    pub scope: Scope<'w>,
    pub agent: Option<&'w Agent>,
    /// For an ad-hoc scope chosen by words: the domains that matched, and by which keywords.
    pub matched: Vec<KeywordMatch>,
    /// What the bundle is handed at build time (a change, a parent's execution): its
    /// own layer, the most specific.
    pub execution: Option<Execution>,
}

/// The execution layer: what a bundle is handed at build time rather than declared.
#[derive(Debug, Clone)]
pub struct Execution {
    /// The layer's name: `changes`, or `parent`.
    pub name: String,
    pub description: Option<String>,
    /// Where its content comes from (a run's record, a bundle file, `git diff`).
    pub origin: OriginJson,
    /// Why the layer is there.
    pub why: String,
    /// Its items: the diff of each changed file, failed gates' output.
    pub made: Vec<generated::Made>,
    pub parent: Option<super::model::ParentJson>,
    pub changes: Option<super::model::ChangesJson>,
}

/// Build a bundle; the token cache it learned from is saved while it is written (the
/// [`Saving`] waits for that when dropped).
pub fn build(
    workspace: &Workspace,
    request: &Request<'_>,
    mut options: Options,
) -> Result<(Bundle, Saving), BuildError> {
    let plans = layer::for_scope(workspace, &request.scope);
    let mut merged = merge::merge(&plans, options.today);
    // The strategies that apply, in layer order.
    let strategies: Vec<&Strategy> = plans
        .iter()
        .filter(|plan| plan.id.kind == LayerKind::Strategy)
        .filter_map(|plan| workspace.strategy(&plan.id.name))
        .collect();
    let private = apply_agent(&mut merged, request.agent);
    if let Some(feature) = request.scope.feature {
        apply_feature(&mut merged, feature, &strategies);
    }
    let resolver = &*workspace.resolver;
    let mut cache = match std::mem::replace(&mut options.cache, CacheUse::Off) {
        CacheUse::On(preload) => TokenCache::open_with(&workspace.root, preload),
        CacheUse::Off => TokenCache::disabled(),
    };
    let options = &options;
    let Expanded {
        mut items,
        jobs,
        mut notes,
    } = expand(&merged, resolver, options);
    let limits = inline::Limits {
        max_bytes: workspace.settings.max_file_bytes,
        secrets: options.secrets,
        tokenizer: options.tokenizer,
        document: options.document,
    };
    // Files are read, scanned and counted on all cores; a text met again is not.
    let learning = Learning::default();
    let inlined = crate::parallel::map(&jobs, |job| {
        let item = &items[job.item];
        let file = item.shared_path().unwrap_or_else(|| Arc::from(""));
        inline::one(
            &file,
            job.lines,
            &item.id,
            resolver,
            limits,
            (&cache, &learning),
        )
    });
    // This thread counted too; its memo is not needed for the short texts left, nor is
    // what the inlining learned (each file's result holds it for the cache).
    super::tokens::forget_memo();
    drop(learning);
    let mut found = Vec::new();
    for (job, done) in jobs.iter().zip(inlined) {
        absorb(
            job,
            done,
            &mut items[job.item],
            &mut cache,
            &mut notes,
            &mut found,
        );
    }
    inline_once(&mut items);
    // `{{ inputs.KEY }}` in rules and `why`s becomes the input's value (before the
    // secret scan and the count: both see what is written).
    fill_inputs(
        items
            .iter_mut()
            .flat_map(|item| [&mut item.text, &mut item.why].into_iter().flatten()),
        &options.inputs,
    );
    // Secrets in the configuration's own text (a rule, a `why`, a gate's command) never
    // reach an output either.
    if options.secrets != SecretsMode::Off {
        scrub_items(&mut items, &mut found);
    }
    count_texts(&mut items, &mut cache, options.tokenizer);
    // In the order met: each note sits before the item it was met at (a stable sort).
    notes.sort_by_key(|(at, _)| *at);
    let notes: Vec<String> = notes.into_iter().map(|(_, note)| note).collect();
    if options.secrets == SecretsMode::Fail && !found.is_empty() {
        return Err(BuildError::Secrets(found));
    }
    let gates = gate_list(&items);
    let mut phases = plan(
        request,
        &strategies,
        &gates,
        &items,
        &private,
        &options.inputs,
    );
    if options.secrets != SecretsMode::Off {
        scrub_phases(&mut phases, &request.name, &mut found);
        if options.secrets == SecretsMode::Fail && !found.is_empty() {
            return Err(BuildError::Secrets(found));
        }
    }
    let mut layers = layer_list(&plans, &BTreeMap::new());
    let extensions = run_extensions(&plans, request, options, workspace);
    let mut with = MakeWith {
        workspace,
        options,
        cache: &mut cache,
        found: &mut found,
    };
    add_made(extensions, request.agent, &mut with, &layers, &mut items)?;
    if let Some(execution) = &request.execution {
        add_execution(execution, request.agent, &mut with, &mut layers, &mut items)?;
    }
    let mut bundle = assemble(
        request,
        options,
        Parts {
            layers,
            items,
            phases,
            gates,
            notes,
            found,
        },
    );
    if options.secrets != SecretsMode::Off {
        scrub_descriptions(&mut bundle, &request.name);
        if options.secrets == SecretsMode::Fail && !bundle.secrets.is_empty() {
            return Err(BuildError::Secrets(std::mem::take(&mut bundle.secrets)));
        }
    }
    let fitted = fit(&mut bundle, workspace, options, &mut cache);
    // Saved while the bundle is written.
    let saving = cache.save_in_background();
    bundle.tokens.total = fitted?;
    if let Some(parent) = &bundle.parent {
        bundle.tokens.cumulative = Some(parent.cumulative + bundle.tokens.total);
    }
    Ok((bundle, saving))
}

/// What a bundle is made of, before it is sealed and fitted.
struct Parts {
    layers: Vec<LayerJson>,
    items: Vec<ItemJson>,
    phases: Vec<PhaseJson>,
    gates: Vec<GateJson>,
    notes: Vec<String>,
    found: Vec<SecretJson>,
}

/// The bundle of a request's parts, its total not counted yet.
fn assemble(request: &Request<'_>, options: &Options, parts: Parts) -> Bundle {
    let Parts {
        layers,
        items,
        phases,
        gates,
        notes,
        found,
    } = parts;
    Bundle {
        schema: "ctx.bundle/v1",
        feature: Some(request.name.clone()),
        description: request.description.clone(),
        agent: request.agent.map(|agent| agent.name.to_string()),
        scope: ScopeJson {
            kind: request.kind,
            domains: request
                .scope
                .domains
                .iter()
                .map(|domain| domain.name.to_string())
                .collect(),
            services: request
                .scope
                .services
                .iter()
                .map(|service| service.name.to_string())
                .collect(),
        },
        changes: request
            .execution
            .as_ref()
            .and_then(|execution| execution.changes.clone()),
        parent: request
            .execution
            .as_ref()
            .and_then(|execution| execution.parent.clone()),
        inputs: options.inputs.clone(),
        layers,
        items,
        phases,
        quality_gates: gates,
        tokens: TokensJson {
            total: 0,
            budget: options.budget,
            tokenizer: tokens::name(options.tokenizer),
            by_layer: BTreeMap::new(),
            cumulative: request
                .execution
                .as_ref()
                .and_then(|execution| execution.parent.as_ref())
                .map(|parent| parent.cumulative),
        },
        notes,
        secrets: found,
        digest: String::new(),
        matched: request.matched.clone(),
        measured: None,
    }
}

/// What making items at build time needs.
struct MakeWith<'a> {
    workspace: &'a Workspace,
    options: &'a Options,
    cache: &'a mut TokenCache,
    found: &'a mut Vec<SecretJson>,
}

/// The execution layer: its header, then its items, placed last.
fn add_execution(
    execution: &Execution,
    agent: Option<&Agent>,
    with: &mut MakeWith<'_>,
    layers: &mut Vec<LayerJson>,
    items: &mut Vec<ItemJson>,
) -> Result<(), BuildError> {
    layers.push(LayerJson {
        kind: LayerKind::Execution,
        name: execution.name.clone(),
        description: execution.description.clone(),
        origin: execution.origin.clone(),
        tokens: 0,
        why: Some(execution.why.clone()),
    });
    add_made(execution.made.clone(), agent, with, layers, items)
}

/// Items made at build time (an extension's output, a diff, a failed gate's tail):
/// scanned, counted, held, each placed after the items of its layer; an agent view
/// filters them like patterns.
fn add_made(
    made: Vec<generated::Made>,
    agent: Option<&Agent>,
    with: &mut MakeWith<'_>,
    layers: &[LayerJson],
    items: &mut Vec<ItemJson>,
) -> Result<(), BuildError> {
    let MakeWith {
        workspace,
        options,
        cache,
        found,
    } = with;
    let limits = generated::Limits {
        secrets: options.secrets,
        tokenizer: options.tokenizer,
        document: options.document,
        max_bytes: workspace.settings.max_file_bytes,
    };
    let made = made
        .into_iter()
        .map(|made| {
            let mut item = generated::item(made, limits, cache, found);
            if let Some(agent) = agent
                && !visible_to(agent, Section::Patterns, &item.topics)
            {
                item.status = Status::FilteredAgent;
                item.content = None;
            }
            item
        })
        .collect();
    generated::place(items, made, layers);
    if options.secrets == SecretsMode::Fail && !found.is_empty() {
        return Err(BuildError::Secrets(std::mem::take(found)));
    }
    Ok(())
}

/// The extensions of every layer the view may see, each run on a thread of its own when
/// they are allowed (each is bounded by its timeout), else listed as skipped.
fn run_extensions(
    plans: &[layer::LayerPlan<'_>],
    request: &Request<'_>,
    options: &Options,
    workspace: &Workspace,
) -> Vec<generated::Made> {
    let max_bytes = workspace.settings.max_file_bytes;
    let jobs: Vec<(&LayerId, &crate::config::workspace::ExtensionItem)> = plans
        .iter()
        .flat_map(|plan| {
            plan.extensions
                .iter()
                .map(move |extension| (&plan.id, *extension))
        })
        .filter(|(_, extension)| in_audience(&extension.meta.audience, request.agent))
        .collect();
    if jobs.is_empty() {
        return Vec::new();
    }
    let domains: Vec<String> = request
        .scope
        .domains
        .iter()
        .map(|domain| domain.name.to_string())
        .collect();
    let services: Vec<String> = request
        .scope
        .services
        .iter()
        .map(|service| service.name.to_string())
        .collect();
    let one = |layer: &LayerId, extension: &crate::config::workspace::ExtensionItem| {
        let origin = origin_json(&extension.meta.origin);
        let left = if extension.meta.enabled == Some(false) {
            Some((Status::Disabled, String::from("`enabled: false`: not run")))
        } else {
            extension
                .meta
                .expires
                .filter(|expires| *expires < options.today)
                .map(|expires| (Status::Expired, format!("expired on {expires}: not run")))
        };
        if let Some((status, why)) = left {
            let mut made = generated::extension_made(layer, extension, origin, None);
            for made in &mut made {
                made.text = generated::Text::Left(status, why.clone());
            }
            return made;
        }
        let ran = match &options.extensions {
            generated::Extensions::NotAllowed => None,
            generated::Extensions::Allowed(runner) => Some(runner(&generated::Call {
                layer,
                extension,
                bundle: &request.name,
                kind: request.kind,
                domains: domains.clone(),
                services: services.clone(),
                agent: request.agent.map(|agent| agent.name.as_str()),
                inputs: &options.inputs,
                max_bytes,
            })),
        };
        generated::extension_made(layer, extension, origin, ran)
    };
    std::thread::scope(|scope| {
        // One thread each; one that cannot be started runs its extension here instead.
        let handles: Vec<_> = jobs
            .iter()
            .map(|(layer, extension)| {
                std::thread::Builder::new()
                    .spawn_scoped(scope, || one(layer, extension))
                    .map_err(|_| one(layer, extension))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| match handle {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(made) => made,
            })
            .collect()
    })
}

/// The tokens of constraints and gate commands (file items have neither).
fn count_texts(items: &mut [ItemJson], cache: &mut TokenCache, tokenizer: Tokenizer) {
    for item in items {
        if let Some(text) = item.text.as_deref().or(item.rare().run.as_deref()) {
            item.tokens = cache.count(tokenizer, text);
        }
    }
}

/// An item's file and lines.
type Place<'i> = (Option<&'i str>, Option<(usize, usize)>);

/// Two items naming the same file and lines inline it once: the one shed last (a
/// pattern before an example, the most specific layer, then the first) holds the
/// content; each other points at it (`same_as`), holds none and counts 0.
fn inline_once(items: &mut [ItemJson]) {
    fn key(item: &ItemJson) -> Option<Place<'_>> {
        (item.status == Status::Included && item.content.is_some()).then(|| {
            (
                item.path(),
                item.lines.map(|lines| (lines.start, lines.end)),
            )
        })
    }
    let rank = |item: &ItemJson| {
        (
            usize::from(item.section() == Section::Patterns),
            item.layer().kind as usize,
        )
    };
    // Items with content, grouped by file and lines (a stable sort: each group in item
    // order), rather than a map holding a copy of every path.
    let mut order: Vec<usize> = (0..items.len())
        .filter(|&index| key(&items[index]).is_some())
        .collect();
    order.sort_by(|&a, &b| key(&items[a]).cmp(&key(&items[b])));
    let mut same: Vec<(usize, usize)> = Vec::new();
    for group in order.chunk_by(|&a, &b| key(&items[a]) == key(&items[b])) {
        let holder = group.iter().copied().fold(group[0], |best, index| {
            if rank(&items[index]) > rank(&items[best]) {
                index
            } else {
                best
            }
        });
        same.extend(
            group
                .iter()
                .filter(|&&index| index != holder)
                .map(|&index| (index, holder)),
        );
    }
    for (index, holder) in same {
        let same_as = items[holder].id.clone();
        let item = &mut items[index];
        item.content = None;
        item.tokens = 0;
        item.rare_mut().same_as = Some(same_as);
    }
}

/// Fit the bundle to its budget against the exact count of its document, each state's
/// total taken from the token cache when a run counted it before.
fn fit(
    bundle: &mut Bundle,
    workspace: &Workspace,
    options: &Options,
    cache: &mut TokenCache,
) -> Result<usize, BuildError> {
    let measurer = Measurer::new(
        options.document,
        &workspace.root,
        &workspace.settings.template,
        options.tokenizer,
    );
    let slot = super::cache::slot(options.tokenizer);
    let total = budget::fit(bundle, options.budget, &mut |bundle| {
        tally(bundle);
        bundle.seal();
        let key = measurer.key(&bundle.digest);
        if let Some(total) = cache.get(&key).tokens[slot] {
            return Ok(total as usize);
        }
        let total = measurer.count(bundle, cache)?;
        let mut known = super::cache::Entry::default();
        known.tokens[slot] = u32::try_from(total).ok();
        cache.record(&key, known);
        Ok::<_, BuildError>(total)
    })?;
    // The document just counted is written as it is, unless the bundle changed since.
    bundle.measured = measurer.into_measured(bundle).map(Arc::new);
    Ok(total)
}

/// The tokens of the included items, by layer (file contents, rules and commands: what
/// each layer contributes, without the document around them).
fn tally(bundle: &mut Bundle) {
    let mut by_layer = BTreeMap::new();
    for item in bundle
        .items
        .iter()
        .filter(|item| item.status == Status::Included)
    {
        *by_layer.entry(item.layer().clone()).or_insert(0) += item.tokens;
    }
    for layer in &mut bundle.layers {
        layer.tokens = by_layer
            .get(&LayerId::new(layer.kind, layer.name.as_str()))
            .copied()
            .unwrap_or(0);
    }
    bundle.tokens.by_layer = by_layer;
}

/// The bundle's layers, each with its tokens.
fn layer_list(
    plans: &[layer::LayerPlan<'_>],
    by_layer: &BTreeMap<LayerId, usize>,
) -> Vec<LayerJson> {
    plans
        .iter()
        .map(|plan| LayerJson {
            kind: plan.id.kind,
            name: plan.id.name.to_string(),
            description: plan.description.map(str::to_owned),
            origin: origin_json(&plan.origin),
            tokens: by_layer.get(&plan.id).copied().unwrap_or(0),
            why: plan.why.clone(),
        })
        .collect()
}

/// Redact secrets in descriptions and in the inputs given with `--set`.
fn scrub_descriptions(bundle: &mut Bundle, name: &str) {
    let feature = ItemId::new(
        LayerId::new(LayerKind::Feature, name),
        Section::Constraints,
        "description",
    );
    let first = bundle.layers.last().map(|layer| layer.origin.clone());
    let mut found = std::mem::take(&mut bundle.secrets);
    if let Some(origin) = &first {
        let at = SecretAt {
            path: origin.file.to_string(),
            line: origin.line,
            item: feature.clone(),
        };
        scrub_field(&mut bundle.description, &at, &mut found);
    }
    for layer in &mut bundle.layers {
        let at = SecretAt {
            path: layer.origin.file.to_string(),
            line: layer.origin.line,
            item: ItemId::new(
                LayerId::new(layer.kind, layer.name.clone()),
                Section::Constraints,
                "description",
            ),
        };
        scrub_field(&mut layer.description, &at, &mut found);
    }
    for (key, value) in &mut bundle.inputs {
        let at = SecretAt {
            path: format!("--set {key}"),
            line: 1,
            item: feature.clone(),
        };
        let mut text = Some(std::mem::take(value));
        scrub_field(&mut text, &at, &mut found);
        *value = text.unwrap_or_default();
    }
    bundle.secrets = found;
}

/// Agent views (SPEC §2.6). Items with an `audience` exist only for those agents: for
/// anyone else they are removed outright, not even listed. For an agent, items outside
/// its `sections`, or tagged only with topics it does not follow, are `filtered-agent`.
/// Apply a view: private items outside their audience are removed (their keys are
/// returned, so that nothing else names them: a phase's pattern or gate, say), and
/// items off the agent's topics or sections are marked `filtered-agent`.
/// A feature that takes only the domain patterns its phases name (`domain_patterns:
/// named`) leaves the others out, listed as `filtered-feature`; the phases of the
/// strategies that apply name patterns too.
fn apply_feature(merged: &mut Merged, feature: &Feature, strategies: &[&Strategy]) {
    if feature.domain_patterns != DomainPatterns::Named {
        return;
    }
    let named: Vec<&str> = feature
        .phases
        .iter()
        .chain(strategies.iter().flat_map(|strategy| &strategy.phases))
        .flat_map(|phase| phase.patterns.iter().map(String::as_str))
        .collect();
    for item in &mut merged.items {
        if item.status == Status::Included
            && item.section == Section::Patterns
            && merged.layers[item.layer].kind == LayerKind::Domain
            && !named.contains(&item.key.as_str())
        {
            item.status = Status::FilteredFeature;
        }
    }
}

fn apply_agent(merged: &mut Merged, agent: Option<&Agent>) -> Vec<(Section, String)> {
    let mut private: Vec<(Section, String)> = Vec::new();
    merged.items.retain(|item| {
        let visible = in_audience(&item.audience, agent);
        if !visible {
            private.push((item.section, item.key.clone()));
        }
        visible
    });
    if let Some(agent) = agent {
        for item in &mut merged.items {
            if item.status == Status::Included && !visible_to(agent, item.section, &item.topics) {
                item.status = Status::FilteredAgent;
            }
        }
    }
    // A key some visible item also has is not secret.
    private.retain(|(section, key)| {
        !merged
            .items
            .iter()
            .any(|item| item.section == *section && item.key == *key)
    });
    private
}

/// The privacy rule: an item with an `audience` exists only for those agents.
fn in_audience<Name: AsRef<str>>(audience: &[Name], agent: Option<&Agent>) -> bool {
    audience.is_empty()
        || agent.is_some_and(|agent| {
            audience
                .iter()
                .any(|name| name.as_ref() == agent.name.as_str())
        })
}

/// Whether an agent sees an item of `section` tagged with `topics`.
pub fn visible_to(agent: &Agent, section: Section, topics: &[String]) -> bool {
    let wanted = match section {
        Section::Patterns => AgentSection::Patterns,
        Section::Constraints => AgentSection::Constraints,
        Section::QualityGates => AgentSection::QualityGates,
        Section::Examples => AgentSection::Examples,
    };
    let in_sections = agent
        .sections
        .as_ref()
        .is_none_or(|sections| sections.contains(&wanted));
    let on_topic = agent.topics.is_empty()
        || topics.is_empty()
        || topics.iter().any(|topic| {
            agent
                .topics
                .iter()
                .any(|followed| followed.as_str() == topic)
        });
    in_sections && on_topic
}

pub fn origin_json(origin: &Origin) -> OriginJson {
    OriginJson {
        file: origin.file.as_str().into(),
        line: origin.line,
    }
}

/// Take one file's inlining result into its item, the notes, the secrets found and
/// the token cache.
fn absorb(
    job: &inline::Job,
    done: inline::Inlined,
    item: &mut ItemJson,
    cache: &mut TokenCache,
    notes: &mut Vec<(usize, String)>,
    found: &mut Vec<SecretJson>,
) {
    match done.learned {
        Learned::Nothing => {}
        // The key again, rather than 32 bytes more in each of a repeated bundle's results.
        Learned::Remembered(hash) => {
            let file = item.path().unwrap_or_default();
            cache.reuse(&FileKey::of(file, job.lines), &hash);
        }
        Learned::Read(read) => {
            for (hash, entry) in read.texts {
                cache.record(&hash, entry);
            }
            if let Some((key, seen)) = read.seen {
                cache.record_seen(&key, seen);
            }
        }
    }
    item.status = done.status.unwrap_or(item.status);
    item.tokens = done.tokens;
    item.content = done.content;
    if let Some(extra) = done.found {
        let Found {
            note,
            notes: more,
            secrets,
        } = *extra;
        notes.extend(more.into_iter().map(|note| (job.item, note)));
        found.extend(secrets);
        if let Some(note) = note {
            item.rare_mut().note = Some(note);
        }
    }
}

/// The bundle's items in order, before files are read.
struct Expanded {
    items: Vec<ItemJson>,
    /// The files to inline, each naming its item in `items`.
    jobs: Vec<inline::Job>,
    /// Notes met on the way, each with the index of the item it precedes.
    notes: Vec<(usize, String)>,
}

/// One output item per merged item, except that patterns and examples become one item per
/// file (globs and folders expanded, sorted).
fn expand(merged: &Merged, resolver: &Resolver, options: &Options) -> Expanded {
    let mut out = Expanded {
        items: Vec::new(),
        jobs: Vec::new(),
        notes: Vec::new(),
    };
    for item in &merged.items {
        let base = base_item(item, &merged.layers);
        let (files, lines) = match (&item.payload, item.status) {
            (
                Payload::Pattern {
                    path: Some(path),
                    lines,
                    ..
                },
                Status::Included,
            ) => (files_of(resolver, path, false, options, &mut out), *lines),
            (Payload::Example { path }, Status::Included) => {
                (files_of(resolver, path, true, options, &mut out), None)
            }
            _ => {
                out.items.push(base);
                continue;
            }
        };
        let single = files.len() == 1
            && matches!(&item.payload, Payload::Pattern { path: Some(path), .. } if !paths::is_glob(path));
        for file in files {
            let mut entry = base.clone();
            entry.lines = lines;
            entry.language = Some(files::language(&file));
            if let Payload::Example { .. } = item.payload {
                entry.id = ItemId::new(
                    merged.layers[item.layer].clone(),
                    Section::Examples,
                    file.clone(),
                );
                entry.own_path = Some(file);
            } else if single {
                entry.own_path = Some(file);
            } else {
                // The id names the file: the item's path is read from it.
                entry.id = base.id.with_file(file);
                entry.own_path = None;
            }
            out.jobs.push(inline::Job {
                item: out.items.len(),
                lines,
            });
            out.items.push(entry);
        }
    }
    // Tens of thousands of items on a large tree: no growth slack kept.
    out.items.shrink_to_fit();
    out.jobs.shrink_to_fit();
    out
}

/// The files a pattern path or example entry names, sorted; the output file excluded.
/// Problems become notes.
fn files_of(
    resolver: &Resolver,
    path: &str,
    folders: bool,
    options: &Options,
    out: &mut Expanded,
) -> Vec<Arc<str>> {
    let at = out.items.len();
    let mut note = |text: String| out.notes.push((at, text));
    let mut found: Vec<Arc<str>> = if paths::is_glob(path) {
        match resolver.expand_glob(path) {
            Ok(matches) => matches
                .into_iter()
                .filter_map(|matched| match matched {
                    Ok(file) => Some(file),
                    Err((file, error)) => {
                        note(format!("`{file}` (matched by `{path}`) {error}; not read"));
                        None
                    }
                })
                .collect(),
            Err(error) => {
                note(format!("`{path}` {error}; not read"));
                Vec::new()
            }
        }
    } else {
        match resolver.resolve_kind(path) {
            Ok((_, true)) if folders => resolver
                .files_under(path.trim_start_matches("./"))
                .iter()
                .map(|entry| entry.path.clone())
                .collect(),
            Ok(_) => vec![path.trim_start_matches("./").into()],
            Err(error) => {
                note(format!("`{path}` {error}; not read"));
                Vec::new()
            }
        }
    };
    if let Some(excluded) = &options.exclude {
        found.retain(|file| **file != **excluded);
    }
    found
}

fn base_item(item: &MergedItem, layers: &[LayerId]) -> ItemJson {
    let rare = Rare {
        from_service: item.from_service.clone(),
        also_from: item.also_from.clone(),
        expires: item.expires,
        overridden_by: item.overridden_by.iter().map(origin_json).collect(),
        changed_by: item.changed_by.iter().map(origin_json).collect(),
        text_from: item.text_from.as_ref().map(origin_json),
        ..Rare::default()
    };
    let has_rare = rare.from_service.is_some()
        || !rare.also_from.is_empty()
        || rare.expires.is_some()
        || !rare.overridden_by.is_empty()
        || !rare.changed_by.is_empty()
        || rare.text_from.is_some();
    let mut json = ItemJson {
        id: item.id(layers),
        origin: origin_json(&item.origin),
        own_path: None,
        lines: None,
        why: None,
        text: None,
        topics: item.topics.clone(),
        tokens: 0,
        status: item.status,
        overrides: item.overrides.iter().map(origin_json).collect(),
        language: None,
        content: None,
        rare: has_rare.then(|| Box::new(rare)),
    };
    match &item.payload {
        Payload::Pattern { path, lines, why } => {
            json.own_path = path.as_deref().map(Arc::from);
            json.lines = *lines;
            json.why.clone_from(why);
        }
        Payload::Constraint { text } => json.text.clone_from(text),
        Payload::Gate {
            run,
            timeout,
            cwd,
            blocking,
            ..
        } => {
            let rare = json.rare_mut();
            rare.run.clone_from(run);
            rare.timeout = *timeout;
            rare.cwd.clone_from(cwd);
            rare.blocking = Some(blocking.unwrap_or(true));
        }
        Payload::Example { path } => json.own_path = Some(path.as_str().into()),
    }
    json
}

fn gate_list(items: &[ItemJson]) -> Vec<GateJson> {
    items
        .iter()
        .filter(|item| item.section() == Section::QualityGates && item.status == Status::Included)
        .filter_map(|item| {
            let rare = item.rare();
            Some(GateJson {
                id: GateId::new(item.layer().clone(), item.key()),
                run: rare.run.clone()?,
                timeout: rare.timeout,
                cwd: rare.cwd.clone(),
                blocking: rare.blocking.unwrap_or(true),
                layer: item.layer().clone(),
                origin: item.origin.clone(),
            })
        })
        .collect()
}

fn phases(
    list: &[crate::config::workspace::Phase],
    strategy: Option<&str>,
    scope: &Scope<'_>,
    gates: &[GateJson],
    items: &[ItemJson],
    agent: Option<&Agent>,
    private: &[(Section, String)],
) -> Vec<PhaseJson> {
    let hidden = |section: Section, key: &str| {
        private
            .iter()
            .any(|(private_section, private_key)| *private_section == section && private_key == key)
    };
    list.iter()
        .map(|phase| {
            // A phase's patterns are resolved in its domains (all the scope's if it names none).
            let domains: Vec<String> = if phase.domains.is_empty() {
                scope
                    .domains
                    .iter()
                    .map(|domain| domain.name.to_string())
                    .collect()
            } else {
                phase.domains.iter().map(ToString::to_string).collect()
            };
            let patterns = phase
                .patterns
                .iter()
                .filter(|key| !hidden(Section::Patterns, key))
                .map(|key| {
                    let candidates: Vec<&ItemJson> = items
                        .iter()
                        .filter(|item| {
                            item.section() == Section::Patterns
                                && item.key() == *key
                                && item.layer().kind == LayerKind::Domain
                                && domains.iter().any(|domain| **domain == *item.layer().name)
                                && !matches!(
                                    item.status,
                                    Status::Overridden | Status::Disabled | Status::Expired
                                )
                        })
                        .collect();
                    let best = candidates
                        .iter()
                        .find(|item| item.status == Status::Included)
                        .or(candidates.first());
                    PhasePatternJson {
                        key: key.clone(),
                        id: best.map(|item| item.id.clone()),
                        path: best.and_then(|item| item.path().map(str::to_owned)),
                        status: best.map(|item| item.status),
                    }
                })
                .collect();
            PhaseJson {
                name: phase.name.clone(),
                strategy: strategy.map(str::to_owned),
                description: phase.description.clone(),
                domains: phase.domains.iter().map(ToString::to_string).collect(),
                patterns,
                constraints: phase
                    .constraints
                    .iter()
                    .filter(|item| in_audience(&item.meta.audience, agent))
                    .filter(|item| {
                        let topics: Vec<String> =
                            item.meta.topics.iter().map(ToString::to_string).collect();
                        agent.is_none_or(|agent| visible_to(agent, Section::Constraints, &topics))
                    })
                    .filter_map(|item| {
                        Some(PhaseConstraintJson {
                            key: item.meta.key.to_string(),
                            text: item.text.clone()?,
                        })
                    })
                    .collect(),
                validation: phase
                    .validation
                    .iter()
                    .filter(|step| {
                        !matches!(step, ValidationStep::Gate(name) if hidden(Section::QualityGates, name))
                    })
                    .map(|step| match step {
                        ValidationStep::Prose(text) => ValidationJson::Prose { text: text.clone() },
                        ValidationStep::Gate(name) => {
                            // The most specific layer's gate of that name is the one that runs.
                            let gate = gates.iter().rev().find(|gate| gate.id.key == *name);
                            ValidationJson::Gate {
                                name: name.clone(),
                                id: gate.map(|gate| gate.id.clone()),
                                run: gate.map(|gate| gate.run.clone()),
                            }
                        }
                    })
                    .collect(),
                origin: origin_json(&phase.origin),
            }
        })
        .collect()
}

/// The plan (a declared feature's phases, then those of the strategies that apply,
/// unless the agent's sections leave it out), with the inputs filled in.
fn plan(
    request: &Request<'_>,
    strategies: &[&Strategy],
    gates: &[GateJson],
    items: &[ItemJson],
    private: &[(Section, String)],
    inputs: &BTreeMap<String, String>,
) -> Vec<PhaseJson> {
    let show_phases = request.agent.is_none_or(|agent| {
        agent
            .sections
            .as_ref()
            .is_none_or(|sections| sections.contains(&AgentSection::Phases))
    });
    let mut phases = Vec::new();
    if show_phases {
        if let Some(feature) = request.scope.feature {
            phases = self::phases(
                &feature.phases,
                None,
                &request.scope,
                gates,
                items,
                request.agent,
                private,
            );
        }
        // Then the phases of the strategies that apply, in layer order.
        for strategy in strategies {
            let mut scope = request.scope.clone();
            scope
                .domains
                .retain(|domain| strategy.domains.contains(&domain.name));
            phases.extend(self::phases(
                &strategy.phases,
                Some(strategy.name.as_str()),
                &scope,
                gates,
                items,
                request.agent,
                private,
            ));
        }
    }
    fill_inputs(
        phases.iter_mut().flat_map(|phase| {
            phase.description.iter_mut().chain(
                phase
                    .constraints
                    .iter_mut()
                    .map(|constraint| &mut constraint.text),
            )
        }),
        inputs,
    );
    phases
}

/// Replace `{{ inputs.KEY }}` in these texts with the inputs' values.
fn fill_inputs<'a>(texts: impl Iterator<Item = &'a mut String>, inputs: &BTreeMap<String, String>) {
    if inputs.is_empty() {
        return;
    }
    for text in texts {
        if let Cow::Owned(filled) = placeholders::fill(text, inputs) {
            *text = filled;
        }
    }
}

/// Redact secrets in items' configuration text (rules, commands, `why`).
fn scrub_items(items: &mut [ItemJson], found: &mut Vec<SecretJson>) {
    for item in items {
        let at = SecretAt {
            path: item.origin.file.to_string(),
            line: item.origin.line,
            item: item.id.clone(),
        };
        scrub_field(&mut item.text, &at, found);
        scrub_field(&mut item.why, &at, found);
        if let Some(rare) = &mut item.rare {
            scrub_field(&mut rare.run, &at, found);
        }
    }
}

/// Redact secrets in phases' descriptions and constraints.
fn scrub_phases(phases: &mut [PhaseJson], feature: &str, found: &mut Vec<SecretJson>) {
    for phase in phases {
        let at = SecretAt {
            path: phase.origin.file.to_string(),
            line: phase.origin.line,
            item: ItemId::new(
                LayerId::new(LayerKind::Feature, feature),
                Section::Constraints,
                phase.name.clone(),
            ),
        };
        scrub_field(&mut phase.description, &at, found);
        for constraint in &mut phase.constraints {
            let mut text = Some(std::mem::take(&mut constraint.text));
            scrub_field(&mut text, &at, found);
            constraint.text = text.unwrap_or_default();
        }
    }
}

/// Where a secret in the configuration's text was found.
struct SecretAt {
    path: String,
    line: usize,
    item: ItemId,
}

/// Redact the secrets of one text field, recording where they were.
fn scrub_field(field: &mut Option<String>, at: &SecretAt, found: &mut Vec<SecretJson>) {
    let Some(text) = field.as_deref() else {
        return;
    };
    let (clean, findings) = crate::secrets::scrub(text);
    if findings.is_empty() {
        return;
    }
    for finding in findings {
        found.push(SecretJson {
            path: at.path.clone(),
            line: at.line + finding.line - 1,
            rule: finding.rule,
            item: at.item.clone(),
        });
    }
    *field = Some(clean);
}
