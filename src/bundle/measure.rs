//! The exact token count of a whole rendered bundle, without counting its file contents
//! a second time.
//!
//! A tokenizer first splits text into pieces by a regular expression, then encodes each
//! piece on its own; so the count of a text is the sum of the counts of its parts
//! whenever every cut between parts falls where the pattern always splits. Both
//! patterns (o200k, cl100k; see `pretokenize`) always split
//!
//! - after a newline followed by a printable ASCII character other than `/`
//!   (no alternative continues a newline with anything but whitespace, `\r`, `\n` or
//!   `/`, and none looks behind), and
//! - between an ASCII letter or digit and a backslash (letters and digits never share a
//!   piece with punctuation that follows them; JSON escapes put a backslash after many
//!   a letter).
//!
//! A file's content in the document is then *head · middle · tail*, cut at its first
//! and last such place: the middle's count is the content's count (known from building)
//! minus the head's and the tail's, and only the heads and tails are counted again,
//! together with the document's own text around them ([`Counter`]). Content with no such
//! place is counted whole. A property test checks the sum against a plain count.

use std::path::Path;

use super::content::{self, ContentError};
use super::json;
use super::model::Bundle;
use super::render::{self, Contents, RenderError};
use super::tokens;
use crate::config::settings::Tokenizer;

/// The document a bundle is written as; its token total is the exact count of that
/// document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Document {
    #[default]
    Markdown,
    Json,
}

/// Stands in for the total while a document is measured: the line holding it (the
/// count line) is left out of the count, as the total cannot count itself.
const TOTAL_STAND_IN: usize = 7_070_707_070_707;

/// Counts the document of one bundle, exactly, as its contents are shed and restored.
#[derive(Debug)]
pub struct Measurer<'a> {
    document: Document,
    root: &'a Path,
    template: &'a str,
    tokenizer: Tokenizer,
    /// By item: its content as the document holds it.
    segments: Vec<Option<Segment>>,
}

impl<'a> Measurer<'a> {
    /// Read every content of `bundle` once more (on every core) to keep its head and
    /// tail; JSON also counts each escaped text.
    pub fn new(
        bundle: &Bundle,
        document: Document,
        root: &'a Path,
        template: &'a str,
        tokenizer: Tokenizer,
    ) -> Result<Self, ContentError> {
        let segments = crate::parallel::map(&bundle.items, |item| {
            let Some(content) = &item.content else {
                return Ok(None);
            };
            let text = content.text()?;
            Ok(Some(match document {
                Document::Markdown => Segment::of(tokenizer, &text, Some(item.tokens)),
                Document::Json => {
                    let mut escaped = Vec::with_capacity(text.len() + text.len() / 8);
                    json::escape_into(&mut escaped, text.as_bytes());
                    let escaped = String::from_utf8_lossy(&escaped);
                    Segment::of(tokenizer, &escaped, None)
                }
            }))
        });
        Ok(Self {
            document,
            root,
            template,
            tokenizer,
            segments: segments.into_iter().collect::<Result<_, ContentError>>()?,
        })
    }

    /// The exact count of `bundle`'s document as it would be written now, without its
    /// count line.
    pub fn count(&self, bundle: &mut Bundle) -> Result<usize, RenderError> {
        for (index, item) in bundle.items.iter().enumerate() {
            if let Some(content) = &item.content {
                content.set_stand_in(Some(index));
            }
        }
        let total = std::mem::replace(&mut bundle.tokens.total, TOTAL_STAND_IN);
        let mut out = Vec::new();
        let rendered = match self.document {
            Document::Markdown => render::markdown_with(
                bundle.clone(),
                self.root,
                self.template,
                &mut out,
                Contents::StandIns,
            ),
            Document::Json => render::json_with(bundle, &mut out, Contents::StandIns),
        };
        bundle.tokens.total = total;
        for item in &bundle.items {
            if let Some(content) = &item.content {
                content.set_stand_in(None);
            }
        }
        rendered?;
        let text = String::from_utf8_lossy(&out);
        Ok(self.count_text(&without_count_line(&text)))
    }

    fn count_text(&self, mut text: &str) -> usize {
        let mut counter = Counter::new(self.tokenizer);
        while let Some(at) = text.find('\u{e000}') {
            counter.text(&text[..at]);
            text = &text[at..];
            let segment = content::stand_in_at(text)
                .and_then(|(index, length)| Some((self.segments.get(index)?.as_ref()?, length)));
            match segment {
                Some((segment, length)) => {
                    counter.segment(segment);
                    text = &text[length..];
                }
                // Not a stand-in: the document's own text.
                None => {
                    let next = '\u{e000}'.len_utf8();
                    counter.text(&text[..next]);
                    text = &text[next..];
                }
            }
        }
        counter.text(text);
        counter.finish()
    }
}

/// `text` without the line holding [`TOTAL_STAND_IN`], if any.
fn without_count_line(text: &str) -> std::borrow::Cow<'_, str> {
    let stand_in = TOTAL_STAND_IN.to_string();
    let Some(at) = text.find(&stand_in) else {
        return std::borrow::Cow::Borrowed(text);
    };
    let start = text[..at].rfind('\n').map_or(0, |newline| newline + 1);
    let end = text[at..]
        .find('\n')
        .map_or(text.len(), |newline| at + newline + 1);
    std::borrow::Cow::Owned(format!("{}{}", &text[..start], &text[end..]))
}

