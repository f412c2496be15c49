//! The library API every front end uses: open a workspace once, then answer typed
//! requests with typed results.
//!
//! A [`Session`] holds the validated workspace (settings, documents, the path resolver
//! with its file index) and the token cache read ahead for it. Its methods answer
//! [`BundleRequest`]s ([`Session::bundle`], [`Session::explain`]), [`GatesRequest`]s
//! ([`Session::gates_plan`], [`Session::run_gates`]) and listings
//! ([`Session::listing`]); [`validate`] checks a workspace without opening a session.
//!
//! Nothing here parses command lines, prints, or decides an exit code: the CLI's
//! `commands/` and any other front end (a server) do that with the results. Nothing here
//! is process-global: two sessions in one process are independent, signals are the
//! caller's (a run is stopped through its [`Interrupter`]), and output goes to the
//! writers and reporters the caller passes.
//!
//! [`Interrupter`]: crate::gates::run::Interrupter

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::bundle::build;
use crate::bundle::cache::Preload;
use crate::bundle::explain::Explanation;
use crate::bundle::measure::Document;
use crate::bundle::model::Bundle;
use crate::bundle::render::RenderError;
use crate::config::diagnostic::Problem;
use crate::config::settings::Tokenizer;
use crate::config::validate::Validation;
use crate::config::workspace::{Agent, Feature, Workspace};
use crate::config::{self};
use crate::date::Date;
use crate::error::Error;
use crate::gates::cache::GateCache;
use crate::gates::events::Reporter;
use crate::gates::plan::{BundleItem, CachePlan, Outcome, Plan};
use crate::gates::run::{self, Control};
use crate::gates::select::{self as gate_select, SelectedGate};
use crate::gates::{self};
use crate::ids::RunId;

mod execution;
mod scope;

use crate::listing::{Listing, ListingKind};
use crate::resolve::lineage::Scope;
use crate::state::{self, State};
pub use scope::unknown;
use scope::{find_agent, find_domain, find_feature, find_service, inputs, scope_of};

/// How to open a session.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The date `expires` is judged against.
    pub today: Date,
    /// Start reading the token cache while the configuration loads (bundling).
    pub preload_cache: bool,
}

/// An open, valid workspace.
pub struct Session {
    validation: Validation,
    today: Date,
    preload: Option<Preload>,
    /// The token cache of the last bundle, being saved while the bundle is written.
    saving: Option<crate::bundle::cache::Saving>,
}

/// Load and validate the workspace at (or above) `root`: every problem, located. `Err`
/// when nothing could be loaded at all (no root, a broken `ctx.toml`).
pub fn validate(root: Option<&Path>, today: Date) -> Result<Validation, Vec<Problem>> {
    config::open(root, today)
}

/// [`validate`], with `ctx.lock` required and matched (`--locked`).
pub fn validate_locked(
    root: Option<&Path>,
    today: Date,
    locked: bool,
) -> Result<Validation, Vec<Problem>> {
    config::open_locked(root, today, locked)
}

/// What a workspace declares, even while some of its documents have errors: the rows of
/// what could be read, and every problem (`ctx list` shows both). `Err` only when there
/// is no workspace to read (no `ctx.toml`, or one that cannot be read).
pub fn partial_listing(
    root: Option<&Path>,
    today: Date,
    kind: ListingKind,
) -> Result<(Listing, Vec<Problem>), Vec<Problem>> {
    let validation = validate(root, today)?;
    Ok((
        crate::listing::of(&validation.workspace, kind),
        validation.problems,
    ))
}

