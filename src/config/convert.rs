//! Wire items → domain items, checking each field where it is written: item keys,
//! `null` items, dates, `lines`, timeouts, paths (syntax and, on disk, existence, globs,
//! symlinks, `lines` ranges). Cross-document checks live in `validate.rs`.

use std::sync::Arc;

use super::diagnostic::{Location, Problem, SourceFile};
use super::load::locate;
use super::model::{self, ItemForm, ItemMap, Spanned};
use super::suggest;
use super::workspace::{
    AgentName, ConstraintItem, EXTENSION_TIMEOUT, ExampleItem, ExtensionFormat, ExtensionItem,
    GateInputs, GateItem, ItemKey, ItemMeta, Items, LineRange, Origin, PatternItem, Section, Topic,
};
use crate::date::Date;
use crate::paths::{self, PathError, Resolver};

/// Converts the fields of one file's documents, collecting problems.
pub struct Converter<'a> {
    pub file: Arc<SourceFile>,
    pub resolver: &'a Resolver,
    pub max_file_bytes: u64,
    /// Declared agent names, for `audience`.
    pub agents: &'a [String],
    /// Gate groups declared in `ctx.toml`.
    pub groups: &'a [String],
    pub problems: &'a mut Vec<Problem>,
}

/// Whether a document may write qualified `<layer>/<key>` keys (services and features).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRule {
    PlainOnly,
    QualifiedAllowed,
}

