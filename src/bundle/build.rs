//! Building a bundle: merged items → files read → tokens counted → budget applied →
//! sealed with a digest. The result is the [`Bundle`] that JSON and Markdown render.

use std::collections::BTreeMap;

use super::budget;
use super::files::{self, FileContent};
use super::layer::{self, LayerId, Scope};
use super::merge::{self, Merged, MergedItem, Payload, Status};
use super::model::{
    Bundle, GateJson, ItemJson, LayerJson, LayerRef, OriginJson, PhaseConstraintJson, PhaseJson,
    PhasePatternJson, ScopeJson, ScopeKind, SecretJson, TokensJson, ValidationJson,
};
use super::tokens;
use crate::config::settings::{SecretsMode, Tokenizer};
use crate::config::workspace::{
    Agent, AgentSection, Feature, LayerKind, Origin, Section, ValidationStep, Workspace,
};
use crate::date::Date;
use crate::paths::{self, Resolver};
use crate::secrets;

/// What a bundle is built with.
#[derive(Debug, Clone)]
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
}

/// Why a bundle cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "constraints, gates and phases alone need {required} tokens, over the budget of {budget}"
    )]
    OverBudget { required: usize, budget: u64 },
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
}

/// Build a bundle.
pub fn build(
    workspace: &Workspace,
    request: &Request<'_>,
    options: &Options,
) -> Result<Bundle, BuildError> {
    let plans = layer::for_scope(workspace, &request.scope);
    let mut merged = merge::merge(&plans, options.today);
    apply_agent(&mut merged, request.agent);
    let resolver = &*workspace.resolver;
    let mut findings = Findings {
        notes: Vec::new(),
        secrets: Vec::new(),
        mode: options.secrets,
    };
    let mut items = expand(
        &merged,
        resolver,
        workspace.settings.max_file_bytes,
        options,
        &mut findings,
    );
    let Findings {
        notes,
        secrets: found,
        ..
    } = findings;
    if options.secrets == SecretsMode::Fail && !found.is_empty() {
        return Err(BuildError::Secrets(found));
    }
    count_tokens(&mut items, options.tokenizer);
    let gates = gate_list(&items);
    let show_phases = request.agent.is_none_or(|agent| {
        agent
            .sections
            .as_ref()
            .is_none_or(|sections| sections.contains(&AgentSection::Phases))
    });
    let phases = match request.scope.feature {
        Some(feature) if show_phases => {
            phases(feature, &request.scope, &gates, &items, request.agent)
        }
        _ => Vec::new(),
    };
    let phase_tokens = tokens::count(options.tokenizer, &phase_text(&phases));
    budget::apply(&mut items, phase_tokens, options.budget)?;
    let mut by_layer = BTreeMap::new();
    let mut total = phase_tokens;
    for item in items.iter().filter(|item| item.status == Status::Included) {
        let layer = LayerId {
            kind: item.layer.kind,
            name: item.layer.name.clone(),
        };
        *by_layer.entry(layer.to_string()).or_insert(0) += item.tokens;
        total += item.tokens;
    }
    let layers = plans
        .iter()
        .map(|plan| LayerJson {
            kind: plan.id.kind,
            name: plan.id.name.clone(),
            description: plan.description.map(str::to_owned),
            origin: origin_json(&plan.origin),
            tokens: by_layer.get(&plan.id.to_string()).copied().unwrap_or(0),
        })
        .collect();
    let mut bundle = Bundle {
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
        inputs: options.inputs.clone(),
        layers,
        items,
        phases,
        quality_gates: gates,
        tokens: TokensJson {
            total,
            budget: options.budget,
            tokenizer: tokens::name(options.tokenizer),
            by_layer,
        },
        notes,
        secrets: found,
        digest: String::new(),
    };
    bundle.seal();
    Ok(bundle)
}

/// Agent views (SPEC §2.6). Items with an `audience` exist only for those agents: for
/// anyone else they are removed outright, not even listed. For an agent, items outside
/// its `sections`, or tagged only with topics it does not follow, are `filtered-agent`.
fn apply_agent(merged: &mut Merged, agent: Option<&Agent>) {
    merged
        .items
        .retain(|item| in_audience(&item.audience, agent));
    let Some(agent) = agent else { return };
    for item in &mut merged.items {
        if item.status == Status::Included && !visible_to(agent, item.section, &item.topics) {
            item.status = Status::FilteredAgent;
        }
    }
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
        file: origin.file.clone(),
        line: origin.line,
    }
}

