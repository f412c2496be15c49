//! Reading config files: discovery under the configured paths, limits, encodings, and
//! parsing into wire [`Document`]s with spans.
//!
//! Limits are enforced before and while parsing so a hostile file cannot exhaust time,
//! memory or the stack: size (checked from metadata before reading), nesting depth,
//! alias expansion and node count (serde-saphyr budgets). Encodings: a UTF-8 BOM is
//! accepted; UTF-16/32, NUL bytes and invalid UTF-8 are reported with a fix.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diagnostic::{Location, Problem, SourceFile};
use super::model::{Document, Pos};
use super::suggest;
use crate::paths;

/// Config files larger than this are rejected before they are read.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// Deepest nesting a config document may have (real ones need fewer than 10).
pub const MAX_DEPTH: usize = 64;
/// Most alias uses (`*name`) per file.
pub const MAX_ALIASES: usize = 1_000;

/// One parsed document and the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedDocument {
    pub file: Arc<SourceFile>,
    pub document: Document,
}

/// Everything read from the config paths.
#[derive(Debug, Default)]
pub struct Loaded {
    pub documents: Vec<LoadedDocument>,
    pub files: Vec<Arc<SourceFile>>,
    pub problems: Vec<Problem>,
    /// Documents that could not be read (their problems are in `problems`), by what
    /// they seem to declare: references to them are not reported again as unknown.
    pub broken: Vec<Broken>,
}

/// What a document that could not be read seems to declare (its top-level `kind:` and
/// `name:` lines; no name when that line cannot be found: then any name of the kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub kind: String,
    pub name: Option<String>,
}

impl Broken {
    /// Whether this could be the document of `kind` named `name`.
    pub fn could_be(&self, kind: &str, name: &str) -> bool {
        self.kind == kind && self.name.as_deref().is_none_or(|own| own == name)
    }
}

/// One file's documents, and the problems of those that could not be read.
#[derive(Debug, Default)]
struct Parsed {
    documents: Vec<Document>,
    problems: Vec<Problem>,
    broken: Vec<Broken>,
}

/// Read and parse every `*.yaml`/`*.yml` file under the configured paths.
pub fn load(
    root: &Path,
    config_paths: &[String],
    settings_file: Option<&Arc<SourceFile>>,
    sources: &[super::sources::Tree],
) -> Loaded {
    let mut loaded = Loaded::default();
    let mut files = find_config_files(root, config_paths, settings_file, &mut loaded.problems);
    files.extend(source_files(sources));
    if files.is_empty() && loaded.problems.is_empty() {
        loaded.problems.push(
            Problem::unlocated(
                "config::no-documents",
                format!(
                    "no `*.yaml` or `*.yml` files found under {}",
                    suggest::list(config_paths)
                ),
            )
            .help("add config documents there, or point `workspace.config` in `ctx.toml` at them"),
        );
    }
    // Files are independent: read and parse them on every core, then keep file order.
    let outcomes = crate::parallel::map(&files, |file| {
        read_source(file).map(|read| {
            let read = match &file.imported {
                Some(source) => Arc::new(SourceFile::imported(
                    read.path.clone(),
                    Arc::clone(&read.text),
                    source,
                )),
                None => read,
            };
            let parsed = parse_file(&read);
            (read, parsed)
        })
    });
    for outcome in outcomes {
        match outcome {
            Ok((file, parsed)) => {
                loaded
                    .documents
                    .extend(parsed.documents.into_iter().map(|document| LoadedDocument {
                        file: Arc::clone(&file),
                        document,
                    }));
                loaded.problems.extend(parsed.problems);
                loaded.broken.extend(parsed.broken);
                loaded.files.push(file);
            }
            Err(problem) => loaded.problems.push(*problem),
        }
    }
    loaded
}

