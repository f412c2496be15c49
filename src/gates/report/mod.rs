//! Reports of a gate run: `ctx.gates/v1` JSON, JUnit XML (one testsuite per scope, one
//! testcase per gate), GitHub Actions workflow commands and step summary, and the
//! summary table printed at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::capture::clean;
use super::plan::{GateResult, GateStatus, Outcome, Plan};
use super::select::SelectedGate;
use crate::ids::{GateId, LayerId, RunId};

mod files;
mod handlers;
mod recorder;
pub mod stream;
mod terminal;

pub use files::{FileReporter, Files};
pub use handlers::Handlers;
pub use recorder::CacheRecorder;
pub use stream::EventStream;
pub use terminal::Terminal;

/// `ctx.gates/v1`.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    pub schema: &'static str,
    pub run_id: &'a RunId,
    pub trace_id: &'a str,
    pub feature: Option<&'a str>,
    pub interrupted: bool,
    pub counts: BTreeMap<&'static str, usize>,
    pub selection: &'a [SelectedGate],
    pub gates: Vec<JsonGate<'a>>,
    pub skipped: Vec<&'a GateId>,
}

/// One gate in `ctx.gates/v1`.
#[derive(Debug, Serialize)]
pub struct JsonGate<'a> {
    pub id: &'a GateId,
    #[serde(serialize_with = "crate::ids::as_text")]
    pub scope: &'a LayerId,
    pub command: String,
    pub blocking: bool,
    pub status: GateStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<&'a str>,
    pub duration_ms: u128,
    pub message: &'a str,
    pub log: &'a str,
    pub output_bytes: u64,
    pub output_tail: &'a str,
    /// A pass reused from the cache (the gate did not run).
    pub cached: bool,
    pub traceparent: &'a str,
}

pub fn json<'a>(plan: &'a Plan, outcome: &'a Outcome) -> JsonReport<'a> {
    JsonReport {
        schema: "ctx.gates/v1",
        run_id: &plan.run_id,
        trace_id: &plan.trace_id,
        feature: plan.feature.as_deref(),
        interrupted: outcome.interrupted_by.is_some(),
        counts: outcome.counts(),
        selection: &plan.gates,
        gates: outcome
            .results
            .iter()
            .map(|result| JsonGate {
                id: &result.gate.id,
                scope: &result.gate.id.layer,
                command: result.gate.shown_run(),
                blocking: result.gate.blocking,
                status: result.status,
                exit_code: result.exit_code,
                signal: result.signal.as_deref(),
                duration_ms: result.duration.as_millis(),
                message: &result.message,
                log: &result.log,
                output_bytes: result.output_bytes,
                output_tail: &result.tail,
                cached: result.status == GateStatus::Cached,
                traceparent: &result.traceparent,
            })
            .collect(),
        skipped: outcome.skipped.iter().map(|gate| &gate.id).collect(),
    }
}

/// XML text/attribute escaping, after removing characters XML 1.0 cannot hold.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in clean(text).chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\u{FFFE}' | '\u{FFFF}' => {}
            character => out.push(character),
        }
    }
    out
}

fn seconds(duration: std::time::Duration) -> String {
    format!("{:.3}", duration.as_secs_f64())
}

/// JUnit XML: one `<testsuite>` per scope, one `<testcase>` per gate.
pub fn junit(outcome: &Outcome) -> String {
    let mut suites: BTreeMap<String, Vec<&GateResult>> = BTreeMap::new();
    for result in &outcome.results {
        suites
            .entry(result.gate.id.layer.to_string())
            .or_default()
            .push(result);
    }
    let kind_count = |results: &[&GateResult], kind: &str| {
        results
            .iter()
            .filter(|result| result.status.junit().is_some_and(|(tag, _)| tag == kind))
            .count()
    };
    let failures = |results: &[&GateResult]| kind_count(results, "failure");
    let errors = |results: &[&GateResult]| kind_count(results, "error");
    let all: Vec<&GateResult> = outcome.results.iter().collect();
    let total_time: std::time::Duration =
        outcome.results.iter().map(|result| result.duration).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"ctx gates\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">",
        all.len(),
        failures(&all),
        errors(&all),
        seconds(total_time)
    );
    for (scope, results) in &suites {
        let time: std::time::Duration = results.iter().map(|result| result.duration).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">",
            xml(scope),
            results.len(),
            failures(results),
            errors(results),
            seconds(time)
        );
        for result in results {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
                xml(&result.gate.id.key),
                xml(scope),
                seconds(result.duration)
            );
            // Retries, as nextest writes them: a flaky pass carries its failed attempts
            // as `flakyFailure`, a failure its earlier ones as `rerunFailure`.
            let reruns = |kind: &str| -> String {
                result
                    .earlier_failures
                    .iter()
                    .map(|message| {
                        format!(
                            "      <{kind} message=\"{}\" type=\"fail\"/>\n",
                            xml(message)
                        )
                    })
                    .collect()
            };
            match result.status.junit() {
                None if result.status == GateStatus::Cached => out.push_str(
                    ">\n      <properties><property name=\"ctx.cached\" value=\"true\"/></properties>\n",
                ),
                None if result.status == GateStatus::Flaky => {
                    out.push_str(">\n");
                    out.push_str(&reruns("flakyFailure"));
                }
                None => out.push_str(">\n"),
                Some((tag, kind)) => {
                    let _ = writeln!(
                        out,
                        ">\n      <{tag} message=\"{}\" type=\"{kind}\">{}</{tag}>",
                        xml(&result.message),
                        xml(&result.tail)
                    );
                    out.push_str(&reruns("rerunFailure"));
                }
            }
            let _ = writeln!(
                out,
                "      <system-out>{}</system-out>\n    </testcase>",
                xml(&format!("$ {}\n{}", result.gate.shown_run(), result.tail))
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Escape a GitHub workflow-command value.
fn github_escape(text: &str, property: bool) -> String {
    let mut out = text
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        out = out.replace(':', "%3A").replace(',', "%2C");
    }
    out
}

