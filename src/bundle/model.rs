//! `ctx.bundle/v1`: the bundle as data. JSON output serialises this directly (never a
//! template), and the Markdown template renders the same value.

use std::collections::BTreeMap;

use serde::Serialize;

use std::time::Duration;

use super::content::Content;
use crate::config::workspace::{LayerKind, LineRange, Section};
use crate::date::Date;
use crate::ids::{GateId, ItemId, LayerId};
use crate::resolve::merge::Status;

/// Where an item was declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OriginJson {
    /// Shared by the items declared in one file (a pattern's files are thousands).
    pub file: std::sync::Arc<str>,
    pub line: usize,
}

/// A duration as `ctx.bundle/v1` writes it: humantime's `1m 30s`.
fn as_humantime<S: serde::Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serializer.collect_str(&humantime::format_duration(*duration)),
        None => serializer.serialize_none(),
    }
}

/// Token totals by layer, written in the order of the layers' text ids.
fn by_layer_text<S: serde::Serializer>(
    totals: &BTreeMap<LayerId, usize>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let by_text: BTreeMap<String, usize> = totals
        .iter()
        .map(|(layer, tokens)| (layer.to_string(), *tokens))
        .collect();
    by_text.serialize(serializer)
}

/// A layer in the header.
#[derive(Debug, Clone, Serialize)]
pub struct LayerJson {
    pub kind: LayerKind,
    pub name: String,
    pub description: Option<String>,
    pub origin: OriginJson,
    pub tokens: usize,
    /// Why a layer the request did not name is in the bundle (a strategy that applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// One item of the bundle (a pattern file, constraint, gate or example file).
///
/// Serialised field by field in this order (see the `Serialize` impl below); the fields
/// most items leave empty live in [`Rare`], boxed, so that an item of a bundle of tens of
/// thousands of files stays small.
#[derive(Debug, Clone)]
pub struct ItemJson {
    /// Also the item's section, key and layer ([`ItemJson::section`], [`ItemJson::key`],
    /// [`ItemJson::layer`]), kept once.
    pub id: ItemId,
    pub origin: OriginJson,
    /// For files: the root-relative path, unless the id names the file (an item of one
    /// of a pattern's files): read it with [`ItemJson::path`].
    pub own_path: Option<std::sync::Arc<str>>,
    pub lines: Option<LineRange>,
    pub why: Option<String>,
    /// Constraints: the rule.
    pub text: Option<String>,
    pub topics: Vec<String>,
    pub tokens: usize,
    pub status: Status,
    pub overrides: Vec<OriginJson>,
    /// Fenced-code language (files).
    pub language: Option<&'static str>,
    /// The file content, when included (read from disk as it is written out).
    pub content: Option<Content>,
    /// What most items leave empty (`None`: all of it).
    pub rare: Option<Box<Rare>>,
}

/// The fields of an item that most items leave empty.
#[derive(Debug, Clone, Default)]
pub struct Rare {
    /// Gates: the command and how it runs.
    pub run: Option<String>,
    pub timeout: Option<Duration>,
    pub cwd: Option<String>,
    pub blocking: Option<bool>,
    /// Shared patterns: the publishing service (and others publishing the same).
    pub from_service: Option<String>,
    pub also_from: Vec<String>,
    pub expires: Option<Date>,
    pub overridden_by: Vec<OriginJson>,
    pub changed_by: Vec<OriginJson>,
    /// For a constraint whose text a later layer changed in place: where that text is
    /// written (`origin` stays where the item is declared).
    pub text_from: Option<OriginJson>,
    /// For a file another item inlines already (same file, same lines): that item. This
    /// one holds no content and counts 0.
    pub same_as: Option<ItemId>,
    /// Why the content is missing or altered (binary, too large, lossy UTF-8).
    pub note: Option<String>,
}

/// What [`ItemJson::rare`] reads for an item without rare fields.
static NO_RARE: Rare = Rare {
    run: None,
    timeout: None,
    cwd: None,
    blocking: None,
    from_service: None,
    also_from: Vec::new(),
    expires: None,
    overridden_by: Vec::new(),
    changed_by: Vec::new(),
    text_from: None,
    same_as: None,
    note: None,
};

impl ItemJson {
    pub fn section(&self) -> Section {
        self.id.section
    }