/// What to bundle (and explain): a declared feature, a description matched against
/// domain keywords, and/or explicit domains and services; whose view; how big.
#[derive(Debug, Clone, Default)]
pub struct BundleRequest {
    /// A declared feature, or words to match against domain keywords.
    pub feature: Option<String>,
    /// Words to match against domain keywords.
    pub describe: Option<String>,
    pub domains: Vec<String>,
    pub services: Vec<String>,
    pub agent: Option<String>,
    /// Token budget (0 = unlimited); `None`: the agent's, the feature's, `ctx.toml`'s.
    pub budget: Option<u64>,
    /// `None`: `bundle.tokenizer` in `ctx.toml`.
    pub tokenizer: Option<Tokenizer>,
    /// Feature inputs, `KEY` → value.
    pub inputs: Vec<(String, String)>,
    /// Whether every declared input must be given (not for the bundle given to gates).
    pub require_inputs: bool,
    /// A file never to include (the bundle's own output file).
    pub exclude: Option<PathBuf>,
    /// Use and update the token cache.
    pub use_cache: bool,
    /// The document the bundle will be written as (its budget bounds that document).
    pub document: Document,
    /// `--changed`: the scope is the owners of the files changed since `base`, and the
    /// bundle holds their diffs.
    pub changed: bool,
    /// The base of `--changed` and of a hand-off's diff (default: the upstream branch,
    /// else `origin/HEAD`, else `main` or `master`).
    pub base: Option<String>,
    /// A hand-off from a recorded gate run: a run id, or `latest`.
    pub from_run: Option<String>,
    /// A hand-off from a parent's bundle (`ctx.bundle/v1` JSON).
    pub from_bundle: Option<PathBuf>,
    /// Run the layers' extensions (otherwise they are listed as skipped).
    pub extensions: bool,
}

/// Which gates to select, and how to run them.
#[derive(Debug, Clone, Default)]
pub struct GatesRequest {
    pub feature: Option<String>,
    pub domains: Vec<String>,
    pub services: Vec<String>,
    pub all: bool,
    /// Keep only gates whose scope owns a file changed since this base (`Some(None)`:
    /// the default base).
    pub changed: Option<Option<String>>,
}

/// A selection of gates, and the changed files it was narrowed to, if any.
#[derive(Debug, Clone)]
pub struct GatesPlan {
    pub gates: Vec<SelectedGate>,
    pub changed: Option<Vec<String>>,
}

/// How to run a selection.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Gates at a time; `None`: `gates.jobs` in `ctx.toml` (0 = the available cores).
    pub jobs: Option<usize>,
    /// Overrides every gate's timeout.
    pub timeout: Option<Duration>,
    pub fail_fast: bool,
    /// The feature whose bundle gates get as `CTX_BUNDLE`, with its inputs.
    pub feature: Option<String>,
    pub inputs: Vec<(String, String)>,
    /// Run gates whose cached pass would be reused.
    pub rerun: bool,
    /// Overrides every gate's `retries`.
    pub retries: Option<u32>,
    /// Stop starting gates after this many blocking failures.
    pub max_fail: Option<usize>,
}

/// What the outcome store keeps of the bundle a run's gates got.
struct WrittenBundle {
    digest: String,
    items: Vec<BundleItem>,
    tokens: std::collections::BTreeMap<String, usize>,
}

impl WrittenBundle {
    fn of(bundle: &crate::bundle::model::Bundle) -> Self {
        let items = bundle
            .items
            .iter()
            .map(|item| {
                let content_hash = match &item.content {
                    Some(content) => content.digest().to_hex().to_string(),
                    None => {
                        let said = item
                            .text
                            .clone()
                            .or_else(|| item.rare().run.clone())
                            .or_else(|| {
                                item.path().map(|path| {
                                    format!(
                                        "{path}:{}",
                                        item.lines
                                            .map(|lines| lines.to_string())
                                            .unwrap_or_default()
                                    )
                                })
                            })
                            .unwrap_or_default();
                        blake3::hash(said.as_bytes()).to_hex().to_string()
                    }
                };
                BundleItem {
                    id: item.id.to_string(),
                    status: item.status.as_str().to_owned(),
                    content_hash,
                    tokens: item.tokens,
                }
            })
            .collect();
        Self {
            digest: bundle.digest.clone(),
            items,
            tokens: bundle
                .tokens
                .by_layer
                .iter()
                .map(|(layer, tokens)| (layer.to_string(), *tokens))
                .collect(),
        }
    }
}

/// What `--why` found for a gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheWhy {
    NoInputs,
    NeverPassed,
    Reused {
        run_id: String,
    },
    Changed {
        run_id: String,
        changes: Vec<String>,
    },
}

