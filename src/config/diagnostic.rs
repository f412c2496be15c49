//! Located problems: what validation produces and what `ctx validate` prints.
//!
//! Every config problem becomes a [`Problem`] with a primary [`Location`] (file, line,
//! column, byte span), optional related locations (the other half of a duplicate, the
//! `final` item that was overridden), and a help line. Problems are collected for the
//! whole run, then rendered either as miette reports or as a JSON document.

use std::fmt;
use std::sync::{Arc, OnceLock};

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceCode};
use serde::Serialize;

/// A source file as loaded, kept for snippets in diagnostics.
#[derive(Debug)]
pub struct SourceFile {
    /// Path relative to the workspace root, with `/` separators.
    pub path: String,
    /// The text as parsed (a UTF-8 BOM removed).
    pub text: Arc<str>,
    /// For a document imported from a source: the source's name (its paths are inside
    /// the source's tree: `@<name>/…`).
    pub imported: Option<String>,
    /// Byte offset of each line's start, built on first use: every item's origin is
    /// located, and scanning from the top of the file each time is quadratic.
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    pub fn new(path: String, text: Arc<str>) -> Self {
        Self {
            path,
            text,
            imported: None,
            line_starts: OnceLock::new(),
        }
    }

    /// A document of source `source` (shown as `path`, e.g. `acme@1a2b3c4:ctx/org.yaml`).
    pub fn imported(path: String, text: Arc<str>, source: &str) -> Self {
        Self {
            imported: Some(source.to_owned()),
            ..Self::new(path, text)
        }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', self.text.as_bytes()).map(|index| index + 1))
                .collect()
        })
    }
}