    pub fn key(&self) -> &str {
        &self.id.key
    }

    pub fn layer(&self) -> &LayerId {
        &self.id.layer
    }

    /// For files: the root-relative path.
    pub fn path(&self) -> Option<&str> {
        self.own_path.as_deref().or(self.id.file.as_deref())
    }

    /// [`ItemJson::path`], shared (with the tree's index and the file's content).
    pub fn shared_path(&self) -> Option<std::sync::Arc<str>> {
        self.own_path.clone().or_else(|| self.id.file.clone())
    }

    /// Its rare fields (all empty when it has none).
    pub fn rare(&self) -> &Rare {
        self.rare.as_deref().unwrap_or(&NO_RARE)
    }

    /// Its rare fields, to set one.
    pub fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }
}

impl Serialize for ItemJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        /// A field written only when it has a value, as `skip_serializing_if` would.
        fn optional<T: Serialize, M: serde::ser::SerializeStruct>(
            state: &mut M,
            name: &'static str,
            value: Option<T>,
        ) -> Result<(), M::Error> {
            match value {
                Some(value) => state.serialize_field(name, &value),
                None => state.skip_field(name),
            }
        }
        struct Range(LineRange);
        impl Serialize for Range {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(&self.0)
            }
        }
        struct Human(Duration);
        impl Serialize for Human {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(&humantime::format_duration(self.0))
            }
        }
        let rare = self.rare();
        let nonempty = |list: bool| list.then_some(());
        let mut state = serializer.serialize_struct("ItemJson", 27)?;
        state.serialize_field("id", &self.id)?;
        state.serialize_field("section", &self.id.section)?;
        state.serialize_field("key", &self.id.key)?;
        state.serialize_field("layer", &self.id.layer)?;
        state.serialize_field("origin", &self.origin)?;
        optional(&mut state, "path", self.path())?;
        optional(&mut state, "lines", self.lines.map(Range))?;
        optional(&mut state, "why", self.why.as_ref())?;
        optional(&mut state, "text", self.text.as_ref())?;
        optional(&mut state, "run", rare.run.as_ref())?;
        optional(&mut state, "timeout", rare.timeout.map(Human))?;
        optional(&mut state, "cwd", rare.cwd.as_ref())?;
        optional(&mut state, "blocking", rare.blocking)?;
        optional(&mut state, "from_service", rare.from_service.as_ref())?;
        optional(
            &mut state,
            "also_from",
            nonempty(!rare.also_from.is_empty()).map(|()| &rare.also_from),
        )?;
        optional(
            &mut state,
            "topics",
            nonempty(!self.topics.is_empty()).map(|()| &self.topics),
        )?;
        optional(&mut state, "expires", rare.expires)?;
        state.serialize_field("tokens", &self.tokens)?;
        state.serialize_field("status", &self.status)?;
        state.serialize_field("overrides", &self.overrides)?;
        optional(
            &mut state,
            "overridden_by",
            nonempty(!rare.overridden_by.is_empty()).map(|()| &rare.overridden_by),
        )?;
        optional(
            &mut state,
            "changed_by",
            nonempty(!rare.changed_by.is_empty()).map(|()| &rare.changed_by),
        )?;
        optional(&mut state, "text_from", rare.text_from.as_ref())?;
        optional(&mut state, "same_as", rare.same_as.as_ref())?;
        optional(&mut state, "note", rare.note.as_ref())?;
        optional(&mut state, "language", self.language.as_ref())?;
        optional(&mut state, "content", self.content.as_ref())?;
        state.end()
    }
}

/// A gate in the bundle's gate list.
#[derive(Debug, Clone, Serialize)]
pub struct GateJson {
    pub id: GateId,
    pub run: String,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_humantime"
    )]
    pub timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    pub blocking: bool,
    pub layer: LayerId,
    pub origin: OriginJson,
}

/// One validation entry of a phase: a gate (resolved) or prose.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationJson {
    Gate {
        name: String,
        id: Option<GateId>,
        run: Option<String>,
    },
    Prose {
        text: String,
    },
}

