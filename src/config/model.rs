//! Wire types: the YAML documents exactly as written, with the span of every value.
//!
//! These are the first of three stages (wire → [`super::validate`] → [`super::workspace`]).
//! They only describe shape: every struct denies unknown keys, and every value that a
//! diagnostic or a provenance record may point at is [`Spanned`]. Meaning (names exist,
//! paths are safe, dates parse) is checked by validation, which collects every problem.
//!
//! Short and long forms (`auth: path.py` vs `auth: { path: … }`) are read by hand-written
//! visitors rather than `#[serde(untagged)]`, which would lose spans and give vague errors.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, de::value::MapAccessDeserializer};

/// Where a value sits in its file, as reported by the YAML parser.
///
/// 32-bit fields (config files are at most 1 MiB): every config value carries one, and
/// a smaller `Pos` means less memory to fill and move while thousands of documents are
/// parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line (0 when unknown).
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Byte offset, when known.
    pub offset: Option<u32>,
    /// Length in bytes of the scalar, when known.
    pub len: u32,
}

/// A value with the position it was read from.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub pos: Pos,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        let location = spanned.referenced;
        let span = location.span();
        let narrow = |value: u64| u32::try_from(value).unwrap_or(u32::MAX);
        Ok(Self {
            value: spanned.value,
            pos: Pos {
                line: narrow(location.line()),
                column: narrow(location.column()),
                offset: span.byte_offset().map(narrow),
                len: span.byte_len().map_or(0, narrow),
            },
        })
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A YAML mapping kept in file order, with the span of every key.
///
/// Duplicate keys never reach this type: the parser rejects them (see `load.rs`).
#[derive(Debug, Clone)]
pub struct ItemMap<T> {
    pub entries: Vec<(Spanned<String>, Spanned<T>)>,
}

impl<T> Default for ItemMap<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ItemMap<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for MapVisitor<T> {
            type Value = ItemMap<T>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a mapping of keys to items")
            }

            // `patterns:` with nothing after it (everything commented out) is empty.
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ItemMap::default())
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ItemMap::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value = map.next_value::<Spanned<T>>()?;
                    entries.push((key, value));
                }
                Ok(ItemMap { entries })
            }
        }

        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for ItemMap<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("Map_of_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let item = generator.subschema_for::<T>();
        json_schema!({ "type": ["object", "null"], "additionalProperties": item })
    }
}

/// Fields every long-form item may carry (repeated in each struct: no `flatten`).
macro_rules! long_form_item {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($(#[$field_meta:meta])* pub $field:ident : $type:ty,)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$field_meta])* #[serde(default)] pub $field: $type,)*
            /// `false` removes an item inherited from a less specific layer.
            #[serde(default)]
            pub enabled: Option<Spanned<bool>>,
            /// `true`: no more specific layer may override or disable this item.
            #[serde(default, rename = "final")]
            pub is_final: Option<Spanned<bool>>,
            /// Routing tags: agents see items tagged with their topics, and untagged items.
            #[serde(default)]
            pub topics: Vec<Spanned<String>>,
            /// Private to these agents: never in the default bundle nor another agent's.
            #[serde(default)]
            pub audience: Vec<Spanned<String>>,
            /// YYYY-MM-DD; after this date the item is dropped with a warning.
            #[serde(default)]
            pub expires: Option<Spanned<String>>,
        }

        impl $name {
            /// The fields every long-form item shares.
            pub fn shared(&self) -> Shared<'_> {
                Shared {
                    enabled: self.enabled.as_ref(),
                    is_final: self.is_final.as_ref(),
                    topics: &self.topics,
                    audience: &self.audience,
                    expires: self.expires.as_ref(),
                }
            }
        }
    };
}

/// Borrowed view of the fields every long-form item shares.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shared<'a> {
    pub enabled: Option<&'a Spanned<bool>>,
    pub is_final: Option<&'a Spanned<bool>>,
    pub topics: &'a [Spanned<String>],
    pub audience: &'a [Spanned<String>],
    pub expires: Option<&'a Spanned<String>>,
}

long_form_item! {
    /// A pattern in long form.
    pub struct PatternLong {
        /// A file or glob, relative to the workspace root.
        pub path: Option<Spanned<String>>,
        /// An excerpt, `START-END` (1-based, inclusive) or a single line.
        pub lines: Option<Spanned<String>>,
        /// An excerpt that follows the code: from the line matching `start` to the next
        /// line matching `end` (instead of `lines`).
        pub anchor: Option<Spanned<Anchor>>,
        /// Shown next to the pattern.
        pub why: Option<Spanned<String>>,
    }
}