/// A run made ready: its plan, and a warning when the bundle for `CTX_BUNDLE` could not
/// be written (the gates then run without it).
pub struct PreparedRun {
    pub plan: Plan,
    pub bundle_warning: Option<String>,
}

impl Session {
    /// Discover, load and validate the workspace; any configuration error stops here
    /// ([`Error::Config`] with every problem). Warnings are kept for [`Session::warnings`].
    pub fn open(root: Option<&Path>, options: &OpenOptions) -> Result<Self, Error> {
        // The token cache is read while the configuration loads.
        let preload = options
            .preload_cache
            .then(|| config::settings::discover(root).ok())
            .flatten()
            .and_then(|root| Preload::start(&State::of(&root).token_cache()));
        let validation = validate(root, options.today).map_err(Error::Config)?;
        if validation.has_errors() {
            return Err(Error::Config(validation.problems));
        }
        Ok(Self {
            validation,
            today: options.today,
            preload,
            saving: None,
        })
    }

    pub fn workspace(&self) -> &Workspace {
        &self.validation.workspace
    }

    /// The warnings validation found (errors stop [`Session::open`]).
    pub fn warnings(&self) -> &[Problem] {
        &self.validation.problems
    }

    pub fn today(&self) -> Date {
        self.today
    }

    /// Build the bundle a request asks for.
    pub fn bundle(&mut self, request: &BundleRequest) -> Result<Bundle, Error> {
        // The previous bundle's cache is saved before this one's is read again.
        self.saving = None;
        let workspace = &self.validation.workspace;
        let agent = match request.agent.as_deref() {
            Some(name) => Some(find_agent(workspace, name)?),
            None => None,
        };
        let mut scope = scope_of(workspace, request, agent)?;
        if request.from_run.is_some() || request.from_bundle.is_some() {
            scope.execution = Some(execution::of_parent(&workspace.root, request)?);
        }
        let inputs = match scope.scope.feature {
            Some(feature) => inputs(feature, &request.inputs, request.require_inputs)?,
            None => request.inputs.iter().cloned().collect(),
        };
        let budget = budget_of(workspace, request, agent, scope.scope.feature);
        let options = build::Options {
            tokenizer: request.tokenizer.unwrap_or(workspace.settings.tokenizer),
            budget,
            today: self.today,
            inputs,
            exclude: request
                .exclude
                .as_deref()
                .and_then(|path| crate::paths::relative_to_root(&workspace.root, path)),
            secrets: workspace.settings.secrets,
            cache: if request.use_cache {
                build::CacheUse::On(self.preload.take())
            } else {
                build::CacheUse::Off
            },
            document: request.document,
            extensions: if request.extensions {
                crate::bundle::generated::Extensions::Allowed(crate::extensions::runner(
                    workspace.root.clone(),
                ))
            } else {
                crate::bundle::generated::Extensions::NotAllowed
            },
        };
        let (bundle, saving) = build::build(workspace, &scope, options)?;
        self.saving = Some(saving);
        Ok(bundle)
    }

    /// Wait for the token cache of the last bundle to be saved: why it was not, if it
    /// was not (a read-only checkout still bundles).
    pub fn cache_note(&mut self) -> Option<String> {
        self.saving.take()?.finish()
    }

    /// The token budget a request's bundle gets (0 = none): the request's, else the
    /// agent's, the feature's, `ctx.toml`'s.
    pub fn effective_budget(&self, request: &BundleRequest) -> Result<u64, Error> {
        let workspace = &self.validation.workspace;
        let agent = match request.agent.as_deref() {
            Some(name) => Some(find_agent(workspace, name)?),
            None => None,
        };
        let feature = request
            .feature
            .as_deref()
            .and_then(|name| workspace.feature(name));
        Ok(budget_of(workspace, request, agent, feature))
    }

