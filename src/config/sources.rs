//! Sources: standards repositories whose documents a workspace imports, pinned in
//! `ctx.lock` (`[[sources]]` in `ctx.toml`).
//!
//! `ctx fetch` resolves each source's `rev` to a commit with the `git` CLI (into a bare
//! clone under `.ctx/sources/<name>/repo.git`) and checks the commit's files out,
//! read-only, under `.ctx/sources/<name>/<commit>/`; the lock records the commit and a
//! digest of that tree. Every other command works offline from the lock and the tree.
//! `ctx update [NAME]` moves a source to the newest commit of its `rev`.

use std::path::{Path, PathBuf};

use crate::config::diagnostic::Problem;
use crate::config::lock::{Lock, LockedSource};
use crate::config::settings::SourceSpec;
use crate::state::State;

/// A source ready to load: where its tree is, and how its files are shown.
#[derive(Debug, Clone)]
pub struct Tree {
    pub name: String,
    /// The checked-out commit's top folder (canonical).
    pub root: PathBuf,
    /// The folder of documents inside it.
    pub path: String,
    /// `acme@1a2b3c4`: how provenance names the source.
    pub label: String,
}

/// The trees of the workspace's sources, from the lock. Without a lock entry, or with
/// the tree missing, a source is an error that says to run `ctx fetch`.
pub fn trees(
    root: &Path,
    specs: &[SourceSpec],
    lock: Option<&Lock>,
) -> Result<Vec<Tree>, Vec<Problem>> {
    let mut trees = Vec::new();
    let mut problems = Vec::new();
    for spec in specs {
        let locked = lock.and_then(|lock| matching(lock, spec));
        let Some(locked) = locked else {
            problems.push(
                Problem::unlocated(
                    "sources::not-fetched",
                    format!(
                        "source `{}` ({} at `{}`) is not fetched, or `ctx.lock` pins another revision",
                        spec.name, spec.git, spec.rev
                    ),
                )
                .help("run `ctx fetch` (it records the commit in `ctx.lock`; commit the lock)"),
            );
            continue;
        };
        let tree = State::of(root).source_tree(&spec.name, &locked.commit);
        match tree.canonicalize() {
            Ok(canonical) if !canonical.join(&spec.path).is_dir() => problems.push(
                Problem::unlocated(
                    "sources::no-documents",
                    format!(
                        "source `{}` at {} has no folder `{}`",
                        spec.name,
                        short(&locked.commit),
                        spec.path
                    ),
                )
                .help("set the source's `path` in `ctx.toml` to the folder of the repository holding its documents (\".\" for all of it)"),
            ),
            Ok(canonical) => trees.push(Tree {
                name: spec.name.clone(),
                root: canonical,
                path: spec.path.clone(),
                label: format!("{}@{}", spec.name, short(&locked.commit)),
            }),
            Err(_) => problems.push(
                Problem::unlocated(
                    "sources::not-fetched",
                    format!(
                        "source `{}` is pinned at {} but not checked out here",
                        spec.name,
                        short(&locked.commit)
                    ),
                )
                .help("run `ctx fetch` (it checks out the pinned commit)"),
            ),
        }
    }
    if problems.is_empty() {
        Ok(trees)
    } else {
        Err(problems)
    }
}

/// The lock's entry for `spec`, if it pins what `ctx.toml` asks for.
fn matching<'l>(lock: &'l Lock, spec: &SourceSpec) -> Option<&'l LockedSource> {
    lock.sources.iter().find(|locked| {
        locked.name == spec.name
            && locked.git == spec.git
            && locked.rev == spec.rev
            && locked.path == spec.path
    })
}

/// The first 7 characters of a commit.
pub fn short(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}

/// What fetching one source did.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub name: String,
    pub commit: String,
    /// The commit it was pinned at before, when it moved.
    pub moved_from: Option<String>,
    /// Already checked out at the pinned commit: nothing was fetched.
    pub up_to_date: bool,
}

