//! The token cache in `<root>/.ctx/cache/tokens`: what is known about a text (token
//! counts, whether it holds secrets, its shape), keyed by the blake3 hash of the text,
//! and which hash each file had when last seen.
//!
//! A repeated bundle of an unchanged tree then skips counting tokens, scanning for
//! secrets and, for a file whose metadata (device, inode, size, modification and change
//! times to the nanosecond) is as it was, reading it before writing. Counts belong to a
//! content hash, never to a path: a changed file can only miss. A file is remembered
//! only once its change time is a couple of seconds old, so an edit within the same clock
//! tick cannot hide behind equal timestamps (git's "racy clean" rule). And whatever the
//! cache says, writing the bundle reads every file again and checks it is the text its
//! count belongs to (the same settled metadata before and after the read, or else the
//! same hash): a mismatch stops the run, it is never written with a stale count.
//!
//! The file starts with a header naming the ctx version, the build and a fingerprint of
//! the secret rules: a cache from another build is ignored as a whole. It is written
//! atomically; a missing, corrupt or unwritable cache only costs speed.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use rustc_hash::FxHashMap;

use super::document::Document;
use super::tokens;
use crate::config::settings::Tokenizer;
use crate::config::workspace::LineRange;
use crate::output;
use crate::state::State;

/// What the cache knows about one text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Entry {
    /// Token counts by tokenizer ([`slot`]), then of the text as framed in each
    /// document ([`framed_slot`]); `None` when not counted yet.
    pub tokens: [Option<u32>; SLOTS],
    /// Whether the secret scan found nothing; `None` when not scanned yet.
    pub clean: Option<bool>,
    /// The text's shape, for fencing it without reading it.
    pub shape: Option<Shape>,
}

impl Entry {
    /// What `self` knows, and what `other` knows that `self` does not.
    pub fn or(self, other: Entry) -> Entry {
        Entry {
            tokens: std::array::from_fn(|index| self.tokens[index].or(other.tokens[index])),
            clean: self.clean.or(other.clean),
            shape: self.shape.or(other.shape),
        }
    }
}

/// What this run has learned about texts so far, by hash, shared by the threads that
/// inline files: a text met again in the same run (a vendored copy, a file unchanged
/// between two versions of a library, a licence) is neither scanned nor counted again.
/// Apart from the [`TokenCache`], which those threads only read, and kept by every run,
/// a cold one or one without the cache (`--no-cache`) alike: it is never stored.
#[derive(Debug, Default)]
pub struct Learning(std::sync::Mutex<FxHashMap<[u8; 32], Entry>>);

impl Learning {
    /// What this run has learned about the text with this hash.
    pub fn get(&self, hash: &blake3::Hash) -> Entry {
        self.texts()
            .get(hash.as_bytes())
            .copied()
            .unwrap_or_default()
    }

    /// Remember what was learned about the text with this hash.
    pub fn learn(&self, hash: &blake3::Hash, entry: Entry) {
        let mut texts = self.texts();
        let known = texts.entry(*hash.as_bytes()).or_default();
        *known = entry.or(*known);
    }

    fn texts(&self) -> std::sync::MutexGuard<'_, FxHashMap<[u8; 32], Entry>> {
        // A thread that panicked holding the lock left whole entries (each is copied
        // in at once), so what it left is as good as any.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What the Markdown fence of a text depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub longest_backtick_run: u32,
    pub ends_with_newline: bool,
}

/// A file's metadata, as compared to trust a remembered hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    dev: u64,
    ino: u64,
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl Stat {
    pub fn of(metadata: &Metadata) -> Self {
        Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
            size: metadata.size(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }
}

/// A file as last seen: its metadata and the hash (and decoding) of its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub stat: Stat,
    pub hash: [u8; 32],
    /// Whether decoding replaced invalid UTF-8.
    pub lossy: bool,
}

/// Seconds a file's timestamps must be older than the run to be remembered.
const RACY_SECONDS: i64 = 2;

/// The index of a tokenizer's count in [`Entry::tokens`].
pub fn slot(tokenizer: Tokenizer) -> usize {
    match tokenizer {
        Tokenizer::O200k => 0,
        Tokenizer::Cl100k => 1,
    }
}

/// Counts per text: two tokenizers × (the text, its Markdown frame, its JSON frame).
pub const SLOTS: usize = 6;

