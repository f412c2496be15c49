//! The tools of `ctx mcp`: each a request to the session, answered with the text the CLI
//! prints and structured content (digest, token totals, statuses). A failure of the
//! request (unknown feature, missing input, over budget, invalid configuration) is a
//! tool result with `isError` and the CLI's message; malformed arguments are JSON-RPC
//! "invalid params".

use std::collections::BTreeMap;
use std::sync::Arc;

use rmcp::ErrorData;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::sizing::{BundleArguments, bundle_request, sized_bundle};
use super::state::State;
use crate::config::diagnostic::DiagnosticsReport;
use crate::date::Date;
use crate::error::Error;
use crate::gates::events::Trace;
use crate::gates::plan::RunVerdict;
use crate::gates::report;
use crate::gates::run::Control;
use crate::session::{GatesRequest, RunOptions, Session};

/// The arguments of `ctx_gates_plan` and `ctx_gates_run`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatesArguments {
    feature: Option<String>,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    all: bool,
    #[serde(default)]
    changed: bool,
    base: Option<String>,
    // `ctx_gates_run` only:
    jobs: Option<usize>,
    timeout: Option<String>,
    #[serde(default)]
    fail_fast: bool,
    #[serde(default)]
    set: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArguments {}

fn schema(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(object) => Arc::new(object),
        _ => Arc::new(JsonObject::new()),
    }
}

fn bundle_properties() -> Value {
    json!({
        "feature": {"type": "string", "description": "A declared feature (ctx_list shows them), or words matched against domain keywords"},
        "describe": {"type": "string", "description": "Words matched against domain keywords (an ad-hoc bundle)"},
        "domains": {"type": "array", "items": {"type": "string"}, "description": "Domains to add to the scope"},
        "services": {"type": "array", "items": {"type": "string"}, "description": "Services to add to the scope"},
        "agent": {"type": "string", "description": "Render this agent's view"},
        "set": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Feature inputs, KEY: value"},
        "budget": {"type": "integer", "minimum": 0, "description": "Token budget for the bundle's items (0 = none); capped by max_tokens"},
        "format": {"type": "string", "enum": ["markdown", "json"], "default": "markdown"},
        "max_tokens": {"type": "integer", "minimum": 1, "default": super::sizing::DEFAULT_MAX_TOKENS, "description": "The whole answer fits this many tokens: content is shed by the bundle's own rules, never cut"},
        "changed": {"type": "boolean", "default": false, "description": "Context for the change in progress: the scope is the owners of the files changed since `base`, with each file's diff (instead of feature/describe)"},
        "base": {"type": "string", "description": "Base for `changed` and for a hand-off's diff (default: the upstream branch, else origin/HEAD, else main or master)"},
        "from_run": {"type": "string", "description": "Hand-off from a recorded gate run (a run id, or `latest`): its failed gates with their output tails, the diff, and the parent's digest and tokens"}
    })
}

fn gates_properties(run: bool) -> Value {
    let mut properties = json!({
        "feature": {"type": "string", "description": "The gates of this feature (after merging its layers)"},
        "domains": {"type": "array", "items": {"type": "string"}},
        "services": {"type": "array", "items": {"type": "string"}},
        "all": {"type": "boolean", "description": "Every gate of the workspace"},
        "changed": {"type": "boolean", "description": "Only gates whose domain or service owns a file changed since the base"},
        "base": {"type": "string", "description": "Base ref for `changed`"}
    });
    if run && let Value::Object(map) = &mut properties {
        map.insert(
            String::from("jobs"),
            json!({"type": "integer", "minimum": 1}),
        );
        map.insert(
            String::from("timeout"),
            json!({"type": "string", "description": "Timeout for every gate, e.g. 90s"}),
        );
        map.insert(String::from("fail_fast"), json!({"type": "boolean"}));
        map.insert(
            String::from("set"),
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
        );
    }
    properties
}

