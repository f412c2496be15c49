//! Bundles sized for an assistant: the arguments every context-returning request takes,
//! and the fitting of the whole rendered answer to `max_tokens` (by the bundle's own
//! shedding, never by cutting text).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::bundle::measure::Document;
use crate::bundle::render;
use crate::error::Error;
use crate::resolve::merge::Status;
use crate::session::{BundleRequest, Session};

/// Tool results stay under Claude Code's 25,000-token cap by default.
pub const DEFAULT_MAX_TOKENS: u64 = 20_000;

/// How many times a bundle is rebuilt with a smaller budget to fit `max_tokens`.
const FIT_ATTEMPTS: usize = 5;

/// The arguments of `ctx_bundle` and `ctx_explain`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleArguments {
    pub feature: Option<String>,
    pub describe: Option<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub services: Vec<String>,
    pub agent: Option<String>,
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    pub budget: Option<u64>,
    #[serde(default)]
    pub format: Format,
    pub max_tokens: Option<u64>,
    #[serde(default)]
    pub changed: bool,
    pub base: Option<String>,
    pub from_run: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Markdown,
    Json,
}

/// The session request of bundle arguments.
pub fn bundle_request(arguments: &BundleArguments, require_inputs: bool) -> BundleRequest {
    BundleRequest {
        feature: arguments.feature.clone(),
        describe: arguments.describe.clone(),
        domains: arguments.domains.clone(),
        services: arguments.services.clone(),
        agent: arguments.agent.clone(),
        budget: arguments.budget,
        tokenizer: None,
        inputs: arguments
            .set
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
        require_inputs,
        exclude: None,
        use_cache: true,
        document: match arguments.format {
            Format::Markdown => Document::Markdown,
            Format::Json => Document::Json,
        },
        changed: arguments.changed,
        base: arguments.base.clone(),
        from_run: arguments.from_run.clone(),
        ..BundleRequest::default()
    }
}

/// A bundle rendered to fit `max_tokens`, and its structured summary.
pub struct Sized {
    pub text: String,
    pub structured: Value,
    /// The budget the bundle was built with.
    pub budget: u64,
}

/// Build and render a bundle whose whole text fits `max_tokens`: the budget starts at
/// the smaller of the configured one and `max_tokens`, and is lowered by the overshoot
/// of the rendered text until it fits. Content is shed by the bundle's own rules (SPEC
/// §4), never cut; constraints that alone do not fit are the over-budget error.
pub fn sized_bundle(
    session: &mut Session,
    arguments: &BundleArguments,
    require_inputs: bool,
) -> Result<Sized, Error> {
    let max = arguments.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS).max(1);
    let mut request = bundle_request(arguments, require_inputs);
    let configured = session.effective_budget(&request)?;
    let mut budget = if configured == 0 {
        max
    } else {
        configured.min(max)
    };
    let tokenizer = session.workspace().settings.tokenizer;
    let mut attempts = 0;
    loop {
        attempts += 1;
        request.budget = Some(budget);
        let bundle = match session.bundle(&request) {
            // Lowered below what constraints, gates and phases need: try with exactly that.
            Err(Error::OverBudget(_)) if attempts > 1 => {
                let floor = session.minimum_budget(&request)?;
                if floor >= budget {
                    request.budget = Some(floor);
                    attempts = FIT_ATTEMPTS;
                }
                budget = floor;
                request.budget = Some(budget);
                session.bundle(&request)?
            }
            // Not even the fixed part fits what the client can take.
            Err(Error::OverBudget(over)) if budget == max => {
                return Err(over_max(over.required as u64, max));
            }
            other => other?,
        };
        let shed: Vec<String> = bundle
            .items
            .iter()
            .filter(|item| item.status == Status::OmittedBudget)
            .map(|item| item.id.to_string())
            .collect();
        let mut structured = json!({
            "digest": bundle.digest,
            "feature": bundle.feature,
            "format": match arguments.format { Format::Markdown => "markdown", Format::Json => "json" },
            "tokens": bundle.tokens,
            "max_tokens": max,
            "items": bundle.items.len(),
            "shed": shed,
        });
        let workspace = session.workspace();
        let mut out = Vec::new();
        let rendered = match arguments.format {
            Format::Json => render::json(&bundle, &mut out, None),
            Format::Markdown => render::markdown(
                bundle,
                &workspace.root,
                &workspace.settings.template,
                &mut out,
                None,
            ),
        };
        rendered.map_err(|error| Error::Bundle {
            message: error.to_string(),
            help: None,
        })?;
        let text = String::from_utf8_lossy(&out).into_owned();
        let count = crate::bundle::tokens::count(tokenizer, &text) as u64;
        if count <= max || attempts == FIT_ATTEMPTS {
            if count > max {
                return Err(over_max(count, max));
            }
            if let Value::Object(map) = &mut structured {
                map.insert(String::from("rendered_tokens"), json!(count));
            }
            return Ok(Sized {
                text,
                structured,
                budget,
            });
        }
        let over = count - max;
        budget = budget.saturating_sub(over + over / 8 + 16).max(1);
    }
}

/// The bundle does not fit `max` tokens even with everything sheddable shed.
fn over_max(count: u64, max: u64) -> Error {
    Error::Bundle {
        message: format!(
            "the bundle takes {count} tokens, over max_tokens {max}, with every pattern and example that can be shed left out"
        ),
        help: Some(String::from(
            "raise max_tokens, or ask for an agent's view or fewer domains",
        )),
    }
}
