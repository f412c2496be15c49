//! Inlining files, on all cores: read each referenced file within the limits, scan it for
//! secrets, count its tokens, and keep a [`Content`] (not the text) for the writer.
//!
//! The token cache ([`TokenCache`]) is consulted by the hash of the text read, and so is
//! what this run has learned so far ([`Learning`]): a known text skips counting, and a
//! text known to hold no secret skips the scan. A file whose
//! metadata is exactly as remembered is not even read here (the writer still checks it).

use std::path::Path;
use std::sync::Arc;

use super::cache::{self, Entry, FileKey, Learning, Seen, Stat, TokenCache};
use super::content::{self, Content};
use super::files::{self, FileContent};
use super::measure::{self, Document};
use super::model::SecretJson;
use super::tokens;
use crate::config::settings::{SecretsMode, Tokenizer};
use crate::config::workspace::LineRange;
use crate::ids::ItemId;
use crate::paths::{self, Resolver};
use crate::resolve::merge::Status;
use crate::secrets;

/// One file to inline into an item: the item's `path` (root-relative), at `lines`.
#[derive(Debug, Clone)]
pub struct Job {
    /// The item's index in the bundle.
    pub item: usize,
    pub lines: Option<LineRange>,
}

/// What inlining one file produced, for its item. Small (48 bytes), as every file's
/// result is held until all are done: what only some files have is boxed.
#[derive(Debug)]
pub struct Inlined {
    /// A new status when the file is not inlined (binary, too large, unreadable).
    pub status: Option<Status>,
    pub tokens: usize,
    pub content: Option<Content>,
    /// What the token cache should learn.
    pub learned: Learned,
    /// Notes and secrets, when there are any.
    pub found: Option<Box<Found>>,
}

/// What the token cache should learn from inlining one file.
#[derive(Debug)]
pub enum Learned {
    /// Nothing (the file was not read).
    Nothing,
    /// The file was as remembered, and so was its text (of this hash): both records
    /// are used again (the common case of a repeated bundle).
    Remembered(blake3::Hash),
    /// The file was read.
    Read(Box<ReadLearned>),
}

/// What the token cache should remember about a file that was read.
#[derive(Debug, Default)]
pub struct ReadLearned {
    /// By text: as read, and as written when redacted.
    pub texts: Vec<(blake3::Hash, Entry)>,
    /// About the file (metadata before reading → hash), under its key.
    pub seen: Option<(FileKey, Seen)>,
}

/// The notes and secrets inlining one file found.
#[derive(Debug, Default)]
pub struct Found {
    /// Why the content is missing or altered.
    pub note: Option<String>,
    /// Bundle notes (lossy decoding, unreadable file).
    pub notes: Vec<String>,
    pub secrets: Vec<SecretJson>,
}

impl Inlined {
    fn new(
        status: Option<Status>,
        tokens: usize,
        content: Option<Content>,
        learned: Learned,
        found: Found,
    ) -> Self {
        let found = (found.note.is_some() || !found.notes.is_empty() || !found.secrets.is_empty())
            .then(|| Box::new(found));
        Self {
            status,
            tokens,
            content,
            learned,
            found,
        }
    }
}

/// Views for the tests.
#[cfg(test)]
impl Inlined {
    /// The bundle notes.
    pub fn notes(&self) -> &[String] {
        self.found.as_ref().map_or(&[], |found| &found.notes)
    }

    /// The secrets found.
    pub fn secrets(&self) -> &[SecretJson] {
        self.found.as_ref().map_or(&[], |found| &found.secrets)
    }

    /// What the cache should remember by text, for a file that was read.
    pub fn texts(&self) -> &[(blake3::Hash, Entry)] {
        match &self.learned {
            Learned::Read(read) => &read.texts,
            _ => &[],
        }
    }

    /// What the cache should remember about the file, if it was read.
    pub fn seen(&self) -> Option<Seen> {
        match &self.learned {
            Learned::Read(read) => read.seen.map(|(_, seen)| seen),
            _ => None,
        }
    }
}

/// How files are inlined.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
    pub secrets: SecretsMode,
    pub tokenizer: Tokenizer,
    /// The document the bundle is written as (each text's framed count is for it).
    pub document: Document,
}