    /// The smallest budget a request's bundle can be built with: what its constraints,
    /// gates and phases alone need.
    pub fn minimum_budget(&mut self, request: &BundleRequest) -> Result<u64, Error> {
        let probe = BundleRequest {
            budget: Some(1),
            ..request.clone()
        };
        match self.bundle(&probe) {
            Ok(bundle) => Ok(bundle.tokens.total as u64),
            Err(Error::OverBudget(over)) => Ok(over.required as u64),
            Err(error) => Err(error),
        }
    }

    /// How a request's bundle is made: layers, items, statuses and reasons.
    pub fn explain(&mut self, request: &BundleRequest) -> Result<Explanation, Error> {
        let bundle = self.bundle(request)?;
        Ok(Explanation::of(&bundle))
    }

    /// What `ctx list` shows.
    pub fn listing(&self, kind: ListingKind) -> Listing {
        crate::listing::of(&self.validation.workspace, kind)
    }

    /// The gates a request selects, in run order, each with why.
    pub fn gates_plan(&self, request: &GatesRequest) -> Result<GatesPlan, Error> {
        let workspace = &self.validation.workspace;
        let mut selection = gate_select::Request {
            all: request.all,
            ..gate_select::Request::default()
        };
        if let Some(name) = &request.feature {
            selection.feature = Some(find_feature(workspace, name)?);
        }
        let mut scope = Scope::default();
        for name in &request.domains {
            scope.add_domain(Some(find_domain(workspace, name)?));
        }
        for name in &request.services {
            scope.add_service(Some(find_service(workspace, name)?));
        }
        selection.scope = scope;
        // `--changed` alone: every gate of the workspace, narrowed to what changed.
        if request.changed.is_some()
            && selection.feature.is_none()
            && selection.scope.domains.is_empty()
            && selection.scope.services.is_empty()
        {
            selection.all = true;
        }
        let mut gates = gate_select::select(workspace, &selection, self.today);
        let mut changed_files = None;
        if let Some(base) = &request.changed {
            let changed = crate::changes::changed_files(&workspace.root, base.as_deref()).map_err(|error| Error::Usage {
                message: format!("`--changed`: {error}"),
                help: Some(String::from(
                    "fetch the history the base needs (in GitHub Actions: `actions/checkout` with `fetch-depth: 0`; elsewhere `git fetch origin main`), or name a base with `--base REF`",
                )),
            })?;
            gates = gate_select::keep_changed(workspace, gates, &changed);
            changed_files = Some(changed);
        }
        Ok(GatesPlan {
            gates,
            changed: changed_files,
        })
    }

    /// Make a run ready: its id and folder under `.ctx/runs/`, and the feature's bundle
    /// for `CTX_BUNDLE` (inputs not required; a bundle that cannot be made is a warning).
    pub fn prepare_run(
        &mut self,
        mut gates: Vec<SelectedGate>,
        options: &RunOptions,
    ) -> Result<PreparedRun, Error> {
        // Each `--set KEY=VALUE` reaches every gate as `CTX_INPUT_<KEY>` (uppercase, `-`
        // as `_`); a gate's own `env` may still set the same name. Part of the gate's
        // cache key, like the rest of its environment.
        if !options.inputs.is_empty() {
            let inputs: Vec<(String, String)> = options
                .inputs
                .iter()
                .map(|(key, value)| (input_variable(key), value.clone()))
                .collect();
            for gate in &mut gates {
                let mut env = inputs.clone();
                env.append(&mut gate.env);
                gate.env = env;
            }
        }
        let root = self.validation.workspace.root.clone();
        let run_id = RunId::mint();
        let run_dir = State::of(&root).run_dir(&run_id);
        std::fs::create_dir_all(&run_dir).map_err(|source| Error::Output {
            what: format!("`{}`", run_dir.display()),
            source,
        })?;
        State::mark_running(&run_dir);
        let (bundle, written, bundle_warning) = match &options.feature {
            Some(feature) => match self.write_run_bundle(feature, &options.inputs, &run_dir) {
                Ok((path, written)) => (Some(path), Some(written), None),
                Err(error) => (
                    None,
                    None,
                    Some(format!("gates run without `CTX_BUNDLE`: {error}")),
                ),
            },
            None => (None, None, None),
        };
        let (bundle_digest, bundle_items, bundle_tokens) = match written {
            Some(written) => (Some(written.digest), written.items, written.tokens),
            None => (None, Vec::new(), std::collections::BTreeMap::new()),
        };
        let cache = self.cache_plans(&gates, options.rerun);
        let settings = &self.validation.workspace.settings;
        let jobs = match options.jobs.unwrap_or(settings.jobs) {
            0 => crate::parallel::cores(),
            jobs => jobs,
        };
        Ok(PreparedRun {
            plan: Plan {
                gates,
                jobs,
                default_timeout: settings.timeout,
                timeout_override: options.timeout,
                grace: settings.grace,
                fail_fast: options.fail_fast,
                root,
                run_id,
                run_dir,
                trace_id: crate::process::random_hex(32, "trace"),
                feature: options.feature.clone(),
                bundle,
                secrets: settings.secrets,
                groups: settings.groups.clone(),
                cache,
                bundle_digest,
                bundle_items,
                bundle_tokens,
                retries: options.retries,
                max_fail: options.max_fail,
            },
            bundle_warning,
        })
    }