/// The index in [`Entry::tokens`] of the count of a text as framed in `document` (see
/// `measure::framed`).
pub fn framed_slot(tokenizer: Tokenizer, document: Document) -> usize {
    let form = match document {
        Document::Markdown => 1,
        Document::Json => 2,
    };
    2 * form + slot(tokenizer)
}

/// Entries kept at most; past this, only the ones this run used are written back.
const MAX_ENTRIES: usize = 1 << 20;
/// Bytes per entry on disk: hash, counts, scan state, backtick run, final newline.
const ENTRY_BYTES: usize = 32 + 4 * SLOTS + 1 + 4 + 1 + CHECK_BYTES + CHECK_BYTES;
/// Bytes per file on disk: key, device, inode, size, two timestamps, hash, lossy.
const SEEN_BYTES: usize = 32 + 8 + 8 + 8 + 16 + 16 + 32 + 1 + CHECK_BYTES;
/// Each record ends with the first bytes of its blake3: a damaged record is ignored (and
/// learned again); a text's `clean` flag also carries a MAC keyed by this machine's
/// cache key (outside `.ctx/`), so a forged or restored cache cannot switch a scan off.
const CHECK_BYTES: usize = 8;
/// The largest cache file read: both tables full, and a header.
const MAX_FILE_BYTES: u64 = (MAX_ENTRIES * (ENTRY_BYTES + SEEN_BYTES) + 4096) as u64;
/// No count (u32::MAX is not a plausible count for a file under `max_file_bytes`).
const UNKNOWN: u32 = u32::MAX;

/// The cache of one workspace.
#[derive(Debug, Default)]
pub struct TokenCache {
    /// Where it is stored; `None` = disabled (`--no-cache`).
    path: Option<PathBuf>,
    /// Texts by hash, each flagged when this run used it.
    entries: Table<Packed>,
    /// Files by [`file_key`], each flagged when this run used it.
    files: Table<(Seen, bool)>,
    changed: bool,
    /// When this run started (Unix seconds), for the racy-file rule.
    started: i64,
    /// The `.ctx/` folder the cache lives in.
    state: Option<State>,
}

impl TokenCache {
    /// A cache that neither reads nor writes anything.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Load the cache of the workspace at `root` (empty when absent or unusable).
    pub fn open(root: &Path) -> Self {
        Self::open_with(root, None)
    }