/// Inline one file (called on all cores).
pub fn one(
    shared: &Arc<str>,
    lines: Option<LineRange>,
    id: &ItemId,
    resolver: &Resolver,
    limits: Limits,
    (cache, learning): (&TokenCache, &Learning),
) -> Inlined {
    let file: &str = shared;
    let mut status = None;
    let mut note = None;
    let mut tokens = 0;
    let mut content = None;
    let mut notes = Vec::new();
    let mut found = Vec::new();
    let mut remember = Vec::new();
    let mut seen = None;
    let slot = cache::slot(limits.tokenizer);
    let within = |metadata: &std::fs::Metadata| {
        (metadata.is_file() && metadata.len() <= limits.max_bytes).then(|| Stat::of(metadata))
    };
    // A cache that remembers no file (a cold run, `--no-cache`) has no hash to trust by a
    // file's metadata: a file the tree's walk listed is opened straight away, and its
    // metadata taken on the open handle, before the read, as every read takes it: one
    // `stat` of its path fewer. Anything else, or a failed open, goes the long way.
    let listed = match cache.remembers_no_file() {
        true => resolver
            .indexed_file(file)
            .and_then(|path| Some((paths::open_listed_regular(&path).ok()?, path))),
        false => None,
    };
    let (path, stat, handle) = match listed {
        Some((handle, path)) => (path, within(&handle.1), Ok(handle)),
        None => {
            // Metadata first: it is what a remembered hash is trusted by, and it must
            // describe the file no later than the read that follows.
            let (path, metadata) = match resolver.resolve_metadata(file) {
                Ok(resolved) => resolved,
                Err(error) => return unreadable(file, &format!("`{file}` {error}")),
            };
            let stat = metadata.as_ref().and_then(within);
            if let Some(stat) = stat
                && let Some(done) = remembered(
                    shared,
                    lines,
                    (&path, resolver.shared_root()),
                    stat,
                    limits,
                    cache,
                )
            {
                return done;
            }
            let handle = files::open(&path, stat.is_some());
            (path, stat, handle)
        }
    };
    let mut buffer = files::ReadBuffer::take();
    let (read, opened) = files::read_into(handle, lines, limits.max_bytes, &mut buffer);
    match read {
        FileContent::Text { text, lossy } => {
            if lossy {
                notes.push(lossy_note(file));
                note = Some(lossy_note(file));
            }
            let hash = blake3::hash(text.as_bytes());
            let known = cache.get(&hash).or(learning.get(&hash));
            let findings = match (limits.secrets, known.clean) {
                (SecretsMode::Off, _) | (_, Some(true)) => Vec::new(),
                _ => secrets::scan(&text),
            };
            let first_line = lines.map_or(1, |range| range.start);
            found = findings
                .iter()
                .map(|finding| SecretJson {
                    path: file.to_owned(),
                    line: finding.line + first_line - 1,
                    rule: finding.rule,
                    item: id.clone(),
                })
                .collect();
            let written = content::redacted(&text, &findings);
            // Counts belong to the text as written: a redacted text has its own hash (a
            // repeated bundle then counts nothing, secrets or not).
            let written_hash = match findings.is_empty() {
                true => hash,
                false => blake3::hash(written.as_bytes()),
            };
            let known_written = match findings.is_empty() {
                true => known,
                false => cache.get(&written_hash).or(learning.get(&written_hash)),
            };
            let framed_slot = cache::framed_slot(limits.tokenizer, limits.document);
            let (count, framed) = match (
                known_written.tokens[slot],
                known_written.tokens[framed_slot],
                limits.document,
            ) {
                (None, None, Document::Json) => {
                    measure::counted_with_json_frame(limits.tokenizer, &written)
                }
                (count, framed, document) => {
                    let count = count.map_or_else(
                        || tokens::count(limits.tokenizer, &written),
                        |count| count as usize,
                    );
                    let framed = framed.map_or_else(
                        || measure::framed(limits.tokenizer, document, &written, count),
                        |framed| framed as usize,
                    );
                    (count, framed)
                }
            };
            let mut counted = Entry::default();
            counted.tokens[slot] = Some(u32::try_from(count).unwrap_or(u32::MAX - 1));
            counted.tokens[framed_slot] = Some(u32::try_from(framed).unwrap_or(u32::MAX - 1));
            let mut learned = Entry::default();
            let mut learned_written = None;
            if findings.is_empty() {
                learned = counted;
            } else {
                learned_written = Some((written_hash, counted));
            }
            if limits.secrets != SecretsMode::Off {
                learned.clean = Some(findings.is_empty());
            }
            seen = stat.map(|stat| {
                let seen = Seen {
                    stat,
                    hash: *hash.as_bytes(),
                    lossy,
                };
                (FileKey::of(file, lines), seen)
            });
            tokens = count;
            let redacted = match &written {
                std::borrow::Cow::Owned(redacted) => Some(redacted.as_str()),
                std::borrow::Cow::Borrowed(_) => None,
            };
            let written = Content::new(content::Read {
                path,
                root: resolver.shared_root(),
                shown: shared,
                lines,
                max_bytes: limits.max_bytes,
                text: &text,
                read_hash: hash,
                settled: opened.filter(|opened| cache.settled(opened)),
                lossy,
                redacted,
                redactions: findings,
                framed: Some(framed),
            });
            if learned.tokens[slot].is_some() {
                learned.shape = Some(written.shape());
            }
            learning.learn(&hash, learned);
            if let Some((written_hash, counted)) = learned_written {
                learning.learn(&written_hash, counted);
            }
            remember.push((hash, learned));
            remember.extend(learned_written);
            content = Some(written);
        }
        FileContent::Binary => {
            status = Some(Status::OmittedBinary);
            note = Some(String::from(
                "binary file (NUL byte in the first 8 KiB): listed, not inlined",
            ));
        }
        FileContent::TooLarge(size) => {
            status = Some(Status::OmittedSize);
            note = Some(format!(
                "{size} bytes, over `max_file_bytes` ({}): listed, not inlined",
                limits.max_bytes
            ));
        }
        FileContent::Unreadable(reason) => {
            return unreadable(file, &reason);
        }
    }
    let learned = match content {
        Some(_) => Learned::Read(Box::new(ReadLearned {
            texts: remember,
            seen,
        })),
        None => Learned::Nothing,
    };
    Inlined::new(
        status,
        tokens,
        content,
        learned,
        Found {
            note,
            notes,
            secrets: found,
        },
    )
}

