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
//!   `/`, and none looks behind),
//! - after a newline followed by spaces and tabs and then a printable ASCII character
//!   (an indented line): the only alternatives that take a newline end at the last `\r`
//!   or `\n` of a whitespace run, or take `\r`, `\n` and `/` after punctuation, so the
//!   newline's piece ends at it and the indentation starts the next, and
//! - between an ASCII letter or digit and a backslash (letters and digits never share a
//!   piece with punctuation that follows them; JSON escapes put a backslash after many
//!   a letter).
//!
//! A file's content in the document is then *head · middle · tail*, cut at its first
//! and last such place: the middle's count is the content's count (known from building)
//! minus the head's and the tail's, and only the heads and tails are counted again,
//! together with the document's own text around them ([`Counter`]). Content with no such
//! place is counted whole. A property test checks the sum against a plain count.

use std::borrow::Cow;
use std::path::Path;

use super::cache::TokenCache;
use super::content::{self, Content, ContentError};
use super::json;
use super::markdown;
use super::model::Bundle;
use super::render::{self, Contents, RenderError};
use super::tokens;
use crate::config::settings::Tokenizer;

pub use super::document::Document;
use super::document::{Measured, TOTAL_STAND_IN};

/// The second stand-in, when the first is not enough to tell the count lines (see
/// [`Measurer::count`]): as many digits, and read with the same article.
const TOTAL_STAND_IN_AGAIN: usize = 7_272_727_272_727;

/// The count of a file's text as the built-in documents frame it, which depends on the
/// text alone (so the token cache keeps it by the text's hash):
///
/// - Markdown: `"\n" + text` plus the newline the template adds after a text without
///   one, from the end of the fence line (` ```python`) to the closing fence. Both ends
///   always split when the language ends in a letter or digit (see the module docs).
/// - JSON: `␠"` + the escaped text + `"\n`, from after `"content":` to the indentation of
///   the closing brace: a punctuation run never takes the space after it, and a closing
///   quote takes the newline but never the spaces after it.
pub fn framed(tokenizer: Tokenizer, document: Document, text: &str, count: usize) -> usize {
    let newline = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    match document {
        Document::Markdown => match Segment::of(tokenizer, text, Some(count)) {
            Segment::Cut { head, middle, tail } => {
                tokens::count(tokenizer, &format!("\n{head}"))
                    + middle
                    + tokens::count(tokenizer, &format!("{tail}{newline}"))
            }
            Segment::Whole(text) => tokens::count(tokenizer, &format!("\n{text}{newline}")),
        },
        Document::Json => tokens::count(tokenizer, &format!(" \"{}\"\n", escaped(text))),
    }
}

/// `text` as the inside of a JSON string, exactly as the JSON output writes it.
fn escaped(text: &str) -> String {
    let mut escaped = Vec::with_capacity(text.len() + text.len() / 8);
    json::escape_into(&mut escaped, text.as_bytes());
    String::from_utf8_lossy(&escaped).into_owned()
}

/// A text's count and its JSON [`framed`] count, counting most of it once.
///
/// Both patterns split after an ASCII letter or digit followed by an ASCII character
/// other than a letter, a digit or `'` (a piece with a letter or digit ends at its last
/// one, or takes a `'s`-like suffix; see the module docs), in the text and in its JSON
/// escape alike: escaping leaves letters and digits be and turns a byte into a
/// backslash run; and at the start of most lines ([`cut_between`]). So the text is cut
/// there into *zones* around the bytes JSON escapes
/// (from the cut before each to the cut after it), counted as read and escaped, and the
/// clean stretches between them, the same in both and counted once. The first and the
/// last zone carry the frame (`␠"` … `"\n`).
pub fn counted_with_json_frame(tokenizer: Tokenizer, text: &str) -> (usize, usize) {
    tokens::with_counter(tokenizer, |counter| {
        let mut sum = JsonSum {
            text,
            counter,
            escaped: Vec::new(),
            raw: 0,
            framed: 0,
        };
        json_parts(text.as_bytes(), |part, zone| {
            if zone {
                sum.zone(part.start, part.end);
            } else {
                sum.clean(part.start, part.end);
            }
        });
        (sum.raw, sum.framed)
    })
}

