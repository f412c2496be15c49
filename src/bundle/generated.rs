//! Items made while the bundle is built rather than read from a file: the diff of each
//! changed file (`--changed`, and a hand-off's changes), the output tails of a parent
//! run's failed gates (`--from-run`), and what extensions print. Each is scanned for
//! secrets, counted (framed for the document being written, like a file), held in memory,
//! and from then on is an item like any pattern: budgeted, shed largest first with its
//! layer, listed with its status when it is left out.

use super::cache::TokenCache;
use super::content::{self, Content};
use super::measure::{self, Document};
use super::model::{ItemJson, LayerJson, OriginJson, ScopeKind, SecretJson};
use crate::config::settings::{SecretsMode, Tokenizer};
use crate::config::workspace::{ExtensionFormat, ExtensionItem, Section};
use crate::ids::{ItemId, LayerId};
use crate::resolve::merge::Status;

/// One item to make.
#[derive(Debug, Clone)]
pub struct Made {
    pub layer: LayerId,
    pub key: String,
    /// What it is about, shown where a pattern shows its file: the changed file, the
    /// failed gate's id. Items of one key are told apart by it.
    pub subject: Option<String>,
    /// What it is, in messages (secrets found in it): `the diff of src/a.py`.
    pub label: String,
    pub origin: OriginJson,
    pub why: Option<String>,
    /// The fence language: `diff`, `text`, `json`.
    pub language: &'static str,
    /// Topics an agent view filters it by (an extension's).
    pub topics: Vec<String>,
    pub text: Text,
}

/// What a made item holds.
#[derive(Debug, Clone)]
pub enum Text {
    /// The text to inline (before redaction).
    Made(String),
    /// Nothing to inline, with the status and why (an extension not run, or failed).
    Left(Status, String),
}

/// How made texts are scanned and counted.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub secrets: SecretsMode,
    pub tokenizer: Tokenizer,
    pub document: Document,
    pub max_bytes: u64,
}

/// The bundle item of `made`: its text redacted, counted and held; secrets found are
/// added to `found`.
pub fn item(
    made: Made,
    limits: Limits,
    cache: &mut TokenCache,
    found: &mut Vec<SecretJson>,
) -> ItemJson {
    let base = ItemId::new(made.layer.clone(), Section::Patterns, made.key.clone());
    let id = match &made.subject {
        Some(subject) => base.with_file(subject.clone()),
        None => base,
    };
    let mut item = ItemJson {
        id,
        origin: made.origin,
        own_path: None,
        lines: None,
        why: made.why,
        text: None,
        topics: made.topics,
        tokens: 0,
        status: Status::Included,
        overrides: Vec::new(),
        language: Some(made.language),
        content: None,
        rare: None,
    };
    // The configuration's own words (an extension's `why`) are scrubbed like a rule's.
    if limits.secrets != SecretsMode::Off
        && let Some(why) = &item.why
    {
        let (clean, findings) = crate::secrets::scrub(why);
        if !findings.is_empty() {
            found.extend(findings.iter().map(|finding| SecretJson {
                path: item.origin.file.to_string(),
                line: item.origin.line + finding.line - 1,
                rule: finding.rule,
                item: item.id.clone(),
            }));
            item.why = Some(clean);
        }
    }
    let text = match made.text {
        Text::Left(status, note) => {
            item.status = status;
            item.rare_mut().note = Some(note);
            return item;
        }
        Text::Made(text) if text.len() as u64 > limits.max_bytes => {
            item.status = Status::OmittedSize;
            item.rare_mut().note = Some(format!(
                "{} bytes, over `max_file_bytes` ({}): listed, not inlined",
                text.len(),
                limits.max_bytes
            ));
            return item;
        }
        Text::Made(text) => text,
    };
    let findings = match limits.secrets {
        SecretsMode::Off => Vec::new(),
        _ => crate::secrets::scan(&text),
    };
    let shown = made.label;
    found.extend(findings.iter().map(|finding| SecretJson {
        path: shown.clone(),
        line: finding.line,
        rule: finding.rule,
        item: item.id.clone(),
    }));
    let written = content::redacted(&text, &findings).into_owned();
    let count = cache.count(limits.tokenizer, &written);
    let framed = measure::framed(limits.tokenizer, limits.document, &written, count);
    item.tokens = count;
    item.content = Some(Content::held(&shown, written, framed));
    item
}