fn object(properties: Value) -> Arc<JsonObject> {
    schema(json!({"type": "object", "properties": properties, "additionalProperties": false}))
}

fn read_only() -> ToolAnnotations {
    ToolAnnotations::new()
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(false)
}

/// The tools, in a fixed order; `ctx_gates_run` only when gates are allowed.
pub fn list(allow_gates: bool) -> Vec<Tool> {
    let mut tools = vec![
        Tool::new(
            "ctx_list",
            "The workspace's features (with descriptions and inputs), domains, services and agents",
            object(json!({})),
        )
        .annotate(read_only()),
        Tool::new(
            "ctx_bundle",
            "The layered context bundle of a feature: constraints, patterns with their code, gates and the plan, each with its origin; sized to max_tokens by shedding whole items",
            object(bundle_properties()),
        )
        .annotate(read_only()),
        Tool::new(
            "ctx_explain",
            "How a bundle is made: every layer and item with its status and why (overridden, shed for the budget, not for this agent…)",
            object(bundle_properties()),
        )
        .annotate(read_only()),
        Tool::new(
            "ctx_validate",
            "Check the whole configuration; every problem with its file:line:col and what to do",
            object(json!({})),
        )
        .annotate(read_only()),
        Tool::new(
            "ctx_gates_plan",
            "The quality gates a change must pass (what `ctx gates --dry-run` shows): each command and why it was selected",
            object(gates_properties(false)),
        )
        .annotate(read_only()),
    ];
    if allow_gates {
        tools.push(
            Tool::new(
                "ctx_gates_run",
                "Run the selected quality gates (commands of this repository) in parallel with timeouts; cancelling the request kills them",
                object(gates_properties(true)),
            )
            .annotate(
                ToolAnnotations::new()
                    .read_only(false)
                    .destructive(false)
                    .idempotent(false)
                    .open_world(false),
            ),
        );
    }
    tools
}

fn parse<T: for<'de> Deserialize<'de>>(arguments: JsonObject) -> Result<T, ErrorData> {
    serde_json::from_value(Value::Object(arguments))
        .map_err(|error| ErrorData::invalid_params(format!("bad arguments: {error}"), None))
}

fn failed(error: &Error) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(error.to_plain())])
}

fn answer(text: String, structured: Value) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(structured);
    result
}

/// Answer one `tools/call`.
pub async fn call(
    state: &Arc<State>,
    allow_gates: bool,
    name: &str,
    arguments: JsonObject,
    cancel: CancellationToken,
) -> Result<CallToolResult, ErrorData> {
    let outcome = match name {
        "ctx_list" => {
            let NoArguments {} = parse(arguments)?;
            state.blocking(|session| Ok(listing(session))).await
        }
        "ctx_bundle" => {
            let arguments: BundleArguments = parse(arguments)?;
            state
                .blocking(move |session| {
                    let sized = sized_bundle(session, &arguments, true)?;
                    Ok((sized.text, sized.structured))
                })
                .await
        }
        "ctx_explain" => {
            let arguments: BundleArguments = parse(arguments)?;
            state
                .blocking(move |session| {
                    // The explanation of the very bundle `ctx_bundle` returns for these
                    // arguments (the same budget, fitted to max_tokens).
                    let sized = sized_bundle(session, &arguments, true)?;
                    let mut request = bundle_request(&arguments, true);
                    request.budget = Some(sized.budget);
                    let explanation = session.explain(&request)?;
                    let structured = serde_json::to_value(&explanation).unwrap_or(Value::Null);
                    Ok((explanation.to_text(), structured))
                })
                .await
        }
        "ctx_validate" => {
            let NoArguments {} = parse(arguments)?;
            let root = state.root_path();
            tokio::task::spawn_blocking(move || validate(root.as_deref()))
                .await
                .unwrap_or_else(|error| {
                    Err(Error::Usage {
                        message: format!("the request failed: {error}"),
                        help: None,
                    })
                })
        }
        "ctx_gates_plan" => {
            let arguments: GatesArguments = parse(arguments)?;
            state
                .blocking(move |session| {
                    let plan = session.gates_plan(&gates_request(&arguments))?;
                    let structured = json!({
                        "count": plan.gates.len(),
                        "gates": plan.gates,
                        "changed_files": plan.changed,
                    });
                    Ok((report::dry_run(&plan.gates), structured))
                })
                .await
        }
        "ctx_gates_run" if allow_gates => {
            let arguments: GatesArguments = parse(arguments)?;
            run_gates(state, arguments, cancel).await
        }
        _ => {
            return Err(ErrorData::invalid_params(
                format!(
                    "no tool `{name}`{}",
                    if name == "ctx_gates_run" {
                        " (start the server with `ctx mcp --allow-gates` to run gates)"
                    } else {
                        ""
                    }
                ),
                None,
            ));
        }
    };
    Ok(match outcome {
        Ok((text, structured)) => answer(text, structured),
        Err(error) => failed(&error),
    })
}