/// The parts of `text` in order, each with whether it is a zone (see
/// [`counted_with_json_frame`]): zones and the clean stretches between them, from the
/// start to the end, cut where [`cut_between`] cuts.
///
/// The zone at hand, `[start, stop)`: `stop` is the first cut after its last escape (or
/// after the start), so the next escape is at or after it. The zone ends there, at a
/// cut, even when the next escape follows with no cut between (a line of closing
/// brackets after another): the next zone starts where this one stops, and each stays
/// the size of a line's end, which the memo has seen. Each byte is looked at a bounded
/// number of times: a long stretch without cuts costs no more than a short one.
fn json_parts(bytes: &[u8], mut part: impl FnMut(std::ops::Range<usize>, bool)) {
    let end = bytes.len();
    let mut start = 0;
    let mut stop = cut_from(bytes, 1);
    loop {
        part(start..stop, true);
        let Some(escape) = json::first_escape(bytes, stop, end) else {
            if stop < end {
                let last = last_cut(bytes, end - 1, stop);
                if last > stop {
                    part(stop..last, false);
                }
                part(last..end, true);
            }
            return;
        };
        start = last_cut(bytes, escape, stop);
        if start > stop {
            part(stop..start, false);
        }
        stop = cut_from(bytes, escape + 1);
    }
}

/// Whether both patterns always split before `bytes[at]` (`at` ≥ 1), in a text and in
/// its JSON escape alike (see [`counted_with_json_frame`]):
///
/// - after an ASCII letter or digit followed by an ASCII character other than a letter,
///   a digit or `'`;
/// - after a newline that [`always_splits`] the text, unless a letter, `'` or `/`
///   follows it: escaped, the newline ends in the letter `n` (`\n`), whose piece ends
///   before a digit, punctuation, a space or a tab (the escape of which starts with a
///   backslash). Indented lines are so cut at their indentation, and the zone around a
///   line break is the line's end (`);⏎`), which source code repeats;
/// - before the last of two or more spaces followed by a printable ASCII character (in
///   the escape, by the first byte of its escape, also printable): no alternative goes
///   on from a space with a space but whitespace runs, and `\s+(?!\S)` gives the last
///   space back to what follows. So a line indented deeper than a zone is long, closing
///   a block (`␠}⏎`), is remembered as a short zone, its indentation counted once.
fn cut_between(bytes: &[u8], at: usize) -> bool {
    let (before, after) = (bytes[at - 1], bytes[at]);
    if before == b'\n' {
        return !after.is_ascii_alphabetic() && after != b'\'' && always_splits(bytes, at);
    }
    if before == b' ' {
        return after == b' '
            && bytes.get(at + 1).is_some_and(u8::is_ascii_graphic)
            && blank_follows_a_line_or_text(bytes, at - 1);
    }
    before.is_ascii_alphanumeric()
        && after.is_ascii()
        && !after.is_ascii_alphanumeric()
        && after != b'\''
}

/// Whether the run of spaces and tabs that ends at `bytes[last]` starts the text, or
/// follows printable ASCII or a newline. The run then holds no line break, so a part
/// that ends within it is split as in the text: cl100k takes whitespace that ends a text
/// as one piece (`\s++$`), line breaks and all. (After a newline, the run starts with a
/// cut, and a part with the newline, an escape, ends there.)
fn blank_follows_a_line_or_text(bytes: &[u8], last: usize) -> bool {
    bytes[..last]
        .iter()
        .rposition(|&byte| byte != b' ' && byte != b'\t')
        .is_none_or(|before| bytes[before].is_ascii_graphic() || bytes[before] == b'\n')
}

/// The first cut at or after `from` (at least 1), or the end.
fn cut_from(bytes: &[u8], from: usize) -> usize {
    (from.max(1)..bytes.len())
        .find(|&at| cut_between(bytes, at))
        .unwrap_or(bytes.len())
}

/// The last cut in `(floor, upto]`, or `floor`.
fn last_cut(bytes: &[u8], upto: usize, floor: usize) -> usize {
    (floor + 1..=upto.min(bytes.len().saturating_sub(1)))
        .rev()
        .find(|&at| cut_between(bytes, at))
        .unwrap_or(floor)
}

/// The two counts of [`counted_with_json_frame`] as they add up.
struct JsonSum<'t, 'c, 'm> {
    text: &'t str,
    counter: &'c mut tokens::Counter<'m>,
    escaped: Vec<u8>,
    raw: usize,
    framed: usize,
}

