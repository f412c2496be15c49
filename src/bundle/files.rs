//! Reading the files that patterns and examples reference, safely: every path goes
//! through the one [`Resolver`](crate::paths::Resolver) (never outside the root, symlinks checked); only regular
//! files are opened (FIFOs and devices never); files over `max_file_bytes` (by metadata)
//! and binary files (a NUL in the first 8 KiB) are listed, not inlined; non-UTF-8 text
//! is decoded lossily with a note; `lines` excerpts are cut here.

use std::borrow::Cow;
use std::path::Path;

use super::cache::Stat;
use crate::config::workspace::LineRange;
use crate::paths;

/// What reading a referenced file produced; the text is a `String`, or a `Cow` borrowing
/// a caller's buffer ([`read_into`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileContent<T = String> {
    /// UTF-8 text (possibly an excerpt); `lossy` when invalid UTF-8 was replaced.
    Text { text: T, lossy: bool },
    /// A NUL byte in the first 8 KiB.
    Binary,
    /// Larger than `max_file_bytes` (the size in bytes).
    TooLarge(u64),
    /// Could not be read (vanished, unreadable, not a regular file, outside the root).
    Unreadable(String),
}

thread_local! {
    static READ_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// This thread's buffer to read files into ([`read_into`], [`read_settled_into`]), held
/// until dropped: one per thread, reused from file to file by counting and writing alike,
/// so that reading a large tree neither churns the allocator nor zeroes (or faults in)
/// room for every file.
pub struct ReadBuffer(Vec<u8>);

impl ReadBuffer {
    pub fn take() -> Self {
        Self(READ_BUFFER.take())
    }
}

impl Drop for ReadBuffer {
    fn drop(&mut self) {
        READ_BUFFER.set(std::mem::take(&mut self.0));
    }
}

impl std::ops::Deref for ReadBuffer {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for ReadBuffer {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

/// Bytes inspected for a NUL to call a file binary.
const BINARY_PROBE: usize = 8 * 1024;

/// Read the file at `path` within the limits, into a new `String`.
pub fn read_path(path: &Path, lines: Option<LineRange>, max_bytes: u64) -> FileContent {
    reread(path, lines, max_bytes, None).0
}

/// [`read_path`] for a text first read from a file with `settled` metadata: also says
/// whether the file had exactly that metadata on the open handle both before and after
/// this read. Then it is the same text (git's rule: an edit after a file's timestamps
/// settled changes its change time at least), and the caller need not hash it again.
pub fn reread(
    path: &Path,
    lines: Option<LineRange>,
    max_bytes: u64,
    settled: Option<Stat>,
) -> (FileContent, bool) {
    if let Some(bytes) = settled.and_then(|settled| read_settled(path, settled)) {
        return (decode(bytes, lines), true);
    }
    let mut bytes = Vec::new();
    match load(open(path, false), max_bytes, &mut bytes) {
        Ok((_, length)) => {
            bytes.truncate(length);
            (decode(bytes, lines), false)
        }
        Err(failed) => (failed.into(), false),
    }
}

/// The bytes of a file that still has its `settled` metadata, read in as few system
/// calls as `cat` makes (open, stat, one read, stat, close): it was a regular text file
/// within the limits when first read, so it is opened without a second look and read
/// to its known size. `None` when anything differs (then it is read the long way).
pub fn read_settled(path: &Path, settled: Stat) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    let length = read_settled_into(path, settled, &mut bytes)?;
    bytes.truncate(length);
    Some(bytes)
}

/// [`read_settled`] into the start of `bytes`, a buffer the caller reuses (see
/// [`paths::read_opened_reusing`]): how many there are, if they are the file's bytes,
/// with its `settled` metadata.
pub fn read_settled_into(path: &Path, settled: Stat, bytes: &mut Vec<u8>) -> Option<usize> {
    let (file, before) = paths::open_seen_regular(path).ok()?;
    if Stat::of(&before) != settled {
        return None;
    }
    let length = paths::read_opened_reusing(&file, &before, before.len(), bytes).ok()?;
    let after = file.metadata().ok()?;
    (Stat::of(&after) == settled && length as u64 == before.len()).then_some(length)
}

/// Text from a file's bytes (invalid UTF-8 replaced, and said so), cut to `lines`.
fn decode(bytes: Vec<u8>, lines: Option<LineRange>) -> FileContent {
    let (text, lossy) = match String::from_utf8(bytes) {
        Ok(text) => (text, false),
        Err(error) => (String::from_utf8_lossy(error.as_bytes()).into_owned(), true),
    };
    let text = match lines {
        Some(range) => excerpt(&text, range),
        None => text,
    };
    FileContent::Text { text, lossy }
}

/// [`read_path`] of a file already opened ([`open`], or
/// [`paths::open_listed_regular`]: a regular file, and its metadata on the open handle),
/// or the error opening it; reading into `buffer` (reuse it across files, so that
/// reading a large tree neither churns the allocator nor zeroes room for every file; the
/// text is read into its start) and borrowing the text from it; with the file's metadata
/// as taken on the open handle before reading.
pub fn read_into<'b>(
    opened: std::io::Result<(std::fs::File, std::fs::Metadata)>,
    lines: Option<LineRange>,
    max_bytes: u64,
    buffer: &'b mut Vec<u8>,
) -> (FileContent<Cow<'b, str>>, Option<Stat>) {
    let (before, length) = match load(opened, max_bytes, buffer) {
        Ok(loaded) => loaded,
        Err(failed) => return (failed.into(), None),
    };
    let bytes = &buffer[..length];
    let (text, lossy) = match std::str::from_utf8(bytes) {
        Ok(text) => (Cow::Borrowed(text), false),
        Err(_) => (String::from_utf8_lossy(bytes), true),
    };
    let text = match lines {
        Some(range) => Cow::Owned(excerpt(&text, range)),
        None => text,
    };
    (FileContent::Text { text, lossy }, Some(before))
}

/// Why a file's bytes are not text to inline.
enum NotText {
    Binary,
    TooLarge(u64),
    Unreadable(String),
}

impl<T> From<NotText> for FileContent<T> {
    fn from(not_text: NotText) -> Self {
        match not_text {
            NotText::Binary => Self::Binary,
            NotText::TooLarge(size) => Self::TooLarge(size),
            NotText::Unreadable(why) => Self::Unreadable(why),
        }
    }
}

/// Open a regular file for reading, with its metadata on the open handle. `seen_regular`:
/// the caller's own `stat` has just said it is a regular file, so it is opened without a
/// second look (the type is still checked on the open handle, and the open cannot block).
pub fn open(
    path: &Path,
    seen_regular: bool,
) -> std::io::Result<(std::fs::File, std::fs::Metadata)> {
    match seen_regular {
        true => paths::open_seen_regular(path),
        false => paths::open_regular(path),
    }
}

/// The bytes of a regular file within the limits, into the start of `bytes` (see
/// [`paths::read_opened_reusing`]), their number, and the file's metadata on the open
/// handle before the read; or why not.
fn load(
    opened: std::io::Result<(std::fs::File, std::fs::Metadata)>,
    max_bytes: u64,
    bytes: &mut Vec<u8>,
) -> Result<(Stat, usize), NotText> {
    let (file, metadata) = opened.map_err(|error| NotText::Unreadable(error.to_string()))?;
    if metadata.len() > max_bytes {
        return Err(NotText::TooLarge(metadata.len()));
    }
    // Up to the size the open handle reported, in one `read` (a file that grows meanwhile
    // is read as it was, and its new metadata then tells the writer to look again); a
    // file that reports a size of 0 (some special files) one byte past the limit, so
    // that it is still capped.
    let length = paths::read_opened_reusing(&file, &metadata, max_bytes.saturating_add(1), bytes)
        .map_err(|error| NotText::Unreadable(error.to_string()))?;
    if length as u64 > max_bytes {
        return Err(NotText::TooLarge(length as u64));
    }
    if bytes[..length.min(BINARY_PROBE)].contains(&0) {
        return Err(NotText::Binary);
    }
    Ok((Stat::of(&metadata), length))
}

/// Lines `start..=end` (1-based), each with its line ending.
pub fn excerpt(text: &str, range: LineRange) -> String {
    text.split_inclusive('\n')
        .skip(range.start.saturating_sub(1))
        .take(range.end + 1 - range.start)
        .collect()
}

/// Markdown fence for `text`: backticks, one more than the longest run inside (≥ 3).
pub fn fence(text: &str) -> String {
    "`".repeat((longest_backtick_run(text) + 1).max(3))
}

/// The length of the longest run of backticks in `text` (fences and code spans must be
/// longer).
pub fn longest_backtick_run(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut longest = 0;
    let mut rest = 0;
    while let Some(found) = memchr::memchr(b'`', &bytes[rest..]) {
        let start = rest + found;
        let run = bytes[start..]
            .iter()
            .take_while(|&&byte| byte == b'`')
            .count();
        longest = longest.max(run);
        rest = start + run;
    }
    longest
}

/// The fenced-code language for a file name, by extension; `text` when none is known (a
/// fence always names one, which also lets the bundle's count frame the content, see
/// `measure::framed`).
pub fn language(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let extension = name.rsplit_once('.').map_or("", |(_, extension)| extension);
    match extension.to_ascii_lowercase().as_str() {
        "py" => "python",
        "rs" => "rust",
        "go" => "go",
        "js" | "mjs" | "cjs" => "javascript",
        "ts" | "mts" | "cts" => "typescript",
        "tsx" => "tsx",
        "jsx" => "jsx",
        "java" => "java",
        "kt" | "kts" => "kotlin",
        "rb" => "ruby",
        "php" => "php",
        "c" | "h" => "c",
        "cc" | "cpp" | "cxx" | "hpp" | "hh" => "cpp",
        "cs" => "csharp",
        "swift" => "swift",
        "scala" => "scala",
        "sh" | "bash" => "bash",
        "sql" => "sql",
        "yaml" | "yml" => "yaml",
        "toml" => "toml",
        "json" => "json",
        "md" | "markdown" => "markdown",
        "html" | "htm" => "html",
        "css" => "css",
        "proto" => "protobuf",
        "tf" => "hcl",
        "dockerfile" => "dockerfile",
        _ if name.eq_ignore_ascii_case("dockerfile") => "dockerfile",
        _ if name.eq_ignore_ascii_case("makefile") => "makefile",
        _ => "text",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file that holds more than its metadata said when it was checked (here a /proc
    /// file, whose size reads as 0) is still capped: read at most one byte past the limit.
    #[test]
    fn a_file_growing_between_stat_and_read_is_capped() {
        let path = Path::new("/proc/self/status");
        assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
        assert_eq!(read_path(path, None, 100), FileContent::TooLarge(101));
        assert!(matches!(
            read_path(path, None, 1 << 20),
            FileContent::Text { .. }
        ));
    }

    #[test]
    fn fences_outgrow_backtick_runs() {
        assert_eq!(fence("plain"), "```");
        assert_eq!(fence("has ``` inside"), "````");
        assert_eq!(fence("has ````` inside"), "``````");
    }

    #[test]
    fn excerpts_are_inclusive_and_one_based() {
        assert_eq!(
            excerpt("a\nb\nc\nd\n", LineRange { start: 2, end: 3 }),
            "b\nc\n"
        );
        assert_eq!(excerpt("a\nb", LineRange { start: 2, end: 2 }), "b");
    }

    /// A read is "unchanged" only when the file still has the exact metadata the text was
    /// first read under: any edit, even one that restores the modification time, changes
    /// the change time.
    #[test]
    fn a_reread_is_unchanged_only_with_the_same_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.rs");
        std::fs::write(&path, "fn a() {}\n").unwrap();
        let settled = Stat::of(&std::fs::metadata(&path).unwrap());
        let text = |(content, _): &(FileContent, bool)| match content {
            FileContent::Text { text, .. } => text.clone(),
            other => panic!("{other:?}"),
        };
        let same = reread(&path, None, 1000, Some(settled));
        assert_eq!((text(&same).as_str(), same.1), ("fn a() {}\n", true));
        assert!(
            !reread(&path, None, 1000, None).1,
            "nothing to compare with"
        );
        // Same size, modification time put back: the change time still moved on (on file
        // systems with fine timestamps, as here; the two-second rule covers coarse ones).
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, "fn b() {}\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        let edited = reread(&path, None, 1000, Some(settled));
        assert_eq!((text(&edited).as_str(), edited.1), ("fn b() {}\n", false));
    }

    #[test]
    fn binary_large_and_lossy_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("bin"), b"abc\0def").unwrap();
        std::fs::write(root.join("big"), vec![b'x'; 100]).unwrap();
        std::fs::write(root.join("latin1"), b"caf\xe9\n").unwrap();
        let read = |name: &str, max: u64| read_path(&root.join(name), None, max);
        assert_eq!(read("bin", 1000), FileContent::Binary);
        assert_eq!(read("big", 99), FileContent::TooLarge(100));
        let lossy = FileContent::Text {
            text: String::from("caf\u{fffd}\n"),
            lossy: true,
        };
        assert_eq!(read("latin1", 1000), lossy);
        assert!(matches!(read("gone", 1000), FileContent::Unreadable(_)));
        // Reading into a reused buffer gives the same, borrowing where it can.
        let mut buffer = b"left over from another file".to_vec();
        let opened = open(&root.join("latin1"), true);
        let (borrowed, _) = read_into(opened, None, 1000, &mut buffer);
        assert_eq!(
            borrowed,
            FileContent::Text {
                text: std::borrow::Cow::Borrowed("caf\u{fffd}\n"),
                lossy: true
            }
        );
        std::fs::write(root.join("plain"), "plain\n").unwrap();
        let excerpt = Some(LineRange { start: 1, end: 1 });
        assert!(matches!(
            read_into(open(&root.join("plain"), false), excerpt, 1000, &mut buffer),
            (FileContent::Text { text, lossy: false }, Some(_)) if text == "plain\n"
        ));
    }
}