/// Config files in a stable order: sorted by relative path, no duplicates.
fn find_config_files(
    root: &Path,
    config_paths: &[String],
    settings_file: Option<&Arc<SourceFile>>,
    problems: &mut Vec<Problem>,
) -> Vec<ConfigFile> {
    let mut files = Vec::new();
    let resolver = paths::Resolver::new(root);
    for entry in config_paths {
        let locate = || match settings_file {
            Some(file) => {
                let offset = file.text.find(&format!("\"{entry}\"")).unwrap_or(0);
                Some(Location::at_offset(file, offset, entry.len() + 2))
            }
            None => None,
        };
        let resolved = match resolver.resolve(entry) {
            Ok(resolved) => resolved,
            Err(error) => {
                let message = format!("config path `{entry}` {error}");
                problems.push(
                    match locate() {
                        Some(location) => Problem::error("settings::config", location, message),
                        None => Problem::unlocated("settings::config", message),
                    }
                    .help(error.help()),
                );
                continue;
            }
        };
        if resolved.is_file() {
            files.push(ConfigFile {
                relative: entry.trim_end_matches('/').to_owned(),
                path: resolved,
                seen_regular: true,
                imported: None,
            });
        } else if resolved.is_dir() {
            for (path, is_symlink) in paths::walk_files(&resolved) {
                let is_yaml = path
                    .extension()
                    .is_some_and(|extension| extension == "yaml" || extension == "yml");
                if is_yaml {
                    files.push(ConfigFile {
                        relative: paths::relative_display(root, &path),
                        path,
                        seen_regular: !is_symlink,
                        imported: None,
                    });
                }
            }
        } else {
            let message = format!("config path `{entry}` does not exist");
            problems.push(
                match locate() {
                    Some(location) => Problem::error("settings::config", location, message),
                    None => Problem::unlocated("settings::config", message),
                }
                .help("create it, or change `workspace.config` in `ctx.toml`"),
            );
        }
    }
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    files.dedup_by(|a, b| a.relative == b.relative);
    files
}

/// The documents of imported sources: the YAML files under each tree's document
/// folder, shown as `acme@1a2b3c4:<path in the repository>`.
fn source_files(sources: &[super::sources::Tree]) -> Vec<ConfigFile> {
    let mut files = Vec::new();
    for tree in sources {
        let folder = match tree.path.as_str() {
            "" | "." => tree.root.clone(),
            path => tree.root.join(path),
        };
        let mut found: Vec<ConfigFile> = paths::walk_tree_files(&folder)
            .into_iter()
            .filter(|(path, _)| {
                path.extension()
                    .is_some_and(|extension| extension == "yaml" || extension == "yml")
            })
            .map(|(path, is_symlink)| ConfigFile {
                relative: format!(
                    "{}:{}",
                    tree.label,
                    paths::relative_display(&tree.root, &path)
                ),
                path,
                seen_regular: !is_symlink,
                imported: Some(tree.name.clone()),
            })
            .collect();
        found.sort_by(|a, b| a.relative.cmp(&b.relative));
        files.extend(found);
    }
    files
}

/// A config file to read.
struct ConfigFile {
    /// The source it is imported from, if any.
    imported: Option<String>,
    /// Root-relative, as diagnostics name it.
    relative: String,
    path: PathBuf,
    /// Seen to be a regular file (not through a symlink) while the config paths were
    /// listed, so it can be opened without another look.
    seen_regular: bool,
}