impl JsonSum<'_, '_, '_> {
    /// A stretch with nothing to escape, the same in both.
    fn clean(&mut self, start: usize, stop: usize) {
        let count = self.counter.count(&self.text[start..stop]);
        self.raw += count;
        self.framed += count;
    }

    /// A zone: counted as read and as escaped (with the frame's ends where it has them);
    /// one inside the text is remembered by its bytes (most are a line's end, `);⏎`).
    fn zone(&mut self, start: usize, stop: usize) {
        let part = &self.text[start..stop];
        let open = if start == 0 { " \"" } else { "" };
        let close = if stop == self.text.len() { "\"\n" } else { "" };
        let escaped = &mut self.escaped;
        let (raw, framed) = if open.is_empty() && close.is_empty() {
            self.counter.remembered(part.as_bytes(), |counter| {
                Self::counted(counter, escaped, "", part, "")
            })
        } else {
            Self::counted(self.counter, escaped, open, part, close)
        };
        self.raw += raw;
        self.framed += framed;
    }

    /// `part`'s count as read, and escaped between `open` and `close`.
    fn counted(
        counter: &mut tokens::Counter<'_>,
        escaped: &mut Vec<u8>,
        open: &str,
        part: &str,
        close: &str,
    ) -> (usize, usize) {
        let raw = counter.count(part);
        escaped.clear();
        escaped.extend_from_slice(open.as_bytes());
        json::escape_into(escaped, part.as_bytes());
        escaped.extend_from_slice(close.as_bytes());
        // Escaping keeps UTF-8 valid (it only replaces ASCII bytes).
        (
            raw,
            counter.count(std::str::from_utf8(escaped).unwrap_or_default()),
        )
    }
}

/// Counts the document of one bundle, exactly, as its contents are shed and restored.
///
/// The document is rendered with a stand-in for each file content (nothing is read).
/// A content framed as the built-in documents frame it counts by its [`framed`] count,
/// known from building; any other (a custom template, a file without a language) is
/// read once and counted by its [`Segment`]. The document's own text is counted through
/// the token cache: it repeats from run to run, and a repeated bundle then loads no
/// vocabulary.
#[derive(Debug)]
pub struct Measurer<'a> {
    document: Document,
    root: &'a Path,
    template: &'a str,
    tokenizer: Tokenizer,
    /// What the document depends on besides the bundle: its kind, the tokenizer and
    /// every template (see [`Measurer::key`]).
    fingerprint: blake3::Hash,
    /// Contents read because they were not framed as expected, by item.
    read: std::cell::RefCell<std::collections::HashMap<usize, Segment>>,
    /// The last document counted, when it can be written as it is ([`Measured`]).
    kept: std::cell::RefCell<Option<Measured>>,
    /// Whether the document is the built-in Markdown one, written directly
    /// ([`markdown::document`]), which shows the totals on one line; a workspace's own
    /// template decides which lines show them.
    builtin: bool,
}

