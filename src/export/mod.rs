//! `ctx export`: the workspace's context written where assistants read it (AGENTS.md,
//! CLAUDE.md and `.claude/rules/`, `.cursor/rules/`, Copilot instructions, Kiro steering,
//! Devin rules, Agent Skills).
//!
//! [`generate`] turns the session's workspace into files ([`model`] → [`targets`]),
//! checks every size limit and scans every text for secrets; [`plan`] compares them
//! with the disk: what to create, update or remove (files with ctx's marker that are no
//! longer produced) and what it must not touch (a file without the marker). [`apply`]
//! writes atomically; `--check` only reports.

pub mod hooks;
mod model;
mod targets;

use std::path::Path;
use std::str::FromStr;

use crate::config::settings::{EXPORT_TARGETS, SecretsMode, Tokenizer};
use crate::date::Date;
use crate::error::Error;
use crate::session::Session;

pub use targets::MARKER;

/// An assistant whose files ctx writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    AgentsMd,
    Claude,
    Cursor,
    Copilot,
    Kiro,
    Devin,
    Skills,
}

impl Target {
    pub const ALL: [Self; 7] = [
        Self::AgentsMd,
        Self::Claude,
        Self::Cursor,
        Self::Copilot,
        Self::Kiro,
        Self::Devin,
        Self::Skills,
    ];

    pub fn as_str(self) -> &'static str {
        EXPORT_TARGETS[self as usize]
    }

    /// Where this target's generated files may live (for finding ones no longer made).
    fn owns(self, path: &str) -> bool {
        let file = path.rsplit('/').next().unwrap_or(path);
        match self {
            Self::AgentsMd => file == "AGENTS.md",
            Self::Claude => {
                path == "CLAUDE.md"
                    || (path.starts_with(".claude/rules/") && file.starts_with("ctx-"))
            }
            Self::Cursor => path.starts_with(".cursor/rules/") && file.starts_with("ctx-"),
            Self::Copilot => {
                path == ".github/copilot-instructions.md"
                    || (path.starts_with(".github/instructions/") && file.starts_with("ctx-"))
            }
            Self::Kiro => path.starts_with(".kiro/steering/") && file.starts_with("ctx-"),
            Self::Devin => path.starts_with(".devin/rules/") && file.starts_with("ctx-"),
            Self::Skills => path.starts_with(".agents/skills/") && file == "SKILL.md",
        }
    }
}

impl FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|target| target.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "`{text}` is not an export target; targets: {}",
                    EXPORT_TARGETS.join(", ")
                )
            })
    }
}

