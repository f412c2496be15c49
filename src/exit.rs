//! Exit codes: the one place that decides what number `ctx` exits with (SPEC §8).
//!
//! Every command returns an [`ExitStatus`]; `main` turns it into a process exit code.
//! Nothing else in the crate calls `std::process::exit`.

use std::process::ExitCode;

use nix::sys::signal::Signal;

use crate::gates::plan::RunVerdict;

/// How a run of `ctx` ended, in the vocabulary of SPEC §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything worked.
    Success,
    /// At least one blocking gate failed or timed out.
    GateFailed,
    /// Usage or configuration error: nothing ran.
    ConfigError,
    /// Gates could not be started (spawn failure, missing cwd).
    Infrastructure,
    /// An output could not be written; the previous output is intact.
    OutputError,
    /// Refused by policy (a secret found with `secrets.mode = "fail"`).
    Policy,
    /// Interrupted by SIGINT, after cleanup.
    Interrupted,
    /// Terminated by SIGTERM, after cleanup.
    Terminated,
}

impl ExitStatus {
    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::GateFailed => 1,
            Self::ConfigError => 2,
            Self::Infrastructure => 3,
            Self::OutputError => 4,
            Self::Policy => 5,
            Self::Interrupted => 130,
            Self::Terminated => 143,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}

impl From<&crate::error::Error> for ExitStatus {
    fn from(error: &crate::error::Error) -> Self {
        use crate::error::Error;
        match error {
            Error::Usage { .. }
            | Error::Config(_)
            | Error::Bundle { .. }
            | Error::OverBudget(_) => Self::ConfigError,
            Error::Output { .. } => Self::OutputError,
            Error::Policy { .. } => Self::Policy,
        }
    }
}

impl ExitStatus {
    /// How a check of the configuration ends when its problems were printed as data.
    pub fn of_problems(has_errors: bool) -> Self {
        if has_errors {
            Self::ConfigError
        } else {
            Self::Success
        }
    }

    /// How a check of generated files ends: 1 when anything is stale (like a failed gate:
    /// CI fails the step).
    pub fn of_check(up_to_date: bool) -> Self {
        if up_to_date {
            Self::Success
        } else {
            Self::GateFailed
        }
    }

    /// How a gate run ends: an interrupt (by its signal), then gates that could not
    /// run, then reports that could not be written, then a blocking failure.
    pub fn of_run(verdict: RunVerdict, reports_written: bool) -> Self {
        match verdict {
            RunVerdict::Interrupted(Signal::SIGTERM | Signal::SIGHUP) => Self::Terminated,
            RunVerdict::Interrupted(_) => Self::Interrupted,
            RunVerdict::Infrastructure => Self::Infrastructure,
            _ if !reports_written => Self::OutputError,
            RunVerdict::Failed => Self::GateFailed,
            RunVerdict::Passed => Self::Success,
        }
    }
}

/// The exit-code table, as shown in `ctx --help` and the README.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0        success
  1        at least one blocking gate failed or timed out
  2        usage or configuration error (nothing ran)
  3        gates could not be started (spawn failure, missing cwd)
  4        an output could not be written (previous output left intact)
  5        refused by policy (secret found with secrets.mode = \"fail\")
  130/143  interrupted by SIGINT / SIGTERM, after cleanup";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_verdict_maps_to_one_code() {
        let table = [
            (RunVerdict::Passed, true, 0),
            (RunVerdict::Failed, true, 1),
            (RunVerdict::Passed, false, 4),
            (RunVerdict::Failed, false, 4),
            (RunVerdict::Infrastructure, false, 3),
            (RunVerdict::Interrupted(Signal::SIGINT), true, 130),
            (RunVerdict::Interrupted(Signal::SIGTERM), false, 143),
        ];
        for (verdict, written, code) in table {
            assert_eq!(
                ExitStatus::of_run(verdict, written).code(),
                code,
                "{verdict:?}"
            );
        }
    }

    #[test]
    fn codes_match_the_spec_table() {
        let table = [
            (ExitStatus::Success, 0),
            (ExitStatus::GateFailed, 1),
            (ExitStatus::ConfigError, 2),
            (ExitStatus::Infrastructure, 3),
            (ExitStatus::OutputError, 4),
            (ExitStatus::Policy, 5),
            (ExitStatus::Interrupted, 130),
            (ExitStatus::Terminated, 143),
        ];
        for (status, code) in table {
            assert_eq!(status.code(), code, "{status:?}");
            assert!(
                EXIT_CODES_HELP.contains(&format!("  {code} ")) || code >= 130,
                "help text lacks {code}"
            );
        }
    }
}
