//! `ctx bundle`: build a feature's bundle and print or write it.

use std::collections::BTreeMap;
use std::path::Path;

use crate::bundle::build::{self, Request};
use crate::bundle::layer::Scope;
use crate::bundle::model::{Bundle, ScopeKind};
use crate::bundle::render::{self, RenderError};
use crate::bundle::select;
use crate::cli::{BundleArgs, BundleFormat, BundleOptions, TokenizerArg};
use crate::commands;
use crate::config::settings::Tokenizer;
use crate::config::suggest;
use crate::config::workspace::{Agent, Feature, Workspace};
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::output::{self, Printer};

pub fn run(root: Option<&Path>, args: &BundleArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    // The token cache is read while the configuration loads.
    if !args.options.no_cache
        && let Ok(root) = crate::config::settings::discover(root)
    {
        build::preload_cache(&root);
    }
    let validation = commands::open_valid(
        root,
        commands::today(args.options.today.as_deref())?,
        printer,
    )?;
    let workspace = &validation.workspace;
    let exclude = args
        .output
        .as_deref()
        .and_then(|path| output::relative_to_root(&workspace.root, path));
    let bundle = make(workspace, &args.options, exclude)?;
    for secret in &bundle.secrets {
        printer.status(&format!(
            "warning: secret redacted from the bundle: {}:{} (rule `{}`); add `ctx:allow-secret` on that line if it is not one",
            secret.path, secret.line, secret.rule
        ));
    }
    if let Some(note) = &bundle.cache_note {
        printer.note(note);
    }
    let summary = format!(
        "{} tokens{}, {} layers",
        bundle.tokens.total,
        if bundle.tokens.budget > 0 {
            format!(" of {}", bundle.tokens.budget)
        } else {
            String::new()
        },
        bundle.layers.len()
    );
    let render = |out: &mut dyn std::io::Write| match args.format {
        BundleFormat::Json => {
            let written = render::json(&bundle, out);
            crate::parallel::drop_in_background(bundle);
            written
        }
        BundleFormat::Markdown => {
            render::markdown(bundle, &workspace.root, &workspace.settings.template, out)
        }
    };
    let failed = |error: RenderError, what: String| match error {
        RenderError::Io(source) => Error::Output { what, source },
        // Exit 4 like any failed write: `-o` keeps the previous file; on stdout the
        // output stops there.
        RenderError::Content(changed) => Error::Output {
            what,
            source: std::io::Error::other(changed),
        },
        RenderError::Template { .. } => Error::Bundle {
            message: error.to_string(),
            help: Some(String::from(
                "fix the template in `templates/`, or remove it to use the built-in one",
            )),
        },
    };
    match &args.output {
        Some(path) => {
            output::write_atomic_with(path, render)
                .map_err(|error| failed(error, format!("`{}`", path.display())))?;
            printer.status(&format!("wrote {} ({summary})", path.display()));
        }
        None => printer
            .stream_data(render)
            .map_err(|error| failed(error, String::from("stdout")))?,
    }
    crate::parallel::drop_in_background(validation);
    Ok(ExitStatus::Success)
}

/// Build the bundle `options` ask for (shared with `explain`).
pub fn make(
    workspace: &Workspace,
    options: &BundleOptions,
    exclude: Option<String>,
) -> Result<Bundle, Error> {
    make_with(workspace, options, exclude, true)
}