/// Fetch the sources (all, or those `only` names): a pinned source is checked out at
/// its pinned commit; `update` (or no pin) resolves `rev` to its newest commit. The
/// lock's source entries are rewritten.
pub fn fetch(
    root: &Path,
    specs: &[SourceSpec],
    lock: &mut Lock,
    only: &[String],
    update: bool,
    locked: bool,
) -> Result<Vec<Fetched>, String> {
    for name in only {
        if !specs.iter().any(|spec| &spec.name == name) {
            return Err(format!("`ctx.toml` declares no source `{name}`"));
        }
    }
    let state = State::of(root);
    let mut done = Vec::new();
    for spec in specs {
        let chosen = only.is_empty() || only.contains(&spec.name);
        let pinned = matching(lock, spec).cloned();
        let before = lock
            .sources
            .iter()
            .find(|locked| locked.name == spec.name)
            .map(|locked| locked.commit.clone());
        if let Some(pinned) = &pinned
            && !(chosen && update)
        {
            let tree = state.source_tree(&spec.name, &pinned.commit);
            // Locked, a checkout that is there is left as it is, for `verify` to judge.
            if tree.is_dir() && (locked || digest(&tree)? == pinned.digest) {
                prune(&state, &spec.name, &pinned.commit);
                done.push(Fetched {
                    name: spec.name.clone(),
                    commit: pinned.commit.clone(),
                    moved_from: None,
                    up_to_date: true,
                });
                continue;
            }
        }
        if !chosen && pinned.is_some() {
            continue;
        }
        let repo = clone_of(root, &state, spec)?;
        let commit = match (&pinned, update && chosen) {
            (Some(pinned), false) => pinned.commit.clone(),
            _ => resolve(&repo, &spec.rev).ok_or_else(|| {
                format!(
                    "source `{}`: no tag, branch or commit `{}` in {}",
                    spec.name, spec.rev, spec.git
                )
            })?,
        };
        let tree = state.source_tree(&spec.name, &commit);
        // A checkout is kept only when it is the one pinned, unchanged.
        let expected = pinned
            .as_ref()
            .filter(|pinned| pinned.commit == commit)
            .map(|pinned| pinned.digest.as_str());
        let kept = match (tree.is_dir(), expected) {
            (true, Some(expected)) => Some(digest(&tree)?).filter(|found| found == expected),
            _ => None,
        };
        let digest = match kept {
            Some(found) => found,
            None => {
                if tree.is_dir() {
                    // Not what was checked out (edited by hand, or never pinned).
                    remove_tree(&tree)?;
                }
                check_out(&repo, &commit, &tree)?;
                digest(&tree)?
            }
        };
        prune(&state, &spec.name, &commit);
        lock.sources.retain(|locked| locked.name != spec.name);
        lock.sources.push(LockedSource {
            name: spec.name.clone(),
            git: spec.git.clone(),
            rev: spec.rev.clone(),
            path: spec.path.clone(),
            commit: commit.clone(),
            digest,
        });
        done.push(Fetched {
            name: spec.name.clone(),
            moved_from: before.filter(|before| before != &commit),
            commit,
            up_to_date: false,
        });
    }
    lock.sources
        .retain(|locked| specs.iter().any(|spec| spec.name == locked.name));
    lock.sources.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(done)
}

/// `--locked`: every source pinned as `ctx.toml` asks, checked out, and its tree
/// exactly the one locked (a tampered checkout fails).
pub fn verify(root: &Path, specs: &[SourceSpec], lock: &Lock) -> Vec<Problem> {
    let mut problems = Vec::new();
    for spec in specs {
        let Some(locked) = matching(lock, spec) else {
            problems.push(
                Problem::unlocated(
                    "sources::unlocked",
                    format!("`ctx.lock` does not pin source `{}` as `ctx.toml` declares it ({} at `{}`)", spec.name, spec.git, spec.rev),
                )
                .help("run `ctx fetch` (or `ctx update {name}` after changing `rev`), review, and commit `ctx.lock`"),
            );
            continue;
        };
        let tree = State::of(root).source_tree(&spec.name, &locked.commit);
        match digest(&tree) {
            Ok(found) if found == locked.digest => {}
            Ok(_) => problems.push(
                Problem::unlocated(
                    "sources::tampered",
                    format!(
                        "the checkout of source `{}` at {} does not match its digest in `ctx.lock`",
                        spec.name,
                        short(&locked.commit)
                    ),
                )
                .help(format!(
                    "delete `.ctx/sources/{}/` and run `ctx fetch` to check it out again",
                    spec.name
                )),
            ),
            Err(error) => problems.push(
                Problem::unlocated(
                    "sources::not-fetched",
                    format!("source `{}`: {error}", spec.name),
                )
                .help("run `ctx fetch`"),
            ),
        }
    }
    problems
}

/// A local repository path relative to the workspace, made absolute; URLs as they are.
fn location(root: &Path, git: &str) -> String {
    let is_url = git.contains("://") || (git.contains('@') && git.contains(':'));
    if is_url || Path::new(git).is_absolute() {
        git.to_owned()
    } else {
        root.join(git).display().to_string()
    }
}