/// A place in a source file.
#[derive(Debug, Clone)]
pub struct Location {
    pub file: Arc<SourceFile>,
    /// Byte offset into `file.text`.
    pub offset: usize,
    /// Length in bytes of the located text (may be 0).
    pub len: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` (clamped to the text) with `len` bytes.
    pub fn at_offset(file: &Arc<SourceFile>, offset: usize, len: usize) -> Self {
        let text = &file.text;
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        // Lines are counted by `\n` before the offset; columns in characters.
        let starts = file.line_starts();
        let line = starts.partition_point(|&start| start <= offset);
        let line_start = starts[line - 1];
        let column = text[line_start..offset].chars().count() + 1;
        let len = len.min(text.len() - offset);
        Self {
            file: Arc::clone(file),
            offset,
            len,
            line,
            column,
        }
    }

    /// The location of a 1-based line and column.
    pub fn at_line_column(file: &Arc<SourceFile>, line: usize, column: usize) -> Self {
        let text = &file.text;
        let line_start = file
            .line_starts()
            .get(line.max(1) - 1)
            .copied()
            .unwrap_or(text.len());
        let offset = text[line_start..]
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(text.len(), |(index, _)| line_start + index);
        Self::at_offset(file, offset, 0)
    }

    /// The token (a key or plain scalar) starting at a 1-based line and column.
    pub fn token_at(file: &Arc<SourceFile>, line: usize, column: usize) -> Self {
        let start = Self::at_line_column(file, line, column);
        let rest = &file.text[start.offset..];
        let len = rest
            .find(|character: char| {
                character.is_whitespace() || matches!(character, ':' | ',' | ']' | '}' | '#')
            })
            .unwrap_or(rest.len());
        Self { len, ..start }
    }

    /// The start of a file (for problems about the file as a whole).
    pub fn file_start(file: &Arc<SourceFile>) -> Self {
        Self::at_offset(file, 0, 0)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}:{}:{}",
            self.file.path, self.line, self.column
        )
    }
}

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Makes the workspace unusable: exit 2.
    Error,
    /// Worth fixing; does not change the exit code.
    Warning,
}

/// A second place that explains the problem.
#[derive(Debug, Clone)]
pub struct Related {
    pub location: Location,
    pub message: String,
}

/// One located, actionable problem.
#[derive(Debug, Clone)]
pub struct Problem {
    pub severity: Severity,
    /// Stable identifier, e.g. `config::unknown-key`.
    pub code: &'static str,
    /// What is wrong: lowercase, no trailing period, identifiers in backticks.
    pub message: String,
    /// Where; `None` only for problems that concern no file.
    pub location: Option<Location>,
    /// The short label under the snippet.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
    pub related: Vec<Related>,
}

impl Problem {
    /// An error at `location`.
    pub fn error(code: &'static str, location: Location, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            location: Some(location),
            label: String::from("here"),
            help: None,
            related: Vec::new(),
        }
    }

    /// A warning at `location`.
    pub fn warning(code: &'static str, location: Location, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, location, message)
        }
    }

    /// An error that concerns no particular file.
    pub fn unlocated(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            location: None,
            label: String::new(),
            help: None,
            related: Vec::new(),
        }
    }

    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn related(mut self, location: Location, message: impl Into<String>) -> Self {
        self.related.push(Related {
            location,
            message: message.into(),
        });
        self
    }

    /// Append to the help line.
    #[must_use]
    pub fn help_suffix(mut self, suffix: &str) -> Self {
        if let Some(help) = &mut self.help {
            help.push_str(suffix);
        }
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Render as a miette report (with the source snippet).
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            // Wrap at spaces only: never split `order-service` or a long path.
            .with_break_words(false)
            .with_word_separator(textwrap::WordSeparator::AsciiSpace)
            .with_word_splitter(textwrap::WordSplitter::NoHyphenation)
            .with_links(false);
        let mut out = String::new();
        let view = ProblemView(self);
        if handler.render_report(&mut out, &view).is_err() {
            // The handler only fails on fmt errors writing into a String, which cannot
            // happen; fall back to the plain form rather than losing the problem.
            out = self.to_string();
        }
        out
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match &self.location {
            Some(location) => write!(formatter, "{location}: {severity}: {}", self.message)?,
            None => write!(formatter, "{severity}: {}", self.message)?,
        }
        for related in &self.related {
            write!(formatter, "\n  {}: {}", related.location, related.message)?;
        }
        if let Some(help) = &self.help {
            write!(formatter, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Adapter that lets miette render a [`Problem`].
struct ProblemView<'a>(&'a Problem);

impl fmt::Debug for ProblemView<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, formatter)
    }
}

impl fmt::Display for ProblemView<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0.message)
    }
}

impl std::error::Error for ProblemView<'_> {}

impl Diagnostic for ProblemView<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.0.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.0.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0
            .help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.0
            .location
            .as_ref()
            .map(|location| &location.file as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let location = self.0.location.as_ref()?;
        let label = LabeledSpan::new(Some(self.0.label.clone()), location.offset, location.len);
        Some(Box::new(std::iter::once(label)))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.0.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.0
                .related
                .iter()
                .map(|related| related as &dyn Diagnostic),
        ))
    }
}

impl fmt::Display for Related {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for Related {}

impl Diagnostic for Related {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Advice)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.location.file)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new(
            Some(String::from("here")),
            self.location.offset,
            self.location.len,
        ))))
    }
}

impl SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let contents =
            self.text
                .as_ref()
                .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.path.clone(),
            contents.data(),
            *contents.span(),
            contents.line(),
            contents.column(),
            contents.line_count(),
        )))
    }
}

/// `ctx.diagnostics/v1`: the JSON form of a run's problems.
#[derive(Debug, Serialize)]
pub struct DiagnosticsReport {
    pub schema: &'static str,
    pub errors: usize,
    pub warnings: usize,
    pub diagnostics: Vec<DiagnosticJson>,
}

/// One problem in `ctx.diagnostics/v1`.
#[derive(Debug, Serialize)]
pub struct DiagnosticJson {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub help: Option<String>,
    pub related: Vec<RelatedJson>,
}

/// A related location in `ctx.diagnostics/v1`.
#[derive(Debug, Serialize)]
pub struct RelatedJson {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl DiagnosticsReport {
    pub fn new(problems: &[Problem]) -> Self {
        let errors = problems.iter().filter(|problem| problem.is_error()).count();
        Self {
            schema: "ctx.diagnostics/v1",
            errors,
            warnings: problems.len() - errors,
            diagnostics: problems
                .iter()
                .map(|problem| DiagnosticJson {
                    severity: problem.severity,
                    code: problem.code,
                    message: problem.message.clone(),
                    file: problem.location.as_ref().map(|at| at.file.path.clone()),
                    line: problem.location.as_ref().map(|at| at.line),
                    column: problem.location.as_ref().map(|at| at.column),
                    help: problem.help.clone(),
                    related: problem
                        .related
                        .iter()
                        .map(|related| RelatedJson {
                            file: related.location.file.path.clone(),
                            line: related.location.line,
                            column: related.location.column,
                            message: related.message.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Arc<SourceFile> {
        Arc::new(SourceFile::new(String::from("a.yaml"), Arc::from(text)))
    }

    #[test]
    fn offsets_and_line_columns_agree() {
        let source = file("kind: domain\nname: é-x\n  key: 1\n");
        let at = Location::at_offset(&source, 22, 1);
        assert_eq!((at.line, at.column), (2, 9));
        let back = Location::at_line_column(&source, 2, 9);
        assert_eq!(back.offset, 22);
        let past_end = Location::at_line_column(&source, 99, 1);
        assert_eq!(past_end.offset, source.text.len());
    }

    #[test]
    fn every_offset_is_located_as_by_counting_from_the_top() {
        // The line index must agree with the plain definition at every offset: lines
        // counted by `\n` before it, columns in characters (CRLF and multibyte included).
        let text = "é: 1\r\n\n  中文: \"ü\"\nlast";
        let source = file(text);
        for offset in 0..=text.len() + 2 {
            let clamped = offset.min(text.len());
            let at = Location::at_offset(&source, offset, 0);
            let mut expected = clamped;
            while !text.is_char_boundary(expected) {
                expected -= 1;
            }
            let before = &text[..expected];
            let line = before.matches('\n').count() + 1;
            let column = before[before.rfind('\n').map_or(0, |index| index + 1)..]
                .chars()
                .count()
                + 1;
            assert_eq!(
                (at.offset, at.line, at.column),
                (expected, line, column),
                "offset {offset}"
            );
            let back = Location::at_line_column(&source, line, column);
            assert_eq!(back.offset, expected, "line {line}, column {column}");
        }
    }

    #[test]
    fn rendered_problem_names_file_line_column_and_help() {
        let source = file("kind: domain\nname: x\npaterns: {}\n");
        let problem = Problem::error(
            "config::unknown-key",
            Location::at_line_column(&source, 3, 1),
            "unknown key `paterns`",
        )
        .help("did you mean `patterns`?");
        let rendered = problem.render(false);
        assert!(rendered.contains("a.yaml:3:1"), "{rendered}");
        assert!(rendered.contains("did you mean `patterns`?"), "{rendered}");
        assert_eq!(
            problem.to_string(),
            "a.yaml:3:1: error: unknown key `paterns`\n  help: did you mean `patterns`?"
        );
    }

    #[test]
    fn help_text_never_breaks_a_name_across_lines() {
        let source = file("kind: domain\nname: x\n");
        // Names with hyphens and slashes placed where a width-100 wrap falls on them.
        for pad in 60..100 {
            let help = format!(
                "{} `order-management-service/very-long-gate-name` and `domains/src/a-b-c.py`",
                "x ".repeat(pad / 2)
            );
            let rendered =
                Problem::error("config::x", Location::at_line_column(&source, 1, 1), "m")
                    .help(help)
                    .render(false);
            for name in [
                "`order-management-service/very-long-gate-name`",
                "`domains/src/a-b-c.py`",
            ] {
                assert!(rendered.contains(name), "pad {pad}: {rendered}");
            }
        }
    }
}
