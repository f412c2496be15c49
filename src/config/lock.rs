//! `ctx.lock`: what a workspace was reviewed against. It records the content hash of every
//! file or excerpt a pattern shows (and, for imported sources, their commit and digest).
//! `ctx lock` writes it after a review; `ctx validate` warns for each locked file or
//! excerpt that changed since (drift: `lines: 810-836` silently showing another function
//! after code moved), and `ctx validate --locked` makes that, a missing lock or a file
//! the lock does not record, an error (for CI).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::diagnostic::{Location, Problem};
use super::workspace::{LineRange, Origin, PatternItem, Workspace};

/// The lock's file name, next to `ctx.toml`.
pub const FILE: &str = "ctx.lock";

const HEADER: &str = "# ctx.lock: what this workspace was reviewed against. Written by `ctx lock` (and\n# `ctx fetch`, `ctx update`); commit it, and review its changes like a dependency update.\n\n";

/// The whole lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    #[serde(default = "version", skip_serializing_if = "is_current")]
    pub version: u32,
    /// Imported sources, by name.
    #[serde(default, rename = "source", skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<LockedSource>,
    /// Files and excerpts patterns show, by path and lines.
    #[serde(default, rename = "file", skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<LockedFile>,
}

impl Default for Lock {
    fn default() -> Self {
        Self {
            version: version(),
            sources: Vec::new(),
            files: Vec::new(),
        }
    }
}

fn version() -> u32 {
    1
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's signature
fn is_current(version: &u32) -> bool {
    *version == 1
}

/// A source as fetched: what `ctx.toml` asked for and the commit it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedSource {
    pub name: String,
    pub git: String,
    pub rev: String,
    pub path: String,
    pub commit: String,
    /// `blake3:` over the imported tree (every file's path and bytes).
    pub digest: String,
}

/// A file, or an excerpt of one, as reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedFile {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<String>,
    /// For an anchored excerpt: the anchor (its lines move with the code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
    /// `blake3:` of the text shown.
    pub hash: String,
    /// The patterns that show it.
    pub items: Vec<String>,
}

/// A lock as read: `None` when there is none; an error when it cannot be read.
pub type Read = Result<Option<Lock>, Box<Problem>>;

/// The lock of the workspace at `root` (read once per workspace opened).
pub fn read(root: &Path) -> Read {
    let path = root.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(Box::new(
                Problem::unlocated("config::lock", format!("cannot read `{FILE}`: {error}"))
                    .help("check its permissions, or delete it and run `ctx lock`"),
            ));
        }
    };
    toml::from_str(&text).map(Some).map_err(|error| {
        Box::new(
            Problem::unlocated(
                "config::lock",
                format!("`{FILE}` is not a lock ctx wrote: {}", error.message()),
            )
            .help("restore it from version control, or delete it and run `ctx lock`"),
        )
    })
}

/// Write `lock` to `<root>/ctx.lock`, atomically.
pub fn write(root: &Path, lock: &Lock) -> std::io::Result<()> {
    let body = toml::to_string(lock).map_err(std::io::Error::other)?;
    crate::output::write_atomic(&root.join(FILE), format!("{HEADER}{body}").as_bytes())
}

/// A file or excerpt patterns show, with the patterns that show it.
#[derive(Debug, Clone)]
pub struct Reference {
    pub path: String,
    pub lines: Option<LineRange>,
    pub anchor: Option<String>,
    /// Each pattern's id and where it is declared.
    pub items: Vec<(String, Origin)>,
}

/// Every single file (not glob) or excerpt a pattern of the workspace shows, by path and
/// lines, in that order.
pub fn references(workspace: &Workspace) -> Vec<Reference> {
    // An anchored excerpt is known by its anchor: its lines move with the code.
    type Key = (String, Option<(usize, usize)>, Option<String>);
    let mut found: BTreeMap<Key, Reference> = BTreeMap::new();
    let mut add = |layer: String, section: &str, patterns: &[PatternItem]| {
        for pattern in patterns {
            let Some(path) = &pattern.path else { continue };
            if crate::paths::is_glob(path) {
                continue;
            }
            let key = match &pattern.anchor {
                Some(anchor) => (path.clone(), None, Some(anchor.clone())),
                None => (
                    path.clone(),
                    pattern.lines.map(|lines| (lines.start, lines.end)),
                    None,
                ),
            };
            let entry = found.entry(key).or_insert_with(|| Reference {
                path: path.clone(),
                lines: pattern.lines,
                anchor: pattern.anchor.clone(),
                items: Vec::new(),
            });
            entry.items.push((
                format!("{layer}/{section}/{}", pattern.meta.key),
                pattern.meta.origin.clone(),
            ));
        }
    };
    if let Some(org) = &workspace.org {
        add(format!("org:{}", org.name), "patterns", &org.items.patterns);
    }
    for domain in &workspace.domains {
        add(
            format!("domain:{}", domain.name),
            "patterns",
            &domain.items.patterns,
        );
    }
    for strategy in &workspace.strategies {
        add(
            format!("strategy:{}", strategy.name),
            "patterns",
            &strategy.items.patterns,
        );
    }
    for service in &workspace.services {
        let layer = format!("service:{}", service.name);
        add(layer.clone(), "patterns", &service.items.patterns);
        add(layer.clone(), "shared_patterns", &service.shared_patterns);
        add(layer, "integration_patterns", &service.integration_patterns);
    }
    for feature in &workspace.features {
        add(
            format!("feature:{}", feature.name),
            "patterns",
            &feature.items.patterns,
        );
    }
    found.into_values().collect()
}