/// Read one file as UTF-8 text within the size limit.
fn read_source(config: &ConfigFile) -> Result<Arc<SourceFile>, Box<Problem>> {
    let relative = config.relative.as_str();
    let unreadable = |error: std::io::Error| {
        Box::new(
            Problem::unlocated("config::read", format!("cannot read `{relative}`: {error}"))
                .help("check the file's permissions"),
        )
    };
    let not_a_file = || {
        Box::new(
            Problem::unlocated(
                "config::not-a-file",
                format!("`{relative}` is not a regular file"),
            )
            .help("config paths must hold regular YAML files"),
        )
    };
    // Anything not already seen to be a regular file is looked at before it is opened:
    // a FIFO or a device is never opened.
    if !config.seen_regular
        && !std::fs::metadata(&config.path)
            .map_err(unreadable)?
            .is_file()
    {
        return Err(not_a_file());
    }
    let (file, metadata) = match paths::open_seen_regular(&config.path) {
        Ok(opened) => opened,
        Err(error) if error.kind() == std::io::ErrorKind::InvalidInput => return Err(not_a_file()),
        Err(error) => return Err(unreadable(error)),
    };
    if metadata.len() > MAX_CONFIG_BYTES {
        return Err(Box::new(
            Problem::unlocated(
                "config::too-large",
                format!(
                    "`{relative}` is {} bytes; config files are limited to {MAX_CONFIG_BYTES} bytes (1 MiB)",
                    metadata.len()
                ),
            )
            .help("split it into several files, or move large data out of the config"),
        ));
    }
    let bytes = paths::read_opened(&file, &metadata, MAX_CONFIG_BYTES).map_err(unreadable)?;
    decode(bytes, relative)
}

/// Turn bytes into text, or explain what encoding problem the file has.
fn decode(bytes: Vec<u8>, relative: &str) -> Result<Arc<SourceFile>, Box<Problem>> {
    let utf16 = bytes.starts_with(&[0xFF, 0xFE])
        || bytes.starts_with(&[0xFE, 0xFF])
        || bytes.starts_with(&[0, 0, 0xFE, 0xFF])
        // BOM-less UTF-16: an ASCII first character followed by NUL.
        || (bytes.len() >= 2 && bytes[0] != 0 && bytes[1] == 0)
        || (bytes.len() >= 2 && bytes[0] == 0 && bytes[1] != 0);
    if utf16 {
        return Err(Box::new(
            Problem::unlocated(
                "config::encoding",
                format!("`{relative}` is UTF-16 or UTF-32 encoded"),
            )
            .help("save it as UTF-8 (most editors: \"Save with encoding\" → UTF-8)"),
        ));
    }
    let mut bytes = bytes;
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    let lossy = || {
        Arc::new(SourceFile::new(
            relative.to_owned(),
            Arc::from(String::from_utf8_lossy(&bytes).as_ref()),
        ))
    };
    if let Some(nul) = bytes.iter().position(|&byte| byte == 0) {
        let file = lossy();
        return Err(Box::new(
            Problem::error(
                "config::binary",
                Location::at_offset(&file, nul, 1),
                format!("binary data in config: `{relative}` contains a NUL byte"),
            )
            .label("NUL byte")
            .help("config files must be UTF-8 text; remove the NUL byte or the file"),
        ));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Arc::new(SourceFile::new(
            relative.to_owned(),
            Arc::from(text),
        ))),
        Err(error) => {
            let offset = error.utf8_error().valid_up_to();
            let bytes = error.into_bytes();
            let file = Arc::new(SourceFile::new(
                relative.to_owned(),
                Arc::from(String::from_utf8_lossy(&bytes).as_ref()),
            ));
            Err(Box::new(
                Problem::error(
                    "config::encoding",
                    Location::at_offset(&file, offset, 1),
                    format!("`{relative}` is not valid UTF-8"),
                )
                .label("invalid UTF-8 here")
                .help("save the file as UTF-8"),
            ))
        }
    }
}

fn parse_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_aliases: MAX_ALIASES,
            max_anchors: MAX_ALIASES,
            max_nodes: 250_000,
            max_documents: 10_000,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
            max_replay_stack_depth: 16,
            max_alias_expansions_per_anchor: 1_000,
        },
    }
}

fn blank(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---" || line == "..."
    })
}

