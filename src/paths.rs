//! The one place that turns a config path into a file on disk.
//!
//! Config paths are relative to the workspace root, use `/`, and never leave the root:
//! absolute paths, `~`, backslashes and `..` that climbs out are refused by syntax;
//! symlinks are resolved and refused when they lead outside the root (or loop); `.git`
//! folders (and look-alikes such as `.GIT`) are never read. Reads are capped and only
//! ever open regular files, so a FIFO or a device can never block a run.

use rustc_hash::FxHashMap as HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use globset::{GlobBuilder, GlobMatcher};

/// Why a config path cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("is empty")]
    Empty,
    #[error("is absolute")]
    Absolute,
    #[error("starts with `~`")]
    Home,
    #[error("contains a backslash")]
    Backslash,
    #[error("leaves the workspace root through `..`")]
    Escapes,
    #[error("is inside a `.git` folder")]
    GitDir,
    #[error("is a symlink that leads outside the workspace root (to `{0}`)")]
    OutsideRoot(String),
    #[error("is a symlink loop")]
    Loop,
    #[error("does not exist")]
    NotFound,
    #[error("cannot be read: {0}")]
    Io(String),
    #[error("is not a valid glob: {0}")]
    BadGlob(String),
}

impl PathError {
    /// How to fix it.
    pub fn help(&self) -> String {
        String::from(match self {
            Self::Empty => "write a path relative to the workspace root",
            Self::Absolute | Self::Home => {
                "write the path relative to the workspace root, e.g. `src/auth/jwt.py`"
            }
            Self::Backslash => "use `/` as the path separator",
            Self::Escapes => {
                "config paths must stay inside the workspace root; move the file into it"
            }
            Self::GitDir => "`.git` is never read; point at the files in the working tree instead",
            Self::OutsideRoot(_) => {
                "copy the file into the workspace, or make the symlink point inside it"
            }
            Self::Loop => "fix or remove the symlink",
            Self::NotFound => {
                "create the file, or fix the path (it is relative to the workspace root)"
            }
            Self::Io(_) => "check the file's permissions",
            Self::BadGlob(_) => "use `*`, `**`, `?`, `[abc]` and `{a,b}` in globs",
        })
    }
}

/// Check a config path's syntax without touching the disk.
pub fn check_syntax(path: &str) -> Result<(), PathError> {
    if path.trim().is_empty() {
        return Err(PathError::Empty);
    }
    if path.starts_with('~') {
        return Err(PathError::Home);
    }
    if path.contains('\\') {
        return Err(PathError::Backslash);
    }
    let bytes = path.as_bytes();
    if path.starts_with('/')
        || (bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic())
    {
        return Err(PathError::Absolute);
    }
    let mut depth: usize = 0;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => depth = depth.checked_sub(1).ok_or(PathError::Escapes)?,
            part if part.eq_ignore_ascii_case(".git") => return Err(PathError::GitDir),
            _ => depth += 1,
        }
    }
    Ok(())
}

/// The lexical form of a checked config path: `/`-separated, without empty or `.` parts,
/// each `..` applied to the part before it.
fn normalize(relative: &str) -> String {
    let mut lexical = String::with_capacity(relative.len());
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => lexical.truncate(lexical.rfind('/').unwrap_or(0)),
            part => {
                if !lexical.is_empty() {
                    lexical.push('/');
                }
                lexical.push_str(part);
            }
        }
    }
    lexical
}

/// Whether a config path is a glob rather than a literal path.
pub fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '[', '{'])
}

/// Resolves config paths against one workspace root, caching what it learns.
///
/// Canonical folders are cached (so `canonicalize` is not redone, with its `readlink`
/// per component, for every file), and globs are matched against one gitignore-aware
/// index of the root's files, built on first use.
#[derive(Debug)]
pub struct Resolver {
    root: PathBuf,
    /// Canonical folders by their root-relative form.
    folders: Mutex<HashMap<String, Result<PathBuf, PathError>>>,
    index: OnceLock<Vec<IndexEntry>>,
    matchers: Mutex<HashMap<String, Result<Glob, PathError>>>,
}

