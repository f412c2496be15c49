//! Inlined file content that stays on disk until it is written out.
//!
//! A bundle of a large tree must not hold every file in memory. Building reads each file
//! once (to scan it for secrets, count its tokens and hash it) and keeps only a
//! [`Content`]: where the text comes from, its hash, and the redactions to apply. Writing
//! the bundle reads the file again and refuses it if it is not the text that was counted
//! (it changed in between), so a bundle never pairs a count or a digest with different
//! text. "Not changed" is proved by the file's settled metadata (unchanged across the
//! read, see [`files::reread`]) or by its hash.
//!
//! A small file (up to [`SMALL_BYTES`]) is the exception: its text is kept from the
//! first read, and the write only looks its metadata up by path, which must still be
//! the settled metadata of that read (the same proof, without opening, reading and
//! closing the file again: most files of a source tree are small, and those system calls
//! were most of what writing them cost).
//!
//! JSON serialisation writes the text (escaped by the read-ahead, see `bundle/json.rs`)
//! straight into the output; for the Markdown template, the content is a minijinja object
//! that writes the text when the template prints it.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::cache::{Seen, Shape, Stat};
use super::files::{self, FileContent};
use super::prefetch::{Form, Prefetch, Prepared, Source};
use crate::config::workspace::LineRange;
use crate::secrets::{self, Finding};

/// A file's inlined text, read lazily (see the module docs).
#[derive(Debug, Clone)]
pub struct Content(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// Where the file is.
    place: Place,
    /// Root-relative path, for messages.
    shown: Arc<str>,
    lines: Option<LineRange>,
    max_bytes: u64,
    /// blake3 of the text as read (before redaction); never shown, as it covers secrets.
    read_hash: blake3::Hash,
    /// The file's metadata when `read_hash` was taken, if its timestamps had settled
    /// (see [`files::reread`]): a file still exactly so is not hashed again.
    settled: Option<Stat>,
    /// Whether that read replaced invalid UTF-8.
    lossy: bool,
    /// The text of a small settled file as read (see the module docs).
    small: Option<Box<str>>,
    /// Secrets to replace and the text made while building, which only some contents
    /// have (boxed: a repeated bundle of a large tree holds one `Inner` per file).
    rare: Option<Box<Rare>>,
    shape: Shape,
    /// Its count as framed in the document being built (`measure::framed`), if known
    /// (a count past `u32::MAX` is measured instead).
    framed: Option<u32>,
    /// What a write in progress left here (one lock: most contents never use it).
    writing: Mutex<Writing>,
    /// While the bundle is measured: the number of the stand-in written instead of the
    /// text ([`NO_STAND_IN`] otherwise).
    stand_in: AtomicUsize,
}

/// Where a content's file is. Most files are the workspace root joined with their
/// root-relative path (`shown`): they share the root instead of each keeping its
/// absolute path (a repeated bundle of a large tree holds one per file).
#[derive(Debug)]
enum Place {
    /// `root` joined with `shown`.
    Under(Arc<Path>),
    /// Anywhere else (a source's checkout, a path through a symlink): the absolute path,
    /// exactly as long as it is.
    Own(Box<Path>),
}

impl Place {
    /// The place of the file at `path`, shown as `shown`.
    fn new(path: &Path, shown: &str, root: &Arc<Path>) -> Self {
        match path.strip_prefix(root) {
            Ok(rest) if *rest.as_os_str() == *shown => Self::Under(root.clone()),
            _ => Self::Own(path.into()),
        }
    }
}

/// A content's part in a write.
#[derive(Debug, Default)]
struct Writing {
    /// The read-ahead of the write in progress, and this content's place in it.
    prefetch: Option<(Arc<Prefetch<Content>>, usize)>,
    /// An error met while the template printed this content (fmt errors carry none).
    error: Option<Box<ContentError>>,
}

impl Inner {
    /// The file's absolute path.
    fn path(&self) -> Cow<'_, Path> {
        match &self.place {
            Place::Under(root) => Cow::Owned(root.join(&*self.shown)),
            Place::Own(path) => Cow::Borrowed(path),
        }
    }

    fn redactions(&self) -> &[Finding] {
        self.rare.as_ref().map_or(&[], |rare| &rare.redactions)
    }
}