/// The bare clone of a source, with every branch and tag of its repository fetched.
fn clone_of(root: &Path, state: &State, spec: &SourceSpec) -> Result<PathBuf, String> {
    let repo = state.source_repo(&spec.name);
    if !repo.is_dir() {
        std::fs::create_dir_all(&repo)
            .map_err(|error| format!("cannot create `{}`: {error}", repo.display()))?;
        git(&repo, &["init", "--quiet", "--bare"])?;
    }
    let url = location(root, &spec.git);
    git(
        &repo,
        &[
            "fetch",
            "--quiet",
            "--force",
            "--tags",
            &url,
            "+refs/heads/*:refs/heads/*",
        ],
    )
    .map_err(|error| format!("source `{}`: cannot fetch {}: {error}", spec.name, spec.git))?;
    Ok(repo)
}

/// `rev` as a commit: a tag, a branch, or a commit (full or abbreviated).
fn resolve(repo: &Path, rev: &str) -> Option<String> {
    for candidate in [
        format!("refs/tags/{rev}^{{commit}}"),
        format!("refs/heads/{rev}^{{commit}}"),
        format!("{rev}^{{commit}}"),
    ] {
        if let Ok(commit) = git(repo, &["rev-parse", "--verify", "--quiet", &candidate]) {
            let commit = commit.trim().to_owned();
            if !commit.is_empty() {
                return Some(commit);
            }
        }
    }
    None
}

/// Write the files of `commit` under `tree`, read-only (into a temporary folder renamed
/// into place: a half-written checkout never exists).
fn check_out(repo: &Path, commit: &str, tree: &Path) -> Result<(), String> {
    let listing = git(repo, &["ls-tree", "-r", "-z", "--full-tree", commit])?;
    let parent = tree.parent().unwrap_or(tree);
    let staging = parent.join(format!(".{}.partial", short(commit)));
    let _ = std::fs::remove_dir_all(&staging);
    let failed =
        |error: std::io::Error| format!("cannot check out into `{}`: {error}", staging.display());
    std::fs::create_dir_all(&staging).map_err(failed)?;
    for entry in listing.split('\0').filter(|entry| !entry.is_empty()) {
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let mut fields = meta.split(' ');
        let (mode, kind, object) = (fields.next(), fields.next(), fields.next());
        // Files only: symlinks and submodules are not part of a standards tree.
        if kind != Some("blob")
            || mode == Some("120000")
            || path.split('/').any(|part| part == "..")
        {
            continue;
        }
        let Some(object) = object else { continue };
        let bytes = git_bytes(repo, &["cat-file", "blob", object])?;
        let target = staging.join(path);
        if let Some(folder) = target.parent() {
            std::fs::create_dir_all(folder).map_err(failed)?;
        }
        std::fs::write(&target, bytes).map_err(failed)?;
    }
    read_only(&staging);
    std::fs::rename(&staging, tree).map_err(|error| {
        format!(
            "cannot move the checkout into `{}`: {error}",
            tree.display()
        )
    })
}

/// Delete the checkouts of source `name` other than the one of `commit` (and any staging
/// left by an interrupted checkout): `.ctx/sources/` keeps one tree per source, however
/// often it is updated. The bare clone stays.
fn prune(state: &State, name: &str, commit: &str) {
    let keep = state.source_tree(name, commit);
    let clone = state.source_repo(name);
    let Some(folder) = keep.parent() else { return };
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path != keep && path != clone && path.is_dir() {
            let _ = remove_tree(&path);
        }
    }
}

/// Delete a checkout (its files are read-only; the folders are not).
fn remove_tree(tree: &Path) -> Result<(), String> {
    std::fs::remove_dir_all(tree)
        .map_err(|error| format!("cannot replace `{}`: {error}", tree.display()))
}

/// Make every file under `folder` read-only.
fn read_only(folder: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for entry in walk_files(folder) {
        let _ = std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o444));
    }
}

/// Every file under `folder`, sorted.
fn walk_files(folder: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(path),
                Ok(kind) if kind.is_file() => files.push(path),
                _ => {}
            }
        }
    }
    files.sort();
    files
}

/// `blake3:` over every file's path (relative to `tree`) and bytes, in path order.
pub fn digest(tree: &Path) -> Result<String, String> {
    if !tree.is_dir() {
        return Err(format!("`{}` is not checked out", tree.display()));
    }
    let mut hasher = blake3::Hasher::new();
    for file in walk_files(tree) {
        let relative = file
            .strip_prefix(tree)
            .unwrap_or(&file)
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&file)
            .map_err(|error| format!("cannot read `{}`: {error}", file.display()))?;
        hasher.update(relative.as_bytes());
        hasher.update(&[0]);
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(format!("blake3:{}", hasher.finalize().to_hex()))
}

fn git(cwd: &Path, args: &[&str]) -> Result<String, String> {
    git_bytes(cwd, args).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

fn git_bytes(cwd: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let output =
        crate::process::git(cwd, args).map_err(|error| format!("cannot run git: {error}"))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}