/// One step of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseJson {
    pub name: String,
    /// The strategy that declares it (`None`: the feature).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    pub description: Option<String>,
    pub domains: Vec<String>,
    pub patterns: Vec<PhasePatternJson>,
    pub constraints: Vec<PhaseConstraintJson>,
    pub validation: Vec<ValidationJson>,
    pub origin: OriginJson,
}

/// A pattern a phase names, resolved in the phase's domains.
#[derive(Debug, Clone, Serialize)]
pub struct PhasePatternJson {
    pub key: String,
    /// The bundle item holding it (`None` when it is not in this view).
    pub id: Option<ItemId>,
    pub path: Option<String>,
    pub status: Option<Status>,
}

/// What kind of bundle this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScopeKind {
    /// A declared feature.
    Feature,
    /// Domains chosen by keywords, `--domain` or `--service`.
    AdHoc,
    /// One service's federated context.
    Service,
    /// The owners of the files changed since a base (`--changed`).
    Changed,
}

impl ScopeKind {
    /// As serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Feature => "feature",
            Self::AdHoc => "ad-hoc",
            Self::Service => "service",
            Self::Changed => "changed",
        }
    }
}

/// The parent a bundle was handed from (`--from BUNDLE.json`, `--from-run RUN`).
#[derive(Debug, Clone, Serialize)]
pub struct ParentJson {
    /// The parent bundle's digest.
    pub digest: String,
    /// The parent bundle's token total.
    pub tokens: usize,
    /// The tokens of the chain up to and including the parent (its own `cumulative`,
    /// else its total): add this bundle's total for the chain's spend so far.
    pub cumulative: usize,
    /// Where it came from: the bundle file, or `run <id>`.
    pub from: String,
}

/// The change a bundle is for (`--changed`) or was handed (a hand-off's changes).
#[derive(Debug, Clone, Serialize)]
pub struct ChangesJson {
    /// The base as named or found.
    pub base: String,
    /// The merge base of the base and HEAD.
    pub merge_base: String,
    /// Every changed file, root-relative (their diffs are items of the execution layer).
    pub files: Vec<String>,
}

/// The domains and services a bundle covers.
#[derive(Debug, Clone, Serialize)]
pub struct ScopeJson {
    pub kind: ScopeKind,
    pub domains: Vec<String>,
    pub services: Vec<String>,
}

/// A constraint written inside a phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseConstraintJson {
    pub key: String,
    pub text: String,
}

/// A secret found (and redacted) in an inlined file.
#[derive(Debug, Clone, Serialize)]
pub struct SecretJson {
    pub path: String,
    pub line: usize,
    pub rule: &'static str,
    /// The bundle item whose content held it.
    pub item: ItemId,
}

/// Token accounting.
#[derive(Debug, Clone, Serialize)]
pub struct TokensJson {
    pub total: usize,
    /// 0 = unlimited.
    pub budget: u64,
    pub tokenizer: &'static str,
    #[serde(serialize_with = "by_layer_text")]
    pub by_layer: BTreeMap<LayerId, usize>,
    /// With a parent: the chain's tokens so far, the parent's `cumulative` plus `total`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cumulative: Option<usize>,
}

/// The whole bundle.
#[derive(Debug, Clone, Serialize)]
pub struct Bundle {
    pub schema: &'static str,
    pub feature: Option<String>,
    pub description: Option<String>,
    pub agent: Option<String>,
    pub scope: ScopeJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangesJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentJson>,
    pub inputs: BTreeMap<String, String>,
    pub layers: Vec<LayerJson>,
    pub items: Vec<ItemJson>,
    pub phases: Vec<PhaseJson>,
    pub quality_gates: Vec<GateJson>,
    pub tokens: TokensJson,
    pub notes: Vec<String>,
    /// Secrets found in inlined files (redacted in `content`): where and which rule,
    /// never the value.
    pub secrets: Vec<SecretJson>,
    /// `blake3:<hex>` of the bundle serialised with an empty digest.
    pub digest: String,
    /// For an ad-hoc bundle chosen by words: which domains matched which keywords (said
    /// on stderr; not part of the bundle).
    #[serde(skip)]
    pub matched: Vec<KeywordMatch>,
    /// Its Markdown document as counted, when it can be written as it is (not part of the
    /// bundle; see `document::Measured`).
    #[serde(skip)]
    pub measured: Option<std::sync::Arc<super::document::Measured>>,
}