/// What only some contents have.
#[derive(Debug)]
struct Rare {
    /// Secrets to replace, by byte range in the text as read.
    redactions: Vec<Finding>,
    /// blake3 of the text as written, after redaction (else it is the text as read).
    digest: blake3::Hash,
    /// Text made while building (a diff, a gate's output, an extension's), redacted: held
    /// here, since no file holds it.
    held: Option<Arc<str>>,
}

/// The largest file whose text is kept from its first read, when its metadata had
/// settled and it is written whole, as read: 3,653 of the 16,041 files of the mixed
/// benchmark corpus, 0.37 MB of its 147 (up to 1 KiB, 4,904 files and 1.3 MB, was no
/// faster and held 1–3 MiB more at the peak).
pub const SMALL_BYTES: usize = 512;

/// No stand-in: the text is written.
const NO_STAND_IN: usize = usize::MAX;

/// What a measured document holds in place of content number `index`: characters of
/// Unicode's private use area around this process's [`stand_in_key`] and the number
/// (see [`stand_in_at`]).
pub fn stand_in(index: usize) -> String {
    format!("\u{e000}{}{index}\u{e001}", stand_in_key())
}

/// A random key every stand-in of this process carries, so that a text of the bundle's
/// own that looks like a stand-in (a rule, a file name) is never taken for one: it would
/// have to guess the key. Chosen once per process and never changed.
fn stand_in_key() -> &'static str {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        use std::hash::BuildHasher;
        // `RandomState` is seeded from the operating system's randomness.
        let key = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
        format!("{key:016x}")
    })
}

/// The stand-in at the start of `text`: its number and its length in bytes. Looks at a
/// bounded number of bytes, whatever follows.
pub fn stand_in_at(text: &str) -> Option<(usize, usize)> {
    let key = stand_in_key();
    let rest = text.strip_prefix('\u{e000}')?.strip_prefix(key)?;
    let digits = rest.bytes().take(20).take_while(u8::is_ascii_digit).count();
    rest[digits..].strip_prefix('\u{e001}')?;
    let index = rest[..digits].parse().ok()?;
    let length = '\u{e000}'.len_utf8() + key.len() + digits + '\u{e001}'.len_utf8();
    Some((index, length))
}

/// Why content could not be written.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "`{path}` changed while the bundle was being written (it is not the text whose tokens were counted); run ctx again"
)]
pub struct ContentError {
    pub path: String,
}

/// A content read again to be written ([`Content::read_for`]).
enum Reread<'b> {
    /// The file's bytes, valid UTF-8 as counted, to be escaped (in the buffer
    /// [`Content::read_for`] was given).
    Bytes(&'b [u8]),
    Text(String),
}

/// What building needs to describe one file's content.
pub struct Read<'a> {
    pub path: PathBuf,
    /// The workspace root (see [`Place`]).
    pub root: &'a Arc<Path>,
    /// Shared with the item's id (one copy of each file's path).
    pub shown: &'a Arc<str>,
    pub lines: Option<LineRange>,
    pub max_bytes: u64,
    /// The text as read.
    pub text: &'a str,
    pub read_hash: blake3::Hash,
    /// The file's metadata on the handle `text` was read from, if settled.
    pub settled: Option<Stat>,
    /// Whether reading `text` replaced invalid UTF-8.
    pub lossy: bool,
    /// The text as written (redacted) when secrets were found.
    pub redacted: Option<&'a str>,
    pub redactions: Vec<Finding>,
    /// Its count as framed in the document being built.
    pub framed: Option<usize>,
}

