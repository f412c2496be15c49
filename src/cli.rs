//! Command-line interface: clap derive types. Doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;
use crate::output::ColorChoice;

/// Context engineering for teams: layered context bundles, quality gates and config
/// validation from YAML kept in git.
///
/// ctx reads the workspace's YAML documents (org, domains, services, features, agents),
/// checks every reference and path in them, and lists what is declared.
///
/// Start with `ctx validate` in a workspace (a folder with `ctx.toml`, or with a
/// `domains/` folder), then `ctx list features`.
#[derive(Debug, Parser)]
#[command(name = "ctx", version, after_long_help = EXIT_CODES_HELP, max_term_width = 100)]
pub struct Cli {
    /// Use DIR as the workspace root instead of searching up from the current folder for
    /// `ctx.toml`.
    #[arg(short = 'C', long = "root", global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// When to colour diagnostics; `NO_COLOR` is honoured in `auto`.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Print errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print notes about what ctx is doing.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every config document and report all problems at once.
    ///
    /// Loads `ctx.toml` and every YAML document under the configured paths, then checks
    /// keys, types, names, references (domains, services, agents, phase patterns, gate
    /// names, qualified `<layer>/<key>` overrides), `depends_on` cycles, paths (inside the
    /// root, files exist, globs match, `lines` ranges fit), `final` items and expiry
    /// dates. Exits 2 if any problem is an error; warnings alone exit 0.
    Validate(ValidateArgs),
    /// List what the workspace declares, with the file and line of each declaration.
    List(ListArgs),
    /// Print the JSON Schema of the config documents.
    ///
    /// Save it and point your editor at it with a first line such as
    /// `# yaml-language-server: $schema=../ctx.schema.json`.
    Schema(SchemaArgs),
}

/// Output format of `validate` and `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ReportFormat {
    /// For people: tables and rendered diagnostics.
    #[default]
    Text,
    /// For tools: one JSON document on stdout.
    Json,
}

/// Arguments of `ctx validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Output format; `json` prints the diagnostics as a `ctx.diagnostics/v1` document.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Treat this date (YYYY-MM-DD) as today when checking `expires`.
    #[arg(long, env = "CTX_TODAY", value_name = "DATE")]
    pub today: Option<String>,
}

/// What `ctx list` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ListKind {
    /// Domains with owners, keywords and owned paths.
    #[default]
    Domains,
    /// Services with their domain and dependencies.
    Services,
    /// Features with their domains, services and phases.
    Features,
    /// Agents with their topics and sections.
    Agents,
    /// Quality gates of every layer with their commands.
    Gates,
}

/// Arguments of `ctx list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// What to list.
    #[arg(value_enum, default_value_t = ListKind::Domains)]
    pub kind: ListKind,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// Arguments of `ctx schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