/// A file's documents. One document that cannot be read does not take the others with
/// it: when the file as a whole does not parse, each document is parsed on its own
/// (at its place in the file, so locations stay true) and only the bad ones are
/// reported.
fn parse_file(file: &Arc<SourceFile>) -> Parsed {
    if blank(&file.text) {
        return Parsed {
            problems: vec![
                Problem::error(
                    "config::empty-file",
                    Location::file_start(file),
                    format!("`{}` holds no document", file.path),
                )
                .help("add a document starting with `kind:` and `name:`, or delete the file"),
            ],
            ..Parsed::default()
        };
    }
    let error =
        match serde_saphyr::from_multiple_with_options::<Document>(&file.text, parse_options()) {
            Ok(documents) => {
                return Parsed {
                    documents,
                    ..Parsed::default()
                };
            }
            Err(error) => error,
        };
    let ranges = document_ranges(&file.text);
    if ranges.len() <= 1 {
        return Parsed {
            problems: vec![parse_problem(file, &error)],
            broken: declared_by(&file.text).into_iter().collect(),
            ..Parsed::default()
        };
    }
    let mut parsed = Parsed::default();
    for range in ranges {
        let document = &file.text[range.clone()];
        if blank(document) {
            continue;
        }
        // The text before the document, blanked byte for byte (newlines kept): offsets,
        // lines and columns are those of the file.
        let mut text: String = file.text[..range.start]
            .bytes()
            .map(|byte| if byte == b'\n' { '\n' } else { ' ' })
            .collect();
        text.push_str(document);
        match serde_saphyr::from_str_with_options::<Document>(&text, parse_options()) {
            Ok(document) => parsed.documents.push(document),
            Err(error) => {
                parsed.problems.push(parse_problem(file, &error));
                parsed.broken.extend(declared_by(document));
            }
        }
    }
    parsed
}

/// Where each document of `text` is: from a `---` line at column 0 to the next.
fn document_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let marker = line
            .strip_prefix("---")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']));
        if marker && offset > 0 {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts
        .iter()
        .zip(starts.iter().skip(1).chain([&text.len()]))
        .map(|(&start, &end)| start..end)
        .collect()
}

/// The `kind:` and `name:` a document declares at its top level, read line by line
/// (for a document the parser could not read).
fn declared_by(document: &str) -> Option<Broken> {
    let value = |key: &str| {
        document.lines().find_map(|line| {
            let value = line.strip_prefix(key)?.split(" #").next()?.trim();
            let value = value.trim_matches(|c| c == '"' || c == '\'');
            (!value.is_empty()).then(|| value.to_owned())
        })
    };
    Some(Broken {
        kind: value("kind:")?,
        name: value("name:"),
    })
}

/// Decode and parse one config file's raw bytes, as `ctx` does for every file (size
/// limits aside): its documents, or the first problem. The entry point of the fuzz
/// target in `fuzz/`.
pub fn parse_bytes(path: &str, bytes: Vec<u8>) -> Result<Vec<Document>, Box<Problem>> {
    let file = decode(bytes, path)?;
    let parsed = parse_file(&file);
    match parsed.problems.into_iter().next() {
        Some(problem) => Err(Box::new(problem)),
        None => Ok(parsed.documents),
    }
}