impl Content {
    /// Describe content from its first read; the text itself is not kept.
    pub fn new(read: Read<'_>) -> Self {
        let written = read.redacted.unwrap_or(read.text);
        let rare = (read.redacted.is_some() || !read.redactions.is_empty()).then(|| {
            Box::new(Rare {
                redactions: read.redactions,
                digest: read
                    .redacted
                    .map_or(read.read_hash, |redacted| blake3::hash(redacted.as_bytes())),
                held: None,
            })
        });
        let shape = Shape {
            longest_backtick_run: u32::try_from(files::longest_backtick_run(written))
                .unwrap_or(u32::MAX - 1),
            ends_with_newline: written.is_empty() || written.ends_with('\n'),
        };
        let small = (read.settled.is_some()
            && read.lines.is_none()
            && !read.lossy
            && rare.is_none()
            && read.text.len() <= SMALL_BYTES)
            .then(|| read.text.into());
        Self(Arc::new(Inner {
            place: Place::new(&read.path, read.shown, read.root),
            shown: read.shown.clone(),
            lines: read.lines,
            max_bytes: read.max_bytes,
            read_hash: read.read_hash,
            settled: read.settled,
            lossy: read.lossy,
            small,
            rare,
            shape,
            framed: read.framed.and_then(|framed| u32::try_from(framed).ok()),
            writing: Mutex::default(),
            stand_in: AtomicUsize::new(NO_STAND_IN),
        }))
    }

    /// Describe content known from the token cache (no secrets, shape remembered),
    /// without reading it now: the file had the settled metadata the cache remembers
    /// (`seen`, with the text's hash). Writing still reads it, and checks it is that
    /// file, unchanged.
    pub fn known(
        (path, root): (&Path, &Arc<Path>),
        shown: &Arc<str>,
        lines: Option<LineRange>,
        max_bytes: u64,
        seen: Seen,
        shape: Shape,
        framed: usize,
    ) -> Self {
        let hash = blake3::Hash::from_bytes(seen.hash);
        Self(Arc::new(Inner {
            place: Place::new(path, shown, root),
            shown: shown.clone(),
            lines,
            max_bytes,
            read_hash: hash,
            settled: Some(seen.stat),
            lossy: seen.lossy,
            small: None,
            rare: None,
            shape,
            framed: u32::try_from(framed).ok(),
            writing: Mutex::default(),
            stand_in: AtomicUsize::new(NO_STAND_IN),
        }))
    }

    /// Content made while building, not read from a file: `text` is what is written
    /// (already redacted), `shown` names it in messages.
    pub fn held(shown: &str, text: String, framed: usize) -> Self {
        let digest = blake3::hash(text.as_bytes());
        let shape = Shape {
            longest_backtick_run: u32::try_from(files::longest_backtick_run(&text))
                .unwrap_or(u32::MAX - 1),
            ends_with_newline: text.is_empty() || text.ends_with('\n'),
        };
        Self(Arc::new(Inner {
            place: Place::Own(PathBuf::new().into_boxed_path()),
            shown: shown.into(),
            lines: None,
            max_bytes: u64::MAX,
            read_hash: digest,
            settled: None,
            lossy: false,
            small: None,
            rare: Some(Box::new(Rare {
                redactions: Vec::new(),
                digest,
                held: Some(Arc::from(text)),
            })),
            shape,
            framed: u32::try_from(framed).ok(),
            writing: Mutex::default(),
            stand_in: AtomicUsize::new(NO_STAND_IN),
        }))
    }

    /// Its count as framed in the document being built (`measure::framed`), if known.
    pub fn framed(&self) -> Option<usize> {
        self.0.framed.map(|framed| framed as usize)
    }

    /// The fence-relevant shape of the written text.
    pub fn shape(&self) -> Shape {
        self.0.shape
    }

    /// [`Content::text`] during a write: from its read-ahead, in the form the write wants
    /// (JSON-escaped for JSON output). Outside a write, the plain text.
    pub fn for_write(&self) -> Result<Prepared, ContentError> {
        let number = self.0.stand_in.load(Ordering::Relaxed);
        if number != NO_STAND_IN {
            return Ok(Prepared::Text(stand_in(number)));
        }
        let prefetch = self
            .0
            .writing
            .lock()
            .ok()
            .and_then(|writing| writing.prefetch.clone());
        match prefetch {
            Some((prefetch, index)) => prefetch.take(index, |form| self.prepared(form)),
            None => self.text().map(Prepared::Text),
        }
    }