/// A file whose metadata is as remembered, with everything about its text in the cache:
/// nothing to read until the bundle is written (which checks the text against `hash`).
fn remembered(
    shared: &Arc<str>,
    lines: Option<LineRange>,
    (path, root): (&Path, &Arc<Path>),
    stat: Stat,
    limits: Limits,
    cache: &TokenCache,
) -> Option<Inlined> {
    let file: &str = shared;
    let (hash, lossy) = cache.seen(&FileKey::of(file, lines), &stat)?;
    let known = cache.get(&hash);
    let clean = limits.secrets == SecretsMode::Off || known.clean == Some(true);
    let count = known.tokens[cache::slot(limits.tokenizer)]?;
    let framed = known.tokens[cache::framed_slot(limits.tokenizer, limits.document)]?;
    let shape = known.shape?;
    if !clean {
        return None;
    }
    let note = lossy.then(|| lossy_note(file));
    let seen = Seen {
        stat,
        hash: *hash.as_bytes(),
        lossy,
    };
    Some(Inlined::new(
        None,
        count as usize,
        Some(Content::known(
            (path, root),
            shared,
            lines,
            limits.max_bytes,
            seen,
            shape,
            framed as usize,
        )),
        Learned::Remembered(hash),
        Found {
            note: note.clone(),
            notes: note.into_iter().collect(),
            secrets: Vec::new(),
        },
    ))
}

fn lossy_note(file: &str) -> String {
    format!("`{file}` is not valid UTF-8; invalid bytes were replaced with U+FFFD")
}