    /// [`TokenCache::open`], taking over a [`Preload`] of the same file (one of another
    /// file is ignored).
    pub fn open_with(root: &Path, preload: Option<Preload>) -> Self {
        let state = State::of(root);
        let path = state.token_cache();
        let preloaded = preload
            .filter(|preload| preload.path == path)
            .and_then(|preload| preload.reading.join().ok());
        let (entries, files) = preloaded.unwrap_or_else(|| read(&path));
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
            });
        Self {
            path: Some(path),
            state: Some(state),
            entries,
            files,
            changed: false,
            started,
        }
    }

    /// The hash of a file's text (and whether it decoded lossily) when its metadata is
    /// exactly as when it was remembered.
    pub fn seen(&self, key: &FileKey, stat: &Stat) -> Option<(blake3::Hash, bool)> {
        let (seen, _) = self.files.get(&key.0)?;
        (seen.stat == *stat).then(|| (blake3::Hash::from_bytes(seen.hash), seen.lossy))
    }

    /// Whether the cache as read remembers no file at all (a cold run, or no cache): then
    /// no file's metadata needs looking at before it is read.
    pub fn remembers_no_file(&self) -> bool {
        self.files.sorted.is_empty()
    }

    /// Pretend this run started `seconds` later (tests of the racy-file rule).
    #[cfg(test)]
    pub fn start_later(&mut self, seconds: i64) {
        self.started += seconds;
    }

    /// Whether a file's timestamps are old enough that any later edit must change them
    /// (not within the clock tick of this run's start).
    pub fn settled(&self, stat: &Stat) -> bool {
        stat.modified.0.max(stat.changed.0) < self.started - RACY_SECONDS
    }

    /// Remember a file's hash under the metadata taken *before* it was read, unless its
    /// timestamps are too recent to tell a later edit apart.
    pub fn record_seen(&mut self, &FileKey(key): &FileKey, seen: Seen) {
        if self.path.is_none() || !self.settled(&seen.stat) {
            return;
        }
        match self.files.get_mut(&key) {
            Some(known) => {
                self.changed |= known.0 != seen;
                *known = (seen, true);
            }
            None => {
                self.changed = true;
                self.files.added.insert(key, (seen, true));
            }
        }
    }

    /// A file remembered exactly as it is, and its text (of `hash`) remembered too, are
    /// used again by this run (kept when the cache is full; nothing changes).
    pub fn reuse(&mut self, key: &FileKey, hash: &blake3::Hash) {
        if let Some((_, used)) = self.files.get_mut(&key.0) {
            *used = true;
        }
        if let Some(packed) = self.entries.get_mut(hash.as_bytes()) {
            packed.used = true;
        }
    }

    /// What is known about the text with this hash.
    pub fn get(&self, hash: &blake3::Hash) -> Entry {
        self.entries
            .get(hash.as_bytes())
            .map(Packed::entry)
            .unwrap_or_default()
    }

    /// Remember what a run learned (or confirmed) about a text.
    pub fn record(&mut self, hash: &blake3::Hash, entry: Entry) {
        if self.path.is_none() {
            return;
        }
        let slot = self
            .entries
            .slot(*hash.as_bytes(), || Packed::new(Entry::default()));
        slot.used = true;
        let known = slot.entry();
        let merged = entry.or(known);
        if merged != known {
            *slot = Packed {
                used: true,
                ..Packed::new(merged)
            };
            self.changed = true;
        }
    }

    /// The tokens of a short text (a constraint, a command, the plan), from the cache
    /// when known: a fully cached bundle never loads a vocabulary.
    pub fn count(&mut self, tokenizer: Tokenizer, text: &str) -> usize {
        if text.is_empty() {
            return 0;
        }
        self.count_all(tokenizer, &[text])
    }

    /// The sum of the counts of `texts` (as [`TokenCache::count`] each), counted on every
    /// core: the document's own text, in the pieces a measure cuts it into.
    pub fn count_all<T: AsRef<str> + Sync>(&mut self, tokenizer: Tokenizer, texts: &[T]) -> usize {
        let this = &*self;
        let counted = crate::parallel::map(texts, |text| {
            let text = text.as_ref();
            let hash = blake3::hash(text.as_bytes());
            match this.get(&hash).tokens[slot(tokenizer)] {
                Some(count) => (hash, count as usize, false),
                None => (hash, tokens::count(tokenizer, text), true),
            }
        });
        let mut total = 0;
        for (hash, count, new) in counted {
            let mut entry = Entry::default();
            if new {
                entry.tokens[slot(tokenizer)] = Some(u32::try_from(count).unwrap_or(UNKNOWN - 1));
            }
            self.record(&hash, entry);
            total += count;
        }
        total
    }

    /// [`TokenCache::save`] on a thread of its own, while the bundle is written; the
    /// save finishes before the [`Saving`] is dropped. Where no thread can be started it
    /// is saved here.
    pub fn save_in_background(self) -> Saving {
        let cache = std::sync::Arc::new(std::sync::Mutex::new(Some(self)));
        let take = |cache: &std::sync::Mutex<Option<Self>>| {
            cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
        };
        let shared = cache.clone();
        match std::thread::Builder::new().spawn(move || take(&shared).map_or(Ok(()), Self::save)) {
            Ok(thread) => Saving {
                thread: Some(thread),
                outcome: Ok(()),
            },
            Err(_) => Saving {
                thread: None,
                outcome: take(&cache).map_or(Ok(()), Self::save),
            },
        }
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
            self.entries.retain(|packed| packed.used);
        }
        if self.files.len() > MAX_ENTRIES {
            self.files.retain(|(_, used)| *used);
        }
        let state = self
            .state
            .take()
            .unwrap_or_else(|| State::of(Path::new(".")));
        state
            .prepare(&path)
            .and_then(|()| output::write_atomic(&path, &encode(&self.entries, &self.files)))
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
        "ctx token cache v3 {} {} {build}\n",
        env!("CARGO_PKG_VERSION"),
        crate::secrets::fingerprint()
    )
    .into_bytes()
}

/// A file's key in the cache ([`file_key`]): for a file read, worked out where it is
/// inlined (on all cores) rather than where what was learned is recorded (on one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileKey([u8; 32]);

impl FileKey {
    pub fn of(relative: &str, lines: Option<LineRange>) -> Self {
        Self(file_key(relative, lines))
    }
}