/// The hash of the text a reference shows (the lines of an excerpt, or the whole file).
pub fn hash_of(
    workspace: &Workspace,
    path: &str,
    lines: Option<LineRange>,
) -> Result<String, String> {
    let (resolved, _) = workspace
        .resolver
        .resolve_metadata(path)
        .map_err(|error| error.to_string())?;
    let text = crate::paths::read_text(&resolved, workspace.settings.max_file_bytes)
        .map_err(|error| error.to_string())?;
    let shown: String = match lines {
        None => text,
        Some(range) => text
            .split_inclusive('\n')
            .skip(range.start.saturating_sub(1))
            .take(range.end + 1 - range.start)
            .collect(),
    };
    Ok(format!(
        "blake3:{}",
        blake3::hash(shown.as_bytes()).to_hex()
    ))
}

/// The files and excerpts of the workspace as they are now (unreadable ones are left to
/// validation, which reports them).
pub fn files(workspace: &Workspace) -> Vec<LockedFile> {
    references(workspace)
        .into_iter()
        .filter_map(|reference| {
            let hash = hash_of(workspace, &reference.path, reference.lines).ok()?;
            let anchored = reference.anchor.is_some();
            Some(LockedFile {
                path: reference.path,
                lines: reference
                    .lines
                    .filter(|_| !anchored)
                    .map(|lines| lines.to_string()),
                anchor: reference.anchor,
                hash,
                items: reference.items.into_iter().map(|(id, _)| id).collect(),
            })
        })
        .collect()
}

/// Drift: a warning per locked file or excerpt that changed since `ctx lock` (errors with
/// `locked`, which also requires the lock and every file in it).
pub fn check(
    workspace: &Workspace,
    lock: &Read,
    locked: bool,
    at: &dyn Fn(&Origin) -> Location,
    problems: &mut Vec<Problem>,
) {
    let lock = match lock {
        Ok(Some(lock)) => lock,
        Ok(None) if locked => {
            problems.push(
                Problem::unlocated(
                    "config::lock",
                    format!("`--locked`, but there is no `{FILE}`"),
                )
                .help(
                    "run `ctx lock` (and `ctx fetch` for sources), review the result and commit it",
                ),
            );
            return;
        }
        Ok(None) => return,
        Err(problem) => {
            problems.push((**problem).clone());
            return;
        }
    };
    type Key<'l> = (&'l str, Option<&'l str>, Option<&'l str>);
    let recorded: BTreeMap<Key<'_>, &LockedFile> = lock
        .files
        .iter()
        .map(|file| {
            let key = (
                file.path.as_str(),
                file.lines.as_deref(),
                file.anchor.as_deref(),
            );
            (key, file)
        })
        .collect();
    for reference in references(workspace) {
        let lines = reference
            .lines
            .filter(|_| reference.anchor.is_none())
            .map(|lines| lines.to_string());
        let Some((id, origin)) = reference.items.first() else {
            continue;
        };
        let what = match (&lines, &reference.anchor) {
            (_, Some(anchor)) => {
                format!("the excerpt of `{}` anchored at {anchor}", reference.path)
            }
            (Some(lines), None) => format!("`{}` lines {lines}", reference.path),
            (None, None) => format!("`{}`", reference.path),
        };
        let key = (
            reference.path.as_str(),
            lines.as_deref(),
            reference.anchor.as_deref(),
        );
        let Some(file) = recorded.get(&key) else {
            if locked {
                problems.push(
                    Problem::error(
                        "config::unlocked",
                        at(origin),
                        format!("`{id}` shows {what}, which `{FILE}` does not record"),
                    )
                    .help("review it, then run `ctx lock` and commit the lock"),
                );
            }
            continue;
        };
        let Ok(hash) = hash_of(workspace, &reference.path, reference.lines) else {
            continue; // unreadable: validation says so
        };
        if hash != file.hash {
            let message = format!(
                "`{id}` shows {what}, which changed since `ctx lock`{}",
                if lines.is_some() {
                    " (the excerpt may now show other code)"
                } else {
                    ""
                }
            );
            let help = "review what the pattern shows now (an `anchor` follows code that moves), then run `ctx lock`";
            problems.push(if locked {
                Problem::error("config::drift", at(origin), message).help(help)
            } else {
                Problem::warning("config::drift", at(origin), message).help(help)
            });
        }
    }
}
