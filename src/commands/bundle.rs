//! `ctx bundle`: build a feature's bundle and print or write it.

use std::collections::BTreeMap;
use std::path::Path;

use crate::bundle::{build, model::Bundle, render};
use crate::cli::{BundleArgs, BundleFormat, BundleOptions, TokenizerArg};
use crate::commands;
use crate::config::settings::Tokenizer;
use crate::config::suggest;
use crate::config::workspace::{Feature, Workspace};
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::output::{self, Printer};

pub fn run(root: Option<&Path>, args: &BundleArgs, printer: &Printer) -> Result<ExitStatus, Error> {
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
    let text = match args.format {
        BundleFormat::Json => render::json(&bundle),
        BundleFormat::Markdown => {
            render::markdown(&bundle, &workspace.root, &workspace.settings.template)
        }
    }
    .map_err(|error| Error::Bundle {
        message: error.to_string(),
        help: Some(String::from(
            "fix the template in `templates/`, or remove it to use the built-in one",
        )),
    })?;
    match &args.output {
        Some(path) => {
            output::write_atomic(path, text.as_bytes()).map_err(|source| Error::Output {
                what: format!("`{}`", path.display()),
                source,
            })?;
            printer.status(&format!(
                "wrote {} ({} tokens{}, {} layers)",
                path.display(),
                bundle.tokens.total,
                if bundle.tokens.budget > 0 {
                    format!(" of {}", bundle.tokens.budget)
                } else {
                    String::new()
                },
                bundle.layers.len()
            ));
        }
        None => printer.data(&text).map_err(|source| Error::Output {
            what: String::from("stdout"),
            source,
        })?,
    }
    Ok(ExitStatus::Success)
}

/// Build the bundle `options` ask for (shared with `explain`).
pub fn make(
    workspace: &Workspace,
    options: &BundleOptions,
    exclude: Option<String>,
) -> Result<Bundle, Error> {
    let feature = find_feature(workspace, &options.feature)?;
    let inputs = inputs(feature, &options.set)?;
    let tokenizer = match options.tokenizer {
        Some(TokenizerArg::O200k) => Tokenizer::O200k,
        Some(TokenizerArg::Cl100k) => Tokenizer::Cl100k,
        None => workspace.settings.tokenizer,
    };
    let budget = options
        .budget
        .or(feature.budget)
        .unwrap_or(workspace.settings.budget);
    let build_options = build::Options {
        tokenizer,
        budget,
        today: commands::today(options.today.as_deref())?,
        inputs,
        exclude,
    };
    build::feature(workspace, feature, &build_options).map_err(|error| match error {
        build::BuildError::OverBudget { required, budget } => Error::Bundle {
            message: error.to_string(),
            help: Some(format!(
                "constraints, gates and phases are never shed; raise the budget to at least {required} (`--budget {required}`, the feature's `budget`, or `bundle.budget` in `ctx.toml`), or use `--budget 0` for no limit (asked: {budget})"
            )),
        },
    })
}

fn find_feature<'w>(workspace: &'w Workspace, name: &str) -> Result<&'w Feature, Error> {
    workspace.feature(name).ok_or_else(|| {
        let names: Vec<String> = workspace
            .features
            .iter()
            .map(|feature| feature.name.to_string())
            .collect();
        let near = suggest::closest(name, names.iter().map(String::as_str));
        let hint = near
            .first()
            .map(|best| format!("did you mean `{best}`? "))
            .unwrap_or_default();
        Error::Usage {
            message: format!("no feature named `{name}`"),
            help: Some(format!(
                "{hint}declared features: {}",
                suggest::list(&names)
            )),
        }
    })
}

/// `--set KEY=VALUE` against the feature's declared inputs: unknown keys and missing
/// inputs are errors.
fn inputs(feature: &Feature, set: &[String]) -> Result<BTreeMap<String, String>, Error> {
    let known: Vec<String> = feature
        .inputs
        .iter()
        .map(|input| input.key.clone())
        .collect();
    let mut values = BTreeMap::new();
    for pair in set {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(Error::Usage {
                message: format!("`--set {pair}` is not KEY=VALUE"),
                help: Some(String::from("write it as `--set ticket=SHOP-123`")),
            });
        };
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
    if !missing.is_empty() {
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