/// The key of a file (and excerpt) in the files table.
fn file_key(relative: &str, lines: Option<LineRange>) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(relative.as_bytes());
    if let Some(range) = lines {
        hasher.update(format!("\0{range}").as_bytes());
    }
    *hasher.finalize().as_bytes()
}

type Tables = (Table<Packed>, Table<(Seen, bool)>);

/// Records by a 32-byte key: the ones read from the cache file, sorted by key (found by
/// binary search, updated in place), and the ones this run added (a hash map, empty
/// when a run learns nothing new). A quarter of the memory of hash maps over all of
/// them on a repeated bundle: no spare buckets (a map of 17,000 records has 32,768).
#[derive(Debug)]
struct Table<V> {
    sorted: Vec<([u8; 32], V)>,
    added: FxHashMap<[u8; 32], V>,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Self {
            sorted: Vec::new(),
            added: FxHashMap::default(),
        }
    }
}

impl<V> Table<V> {
    /// The table of these records (the first of any repeated key wins).
    fn of(mut records: Vec<([u8; 32], V)>) -> Self {
        // Written in key order: sorted (with a scratch half its size) only when not.
        if !records.is_sorted_by_key(|record| record.0) {
            records.sort_by_key(|record| record.0);
        }
        records.dedup_by(|later, earlier| later.0 == earlier.0);
        records.shrink_to_fit();
        Self {
            sorted: records,
            added: FxHashMap::default(),
        }
    }

    fn len(&self) -> usize {
        self.sorted.len() + self.added.len()
    }

    /// Where `key` is among the records read from the file.
    fn position(&self, key: &[u8; 32]) -> Option<usize> {
        self.sorted
            .binary_search_by(|(known, _)| known.cmp(key))
            .ok()
    }

    fn get(&self, key: &[u8; 32]) -> Option<&V> {
        match self.position(key) {
            Some(index) => Some(&self.sorted[index].1),
            None => self.added.get(key),
        }
    }

    fn get_mut(&mut self, key: &[u8; 32]) -> Option<&mut V> {
        match self.position(key) {
            Some(index) => Some(&mut self.sorted[index].1),
            None => self.added.get_mut(key),
        }
    }

    /// The record of `key`, added as `new()` if there is none.
    fn slot(&mut self, key: [u8; 32], new: impl FnOnce() -> V) -> &mut V {
        match self.position(&key) {
            Some(index) => &mut self.sorted[index].1,
            None => self.added.entry(key).or_insert_with(new),
        }
    }

    fn retain(&mut self, keep: impl Fn(&V) -> bool) {
        self.sorted.retain(|(_, value)| keep(value));
        self.added.retain(|_, value| keep(value));
    }

    /// Every record, in key order (the file is written sorted, so reading it back
    /// sorts nothing).
    fn in_order(&self) -> Vec<(&[u8; 32], &V)> {
        let mut added: Vec<(&[u8; 32], &V)> = self.added.iter().collect();
        added.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut all = Vec::with_capacity(self.len());
        let mut sorted = self
            .sorted
            .iter()
            .map(|(key, value)| (key, value))
            .peekable();
        let mut added = added.into_iter().peekable();
        loop {
            let next = match (sorted.peek(), added.peek()) {
                (Some(a), Some(b)) if a.0 <= b.0 => sorted.next(),
                (Some(_), Some(_)) | (None, _) => added.next(),
                (Some(_), None) => sorted.next(),
            };
            match next {
                Some(record) => all.push(record),
                None => return all,
            }
        }
    }
}

/// An [`Entry`] as kept in memory: counts with [`UNKNOWN`] for none and the tri-state
/// flags as bytes (32 bytes a text instead of 64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Packed {
    tokens: [u32; SLOTS],
    run: u32,
    clean: u8,
    newline: u8,
    /// This run used the text.
    used: bool,
}

impl Packed {
    fn new(entry: Entry) -> Self {
        Self {
            tokens: entry.tokens.map(|count| count.unwrap_or(UNKNOWN)),
            run: entry
                .shape
                .map_or(UNKNOWN, |shape| shape.longest_backtick_run),
            clean: tri(entry.clean),
            newline: tri(entry.shape.map(|shape| shape.ends_with_newline)),
            used: false,
        }
    }