/// [`make`], optionally without requiring the feature's inputs (for `ctx gates`).
pub fn make_with(
    workspace: &Workspace,
    options: &BundleOptions,
    exclude: Option<String>,
    require_inputs: bool,
) -> Result<Bundle, Error> {
    let agent = match options.agent.as_deref() {
        Some(name) => Some(commands::find_agent(workspace, name)?),
        None => None,
    };
    let request = request(workspace, options, agent)?;
    let inputs = match request.scope.feature {
        Some(feature) => inputs(feature, &options.set, require_inputs)?,
        None => free_inputs(&options.set)?,
    };
    let tokenizer = match options.tokenizer {
        Some(TokenizerArg::O200k) => Tokenizer::O200k,
        Some(TokenizerArg::Cl100k) => Tokenizer::Cl100k,
        None => workspace.settings.tokenizer,
    };
    // The most specific budget wins: flag, agent, feature, `ctx.toml`.
    let budget = options
        .budget
        .or(agent.and_then(|agent| agent.budget))
        .or(request.scope.feature.and_then(|feature| feature.budget))
        .unwrap_or(workspace.settings.budget);
    let build_options = build::Options {
        tokenizer,
        budget,
        today: commands::today(options.today.as_deref())?,
        inputs,
        exclude,
        secrets: workspace.settings.secrets,
        cache: !options.no_cache,
    };
    build::build(workspace, &request, &build_options).map_err(|error| match error {
        build::BuildError::Secrets(ref found) => Error::Policy {
            message: error.to_string(),
            findings: found.iter().map(|secret| format!("{}:{}: {}", secret.path, secret.line, secret.rule)).collect(),
        },
        build::BuildError::OverBudget { required, budget } => Error::Bundle {
            message: error.to_string(),
            help: Some(format!(
                "constraints, gates and phases are never shed; raise the budget to at least {required} (`--budget {required}`, the agent's or feature's `budget`, or `bundle.budget` in `ctx.toml`), or use `--budget 0` for no limit (asked: {budget})"
            )),
        },
    })
}

/// Turn the command line into a scope: a declared feature, an ad-hoc feature chosen by
/// keywords, or explicit domains and services.
fn request<'w>(
    workspace: &'w Workspace,
    options: &BundleOptions,
    agent: Option<&'w Agent>,
) -> Result<Request<'w>, Error> {
    let mut extra = Scope::default();
    for name in &options.domain {
        extra.add_domain(Some(commands::find_domain(workspace, name)?));
    }
    for name in &options.service {
        extra.add_service(Some(commands::find_service(workspace, name)?));
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
    if let Some(name) = &options.feature
        && let Some(feature) = workspace.feature(name)
    {
        return Ok(Request {
            name: name.clone(),
            kind: ScopeKind::Feature,
            description: feature.description.clone(),
            scope: with_extra(Scope::of_feature(workspace, feature)),
            agent,
        });
    }
    let text = options.feature.as_deref().or(options.describe.as_deref());
    let mut scope = Scope::default();
    if let Some(text) = text {
        for matched in select::domains(workspace, text) {
            scope.add_domain(Some(matched.domain));
        }
    }
    let scope = with_extra(scope);
    if scope.domains.is_empty() && scope.services.is_empty() {
        return Err(no_match(workspace, options));
    }
    let (name, kind) = match (&options.feature, &options.describe) {
        (Some(name), _) => (name.clone(), ScopeKind::AdHoc),
        (None, Some(_)) => (String::from("ad-hoc"), ScopeKind::AdHoc),
        (None, None) if scope.services.len() == 1 && options.domain.is_empty() => {
            (scope.services[0].name.to_string(), ScopeKind::Service)
        }
        (None, None) => (String::from("ad-hoc"), ScopeKind::AdHoc),
    };
    Ok(Request {
        name,
        kind,
        description: options.describe.clone(),
        scope,
        agent,
    })
}

/// Nothing matched: say so, with the features and every domain's keywords.
fn no_match(workspace: &Workspace, options: &BundleOptions) -> Error {
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
    let (message, near) = match (&options.feature, &options.describe) {
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

/// Inputs of a bundle without a declared feature: any `KEY=VALUE`, nothing required.
fn free_inputs(set: &[String]) -> Result<BTreeMap<String, String>, Error> {
    set.iter()
        .map(|pair| split_pair(pair).map(|(key, value)| (key.to_owned(), value.to_owned())))
        .collect()
}

/// One `--set KEY=VALUE`.
fn split_pair(pair: &str) -> Result<(&str, &str), Error> {
    pair.split_once('=').ok_or_else(|| Error::Usage {
        message: format!("`--set {pair}` is not KEY=VALUE"),
        help: Some(String::from("write it as `--set ticket=SHOP-123`")),
    })
}

/// `--set KEY=VALUE` against the feature's declared inputs: unknown keys and missing
/// inputs are errors.
fn inputs(
    feature: &Feature,
    set: &[String],
    require: bool,
) -> Result<BTreeMap<String, String>, Error> {
    let known: Vec<String> = feature
        .inputs
        .iter()
        .map(|input| input.key.clone())
        .collect();
    let mut values = BTreeMap::new();
    for pair in set {
        let (key, value) = split_pair(pair)?;
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
        values.insert(key.to_owned(), value.to_owned());
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