    /// [`Content::text`] in `form`.
    pub fn prepared(&self, form: Form) -> Result<Prepared, ContentError> {
        let mut buffer = files::ReadBuffer::take();
        Ok(match self.read_for(form, &mut buffer)? {
            Reread::Bytes(bytes) => Prepared::escaped(bytes),
            Reread::Text(text) => form.prepare(text),
        })
    }

    /// [`Content::prepared`], appended to `out` (a writer's buffer).
    pub fn prepared_into(&self, form: Form, out: &mut Vec<u8>) -> Result<(), ContentError> {
        let mut buffer = files::ReadBuffer::take();
        match (self.read_for(form, &mut buffer)?, form) {
            (Reread::Bytes(bytes), _) => super::json::escape_into(out, bytes),
            (Reread::Text(text), Form::JsonEscaped) => {
                super::json::escape_into(out, text.as_bytes())
            }
            (Reread::Text(text), Form::Plain) => out.extend_from_slice(text.as_bytes()),
        }
        Ok(())
    }

    /// The text read again for a write in `form`. For JSON, a whole file still with its
    /// settled metadata comes as its bytes (a small file's kept text, or read into
    /// `buffer`), to be escaped as they are: they are the bytes that were hashed, which
    /// were valid UTF-8 (`!lossy`), so they need no second decoding.
    fn read_for<'b>(
        &'b self,
        form: Form,
        buffer: &'b mut Vec<u8>,
    ) -> Result<Reread<'b>, ContentError> {
        let inner = &*self.0;
        let mut settled = inner.settled;
        if form == Form::JsonEscaped && inner.small.is_some() {
            match self.small_unchanged() {
                Some(small) => return Ok(Reread::Bytes(small.as_bytes())),
                // Its metadata changed: only the hash can tell.
                None => settled = None,
            }
        }
        if form == Form::JsonEscaped
            && inner.redactions().is_empty()
            && inner.lines.is_none()
            && !inner.lossy
            && let Some(known) = settled
        {
            match files::read_settled_into(&inner.path(), known, buffer) {
                Some(length) => return Ok(Reread::Bytes(&buffer[..length])),
                // Its metadata changed: not worth a second look, only the hash can tell.
                None => settled = None,
            }
        }
        self.checked(settled).map(Reread::Text)
    }

    /// Write [`stand_in`]`(index)` instead of the text from now on (`None`: the text).
    pub fn set_stand_in(&self, index: Option<usize>) {
        self.0
            .stand_in
            .store(index.unwrap_or(NO_STAND_IN), Ordering::Relaxed);
    }

    /// Join (or leave) the read-ahead of a write.
    fn set_prefetch(&self, prefetch: Option<(Arc<Prefetch<Content>>, usize)>) {
        if let Ok(mut writing) = self.0.writing.lock() {
            writing.prefetch = prefetch;
        }
    }

    /// The text to write: read from disk again, checked against the first read, redacted.
    ///
    /// The check: the file still has the settled metadata of the first read (on the open
    /// handle, before and after reading), or else the text has the first read's hash.
    pub fn text(&self) -> Result<String, ContentError> {
        self.checked(self.0.settled)
    }

    /// [`Content::text`], trusting the file's metadata only if it is still `settled`.
    fn checked(&self, settled: Option<Stat>) -> Result<String, ContentError> {
        let inner = &*self.0;
        if let Some(text) = inner.rare.as_ref().and_then(|rare| rare.held.as_ref()) {
            return Ok(text.to_string());
        }
        if settled.is_some()
            && let Some(small) = self.small_unchanged()
        {
            return Ok(small.to_string());
        }
        let changed = || ContentError {
            path: inner.shown.to_string(),
        };
        let (FileContent::Text { text, .. }, unchanged) =
            files::reread(&inner.path(), inner.lines, inner.max_bytes, settled)
        else {
            return Err(changed());
        };
        if !unchanged && blake3::hash(text.as_bytes()) != inner.read_hash {
            return Err(changed());
        }
        Ok(match inner.redactions().is_empty() {
            true => text,
            false => secrets::redact(&text, inner.redactions()),
        })
    }

    /// A small file's kept text, while the file at its path still has the settled
    /// metadata of its first read, looked up without following a symbolic link (a file
    /// replaced by a link or anything else is another inode).
    fn small_unchanged(&self) -> Option<&str> {
        let inner = &*self.0;
        let (small, settled) = (inner.small.as_deref()?, inner.settled?);
        let metadata = std::fs::symlink_metadata(inner.path()).ok()?;
        (Stat::of(&metadata) == settled).then_some(small)
    }

    /// blake3 of the text as written.
    pub fn digest(&self) -> &blake3::Hash {
        self.0
            .rare
            .as_ref()
            .map_or(&self.0.read_hash, |rare| &rare.digest)
    }

    /// A fence longer than any backtick run in the text.
    pub fn fence(&self) -> String {
        "`".repeat((self.0.shape.longest_backtick_run as usize + 1).max(3))
    }

    pub fn ends_with_newline(&self) -> bool {
        self.0.shape.ends_with_newline
    }

    fn remember(&self, error: ContentError) {
        if let Ok(mut writing) = self.0.writing.lock() {
            writing.error.get_or_insert(Box::new(error));
        }
    }

    /// The first error met while this content was written.
    pub fn render_error(&self) -> Option<ContentError> {
        self.0
            .writing
            .lock()
            .map_or(None, |writing| writing.error.as_deref().cloned())
    }
}

