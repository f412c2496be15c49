//! The report-file reporter: when the run finishes, writes the JSON report, the JUnit
//! report and the GitHub step summary it was asked for. A file that cannot be written
//! is an error on stderr (the previous file is left as it was) and is remembered, so
//! the caller can exit 4.

use std::io::Write as _;
use std::path::PathBuf;

use crate::gates::events::{GateEvent, Reporter};
use crate::output::{self, Destination, Printer};

/// Where to write reports.
#[derive(Debug, Default, Clone)]
pub struct Files {
    pub json: Option<Destination>,
    pub junit: Option<Destination>,
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

    fn write(&mut self, destination: &Destination, text: &str, what: &str) {
        let written = match destination {
            Destination::File(path) => output::write_atomic(path, text.as_bytes())
                .map_err(|error| (path.display().to_string(), error)),
            Destination::Through(path) => {
                output::write_through(path, |out| out.write_all(text.as_bytes()))
                    .map_err(|error: std::io::Error| (path.display().to_string(), error))
            }
            Destination::Stdout => self
                .printer
                .data(text)
                .map_err(|error| (String::from("stdout"), error)),
        };
        if let Err((path, error)) = written {
            self.printer.error(&format!(
                "cannot write the {what} `{path}`: {error}; the previous file is left as it was",
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
            // A path ctx does not own: a FIFO or device is refused rather than blocked on.
            let appended = crate::paths::open_append_regular(summary)
                .and_then(|mut file| file.write_all(super::github_summary(outcome).as_bytes()));
            if let Err(error) = appended {
                self.printer
                    .error(&format!("cannot append to `$GITHUB_STEP_SUMMARY`: {error}"));
                self.failed = true;
            }
        }
    }
}
