//! Inlining files, on all cores: read each referenced file within the limits, scan it for
//! secrets, count its tokens, and keep a [`Content`] (not the text) for the writer.
//!
//! The token cache ([`TokenCache`]) is consulted by the hash of the text read: a known
//! text skips counting, and a text known to hold no secret skips the scan.

use super::cache::{self, Entry, TokenCache};
use super::content::{self, Content};
use super::files::{self, FileContent};
use super::merge::Status;
use super::model::SecretJson;
use super::tokens;
use crate::config::settings::{SecretsMode, Tokenizer};
use crate::config::workspace::LineRange;
use crate::paths::Resolver;
use crate::secrets;

/// One file to inline into an item.
#[derive(Debug, Clone)]
pub struct Job {
    /// The item's index in the bundle.
    pub item: usize,
    /// Root-relative path.
    pub file: String,
    pub lines: Option<LineRange>,
}

/// What inlining one file produced, for its item.
#[derive(Debug)]
pub struct Inlined {
    /// A new status when the file is not inlined (binary, too large, unreadable).
    pub status: Option<Status>,
    /// Why the content is missing or altered.
    pub note: Option<String>,
    pub tokens: usize,
    pub content: Option<Content>,
    /// Bundle notes (lossy decoding, unreadable file).
    pub notes: Vec<String>,
    pub secrets: Vec<SecretJson>,
    /// What the token cache should remember.
    pub learned: Option<(blake3::Hash, Entry)>,
}

/// How files are inlined.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
    pub secrets: SecretsMode,
    pub tokenizer: Tokenizer,
}

/// Inline one file (called on all cores).
pub fn one(
    job: &Job,
    id: &str,
    resolver: &Resolver,
    limits: Limits,
    cache: &TokenCache,
) -> Inlined {
    let Job { file, lines, .. } = job;
    let (file, lines) = (file.as_str(), *lines);
    let mut status = None;
    let mut note = None;
    let mut tokens = 0;
    let mut content = None;
    let mut notes = Vec::new();
    let mut found = Vec::new();
    let mut remember = None;
    let read = resolver
        .resolve(file)
        .map_err(|error| format!("`{file}` {error}"))
        .map(|path| {
            let content = files::read_path(&path, lines, limits.max_bytes);
            (path, content)
        });
    match read {
        Ok((path, FileContent::Text { text, lossy })) => {
            if lossy {
                let lossy =
                    format!("`{file}` is not valid UTF-8; invalid bytes were replaced with U+FFFD");
                notes.push(lossy.clone());
                note = Some(lossy);
            }
            let hash = blake3::hash(text.as_bytes());
            let known = cache.get(&hash);
            let slot = cache::slot(limits.tokenizer);
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
                    item: id.to_owned(),
                })
                .collect();
            let written = content::redacted(&text, &findings);
            // Counts are cached for the text as read; redacted text is counted afresh.
            let count = match (findings.is_empty(), known.tokens[slot]) {
                (true, Some(count)) => count as usize,
                _ => tokens::count(limits.tokenizer, &written),
            };
            let mut learned = Entry::default();
            if findings.is_empty() {
                learned.tokens[slot] = Some(u32::try_from(count).unwrap_or(u32::MAX - 1));
            }
            if limits.secrets != SecretsMode::Off {
                learned.clean = Some(findings.is_empty());
            }
            remember = Some((hash, learned));
            tokens = count;
            let redacted = match &written {
                std::borrow::Cow::Owned(redacted) => Some(redacted.as_str()),
                std::borrow::Cow::Borrowed(_) => None,
            };
            content = Some(Content::new(content::Read {
                path,
                shown: file,
                lines,
                max_bytes: limits.max_bytes,
                text: &text,
                read_hash: hash,
                redacted,
                redactions: findings,
            }));
        }
        Ok((_, FileContent::Binary)) => {
            status = Some(Status::OmittedBinary);
            note = Some(String::from(
                "binary file (NUL byte in the first 8 KiB): listed, not inlined",
            ));
        }
        Ok((_, FileContent::TooLarge(size))) => {
            status = Some(Status::OmittedSize);
            note = Some(format!(
                "{size} bytes, over `max_file_bytes` ({}): listed, not inlined",
                limits.max_bytes
            ));
        }
        Ok((_, FileContent::Unreadable(reason))) | Err(reason) => {
            let unreadable = format!("`{file}` could not be read: {reason}");
            notes.push(unreadable.clone());
            status = Some(Status::OmittedUnreadable);
            note = Some(unreadable);
        }
    }
    Inlined {
        status,
        note,
        tokens,
        content,
        notes,
        secrets: found,
        learned: remember,
    }
}