    /// Run a prepared plan; every event goes to `reporter`.
    pub fn run_gates(&self, plan: &Plan, control: Control, reporter: &mut dyn Reporter) -> Outcome {
        let outcome = run::run(plan, control, reporter);
        // The run's record, for a child's hand-off (`ctx bundle --from-run`); best effort:
        // the run's own reports are what a failure to write it would be noticed by.
        if let Ok(record) = serde_json::to_vec_pretty(&gates::report::json(plan, &outcome)) {
            let _ = crate::output::write_atomic(&state::run_record(&plan.run_dir), &record);
        }
        let workspace = &self.validation.workspace;
        State::of(&workspace.root).finish_run(&plan.run_dir, workspace.settings.keep_runs);
        outcome
    }

    /// Whether a gate's cached pass would be reused, and what changed since it.
    pub fn cache_why(&self, gate: &SelectedGate) -> CacheWhy {
        let Some(Some(plan)) = self.cache_plans(std::slice::from_ref(gate), true).pop() else {
            return CacheWhy::NoInputs;
        };
        match self.gate_cache().last_pass(&gate.id) {
            None => CacheWhy::NeverPassed,
            Some(entry) if entry.key == plan.parts.key() => CacheWhy::Reused {
                run_id: entry.run_id,
            },
            Some(entry) => CacheWhy::Changed {
                changes: plan.parts.changes_since(&entry.parts),
                run_id: entry.run_id,
            },
        }
    }

    /// The files this run reads, canonical, with what they are: `ctx.toml`, every
    /// configuration document, and a bundle's pattern and example files. An output is
    /// never written over one of them.
    pub fn inputs(&self, bundle: Option<&Bundle>) -> Vec<(PathBuf, &'static str)> {
        let workspace = &self.validation.workspace;
        let root = &workspace.root;
        let mut inputs: Vec<(PathBuf, &'static str)> = Vec::new();
        let mut add = |relative: &str, what: &'static str| {
            if let Ok(path) = root.join(relative).canonicalize() {
                inputs.push((path, what));
            }
        };
        if let Some(source) = &workspace.settings.source {
            add(&source.path, "the workspace settings");
        }
        let documents = workspace
            .org
            .iter()
            .map(|org| &org.origin)
            .chain(workspace.domains.iter().map(|domain| &domain.origin))
            .chain(workspace.services.iter().map(|service| &service.origin))
            .chain(workspace.features.iter().map(|feature| &feature.origin))
            .chain(workspace.strategies.iter().map(|strategy| &strategy.origin))
            .chain(workspace.agents.iter().map(|agent| &agent.origin));
        for origin in documents {
            add(&origin.file, "a configuration document");
        }
        if let Some(template) = Some(&workspace.settings.template) {
            add(&format!("templates/{template}"), "the bundle template");
        }
        for item in bundle
            .map(|bundle| bundle.items.as_slice())
            .unwrap_or_default()
        {
            if let Some(path) = item.path() {
                add(path, "a file the bundle inlines");
            }
        }
        inputs.sort();
        inputs.dedup();
        inputs
    }