/// Whether every split of any text containing `before` right before `after` cuts
/// between them (see the module docs).
fn always_splits(before: u8, after: u8) -> bool {
    match before {
        b'\n' => after.is_ascii_graphic() && after != b'/',
        _ => after == b'\\' && before.is_ascii_alphanumeric(),
    }
}

/// The first and the last place in `text` where it always splits, if any.
fn cut_points(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let at = |index: usize| always_splits(bytes[index - 1], bytes[index]);
    let first = (1..bytes.len()).find(|&index| at(index))?;
    let last = (first..bytes.len()).rev().find(|&index| at(index))?;
    Some((first, last))
}

/// One content of the document, as the [`Counter`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Cut where the text always splits: the head and the tail are kept, the middle is
    /// known by its count.
    Cut {
        head: String,
        middle: usize,
        tail: String,
    },
    /// No such place: the whole text.
    Whole(String),
}

impl Segment {
    /// `text` as it appears in the document, whose count is `known` if known.
    pub fn of(tokenizer: Tokenizer, text: &str, known: Option<usize>) -> Self {
        let Some((first, last)) = cut_points(text) else {
            return Self::Whole(text.to_owned());
        };
        let (head, tail) = (&text[..first], &text[last..]);
        let middle = match known {
            Some(whole) => whole
                .saturating_sub(tokens::count(tokenizer, head))
                .saturating_sub(tokens::count(tokenizer, tail)),
            None => tokens::count(tokenizer, &text[first..last]),
        };
        Self::Cut {
            head: head.to_owned(),
            middle,
            tail: tail.to_owned(),
        }
    }
}

/// Adds up a document given as its own text and [`Segment`]s, in order.
#[derive(Debug)]
pub struct Counter {
    tokenizer: Tokenizer,
    /// Text since the last place the document always splits, not yet counted.
    pending: String,
    total: usize,
}

impl Counter {
    pub fn new(tokenizer: Tokenizer) -> Self {
        Self {
            tokenizer,
            pending: String::new(),
            total: 0,
        }
    }

    pub fn text(&mut self, text: &str) {
        self.pending.push_str(text);
    }

    pub fn segment(&mut self, segment: &Segment) {
        match segment {
            Segment::Whole(text) => self.pending.push_str(text),
            Segment::Cut { head, middle, tail } => {
                self.pending.push_str(head);
                self.total += tokens::count(self.tokenizer, &self.pending);
                self.pending.clear();
                self.total += middle;
                self.pending.push_str(tail);
            }
        }
    }

    pub fn finish(self) -> usize {
        self.total + tokens::count(self.tokenizer, &self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn total(tokenizer: Tokenizer, parts: &[(String, bool)]) -> usize {
        let mut counter = Counter::new(tokenizer);
        for (text, is_content) in parts {
            if *is_content {
                let known = tokens::count(tokenizer, text);
                counter.segment(&Segment::of(tokenizer, text, Some(known)));
            } else {
                counter.text(text);
            }
        }
        counter.finish()
    }

    /// Text rich in the characters that decide splits: newlines, spaces, slashes,
    /// backslashes, letters with contractions, digits, punctuation, non-ASCII.
    fn tricky() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("\n"),
                Just("\r\n"),
                Just(" "),
                Just("\t"),
                Just("\u{b}"),
                Just("\u{c}"),
                Just("/"),
                Just("\\"),
                Just("\\n"),
                Just("'s"),
                Just("fn"),
                Just("Main"),
                Just("x"),
                Just("123456"),
                Just("{"),
                Just("}"),
                Just("```"),
                Just("\u{a0}"),
                Just("é"),
                Just("\u{301}"),
                Just("東京"),
                Just("\""),
            ],
            0..40,
        )
        .prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn a_document_counted_in_parts_counts_as_a_whole(
            parts in proptest::collection::vec((tricky(), any::<bool>()), 1..8),
            cl100k in any::<bool>(),
        ) {
            let tokenizer = if cl100k { Tokenizer::Cl100k } else { Tokenizer::O200k };
            let whole: String = parts.iter().map(|(text, _)| text.as_str()).collect();
            prop_assert_eq!(total(tokenizer, &parts), tokens::count(tokenizer, &whole));
        }
    }

    #[test]
    fn source_files_are_cut_and_counted_exactly() {
        for path in ["src/bundle/build.rs", "README.md", "templates/bundle.md"] {
            let text = std::fs::read_to_string(path).unwrap();
            let segment = Segment::of(Tokenizer::O200k, &text, None);
            assert!(
                matches!(segment, Segment::Cut { .. }),
                "{path} has places to cut"
            );
            let document = format!("# {path}\n\n```rust\n{text}```\n\ntail\n");
            let parts = [
                (format!("# {path}\n\n```rust\n"), false),
                (text.clone(), true),
                (String::from("```\n\ntail\n"), false),
            ];
            assert_eq!(
                total(Tokenizer::O200k, &parts),
                tokens::count(Tokenizer::O200k, &document)
            );
        }
    }
}