impl<'a> Measurer<'a> {
    pub fn new(
        document: Document,
        root: &'a Path,
        template: &'a str,
        tokenizer: Tokenizer,
    ) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"ctx document total\0");
        hasher
            .update(format!("{document:?}\0{}\0{template}\0", tokens::name(tokenizer)).as_bytes());
        if document == Document::Markdown {
            hasher.update(render::BUILTIN_TEMPLATE.as_bytes());
            // The workspace's templates (a template may include others): every file.
            let mut files = crate::paths::walk_tree_files(&root.join("templates"));
            files.sort();
            for (path, _) in files {
                hasher.update(path.to_string_lossy().as_bytes());
                hasher.update(&std::fs::read(&path).unwrap_or_default());
            }
        }
        Self {
            document,
            root,
            template,
            tokenizer,
            fingerprint: hasher.finalize(),
            read: std::cell::RefCell::default(),
            kept: std::cell::RefCell::default(),
            builtin: document == Document::Markdown && render::is_builtin(root, template),
        }
    }

    /// The key of the document total of a bundle with `digest` in the token cache: the
    /// digest covers every byte of the bundle but the total, the fingerprint the rest of
    /// what the document is made from. A repeated bundle then renders nothing to count.
    pub fn key(&self, digest: &str) -> blake3::Hash {
        let mut hasher = blake3::Hasher::new();
        hasher.update(self.fingerprint.as_bytes());
        hasher.update(digest.as_bytes());
        hasher.finalize()
    }

    /// The exact count of `bundle`'s document as it would be written now, without its
    /// count lines.
    ///
    /// Rendered with [`TOTAL_STAND_IN`] for the totals, the lines holding it are the count
    /// lines, unless the bundle's own text holds that number too (a rule, a budget) or a
    /// workspace template decides what shows the total. Then the document is rendered
    /// again with [`TOTAL_STAND_IN_AGAIN`], and the count lines are those that differ.
    pub fn count(&self, bundle: &mut Bundle, cache: &mut TokenCache) -> Result<usize, RenderError> {
        let text = self.render_measured(bundle, TOTAL_STAND_IN)?;
        let lines = count_lines_of(&text);
        let count_lines = match self.document {
            // The built-in template shows both totals on one line.
            Document::Markdown if self.builtin => 1,
            Document::Markdown => usize::MAX,
            Document::Json => 1 + usize::from(bundle.tokens.cumulative.is_some()),
        };
        self.kept.replace(None);
        if lines.len() == count_lines {
            // The text around the count lines, as one (not copied without them).
            let total = self.count_text(&around(&text, &lines), bundle, cache)?;
            self.keep(bundle, text);
            return Ok(total);
        }
        let again = self.render_measured(bundle, TOTAL_STAND_IN_AGAIN)?;
        self.count_text(&[&without_changed_lines(&text, &again)], bundle, cache)
    }

    /// Keep the `text` of `bundle` just counted, to be written as it is, when it is JSON
    /// or the built-in template made it: both print each content as it is, and the
    /// totals (the total, then the total with the parent chain) on their count lines only.
    fn keep(&self, bundle: &Bundle, text: String) {
        if self.document == Document::Markdown && !self.builtin {
            return;
        }
        let totals = 1 + usize::from(bundle.tokens.cumulative.is_some());
        let stand_in = TOTAL_STAND_IN.to_string();
        if memchr::memmem::find_iter(text.as_bytes(), stand_in.as_bytes()).count() != totals {
            return;
        }
        self.kept.replace(Some(Measured {
            digest: bundle.digest.clone(),
            document: self.document,
            template: self.template.to_owned(),
            text,
        }));
    }

    /// The document last counted, if it was kept and is `bundle`'s (the same digest).
    pub fn into_measured(self, bundle: &Bundle) -> Option<Measured> {
        self.kept
            .into_inner()
            .filter(|measured| measured.digest == bundle.digest)
    }

    /// `bundle`'s document with `stand_in` for its totals and a stand-in for each content.
    fn render_measured(&self, bundle: &mut Bundle, stand_in: usize) -> Result<String, RenderError> {
        for (index, item) in bundle.items.iter().enumerate() {
            if let Some(content) = &item.content {
                content.set_stand_in(Some(index));
            }
        }
        let total = std::mem::replace(&mut bundle.tokens.total, stand_in);
        let cumulative = bundle.tokens.cumulative.map(|_| stand_in);
        let cumulative = std::mem::replace(&mut bundle.tokens.cumulative, cumulative);
        let mut out = Vec::new();
        let rendered = match self.document {
            Document::Markdown if self.builtin => {
                out = markdown::document(bundle).into_bytes();
                // Every test that makes a Markdown bundle checks the document written
                // directly against the template it stands for.
                #[cfg(debug_assertions)]
                {
                    let mut templated = Vec::new();
                    self.templated(bundle, &mut templated)?;
                    assert!(
                        out == templated,
                        "the built-in Markdown document differs from templates/bundle.md:\n{}\n----\n{}",
                        String::from_utf8_lossy(&out),
                        String::from_utf8_lossy(&templated)
                    );
                }
                Ok(())
            }
            Document::Markdown => self.templated(bundle, &mut out),
            Document::Json => render::json_with(bundle, &mut out, Contents::StandIns),
        };
        bundle.tokens.total = total;
        bundle.tokens.cumulative = cumulative;
        for item in &bundle.items {
            if let Some(content) = &item.content {
                content.set_stand_in(None);
            }
        }
        rendered?;
        Ok(String::from_utf8(out)
            .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()))
    }

    /// `bundle`'s Markdown through the template, contents as their stand-ins.
    fn templated(&self, bundle: &mut Bundle, out: &mut Vec<u8>) -> Result<(), RenderError> {
        // The template takes the items (the rest of the bundle is small) and gives them
        // back.
        let mut shell = bundle.clone_without_items();
        shell.items = std::mem::take(&mut bundle.items);
        let (rendered, back) =
            render::markdown_with(shell, self.root, self.template, out, Contents::StandIns);
        if let Some(back) = back {
            bundle.items = back.items;
        }
        rendered
    }

    /// The count of `texts`, one after the other as one text.
    fn count_text(
        &self,
        texts: &[&str],
        bundle: &Bundle,
        cache: &mut TokenCache,
    ) -> Result<usize, RenderError> {
        let tokenizer = self.tokenizer;
        let mut counter = Counter::new();
        for text in texts {
            self.count_into(&mut counter, text, bundle)?;
        }
        Ok(counter.finish(|pieces| cache.count_all(tokenizer, pieces)))
    }

    /// `text` into `counter`: its own text as text, each content by its framed count (or
    /// read, when it is not framed as expected).
    fn count_into<'t>(
        &self,
        counter: &mut Counter<'t>,
        mut text: &'t str,
        bundle: &Bundle,
    ) -> Result<(), RenderError> {
        while let Some(at) = text.find('\u{e000}') {
            let (before, rest) = text.split_at(at);
            let found = content::stand_in_at(rest).and_then(|(index, length)| {
                let item = bundle.items.get(index)?;
                Some((index, item, item.content.as_ref()?, &rest[length..]))
            });
            let Some((index, item, content, after)) = found else {
                // Not a stand-in: the document's own text.
                let next = at + '\u{e000}'.len_utf8();
                counter.text(&text[..next]);
                text = &text[next..];
                continue;
            };
            if let Some((before, count, after)) = self.framed_here(before, content, after) {
                counter.text(before);
                counter.known(count);
                text = after;
                continue;
            }
            counter.text(before);
            let mut read = self.read.borrow_mut();
            let segment = match read.entry(index) {
                std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(self.segment(content, item.tokens)?)
                }
            };
            counter.segment(segment);
            text = after;
        }
        counter.text(text);
        Ok(())
    }

    /// When `content` sits in its frame, with its framed count known: the text before
    /// the frame, the count, and the text after it.
    fn framed_here<'t>(
        &self,
        before: &'t str,
        content: &Content,
        after: &'t str,
    ) -> Option<(&'t str, usize, &'t str)> {
        let count = content.framed()?;
        let bytes = before.as_bytes();
        match self.document {
            Document::Markdown => {
                let [.., language_end, b'\n'] = bytes else {
                    return None;
                };
                let after = match content.ends_with_newline() {
                    true => after,
                    false => after.strip_prefix('\n')?,
                };
                let next = *after.as_bytes().first()?;
                (language_end.is_ascii_alphanumeric() && next.is_ascii_graphic() && next != b'/')
                    .then(|| (&before[..before.len() - 1], count, after))
            }
            Document::Json => {
                let before = before.strip_suffix(" \"")?;
                let after = after.strip_prefix("\"\n")?;
                (before.ends_with(':')
                    && !matches!(after.as_bytes().first(), Some(b'\r' | b'\n' | b'/')))
                .then_some((before, count, after))
            }
        }
    }

    /// A content read, as the document holds it.
    fn segment(&self, content: &Content, tokens: usize) -> Result<Segment, ContentError> {
        let text = content.text()?;
        Ok(match self.document {
            Document::Markdown => Segment::of(self.tokenizer, &text, Some(tokens)),
            Document::Json => Segment::of(self.tokenizer, &escaped(&text), None),
        })
    }
}