impl Converter<'_> {
    /// The text of a scalar exactly as written (for `ItemForm::Scalar`).
    fn raw(&self, pos: model::Pos) -> String {
        let location = self.locate(pos);
        self.file.text[location.offset..location.offset + location.len]
            .trim()
            .to_owned()
    }

    /// The short form's text, or `None` for a long form or `null`.
    fn short<L>(&self, form: &ItemForm<L>, pos: model::Pos) -> Option<String> {
        match form {
            ItemForm::Short(text) => Some(text.clone()),
            ItemForm::Scalar => Some(self.raw(pos)),
            ItemForm::Long(_) | ItemForm::Null => None,
        }
    }

    pub fn locate(&self, pos: model::Pos) -> Location {
        locate(&self.file, pos)
    }

    pub fn origin(&self, pos: model::Pos) -> Origin {
        let location = self.locate(pos);
        Origin {
            file: self.file.path.clone(),
            line: location.line,
            column: location.column,
        }
    }

    fn error(&mut self, code: &'static str, pos: model::Pos, message: String, help: &str) {
        let problem = Problem::error(code, self.locate(pos), message).help(help);
        self.problems.push(problem);
    }

    /// Check a document name against `[a-z0-9][a-z0-9_-]*`.
    pub fn name(&mut self, name: &Spanned<String>, kind: &str) -> String {
        if !is_valid_name(&name.value) {
            self.error(
                "config::name",
                name.pos,
                format!("{kind} name `{}` is not valid", name.value),
                "names use lowercase letters, digits, `_` and `-`, and start with a letter or digit",
            );
        }
        name.value.clone()
    }

    /// Parse an item key; `/` marks a qualified key where allowed.
    fn key(&mut self, key: &Spanned<String>, rule: KeyRule) -> Option<ItemKey> {
        let text = key.value.trim();
        if text.is_empty() || text.chars().any(char::is_whitespace) {
            self.error(
                "config::item-key",
                key.pos,
                format!("item key `{}` must be one word", key.value),
                "use letters, digits, `_`, `-` and `.` in item keys",
            );
            return None;
        }
        let allowed = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        };
        if !text.split('/').all(|part| part.is_empty() || allowed(part)) {
            self.error(
                "config::item-key",
                key.pos,
                format!("item key `{}` has a character outside `A-Z a-z 0-9 _ - .`", key.value),
                "keys are ASCII so that two keys never look alike (a Cyrillic `е` beside a Latin `e`); rename it",
            );
            return None;
        }
        if text.len() > 128 {
            self.error(
                "config::item-key",
                key.pos,
                format!(
                    "item key `{}…` is {} bytes long, over the limit of 128",
                    &text[..32],
                    text.len()
                ),
                "keys name files (gate logs) and ids: keep them short",
            );
            return None;
        }
        match text.split_once('/') {
            None => Some(ItemKey::Plain(text.to_owned())),
            Some(_) if rule == KeyRule::PlainOnly => {
                self.error(
                    "config::qualified-key",
                    key.pos,
                    format!("qualified key `{text}` is only allowed in services and features"),
                    "an org or domain item overrides nothing by qualified key; remove the `<layer>/` prefix",
                );
                None
            }
            Some((layer, rest)) if layer.is_empty() || rest.is_empty() || rest.contains('/') => {
                self.error(
                    "config::qualified-key",
                    key.pos,
                    format!("qualified key `{text}` must be `<layer>/<key>`"),
                    "write the layer's name, one `/`, then the item's key, e.g. `orders/email-compiles`",
                );
                None
            }
            Some((layer, rest)) => Some(ItemKey::Qualified {
                layer: layer.to_owned(),
                key: rest.to_owned(),
            }),
        }
    }

    fn date(&mut self, value: Option<&Spanned<String>>) -> Option<Date> {
        let value = value?;
        let parsed = Date::parse(value.value.trim());
        if parsed.is_none() {
            self.error(
                "config::date",
                value.pos,
                format!("`expires: {}` is not a date", value.value),
                "write the date as YYYY-MM-DD, e.g. `2027-06-30`",
            );
        }
        parsed
    }

    fn meta(&mut self, key: ItemKey, key_pos: model::Pos, shared: model::Shared<'_>) -> ItemMeta {
        let model::Shared {
            enabled,
            is_final,
            topics,
            audience,
            expires,
        } = shared;
        for agent in audience {
            if !self.agents.contains(&agent.value) {
                let problem = Problem::error(
                    "config::unknown-agent",
                    self.locate(agent.pos),
                    format!("`audience` names unknown agent `{}`", agent.value),
                )
                .label("unknown agent");
                let problem = super::suggest::with_did_you_mean(
                    problem,
                    &agent.value,
                    self.agents,
                    "declared agents",
                );
                self.problems.push(problem);
            }
        }
        ItemMeta {
            key,
            origin: self.origin(key_pos),
            enabled: enabled.map(|flag| flag.value),
            is_final: is_final.is_some_and(|flag| flag.value),
            topics: topics
                .iter()
                .map(|topic| Topic::new(topic.value.clone()))
                .collect(),
            audience: audience
                .iter()
                .map(|agent| AgentName::new(agent.value.clone()))
                .collect(),
            expires: self.date(expires),
        }
    }

    fn null_item(&mut self, section: Section, key: &Spanned<String>, value_pos: model::Pos) {
        let location = self.locate(value_pos);
        let location = if location.len == 0 {
            self.locate(key.pos)
        } else {
            location
        };
        self.problems.push(
            Problem::error(
                "config::null-item",
                location,
                format!("`{}.{}` is null", section.as_str(), key.value),
            )
            .label("null item")
            .help(format!(
                "to remove an inherited item write `{}: {{ enabled: false }}`; otherwise give it a value",
                key.value
            )),
        );
    }

    /// Keys of one section that differ only by case are an error: they would look like
    /// one item and collide in file names.
    fn case_clashes<T>(&mut self, map: &ItemMap<T>) {
        let mut seen: Vec<(String, model::Pos, &str)> = Vec::new();
        for (key, _) in &map.entries {
            let folded = key.value.trim().to_ascii_lowercase();
            if let Some((_, first, first_text)) = seen
                .iter()
                .find(|(other, _, text)| *other == folded && *text != key.value.trim())
            {
                let problem = Problem::error(
                    "config::item-key",
                    self.locate(key.pos),
                    format!(
                        "keys `{first_text}` and `{}` differ only by case",
                        key.value.trim()
                    ),
                )
                .related(self.locate(*first), "the other one")
                .help("rename one of them; keys are compared ignoring case");
                self.problems.push(problem);
                continue;
            }
            seen.push((folded, key.pos, key.value.trim()));
        }
    }

    pub fn patterns(&mut self, map: &ItemMap<model::Pattern>, rule: KeyRule) -> Vec<PatternItem> {
        self.case_clashes(map);
        let mut items = Vec::new();
        for (key, value) in &map.entries {
            let Some(item_key) = self.key(key, rule) else {
                continue;
            };
            let item = match &value.value {
                ItemForm::Null => {
                    self.null_item(Section::Patterns, key, value.pos);
                    continue;
                }
                ItemForm::Short(_) | ItemForm::Scalar => {
                    let path = self.sourced(&Spanned {
                        value: self.short(&value.value, value.pos).unwrap_or_default(),
                        pos: value.pos,
                    });
                    self.pattern_path(&path, None);
                    PatternItem {
                        meta: self.meta(item_key, key.pos, model::Shared::default()),
                        path: Some(path.value),
                        lines: None,
                        anchor: None,
                        why: None,
                    }
                }
                ItemForm::Long(long) => {
                    let long_path = long.path.as_ref().map(|path| self.sourced(path));
                    let mut lines = long.lines.as_ref().and_then(|lines| self.line_range(lines));
                    if let (Some(anchor), Some(path)) = (&long.anchor, &long_path) {
                        if let Some(spanned) = &long.lines {
                            self.error(
                                "config::lines-and-anchor",
                                spanned.pos,
                                String::from("a pattern has `lines` or `anchor`, not both"),
                                "keep `anchor` (it follows the code as it moves) and drop `lines`",
                            );
                        }
                        lines = self.anchored(path, anchor);
                    } else if let Some(anchor) = &long.anchor {
                        self.error(
                            "config::anchor-without-path",
                            anchor.pos,
                            String::from("`anchor` needs a `path`"),
                            "add `path:` next to `anchor:`",
                        );
                    }
                    if let Some(path) = &long_path {
                        // An anchored range was found in the file just read: it fits.
                        let written = lines.filter(|_| long.anchor.is_none());
                        self.pattern_path(
                            path,
                            written.map(|range| {
                                (range, long.lines.as_ref().map_or(path.pos, |l| l.pos))
                            }),
                        );
                    } else if let Some(spanned) = &long.lines {
                        self.error(
                            "config::lines-without-path",
                            spanned.pos,
                            String::from("`lines` needs a `path`"),
                            "add `path:` next to `lines:`",
                        );
                    }
                    PatternItem {
                        meta: self.meta(item_key, key.pos, long.shared()),
                        path: long_path.map(|path| path.value),
                        lines,
                        anchor: long.anchor.as_ref().map(|anchor| {
                            format!("{} … {}", anchor.value.start.value, anchor.value.end.value)
                        }),
                        why: long.why.as_ref().map(|why| why.value.trim().to_owned()),
                    }
                }
            };
            items.push(item);
        }
        items
    }

    pub fn constraints(
        &mut self,
        map: &ItemMap<model::Constraint>,
        rule: KeyRule,
    ) -> Vec<ConstraintItem> {
        self.case_clashes(map);
        let mut items = Vec::new();
        for (key, value) in &map.entries {
            let Some(item_key) = self.key(key, rule) else {
                continue;
            };
            let item = match &value.value {
                ItemForm::Null => {
                    self.null_item(Section::Constraints, key, value.pos);
                    continue;
                }
                ItemForm::Short(_) | ItemForm::Scalar => ConstraintItem {
                    meta: self.meta(item_key, key.pos, model::Shared::default()),
                    text: self
                        .short(&value.value, value.pos)
                        .map(|text| text.trim().to_owned()),
                },
                ItemForm::Long(long) => ConstraintItem {
                    meta: self.meta(item_key, key.pos, long.shared()),
                    text: long.text.as_ref().map(|text| text.value.trim().to_owned()),
                },
            };
            items.push(item);
        }
        items
    }

    pub fn gates(&mut self, map: &ItemMap<model::Gate>, rule: KeyRule) -> Vec<GateItem> {
        self.case_clashes(map);
        let mut items = Vec::new();
        for (key, value) in &map.entries {
            let Some(item_key) = self.key(key, rule) else {
                continue;
            };
            let item = match &value.value {
                ItemForm::Null => {
                    self.null_item(Section::QualityGates, key, value.pos);
                    continue;
                }
                ItemForm::Short(_) | ItemForm::Scalar => GateItem {
                    meta: self.meta(item_key, key.pos, model::Shared::default()),
                    run: self.short(&value.value, value.pos),
                    timeout: None,
                    cwd: None,
                    env: Vec::new(),
                    blocking: None,
                    inputs: None,
                    group: None,
                    retries: None,
                },
                ItemForm::Long(long) => {
                    for (name, value) in &long.env.entries {
                        if name.value.is_empty()
                            || name.value.contains(['=', '\0'])
                            || value.value.contains('\0')
                        {
                            self.error(
                                "config::gate-env",
                                name.pos,
                                format!("`env` entry `{}` cannot be set: a name is non-empty without `=` or NUL, and a value has no NUL", name.value.escape_debug()),
                                "name the variable plainly, e.g. `RUST_LOG: debug`",
                            );
                        }
                    }
                    let timeout =
                        long.timeout.as_ref().and_then(
                            |timeout| match crate::date::parse_duration(timeout.value.trim()) {
                                Ok(duration) => Some(duration),
                                Err(error) => {
                                    self.error(
                                        "config::duration",
                                        timeout.pos,
                                        format!(
                                            "`timeout: {}` is not a duration: {error}",
                                            timeout.value
                                        ),
                                        "write a number with a unit: `90s`, `10m` or `1h 30m` (units: ms, s, m, h, d)",
                                    );
                                    None
                                }
                            },
                        );
                    if let Some(cwd) = &long.cwd {
                        self.folder(cwd, "cwd");
                    }
                    if let Some(run) = &long.run
                        && run.value.trim().is_empty()
                    {
                        self.error(
                            "config::empty-run",
                            run.pos,
                            String::from("`run` is empty"),
                            "write the command to run, e.g. `pytest tests/`",
                        );
                    }
                    GateItem {
                        meta: self.meta(item_key, key.pos, long.shared()),
                        run: long.run.as_ref().map(|run| run.value.clone()),
                        timeout,
                        cwd: long.cwd.as_ref().map(|cwd| cwd.value.clone()),
                        env: long
                            .env
                            .entries
                            .iter()
                            .map(|(name, value)| (name.value.clone(), value.value.clone()))
                            .collect(),
                        blocking: long.blocking.as_ref().map(|flag| flag.value),
                        inputs: long.inputs.as_ref().map(|inputs| self.gate_inputs(inputs)),
                        group: long.group.as_ref().map(|group| self.gate_group(group)),
                        retries: long.retries.as_ref().map(|retries| retries.value),
                    }
                }
            };
            items.push(item);
        }
        items
    }

    /// A gate's `inputs`: globs checked for syntax (they may match nothing yet), and
    /// variable names that can be set.
    fn gate_inputs(&mut self, inputs: &Spanned<model::GateInputs>) -> GateInputs {
        if inputs.value.files.is_empty() && inputs.value.env.is_empty() {
            self.error(
                "config::gate-inputs",
                inputs.pos,
                String::from("`inputs` names no files and no variables"),
                "list the globs the gate reads, e.g. `inputs: [\"src/**\", \"Cargo.lock\"]`, or remove `inputs` (the gate then always runs)",
            );
        }
        for glob in &inputs.value.files {
            if let Err(error) = paths::check_syntax(&glob.value) {
                self.path_error(glob, "inputs", &error);
            }
        }
        for name in &inputs.value.env {
            if name.value.is_empty() || name.value.contains(['=', '\0']) {
                self.error(
                    "config::gate-inputs",
                    name.pos,
                    format!("`{}` is not an environment variable name", name.value),
                    "name a variable, e.g. `RUSTFLAGS`",
                );
            }
        }
        GateInputs {
            files: inputs
                .value
                .files
                .iter()
                .map(|glob| glob.value.clone())
                .collect(),
            env: inputs
                .value
                .env
                .iter()
                .map(|name| name.value.clone())
                .collect(),
        }
    }

    /// A gate's `group`, which `[gates.groups]` in `ctx.toml` must declare.
    fn gate_group(&mut self, group: &Spanned<String>) -> String {
        if !self.groups.contains(&group.value) {
            let known: Vec<String> = self.groups.to_vec();
            let problem = Problem::error(
                "config::gate-group",
                self.locate(group.pos),
                format!("gate group `{}` is not declared", group.value),
            )
            .label("unknown group")
            .help(format!(
                "declare it in `ctx.toml`: `[gates.groups] {} = {{ max_jobs = 1 }}`",
                group.value
            ));
            self.problems.push(suggest::with_did_you_mean(
                problem,
                &group.value,
                &known,
                "groups",
            ));
        }
        group.value.clone()
    }

    /// A path as written in this document, as the workspace knows it: inside the source's
    /// tree (`@<name>/…`) for an imported document, else relative to the root. An
    /// absolute path or `..` is left as written, for the path checks to refuse.
    fn sourced(&self, path: &Spanned<String>) -> Spanned<String> {
        match &self.file.imported {
            Some(source) if !path.value.starts_with(['/', '~', '@']) => Spanned {
                value: format!(
                    "{}{}",
                    paths::source_prefix(source),
                    path.value.trim_start_matches("./")
                ),
                pos: path.pos,
            },
            _ => path.clone(),
        }
    }

    pub fn examples(&mut self, examples: &model::Examples) -> Vec<ExampleItem> {
        let mut items = Vec::new();
        for entry in &examples.entries {
            let entry = &self.sourced(entry);
            if paths::is_glob(&entry.value) {
                self.glob(entry, "examples");
            } else {
                match self.resolver.resolve(&entry.value) {
                    Ok(_) => {}
                    Err(error) => self.path_error(entry, "examples", &error),
                }
            }
            items.push(ExampleItem {
                path: entry.value.clone(),
                origin: self.origin(entry.pos),
            });
        }
        items
    }

    /// All items of one document.
    pub fn items(
        &mut self,
        patterns: &ItemMap<model::Pattern>,
        constraints: &ItemMap<model::Constraint>,
        gates: &ItemMap<model::Gate>,
        examples: &model::Examples,
        extensions: &ItemMap<model::Extension>,
        rule: KeyRule,
    ) -> Items {
        Items {
            patterns: self.patterns(patterns, rule),
            constraints: self.constraints(constraints, rule),
            quality_gates: self.gates(gates, rule),
            examples: self.examples(examples),
            extensions: self.extensions(extensions, patterns),
        }
    }

    /// A document's `extensions`: plain keys, distinct from its pattern keys (both are
    /// pattern items of the layer in a bundle), a command, a timeout, a format.
    pub fn extensions(
        &mut self,
        map: &ItemMap<model::Extension>,
        patterns: &ItemMap<model::Pattern>,
    ) -> Vec<ExtensionItem> {
        self.case_clashes(map);
        let mut found = Vec::new();
        for (key, value) in &map.entries {
            let Some(item_key) = self.key(key, KeyRule::PlainOnly) else {
                continue;
            };
            if patterns
                .entries
                .iter()
                .any(|(pattern, _)| pattern.value == key.value)
            {
                self.error(
                    "config::extension-key",
                    key.pos,
                    format!("extension `{}` has the key of a pattern of this document", key.value),
                    "extensions and patterns are both pattern items of the layer; give the extension its own key",
                );
                continue;
            }
            let (run, long) = match &value.value {
                ItemForm::Null => (None, None),
                ItemForm::Short(_) | ItemForm::Scalar => {
                    (self.short(&value.value, value.pos), None)
                }
                ItemForm::Long(long) => {
                    (long.run.as_ref().map(|run| run.value.clone()), Some(long))
                }
            };
            let Some(run) = run.filter(|run| !run.trim().is_empty()) else {
                self.error(
                    "config::extension-run",
                    key.pos,
                    format!("extension `{}` has no command", key.value),
                    "write the command whose output to add, e.g. `recent: git log --oneline -10 -- src/payment`",
                );
                continue;
            };
            let timeout = long
                .and_then(|long| long.timeout.as_ref())
                .and_then(|timeout| match crate::date::parse_duration(timeout.value.trim()) {
                    Ok(duration) if !duration.is_zero() => Some(duration),
                    Ok(_) | Err(_) => {
                        self.error(
                            "config::duration",
                            timeout.pos,
                            format!("`timeout: {}` is not a duration above zero", timeout.value),
                            "write a number with a unit: `5s`, `30s` or `1m` (units: ms, s, m, h, d)",
                        );
                        None
                    }
                })
                .unwrap_or(EXTENSION_TIMEOUT);
            let format = match long.and_then(|long| long.format.as_ref()) {
                None => ExtensionFormat::Text,
                Some(format) => match format.value.as_str() {
                    "text" => ExtensionFormat::Text,
                    "json" => ExtensionFormat::Json,
                    other => {
                        self.error(
                            "config::extension-format",
                            format.pos,
                            format!("`format: {other}` is not an extension format"),
                            "write `format: text` (the output is one item) or `format: json` (a list of `{key, text}`)",
                        );
                        ExtensionFormat::Text
                    }
                },
            };
            let shared = long.map(|long| long.shared()).unwrap_or_default();
            found.push(ExtensionItem {
                meta: self.meta(item_key, key.pos, shared),
                run,
                timeout,
                format,
                why: long
                    .and_then(|long| long.why.as_ref())
                    .map(|why| why.value.trim().to_owned()),
            });
        }
        found
    }

    fn line_range(&mut self, lines: &Spanned<String>) -> Option<LineRange> {
        let text = lines.value.trim();
        let parsed = match text.split_once('-') {
            Some((start, end)) => start.trim().parse().ok().zip(end.trim().parse().ok()),
            None => text.parse().ok().map(|line| (line, line)),
        };
        match parsed {
            Some((start, end)) if start >= 1 && start <= end => Some(LineRange { start, end }),
            _ => {
                self.error(
                    "config::lines",
                    lines.pos,
                    format!("`lines: {}` is not a line range", lines.value),
                    "write `START-END` with 1 <= START <= END, e.g. `10-60`, or a single line number",
                );
                None
            }
        }
    }

    /// The lines an anchor selects in the pattern's file, or a located error saying what
    /// the expressions found.
    fn anchored(
        &mut self,
        path: &Spanned<String>,
        anchor: &Spanned<model::Anchor>,
    ) -> Option<LineRange> {
        let compile = |this: &mut Self, expression: &Spanned<String>, which: &str| {
            match regex::Regex::new(&expression.value) {
                Ok(compiled) => Some(compiled),
                Err(error) => {
                    let detail = error.to_string();
                    let last = detail.lines().last().unwrap_or("invalid").trim().to_owned();
                    this.error(
                        "config::anchor",
                        expression.pos,
                        format!("`anchor.{which}` is not a regular expression: {last}"),
                        "write a regular expression (Rust `regex` syntax) matching one line; escape `(`, `[`, `.` and `*` to match them literally",
                    );
                    None
                }
            }
        };
        let start = compile(self, &anchor.value.start, "start");
        let end = compile(self, &anchor.value.end, "end");
        let (start, end) = (start?, end?);
        if paths::is_glob(&path.value) {
            self.error(
                "config::anchor-with-glob",
                anchor.pos,
                String::from("`anchor` needs a single file, but `path` is a glob"),
                "point `path` at one file, or drop `anchor`",
            );
            return None;
        }
        let (resolved, _) = self.resolver.resolve_metadata(&path.value).ok()?;
        let text = match paths::read_text(&resolved, self.max_file_bytes) {
            Ok(text) => text,
            Err(error) => {
                self.error(
                    "config::unreadable",
                    path.pos,
                    format!("cannot read `{}`: {error}", path.value),
                    "check the file's permissions and type (only regular files are read)",
                );
                return None;
            }
        };
        let lines: Vec<&str> = text.lines().collect();
        let starts: Vec<usize> = (0..lines.len())
            .filter(|&index| start.is_match(lines[index]))
            .collect();
        let shown = |indices: &[usize]| {
            indices
                .iter()
                .take(5)
                .map(|&index| format!("{} (`{}`)", index + 1, lines[index].trim()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let first = match starts.as_slice() {
            [one] => *one,
            [] => {
                self.error(
                    "config::anchor",
                    anchor.value.start.pos,
                    format!(
                        "`anchor.start` matches no line of `{}` ({} lines)",
                        path.value,
                        lines.len()
                    ),
                    "make `start` match the first line of the excerpt as the file reads now",
                );
                return None;
            }
            many => {
                self.error(
                    "config::anchor",
                    anchor.value.start.pos,
                    format!(
                        "`anchor.start` matches {} lines of `{}`: {}",
                        many.len(),
                        path.value,
                        shown(many)
                    ),
                    "make `start` match exactly one line (add more of that line, or `^` and `$`)",
                );
                return None;
            }
        };
        let Some(last) = (first + 1..lines.len()).find(|&index| end.is_match(lines[index])) else {
            self.error(
                "config::anchor",
                anchor.value.end.pos,
                format!(
                    "`anchor.end` matches no line after line {} (`{}`) of `{}`",
                    first + 1,
                    lines[first].trim(),
                    path.value
                ),
                "make `end` match the last line of the excerpt (for a block, often `^}`)",
            );
            return None;
        };
        Some(LineRange {
            start: first + 1,
            end: last + 1,
        })
    }

    /// A pattern's path: a file or a glob; with `lines`, a single file long enough.
    fn pattern_path(&mut self, path: &Spanned<String>, lines: Option<(LineRange, model::Pos)>) {
        if paths::is_glob(&path.value) {
            self.glob(path, "path");
            if let Some((_, lines_pos)) = lines {
                self.error(
                    "config::lines-with-glob",
                    lines_pos,
                    String::from("`lines` needs a single file, but `path` is a glob"),
                    "point `path` at one file, or drop `lines`",
                );
            }
            return;
        }
        let resolved = match self.resolver.indexed_file(&path.value) {
            // A regular file inside the root when the tree was walked: nothing to look up.
            Some(indexed) => indexed,
            None => {
                let (resolved, metadata) = match self.resolver.resolve_metadata(&path.value) {
                    Ok(found) => found,
                    Err(error) => return self.path_error(path, "path", &error),
                };
                // No metadata: the path is the root itself, a folder.
                let Some(metadata) = metadata.filter(|metadata| !metadata.is_dir()) else {
                    self.error(
                        "config::path-is-folder",
                        path.pos,
                        format!("pattern path `{}` is a folder", path.value),
                        &format!(
                            "patterns name files; use a glob such as `{}/**/*` or list it under `examples`",
                            path.value.trim_end_matches('/')
                        ),
                    );
                    return;
                };
                // Lines are counted by reading, and only regular files are ever opened.
                if lines.is_some() && !metadata.is_file() {
                    self.error(
                        "config::unreadable",
                        path.pos,
                        format!("cannot read `{}`: {}", path.value, paths::not_regular()),
                        "check the file's permissions and type (only regular files are read)",
                    );
                    return;
                }
                resolved
            }
        };
        let Some((range, lines_pos)) = lines else {
            // Not read here, but it must be readable when bundled.
            if let Err(errno) = nix::unistd::access(&resolved, nix::unistd::AccessFlags::R_OK) {
                self.error(
                    "config::unreadable",
                    path.pos,
                    format!("cannot read `{}`: {}", path.value, errno.desc()),
                    "make the file readable by whoever runs ctx (e.g. `chmod a+r`), or remove the entry",
                );
            }
            return;
        };
        // Counting lines reads the file; stay within the bundle's size limit.
        match paths::count_lines(&resolved, self.max_file_bytes) {
            Ok(count) if range.end > count => self.error(
                "config::lines-range",
                lines_pos,
                format!(
                    "`lines: {range}` is past the end of `{}` ({count} lines)",
                    path.value
                ),
                &format!("use a range within 1-{count}"),
            ),
            Ok(_) => {}
            Err(error) => self.error(
                "config::unreadable",
                path.pos,
                format!("cannot read `{}`: {error}", path.value),
                "check the file's permissions and type (only regular files are read)",
            ),
        }
    }

    fn glob(&mut self, pattern: &Spanned<String>, what: &str) {
        match self.resolver.expand_glob(&pattern.value) {
            Ok(matches) if matches.is_empty() => self.error(
                "config::glob-no-match",
                pattern.pos,
                format!("glob `{}` matches no file", pattern.value),
                "fix the glob, or remove the entry; `*` stays within a folder, `**` crosses folders",
            ),
            Ok(matches) => {
                for failed in matches.into_iter().filter_map(Result::err) {
                    let (file, error) = failed;
                    self.error(
                        "config::path",
                        pattern.pos,
                        format!("`{file}` (matched by `{}`) {error}", pattern.value),
                        &error.help(),
                    );
                }
            }
            Err(error) => self.path_error(pattern, what, &error),
        }
    }

    fn folder(&mut self, path: &Spanned<String>, what: &str) {
        match self.resolver.resolve_kind(&path.value) {
            Ok((_, true)) => {}
            Ok(_) => self.error(
                "config::not-a-folder",
                path.pos,
                format!("`{what}: {}` is not a folder", path.value),
                "point it at a folder inside the workspace",
            ),
            Err(error) => self.path_error(path, what, &error),
        }
    }

    pub fn path_error(&mut self, path: &Spanned<String>, what: &str, error: &PathError) {
        // In an imported document, the path as written, and the source's tree for a root.
        if let Some(source) = self.file.imported.clone()
            && let Some(written) = path.value.strip_prefix(&paths::source_prefix(&source))
        {
            let message = format!("`{what}: {written}` {error}").replace(
                "the workspace root",
                &format!("the tree of source `{source}`"),
            );
            let help = error.help().replace(
                "the workspace root",
                &format!("the tree of source `{source}`"),
            );
            let code = match error {
                PathError::NotFound => "config::missing-file",
                _ => "config::path",
            };
            self.error(code, path.pos, message, &help);
            return;
        }
        let code = match error {
            PathError::NotFound => "config::missing-file",
            _ => "config::path",
        };
        let help = match error {
            PathError::NotFound => nearest_file(self.resolver.root(), &path.value).map(|near| {
                format!("did you mean `{near}`? Paths are relative to the workspace root")
            }),
            PathError::Absolute => std::path::Path::new(&path.value)
                .strip_prefix(self.resolver.root())
                .ok()
                .and_then(|relative| relative.to_str())
                .filter(|relative| !relative.is_empty())
                .map(|relative| format!("write it relative to the workspace root: `{relative}`")),
            _ => None,
        };
        self.error(
            code,
            path.pos,
            format!("`{what}: {}` {error}", path.value),
            &help.unwrap_or_else(|| error.help()),
        );
    }
}

/// For a path that does not exist: the nearest existing file of a similar name, in the
/// same folder or, when the folder is missing, in the nearest existing folder above it.
fn nearest_file(root: &std::path::Path, path: &str) -> Option<String> {
    let wanted = std::path::Path::new(path);
    let name = wanted.file_name()?.to_str()?;
    let mut folder = wanted.parent();
    while let Some(current) = folder {
        let full = root.join(current);
        if full.is_dir() {
            let entries: Vec<String> = std::fs::read_dir(&full)
                .ok()?
                .filter_map(Result::ok)
                .filter_map(|entry| entry.file_name().into_string().ok())
                .collect();
            let near = super::suggest::closest(name, entries.iter().map(String::as_str));
            let best = near.first()?;
            let joined = current.join(best);
            return joined.to_str().map(str::to_owned);
        }
        folder = current.parent();
    }
    None
}

/// `[a-z0-9][a-z0-9_-]*`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first.is_ascii_digit())
        && chars.all(|rest| {
            rest.is_ascii_lowercase() || rest.is_ascii_digit() || rest == '_' || rest == '-'
        })
}

/// Input keys are set with `--set KEY=VALUE`: letters, digits, `_` and `-`.
pub fn is_valid_input(key: &str) -> bool {
    !key.is_empty()
        && key.chars().all(|character| {
            character.is_ascii_alphanumeric() || character == '_' || character == '-'
        })
}

/// The environment variable a feature input reaches gates as: `ticket` → `CTX_INPUT_TICKET`,
/// `base-url` → `CTX_INPUT_BASE_URL`.
pub fn input_variable(key: &str) -> String {
    let name: String = key
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() {
                character.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("CTX_INPUT_{name}")
}