/// `anchor:` of a pattern: the excerpt runs from the one line matching `start` to the
/// next line matching `end` (both included).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    /// A regular expression matching exactly one line of the file: where the excerpt starts.
    pub start: Spanned<String>,
    /// A regular expression: the excerpt ends at the first line after the start matching it.
    pub end: Spanned<String>,
}

long_form_item! {
    /// A constraint in long form.
    pub struct ConstraintLong {
        /// The rule, in prose.
        pub text: Option<Spanned<String>>,
    }
}

long_form_item! {
    /// A quality gate in long form.
    pub struct GateLong {
        /// The command, run with `sh -c` from `cwd`.
        pub run: Option<Spanned<String>>,
        /// Per-attempt timeout, humantime syntax (`90s`, `5m`).
        pub timeout: Option<Spanned<String>>,
        /// Working folder, relative to the root (default: the root).
        pub cwd: Option<Spanned<String>>,
        /// Extra environment variables.
        pub env: ItemMap<String>,
        /// `false`: reported, never fails the run.
        pub blocking: Option<Spanned<bool>>,
        /// Cache a pass on these inputs: a list of globs, or `{ files: [globs], env: [VARS] }`.
        pub inputs: Option<Spanned<GateInputs>>,
        /// A resource group of `[gates.groups]` in `ctx.toml`: at most its `max_jobs` run at once.
        pub group: Option<Spanned<String>>,
        /// Run a failed gate again up to this many times; a pass after a retry is `flaky`.
        pub retries: Option<Spanned<u32>>,
    }
}

long_form_item! {
    /// An extension in long form: a command whose output enriches the bundle at build time.
    pub struct ExtensionLong {
        /// The command, run with `sh -c` from the workspace root, only when extensions are
        /// allowed (`--extensions`, `CTX_EXTENSIONS=1`).
        pub run: Option<Spanned<String>>,
        /// Hard timeout, humantime syntax (default 10s).
        pub timeout: Option<Spanned<String>>,
        /// `text` (stdout is one item) or `json` (stdout is a list of `{key, text}`).
        pub format: Option<Spanned<String>>,
        /// Shown next to the output.
        pub why: Option<Spanned<String>>,
    }
}

/// What a gate's cached pass is keyed on: files (globs) and environment variables.
#[derive(Debug, Clone, Default)]
pub struct GateInputs {
    pub files: Vec<Spanned<String>>,
    pub env: Vec<Spanned<String>>,
}

impl<'de> Deserialize<'de> for GateInputs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InputsVisitor;

        impl<'de> Visitor<'de> for InputsVisitor {
            type Value = GateInputs;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a list of globs, or a mapping with `files` and `env`")
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<GateInputs, A::Error> {
                let mut files = Vec::new();
                while let Some(glob) = seq.next_element::<Spanned<String>>()? {
                    files.push(glob);
                }
                Ok(GateInputs {
                    files,
                    env: Vec::new(),
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GateInputs, A::Error> {
                let mut inputs = GateInputs::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "files" => inputs.files = map.next_value()?,
                        "env" => inputs.env = map.next_value()?,
                        other => {
                            return Err(de::Error::unknown_field(other, &["files", "env"]));
                        }
                    }
                }
                Ok(inputs)
            }
        }

        deserializer.deserialize_any(InputsVisitor)
    }
}

impl JsonSchema for GateInputs {
    fn schema_name() -> Cow<'static, str> {
        "GateInputs".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Cache a pass on these inputs: a list of globs, or files and environment variables",
            "oneOf": [
                { "type": "array", "items": { "type": "string" } },
                {
                    "type": "object",
                    "properties": {
                        "files": { "type": "array", "items": { "type": "string" } },
                        "env": { "type": "array", "items": { "type": "string" } }
                    },
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// An item in short form (one string), long form (a mapping) or `null` (an error).
#[derive(Debug, Clone)]
pub enum ItemForm<L> {
    Short(String),
    /// A plain scalar the parser resolved as a boolean or number (`yes`, `0777`); its
    /// text is recovered from the source span, so nothing is coerced.
    Scalar,
    /// Boxed: long forms are hundreds of bytes, short forms a few words, and maps of
    /// items are moved through several layers of deserializers.
    Long(Box<L>),
    Null,
}

impl<'de, L: Deserialize<'de>> Deserialize<'de> for ItemForm<L> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FormVisitor<L>(PhantomData<L>);

        impl<'de, L: Deserialize<'de>> Visitor<'de> for FormVisitor<L> {
            type Value = ItemForm<L>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a string (short form) or a mapping (long form)")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(ItemForm::Short(value.to_owned()))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(ItemForm::Scalar)
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(ItemForm::Scalar)
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(ItemForm::Scalar)
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(ItemForm::Scalar)
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ItemForm::Null)
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ItemForm::Null)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                L::deserialize(MapAccessDeserializer::new(map))
                    .map(|long| ItemForm::Long(Box::new(long)))
            }
        }

        // Scalars that resolve to booleans or numbers arrive as `Scalar` and are read back
        // from the source text by validation.
        deserializer.deserialize_any(FormVisitor(PhantomData))
    }
}