/// `text` (rendered with [`TOTAL_STAND_IN`]) without the lines that differ in `again`
/// (the same document with [`TOTAL_STAND_IN_AGAIN`]): the lines that show a total.
/// Should the two differ in their number of lines, the lines holding the stand-in.
fn without_changed_lines<'t>(text: &'t str, again: &str) -> std::borrow::Cow<'t, str> {
    if text.lines().count() != again.lines().count() {
        return without_count_line(text);
    }
    text.split_inclusive('\n')
        .zip(again.split_inclusive('\n'))
        .filter(|(line, other)| line == other)
        .map(|(line, _)| line)
        .collect()
}

/// The lines of `text` holding [`TOTAL_STAND_IN`] (the count lines, unless the bundle's
/// own text holds the number too), as byte ranges with their newline.
fn count_lines_of(text: &str) -> Vec<std::ops::Range<usize>> {
    let stand_in = TOTAL_STAND_IN.to_string();
    let bytes = text.as_bytes();
    let mut lines: Vec<std::ops::Range<usize>> = Vec::new();
    for at in memchr::memmem::find_iter(bytes, stand_in.as_bytes()) {
        if lines.last().is_some_and(|line| at < line.end) {
            continue;
        }
        let start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |newline| newline + 1);
        let end =
            memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |newline| at + newline + 1);
        lines.push(start..end);
    }
    lines
}