impl Source for Content {
    type Error = ContentError;

    fn prepared(&self, form: Form) -> Result<Prepared, ContentError> {
        Content::prepared(self, form)
    }

    fn attach(&self, prefetch: Option<(Arc<Prefetch<Content>>, usize)>) {
        self.set_prefetch(prefetch);
    }
}

impl Serialize for Content {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if minijinja::value::serializing_for_value() {
            return minijinja::Value::from_object(Printed(self.clone())).serialize(serializer);
        }
        match self.for_write() {
            Ok(Prepared::Text(text)) => serializer.serialize_str(&text),
            // Escaped by the read-ahead of a bundle's JSON output: its formatter writes it.
            Ok(Prepared::Escaped(escaped)) => {
                let prefetch = self
                    .0
                    .writing
                    .lock()
                    .ok()
                    .and_then(|writing| writing.prefetch.clone());
                match prefetch {
                    Some((prefetch, _)) if prefetch.hand_over(escaped) => {
                        serializer.serialize_str("")
                    }
                    // Not a bundle's JSON write: serialise the text like any string.
                    _ => match self.text() {
                        Ok(text) => serializer.serialize_str(&text),
                        Err(error) => {
                            let message = error.to_string();
                            self.remember(error);
                            Err(serde::ser::Error::custom(message))
                        }
                    },
                }
            }
            Err(error) => {
                let message = error.to_string();
                self.remember(error);
                Err(serde::ser::Error::custom(message))
            }
        }
    }
}

/// Content as the template sees it: printed by reading the file.
#[derive(Debug)]
struct Printed(Content);

impl minijinja::value::Object for Printed {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Plain
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.for_write() {
            Ok(Prepared::Text(text)) => f.write_str(&text),
            // Only a JSON write escapes.
            Ok(Prepared::Escaped(escaped)) => f.write_str(&String::from_utf8_lossy(&escaped)),
            Err(error) => {
                self.0.remember(error);
                Err(fmt::Error)
            }
        }
    }
}

/// The text to count and hash for a file just read: redacted when `scan` finds secrets.
pub fn redacted<'t>(text: &'t str, findings: &[Finding]) -> Cow<'t, str> {
    match findings.is_empty() {
        true => Cow::Borrowed(text),
        false => Cow::Owned(secrets::redact(text, findings)),
    }
}

#[cfg(test)]
impl Content {
    /// [`Content::for_test`] of `path`, written with `text` first.
    pub fn written_for_test(path: &std::path::Path, text: &str) -> Self {
        std::fs::write(path, text).unwrap();
        Self::for_test(path, text)
    }

