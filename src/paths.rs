//! The one place that turns a config path into a file on disk.
//!
//! Config paths are relative to the workspace root, use `/`, and never leave the root:
//! absolute paths, `~`, backslashes and `..` that climbs out are refused by syntax;
//! symlinks are resolved and refused when they lead outside the root (or loop); `.git`
//! folders (and look-alikes such as `.GIT`) are never read. Reads are capped and only
//! ever open regular files, so a FIFO or a device can never block a run.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

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

/// Whether a config path is a glob rather than a literal path.
pub fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '[', '{'])
}

/// Resolve a literal config path to an existing file or folder inside `root`.
///
/// `root` must be canonical. Symlinks are followed and must stay inside the root.
pub fn resolve_inside(root: &Path, relative: &str) -> Result<PathBuf, PathError> {
    check_syntax(relative)?;
    let joined = root.join(relative.trim_end_matches('/'));
    // `symlink_metadata` first: a dangling symlink "does not exist" for `metadata`.
    match std::fs::symlink_metadata(&joined) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(PathError::NotFound),
        Err(error) => return Err(PathError::Io(error.to_string())),
        Ok(_) => {}
    }
    let canonical = joined
        .canonicalize()
        .map_err(|error| match error.raw_os_error() {
            Some(40) => PathError::Loop, // ELOOP
            _ if error.kind() == io::ErrorKind::NotFound => {
                PathError::OutsideRoot(String::from("a missing target"))
            }
            _ => PathError::Io(error.to_string()),
        })?;
    if !canonical.starts_with(root) {
        return Err(PathError::OutsideRoot(canonical.display().to_string()));
    }
    let inside = canonical.strip_prefix(root).unwrap_or(&canonical);
    if inside
        .components()
        .any(|part| matches!(part, Component::Normal(name) if name.eq_ignore_ascii_case(".git")))
    {
        return Err(PathError::GitDir);
    }
    Ok(canonical)
}

/// Files under `dir`, sorted, skipping hidden entries, `.git` and what `.gitignore`
/// excludes. Symlinks are not followed here; callers resolve matches with
/// [`resolve_inside`].
pub fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ignore::WalkBuilder::new(dir)
        .hidden(true)
        .git_ignore(true)
        .git_exclude(true)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|entry| !entry.file_name().eq_ignore_ascii_case(".git"))
        .build()
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_type()
                .is_some_and(|kind| kind.is_file() || kind.is_symlink())
        })
        .map(ignore::DirEntry::into_path)
        .collect();
    files.sort();
    files
}

/// One file a glob matched: its root-relative path, or why it cannot be used.
pub type GlobMatch = Result<String, (String, PathError)>;

/// Expand a glob (relative to `root`) into the matching files, as sorted root-relative
/// paths. Matches whose symlinks lead outside the root are returned as errors.
pub fn expand_glob(root: &Path, pattern: &str) -> Result<Vec<GlobMatch>, PathError> {
    check_syntax(pattern)?;
    let matcher = glob_matcher(pattern)?;
    // Walk only below the literal prefix (`src/auth/*.py` walks `src/auth`).
    let literal: Vec<&str> = pattern
        .split('/')
        .take_while(|part| !is_glob(part))
        .collect();
    let base_relative = literal[..literal.len().min(pattern.split('/').count() - 1)].join("/");
    let base = if base_relative.is_empty() {
        root.to_path_buf()
    } else {
        match resolve_inside(root, &base_relative) {
            Ok(base) => base,
            Err(PathError::NotFound) => return Ok(Vec::new()),
            Err(error) => return Err(error),
        }
    };
    let mut matches = Vec::new();
    for path in walk_files(&base) {
        let relative = relative_display(root, &path);
        if matcher.is_match(&relative) {
            matches.push(match resolve_inside(root, &relative) {
                Ok(_) => Ok(relative),
                Err(error) => Err((relative, error)),
            });
        }
    }
    Ok(matches)
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
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Read at most `cap` bytes of a regular file. Anything else (FIFO, socket, device,
/// folder) is refused without being opened.
pub fn read_capped(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (FIFOs, sockets and devices are never opened)",
        ));
    }
    let file = File::open(path)?;
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len().min(cap)).unwrap_or(0));
    file.take(cap).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Number of lines in a regular file (a last line without `\n` counts), reading at most
/// `cap` bytes.
pub fn count_lines(path: &Path, cap: u64) -> io::Result<usize> {
    let bytes = read_capped(path, cap)?;
    let newlines = bytes.iter().filter(|&&byte| byte == b'\n').count();
    Ok(newlines + usize::from(bytes.last().is_some_and(|&byte| byte != b'\n')))
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
        assert!(matches!(
            resolve_inside(&root_path, "link"),
            Err(PathError::OutsideRoot(_))
        ));
        assert_eq!(resolve_inside(&root_path, "loop"), Err(PathError::Loop));
        assert!(resolve_inside(&root_path, "ok").is_ok());
        assert_eq!(resolve_inside(&root_path, "nope"), Err(PathError::NotFound));
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
        let names = |pattern: &str| -> Vec<String> {
            expand_glob(&root_path, pattern)
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

    proptest! {
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