/// A file that could not be read: listed with the reason.
fn unreadable(file: &str, reason: &str) -> Inlined {
    let note = format!("`{file}` could not be read: {reason}");
    Inlined::new(
        Some(Status::OmittedUnreadable),
        0,
        None,
        Learned::Nothing,
        Found {
            note: Some(note.clone()),
            notes: vec![note],
            secrets: Vec::new(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inline(root: &Path, cache: &TokenCache) -> Inlined {
        inline_with(&Resolver::new(root), cache)
    }

    /// `a.py` inlined through `resolver` (one whose index may predate a change).
    fn inline_with(resolver: &Resolver, cache: &TokenCache) -> Inlined {
        inline_file(resolver, "a.py", (cache, &Learning::default()))
    }

    /// `file` inlined through `resolver`, knowing what `cache` and `learning` know.
    fn inline_file(resolver: &Resolver, file: &str, known: (&TokenCache, &Learning)) -> Inlined {
        let limits = Limits {
            max_bytes: 1 << 20,
            secrets: SecretsMode::Redact,
            tokenizer: Tokenizer::O200k,
            document: Document::Markdown,
        };
        let id = "domain:d/patterns/p".parse().unwrap();
        one(&file.into(), None, &id, resolver, limits, known)
    }

    fn learn(cache: &mut TokenCache, done: &Inlined) {
        for (hash, entry) in done.texts() {
            cache.record(hash, *entry);
        }
        cache.record_seen(&FileKey::of("a.py", None), done.seen().unwrap());
    }

    #[test]
    fn a_file_vanished_mid_run_is_listed_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("a.py"), "x = 1\n").unwrap();
        let resolver = Resolver::new(&root);
        // Expanded while it existed (the index has it), gone before it is read.
        assert_eq!(resolver.expand_glob("*.py").unwrap().len(), 1);
        std::fs::remove_file(root.join("a.py")).unwrap();
        let done = inline(&root, &TokenCache::disabled());
        assert_eq!(done.status, Some(Status::OmittedUnreadable));
        assert!(done.content.is_none());
        assert!(
            done.notes()[0].contains("`a.py` could not be read"),
            "{:?}",
            done.notes()
        );
    }

    /// A cold run opens a file the walk listed without looking at its path first; should
    /// it have become a symlink since, that open refuses it and the path is resolved in
    /// full, which refuses a symlink out of the root.
    #[test]
    fn a_listed_file_swapped_for_a_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir(&root).unwrap();
        let root = root.canonicalize().unwrap();
        std::fs::write(root.join("a.py"), "x = 1\n").unwrap();
        std::fs::write(dir.path().join("outside.py"), "outside = True\n").unwrap();
        let resolver = Resolver::new(&root);
        assert_eq!(resolver.expand_glob("*.py").unwrap().len(), 1);
        assert!(
            resolver.indexed_file("a.py").is_some(),
            "listed by the walk"
        );
        std::fs::remove_file(root.join("a.py")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.py"), root.join("a.py")).unwrap();
        let cache = TokenCache::disabled();
        assert!(cache.remembers_no_file());
        let done = inline_with(&resolver, &cache);
        assert_eq!(
            done.status,
            Some(Status::OmittedUnreadable),
            "{:?}",
            done.notes()
        );
        assert!(done.content.is_none());
        assert!(done.notes()[0].contains("outside"), "{:?}", done.notes());
    }

    /// A redacted text's counts are kept under its own hash: a repeated bundle of a file
    /// with a secret in it counts nothing again (and loads no vocabulary).
    #[test]
    fn a_redacted_text_is_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let text = "GITHUB_TOKEN: ghp_Zq3Xk9Lm2Wv8Rt5Yp1Nb7Hc4Jd6Fg0Ks2Ae9\nprint(1)\n";
        std::fs::write(root.join("a.py"), text).unwrap();
        let mut cache = TokenCache::open(&root);
        let first = inline(&root, &cache);
        assert_eq!(first.secrets().len(), 1, "the secret is found");
        assert_eq!(first.texts().len(), 2, "the text as read, and as written");
        let (written_hash, counted) = first.texts()[1];
        assert_eq!(counted.tokens[0], Some(first.tokens as u32));
        learn(&mut cache, &first);
        assert_eq!(
            cache.get(&written_hash).tokens[0],
            Some(first.tokens as u32)
        );
        let second = inline(&root, &cache);
        assert_eq!(second.tokens, first.tokens);
        assert_eq!(
            second.texts()[1],
            first.texts()[1],
            "the same counts, from the cache"
        );
    }

    /// A text met again in the same run (a vendored copy) is neither scanned nor counted
    /// again: what the run learned from the first comes back for the second, as the
    /// planted count shows; a text with a secret is scanned again, as its redaction needs
    /// the findings, and its written text's counts come back.
    #[test]
    fn a_text_met_again_in_a_run_is_not_counted_again() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let text = "def f():\n    return 1\n";
        let secret = "GITHUB_TOKEN: ghp_Zq3Xk9Lm2Wv8Rt5Yp1Nb7Hc4Jd6Fg0Ks2Ae9\nprint(1)\n";
        for (name, body) in [
            ("a.py", text),
            ("b.py", text),
            ("c.py", secret),
            ("d.py", secret),
        ] {
            std::fs::write(root.join(name), body).unwrap();
        }
        let resolver = Resolver::new(&root);
        let (cache, learning) = (TokenCache::disabled(), Learning::default());
        let first = inline_file(&resolver, "a.py", (&cache, &learning));
        let (hash, entry) = first.texts()[0];
        assert_eq!(learning.get(&hash), entry, "learned as the cache would");
        assert_eq!(entry.tokens[0], Some(first.tokens as u32));
        assert_eq!(entry.clean, Some(true));
        let planted = Entry {
            tokens: [Some(7_777), None, Some(7_780), None, None, None],
            ..entry
        };
        let learning = Learning::default();
        learning.learn(&hash, planted);
        let again = inline_file(&resolver, "b.py", (&cache, &learning));
        assert_eq!(again.tokens, 7_777, "not counted again");
        assert_eq!(again.content.as_ref().unwrap().framed(), Some(7_780));
        assert_eq!(again.texts()[0], (hash, planted), "the same record to keep");

        let first = inline_file(&resolver, "c.py", (&cache, &learning));
        let second = inline_file(&resolver, "d.py", (&cache, &learning));
        assert_eq!(
            second.secrets().len(),
            1,
            "scanned again: {:?}",
            second.secrets()
        );
        assert_eq!(second.tokens, first.tokens);
        assert_eq!(second.texts(), first.texts());
        let (written_hash, mut counted) = first.texts()[1];
        counted.tokens[0] = Some(9_999);
        learning.learn(
            &written_hash,
            Entry {
                tokens: [Some(9_999); 6],
                ..counted
            },
        );
        let third = inline_file(&resolver, "d.py", (&cache, &learning));
        assert_eq!(third.tokens, 9_999, "the written text's count comes back");
    }

    #[test]
    fn a_remembered_file_is_not_read_until_written_and_a_changed_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("a.py"), "def f():\n    return 1\n").unwrap();
        let mut cache = TokenCache::open(&root);
        let first = inline(&root, &cache);
        assert_ne!(
            first.texts()[0].1,
            Entry::default(),
            "read, scanned, counted"
        );
        // Remembered only by a run that starts well after the file was written.
        cache.start_later(10);
        learn(&mut cache, &first);
        let second = inline(&root, &cache);
        assert!(
            matches!(second.learned, Learned::Remembered(hash) if hash == first.texts()[0].0),
            "taken from the cache: {:?}",
            second.learned
        );
        assert_eq!(second.tokens, first.tokens);
        let content = second.content.unwrap();
        assert_eq!(content.text().unwrap(), "def f():\n    return 1\n");
        // Changed: new metadata, so read again; and the remembered content refuses it.
        std::fs::write(root.join("a.py"), "def f():\n    return 22\n").unwrap();
        assert!(content.text().is_err());
        let third = inline(&root, &cache);
        assert_ne!(third.texts()[0].1, Entry::default());
        assert_ne!(third.tokens, 0);
        assert_eq!(
            third.content.unwrap().text().unwrap(),
            "def f():\n    return 22\n"
        );
    }
}