impl Resolver {
    /// `root` must be canonical.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            folders: Mutex::new(HashMap::default()),
            index: OnceLock::new(),
            matchers: Mutex::new(HashMap::default()),
        }
    }

    /// Resolve a literal config path to an existing file or folder inside the root.
    /// Symlinks are followed and must stay inside the root.
    pub fn resolve(&self, relative: &str) -> Result<PathBuf, PathError> {
        self.resolve_kind(relative).map(|(path, _)| path)
    }

    /// [`Resolver::resolve`], also saying whether the target is a folder.
    pub fn resolve_kind(&self, relative: &str) -> Result<(PathBuf, bool), PathError> {
        check_syntax(relative)?;
        if let Some((path, kind)) = self.indexed(&normalize(relative)) {
            return Ok((path, kind == Indexed::Folder));
        }
        self.resolve_metadata(relative)
            .map(|(path, metadata)| (path, metadata.is_none_or(|metadata| metadata.is_dir())))
    }

    /// The canonical path of `relative` if the index (once built) lists it as a plain
    /// file: seen to be a regular file inside the root when the tree was walked, so
    /// nothing needs to be looked up again to use it.
    pub fn indexed_file(&self, relative: &str) -> Option<PathBuf> {
        check_syntax(relative).ok()?;
        match self.indexed(&normalize(relative))? {
            (path, Indexed::File) => Some(path),
            (_, Indexed::Folder) => None,
        }
    }

    /// What the index, if it is built, says about a normalized path, without asking the
    /// file system. The walk neither follows symlinks nor enters `.git`, so a path it
    /// listed, or a folder it listed files below, lies inside the root with no symlink on
    /// the way: the root joined with it is canonical. Anything else (not indexed yet,
    /// ignored, hidden, a symlink, a missing path) is for the caller to look up.
    fn indexed(&self, lexical: &str) -> Option<(PathBuf, Indexed)> {
        let index = self.index.get()?;
        if lexical.is_empty() {
            return None;
        }
        let kind = match index.binary_search_by(|entry| entry.path.as_str().cmp(lexical)) {
            Ok(at) => (!index[at].is_symlink).then_some(Indexed::File)?,
            Err(_) => {
                let prefix = format!("{lexical}/");
                let at = index.partition_point(|entry| entry.path < prefix);
                let below = index.get(at)?.path.starts_with(&prefix);
                below.then_some(Indexed::Folder)?
            }
        };
        Some((self.root.join(lexical), kind))
    }

    /// [`Resolver::resolve`], with the target's metadata (`None` for the root itself).
    pub fn resolve_metadata(
        &self,
        relative: &str,
    ) -> Result<(PathBuf, Option<std::fs::Metadata>), PathError> {
        check_syntax(relative)?;
        let lexical = normalize(relative);
        if lexical.is_empty() {
            return self.inside(self.root.clone()).map(|path| (path, None));
        }
        let joined = self.root.join(&lexical);
        let metadata = match std::fs::symlink_metadata(&joined) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(PathError::NotFound);
            }
            Err(error) => return Err(PathError::Io(error.to_string())),
            Ok(metadata) => metadata,
        };
        let (canonical, target) = if metadata.file_type().is_symlink() {
            let resolved = canonicalize(&joined)?;
            let target =
                std::fs::metadata(&resolved).map_err(|error| PathError::Io(error.to_string()))?;
            (resolved, target)
        } else if let Some((path, _)) = self.indexed(&lexical) {
            // Not a symlink now, and none on the way when the tree was walked.
            (path, metadata)
        } else {
            let (parent, name) = lexical.rsplit_once('/').unwrap_or(("", &lexical));
            (self.folder(parent)?.join(name), metadata)
        };
        self.inside(canonical).map(|path| (path, Some(target)))
    }

    /// The canonical form of a folder given relative to the root (`""`: the root
    /// itself), cached by that relative form.
    fn folder(&self, relative: &str) -> Result<PathBuf, PathError> {
        if relative.is_empty() {
            return Ok(self.root.clone());
        }
        if let Some(known) = self
            .folders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(relative)
        {
            return known.clone();
        }
        let absolute = self.root.join(relative);
        let resolved = match std::fs::symlink_metadata(&absolute) {
            Ok(metadata) if metadata.file_type().is_symlink() => canonicalize(&absolute),
            Ok(_) => {
                let (parent, name) = relative.rsplit_once('/').unwrap_or(("", relative));
                self.folder(parent).map(|parent| parent.join(name))
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Err(PathError::NotFound),
            Err(error) => Err(PathError::Io(error.to_string())),
        };
        self.folders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(relative.to_owned(), resolved.clone());
        resolved
    }

    /// `canonical`, if it is inside the root and outside any `.git` folder. (Compared as
    /// bytes, a component at a time: `/ws2` is not inside `/ws`.)
    fn inside(&self, canonical: PathBuf) -> Result<PathBuf, PathError> {
        use std::os::unix::ffi::OsStrExt;
        let root = self.root.as_os_str().as_bytes();
        let rest = match canonical.as_os_str().as_bytes().strip_prefix(root) {
            Some(rest) if rest.is_empty() || rest[0] == b'/' || root.ends_with(b"/") => rest,
            _ => return Err(PathError::OutsideRoot(canonical.display().to_string())),
        };
        if rest
            .split(|&byte| byte == b'/')
            .any(|part| part.eq_ignore_ascii_case(b".git"))
        {
            return Err(PathError::GitDir);
        }
        Ok(canonical)
    }

    /// Every file under the root (gitignore-aware, hidden entries and `.git` skipped),
    /// sorted by root-relative path. Built once.
    pub fn index(&self) -> &[IndexEntry] {
        self.index.get_or_init(|| {
            let mut entries = walk(&self.root, |path, is_symlink| IndexEntry {
                path: relative_display(&self.root, &path),
                is_symlink,
            });
            entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
            entries
        })
    }

    /// Index entries under `folder` (root-relative, `/`-separated).
    pub fn files_under(&self, folder: &str) -> &[IndexEntry] {
        let index = self.index();
        let folder = folder.trim_end_matches('/');
        if folder.is_empty() || folder == "." {
            return index;
        }
        let prefix = format!("{folder}/");
        let start = index.partition_point(|entry| entry.path.as_str() < prefix.as_str());
        let end = start + index[start..].partition_point(|entry| entry.path.starts_with(&prefix));
        &index[start..end]
    }

    /// Index entries a glob could match: those below its literal prefix.
    fn glob_candidates(&self, pattern: &str) -> Result<(&[IndexEntry], Option<Glob>), PathError> {
        check_syntax(pattern)?;
        let pattern = pattern.trim_start_matches("./");
        let parts: Vec<&str> = pattern.split('/').collect();
        let literal: Vec<&str> = parts[..parts.len() - 1]
            .iter()
            .take_while(|part| !is_glob(part))
            .copied()
            .collect();
        let candidates = self.files_under(&literal.join("/"));
        // `prefix/**` (the usual owned-code glob) matches everything below the prefix.
        let everything = parts.len() == literal.len() + 1 && parts[parts.len() - 1] == "**";
        let glob = if everything {
            None
        } else {
            Some(self.matcher(pattern)?)
        };
        Ok((candidates, glob))
    }

    /// Whether a glob matches any file (without resolving symlinks: for owned paths).
    pub fn glob_matches_any(&self, pattern: &str) -> Result<bool, PathError> {
        let (candidates, glob) = self.glob_candidates(pattern)?;
        Ok(candidates
            .iter()
            .any(|entry| glob.as_ref().is_none_or(|glob| glob.is_match(&entry.path))))
    }

    /// Expand a glob into the matching files, as sorted root-relative paths. Matches
    /// whose symlinks lead outside the root are returned as errors.
    pub fn expand_glob(&self, pattern: &str) -> Result<Vec<GlobMatch>, PathError> {
        let (candidates, glob) = self.glob_candidates(pattern)?;
        Ok(candidates
            .iter()
            .filter(|entry| glob.as_ref().is_none_or(|glob| glob.is_match(&entry.path)))
            // The walk never follows symlinks, so only a symlink entry can lead outside.
            .map(|entry| match entry.is_symlink {
                false => Ok(entry.path.clone()),
                true => self
                    .resolve(&entry.path)
                    .map(|_| entry.path.clone())
                    .map_err(|error| (entry.path.clone(), error)),
            })
            .collect())
    }
}

