//! Reading the files that patterns and examples reference, safely: every path goes
//! through the one [`Resolver`] (never outside the root, symlinks checked); only regular
//! files are opened (FIFOs and devices never); files over `max_file_bytes` (by metadata)
//! and binary files (a NUL in the first 8 KiB) are listed, not inlined; non-UTF-8 text
//! is decoded lossily with a note; `lines` excerpts are cut here.

use std::io::Read;
use std::path::Path;

use crate::config::workspace::LineRange;
use crate::paths::{self, Resolver};

/// What reading a referenced file produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileContent {
    /// UTF-8 text (possibly an excerpt); `lossy` when invalid UTF-8 was replaced.
    Text { text: String, lossy: bool },
    /// A NUL byte in the first 8 KiB.
    Binary,
    /// Larger than `max_file_bytes` (the size in bytes).
    TooLarge(u64),
    /// Could not be read (vanished, unreadable, not a regular file, outside the root).
    Unreadable(String),
}

/// Bytes inspected for a NUL to call a file binary.
const BINARY_PROBE: usize = 8 * 1024;

/// Read `relative` (a root-relative path) within the limits.
pub fn read(
    resolver: &Resolver,
    relative: &str,
    lines: Option<LineRange>,
    max_bytes: u64,
) -> FileContent {
    let path = match resolver.resolve(relative) {
        Ok(path) => path,
        Err(error) => return FileContent::Unreadable(format!("`{relative}` {error}")),
    };
    read_path(&path, lines, max_bytes)
}

pub fn read_path(path: &Path, lines: Option<LineRange>, max_bytes: u64) -> FileContent {
    let (file, metadata) = match paths::open_regular(path) {
        Ok(opened) => opened,
        Err(error) => return FileContent::Unreadable(error.to_string()),
    };
    if metadata.len() > max_bytes {
        return FileContent::TooLarge(metadata.len());
    }
    // Read one byte past the limit: a file that grew since `stat` is still capped.
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    if let Err(error) = file
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
    {
        return FileContent::Unreadable(error.to_string());
    }
    if bytes.len() as u64 > max_bytes {
        return FileContent::TooLarge(bytes.len() as u64);
    }
    if bytes[..bytes.len().min(BINARY_PROBE)].contains(&0) {
        return FileContent::Binary;
    }
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

/// The fenced-code language for a file name, by extension.
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
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn binary_large_and_lossy_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("bin"), b"abc\0def").unwrap();
        std::fs::write(root.join("big"), vec![b'x'; 100]).unwrap();
        std::fs::write(root.join("latin1"), b"caf\xe9\n").unwrap();
        let resolver = Resolver::new(&root);
        assert_eq!(read(&resolver, "bin", None, 1000), FileContent::Binary);
        assert_eq!(read(&resolver, "big", None, 99), FileContent::TooLarge(100));
        assert_eq!(
            read(&resolver, "latin1", None, 1000),
            FileContent::Text {
                text: String::from("caf\u{fffd}\n"),
                lossy: true
            }
        );
        assert!(matches!(
            read(&resolver, "gone", None, 1000),
            FileContent::Unreadable(_)
        ));
    }
}