/// The stretches of `text` around `lines` (in order, apart), in order.
fn around<'t>(text: &'t str, lines: &[std::ops::Range<usize>]) -> Vec<&'t str> {
    let mut from = 0;
    let mut around = Vec::with_capacity(lines.len() + 1);
    for line in lines {
        around.push(&text[from..line.start]);
        from = line.end;
    }
    around.push(&text[from..]);
    around
}

/// `text` without the lines holding [`TOTAL_STAND_IN`] (the total's, and in JSON the
/// cumulative total's), if any.
fn without_count_line(text: &str) -> std::borrow::Cow<'_, str> {
    let lines = count_lines_of(text);
    if lines.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(around(text, &lines).concat())
}

/// Whether every split of any text containing `bytes` cuts before `bytes[index]`
/// (`index` ≥ 1; see the module docs). Linear over a text: only the indentation after a
/// newline is looked through, once.
fn always_splits(bytes: &[u8], index: usize) -> bool {
    let (before, after) = (bytes[index - 1], bytes[index]);
    match before {
        b'\n' if after.is_ascii_graphic() => after != b'/',
        b'\n' => bytes[index..]
            .iter()
            .find(|&&byte| byte != b' ' && byte != b'\t')
            .is_some_and(u8::is_ascii_graphic),
        _ => after == b'\\' && before.is_ascii_alphanumeric(),
    }
}

/// The first and the last place in `text` where it always splits, if any.
fn cut_points(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let at = |index: usize| always_splits(bytes, index);
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

/// Adds up a document given as its own text and [`Segment`]s, in order. The document's
/// own text is cut into the pieces between the places where it always splits, which
/// [`Counter::finish`] counts all at once (exactly; a cache of exact counts will do):
/// they are independent, so they can be counted on every core.
#[derive(Default)]
pub struct Counter<'t> {
    /// Text since the last place the document always splits, not yet a piece: borrowed
    /// while it is one stretch of the document (as almost every piece is), so that the
    /// pieces do not copy the document.
    pending: Cow<'t, str>,
    pieces: Vec<Cow<'t, str>>,
    /// The sum of the counts known without counting.
    known: usize,
}