/// What [`Resolver::indexed`] found a path to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Indexed {
    File,
    Folder,
}

/// A file found by the index walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Root-relative, `/`-separated.
    pub path: String,
    /// The entry itself is a symlink (its target is checked before use).
    pub is_symlink: bool,
}

impl Resolver {
    /// A compiled glob, cached: the same glob often appears in many documents.
    pub fn matcher(&self, pattern: &str) -> Result<Glob, PathError> {
        if let Some(known) = self
            .matchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(pattern)
        {
            return known.clone();
        }
        let compiled = Glob::new(pattern);
        self.matchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(pattern.to_owned(), compiled.clone());
        compiled
    }
}

fn canonicalize(path: &Path) -> Result<PathBuf, PathError> {
    path.canonicalize()
        .map_err(|error| match error.raw_os_error() {
            Some(40) => PathError::Loop, // ELOOP
            _ if error.kind() == io::ErrorKind::NotFound => {
                PathError::OutsideRoot(String::from("a missing target"))
            }
            _ => PathError::Io(error.to_string()),
        })
}

/// One file a glob matched: its root-relative path, or why it cannot be used.
pub type GlobMatch = Result<String, (String, PathError)>;

/// Files under `dir`, in no particular order, skipping hidden entries, `.git` and what
/// `.gitignore` excludes, each with whether it is a symlink. Symlinks are listed, not
/// followed; callers resolve them with [`Resolver::resolve`].
pub fn walk_files(dir: &Path) -> Vec<(PathBuf, bool)> {
    walk(dir, |path, is_symlink| (path, is_symlink))
}

