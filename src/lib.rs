//! ctx: context engineering from YAML kept in git.
//!
//! The pipeline, front to back (ARCHITECTURE.md has the map):
//! 1. [`cli`] parses the command line and [`commands`] turn it into typed requests to a
//!    [`session::Session`], the library API every front end uses;
//! 2. [`config`] finds the workspace (`ctx.toml`), reads every YAML document into wire
//!    types with spans, and validates them into a typed [`config::workspace::Workspace`],
//!    collecting every problem as a located diagnostic;
//! 3. [`resolve`] turns a scope into layers in the one layer order and merges them;
//!    [`bundle`] reads, counts and budgets the files into a bundle and renders it;
//!    [`gates`] selects and runs quality gates as an event stream for reporters;
//! 4. [`output::Printer`] writes data to stdout and everything else to stderr, and
//!    [`exit::ExitStatus`] decides the exit code.

pub mod bundle;
pub mod changes;
pub mod cli;
pub mod commands;
pub mod config;
pub mod date;
pub mod error;
pub mod exit;
pub mod export;
pub mod extensions;
pub mod gates;
pub mod ids;
pub mod init;
pub mod listing;
pub mod mcp;
pub mod output;
pub mod parallel;
pub mod paths;
pub mod process;
pub mod resolve;
pub mod secrets;
pub mod session;
pub mod state;
pub mod store;

use cli::{Cli, Command};
use error::Error;
use exit::ExitStatus;
use output::{ColorChoice, Printer, Verbosity};

/// Run one command line to completion and say how it ended.
pub fn run(cli: Cli) -> ExitStatus {
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let color = match cli.color {
        cli::ColorArg::Auto => ColorChoice::Auto,
        cli::ColorArg::Always => ColorChoice::Always,
        cli::ColorArg::Never => ColorChoice::Never,
    };
    let printer = Printer::new(color, verbosity);
    let root = cli.root.as_deref();
    let result = match &cli.command {
        Command::Bundle(args) => commands::bundle::run(root, args, &printer),
        Command::Explain(args) => commands::explain::run(root, args, &printer),
        Command::Gates(args) => commands::gates::run(root, args, &printer),
        Command::Validate(args) => commands::validate::run(root, args, &printer),
        Command::List(args) => commands::list::run(root, args, &printer),
        Command::Schema(args) => commands::schema::run(args, &printer),
        Command::Lock(args) => commands::lock::run(root, args, &printer),
        Command::Fetch(args) => commands::fetch::fetch(root, args, &printer),
        Command::Update(args) => commands::fetch::update(root, args, &printer),
        Command::Mcp(args) => commands::mcp::run(root, args, &printer),
        Command::Export(args) => commands::export::run(root, args, &printer),
        Command::Init(args) => commands::init::run(root, args, &printer),
        Command::Record(args) => commands::outcomes::record(root, args, &printer),
        Command::Insights(args) => commands::outcomes::insights(root, args, &printer),
        Command::Stats(args) => commands::outcomes::stats(root, args, &printer),
        Command::Store(args) => commands::outcomes::store(root, args, &printer),
        Command::GatesWatchdog => {
            process::watch(std::io::stdin().lock());
            Ok(ExitStatus::Success)
        }
    };
    match result {
        Ok(status) => status,
        Err(error) => {
            report(&error, &printer);
            ExitStatus::from(&error)
        }
    }
}

fn report(error: &Error, printer: &Printer) {
    match error {
        Error::Config(problems) => {
            for problem in problems {
                printer.diagnostic(
                    &format!("{}\n", problem.render(printer.color())),
                    problem.is_error(),
                );
            }
            let errors = problems.iter().filter(|problem| problem.is_error()).count();
            printer.error(&format!(
                "configuration has {errors} error{}; nothing ran",
                if errors == 1 { "" } else { "s" }
            ));
        }
        Error::Usage { message, help } => {
            printer.error(message);
            if let Some(help) = help {
                printer.status(&format!("help: {help}"));
            }
        }
        Error::Policy { message, findings } => {
            printer.error(message);
            for finding in findings {
                printer.status(&format!("  {finding}"));
            }
            printer.status("help: remove the secrets, mark known false positives with `ctx:allow-secret`, or set `secrets.mode = \"redact\"`");
        }
        Error::OverBudget(over) => {
            printer.error(&error.to_string());
            printer.status(&format!("help: {}", error::over_budget_help(over)));
        }
        Error::Output { .. } | Error::Bundle { .. } => {
            printer.error(&error.to_string());
            if let Error::Bundle {
                help: Some(help), ..
            } = error
            {
                printer.status(&format!("help: {help}"));
            }
        }
    }
}
