//! The token cache: what is known about a file's text, keyed by the blake3 hash of that
//! text, in `<root>/.ctx/cache/tokens`.
//!
//! A repeated bundle of an unchanged tree then skips the two costly steps: counting tokens
//! and scanning for secrets. The key is the content itself, never a path or a timestamp,
//! so a changed file can only miss; it can never reuse a stale count. The file starts
//! with a header naming the ctx version and a fingerprint of the secret rules: a cache
//! written by another build (other counts, other rules) is ignored as a whole. It is
//! written atomically, and a missing, corrupt or unwritable cache only costs speed.

use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use super::tokens;
use crate::config::settings::Tokenizer;
use crate::output;

/// What the cache knows about one text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Entry {
    /// Token counts by tokenizer ([`slot`]); `None` when not counted yet.
    pub tokens: [Option<u32>; 2],
    /// Whether the secret scan found nothing; `None` when not scanned yet.
    pub clean: Option<bool>,
}

/// The index of a tokenizer's count in [`Entry::tokens`].
pub fn slot(tokenizer: Tokenizer) -> usize {
    match tokenizer {
        Tokenizer::O200k => 0,
        Tokenizer::Cl100k => 1,
    }
}

/// Entries kept at most; past this, only the ones this run used are written back.
const MAX_ENTRIES: usize = 1 << 20;
/// Bytes per entry on disk: hash, two counts, scan state.
const ENTRY_BYTES: usize = 32 + 4 + 4 + 1;
/// No count (u32::MAX is not a plausible count for a file under `max_file_bytes`).
const UNKNOWN: u32 = u32::MAX;

/// The cache of one workspace.
#[derive(Debug, Default)]
pub struct TokenCache {
    /// Where it is stored; `None` = disabled (`--no-cache`).
    path: Option<PathBuf>,
    entries: FxHashMap<[u8; 32], Entry>,
    /// Keys looked up or recorded by this run.
    used: FxHashMap<[u8; 32], ()>,
    changed: bool,
}

impl TokenCache {
    /// A cache that neither reads nor writes anything.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Load the cache of the workspace at `root` (empty when absent or unusable).
    pub fn open(root: &Path) -> Self {
        let path = root.join(".ctx").join("cache").join("tokens");
        let entries = std::fs::read(&path)
            .ok()
            .and_then(|bytes| decode(&bytes))
            .unwrap_or_default();
        Self {
            path: Some(path),
            entries,
            used: FxHashMap::default(),
            changed: false,
        }
    }

    /// What is known about the text with this hash.
    pub fn get(&self, hash: &blake3::Hash) -> Entry {
        self.entries
            .get(hash.as_bytes())
            .copied()
            .unwrap_or_default()
    }

    /// Remember what a run learned (or confirmed) about a text.
    pub fn record(&mut self, hash: &blake3::Hash, entry: Entry) {
        let key = *hash.as_bytes();
        self.used.insert(key, ());
        if self.path.is_none() {
            return;
        }
        let slot = self.entries.entry(key).or_default();
        let merged = Entry {
            tokens: [
                entry.tokens[0].or(slot.tokens[0]),
                entry.tokens[1].or(slot.tokens[1]),
            ],
            clean: entry.clean.or(slot.clean),
        };
        if merged != *slot {
            *slot = merged;
            self.changed = true;
        }
    }

    /// The tokens of a short text (a constraint, a command, the plan), from the cache
    /// when known: a fully cached bundle never loads a vocabulary.
    pub fn count(&mut self, tokenizer: Tokenizer, text: &str) -> usize {
        if text.is_empty() {
            return 0;
        }
        let hash = blake3::hash(text.as_bytes());
        let mut entry = Entry::default();
        let count = match self.get(&hash).tokens[slot(tokenizer)] {
            Some(count) => count as usize,
            None => {
                let count = tokens::count(tokenizer, text);
                entry.tokens[slot(tokenizer)] = Some(u32::try_from(count).unwrap_or(UNKNOWN - 1));
                count
            }
        };
        self.record(&hash, entry);
        count
    }

    /// Write the cache back if this run learned something. Failing to is not an error
    /// (a read-only checkout still bundles); the reason is returned for a `-v` note.
    pub fn save(mut self) -> Result<(), String> {
        let Some(path) = self.path.take() else {
            return Ok(());
        };
        if !self.changed {
            return Ok(());
        }
        if self.entries.len() > MAX_ENTRIES {
            let used = &self.used;
            self.entries.retain(|key, _| used.contains_key(key));
        }
        let folder = path.parent().unwrap_or(Path::new("."));
        let ctx_folder = folder.parent().unwrap_or(folder);
        std::fs::create_dir_all(folder)
            .and_then(|()| {
                // Never committed by accident: the whole `.ctx` folder ignores itself.
                let ignore = ctx_folder.join(".gitignore");
                match ignore.exists() {
                    true => Ok(()),
                    false => std::fs::write(ignore, "*\n"),
                }
            })
            .and_then(|()| output::write_atomic(&path, &encode(&self.entries)))
            .map_err(|error| format!("token cache `{}` not saved: {error}", path.display()))
    }
}

