//! `ctx mcp`: serve the workspace over the Model Context Protocol on stdio.

use std::path::Path;

use crate::cli::McpArgs;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::mcp::{self, Options};
use crate::output::Printer;

pub fn run(root: Option<&Path>, args: &McpArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    printer.note("serving MCP on stdio; close stdin to stop");
    mcp::serve(Options {
        root: root.map(Path::to_path_buf),
        allow_gates: args.allow_gates,
    })
    .map_err(|error| Error::Usage {
        message: error.to_string(),
        help: None,
    })?;
    Ok(ExitStatus::Success)
}
