//! `ctx mcp`: a Model Context Protocol server over stdio, on the official Rust SDK
//! (`rmcp`, both protocol eras it supports: the `initialize` handshake of 2025-11-25 and
//! earlier, and the stateless 2026-07-28 revision with `server/discover`).
//!
//! The server is one long-lived [`Session`]: opened on the first request, kept, and
//! opened again when a configuration document or `ctx.toml` changes (pattern files are
//! read afresh by every bundle; the token cache on disk is shared with the CLI). A
//! configuration that stops validating answers every tool with the diagnostics as a tool
//! error, and the server keeps running.
//!
//! Tools ([`tools`]) answer with the text the CLI prints plus structured content;
//! resources (`ctx://bundle/{feature}`, `ctx://explain/{feature}`) and one prompt per
//! feature are served from the same calls. Only protocol messages go to stdout.
//!
//! [`Session`]: crate::session::Session

mod sizing;
mod state;
mod stdio;
mod tools;

use std::path::PathBuf;
use std::sync::Arc;

use rmcp::model::{
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    Prompt, PromptArgument, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Role, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};

use state::State;

/// How the server was started.
#[derive(Debug, Clone)]
pub struct Options {
    /// The workspace (`-C`), else the current folder and its parents.
    pub root: Option<PathBuf>,
    /// Offer `ctx_gates_run`, which runs the workspace's commands.
    pub allow_gates: bool,
}

/// Why the server stopped other than by its client closing stdin.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the MCP session failed: {0}")]
    Protocol(String),
}

/// The MCP handler: every request goes to the shared [`State`].
#[derive(Clone)]
pub struct Server {
    state: Arc<State>,
    allow_gates: bool,
}

/// Serve MCP on stdin/stdout until the client closes stdin (or a SIGINT/SIGTERM), then
/// stop any gates still running.
pub fn serve(options: Options) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let server = Server {
        state: Arc::new(State::new(options.root)),
        allow_gates: options.allow_gates,
    };
    let state = Arc::clone(&server.state);
    let result = runtime.block_on(async move {
        let running = server
            .serve(stdio::transport())
            .await
            .map_err(|error| ServeError::Protocol(error.to_string()))?;
        let cancel = running.cancellation_token();
        let mut signals = state::Signals::listen();
        tokio::select! {
            quit = running.waiting() => {
                quit.map_err(|error| ServeError::Protocol(error.to_string()))?;
            }
            () = signals.received() => cancel.cancel(),
        }
        Ok(())
    });
    // The client went away (or a signal came): nothing the server started outlives it.
    state.stop_all_runs();
    runtime.shutdown_timeout(std::time::Duration::from_secs(10));
    result
}

fn bundle_uri(feature: &str) -> String {
    format!("ctx://bundle/{feature}")
}

fn explain_uri(feature: &str) -> String {
    format!("ctx://explain/{feature}")
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new("ctx", env!("CARGO_PKG_VERSION")).with_title("ctx"))
        .with_instructions(
            "ctx serves the layered engineering context of this repository: call ctx_list to see \
             the features, then ctx_bundle with the feature you work on (sized by max_tokens), \
             ctx_explain to see why something is in or out, and ctx_gates_plan for the checks \
             that must pass.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::list(
            self.allow_gates,
        )))
    }

    async fn call_tool(
        &self,
        request: rmcp::model::CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, ErrorData> {
        let arguments = request.arguments.unwrap_or_default();
        tools::call(
            &self.state,
            self.allow_gates,
            &request.name,
            arguments,
            context.ct,
        )
        .await
        .map(Into::into)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let features = self.state.features().await;
        let mut resources = Vec::new();
        for (name, description) in features {
            let about = description.unwrap_or_else(|| format!("feature `{name}`"));
            resources.push(
                Resource::new(bundle_uri(&name), format!("bundle {name}"))
                    .with_description(format!("The context bundle of {about}"))
                    .with_mime_type("text/markdown"),
            );
            resources.push(
                Resource::new(explain_uri(&name), format!("explain {name}"))
                    .with_description(format!("How the bundle of `{name}` is made"))
                    .with_mime_type("text/plain"),
            );
        }
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("ctx://bundle/{feature}", "bundle")
                .with_description("The context bundle of a feature (Markdown)")
                .with_mime_type("text/markdown"),
            ResourceTemplate::new("ctx://explain/{feature}", "explain")
                .with_description("How a feature's bundle is made")
                .with_mime_type("text/plain"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri;
        let (explain, feature) = match (
            uri.strip_prefix("ctx://bundle/"),
            uri.strip_prefix("ctx://explain/"),
        ) {
            (Some(feature), _) => (false, feature.to_owned()),
            (None, Some(feature)) => (true, feature.to_owned()),
            (None, None) => {
                return Err(ErrorData::resource_not_found(
                    format!(
                        "no resource `{uri}`: ctx serves ctx://bundle/{{feature}} and ctx://explain/{{feature}}"
                    ),
                    None,
                ));
            }
        };
        let known = self.state.features().await;
        if !known.iter().any(|(name, _)| *name == feature) {
            return Err(ErrorData::resource_not_found(
                format!("no feature `{feature}` (resource `{uri}`)"),
                None,
            ));
        }
        let (text, mime) = self
            .state
            .resource(feature, explain)
            .await
            .map_err(|message| ErrorData::internal_error(message, None))?;
        Ok(
            ReadResourceResult::new(vec![ResourceContents::text(text, uri).with_mime_type(mime)])
                .into(),
        )
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let prompts = self
            .state
            .prompts()
            .await
            .into_iter()
            .map(|(name, description, inputs)| {
                let arguments = inputs
                    .into_iter()
                    .map(|(key, about)| {
                        PromptArgument::new(key)
                            .with_description(about)
                            .with_required(true)
                    })
                    .collect();
                Prompt::new(
                    name.clone(),
                    Some(description.unwrap_or_else(|| format!("Work on feature `{name}`"))),
                    Some(arguments),
                )
            })
            .collect();
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let inputs: Vec<(String, String)> = request
            .arguments
            .unwrap_or_default()
            .into_iter()
            .map(|(key, value)| {
                let text = match value {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                (key, text)
            })
            .collect();
        let known = self.state.features().await;
        if !known.iter().any(|(name, _)| *name == request.name) {
            return Err(ErrorData::invalid_params(
                format!(
                    "no prompt `{}`: prompts are the declared features",
                    request.name
                ),
                None,
            ));
        }
        let text = self
            .state
            .prompt(request.name.clone(), inputs)
            .await
            .map_err(|message| ErrorData::invalid_params(message, None))?;
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description(format!("The context of feature `{}`", request.name))
                .into(),
        )
    }
}