/// The header: format, ctx version, the secret rules the `clean` flags hold for, and the
/// build (size and time of the executable): counts and scans from another build of ctx
/// are not trusted.
fn header() -> Vec<u8> {
    let build = std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|metadata| {
            let modified = metadata
                .modified()
                .ok()
                .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |since| since.as_nanos());
            format!("{}-{modified}", metadata.len())
        })
        .unwrap_or_default();
    format!(
        "ctx token cache v1 {} {} {build}\n",
        env!("CARGO_PKG_VERSION"),
        crate::secrets::fingerprint()
    )
    .into_bytes()
}

fn encode(entries: &FxHashMap<[u8; 32], Entry>) -> Vec<u8> {
    let mut sorted: Vec<_> = entries.iter().collect();
    sorted.sort_unstable_by_key(|(key, _)| **key);
    let mut bytes = header();
    bytes.reserve(sorted.len() * ENTRY_BYTES);
    for (key, entry) in sorted {
        bytes.extend_from_slice(key);
        for count in entry.tokens {
            bytes.extend_from_slice(&count.unwrap_or(UNKNOWN).to_le_bytes());
        }
        bytes.push(match entry.clean {
            None => 0,
            Some(true) => 1,
            Some(false) => 2,
        });
    }
    bytes
}

fn decode(bytes: &[u8]) -> Option<FxHashMap<[u8; 32], Entry>> {
    let body = bytes.strip_prefix(header().as_slice())?;
    if body.len() % ENTRY_BYTES != 0 {
        return None;
    }
    let mut entries = FxHashMap::default();
    entries.reserve(body.len() / ENTRY_BYTES);
    for record in body.chunks_exact(ENTRY_BYTES) {
        let (key, rest) = record.split_at(32);
        let count = |at: usize| {
            let value = u32::from_le_bytes(rest[at..at + 4].try_into().ok()?);
            (value != UNKNOWN).then_some(value)
        };
        let clean = match rest[8] {
            0 => None,
            1 => Some(true),
            2 => Some(false),
            _ => return None,
        };
        entries.insert(
            key.try_into().ok()?,
            Entry {
                tokens: [count(0), count(4)],
                clean,
            },
        );
    }
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(text: &str) -> blake3::Hash {
        blake3::hash(text.as_bytes())
    }

    #[test]
    fn entries_survive_a_save_and_load() {
        let root = tempfile::tempdir().unwrap();
        let mut cache = TokenCache::open(root.path());
        let entry = Entry {
            tokens: [Some(12), None],
            clean: Some(true),
        };
        cache.record(&hash("fn main() {}"), entry);
        cache.save().unwrap();
        let cache = TokenCache::open(root.path());
        assert_eq!(cache.get(&hash("fn main() {}")), entry);
        assert_eq!(cache.get(&hash("fn main() { }")), Entry::default());
        let ignore = std::fs::read_to_string(root.path().join(".ctx/.gitignore")).unwrap();
        assert_eq!(ignore, "*\n");
    }

    #[test]
    fn a_corrupt_or_foreign_cache_is_ignored() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join(".ctx/cache/tokens");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut cache = TokenCache::open(root.path());
        cache.record(
            &hash("x"),
            Entry {
                tokens: [Some(1), Some(1)],
                clean: Some(true),
            },
        );
        cache.save().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.pop();
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            TokenCache::open(root.path()).get(&hash("x")),
            Entry::default()
        );
        let mut foreign = b"ctx token cache v1 0.0.0 other\n".to_vec();
        foreign.extend_from_slice(&bytes[header().len()..]);
        std::fs::write(&path, foreign).unwrap();
        assert_eq!(
            TokenCache::open(root.path()).get(&hash("x")),
            Entry::default()
        );
    }

    #[test]
    fn counts_of_both_tokenizers_merge() {
        let root = tempfile::tempdir().unwrap();
        let mut cache = TokenCache::open(root.path());
        cache.record(
            &hash("a"),
            Entry {
                tokens: [Some(3), None],
                clean: None,
            },
        );
        cache.record(
            &hash("a"),
            Entry {
                tokens: [None, Some(4)],
                clean: Some(false),
            },
        );
        assert_eq!(
            cache.get(&hash("a")),
            Entry {
                tokens: [Some(3), Some(4)],
                clean: Some(false),
            }
        );
    }

    #[test]
    fn a_disabled_cache_writes_nothing() {
        let root = tempfile::tempdir().unwrap();
        let mut cache = TokenCache::disabled();
        cache.record(&hash("a"), Entry::default());
        cache.save().unwrap();
        assert!(!root.path().join(".ctx").exists());
    }
}
