//! The gitignore-aware walk of a tree (for globs and the config folder).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// Files under `dir`, in no particular order, skipping hidden entries, `.git` and what
/// `.gitignore` excludes, each with whether it is a symlink. Symlinks are listed, not
/// followed; callers resolve them with [`Resolver::resolve`].
pub fn walk_files(dir: &Path) -> Vec<(PathBuf, bool)> {
    walk(dir, |path, is_symlink| (path, is_symlink))
}

/// [`walk_files`] for a tree of its own (a source's checkout under `.ctx/`): the ignore
/// files of the folders above it do not apply.
pub fn walk_tree_files(dir: &Path) -> Vec<(PathBuf, bool)> {
    walk_with(dir, false, |path, is_symlink| (path, is_symlink))
}

/// The walk behind [`walk_files`] and the index: files and symlinks, with a flag saying
/// which is which, in no particular order.
///
/// The `ignore` crate's parallel walker: unlike its sequential walker it learns which
/// ignore files a folder has from the folder's own listing instead of probing for
/// `.git`, `.git/info/exclude` and `.gitignore` in every folder, which made the walk of
/// a 12,000-file tree take half again as long. On two threads where there are two cores:
/// `ctx validate` of a 15,000-file tree took 35 ms instead of 50 (the walk is most of
/// it), and of the 2,000-document workspace as long as on one (80 ms); more threads
/// would only compete with the config parsing the walk runs beside.
pub(super) fn walk<T: Send>(dir: &Path, each: impl Fn(PathBuf, bool) -> T + Sync) -> Vec<T> {
    walk_with(dir, true, each)
}

/// [`walk`]; `parents`: whether the ignore files of the folders above `dir` apply.
pub(super) fn walk_with<T: Send>(
    dir: &Path,
    parents: bool,
    each: impl Fn(PathBuf, bool) -> T + Sync,
) -> Vec<T> {
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
        .parents(parents)
        .follow_links(false)
        .filter_entry(|entry| !entry.file_name().eq_ignore_ascii_case(".git"))
        .threads(crate::parallel::cores().min(2))
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