/// Put each made item among the items of its layer (after them), layers in bundle
/// order; an item of a layer the bundle does not have goes last.
pub fn place(items: &mut Vec<ItemJson>, made: Vec<ItemJson>, layers: &[LayerJson]) {
    let rank = |layer: &LayerId| {
        layers
            .iter()
            .position(|candidate| candidate.kind == layer.kind && *candidate.name == *layer.name)
            .unwrap_or(usize::MAX)
    };
    // Items are in layer order (merge rule 9), so the place is found by bisection.
    for item in made {
        let own = rank(item.layer());
        let at = items.partition_point(|other| rank(other.layer()) <= own);
        items.insert(at, item);
    }
}

/// An extension to run, with what the bundle is (its command gets this on stdin).
#[derive(Debug)]
pub struct Call<'a> {
    pub layer: &'a LayerId,
    pub extension: &'a ExtensionItem,
    /// The bundle's name (a feature, `ad-hoc`, a service, `changes`).
    pub bundle: &'a str,
    pub kind: ScopeKind,
    pub domains: Vec<String>,
    pub services: Vec<String>,
    pub agent: Option<&'a str>,
    pub inputs: &'a std::collections::BTreeMap<String, String>,
    /// At most this much of its output is kept.
    pub max_bytes: u64,
}

/// How an extension run ended.
#[derive(Debug)]
pub enum Ran {
    /// It exited 0 and printed this.
    Printed(Vec<u8>),
    /// It failed, timed out or could not start: why.
    Failed(String),
}

/// What runs an extension (the session's, through `process.rs`).
pub type Runner = std::sync::Arc<dyn Fn(&Call<'_>) -> Ran + Send + Sync>;

/// Whether a build runs extensions. A cloned repository's configuration is not trusted
/// to run commands: the default is not to.
#[derive(Clone, Default)]
pub enum Extensions {
    #[default]
    NotAllowed,
    Allowed(Runner),
}

impl std::fmt::Debug for Extensions {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::NotAllowed => "NotAllowed",
            Self::Allowed(_) => "Allowed",
        })
    }
}

/// How to allow extensions, said wherever one was not run.
pub const HOW_TO_ALLOW: &str = "extensions run only when allowed, with `--extensions` or `CTX_EXTENSIONS=1` (a cloned repository's configuration is not trusted to run commands)";

/// The items of one extension: not run (with how to allow it), failed (why), or what it
/// printed: one item (`text`), or one per entry of a JSON list of `{key, text}`.
pub fn extension_made(
    layer: &LayerId,
    extension: &ExtensionItem,
    origin: OriginJson,
    ran: Option<Ran>,
) -> Vec<Made> {
    let key = extension.meta.key.key().to_owned();
    let one = |subject: Option<String>, text: Text| Made {
        layer: layer.clone(),
        key: key.clone(),
        label: match &subject {
            Some(subject) => format!("the output of extension {key} ({subject})"),
            None => format!("the output of extension {key}"),
        },
        subject,
        origin: origin.clone(),
        why: extension.why.clone(),
        language: "text",
        topics: extension
            .meta
            .topics
            .iter()
            .map(ToString::to_string)
            .collect(),
        text,
    };
    let printed = match ran {
        None => {
            return vec![one(
                None,
                Text::Left(Status::Skipped, format!("not run: {HOW_TO_ALLOW}")),
            )];
        }
        Some(Ran::Failed(why)) => return vec![one(None, Text::Left(Status::OmittedError, why))],
        Some(Ran::Printed(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
    };
    match extension.format {
        ExtensionFormat::Text => vec![one(None, Text::Made(printed))],
        ExtensionFormat::Json => match parse_entries(&printed) {
            Ok(entries) => entries
                .into_iter()
                .map(|(entry, text)| one(Some(entry), Text::Made(text)))
                .collect(),
            Err(why) => vec![one(None, Text::Left(Status::OmittedError, why))],
        },
    }
}

/// `[{"key": "…", "text": "…"}, …]`: keys non-empty and distinct.
fn parse_entries(printed: &str) -> Result<Vec<(String, String)>, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        key: String,
        text: String,
    }
    let entries: Vec<Entry> = serde_json::from_str(printed).map_err(|error| {
        format!("`format: json`, but its output is not a JSON list of `{{key, text}}`: {error}")
    })?;
    let mut seen = std::collections::HashSet::new();
    for entry in &entries {
        if entry.key.is_empty() || !seen.insert(entry.key.as_str()) {
            return Err(format!(
                "`format: json`, but its output has an empty or repeated key `{}`",
                entry.key
            ));
        }
    }
    Ok(entries
        .into_iter()
        .map(|entry| (entry.key, entry.text))
        .collect())
}