/// The walk behind [`walk_files`] and the index: files and symlinks, with a flag saying
/// which is which, in no particular order.
///
/// The `ignore` crate's parallel walker, on one thread: unlike its sequential walker it
/// learns which ignore files a folder has from the folder's own listing instead of
/// probing for `.git`, `.git/info/exclude` and `.gitignore` in every folder, which made
/// the walk of a 12,000-file tree take half again as long. (More threads would only
/// compete with the config parsing the walk runs beside.)
fn walk<T: Send>(dir: &Path, each: impl Fn(PathBuf, bool) -> T + Sync) -> Vec<T> {
    /// One walker thread's finds, handed over when the walker drops its visitor.
    struct Finds<'a, T> {
        found: Vec<T>,
        all: &'a Mutex<Vec<T>>,
    }
    impl<T> Drop for Finds<'_, T> {
        fn drop(&mut self) {
            let mut all = self.all.lock().unwrap_or_else(PoisonError::into_inner);
            all.append(&mut self.found);
        }
    }

    let all = Mutex::new(Vec::new());
    ignore::WalkBuilder::new(dir)
        .hidden(true)
        // Git's rules only (`.gitignore`, `.git/info/exclude`), not ripgrep's `.ignore`.
        .ignore(false)
        .git_ignore(true)
        .git_exclude(true)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|entry| !entry.file_name().eq_ignore_ascii_case(".git"))
        .threads(1)
        .build_parallel()
        .run(|| {
            let mut finds = Finds {
                found: Vec::new(),
                all: &all,
            };
            let each = &each;
            Box::new(move |entry: Result<ignore::DirEntry, ignore::Error>| {
                if let Ok(entry) = entry
                    && let Some(kind) = entry.file_type()
                    && (kind.is_file() || kind.is_symlink())
                {
                    finds.found.push(each(entry.into_path(), kind.is_symlink()));
                }
                ignore::WalkState::Continue
            })
        });
    all.into_inner().unwrap_or_else(PoisonError::into_inner)
}

/// A compiled glob: `*` stays within one folder, `**` crosses folders.
///
/// Globs made only of `*`, `?` and `**` (nearly all of them in practice) are matched
/// segment by segment without a regex, which matters when a workspace has thousands of
/// distinct globs; anything richer (`[abc]`, `{a,b}`, escapes) goes to globset.
#[derive(Debug, Clone)]
pub enum Glob {
    Segments(Vec<String>),
    Full(GlobMatcher),
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Self, PathError> {
        let pattern = pattern.trim_start_matches("./");
        if pattern.contains(['[', '{', '\\']) {
            return glob_matcher(pattern).map(Self::Full);
        }
        let segments: Vec<String> = pattern.split('/').map(str::to_owned).collect();
        // globset's rules for `**` inside a segment (`a**b`): defer to it.
        if segments
            .iter()
            .any(|segment| segment.contains("**") && segment != "**")
        {
            return glob_matcher(pattern).map(Self::Full);
        }
        Ok(Self::Segments(segments))
    }