    /// The gate cache of the workspace.
    pub fn gate_cache(&self) -> GateCache {
        GateCache::new(State::of(&self.validation.workspace.root).gate_cache())
    }

    /// Each gate's cache key parts (gates with `inputs`), and the pass to reuse unless
    /// `rerun`. Input files are hashed once each, on every core.
    fn cache_plans(&self, gates: &[SelectedGate], rerun: bool) -> Vec<Option<CachePlan>> {
        let workspace = &self.validation.workspace;
        let root = &workspace.root;
        let resolver = &*workspace.resolver;
        let mut files: Vec<String> = Vec::new();
        for gate in gates {
            for glob in gate.inputs.iter().flat_map(|inputs| &inputs.files) {
                if let Ok(matches) = resolver.expand_glob(glob) {
                    files.extend(matches.into_iter().flatten().map(|file| file.to_string()));
                }
            }
        }
        files.sort();
        files.dedup();
        let hashed = crate::parallel::map(&files, |path| gates::cache::hash_file(root, path));
        let hashes: std::collections::HashMap<&str, String> =
            files.iter().map(String::as_str).zip(hashed).collect();
        let lookup = |path: &str| {
            hashes
                .get(path)
                .cloned()
                .unwrap_or_else(|| gates::cache::hash_file(root, path))
        };
        let cache = self.gate_cache();
        gates
            .iter()
            .map(|gate| {
                let parts = gates::cache::parts(resolver, root, gate, &lookup)?;
                let hit = if rerun {
                    None
                } else {
                    cache.hit(&gate.id, &parts.key())
                };
                Some(CachePlan { parts, hit })
            })
            .collect()
    }

    fn write_run_bundle(
        &mut self,
        feature: &str,
        inputs: &[(String, String)],
        run_dir: &Path,
    ) -> Result<(PathBuf, WrittenBundle), Error> {
        let request = BundleRequest {
            feature: Some(feature.to_owned()),
            inputs: inputs.to_vec(),
            require_inputs: false,
            use_cache: true,
            document: Document::Json,
            ..BundleRequest::default()
        };
        let bundle = self.bundle(&request)?;
        let written = WrittenBundle::of(&bundle);
        let path = state::run_bundle(run_dir);
        crate::output::write_atomic_to(&path, |out, file| {
            crate::bundle::render::json(&bundle, out, file)
        })
        .map_err(|error| Error::Bundle {
            message: format!("cannot write `{}`: {error}", path.display()),
            help: None,
        })?;
        Ok((path, written))
    }

    /// Free the workspace on a background thread (a command about to exit need not wait
    /// for it).
    pub fn close_in_background(self) {
        crate::parallel::drop_in_background(self.validation);
    }
}

/// The most specific budget wins: request, agent, feature, `ctx.toml`.
fn budget_of(
    workspace: &Workspace,
    request: &BundleRequest,
    agent: Option<&Agent>,
    feature: Option<&Feature>,
) -> u64 {
    request
        .budget
        .or(agent.and_then(|agent| agent.budget))
        .or(feature.and_then(|feature| feature.budget))
        .unwrap_or(workspace.settings.budget)
}

impl From<build::BuildError> for Error {
    fn from(error: build::BuildError) -> Self {
        match error {
            build::BuildError::Secrets(ref found) => Error::Policy {
                message: error.to_string(),
                findings: found
                    .iter()
                    .map(|secret| format!("{}:{}: {}", secret.path, secret.line, secret.rule))
                    .collect(),
            },
            build::BuildError::OverBudget(over) => Error::OverBudget(over),
            build::BuildError::Render(error) => {
                let help = match error {
                    RenderError::Template { .. } => {
                        "fix the template in `templates/`, or remove it to use the built-in one"
                    }
                    RenderError::Content(_) | RenderError::Io(_) => "run ctx again",
                };
                Error::Bundle {
                    message: error.to_string(),
                    help: Some(String::from(help)),
                }
            }
        }
    }
}

pub use crate::config::convert::input_variable;
