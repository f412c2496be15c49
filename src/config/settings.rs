//! Workspace discovery and `ctx.toml` (SPEC §1).
//!
//! The root is the nearest folder up from the current one holding `ctx.toml`; failing
//! that, the nearest holding a `domains/` folder (default settings); `-C DIR` overrides
//! both. Every key of `ctx.toml` is optional and unknown keys are errors.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::diagnostic::{Location, Problem, SourceFile};
use super::suggest;

/// The settings file's name.
pub const SETTINGS_FILE: &str = "ctx.toml";

/// Which tokenizer counts bundle tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tokenizer {
    O200k,
    Cl100k,
}

/// What to do with secrets found in inlined files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretsMode {
    Redact,
    Fail,
    Off,
}

/// `ctx.toml`, validated, with defaults filled in.
#[derive(Debug, Clone)]
pub struct Settings {
    pub name: Option<String>,
    /// Files or folders scanned for YAML documents, relative to the root.
    pub config: Vec<String>,
    pub tokenizer: Tokenizer,
    /// Token budget; 0 = unlimited.
    pub budget: u64,
    pub template: String,
    pub max_file_bytes: u64,
    /// Gates at a time; 0 = available parallelism.
    pub jobs: usize,
    pub timeout: Duration,
    pub grace: Duration,
    pub secrets: SecretsMode,
    /// `[export] targets`: what `ctx export` writes when no target is named.
    pub export_targets: Vec<String>,
    /// `[gates] keep_runs`: how many run folders `.ctx/runs/` keeps (default 20).
    pub keep_runs: usize,
    /// `[gates.groups]`: resource groups and how many of their gates may run at once.
    pub groups: std::collections::BTreeMap<String, usize>,
    /// `[hooks]`: a command per gate-run event (`run_started`, `gate_started`,
    /// `gate_finished`, `gate_failed`, `run_finished`).
    pub hooks: std::collections::BTreeMap<String, String>,
    /// `hooks.timeout`: how long a handler may run.
    pub hook_timeout: Duration,
    /// `[store] url`: where outcomes are recorded (default `.ctx/store.sqlite`).
    pub store_url: Option<String>,
    /// `[store] keep`: how long `ctx store prune` keeps runs.
    pub store_keep: Option<Duration>,
    /// `[[sources]]`: standards repositories whose documents the workspace imports.
    pub sources: Vec<SourceSpec>,
    /// The file the settings came from, when there is one.
    pub source: Option<Arc<SourceFile>>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            name: None,
            config: vec![String::from("domains")],
            tokenizer: Tokenizer::O200k,
            budget: 60_000,
            template: String::from("bundle.md"),
            max_file_bytes: 1_048_576,
            jobs: 0,
            timeout: Duration::from_secs(600),
            grace: Duration::from_secs(10),
            secrets: SecretsMode::Redact,
            export_targets: Vec::new(),
            keep_runs: 20,
            groups: std::collections::BTreeMap::new(),
            hooks: std::collections::BTreeMap::new(),
            hook_timeout: Duration::from_secs(30),
            store_url: None,
            store_keep: None,
            sources: Vec::new(),
            source: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsWire {
    #[serde(default)]
    workspace: WorkspaceWire,
    #[serde(default)]
    bundle: BundleWire,
    #[serde(default)]
    gates: GatesWire,
    #[serde(default)]
    secrets: SecretsWire,
    #[serde(default)]
    export: ExportWire,
    #[serde(default)]
    hooks: std::collections::BTreeMap<String, toml::Spanned<String>>,
    #[serde(default)]
    store: StoreWire,
    #[serde(default)]
    sources: Vec<toml::Spanned<SourceWire>>,
}

/// A `[[sources]]` entry: a git repository (URL or path), a revision, and the folder of
/// it holding the documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// What provenance and paths call it: `acme` → `acme@1a2b3c4:ctx/org.yaml`, `@acme/…`.
    pub name: String,
    pub git: String,
    /// A tag, branch or commit.
    pub rev: String,
    /// The folder of the repository holding its documents (`.` for all of it).
    pub path: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceWire {
    name: String,
    git: String,
    rev: String,
    #[serde(default)]
    path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreWire {
    url: Option<String>,
    keep: Option<toml::Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupWire {
    max_jobs: toml::Spanned<usize>,
}

/// The gate-run events `[hooks]` may name.
pub const HOOK_EVENTS: [&str; 5] = [
    "run_started",
    "gate_started",
    "gate_finished",
    "gate_failed",
    "run_finished",
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportWire {
    targets: Option<Vec<toml::Spanned<String>>>,
}

/// The targets `ctx export` knows (`[export] targets` in `ctx.toml`).
pub const EXPORT_TARGETS: [&str; 7] = [
    "agents-md",
    "claude",
    "cursor",
    "copilot",
    "kiro",
    "devin",
    "skills",
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkspaceWire {
    name: Option<String>,
    config: Option<Vec<toml::Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleWire {
    tokenizer: Option<Tokenizer>,
    budget: Option<u64>,
    template: Option<toml::Spanned<String>>,
    max_file_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatesWire {
    jobs: Option<usize>,
    timeout: Option<toml::Spanned<String>>,
    grace: Option<toml::Spanned<String>>,
    keep_runs: Option<usize>,
    #[serde(default)]
    groups: std::collections::BTreeMap<String, GroupWire>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsWire {
    mode: Option<SecretsMode>,
}

/// Find the workspace root: `-C DIR`, else `ctx.toml` up the tree, else `domains/` up
/// the tree.
pub fn discover(explicit: Option<&Path>) -> Result<PathBuf, Box<Problem>> {
    let start = match explicit {
        Some(dir) => {
            return dir.canonicalize().map_err(|error| {
                Box::new(
                    Problem::unlocated(
                        "workspace::root",
                        format!(
                            "cannot use `{}` as the workspace root: {error}",
                            dir.display()
                        ),
                    )
                    .help("pass an existing folder to `-C/--root`"),
                )
            });
        }
        None => std::env::current_dir().map_err(|error| {
            Box::new(Problem::unlocated(
                "workspace::root",
                format!("cannot read the current folder: {error}"),
            ))
        })?,
    };
    let found = start
        .ancestors()
        .find(|dir| dir.join(SETTINGS_FILE).is_file())
        .or_else(|| start.ancestors().find(|dir| dir.join("domains").is_dir()));
    match found {
        Some(root) => root.canonicalize().map_err(|error| {
            Box::new(Problem::unlocated(
                "workspace::root",
                format!("cannot resolve `{}`: {error}", root.display()),
            ))
        }),
        None => Err(Box::new(Problem::unlocated(
            "workspace::not-found",
            format!(
                "no workspace found in `{}` or any parent folder",
                start.display()
            ),
        )
        .help("create `ctx.toml` (or a `domains/` folder) at the root of your workspace, or pass `-C DIR`"))),
    }
}

/// Read `<root>/ctx.toml` if it exists; problems are located in that file.
pub fn load(root: &Path) -> Result<Settings, Vec<Problem>> {
    let path = root.join(SETTINGS_FILE);
    if !path.exists() {
        return Ok(Settings::default());
    }
    // Opened only if it is a regular file: a FIFO or device there cannot block ctx.
    let text = crate::paths::open_regular(&path)
        .and_then(|(file, metadata)| crate::paths::read_opened(&file, &metadata, 1 << 20))
        .and_then(|bytes| String::from_utf8(bytes).map_err(std::io::Error::other))
        .map_err(|error| {
            vec![
                Problem::unlocated(
                    "settings::read",
                    format!("cannot read `{SETTINGS_FILE}`: {error}"),
                )
                .help("make sure the file is a readable UTF-8 text file"),
            ]
        })?;
    let file = Arc::new(SourceFile::new(
        String::from(SETTINGS_FILE),
        Arc::from(text.strip_prefix('\u{feff}').unwrap_or(&text)),
    ));
    let wire: SettingsWire = toml::from_str(&file.text).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        let location = Location::at_offset(&file, span.start, span.len());
        vec![toml_problem(error.message(), location)]
    })?;
    from_wire(wire, &file)
}

fn toml_problem(message: &str, location: Location) -> Problem {
    if let Some((unknown, expected)) = suggest::parse_unknown_field(message) {
        let problem = Problem::error(
            "settings::unknown-key",
            location,
            format!("unknown key `{unknown}` in `{SETTINGS_FILE}`"),
        )
        .label("unknown key");
        return suggest::with_did_you_mean(problem, &unknown, &expected, "valid keys");
    }
    Problem::error(
        "settings::invalid",
        location,
        format!(
            "invalid `{SETTINGS_FILE}`: {}",
            message.trim_end_matches('.')
        ),
    )
    .help("see the configuration reference in the README (`ctx.toml` section)")
}

fn from_wire(wire: SettingsWire, file: &Arc<SourceFile>) -> Result<Settings, Vec<Problem>> {
    let defaults = Settings::default();
    let mut problems = Vec::new();
    let mut duration = |value: Option<toml::Spanned<String>>, default: Duration, key: &str| {
        let Some(value) = value else {
            return default;
        };
        let parsed = if key == "store.keep" {
            crate::date::parse_age(value.get_ref().trim())
        } else {
            crate::date::parse_duration(value.get_ref().trim())
        };
        match parsed {
            Ok(parsed) => parsed,
            Err(error) => {
                let span = value.span();
                problems.push(
                    Problem::error(
                        "settings::duration",
                        Location::at_offset(file, span.start, span.len()),
                        format!("`{key}` is not a duration: {error}"),
                    )
                    .label("not a duration")
                    .help("write a number with a unit: \"90s\", \"10m\" or \"1h 30m\" (units: ms, s, m, h, d)"),
                );
                default
            }
        }
    };
    let timeout = duration(wire.gates.timeout, defaults.timeout, "gates.timeout");
    let grace = duration(wire.gates.grace, defaults.grace, "gates.grace");
    let store_keep = wire
        .store
        .keep
        .map(|keep| duration(Some(keep), Duration::ZERO, "store.keep"));
    let mut wire_hooks = wire.hooks;
    let hook_timeout = duration(
        wire_hooks.remove("timeout"),
        defaults.hook_timeout,
        "hooks.timeout",
    );
    let template = match wire.bundle.template {
        Some(template) => {
            let name = template.get_ref();
            if name.is_empty()
                || name.contains("..")
                || name.starts_with('/')
                || name.contains('\\')
            {
                let span = template.span();
                problems.push(
                    Problem::error(
                        "settings::template",
                        Location::at_offset(file, span.start, span.len()),
                        format!("`bundle.template` must be a file name inside `templates/`, not `{name}`"),
                    )
                    .help("name a file in `<root>/templates/`, such as \"bundle.md\""),
                );
            }
            template.into_inner()
        }
        None => defaults.template,
    };
    let config = match wire.workspace.config {
        Some(entries) if entries.is_empty() => {
            problems.push(
                Problem::error(
                    "settings::config",
                    Location::file_start(file),
                    "`workspace.config` is empty, so no config would be read",
                )
                .help("list the files or folders holding your YAML documents, e.g. [\"domains\"]"),
            );
            defaults.config
        }
        Some(entries) => entries.into_iter().map(toml::Spanned::into_inner).collect(),
        None => defaults.config,
    };
    let mut export_targets = Vec::new();
    for target in wire.export.targets.unwrap_or_default() {
        if !EXPORT_TARGETS.contains(&target.get_ref().as_str()) {
            let span = target.span();
            let known: Vec<String> = EXPORT_TARGETS
                .iter()
                .map(|name| (*name).to_owned())
                .collect();
            problems.push(super::suggest::with_did_you_mean(
                Problem::error(
                    "settings::export-target",
                    Location::at_offset(file, span.start, span.len()),
                    format!(
                        "`export.targets` names unknown target `{}`",
                        target.get_ref()
                    ),
                )
                .label("unknown target"),
                target.get_ref(),
                &known,
                "targets",
            ));
        }
        export_targets.push(target.into_inner());
    }
    let groups = groups(wire.gates.groups, file, &mut problems);
    let hooks = hooks(wire_hooks, file, &mut problems);
    let sources = sources(wire.sources, file, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Settings {
        keep_runs: wire.gates.keep_runs.unwrap_or(defaults.keep_runs).max(1),
        store_url: wire.store.url,
        store_keep,
        export_targets,
        groups,
        hooks,
        hook_timeout,
        name: wire.workspace.name,
        config,
        tokenizer: wire.bundle.tokenizer.unwrap_or(defaults.tokenizer),
        budget: wire.bundle.budget.unwrap_or(defaults.budget),
        template,
        max_file_bytes: wire
            .bundle
            .max_file_bytes
            .unwrap_or(defaults.max_file_bytes),
        jobs: wire.gates.jobs.unwrap_or(defaults.jobs),
        timeout,
        grace,
        secrets: wire.secrets.mode.unwrap_or(defaults.secrets),
        sources,
        source: Some(Arc::clone(file)),
    })
}

/// `[[sources]]`: names are unique identifiers; `path` stays inside the repository.
fn sources(
    wire: Vec<toml::Spanned<SourceWire>>,
    file: &Arc<SourceFile>,
    problems: &mut Vec<Problem>,
) -> Vec<SourceSpec> {
    let mut specs: Vec<SourceSpec> = Vec::new();
    for entry in wire {
        let span = entry.span();
        let at = Location::at_offset(file, span.start, span.len());
        let entry = entry.into_inner();
        let name_ok = !entry.name.is_empty()
            && entry
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let path = entry.path.unwrap_or_else(|| String::from("."));
        let problem = if !name_ok {
            Some((
                format!("source name `{}` is not a plain name", entry.name),
                "use letters, digits, `-` and `_` (it appears in provenance as `<name>@<commit>`)",
            ))
        } else if specs.iter().any(|spec| spec.name == entry.name) {
            Some((
                format!("two `[[sources]]` are named `{}`", entry.name),
                "give each source its own name",
            ))
        } else if entry.git.trim().is_empty() || entry.rev.trim().is_empty() {
            Some((
                format!("source `{}` needs `git` and `rev`", entry.name),
                "set `git` to a repository URL or path and `rev` to a tag, branch or commit",
            ))
        } else if path.starts_with('/') || path.split('/').any(|part| part == "..") {
            Some((
                format!(
                    "source `{}`: `path` must stay inside the repository, not `{path}`",
                    entry.name
                ),
                "name a folder of the repository, relative to its top, such as \"ctx\"",
            ))
        } else {
            None
        };
        if let Some((message, help)) = problem {
            problems.push(Problem::error("settings::source", at, message).help(help));
            continue;
        }
        specs.push(SourceSpec {
            name: entry.name,
            git: entry.git.trim().to_owned(),
            rev: entry.rev.trim().to_owned(),
            path: path.trim_matches('/').to_owned(),
        });
    }
    specs
}

/// `[gates.groups]`: each group's `max_jobs`, at least 1.
fn groups(
    wire: std::collections::BTreeMap<String, GroupWire>,
    file: &Arc<SourceFile>,
    problems: &mut Vec<Problem>,
) -> std::collections::BTreeMap<String, usize> {
    let mut groups = std::collections::BTreeMap::new();
    for (name, group) in wire {
        let max = *group.max_jobs.get_ref();
        if max == 0 {
            let span = group.max_jobs.span();
            problems.push(
                Problem::error(
                    "settings::group",
                    Location::at_offset(file, span.start, span.len()),
                    format!("`gates.groups.{name}.max_jobs` is 0, so its gates could never run"),
                )
                .help("set it to 1 or more"),
            );
        }
        groups.insert(name, max);
    }
    groups
}

/// `[hooks]`: a command per known event.
fn hooks(
    wire: std::collections::BTreeMap<String, toml::Spanned<String>>,
    file: &Arc<SourceFile>,
    problems: &mut Vec<Problem>,
) -> std::collections::BTreeMap<String, String> {
    let mut hooks = std::collections::BTreeMap::new();
    for (event, command) in wire {
        let span = command.span();
        if !HOOK_EVENTS.contains(&event.as_str()) {
            let known: Vec<String> = HOOK_EVENTS.iter().map(|name| (*name).to_owned()).collect();
            problems.push(super::suggest::with_did_you_mean(
                Problem::error(
                    "settings::hook",
                    Location::at_offset(file, span.start, span.len()),
                    format!("`hooks.{event}` is not an event ctx emits"),
                ),
                &event,
                &known,
                "events",
            ));
            continue;
        }
        hooks.insert(event, command.into_inner());
    }
    hooks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Result<Settings, Vec<Problem>> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SETTINGS_FILE), text).unwrap();
        load(dir.path())
    }

    #[test]
    fn every_key_of_the_spec_is_accepted() {
        let parsed = settings(
            r#"
[workspace]
name = "shop"
config = ["domains"]
[bundle]
tokenizer = "cl100k"
budget = 1000
template = "bundle.md"
max_file_bytes = 2048
[gates]
jobs = 3
timeout = "5m"
grace = "2s"
[secrets]
mode = "fail"
"#,
        )
        .unwrap();
        assert_eq!(parsed.tokenizer, Tokenizer::Cl100k);
        assert_eq!(parsed.budget, 1000);
        assert_eq!(parsed.jobs, 3);
        assert_eq!(parsed.timeout, Duration::from_secs(300));
        assert_eq!(parsed.grace, Duration::from_secs(2));
        assert_eq!(parsed.secrets, SecretsMode::Fail);
        assert_eq!(parsed.max_file_bytes, 2048);
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        let problems = settings("[gates]\ntimeot = \"5m\"\n").unwrap_err();
        let text = problems[0].to_string();
        assert!(
            text.starts_with("ctx.toml:2:1: error: unknown key `timeot`"),
            "{text}"
        );
        assert!(text.contains("did you mean `timeout`"), "{text}");
    }

    #[test]
    fn bad_duration_is_located_with_a_hint() {
        let problems = settings("[gates]\ntimeout = \"ten\"\n").unwrap_err();
        let text = problems[0].to_string();
        assert!(text.starts_with("ctx.toml:2:11:"), "{text}");
        assert!(text.contains("\"10m\""), "{text}");
    }
}