    /// Whether a root-relative, `/`-separated path matches.
    pub fn is_match(&self, path: &str) -> bool {
        match self {
            Self::Full(matcher) => matcher.is_match(path),
            Self::Segments(segments) => {
                // Split on the stack: this runs for every candidate file of every glob.
                let mut parts = [""; 64];
                let mut count = 0;
                for part in path.split('/') {
                    let Some(slot) = parts.get_mut(count) else {
                        let parts: Vec<&str> = path.split('/').collect();
                        return match_segments(segments, &parts);
                    };
                    *slot = part;
                    count += 1;
                }
                match_segments(segments, &parts[..count])
            }
        }
    }
}

fn match_segments(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            // `**` matches zero or more whole segments; a trailing `**` needs at least one.
            match rest {
                [] => !path.is_empty(),
                // `**/*.rs`, the usual tail: only the last segment can match `*.rs`.
                [last] if last != "**" => path
                    .last()
                    .is_some_and(|name| wildcard(last.as_bytes(), name.as_bytes())),
                _ => (0..=path.len()).any(|skip| match_segments(rest, &path[skip..])),
            }
        }
        Some((first, rest)) => match path.split_first() {
            Some((name, remaining)) => {
                wildcard(first.as_bytes(), name.as_bytes()) && match_segments(rest, remaining)
            }
            None => false,
        },
    }
}

/// `*` and `?` within one segment (iterative, linear backtracking).
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            // `?` is one character; step over a whole UTF-8 sequence.
            if pattern[p] == b'?' {
                t += utf8_width(text[t]);
            } else {
                t += 1;
            }
            p += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + utf8_width(text[star_t]);
            star = Some((star_p, t));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&byte| byte == b'*')
}

fn utf8_width(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// A glob matcher where `*` stays within one folder and `**` crosses folders.
pub fn glob_matcher(pattern: &str) -> Result<GlobMatcher, PathError> {
    GlobBuilder::new(pattern.trim_start_matches("./"))
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|glob| glob.compile_matcher())
        .map_err(|error| PathError::BadGlob(error.kind().to_string()))
}

/// `path` relative to `root` with `/` separators (falls back to the full path).
pub fn relative_display(root: &Path, path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    // The common case, a path the walk built below the root: already in that form.
    let clean = |rest: &[u8]| {
        !rest.is_empty()
            && rest
                .split(|&byte| byte == b'/')
                .all(|part| !part.is_empty() && part != b".")
    };
    if let Some(rest) = path
        .as_os_str()
        .as_bytes()
        .strip_prefix(root.as_os_str().as_bytes())
        .and_then(|rest| rest.strip_prefix(b"/"))
        && clean(rest)
    {
        return String::from_utf8_lossy(rest).into_owned();
    }
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Read at most `cap` bytes from a file opened by [`open_regular`] or [`open_seen_regular`].
pub fn read_opened(
    file: &std::fs::File,
    metadata: &std::fs::Metadata,
    cap: u64,
) -> io::Result<Vec<u8>> {
    // Up to the size the open handle reported (a file that grows meanwhile is read as it
    // was): once that much is in, no further `read` is made to look for more. A size of 0
    // may not be the truth (some special files), so then up to the cap.
    let limit = match metadata.len() {
        0 => cap,
        size => size.min(cap),
    };
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len().min(cap)).unwrap_or(0));
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Open a regular file for reading, with its metadata taken on the open handle.
/// Anything else (FIFO, socket, device, folder) is refused without being opened.
pub fn open_regular(path: &Path) -> io::Result<(std::fs::File, std::fs::Metadata)> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    open_seen_regular(path)
}

/// [`open_regular`] for a path the caller has just seen to be a regular file (its own
/// `stat` said so): opens without looking again. The type is still checked on the open
/// handle, and the open cannot block.
pub fn open_seen_regular(path: &Path) -> io::Result<(std::fs::File, std::fs::Metadata)> {
    // O_NONBLOCK: if a FIFO was swapped in after the caller's check, opening it must not
    // block; the type is checked again on the open handle.
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
            .open(path)?
    };
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (it changed while being opened)",
        ));
    }
    Ok((file, metadata))
}

/// Why a path that is not a regular file is not read.
pub fn not_regular() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "not a regular file (FIFOs, sockets and devices are never opened)",
    )
}

/// Number of lines (a last line without `\n` counts) in a file the caller has just seen
/// to be a regular file ([`open_seen_regular`]), reading at most `cap` bytes.
pub fn count_lines(path: &Path, cap: u64) -> io::Result<usize> {
    let (file, metadata) = open_seen_regular(path)?;
    let bytes = read_opened(&file, &metadata, cap)?;
    let newlines = memchr::memchr_iter(b'\n', &bytes).count();
    Ok(newlines + usize::from(bytes.last().is_some_and(|&byte| byte != b'\n')))
}