/// A size limit of a target.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// At most this many bytes, counting `also` more bytes read with it.
    Bytes(usize, usize, &'static str),
    Chars(usize, &'static str),
    /// A skill's body, in o200k tokens.
    SkillTokens(usize),
    /// A skill's `description`, in characters.
    SkillDescription(usize),
}

/// One file to write: root-relative path, text, limits.
#[derive(Debug, Clone)]
pub struct Generated {
    pub path: String,
    pub text: String,
    limits: Vec<Limit>,
}

impl Generated {
    fn new(path: impl Into<String>, text: String) -> Self {
        Self {
            path: path.into(),
            text,
            limits: Vec::new(),
        }
    }

    fn limited(mut self, limit: Limit) -> Self {
        self.limits.push(limit);
        self
    }

    /// The first limit this file is over, as an error naming the file, its size and the
    /// limit.
    fn check(&self) -> Result<(), Error> {
        for limit in &self.limits {
            let (size, max, why) = match *limit {
                Limit::Bytes(max, also, why) => (self.text.len() + also, max, why.to_owned()),
                Limit::Chars(max, why) => (self.text.chars().count(), max, why.to_owned()),
                Limit::SkillTokens(max) => {
                    let body = self.text.splitn(3, "---\n").nth(2).unwrap_or(&self.text);
                    // A token is at least one byte: a short body needs no tokenizer.
                    let tokens = if body.len() <= max {
                        body.len()
                    } else {
                        crate::bundle::tokens::count(Tokenizer::O200k, body)
                    };
                    (
                        tokens,
                        max,
                        String::from("a skill's body should stay under 5,000 tokens (o200k)"),
                    )
                }
                Limit::SkillDescription(max) => {
                    let description = self
                        .text
                        .lines()
                        .find_map(|line| line.strip_prefix("description: "))
                        .and_then(|quoted| serde_json::from_str::<String>(quoted).ok())
                        .unwrap_or_default();
                    (
                        description.chars().count(),
                        max,
                        String::from("a skill's description is at most 1,024 characters"),
                    )
                }
            };
            if size > max {
                return Err(Error::Usage {
                    message: format!(
                        "`{}` would be {size}, over its limit of {max}: {why}",
                        self.path
                    ),
                    help: Some(String::from(
                        "ctx never truncates an exported file: shorten the texts it comes from (the origins are in the file), or split the domain",
                    )),
                });
            }
        }
        Ok(())
    }
}

/// Every file of the targets, checked against their limits, secrets handled by the
/// workspace's `secrets.mode`. Returns the files and the secrets redacted (locations).
pub fn generate(
    session: &Session,
    targets: &[Target],
    today: Date,
) -> Result<(Vec<Generated>, Vec<String>), Error> {
    let workspace = session.workspace();
    let model = model::build(workspace, today);
    let with_skills = targets.contains(&Target::Skills);
    let mut files = Vec::new();
    for target in targets {
        files.extend(targets::files(*target, &model, with_skills));
    }
    let mut redacted = Vec::new();
    for file in &mut files {
        if workspace.settings.secrets == SecretsMode::Off {
            break;
        }
        let (clean, found) = crate::secrets::scrub(&file.text);
        if found.is_empty() {
            continue;
        }
        let located: Vec<String> = found
            .iter()
            .map(|finding| format!("{}:{}: {}", file.path, finding.line, finding.rule))
            .collect();
        if workspace.settings.secrets == SecretsMode::Fail {
            return Err(Error::Policy {
                message: format!("{} secret(s) would be exported", located.len()),
                findings: located,
            });
        }
        redacted.extend(located);
        file.text = clean;
    }
    for file in &files {
        file.check()?;
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((files, redacted))
}

/// What a file on disk needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Create,
    Update,
    Unchanged,
    /// Generated by ctx earlier and no longer produced.
    Remove,
    /// Exists without ctx's marker: never overwritten without `--force`.
    Foreign,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Unchanged => "unchanged",
            Self::Remove => "remove",
            Self::Foreign => "not ctx's",
        }
    }
}

/// One path and what it needs.
#[derive(Debug, Clone)]
pub struct Planned {
    pub path: String,
    pub change: Change,
    /// The text to write (none for a removal).
    pub text: Option<String>,
    /// The text on disk, if any.
    pub current: Option<String>,
}

fn is_ours(text: &str) -> bool {
    text.lines().take(30).any(|line| line.starts_with(MARKER))
}

/// Compare the files with the disk under `root`.
pub fn plan(root: &Path, files: &[Generated], targets: &[Target]) -> Vec<Planned> {
    let mut planned = Vec::new();
    for file in files {
        let current = std::fs::read_to_string(root.join(&file.path)).ok();
        let change = match &current {
            None => Change::Create,
            Some(text) if !is_ours(text) => Change::Foreign,
            Some(text) if *text == file.text => Change::Unchanged,
            Some(_) => Change::Update,
        };
        planned.push(Planned {
            path: file.path.clone(),
            change,
            text: Some(file.text.clone()),
            current,
        });
    }
    for path in existing_generated(root, targets) {
        if files.iter().all(|file| file.path != path) {
            planned.push(Planned {
                current: std::fs::read_to_string(root.join(&path)).ok(),
                path,
                change: Change::Remove,
                text: None,
            });
        }
    }
    planned.sort_by(|a, b| a.path.cmp(&b.path));
    planned
}