/// `::group::` with the gate's output, and `::error` for a failure.
pub fn github_gate(result: &GateResult) -> String {
    let mut out = format!(
        "::group::{} {} ({:.1}s)\n",
        result.status.as_str().to_uppercase(),
        result.gate.id,
        result.duration.as_secs_f64()
    );
    // The gate's output is untrusted: a `::…::` line in it must not command the runner
    // (`::stop-commands::` would silence every later annotation). Commands stay off until
    // a token the output cannot guess.
    let token = crate::process::random_hex(32, &result.gate.id.to_string());
    out.push_str(&format!("::stop-commands::{token}\n"));
    out.push_str(&clean(&String::from_utf8_lossy(&result.output)));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("::{token}::\n"));
    out.push_str("::endgroup::\n");
    if result.status.is_failure() {
        let _ = writeln!(
            out,
            "::error title={}::{}",
            github_escape(
                &format!("gate {} {}", result.gate.id, result.status.as_str()),
                true
            ),
            github_escape(
                &format!(
                    "{}\n$ {}\n{}",
                    result.message,
                    result.gate.shown_run(),
                    last_lines(&result.tail, 20)
                ),
                false
            )
        );
    }
    out
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// Markdown for `$GITHUB_STEP_SUMMARY`.
pub fn github_summary(outcome: &Outcome) -> String {
    let mut out =
        String::from("### ctx gates\n\n| status | duration | gate | scope |\n|---|---|---|---|\n");
    for result in &outcome.results {
        let icon = match result.status {
            GateStatus::Pass => "✅",
            GateStatus::Cached => "♻️",
            GateStatus::Flaky => "⚠️ flaky",
            GateStatus::Fail | GateStatus::Timeout => "❌",
            GateStatus::Error => "⚠️",
            GateStatus::Interrupted => "⏹️",
        };
        let cell = |text: String| text.replace('|', "\\|").replace('`', "'");
        let _ = writeln!(
            out,
            "| {icon} {} | {:.1}s | `{}` | `{}` |",
            result.status.as_str(),
            result.duration.as_secs_f64(),
            cell(result.gate.id.to_string()),
            cell(result.gate.id.layer.to_string())
        );
    }
    out
}

/// The summary table printed at the end of a run.
pub fn summary(outcome: &Outcome) -> String {
    let rows: Vec<[String; 4]> = outcome
        .results
        .iter()
        .map(|result| {
            let status = if result.gate.blocking || result.status == GateStatus::Pass {
                result.status.as_str().to_uppercase()
            } else {
                format!("{} (non-blocking)", result.status.as_str().to_uppercase())
            };
            [
                status,
                format!("{:.2}s", result.duration.as_secs_f64()),
                result.gate.id.to_string(),
                result.gate.id.layer.to_string(),
            ]
        })
        .collect();
    let headers = [
        String::from("STATUS"),
        String::from("DURATION"),
        String::from("GATE"),
        String::from("SCOPE"),
    ];
    let widths: Vec<usize> = (0..4)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .chain([headers[column].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in std::iter::once(&headers).chain(rows.iter()) {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(column, cell)| format!("{cell:<width$}", width = widths[column]))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    let counts = outcome.counts();
    let parts: Vec<String> = counts
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(status, count)| format!("{count} {status}"))
        .collect();
    let _ = write!(
        out,
        "{} gates: {}",
        outcome.results.len(),
        if parts.is_empty() {
            String::from("none ran")
        } else {
            parts.join(", ")
        }
    );
    if !outcome.skipped.is_empty() {
        let _ = write!(out, ", {} not started", outcome.skipped.len());
    }
    out.push('\n');
    out
}

/// The selection as `--dry-run` prints it: each gate with its command and why.
pub fn dry_run(gates: &[SelectedGate]) -> String {
    let mut out = String::new();
    for gate in gates {
        let timeout = gate
            .timeout
            .map(|timeout| format!(", timeout {}", humantime::format_duration(timeout)))
            .unwrap_or_default();
        let blocking = if gate.blocking { "" } else { ", non-blocking" };
        out.push_str(&format!(
            "{}\n  run: {}\n  why: {}{timeout}{blocking}\n",
            gate.id,
            crate::output::printable(&gate.shown_run()),
            crate::output::printable(&gate.reason)
        ));
    }
    out.push_str(&format!(
        "{} gate{} selected (dry run: nothing ran)\n",
        gates.len(),
        if gates.len() == 1 { "" } else { "s" }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_and_drops_control_characters() {
        assert_eq!(
            xml("a<b & \"c\"\u{1b}[31m\u{0}"),
            "a&lt;b &amp; &quot;c&quot;"
        );
    }

    #[test]
    fn github_values_are_escaped() {
        assert_eq!(github_escape("50%\nnext", false), "50%25%0Anext");
        assert_eq!(github_escape("a:b,c", true), "a%3Ab%2Cc");
    }
}
