//! The errors a command can end with. Each maps to one exit code in `exit.rs`.

use crate::config::diagnostic::Problem;

/// Why a command stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line was wrong (beyond what clap checks).
    #[error("{message}")]
    Usage {
        message: String,
        help: Option<String>,
    },
    /// The workspace could not be loaded or is invalid; the problems are already printed
    /// or are carried here to be printed.
    #[error("invalid configuration")]
    Config(Vec<Problem>),
    /// A bundle cannot be made as asked (over budget, bad template, missing inputs).
    #[error("{message}")]
    Bundle {
        message: String,
        help: Option<String>,
    },
    /// Constraints, gates and phases alone need more than the budget.
    #[error("{0}")]
    OverBudget(crate::bundle::budget::OverBudget),
    /// Refused by policy: secrets found with `secrets.mode = "fail"` (locations only).
    #[error("{message}")]
    Policy {
        message: String,
        findings: Vec<String>,
    },
    /// Writing an output failed.
    #[error("cannot write {what}: {source}")]
    Output {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The error as the CLI prints it (without colour): the message, then what to do.
    /// For front ends that answer in text rather than on a terminal (`ctx mcp`).
    pub fn to_plain(&self) -> String {
        let mut out = String::new();
        match self {
            Error::Config(problems) => {
                for problem in problems {
                    out.push_str(&problem.render(false));
                    out.push('\n');
                }
                let errors = problems.iter().filter(|problem| problem.is_error()).count();
                out.push_str(&format!(
                    "error: configuration has {errors} error{}; nothing ran",
                    if errors == 1 { "" } else { "s" }
                ));
            }
            Error::Usage { message, help } | Error::Bundle { message, help } => {
                out.push_str(&format!("error: {message}"));
                if let Some(help) = help {
                    out.push_str(&format!("\nhelp: {help}"));
                }
            }
            Error::Policy { message, findings } => {
                out.push_str(&format!("error: {message}"));
                for finding in findings {
                    out.push_str(&format!("\n  {finding}"));
                }
                out.push_str("\nhelp: remove the secrets, mark known false positives with `ctx:allow-secret`, or set `secrets.mode = \"redact\"`");
            }
            Error::Output { .. } => out.push_str(&format!("error: {self}")),
            Error::OverBudget(over) => {
                out.push_str(&format!("error: {over}\nhelp: {}", over_budget_help(over)));
            }
        }
        out
    }
}

/// What to do about a bundle over its budget.
pub fn over_budget_help(over: &crate::bundle::budget::OverBudget) -> String {
    format!(
        "constraints, gates and phases are never shed; raise the budget to at least {required} (`--budget {required}`, the agent's or feature's `budget`, or `bundle.budget` in `ctx.toml`), or use `--budget 0` for no limit (asked: {budget})",
        required = over.required,
        budget = over.budget
    )
}