impl<L: JsonSchema> JsonSchema for ItemForm<L> {
    fn schema_name() -> Cow<'static, str> {
        format!("{}_or_string", L::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let long = generator.subschema_for::<L>();
        json_schema!({ "anyOf": [{ "type": "string" }, long] })
    }
}

pub type Pattern = ItemForm<PatternLong>;
pub type Constraint = ItemForm<ConstraintLong>;
pub type Gate = ItemForm<GateLong>;
pub type Extension = ItemForm<ExtensionLong>;

/// `examples`: one folder/glob, or a list of them.
#[derive(Debug, Clone, Default)]
pub struct Examples {
    pub entries: Vec<Spanned<String>>,
}

impl<'de> Deserialize<'de> for Examples {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Read through `Spanned` so that the single-string form keeps its own span.
        let spanned = Spanned::<OneOrMany>::deserialize(deserializer)?;
        Ok(match spanned.value {
            OneOrMany::One(text) => Examples {
                entries: vec![Spanned {
                    value: text,
                    pos: spanned.pos,
                }],
            },
            OneOrMany::Many(examples) => examples,
        })
    }
}

/// Helper for [`Examples`]: the value before its span is attached.
enum OneOrMany {
    One(String),
    Many(Examples),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor;

        impl<'de> Visitor<'de> for OneOrManyVisitor {
            type Value = OneOrMany;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a folder or glob, or a list of them")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(OneOrMany::One(value.to_owned()))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OneOrMany::Many(Examples::default()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = seq.next_element::<Spanned<String>>()? {
                    entries.push(entry);
                }
                Ok(OneOrMany::Many(Examples { entries }))
            }
        }

        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

impl JsonSchema for Examples {
    fn schema_name() -> Cow<'static, str> {
        "Examples".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Folders or globs whose files are listed and inlined as the budget allows",
            "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }]
        })
    }
}

/// `kind: org`: the organisation-wide layer.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Org {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<Spanned<String>>,
    #[serde(default)]
    pub patterns: ItemMap<Pattern>,
    #[serde(default)]
    pub constraints: ItemMap<Constraint>,
    #[serde(default)]
    pub quality_gates: ItemMap<Gate>,
    #[serde(default)]
    pub examples: Examples,
    /// Commands whose output becomes items of this layer at build time (run only when
    /// allowed: `--extensions`).
    #[serde(default)]
    pub extensions: ItemMap<Extension>,
}

/// How a domain is recognised: keywords for ad-hoc features, paths for `--changed`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Match {
    #[serde(default)]
    pub keywords: Vec<Spanned<String>>,
    #[serde(default)]
    pub paths: Vec<Spanned<String>>,
}

/// `kind: domain`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<Spanned<String>>,
    #[serde(default)]
    pub owners: Vec<Spanned<String>>,
    #[serde(default, rename = "match")]
    pub matching: Option<Spanned<Match>>,
    #[serde(default)]
    pub patterns: ItemMap<Pattern>,
    #[serde(default)]
    pub constraints: ItemMap<Constraint>,
    #[serde(default)]
    pub quality_gates: ItemMap<Gate>,
    #[serde(default)]
    pub examples: Examples,
    /// Commands whose output becomes items of this layer at build time (run only when
    /// allowed: `--extensions`).
    #[serde(default)]
    pub extensions: ItemMap<Extension>,
}

/// `kind: service`: one unit of federation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<Spanned<String>>,
    #[serde(default)]
    pub domain: Option<Spanned<String>>,
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    #[serde(default)]
    pub paths: Vec<Spanned<String>>,
    #[serde(default)]
    pub local_patterns: ItemMap<Pattern>,
    #[serde(default)]
    pub shared_patterns: ItemMap<Pattern>,
    #[serde(default)]
    pub integration_patterns: ItemMap<Pattern>,
    #[serde(default)]
    pub constraints: ItemMap<Constraint>,
    #[serde(default)]
    pub quality_gates: ItemMap<Gate>,
    #[serde(default)]
    pub examples: Examples,
    /// Commands whose output becomes items of this layer at build time (run only when
    /// allowed: `--extensions`).
    #[serde(default)]
    pub extensions: ItemMap<Extension>,
}