/// One output item per merged item, except that patterns and examples become one item per
/// file (globs and folders expanded, sorted).
/// What reading files reports besides content.
struct Findings {
    notes: Vec<String>,
    secrets: Vec<SecretJson>,
    mode: SecretsMode,
}

fn expand(
    merged: &Merged,
    resolver: &Resolver,
    max_bytes: u64,
    options: &Options,
    findings: &mut Findings,
) -> Vec<ItemJson> {
    let mut out = Vec::new();
    for item in &merged.items {
        let base = base_item(item, &merged.layers);
        match (&item.payload, item.status) {
            (
                Payload::Pattern {
                    path: Some(path),
                    lines,
                    ..
                },
                Status::Included,
            ) => {
                let files = files_of(resolver, path, false, options, &mut findings.notes);
                let single = files.len() == 1 && !paths::is_glob(path);
                for file in files {
                    let mut entry = base.clone();
                    if !single {
                        entry.id = format!("{}:{file}", base.id);
                    }
                    entry.lines = lines.map(|range| range.to_string());
                    fill_file(&mut entry, resolver, &file, *lines, max_bytes, findings);
                    out.push(entry);
                }
            }
            (Payload::Example { path }, Status::Included) => {
                for file in files_of(resolver, path, true, options, &mut findings.notes) {
                    let mut entry = base.clone();
                    entry.id = format!(
                        "{}/{}/{file}",
                        merged.layers[item.layer],
                        Section::Examples.as_str()
                    );
                    entry.key.clone_from(&file);
                    fill_file(&mut entry, resolver, &file, None, max_bytes, findings);
                    out.push(entry);
                }
            }
            _ => out.push(base),
        }
    }
    out
}

