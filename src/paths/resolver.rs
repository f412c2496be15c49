//! [`Resolver`]: config paths resolved against one workspace root, with the canonical
//! folders it has seen and the index of the tree cached.

use rustc_hash::FxHashMap as HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use super::glob::Glob;
use super::index::walk_with;
use super::{PathError, check_syntax, is_glob, normalize, relative_display};

/// Resolves config paths against one workspace root, caching what it learns.
///
/// Canonical folders are cached (so `canonicalize` is not redone, with its `readlink`
/// per component, for every file), and globs are matched against one gitignore-aware
/// index of the root's files, built on first use.
#[derive(Debug)]
pub struct Resolver {
    root: std::sync::Arc<Path>,
    /// Canonical folders by their root-relative form.
    folders: Mutex<HashMap<String, Result<PathBuf, PathError>>>,
    index: OnceLock<Vec<IndexEntry>>,
    matchers: Mutex<HashMap<String, Result<Glob, PathError>>>,
    /// Imported sources' trees, by name: a path `@<name>/<rest>` is `<rest>` inside that
    /// tree, checked against it as this root checks its own paths.
    sources: std::collections::BTreeMap<String, Resolver>,
    /// Whether the ignore files of the folders above the root apply to its walk (not for
    /// a source's checkout, which lives under the ignored `.ctx/`).
    parents: bool,
}

/// The prefix of the paths of source `name`: `@acme/`.
pub fn source_prefix(name: &str) -> String {
    format!("@{name}/")
}

impl Resolver {
    /// `root` must be canonical.
    /// The workspace root every config path is relative to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The root, to be shared by what keeps paths below it (see `bundle::content`).
    pub fn shared_root(&self) -> &std::sync::Arc<Path> {
        &self.root
    }

    pub fn new(root: &Path) -> Self {
        Self {
            root: root.into(),
            folders: Mutex::new(HashMap::default()),
            index: OnceLock::new(),
            matchers: Mutex::new(HashMap::default()),
            sources: std::collections::BTreeMap::new(),
            parents: true,
        }
    }

    /// A resolver that also knows the trees of imported sources (`name` → canonical
    /// folder), reached as `@<name>/…`.
    pub fn with_sources(root: &Path, sources: Vec<(String, PathBuf)>) -> Self {
        Self {
            sources: sources
                .into_iter()
                .map(|(name, tree)| {
                    let resolver = Self {
                        parents: false,
                        ..Self::new(&tree)
                    };
                    (name, resolver)
                })
                .collect(),
            ..Self::new(root)
        }
    }

    /// The source a `@<name>/…` path is in, and the path inside it.
    fn source_of<'p>(&self, relative: &'p str) -> Option<(&str, &Self, &'p str)> {
        let (name, rest) = relative.strip_prefix('@')?.split_once('/')?;
        let (name, resolver) = self.sources.get_key_value(name)?;
        Some((name.as_str(), resolver, rest))
    }

    /// Resolve a literal config path to an existing file or folder inside the root.
    /// Symlinks are followed and must stay inside the root.
    pub fn resolve(&self, relative: &str) -> Result<PathBuf, PathError> {
        self.resolve_kind(relative).map(|(path, _)| path)
    }

    /// [`Resolver::resolve`], also saying whether the target is a folder.
    pub fn resolve_kind(&self, relative: &str) -> Result<(PathBuf, bool), PathError> {
        if let Some((_, source, rest)) = self.source_of(relative) {
            return source.resolve_kind(rest);
        }
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
        if let Some((_, source, rest)) = self.source_of(relative) {
            return source.indexed_file(rest);
        }
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
        let kind = match index.binary_search_by(|entry| (*entry.path).cmp(lexical)) {
            Ok(at) => (!index[at].is_symlink).then_some(Indexed::File)?,
            Err(_) => {
                let prefix = format!("{lexical}/");
                let at = index.partition_point(|entry| *entry.path < *prefix);
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
        if let Some((_, source, rest)) = self.source_of(relative) {
            return source.resolve_metadata(rest);
        }
        check_syntax(relative)?;
        let lexical = normalize(relative);
        if lexical.is_empty() {
            return self
                .inside(self.root.to_path_buf())
                .map(|path| (path, None));
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
            return Ok(self.root.to_path_buf());
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
            let mut entries = walk_with(&self.root, self.parents, |path, is_symlink| IndexEntry {
                path: relative_display(&self.root, &path).into(),
                is_symlink,
            });
            entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
            entries
        })
    }

    /// Index entries under `folder` (root-relative, `/`-separated; in a source's tree for
    /// `@<name>/…`, with paths so prefixed).
    pub fn files_under(&self, folder: &str) -> std::borrow::Cow<'_, [IndexEntry]> {
        if let Some((name, source, rest)) = self.source_of(folder) {
            let prefix = source_prefix(name);
            return std::borrow::Cow::Owned(
                source
                    .files_under(rest)
                    .iter()
                    .map(|entry| IndexEntry {
                        path: format!("{prefix}{}", entry.path).into(),
                        is_symlink: entry.is_symlink,
                    })
                    .collect(),
            );
        }
        std::borrow::Cow::Borrowed(self.local_files_under(folder))
    }

    /// [`Resolver::files_under`] this root.
    fn local_files_under(&self, folder: &str) -> &[IndexEntry] {
        let index = self.index();
        let folder = folder.trim_end_matches('/');
        if folder.is_empty() || folder == "." {
            return index;
        }
        let prefix = format!("{folder}/");
        let start = index.partition_point(|entry| *entry.path < *prefix.as_str());
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
        let candidates = self.local_files_under(&literal.join("/"));
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
        if let Some((_, source, rest)) = self.source_of(pattern) {
            return source.glob_matches_any(rest);
        }
        let (candidates, glob) = self.glob_candidates(pattern)?;
        Ok(candidates
            .iter()
            .any(|entry| glob.as_ref().is_none_or(|glob| glob.is_match(&entry.path))))
    }

    /// Expand a glob into the matching files, as sorted root-relative paths. Matches
    /// whose symlinks lead outside the root are returned as errors.
    pub fn expand_glob(&self, pattern: &str) -> Result<Vec<GlobMatch>, PathError> {
        if let Some((name, source, rest)) = self.source_of(pattern) {
            let prefix = source_prefix(name);
            return Ok(source
                .expand_glob(rest)?
                .into_iter()
                .map(|found| match found {
                    Ok(path) => Ok(format!("{prefix}{path}").into()),
                    Err((path, error)) => Err((format!("{prefix}{path}"), error)),
                })
                .collect());
        }
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
                    .map_err(|error| (entry.path.to_string(), error)),
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
    /// Root-relative, `/`-separated (shared with the items and contents of the file).
    pub path: std::sync::Arc<str>,
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
pub type GlobMatch = Result<std::sync::Arc<str>, (String, PathError)>;