    fn entry(&self) -> Entry {
        let known = |value: u32| (value != UNKNOWN).then_some(value);
        let shape = match (known(self.run), untri(self.newline)) {
            (Some(run), Some(ends)) => Some(Shape {
                longest_backtick_run: run,
                ends_with_newline: ends,
            }),
            _ => None,
        };
        Entry {
            tokens: self.tokens.map(known),
            clean: untri(self.clean),
            shape,
        }
    }
}

fn encode(entries: &Table<Packed>, files: &Table<(Seen, bool)>) -> Vec<u8> {
    let mut bytes = header();
    bytes.reserve(8 + entries.len() * ENTRY_BYTES + files.len() * SEEN_BYTES);
    let mut entries = entries.in_order();
    entries.truncate(u32::MAX as usize);
    bytes.extend_from_slice(
        &u32::try_from(entries.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    let machine = crate::state::machine_key();
    encode_records(&mut bytes, &entries, ENTRY_BYTES, |bytes, (key, packed)| {
        let entry = packed.entry();
        let start = bytes.len();
        bytes.extend_from_slice(*key);
        for count in entry.tokens {
            bytes.extend_from_slice(&count.unwrap_or(UNKNOWN).to_le_bytes());
        }
        bytes.push(tri(entry.clean));
        let run = entry
            .shape
            .map_or(UNKNOWN, |shape| shape.longest_backtick_run);
        bytes.extend_from_slice(&run.to_le_bytes());
        bytes.push(tri(entry.shape.map(|shape| shape.ends_with_newline)));
        let check = checksum(&bytes[start..]);
        bytes.extend_from_slice(&check);
        bytes.extend_from_slice(&clean_mac(machine.as_ref(), key, entry.clean));
    });
    let mut files = files.in_order();
    files.truncate(u32::MAX as usize);
    bytes.extend_from_slice(&u32::try_from(files.len()).unwrap_or(u32::MAX).to_le_bytes());
    encode_records(&mut bytes, &files, SEEN_BYTES, |bytes, (key, (seen, _))| {
        let start = bytes.len();
        bytes.extend_from_slice(*key);
        let stat = &seen.stat;
        for number in [stat.dev, stat.ino, stat.size] {
            bytes.extend_from_slice(&number.to_le_bytes());
        }
        for number in [
            stat.modified.0,
            stat.modified.1,
            stat.changed.0,
            stat.changed.1,
        ] {
            bytes.extend_from_slice(&number.to_le_bytes());
        }
        bytes.extend_from_slice(&seen.hash);
        bytes.push(u8::from(seen.lossy));
        let check = checksum(&bytes[start..]);
        bytes.extend_from_slice(&check);
    });
    bytes
}

/// Records encoded per piece of work when a cache is encoded on all cores.
const RECORDS_PER_PIECE: usize = 128;

/// Append `records`, each encoded by `record` (`size` bytes), in order: in pieces on all
/// cores, since each record carries a blake3 check (and a text's a MAC); for the 48,000
/// records of a cold bundle of the mixed benchmark corpus, saving the cache took 16 ms on
/// one core and 13 ms so.
fn encode_records<R: Sync>(
    bytes: &mut Vec<u8>,
    records: &[R],
    size: usize,
    record: impl Fn(&mut Vec<u8>, &R) + Sync,
) {
    let pieces: Vec<&[R]> = records.chunks(RECORDS_PER_PIECE).collect();
    let encoded = crate::parallel::map(&pieces, |piece| {
        let mut out = Vec::with_capacity(piece.len() * size);
        for one in *piece {
            record(&mut out, one);
        }
        out
    });
    for piece in encoded {
        bytes.extend_from_slice(&piece);
    }
}

fn tri(value: Option<bool>) -> u8 {
    match value {
        None => 0,
        Some(true) => 1,
        Some(false) => 2,
    }
}

fn untri(value: u8) -> Option<bool> {
    match value {
        1 => Some(true),
        2 => Some(false),
        _ => None,
    }
}

/// Reads a cache file front to back; any inconsistency rejects it whole.
struct Reader<'b>(&'b [u8]);

impl<'b> Reader<'b> {
    fn take(&mut self, count: usize) -> Option<&'b [u8]> {
        let (taken, rest) = self.0.split_at_checked(count)?;
        self.0 = rest;
        Some(taken)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_le_bytes)
    }

    fn tri(&mut self) -> Option<Option<bool>> {
        match self.take(1)?[0] {
            0 => Some(None),
            1 => Some(Some(true)),
            2 => Some(Some(false)),
            _ => None,
        }
    }
}