/// `path` relative to the workspace root (`/`-separated), when it lies inside it.
pub fn relative_to_root(root: &std::path::Path, path: &std::path::Path) -> Option<String> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let folder = absolute.parent()?.canonicalize().ok()?;
    let full = folder.join(absolute.file_name()?);
    full.strip_prefix(root)
        .ok()
        .map(|relative| relative_display(root, &root.join(relative)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn syntax_rules() {
        assert_eq!(check_syntax("../x"), Err(PathError::Escapes));
        assert_eq!(check_syntax("a/../../x"), Err(PathError::Escapes));
        assert_eq!(check_syntax("a/../b"), Ok(()));
        assert_eq!(check_syntax("/etc/passwd"), Err(PathError::Absolute));
        assert_eq!(check_syntax("C:/x"), Err(PathError::Absolute));
        assert_eq!(check_syntax("~/x"), Err(PathError::Home));
        assert_eq!(check_syntax("a\\b"), Err(PathError::Backslash));
        assert_eq!(check_syntax("x/.GIT/config"), Err(PathError::GitDir));
        assert_eq!(check_syntax(""), Err(PathError::Empty));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_outside_the_root_and_loops_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "x").unwrap();
        let root = tempfile::tempdir().unwrap();
        let root_path = root.path().canonicalize().unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root_path.join("link")).unwrap();
        std::os::unix::fs::symlink(root_path.join("loop"), root_path.join("loop")).unwrap();
        std::fs::write(root_path.join("inside.txt"), "x").unwrap();
        std::os::unix::fs::symlink(root_path.join("inside.txt"), root_path.join("ok")).unwrap();
        let resolver = Resolver::new(&root_path);
        assert!(matches!(
            resolver.resolve("link"),
            Err(PathError::OutsideRoot(_))
        ));
        assert_eq!(resolver.resolve("loop"), Err(PathError::Loop));
        assert!(resolver.resolve("ok").is_ok());
        assert!(resolver.resolve("./x/../ok").is_ok());
        assert_eq!(resolver.resolve("nope"), Err(PathError::NotFound));
    }

    /// A folder symlink part way along a path is followed too: to a sibling whose name
    /// merely starts with the root's (`ws` and `ws2`), or into `.git`, it is refused.
    #[cfg(unix)]
    #[test]
    fn folder_symlinks_along_a_path_are_checked() {
        let parent = tempfile::tempdir().unwrap();
        let parent_path = parent.path().canonicalize().unwrap();
        let root_path = parent_path.join("ws");
        let sibling = parent_path.join("ws2");
        std::fs::create_dir_all(root_path.join(".git")).unwrap();
        std::fs::create_dir_all(root_path.join("real/deep")).unwrap();
        std::fs::create_dir_all(&sibling).unwrap();
        std::fs::write(sibling.join("secret"), "x").unwrap();
        std::fs::write(root_path.join(".git/config"), "x").unwrap();
        std::fs::write(root_path.join("real/deep/ok.txt"), "x").unwrap();
        std::os::unix::fs::symlink(&sibling, root_path.join("out")).unwrap();
        std::os::unix::fs::symlink(root_path.join(".git"), root_path.join("git")).unwrap();
        std::os::unix::fs::symlink(root_path.join("real"), root_path.join("alias")).unwrap();
        let resolver = Resolver::new(&root_path);
        assert!(matches!(
            resolver.resolve("out/secret"),
            Err(PathError::OutsideRoot(_))
        ));
        assert_eq!(resolver.resolve("git/config"), Err(PathError::GitDir));
        assert_eq!(
            resolver.resolve("alias/deep/ok.txt"),
            Ok(root_path.join("real/deep/ok.txt"))
        );
        assert_eq!(
            resolver.resolve("alias/deep/../deep/ok.txt"),
            Ok(root_path.join("real/deep/ok.txt"))
        );
    }

    /// Once the index is built, paths it lists are resolved from it without looking at
    /// the disk; every answer must be the one the disk gives.
    #[cfg(unix)]
    #[test]
    fn resolution_is_the_same_with_the_index_built() {
        let parent = tempfile::tempdir().unwrap();
        let parent_path = parent.path().canonicalize().unwrap();
        let root_path = parent_path.join("ws");
        for folder in ["src/deep", "src-x", "empty", ".hidden", "ignored", ".git"] {
            std::fs::create_dir_all(root_path.join(folder)).unwrap();
        }
        for file in [
            "src/a.py",
            "src/deep/b.py",
            "src-x/c.py",
            "src.txt",
            ".hidden/h.txt",
            "ignored/i.txt",
            ".git/config",
        ] {
            std::fs::write(root_path.join(file), "x\n").unwrap();
        }
        std::fs::write(root_path.join(".gitignore"), "ignored/\n").unwrap();
        std::fs::write(parent_path.join("outside.txt"), "x").unwrap();
        std::os::unix::fs::symlink(root_path.join("src/a.py"), root_path.join("link.py")).unwrap();
        std::os::unix::fs::symlink(parent_path.join("outside.txt"), root_path.join("out.txt"))
            .unwrap();
        std::os::unix::fs::symlink(root_path.join("src"), root_path.join("alias")).unwrap();
        let paths = [
            "src/a.py",
            "./src/../src/a.py",
            "src/deep/b.py",
            "src",
            "src/",
            "src/deep",
            "src-x/c.py",
            "src.txt",
            "empty",
            ".hidden/h.txt",
            "ignored/i.txt",
            "ignored",
            "link.py",
            "out.txt",
            "alias/deep/b.py",
            "alias",
            "missing.py",
            "src/missing",
            "git/config",
            ".",
        ];
        let kinds = |resolver: &Resolver| -> Vec<Result<(PathBuf, bool), PathError>> {
            paths
                .iter()
                .map(|path| resolver.resolve_kind(path))
                .collect()
        };
        let metadata = |resolver: &Resolver| -> Vec<Result<(PathBuf, bool), PathError>> {
            paths
                .iter()
                .map(|path| {
                    resolver.resolve_metadata(path).map(|(resolved, metadata)| {
                        (
                            resolved,
                            metadata.is_some_and(|metadata| metadata.is_file()),
                        )
                    })
                })
                .collect()
        };
        let from_disk = Resolver::new(&root_path);
        let (disk_kinds, disk_metadata) = (kinds(&from_disk), metadata(&from_disk));
        let indexed = Resolver::new(&root_path);
        assert!(!indexed.index().is_empty());
        assert_eq!(kinds(&indexed), disk_kinds);
        assert_eq!(metadata(&indexed), disk_metadata);
        assert_eq!(disk_kinds[0], Ok((root_path.join("src/a.py"), false)));
        assert_eq!(disk_kinds[3], Ok((root_path.join("src"), true)));
        // Only plain, visible, unignored files are vouched for by the index.
        let vouched: Vec<&str> = paths
            .iter()
            .copied()
            .filter(|path| indexed.indexed_file(path).is_some())
            .collect();
        assert_eq!(
            vouched,
            [
                "src/a.py",
                "./src/../src/a.py",
                "src/deep/b.py",
                "src-x/c.py",
                "src.txt"
            ]
        );
        assert_eq!(
            from_disk.indexed_file("src/a.py"),
            None,
            "no index, no answer"
        );
    }

    /// The walk applies Git's ignore rules as Git does: ignore files of the parent
    /// folders (above the root too) and of subfolders, re-inclusion lower down, anchored
    /// patterns, `.git/info/exclude`; hidden entries and `.git` are skipped; symlinks are
    /// listed, not followed.
    #[cfg(unix)]
    #[test]
    fn the_walk_skips_what_git_ignores() {
        let parent = tempfile::tempdir().unwrap();
        let parent_path = parent.path().canonicalize().unwrap();
        let root_path = parent_path.join("ws");
        let write = |file: &str, text: &str| {
            let path = root_path.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        std::fs::write(parent_path.join(".gitignore"), "from-above.txt\n").unwrap();
        write(".gitignore", "*.log\n/top-only.txt\nbuild/\n");
        write(".git/info/exclude", "excluded-by-git/\n");
        write(".git/config", "x");
        write(".hidden/x.txt", "x");
        write("top-only.txt", "x");
        write("build/out.txt", "x");
        write("a/.gitignore", "!build/\n!keep.log\n");
        write("a/top-only.txt", "x");
        write("a/build/out.txt", "x");
        write("a/.dotfile", "x");
        write("a/from-above.txt", "x");
        write("a/b/excluded-by-git/f.txt", "x");
        write("a/b/c/d/e/f/deep.txt", "x");
        write("a/b/c/d/e/f/x.log", "x");
        write("a/b/c/d/e/f/keep.log", "x");
        write("w3/.gitignore", "x1/\n");
        write("w3/x0/y/f.txt", "x");
        write("w3/x1/y/f.txt", "x");
        std::os::unix::fs::symlink(&root_path, root_path.join("a/b/loop")).unwrap();
        let mut one = walk(&root_path, |path, is_symlink| {
            (relative_display(&root_path, &path), is_symlink)
        });
        one.sort();
        let listed: Vec<&str> = one.iter().map(|(path, _)| path.as_str()).collect();
        for kept in [
            "a/top-only.txt",
            "a/build/out.txt",
            "a/b/c/d/e/f/deep.txt",
            "a/b/c/d/e/f/keep.log",
            "a/b/loop",
            "w3/x0/y/f.txt",
        ] {
            assert!(listed.contains(&kept), "{kept} missing from {listed:?}");
        }
        for skipped in [
            "top-only.txt",
            "build/out.txt",
            "a/.dotfile",
            "a/from-above.txt",
            "a/b/excluded-by-git/f.txt",
            "a/b/c/d/e/f/x.log",
            "w3/x1/y/f.txt",
            ".hidden/x.txt",
            ".git/config",
        ] {
            assert!(!listed.contains(&skipped), "{skipped} listed");
        }
        assert!(one.contains(&(String::from("a/b/loop"), true)));
    }
    #[test]
    fn globs_expand_sorted_below_their_prefix() {
        let root = tempfile::tempdir().unwrap();
        let root_path = root.path().canonicalize().unwrap();
        for file in ["src/b.py", "src/a.py", "src/deep/c.py", "other/d.py"] {
            let path = root_path.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        let resolver = Resolver::new(&root_path);
        let names = |pattern: &str| -> Vec<String> {
            resolver
                .expand_glob(pattern)
                .unwrap()
                .into_iter()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(names("src/*.py"), ["src/a.py", "src/b.py"]);
        assert_eq!(
            names("src/**/*.py"),
            ["src/a.py", "src/b.py", "src/deep/c.py"]
        );
        assert!(names("missing/*.py").is_empty());
    }

    #[test]
    fn simple_globs_match_like_globset() {
        let cases = [
            ("src/*.py", "src/a.py", true),
            ("src/*.py", "src/deep/a.py", false),
            ("src/**/*.py", "src/a.py", true),
            ("src/**/*.py", "src/x/y/a.py", true),
            ("src/**/*.py", "src/x.py/a.rs", false),
            ("src/**/*.py", "src", false),
            ("**/*.rs", "a.rs", true),
            ("src/**", "src/x/y/a.py", true),
            ("src/**", "src", false),
            ("**/test_?.py", "a/b/test_1.py", true),
            ("*.md", "README.md", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(
                Glob::new(pattern).unwrap().is_match(path),
                expected,
                "{pattern} vs {path}"
            );
            assert_eq!(
                glob_matcher(pattern).unwrap().is_match(path),
                expected,
                "globset: {pattern} vs {path}"
            );
        }
    }

    proptest! {
        #[test]
        fn segment_matcher_agrees_with_globset(
            pattern in proptest::collection::vec(prop_oneof!["\\*\\*", "[ab*?]{1,4}", "[ab]{1,2}"], 1..4),
            path in proptest::collection::vec("[ab]{1,3}", 1..5),
        ) {
            let pattern = pattern.join("/");
            let path = path.join("/");
            let ours = Glob::new(&pattern).unwrap().is_match(&path);
            let theirs = glob_matcher(&pattern).unwrap().is_match(&path);
            prop_assert_eq!(ours, theirs, "{} vs {}", pattern, path);
        }

        #[test]
        fn accepted_paths_never_climb_out(parts in proptest::collection::vec(prop_oneof!["\\.\\.", "\\.", "[a-z]{1,3}"], 1..8)) {
            let path = parts.join("/");
            if check_syntax(&path).is_ok() {
                let mut depth: i64 = 0;
                for part in &parts {
                    match part.as_str() {
                        ".." => depth -= 1,
                        "." => {}
                        _ => depth += 1,
                    }
                    prop_assert!(depth >= 0, "{path} accepted but climbs out");
                }
            }
        }
    }
}