/// One step of a feature's plan.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<Spanned<String>>,
    #[serde(default)]
    pub domains: Vec<Spanned<String>>,
    /// Pattern keys, resolved in the phase's domains.
    #[serde(default)]
    pub patterns: Vec<Spanned<String>>,
    #[serde(default)]
    pub constraints: ItemMap<Constraint>,
    /// Gate names (single words) or checks in prose (anything with a space).
    #[serde(default)]
    pub validation: Vec<Spanned<String>>,
}

/// `kind: feature`: a cross-domain piece of work.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Feature {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<Spanned<String>>,
    #[serde(default)]
    pub domains: Vec<Spanned<String>>,
    #[serde(default)]
    pub services: Vec<Spanned<String>>,
    /// Required inputs: key → description.
    #[serde(default)]
    pub inputs: ItemMap<String>,
    #[serde(default)]
    pub phases: Vec<Spanned<Phase>>,
    /// Token budget for this feature's bundle.
    #[serde(default)]
    pub budget: Option<Spanned<u64>>,
    /// Which patterns of its domains the feature takes: `all` (the default), or `named`:
    /// only those its phases name.
    #[serde(default)]
    #[schemars(schema_with = "domain_patterns_schema")]
    pub domain_patterns: Option<Spanned<String>>,
    #[serde(default)]
    pub patterns: ItemMap<Pattern>,
    #[serde(default)]
    pub constraints: ItemMap<Constraint>,
    #[serde(default)]
    pub quality_gates: ItemMap<Gate>,
    #[serde(default)]
    pub examples: Examples,
    /// Commands whose output becomes items of this layer at build time (run only when
    /// allowed: `--extensions`).
    #[serde(default)]
    pub extensions: ItemMap<Extension>,
}

fn domain_patterns_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "enum": ["all", "named", null],
        "description": "Which patterns of its domains the feature takes: `all` (the default), or `named`: only those its phases name."
    })
}

/// `kind: agent`: a view of the bundle for one role.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<Spanned<String>>,
    #[serde(default)]
    pub topics: Vec<Spanned<String>>,
    #[serde(default)]
    pub sections: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub budget: Option<Spanned<u64>>,
}

/// `kind: strategy`: what applies whenever a bundle's domains include all of `domains`,
/// whatever the feature is called (a synthesis layer right after the domains).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Strategy {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<Spanned<String>>,
    /// The domain set: the strategy applies to every bundle whose domains include them all.
    pub domains: Vec<Spanned<String>>,
    #[serde(default)]
    pub phases: Vec<Spanned<Phase>>,
    #[serde(default)]
    pub patterns: ItemMap<Pattern>,
    #[serde(default)]
    pub constraints: ItemMap<Constraint>,
    #[serde(default)]
    pub quality_gates: ItemMap<Gate>,
    #[serde(default)]
    pub examples: Examples,
    /// Commands whose output becomes items of this layer at build time (run only when
    /// allowed: `--extensions`).
    #[serde(default)]
    pub extensions: ItemMap<Extension>,
}

/// The document kinds, in layer order.
pub const KINDS: [&str; 6] = ["org", "domain", "strategy", "service", "feature", "agent"];

/// One YAML document, dispatched on its leading `kind:`.
#[derive(Debug, Clone)]
pub enum Document {
    Org(Org),
    Domain(Domain),
    Service(Service),
    Feature(Feature),
    Agent(Agent),
    Strategy(Strategy),
    /// `kind:` names no known kind (reported by validation, with `did you mean`).
    UnknownKind(Spanned<String>),
    /// The first key is not `kind` (its span), or the document is not a mapping.
    MissingKind(Option<Spanned<String>>),
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DocumentVisitor;

        impl<'de> Visitor<'de> for DocumentVisitor {
            type Value = Document;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a mapping starting with `kind:`")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Document::MissingKind(None))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let Some(first) = map.next_key::<Spanned<String>>()? else {
                    return Ok(Document::MissingKind(None));
                };
                if first.value != "kind" {
                    map.next_value::<IgnoredAny>()?;
                    drain(map)?;
                    return Ok(Document::MissingKind(Some(first)));
                }
                let kind = map.next_value::<Spanned<String>>()?;
                let rest = MapAccessDeserializer::new(map);
                Ok(match kind.value.as_str() {
                    "org" => Document::Org(Org::deserialize(rest)?),
                    "domain" => Document::Domain(Domain::deserialize(rest)?),
                    "service" => Document::Service(Service::deserialize(rest)?),
                    "feature" => Document::Feature(Feature::deserialize(rest)?),
                    "agent" => Document::Agent(Agent::deserialize(rest)?),
                    "strategy" => Document::Strategy(Strategy::deserialize(rest)?),
                    _ => {
                        IgnoredAny::deserialize(rest)?;
                        Document::UnknownKind(kind)
                    }
                })
            }
        }

        deserializer.deserialize_any(DocumentVisitor)
    }
}

fn drain<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}
