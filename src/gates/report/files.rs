//! The report-file reporter: when the run finishes, writes the JSON report, the JUnit
//! report and the GitHub step summary it was asked for. A file that cannot be written
//! is an error on stderr (the previous file is left as it was) and is remembered, so
//! the caller can exit 4.

use std::path::{Path, PathBuf};

use crate::gates::events::{GateEvent, Reporter};
use crate::output::{self, Printer};

/// Where to write reports.
#[derive(Debug, Default, Clone)]
pub struct Files {
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    /// `$GITHUB_STEP_SUMMARY`, appended to.
    pub step_summary: Option<PathBuf>,
}

/// Writes [`Files`] at the end of a run.
pub struct FileReporter<'p> {
    files: Files,
    printer: &'p Printer,
    failed: bool,
}

impl<'p> FileReporter<'p> {
    pub fn new(files: Files, printer: &'p Printer) -> Self {
        Self {
            files,
            printer,
            failed: false,
        }
    }

    /// Whether every report was written.
    pub fn all_written(&self) -> bool {
        !self.failed
    }

    fn write(&mut self, path: &Path, text: &str, what: &str) {
        if let Err(error) = output::write_atomic(path, text.as_bytes()) {
            self.printer.error(&format!(
                "cannot write the {what} `{}`: {error}; the previous file is left as it was",
                path.display()
            ));
            self.failed = true;
        }
    }
}

impl Reporter for FileReporter<'_> {
    fn report(&mut self, event: &GateEvent<'_>) {
        let GateEvent::RunFinished { plan, outcome } = event else {
            return;
        };
        if let Some(path) = self.files.json.clone() {
            match serde_json::to_string_pretty(&super::json(plan, outcome)) {
                Ok(text) => self.write(&path, &format!("{text}\n"), "JSON report"),
                Err(error) => {
                    self.printer
                        .error(&format!("cannot make the JSON report: {error}"));
                    self.failed = true;
                }
            }
        }
        if let Some(path) = self.files.junit.clone() {
            self.write(&path, &super::junit(outcome), "JUnit report");
        }
        if let Some(summary) = &self.files.step_summary {
            use std::io::Write as _;
            let appended = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(summary)
                .and_then(|mut file| file.write_all(super::github_summary(outcome).as_bytes()));
            if let Err(error) = appended {
                self.printer
                    .error(&format!("cannot append to `$GITHUB_STEP_SUMMARY`: {error}"));
                self.failed = true;
            }
        }
    }
}