/// The token cache file being read on a thread of its own (bundling starts this before
/// loading the configuration, which leaves a core idle while it indexes the tree), for
/// [`TokenCache::open_with`] to take over. Owned by its caller: nothing is global.
#[derive(Debug)]
pub struct Preload {
    path: PathBuf,
    reading: JoinHandle<Tables>,
}

impl Preload {
    /// Start reading the cache file at `path`; `None` if no thread can be started (the
    /// open then reads the file itself).
    pub fn start(path: &Path) -> Option<Self> {
        let reading = path.to_path_buf();
        std::thread::Builder::new()
            .spawn(move || read(&reading))
            .ok()
            .map(|reading| Self {
                path: path.to_path_buf(),
                reading,
            })
    }
}

/// The tables in the cache file at `path`; empty when there is none, or it is not ours
/// or damaged (a cache larger than a full one could be is not even read).
///
/// Read record by record through a small buffer, never whole: freeing a buffer the size
/// of the file (megabytes, from `mmap`) would raise glibc's `mmap` threshold to that
/// size for the rest of the run, and every large vector grown after it would leave its
/// old blocks behind in the heap (3 MiB of a repeated bundle's peak on a 16,000-file
/// tree).
fn read(path: &Path) -> Tables {
    // Opened only if it is a regular file (a FIFO put there cannot block a bundle).
    crate::paths::open_regular(path)
        .ok()
        .filter(|(_, metadata)| metadata.len() <= MAX_FILE_BYTES)
        .and_then(|(file, metadata)| {
            // Up to the size the open handle reported (a file that grows meanwhile is
            // read as it was).
            let length = metadata.len();
            decode(
                &mut std::io::BufReader::with_capacity(64 << 10, std::io::Read::take(file, length)),
                length,
            )
        })
        .unwrap_or_default()
}

/// The first bytes of a record's blake3.
fn checksum(record: &[u8]) -> [u8; CHECK_BYTES] {
    let mut check = [0; CHECK_BYTES];
    check.copy_from_slice(&blake3::hash(record).as_bytes()[..CHECK_BYTES]);
    check
}

/// The MAC of a `clean` verdict for a text (zero for any other verdict, or without a
/// machine key, when no `clean` flag is ever trusted).
fn clean_mac(machine: Option<&[u8; 32]>, key: &[u8; 32], clean: Option<bool>) -> [u8; CHECK_BYTES] {
    let mut mac = [0; CHECK_BYTES];
    if let (Some(machine), Some(true)) = (machine, clean) {
        let mut hasher = blake3::Hasher::new_keyed(machine);
        hasher.update(b"ctx clean v1");
        hasher.update(key);
        mac.copy_from_slice(&hasher.finalize().as_bytes()[..CHECK_BYTES]);
    }
    mac
}