    /// Content of `path` (shown as `a.txt`), known to hold `text`.
    pub fn for_test(path: &std::path::Path, text: &str) -> Self {
        Self::for_test_redacted(path, text, Vec::new())
    }

    /// [`Content::for_test`], with secrets at `redactions`.
    pub fn for_test_redacted(path: &std::path::Path, text: &str, redactions: Vec<Finding>) -> Self {
        Self::for_test_read(path, text, redactions, None)
    }

    /// [`Content::for_test`] of a file whose metadata had settled when it was read.
    pub fn for_test_settled(path: &std::path::Path, text: &str) -> Self {
        let settled = Stat::of(&std::fs::metadata(path).unwrap());
        Self::for_test_read(path, text, Vec::new(), Some(settled))
    }

    fn for_test_read(
        path: &std::path::Path,
        text: &str,
        redactions: Vec<Finding>,
        settled: Option<Stat>,
    ) -> Self {
        let redacted = (!redactions.is_empty()).then(|| secrets::redact(text, &redactions));
        let root: Arc<Path> = path.parent().unwrap_or(Path::new("/")).into();
        Self::new(Read {
            path: path.to_path_buf(),
            root: &root,
            shown: &Arc::from("a.txt"),
            lines: None,
            max_bytes: 1 << 20,
            text,
            read_hash: blake3::hash(text.as_bytes()),
            settled,
            lossy: false,
            redacted: redacted.as_deref(),
            redactions,
            framed: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content_of(path: &std::path::Path, text: &str, redactions: Vec<Finding>) -> Content {
        Content::for_test_redacted(path, text, redactions)
    }

    /// A stand-in is read back only whole and with this process's key: a text that
    /// merely looks like one (an old-style `\u{e000}0\u{e001}`, a truncated one) is not.
    #[test]
    fn stand_ins_are_read_back_only_with_their_key() {
        for index in [0, 7, 123_456] {
            let stand_in = stand_in(index);
            assert_eq!(stand_in_at(&stand_in), Some((index, stand_in.len())));
            assert_eq!(
                stand_in_at(&format!("{stand_in}tail")),
                Some((index, stand_in.len()))
            );
            let cut = stand_in.len() - '\u{e001}'.len_utf8();
            assert_eq!(stand_in_at(&stand_in[..cut]), None);
        }
        assert_eq!(stand_in_at("\u{e000}0\u{e001}"), None);
        let other_key = format!("\u{e000}{}0\u{e001}", "0".repeat(16));
        assert!(stand_in_key() == "0".repeat(16) || stand_in_at(&other_key).is_none());
        assert_eq!(
            stand_in_at(&format!("\u{e000}{}\u{e001}", stand_in_key())),
            None
        );
    }

    /// For JSON, a settled file is escaped straight from its bytes, unless its first read
    /// was lossy: then it is decoded (U+FFFD) as when it was counted, never written raw.
    #[test]
    fn settled_files_are_escaped_from_their_bytes_unless_lossy() {
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape {
            longest_backtick_run: 0,
            ends_with_newline: true,
        };
        let known = |name: &str, bytes: &[u8], text: &str, lossy: bool| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let seen = Seen {
                stat: Stat::of(&std::fs::metadata(&path).unwrap()),
                hash: *blake3::hash(text.as_bytes()).as_bytes(),
                lossy,
            };
            // Below the root as `name` (the root shared), or anywhere else (its own path).
            let root: Arc<Path> = match name {
                "a.rs" => dir.path().into(),
                _ => Path::new("/elsewhere").into(),
            };
            Content::known((&path, &root), &name.into(), None, 1 << 20, seen, shape, 0)
        };
        let plain = known("a.rs", b"let s = \"\t\";\n", "let s = \"\t\";\n", false);
        assert_eq!(
            plain.prepared(Form::JsonEscaped).unwrap(),
            Prepared::Escaped(br#"let s = \"\t\";\n"#.to_vec())
        );
        let latin1 = known("b.txt", b"caf\xe9\n", "caf\u{fffd}\n", true);
        assert_eq!(
            latin1.prepared(Form::JsonEscaped).unwrap(),
            Prepared::Escaped("caf\u{fffd}\\n".as_bytes().to_vec())
        );
        assert_eq!(
            latin1.prepared(Form::Plain).unwrap(),
            Prepared::Text(String::from("caf\u{fffd}\n"))
        );
    }

    #[test]
    fn text_is_read_again_and_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "key = abc\n").unwrap();
        let finding = Finding {
            rule: "test-rule",
            line: 1,
            start: 6,
            end: 9,
        };
        let content = content_of(&path, "key = abc\n", vec![finding]);
        assert_eq!(content.text().unwrap(), "key = [REDACTED:test-rule]\n");
        assert_eq!(
            content.digest(),
            &blake3::hash(b"key = [REDACTED:test-rule]\n")
        );
        assert!(content.ends_with_newline());
    }

    #[test]
    fn a_file_changed_after_counting_is_refused_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "counted text\n").unwrap();
        let content = content_of(&path, "counted text\n", Vec::new());
        std::fs::write(&path, "swapped text\n").unwrap();
        let error = content.text().unwrap_err();
        assert!(error.to_string().contains("`a.txt` changed"), "{error}");
        // Serialising reports it too, and remembers it for the caller.
        assert!(serde_json::to_string(&content).is_err());
        assert!(content.render_error().is_some());
        std::fs::remove_file(&path).unwrap();
        assert!(
            content.text().is_err(),
            "a vanished file is refused as well"
        );
    }

    /// A small file whose metadata had settled is written from the text of its first
    /// read while its metadata, looked up by path, is unchanged; once it is not
    /// (rewritten, replaced by a link, removed), only a text read again with the counted
    /// text's hash is written.
    #[test]
    fn a_small_settled_file_is_written_as_read_while_its_metadata_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        let other = dir.path().join("b.txt");
        let text = "let s = \"\t\";\n";
        // `text` written to `path` and read, its metadata settled.
        let settled = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Content::for_test_settled(&path, text)
        };
        let content = settled(text);
        assert!(content.0.small.is_some(), "a small settled file is kept");
        assert_eq!(content.text().unwrap(), text);
        assert_eq!(
            content.prepared(Form::JsonEscaped).unwrap(),
            Prepared::Escaped(br#"let s = \"\t\";\n"#.to_vec())
        );
        let mut out = b"x".to_vec();
        content.prepared_into(Form::Plain, &mut out).unwrap();
        assert_eq!(out, [b"x", text.as_bytes()].concat());

        // Rewritten (one byte longer, so that a coarse clock cannot hide it): the
        // metadata tells.
        std::fs::write(&path, "let st = \"\t\";\n").unwrap();
        assert!(content.text().is_err());
        assert!(content.prepared(Form::JsonEscaped).is_err());

        // A link in its place is another inode: the text is read again and must have the
        // counted text's hash, as a file whose metadata changed must.
        let content = settled(text);
        std::fs::write(&other, "other text\n").unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&other, &path).unwrap();
        assert!(content.text().is_err());
        assert!(content.prepared(Form::JsonEscaped).is_err());
        std::fs::write(&other, text).unwrap();
        assert_eq!(content.text().unwrap(), text);

        std::fs::remove_file(&path).unwrap();
        let content = settled(text);
        std::fs::remove_file(&path).unwrap();
        assert!(content.text().is_err(), "a vanished file is refused");
        assert!(content.prepared(Form::Plain).is_err());

        // Past the size, the file is read again as before.
        let large = "x".repeat(SMALL_BYTES + 1);
        let content = settled(&large);
        assert!(content.0.small.is_none());
        assert_eq!(content.text().unwrap(), large);
    }

    #[test]
    fn fences_outgrow_backtick_runs_of_the_written_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        let content = content_of(&path, "x ```` y", Vec::new());
        assert_eq!(content.fence(), "`````");
        assert!(!content.ends_with_newline());
    }
}
