//! The one place that turns a config path into a file on disk.
//!
//! Config paths are relative to the workspace root, use `/`, and never leave the root:
//! absolute paths, `~`, backslashes and `..` that climbs out are refused by syntax;
//! symlinks are resolved and refused when they lead outside the root (or loop); `.git`
//! folders (and look-alikes such as `.GIT`) are never read. Reads are capped and only
//! ever open regular files, so a FIFO or a device can never block a run.

//! | module | owns |
//! |---|---|
//! | here | the syntax of config paths, [`PathError`], root-relative display |
//! | `resolver` | [`Resolver`]: config path → file, with its folder and glob caches |
//! | `index` | the gitignore-aware walk of the tree |
//! | `glob` | [`Glob`]: `*`, `?`, `**` matching |
//! | `open` | regular-file opens and capped reads |

use std::path::Path;

mod glob;
mod index;
mod open;
mod resolver;

pub use glob::{Glob, glob_matcher};
pub use index::{walk_files, walk_tree_files};
pub use open::{
    count_lines, not_regular, open_append_regular, open_listed_regular, open_regular,
    open_seen_regular, read_opened, read_opened_reusing, read_text,
};
pub use resolver::{GlobMatch, IndexEntry, Resolver, source_prefix};

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

    use super::index::walk;
    use super::*;
    use std::path::PathBuf;

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
                .map(|found| found.unwrap().to_string())
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