/// Files under `root` in the targets' places that carry ctx's marker.
fn existing_generated(root: &Path, targets: &[Target]) -> Vec<String> {
    let mut found = Vec::new();
    let walk_root = |folder: &str| -> Vec<std::path::PathBuf> {
        let dir = root.join(folder);
        if dir.is_dir() {
            crate::paths::walk_files(&dir)
                .into_iter()
                .map(|(path, _)| path)
                .collect()
        } else {
            Vec::new()
        }
    };
    let mut candidates: Vec<std::path::PathBuf> = Vec::new();
    for folder in [
        ".claude", ".cursor", ".github", ".kiro", ".devin", ".agents",
    ] {
        candidates.extend(walk_root(folder));
    }
    candidates.extend(
        crate::paths::walk_files(root)
            .into_iter()
            .map(|(path, _)| path)
            .filter(|path| path.ends_with("AGENTS.md") || path.ends_with("CLAUDE.md")),
    );
    for path in candidates {
        let relative = crate::paths::relative_display(root, &path);
        if !targets.iter().any(|target| target.owns(&relative)) {
            continue;
        }
        if std::fs::read_to_string(&path).is_ok_and(|text| is_ours(&text)) {
            found.push(relative);
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Write the plan: create and update atomically, remove what is no longer produced.
/// A foreign file is refused (exit 2) unless `force`; nothing is written then.
pub fn apply(root: &Path, planned: &[Planned], force: bool) -> Result<(), Error> {
    let foreign: Vec<&str> = planned
        .iter()
        .filter(|item| item.change == Change::Foreign)
        .map(|item| item.path.as_str())
        .collect();
    if !foreign.is_empty() && !force {
        return Err(Error::Usage {
            message: format!(
                "{} exist{} and {} not generated by ctx: {}",
                if foreign.len() == 1 {
                    "a file"
                } else {
                    "files"
                },
                if foreign.len() == 1 { "s" } else { "" },
                if foreign.len() == 1 { "was" } else { "were" },
                foreign
                    .iter()
                    .map(|path| format!("`{path}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            help: Some(String::from(
                "bring their rules into the configuration with `ctx init --import`, then remove them; or overwrite them with `ctx export --force`",
            )),
        });
    }
    let mut writes: Vec<(std::path::PathBuf, &[u8])> = Vec::new();
    for item in planned {
        let path = root.join(&item.path);
        if let (Change::Create | Change::Update | Change::Foreign, Some(text)) =
            (item.change, &item.text)
        {
            if let Some(folder) = path.parent() {
                std::fs::create_dir_all(folder).map_err(|source| Error::Output {
                    what: format!("`{}`", folder.display()),
                    source,
                })?;
            }
            writes.push((path, text.as_bytes()));
        }
    }
    crate::output::write_many_atomic(&writes).map_err(|(path, source)| Error::Output {
        what: format!("`{}`", path.display()),
        source,
    })?;
    for item in planned.iter().filter(|item| item.change == Change::Remove) {
        std::fs::remove_file(root.join(&item.path)).map_err(|source| Error::Output {
            what: format!("`{}` (removing it)", item.path),
            source,
        })?;
    }
    Ok(())
}

/// A short unified-style diff of two texts: the first lines that differ.
pub fn short_diff(current: &str, wanted: &str, max_lines: usize) -> String {
    let old: Vec<&str> = current.lines().collect();
    let new: Vec<&str> = wanted.lines().collect();
    let start = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let mut out = format!("  @@ line {} @@\n", start + 1);
    for line in old.iter().skip(start).take(max_lines) {
        out.push_str(&format!("  - {line}\n"));
    }
    for line in new.iter().skip(start).take(max_lines) {
        out.push_str(&format!("  + {line}\n"));
    }
    out
}