/// Map a parser error to a located problem with a fix.
fn parse_problem(file: &Arc<SourceFile>, error: &serde_saphyr::Error) -> Problem {
    let location = match error.location() {
        Some(at) if at.line() > 0 => {
            let to_usize = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
            match at.span().byte_offset() {
                Some(offset) => Location::at_offset(
                    file,
                    to_usize(offset),
                    at.span().byte_len().map_or(0, to_usize),
                ),
                None => Location::at_line_column(file, to_usize(at.line()), to_usize(at.column())),
            }
        }
        _ => Location::file_start(file),
    };
    let message = strip_location_suffix(&error.without_snippet().to_string());
    if let Some((unknown, expected)) = suggest::parse_unknown_field(&message) {
        let line_number = location.line;
        let problem = Problem::error(
            "config::unknown-key",
            location,
            format!("unknown key `{unknown}`"),
        )
        .label("unknown key");
        let problem = suggest::with_did_you_mean(problem, &unknown, &expected, "valid keys here");
        // `c: {"bytes": base64} …` was meant as text, not as a mapping.
        let line = file
            .text
            .lines()
            .nth(line_number.saturating_sub(1))
            .unwrap_or("");
        return match quote_fix(line) {
            Some(fixed)
                if line
                    .split_once(": ")
                    .is_some_and(|(_, value)| value.trim_start().starts_with('{')) =>
            {
                problem.help_suffix(&format!("; if this is text, quote this value: `{fixed}`"))
            }
            _ => problem,
        };
    }
    if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key.split(',').next().unwrap_or(key).trim().to_owned();
        let mut problem = Problem::error(
            "config::duplicate-key",
            location.clone(),
            format!("duplicate key `{key}`"),
        )
        .label("defined again here")
        .help("a key may appear once per mapping; merge the two entries or rename one");
        if let Some(first) = first_occurrence(file, &location, &key) {
            problem = problem.related(first, format!("`{key}` first defined here"));
        }
        return problem;
    }
    let (code, mut help) = classify(&message);
    if matches!(code, "config::syntax" | "config::type") {
        let line = file
            .text
            .lines()
            .nth(location.line.saturating_sub(1))
            .unwrap_or("");
        if let Some(fixed) = quote_fix(line) {
            help = format!("quote this value: `{fixed}`");
        }
    }
    Problem::error(code, location, tidy(&message)).help(help)
}

/// `key: value` where an unquoted value holds `: `, `::` or starts with `{` (YAML reads a
/// mapping there): the line with the value quoted.
fn quote_fix(line: &str) -> Option<String> {
    let (key, value) = line.split_once(": ")?;
    let value = value.trim();
    let key = key.trim_end();
    if key.trim().is_empty()
        || value.is_empty()
        || value.starts_with(['"', '\'', '|', '>', '&', '*', '#'])
    {
        return None;
    }
    let needs = value.contains(": ") || value.contains("::") || value.starts_with('{');
    needs.then(|| {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        format!("{}: \"{escaped}\"", key.trim_start())
    })
}

/// Choose a code and a help line from the parser's message.
fn classify(message: &str) -> (&'static str, String) {
    let lower = message.to_lowercase();
    if lower.contains("tab") {
        return (
            "config::tab",
            String::from("indent with spaces; YAML does not allow tabs for indentation"),
        );
    }
    if lower.contains("budget")
        || lower.contains("depth")
        || lower.contains("alias")
        || lower.contains("limit")
    {
        return (
            "config::limit",
            format!(
                "config documents are limited to nesting depth {MAX_DEPTH} and {MAX_ALIASES} aliases per file; simplify the document"
            ),
        );
    }
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        return (
            "config::missing-key",
            format!("add `{field}:` to this document"),
        );
    }
    if lower.contains("invalid type") || lower.contains("expected") {
        let hint = if lower.contains("u64") || lower.contains("integer") {
            "write a whole number, e.g. `40000`"
        } else if lower.contains("bool") {
            "write `true` or `false`"
        } else if lower.contains("sequence") {
            "write a list, e.g. `[a, b]`"
        } else if lower.contains("string") {
            "write a single string (quote it if it contains `:` or starts with a special character)"
        } else {
            "see `ctx schema` for the expected shape of each key"
        };
        return ("config::type", String::from(hint));
    }
    (
        "config::syntax",
        String::from("fix the YAML syntax at this location"),
    )
}

/// serde-saphyr appends " at line L, column C"; the location is shown separately.
fn strip_location_suffix(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) if message[index..].contains("column") => message[..index].to_owned(),
        _ => message.to_owned(),
    }
}

/// Messages are lowercase without a trailing period, and name Rust types the YAML way.
fn tidy(message: &str) -> String {
    let message = message.trim().trim_end_matches('.');
    let message = message
        .replace("u64", "whole number")
        .replace("usize", "whole number")
        .replace("a boolean", "`true` or `false`");
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => message,
    }
}