impl<'t> Counter<'t> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn text(&mut self, text: &'t str) {
        if self.pending.is_empty() {
            self.pending = Cow::Borrowed(text);
        } else {
            self.pending.to_mut().push_str(text);
        }
    }

    pub fn segment(&mut self, segment: &Segment) {
        match segment {
            Segment::Whole(text) => self.pending.to_mut().push_str(text),
            Segment::Cut { head, middle, tail } => {
                self.pending.to_mut().push_str(head);
                self.known(*middle);
                self.pending.to_mut().push_str(tail);
            }
        }
    }

    /// Text whose count is known, at a place where the document always splits (after
    /// what came before, and before what follows).
    pub fn known(&mut self, count: usize) {
        self.cut();
        self.known += count;
    }

    fn cut(&mut self) {
        if !self.pending.is_empty() {
            self.pieces.push(std::mem::take(&mut self.pending));
        }
    }

    /// The total: what was known plus `count` of the pieces of own text.
    pub fn finish(mut self, count: impl FnOnce(&[Cow<'t, str>]) -> usize) -> usize {
        self.cut();
        self.known + count(&self.pieces)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn total(tokenizer: Tokenizer, parts: &[(String, bool)]) -> usize {
        let mut counter = Counter::new();
        for (text, is_content) in parts {
            if *is_content {
                let known = tokens::count(tokenizer, text);
                counter.segment(&Segment::of(tokenizer, text, Some(known)));
            } else {
                counter.text(text);
            }
        }
        counter.finish(|pieces| {
            pieces
                .iter()
                .map(|piece| tokens::count(tokenizer, piece))
                .sum()
        })
    }

    /// Texts of up to `most` pieces from `alphabet`.
    fn text_of(alphabet: &'static [&'static str], most: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(alphabet), 0..most)
            .prop_map(|pieces| pieces.concat())
    }

    /// Whether `text` cut at `at` splits into the pieces it has whole: a cut between
    /// pieces that leaves those on either side as they are.
    fn splits_cleanly(cl100k: bool, text: &str, at: usize) -> bool {
        let mut parts = pieces_of(cl100k, &text[..at]);
        parts.extend(
            pieces_of(cl100k, &text[at..])
                .into_iter()
                .map(|piece| piece.start + at..piece.end + at),
        );
        parts == pieces_of(cl100k, text)
    }

    /// The pieces of `text` (o200k's, or cl100k's), as byte ranges.
    fn pieces_of(cl100k: bool, text: &str) -> Vec<std::ops::Range<usize>> {
        use crate::bundle::pretokenize::{self, Pattern};
        let pattern = if cl100k {
            Pattern::Cl100k
        } else {
            Pattern::O200k
        };
        pretokenize::pieces(pattern, text).collect()
    }

    /// Text rich in the characters that decide splits: newlines, spaces, slashes,
    /// backslashes, letters with contractions, digits, punctuation, non-ASCII.
    fn tricky() -> impl Strategy<Value = String> {
        text_of(
            &[
                "\n",
                "\r\n",
                " ",
                "\t",
                "\u{b}",
                "\u{c}",
                "/",
                "\\",
                "\\n",
                "'s",
                "fn",
                "Main",
                "\n    ",
                "\n\t",
                " \n",
                "\n /",
                "\n \u{a0}",
                "x",
                "123456",
                "{",
                "}",
                "```",
                "\u{a0}",
                "é",
                "\u{301}",
                "東京",
                "\"",
            ],
            40,
        )
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// Every place `always_splits` names, not only the first and the last of a
        /// content, is a cut between pieces that leaves the pieces on either side as
        /// they are (counts alone could agree by chance: BPE rarely merges across
        /// whitespace).
        #[test]
        fn a_text_splits_into_the_same_pieces_at_every_place_it_always_splits(
            text in prop_oneof![tricky(), codeish()],
            cl100k in any::<bool>(),
        ) {
            for index in 1..text.len() {
                if always_splits(text.as_bytes(), index) {
                    prop_assert!(splits_cleanly(cl100k, &text, index), "{:?} cut at {}", text, index);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// The frames of the built-in documents split where `framed` says, whatever
        /// surrounds them.
        #[test]
        fn framed_counts_add_up_in_any_surroundings(
            before in tricky(),
            text in tricky(),
            after in tricky(),
            language in prop_oneof![Just("py"), Just("rust"), Just("c99")],
            cl100k in any::<bool>(),
        ) {
            let tokenizer = if cl100k { Tokenizer::Cl100k } else { Tokenizer::O200k };
            let count = |text: &str| tokens::count(tokenizer, text);
            let newline = if text.is_empty() || text.ends_with('\n') { "" } else { "\n" };
            let markdown = format!("{before}```{language}\n{text}{newline}```{after}");
            prop_assert_eq!(
                count(&markdown),
                count(&format!("{before}```{language}"))
                    + framed(tokenizer, Document::Markdown, &text, count(&text))
                    + count(&format!("```{after}"))
            );
            let mut escaped = Vec::new();
            json::escape_into(&mut escaped, text.as_bytes());
            let escaped = String::from_utf8(escaped).unwrap();
            let json = format!("{before}\"content\": \"{escaped}\"\n    }}{after}");
            prop_assert_eq!(
                count(&json),
                count(&format!("{before}\"content\":"))
                    + framed(tokenizer, Document::Json, &text, count(&text))
                    + count(&format!("    }}{after}"))
            );
        }
    }

    /// Text like source code: words, digits, contractions, ASCII punctuation and space,
    /// control characters, and what JSON escapes.
    fn codeish() -> impl Strategy<Value = String> {
        text_of(
            &[
                "let", "Foo", "x1", "42", "_", "'", "'s", "'T", "'ll", "(", ");", ", ", ".", "-",
                "#", " ", "    ", "\n", "\r\n", "\t", "\u{1}", "\u{7f}", "\"", "\\", "é", "東",
                "\u{301}", "\n    ", "\n\t", "\n}", "\n/", "\n'", "\n1", "  ", "\u{a0}",
            ],
            60,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// The parts the JSON count counts apart split as the whole text does.
        #[test]
        fn a_text_and_its_escape_split_at_the_ends_of_every_json_part(
            text in prop_oneof![tricky(), codeish()],
            cl100k in any::<bool>(),
        ) {
            prop_assert!(json_parts_split_as_the_whole(cl100k, &text), "{:?}", text);
        }
    }

    /// Whether the parts the JSON count counts apart (zones and the clean stretches
    /// between them, cut where `cut_between` cuts) split into the pieces the whole text
    /// does, and their escapes into those of the whole escape.
    fn json_parts_split_as_the_whole(cl100k: bool, text: &str) -> bool {
        let pieces = |text: &str| {
            pieces_of(cl100k, text)
                .into_iter()
                .map(|piece| text[piece].to_owned())
                .collect::<Vec<_>>()
        };
        let (mut raw, mut escape) = (Vec::new(), Vec::new());
        json_parts(text.as_bytes(), |part, _| {
            raw.extend(pieces(&text[part.clone()]));
            escape.extend(pieces(&escaped(&text[part])));
        });
        raw == pieces(text) && escape == pieces(&escaped(text))
    }

    /// Blank runs before the last of their spaces: cut when they hold no line break (a
    /// part ending there would end in whitespace with one, which cl100k takes whole), or
    /// start right after a newline (which then cuts before them).
    #[test]
    fn blank_runs_cut_before_their_last_space_only_without_a_line_break() {
        let cuts = |text: &str| {
            (1..text.len())
                .filter(|&at| cut_between(text.as_bytes(), at))
                .collect::<Vec<_>>()
        };
        assert_eq!(cuts("a;\n        }\n"), [1, 3, 10]);
        assert_eq!(cuts("f(x,   \t  \\\n"), [1, 3, 9]);
        assert_eq!(cuts("x\n\u{a0}  }"), [1]);
        assert_eq!(cuts("x\n\u{c}  }"), [1]);
        assert_eq!(cuts("x\r\n  }"), [1, 3, 4]);
        for text in [
            "a;\n        }\n",
            "f(x,   \t  \\\n",
            "x\n\u{a0}  }",
            "\n\u{a0}  }\n",
            "x\n\u{c}  }",
            "x\r\n  }",
            "  x\n \n   /",
            "x;\r  \n\n   \t  }",
        ] {
            for cl100k in [false, true] {
                assert!(json_parts_split_as_the_whole(cl100k, text), "{text:?}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]
        #[test]
        fn a_text_and_its_json_frame_count_as_when_counted_apart(
            text in prop_oneof![tricky(), codeish()],
            cl100k in any::<bool>(),
        ) {
            let tokenizer = if cl100k { Tokenizer::Cl100k } else { Tokenizer::O200k };
            let count = tokens::count(tokenizer, &text);
            prop_assert_eq!(
                counted_with_json_frame(tokenizer, &text),
                (count, framed(tokenizer, Document::Json, &text, count))
            );
        }
    }

    /// A contraction (`'s`, `'T`, `'ll`) right after a word is no place to cut, at a
    /// zone's edge or anywhere else; nor is anything inside a run without letters.
    #[test]
    fn contractions_and_escapes_next_to_cuts_count_as_apart() {
        let texts = [
            "let'TFoolet",
            "don't\n",
            "it's \"x\"",
            "a'll\tb'd",
            "x1'd\n'",
            "\"Foo's\"\n    let's(go);\n",
            "}\n}\n}\n}\n",
            "東京's\n",
            "",
        ];
        for text in texts {
            for tokenizer in [Tokenizer::O200k, Tokenizer::Cl100k] {
                let count = tokens::count(tokenizer, text);
                assert_eq!(
                    counted_with_json_frame(tokenizer, text),
                    (count, framed(tokenizer, Document::Json, text, count)),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn source_files_count_with_their_json_frame_as_apart() {
        for path in [
            "src/bundle/build.rs",
            "README.md",
            "bench/run.sh",
            "vocab/README.md",
        ] {
            let text = std::fs::read_to_string(path).unwrap();
            for tokenizer in [Tokenizer::O200k, Tokenizer::Cl100k] {
                let count = tokens::count(tokenizer, &text);
                assert_eq!(
                    counted_with_json_frame(tokenizer, &text),
                    (count, framed(tokenizer, Document::Json, &text, count)),
                    "{path}"
                );
            }
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