/// The tables in a cache file of `length` bytes, read from `input`.
fn decode(input: &mut impl std::io::Read, length: u64) -> Option<Tables> {
    let expected = header();
    let mut found = vec![0; expected.len()];
    input.read_exact(&mut found).ok()?;
    if found != expected {
        return None;
    }
    let length = usize::try_from(length).unwrap_or(usize::MAX);
    let mut number = [0; 4];
    input.read_exact(&mut number).ok()?;
    let count = u32::from_le_bytes(number) as usize;
    let known = |value: u32| (value != UNKNOWN).then_some(value);
    let mut entries = Vec::with_capacity(count.min(length / ENTRY_BYTES));
    let machine = crate::state::machine_key();
    let mut bytes = [0; ENTRY_BYTES];
    for _ in 0..count {
        input.read_exact(&mut bytes).ok()?;
        let mut reader = Reader(&bytes);
        let record = reader.0.get(..ENTRY_BYTES - 2 * CHECK_BYTES)?;
        let key = reader.array()?;
        let mut tokens = [None; SLOTS];
        for count in &mut tokens {
            *count = known(reader.u32()?);
        }
        let clean = reader.tri()?;
        let run = known(reader.u32()?);
        let newline = reader.tri()?;
        let check: [u8; CHECK_BYTES] = reader.array()?;
        let mac: [u8; CHECK_BYTES] = reader.array()?;
        if check != checksum(record) {
            continue;
        }
        // A `clean` verdict counts only with this machine's MAC; else the text is scanned.
        let clean = match clean {
            Some(true)
                if mac != clean_mac(machine.as_ref(), &key, Some(true)) || machine.is_none() =>
            {
                None
            }
            other => other,
        };
        let shape = match (run, newline) {
            (Some(run), Some(ends)) => Some(Shape {
                longest_backtick_run: run,
                ends_with_newline: ends,
            }),
            _ => None,
        };
        let entry = Entry {
            tokens,
            clean,
            shape,
        };
        entries.push((key, Packed::new(entry)));
    }
    input.read_exact(&mut number).ok()?;
    let count = u32::from_le_bytes(number) as usize;
    let mut files = Vec::with_capacity(count.min(length / SEEN_BYTES));
    let mut bytes = [0; SEEN_BYTES];
    for _ in 0..count {
        input.read_exact(&mut bytes).ok()?;
        let mut reader = Reader(&bytes);
        let record = reader.0.get(..SEEN_BYTES - CHECK_BYTES)?;
        let key = reader.array()?;
        let stat = Stat {
            dev: reader.u64()?,
            ino: reader.u64()?,
            size: reader.u64()?,
            modified: (reader.i64()?, reader.i64()?),
            changed: (reader.i64()?, reader.i64()?),
        };
        let hash = reader.array()?;
        let lossy = match reader.take(1)?[0] {
            0 => false,
            1 => true,
            _ => return None,
        };
        let check: [u8; CHECK_BYTES] = reader.array()?;
        if check != checksum(record) {
            continue;
        }
        files.push((key, (Seen { stat, hash, lossy }, false)));
    }
    // Nothing may follow.
    let mut more = [0; 1];
    (input.read(&mut more).ok()? == 0).then(|| (Table::of(entries), Table::of(files)))
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
            tokens: [Some(12), None, None, None, None, None],
            clean: Some(true),
            shape: None,
        };
        cache.record(&hash("fn main() {}"), entry);
        cache.save().unwrap();
        let cache = TokenCache::open(root.path());
        assert_eq!(cache.get(&hash("fn main() {}")), entry);
        assert_eq!(cache.get(&hash("fn main() { }")), Entry::default());
        let ignore = std::fs::read_to_string(root.path().join(".ctx/.gitignore")).unwrap();
        assert_eq!(ignore, "*\n");
    }

    /// A cache read ahead is taken over by an open of its workspace, and ignored by an
    /// open of any other.
    #[test]
    fn a_preloaded_cache_is_taken_over_by_its_workspace_only() {
        let root = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let mut cache = TokenCache::open(root.path());
        let entry = Entry {
            tokens: [Some(7), Some(7), Some(9), None, None, Some(11)],
            clean: Some(true),
            shape: None,
        };
        cache.record(&hash("x"), entry);
        cache.save().unwrap();
        let path = State::of(root.path()).token_cache();
        let preload = Preload::start(&path);
        assert_eq!(
            TokenCache::open_with(other.path(), preload).get(&hash("x")),
            Entry::default()
        );
        let preload = Preload::start(&path);
        assert_eq!(
            TokenCache::open_with(root.path(), preload).get(&hash("x")),
            entry
        );
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
                tokens: [Some(1), Some(1), None, None, None, None],
                clean: Some(true),
                shape: None,
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

    /// A file not written in key order (tampered with) is sorted on reading; of a key
    /// repeated, the first record counts.
    #[test]
    fn records_out_of_order_are_sorted_and_a_repeated_key_counts_once() {
        let table = Table::of(vec![
            ([3; 32], 'c'),
            ([1; 32], 'a'),
            ([3; 32], 'x'),
            ([2; 32], 'b'),
        ]);
        let keys: Vec<u8> = table.sorted.iter().map(|(key, _)| key[0]).collect();
        assert_eq!(keys, [1, 2, 3]);
        assert_eq!(table.get(&[3; 32]), Some(&'c'));
        assert_eq!(table.get(&[4; 32]), None);
    }

    #[test]
    fn texts_read_back_and_texts_added_are_kept_together_in_key_order() {
        let root = tempfile::tempdir().unwrap();
        let entry = |count: u32| Entry {
            tokens: [Some(count), None, None, None, Some(count + 1), None],
            clean: Some(false),
            shape: Some(Shape {
                longest_backtick_run: count,
                ends_with_newline: count.is_multiple_of(2),
            }),
        };
        let mut cache = TokenCache::open(root.path());
        for count in 0..50 {
            cache.record(&hash(&format!("first {count}")), entry(count));
        }
        cache.save().unwrap();
        // A second run finds the first run's texts (read back, sorted) and adds its own,
        // and updates one of the first in place.
        let mut cache = TokenCache::open(root.path());
        assert_eq!(cache.entries.sorted.len(), 50);
        assert!(cache.entries.added.is_empty());
        for count in 0..50 {
            cache.record(&hash(&format!("second {count}")), entry(100 + count));
        }
        cache.record(
            &hash("first 7"),
            Entry {
                tokens: [None, Some(70), None, None, None, None],
                ..Entry::default()
            },
        );
        let order: Vec<[u8; 32]> = cache
            .entries
            .in_order()
            .into_iter()
            .map(|(key, _)| *key)
            .collect();
        assert_eq!(order.len(), 100);
        assert!(
            order.windows(2).all(|pair| pair[0] < pair[1]),
            "not in key order"
        );
        cache.save().unwrap();
        let cache = TokenCache::open(root.path());
        assert_eq!(cache.entries.sorted.len(), 100);
        for count in 0..50 {
            assert_eq!(
                cache.get(&hash(&format!("second {count}"))),
                entry(100 + count)
            );
            let mut first = entry(count);
            if count == 7 {
                first.tokens[1] = Some(70);
            }
            assert_eq!(cache.get(&hash(&format!("first {count}"))), first);
        }
    }

    #[test]
    fn counts_of_both_tokenizers_merge() {
        let root = tempfile::tempdir().unwrap();
        let mut cache = TokenCache::open(root.path());
        cache.record(
            &hash("a"),
            Entry {
                tokens: [Some(3), None, None, None, None, None],
                clean: None,
                shape: None,
            },
        );
        cache.record(
            &hash("a"),
            Entry {
                tokens: [None, Some(4), None, None, None, None],
                clean: Some(false),
                shape: None,
            },
        );
        assert_eq!(
            cache.get(&hash("a")),
            Entry {
                tokens: [Some(3), Some(4), None, None, None, None],
                clean: Some(false),
                shape: None,
            }
        );
    }

    fn stat_of(path: &Path) -> Stat {
        Stat::of(&std::fs::metadata(path).unwrap())
    }

    #[test]
    fn files_are_remembered_by_metadata_unless_racy() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("a.txt");
        std::fs::write(&file, "text").unwrap();
        let stat = stat_of(&file);
        let seen = Seen {
            stat,
            hash: *hash("text").as_bytes(),
            lossy: false,
        };
        // Just written: too recent to remember.
        let mut cache = TokenCache::open(root.path());
        cache.record_seen(&FileKey::of("a.txt", None), seen);
        assert_eq!(cache.seen(&FileKey::of("a.txt", None), &stat), None);
        // A run that started well after the file's last change remembers it.
        cache.start_later(10);
        cache.record_seen(&FileKey::of("a.txt", None), seen);
        cache.save().unwrap();
        let cache = TokenCache::open(root.path());
        assert_eq!(
            cache.seen(&FileKey::of("a.txt", None), &stat),
            Some((hash("text"), false))
        );
        assert_eq!(cache.seen(&FileKey::of("b.txt", None), &stat), None);
        let excerpt = Some(LineRange { start: 1, end: 1 });
        assert_eq!(cache.seen(&FileKey::of("a.txt", excerpt), &stat), None);
        // Any change of the metadata (here the size and times) and it is not trusted.
        std::fs::write(&file, "other text").unwrap();
        assert_eq!(
            cache.seen(&FileKey::of("a.txt", None), &stat_of(&file)),
            None
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

/// A token cache being saved ([`TokenCache::save_in_background`]): waited for when its
/// outcome is asked for or when it is dropped, so no run ends halfway through the write.
#[derive(Debug)]
pub struct Saving {
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
    outcome: Result<(), String>,
}

impl Saving {
    /// Wait for the save: why the cache was not saved, if it was not.
    pub fn finish(mut self) -> Option<String> {
        self.wait()
    }

    fn wait(&mut self) -> Option<String> {
        if let Some(thread) = self.thread.take() {
            self.outcome = thread
                .join()
                .unwrap_or_else(|_| Err(String::from("token cache not saved: its save failed")));
        }
        std::mem::replace(&mut self.outcome, Ok(())).err()
    }
}

impl Drop for Saving {
    fn drop(&mut self) {
        self.wait();
    }
}