/// The files a pattern path or example entry names, sorted; the output file excluded.
fn files_of(
    resolver: &Resolver,
    path: &str,
    folders: bool,
    options: &Options,
    notes: &mut Vec<String>,
) -> Vec<String> {
    let mut found: Vec<String> = if paths::is_glob(path) {
        match resolver.expand_glob(path) {
            Ok(matches) => matches
                .into_iter()
                .filter_map(|matched| match matched {
                    Ok(file) => Some(file),
                    Err((file, error)) => {
                        notes.push(format!("`{file}` (matched by `{path}`) {error}; not read"));
                        None
                    }
                })
                .collect(),
            Err(error) => {
                notes.push(format!("`{path}` {error}; not read"));
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
            Ok(_) => vec![path.trim_start_matches("./").to_owned()],
            Err(error) => {
                notes.push(format!("`{path}` {error}; not read"));
                Vec::new()
            }
        }
    };
    if let Some(excluded) = &options.exclude {
        found.retain(|file| file != excluded);
    }
    found
}

fn fill_file(
    entry: &mut ItemJson,
    resolver: &Resolver,
    file: &str,
    lines: Option<crate::config::workspace::LineRange>,
    max_bytes: u64,
    findings: &mut Findings,
) {
    let notes = &mut findings.notes;
    entry.path = Some(file.to_owned());
    entry.language = Some(files::language(file).to_owned());
    match files::read(resolver, file, lines, max_bytes) {
        FileContent::Text { text, lossy } => {
            if lossy {
                let note =
                    format!("`{file}` is not valid UTF-8; invalid bytes were replaced with U+FFFD");
                notes.push(note.clone());
                entry.note = Some(note);
            }
            let text = if findings.mode == SecretsMode::Off {
                text
            } else {
                let (scrubbed, found) = secrets::scrub(&text);
                let first_line = lines.map_or(1, |range| range.start);
                findings
                    .secrets
                    .extend(found.iter().map(|finding| SecretJson {
                        path: file.to_owned(),
                        line: finding.line + first_line - 1,
                        rule: finding.rule,
                        item: entry.id.clone(),
                    }));
                scrubbed
            };
            entry.content = Some(text);
        }
        FileContent::Binary => {
            entry.status = Status::OmittedBinary;
            entry.note = Some(String::from(
                "binary file (NUL byte in the first 8 KiB): listed, not inlined",
            ));
        }
        FileContent::TooLarge(size) => {
            entry.status = Status::OmittedSize;
            entry.note = Some(format!(
                "{size} bytes, over `max_file_bytes` ({max_bytes}): listed, not inlined"
            ));
        }
        FileContent::Unreadable(reason) => {
            let note = format!("`{file}` could not be read: {reason}");
            notes.push(note.clone());
            entry.status = Status::OmittedUnreadable;
            entry.note = Some(note);
        }
    }
}

fn base_item(item: &MergedItem, layers: &[LayerId]) -> ItemJson {
    let layer = &layers[item.layer];
    let mut json = ItemJson {
        id: item.id(layers),
        section: item.section,
        key: item.key.clone(),
        layer: LayerRef {
            kind: layer.kind,
            name: layer.name.clone(),
        },
        origin: origin_json(&item.origin),
        path: None,
        lines: None,
        why: None,
        text: None,
        run: None,
        timeout: None,
        cwd: None,
        blocking: None,
        from_service: item.from_service.clone(),
        also_from: item.also_from.clone(),
        topics: item.topics.clone(),
        expires: item.expires.map(|date| date.to_string()),
        tokens: 0,
        status: item.status,
        overrides: item.overrides.iter().map(origin_json).collect(),
        overridden_by: item.overridden_by.iter().map(origin_json).collect(),
        changed_by: item.changed_by.iter().map(origin_json).collect(),
        note: None,
        language: None,
        content: None,
    };
    match &item.payload {
        Payload::Pattern { path, lines, why } => {
            json.path.clone_from(path);
            json.lines = lines.map(|range| range.to_string());
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
            json.run.clone_from(run);
            json.timeout = timeout.map(|timeout| humantime::format_duration(timeout).to_string());
            json.cwd.clone_from(cwd);
            json.blocking = Some(blocking.unwrap_or(true));
        }
        Payload::Example { path } => json.path = Some(path.clone()),
    }
    json
}

/// Count every item's tokens on all cores: file content, constraint text, gate command.
fn count_tokens(items: &mut [ItemJson], tokenizer: Tokenizer) {
    let counts = crate::parallel::map(items, |item| {
        let text = item
            .content
            .as_deref()
            .or(item.text.as_deref())
            .or(item.run.as_deref())
            .unwrap_or("");
        tokens::count(tokenizer, text)
    });
    for (item, count) in items.iter_mut().zip(counts) {
        item.tokens = count;
    }
}

fn gate_list(items: &[ItemJson]) -> Vec<GateJson> {
    items
        .iter()
        .filter(|item| item.section == Section::QualityGates && item.status == Status::Included)
        .filter_map(|item| {
            Some(GateJson {
                id: format!(
                    "{}:{}/{}",
                    item.layer.kind.as_str(),
                    item.layer.name,
                    item.key
                ),
                run: item.run.clone()?,
                timeout: item.timeout.clone(),
                cwd: item.cwd.clone(),
                blocking: item.blocking.unwrap_or(true),
                layer: item.layer.clone(),
                origin: item.origin.clone(),
            })
        })
        .collect()
}

fn phases(
    feature: &Feature,
    scope: &Scope<'_>,
    gates: &[GateJson],
    items: &[ItemJson],
    agent: Option<&Agent>,
) -> Vec<PhaseJson> {
    feature
        .phases
        .iter()
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
                .map(|key| {
                    let candidates: Vec<&ItemJson> = items
                        .iter()
                        .filter(|item| {
                            item.section == Section::Patterns
                                && item.key == *key
                                && item.layer.kind == LayerKind::Domain
                                && domains.contains(&item.layer.name)
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
                        path: best.and_then(|item| item.path.clone()),
                        status: best.map(|item| item.status),
                    }
                })
                .collect();
            PhaseJson {
                name: phase.name.clone(),
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
                    .map(|step| match step {
                        ValidationStep::Prose(text) => ValidationJson::Prose { text: text.clone() },
                        ValidationStep::Gate(name) => {
                            // The most specific layer's gate of that name is the one that runs.
                            let gate = gates
                                .iter()
                                .rev()
                                .find(|gate| gate.id.ends_with(&format!("/{name}")));
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

/// The words a phase adds to the bundle, for its token cost.
fn phase_text(phases: &[PhaseJson]) -> String {
    let mut text = String::new();
    for phase in phases {
        text.push_str(&phase.name);
        text.push('\n');
        for part in phase
            .description
            .iter()
            .chain(phase.constraints.iter().map(|constraint| &constraint.text))
        {
            text.push_str(part);
            text.push('\n');
        }
        for step in &phase.validation {
            match step {
                ValidationJson::Prose { text: prose } => text.push_str(prose),
                ValidationJson::Gate { name, .. } => text.push_str(name),
            }
            text.push('\n');
        }
    }
    text
}