/// A domain an ad-hoc bundle took because the words mentioned some of its keywords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordMatch {
    pub domain: String,
    pub keywords: Vec<String>,
}

impl Bundle {
    /// A copy of everything but the items (which are most of a large bundle).
    pub fn clone_without_items(&self) -> Self {
        Self {
            schema: self.schema,
            feature: self.feature.clone(),
            description: self.description.clone(),
            agent: self.agent.clone(),
            scope: self.scope.clone(),
            changes: self.changes.clone(),
            parent: self.parent.clone(),
            inputs: self.inputs.clone(),
            layers: self.layers.clone(),
            items: Vec::new(),
            phases: self.phases.clone(),
            quality_gates: self.quality_gates.clone(),
            tokens: self.tokens.clone(),
            notes: self.notes.clone(),
            secrets: self.secrets.clone(),
            digest: self.digest.clone(),
            matched: self.matched.clone(),
            measured: self.measured.clone(),
        }
    }

    /// For an ad-hoc bundle, the line that says so on stderr: what it was made from and
    /// which domains matched which words, so a typo never passes for a feature.
    pub fn ad_hoc_notice(&self) -> Option<String> {
        if self.scope.kind != ScopeKind::AdHoc {
            return None;
        }
        let flags = || {
            let mut flags: Vec<String> = self
                .scope
                .domains
                .iter()
                .map(|domain| format!("`--domain {domain}`"))
                .collect();
            flags.extend(
                self.scope
                    .services
                    .iter()
                    .map(|service| format!("`--service {service}`")),
            );
            flags.join(", ")
        };
        if self.matched.is_empty() {
            return Some(format!("note: ad-hoc bundle of {}", flags()));
        }
        let matched: Vec<String> = self
            .matched
            .iter()
            .map(|matched| format!("`{}` ({})", matched.domain, matched.keywords.join(", ")))
            .collect();
        let what = match (&self.feature, &self.description) {
            (Some(name), _) if name != "ad-hoc" => format!("`{name}` is not a declared feature: "),
            _ => String::new(),
        };
        Some(format!(
            "note: {what}ad-hoc bundle of the domains whose keywords the words mention: {}; `ctx list features` shows the declared features",
            matched.join(", ")
        ))
    }

    /// Compute and set the digest: blake3 over the canonical JSON with the digest empty,
    /// the token total 0, and each content replaced by the blake3 of its text (a Merkle
    /// digest: any change to any written byte changes it, without reading the files
    /// again). The total (and the cumulative total that adds the parent's) is left out
    /// because it counts the document, digest included; it follows from everything the
    /// digest covers.
    pub fn seal(&mut self) {
        self.digest.clear();
        let total = std::mem::take(&mut self.tokens.total);
        let cumulative = self.tokens.cumulative.take();
        let contents: Vec<Option<Content>> = self
            .items
            .iter_mut()
            .map(|item| item.content.take())
            .collect();
        let mut hasher = blake3::Hasher::new();
        // Writing into a hasher cannot fail, and these structures always serialise;
        // buffered, so the hasher sees large blocks rather than every JSON token.
        let mut buffered = std::io::BufWriter::with_capacity(1 << 16, &mut hasher);
        let _ = serde_json::to_writer(&mut buffered, self);
        let _ = std::io::Write::flush(&mut buffered);
        drop(buffered);
        for (item, content) in self.items.iter_mut().zip(contents) {
            match &content {
                Some(content) => hasher.update(content.digest().as_bytes()),
                None => hasher.update(&[0]),
            };
            item.content = content;
        }
        self.digest = format!("blake3:{}", hasher.finalize().to_hex());
        self.tokens.total = total;
        self.tokens.cumulative = cumulative;
    }
}