/// Find where `key` was first written in the same block mapping as the duplicate at
/// `duplicate`: the nearest earlier line at the same indentation starting with `key:`.
fn first_occurrence(file: &Arc<SourceFile>, duplicate: &Location, key: &str) -> Option<Location> {
    let lines: Vec<&str> = file.text.lines().collect();
    let duplicate_line = duplicate.line.checked_sub(1)?;
    let indent = duplicate.column.checked_sub(1)?;
    let candidates = [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ];
    for index in (0..duplicate_line).rev() {
        let line = lines.get(index)?;
        let this_indent = line.len() - line.trim_start().len();
        let content = line.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if content == "---" {
            return None;
        }
        if this_indent < indent {
            return None; // left the mapping
        }
        if this_indent == indent
            && candidates
                .iter()
                .any(|candidate| content.starts_with(candidate.as_str()))
        {
            return Some(Location::token_at(file, index + 1, indent + 1));
        }
    }
    None
}

/// The location of a spanned value in `file`.
pub fn locate(file: &Arc<SourceFile>, pos: Pos) -> Location {
    let widen = |value: u32| usize::try_from(value).unwrap_or(usize::MAX);
    match pos.offset {
        Some(offset) => Location::at_offset(file, widen(offset), widen(pos.len)),
        None => Location::at_line_column(file, widen(pos.line.max(1)), widen(pos.column.max(1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Loaded {
        let file = Arc::new(SourceFile::new(String::from("t.yaml"), Arc::from(text)));
        let mut loaded = Loaded::default();
        let parsed = parse_file(&file);
        loaded
            .documents
            .extend(parsed.documents.into_iter().map(|document| LoadedDocument {
                file: Arc::clone(&file),
                document,
            }));
        loaded.problems.extend(parsed.problems);
        loaded.broken.extend(parsed.broken);
        loaded
    }

    #[test]
    fn duplicate_keys_cite_both_locations() {
        let loaded = parse("kind: domain\nname: x\npatterns:\n  a: b.py\n  a: c.py\n");
        let problem = &loaded.problems[0];
        assert_eq!(problem.code, "config::duplicate-key");
        let text = problem.to_string();
        assert!(
            text.starts_with("t.yaml:5:3: error: duplicate key `a`"),
            "{text}"
        );
        assert!(
            text.contains("t.yaml:4:3: `a` first defined here"),
            "{text}"
        );
    }

    #[test]
    fn yaml_11_scalars_stay_strings() {
        let loaded = parse("kind: domain\nname: x\nconstraints:\n  on: yes\n  mode: 0777\n");
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        let Document::Domain(domain) = &loaded.documents[0].document else {
            panic!("not a domain")
        };
        let keys: Vec<_> = domain
            .constraints
            .entries
            .iter()
            .map(|(key, _)| key.value.as_str())
            .collect();
        assert_eq!(keys, ["on", "mode"]);
        // Resolved as scalars, recovered from the source by validation (see convert.rs).
        let raw: Vec<&str> = domain
            .constraints
            .entries
            .iter()
            .map(|(_, value)| {
                let at = locate(&loaded.documents[0].file, value.pos);
                &loaded.documents[0].file.text[at.offset..at.offset + at.len]
            })
            .collect();
        assert_eq!(raw, ["yes", "0777"]);
    }

    #[test]
    fn encodings_are_explained() {
        let utf16: Vec<u8> = "kind: org\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let error = decode([vec![0xFF, 0xFE], utf16].concat(), "a.yaml").unwrap_err();
        assert!(error.help.as_deref().unwrap_or("").contains("UTF-8"));
        let error = decode(b"kind: org\nname: \xff\n".to_vec(), "a.yaml").unwrap_err();
        assert_eq!(
            error.location.as_ref().map(|at| (at.line, at.column)),
            Some((2, 7))
        );
        let bom = decode(b"\xEF\xBB\xBFkind: org\n".to_vec(), "a.yaml").unwrap();
        assert!(bom.text.starts_with("kind"));
    }
}