fn listing(session: &Session) -> (String, Value) {
    let workspace = session.workspace();
    let features: Vec<Value> = workspace
        .features
        .iter()
        .map(|feature| {
            json!({
                "name": feature.name.as_str(),
                "description": feature.description,
                "domains": feature.domains.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "services": feature.services.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "inputs": feature.inputs.iter().map(|input| json!({"key": input.key, "description": input.description})).collect::<Vec<_>>(),
                "phases": feature.phases.iter().map(|phase| phase.name.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let domains: Vec<Value> = workspace
        .domains
        .iter()
        .map(|domain| json!({"name": domain.name.as_str(), "description": domain.description, "keywords": domain.keywords, "paths": domain.paths}))
        .collect();
    let services: Vec<Value> = workspace
        .services
        .iter()
        .map(|service| json!({"name": service.name.as_str(), "description": service.description, "domain": service.domain.as_ref().map(ToString::to_string), "depends_on": service.depends_on.iter().map(ToString::to_string).collect::<Vec<_>>(), "paths": service.paths}))
        .collect();
    let agents: Vec<Value> = workspace
        .agents
        .iter()
        .map(|agent| json!({"name": agent.name.as_str(), "topics": agent.topics.iter().map(ToString::to_string).collect::<Vec<_>>(), "budget": agent.budget}))
        .collect();
    let mut text = String::from("Features:\n");
    for feature in &workspace.features {
        let inputs: Vec<String> = feature
            .inputs
            .iter()
            .map(|input| format!("{} ({})", input.key, input.description))
            .collect();
        text.push_str(&format!(
            "- {}: {}{}\n",
            feature.name,
            feature.description.as_deref().unwrap_or("-"),
            if inputs.is_empty() {
                String::new()
            } else {
                format!("; inputs: {}", inputs.join(", "))
            }
        ));
    }
    text.push_str("Domains:\n");
    for domain in &workspace.domains {
        text.push_str(&format!(
            "- {}: {}\n",
            domain.name,
            domain.description.as_deref().unwrap_or("-")
        ));
    }
    text.push_str("Services:\n");
    for service in &workspace.services {
        text.push_str(&format!(
            "- {}: {}\n",
            service.name,
            service.description.as_deref().unwrap_or("-")
        ));
    }
    if !workspace.strategies.is_empty() {
        text.push_str("Strategies:\n");
        for strategy in &workspace.strategies {
            let domains: Vec<&str> = strategy.domains.iter().map(|name| name.as_str()).collect();
            text.push_str(&format!(
                "- {} (where {} meet): {}\n",
                strategy.name,
                domains.join(" + "),
                strategy.description.as_deref().unwrap_or("-")
            ));
        }
    }
    text.push_str("Agents:\n");
    for agent in &workspace.agents {
        text.push_str(&format!("- {}\n", agent.name));
    }
    (
        text,
        json!({"features": features, "domains": domains, "services": services, "agents": agents}),
    )
}

fn validate(root: Option<&std::path::Path>) -> Result<(String, Value), Error> {
    let validation = crate::session::validate(root, Date::today_utc()).map_err(Error::Config)?;
    let problems = &validation.problems;
    let report = DiagnosticsReport::new(problems);
    let errors = report.errors;
    let mut text = String::new();
    for problem in problems {
        text.push_str(&problem.render(false));
        text.push('\n');
    }
    text.push_str(&if errors == 0 {
        format!("ok: {} warning(s)", report.warnings)
    } else {
        format!("configuration has {errors} error(s)")
    });
    let mut structured = serde_json::to_value(&report).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut structured {
        map.insert(String::from("ok"), json!(errors == 0));
    }
    Ok((text, structured))
}

fn gates_request(arguments: &GatesArguments) -> GatesRequest {
    GatesRequest {
        feature: arguments.feature.clone(),
        domains: arguments.domains.clone(),
        services: arguments.services.clone(),
        all: arguments.all,
        changed: arguments.changed.then(|| arguments.base.clone()),
    }
}

/// Run gates on a blocking thread; a cancelled request (or a closed client) interrupts
/// the run, which kills the gates' process groups.
async fn run_gates(
    state: &Arc<State>,
    arguments: GatesArguments,
    cancel: CancellationToken,
) -> Result<(String, Value), Error> {
    let timeout = match &arguments.timeout {
        Some(text) => Some(
            crate::date::parse_duration(text).map_err(|error| Error::Usage {
                message: format!("`timeout: {text}` is not a duration: {error}"),
                help: Some(String::from(
                    "write a number with a unit: \"90s\", \"10m\" or \"1h 30m\" (units: ms, s, m, h, d)",
                )),
            })?,
        ),
        None => None,
    };
    let prepared = state
        .blocking(move |session| {
            let plan = session.gates_plan(&gates_request(&arguments))?;
            let options = RunOptions {
                jobs: arguments.jobs,
                timeout,
                fail_fast: arguments.fail_fast,
                feature: arguments.feature.clone(),
                inputs: arguments.set.into_iter().collect(),
                rerun: false,
                retries: None,
                max_fail: None,
            };
            let keep = session.workspace().settings.keep_runs;
            Ok((session.prepare_run(plan.gates, &options)?, keep))
        })
        .await?;
    let (prepared, keep) = prepared;
    if prepared.plan.gates.is_empty() {
        return Ok((
            String::from("no gates selected; nothing to run\n"),
            json!({"verdict": "passed", "gates": []}),
        ));
    }
    let control = Control::new();
    let interrupter = control.interrupter();
    let tracked = state.track_run(interrupter.clone());
    let plan = prepared.plan;
    let mut task = tokio::task::spawn_blocking(move || {
        let mut trace = Trace::default();
        let outcome = crate::gates::run::run(&plan, control, &mut trace);
        crate::state::State::of(&plan.root).finish_run(&plan.run_dir, keep);
        let text = report::summary(&outcome);
        let verdict = match outcome.verdict() {
            RunVerdict::Passed => "passed",
            RunVerdict::Failed => "failed",
            RunVerdict::Infrastructure => "infrastructure",
            RunVerdict::Interrupted(_) => "interrupted",
        };
        let mut structured =
            serde_json::to_value(report::json(&plan, &outcome)).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut structured {
            map.insert(String::from("verdict"), json!(verdict));
        }
        (text, structured)
    });
    let result = tokio::select! {
        done = &mut task => done,
        () = cancel.cancelled() => {
            interrupter.interrupt(nix::sys::signal::Signal::SIGTERM);
            interrupter.interrupt(nix::sys::signal::Signal::SIGTERM);
            task.await
        }
    };
    state.forget_run(tracked);
    result.map_err(|error| Error::Usage {
        message: format!("the gate run failed: {error}"),
        help: None,
    })
}
