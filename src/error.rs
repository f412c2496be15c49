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
