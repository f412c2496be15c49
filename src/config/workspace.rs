//! Domain types: a validated workspace. If a value of these types exists, it is valid.
//!
//! Produced by [`super::validate`] from the wire documents; consumed by the commands.
//! Every declaration and item keeps its [`Origin`], so provenance is data.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::settings::Settings;
use crate::date::Date;
use crate::paths::Resolver;

/// Where something was declared: root-relative file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Origin {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}:{}", self.file, self.line, self.column)
    }
}

macro_rules! name_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wrap a name that validation has checked.
            pub(crate) fn new(name: impl Into<String>) -> Self {
                Self(name.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// The org layer's name.
    OrgName
);
name_type!(
    /// A domain's name.
    DomainName
);
name_type!(
    /// A service's name.
    ServiceName
);
name_type!(
    /// A feature's name.
    FeatureName
);
name_type!(
    /// A strategy's name.
    StrategyName
);
name_type!(
    /// An agent's name.
    AgentName
);
name_type!(
    /// A topic tag.
    Topic
);

/// Layer kinds, least to most specific (the derive order is the precedence order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    Org,
    Domain,
    /// A strategy: what applies where a set of domains meets.
    Strategy,
    Integration,
    Service,
    Feature,
    /// What a bundle is given at build time: a change in progress (`--changed`), or a
    /// parent's execution (`--from-run`, `--from`). The most specific layer.
    Execution,
}

impl LayerKind {
    /// The kind as written in ids: `org`, `domain`, `integration`, `service`, `feature`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Org => "org",
            Self::Domain => "domain",
            Self::Strategy => "strategy",
            Self::Integration => "integration",
            Self::Service => "service",
            Self::Feature => "feature",
            Self::Execution => "execution",
        }
    }

    /// The kind in prose: "integration layer" rather than "integration".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Integration => "integration layer",
            other => other.as_str(),
        }
    }
}

/// The sections an item can live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Patterns,
    Constraints,
    QualityGates,
    Examples,
}

impl Section {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Patterns => "patterns",
            Self::Constraints => "constraints",
            Self::QualityGates => "quality_gates",
            Self::Examples => "examples",
        }
    }
}

/// What an agent's `sections` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentSection {
    Patterns,
    Constraints,
    QualityGates,
    Examples,
    Phases,
}

/// An item's key: plain (overrides along the lineage) or qualified `<layer>/<key>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum ItemKey {
    Plain(String),
    Qualified { layer: String, key: String },
}

impl ItemKey {
    /// The key without its layer qualifier.
    pub fn key(&self) -> &str {
        match self {
            Self::Plain(key) | Self::Qualified { key, .. } => key,
        }
    }
}

impl fmt::Display for ItemKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain(key) => formatter.write_str(key),
            Self::Qualified { layer, key } => write!(formatter, "{layer}/{key}"),
        }
    }
}

/// What every item carries besides its payload.
#[derive(Debug, Clone, Serialize)]
pub struct ItemMeta {
    pub key: ItemKey,
    pub origin: Origin,
    /// `Some(false)` removes an inherited item; `None` = not said.
    pub enabled: Option<bool>,
    pub is_final: bool,
    pub topics: Vec<Topic>,
    pub audience: Vec<AgentName>,
    pub expires: Option<Date>,
}

/// A reference file (or glob, or excerpt).
#[derive(Debug, Clone, Serialize)]
pub struct PatternItem {
    pub meta: ItemMeta,
    /// `None` only for an item that changes an inherited one.
    pub path: Option<String>,
    /// The excerpt: as written (`lines`), or where the anchor finds it now.
    pub lines: Option<LineRange>,
    /// The anchor that found `lines`, as written: `start … end`.
    pub anchor: Option<String>,
    pub why: Option<String>,
}

/// `lines: 10-60` (1-based, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineRange {
    pub start: usize,
    pub end: usize,
}

impl fmt::Display for LineRange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}-{}", self.start, self.end)
    }
}

/// A rule in prose.
#[derive(Debug, Clone, Serialize)]
pub struct ConstraintItem {
    pub meta: ItemMeta,
    pub text: Option<String>,
}

/// A quality gate.
#[derive(Debug, Clone, Serialize)]
pub struct GateItem {
    pub meta: ItemMeta,
    pub run: Option<String>,
    #[serde(with = "humantime_serde_option")]
    pub timeout: Option<Duration>,
    pub cwd: Option<String>,
    pub env: Vec<(String, String)>,
    pub blocking: Option<bool>,
    /// What a cached pass is keyed on (`None`: never cached).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<GateInputs>,
    /// Its resource group (`[gates.groups]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// How many times a failure is run again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

/// A gate's declared inputs: file globs and environment variable names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GateInputs {
    pub files: Vec<String>,
    pub env: Vec<String>,
}

mod humantime_serde_option {
    use std::time::Duration;

    use serde::Serializer;

    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => {
                serializer.serialize_str(&humantime::format_duration(*duration).to_string())
            }
            None => serializer.serialize_none(),
        }
    }
}

/// An extension: a command whose output becomes items of its layer at build time.
#[derive(Debug, Clone, Serialize)]
pub struct ExtensionItem {
    pub meta: ItemMeta,
    pub run: String,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    pub format: ExtensionFormat,
    pub why: Option<String>,
}

/// How an extension's stdout is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExtensionFormat {
    /// The whole output is one item.
    Text,
    /// A JSON list of `{key, text}`: one item each.
    Json,
}

/// An extension's timeout when it names none.
pub const EXTENSION_TIMEOUT: Duration = Duration::from_secs(10);

mod humantime_serde {
    use std::time::Duration;

    use serde::Serializer;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }
}

/// An examples folder or glob.
#[derive(Debug, Clone, Serialize)]
pub struct ExampleItem {
    pub path: String,
    pub origin: Origin,
}

/// The context items of one document.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Items {
    pub patterns: Vec<PatternItem>,
    pub constraints: Vec<ConstraintItem>,
    pub quality_gates: Vec<GateItem>,
    pub examples: Vec<ExampleItem>,
    /// Not merged: each layer runs its own (only when allowed).
    pub extensions: Vec<ExtensionItem>,
}

/// `kind: org`.
#[derive(Debug, Clone, Serialize)]
pub struct Org {
    pub name: OrgName,
    pub description: Option<String>,
    pub items: Items,
    pub origin: Origin,
}

/// `kind: domain`.
#[derive(Debug, Clone, Serialize)]
pub struct Domain {
    pub name: DomainName,
    pub description: Option<String>,
    pub owners: Vec<String>,
    pub keywords: Vec<String>,
    pub paths: Vec<String>,
    pub items: Items,
    pub origin: Origin,
}

/// `kind: service`.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub name: ServiceName,
    pub description: Option<String>,
    pub domain: Option<DomainName>,
    pub depends_on: Vec<ServiceName>,
    pub paths: Vec<String>,
    /// The service layer: `local_patterns` as `patterns`, plus constraints, gates, examples.
    pub items: Items,
    pub shared_patterns: Vec<PatternItem>,
    pub integration_patterns: Vec<PatternItem>,
    pub origin: Origin,
}

/// A required input of a feature.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    pub key: String,
    pub description: String,
    pub origin: Origin,
}

/// One entry of a phase's `validation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationStep {
    /// A gate name, resolved in the feature's scope.
    Gate(String),
    /// A check in prose.
    Prose(String),
}

/// One step of a feature's plan.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub name: String,
    pub description: Option<String>,
    pub domains: Vec<DomainName>,
    pub patterns: Vec<String>,
    pub constraints: Vec<ConstraintItem>,
    pub validation: Vec<ValidationStep>,
    pub origin: Origin,
}

/// `kind: feature`.
#[derive(Debug, Clone, Serialize)]
pub struct Feature {
    pub name: FeatureName,
    pub description: Option<String>,
    pub domains: Vec<DomainName>,
    pub services: Vec<ServiceName>,
    pub inputs: Vec<Input>,
    pub phases: Vec<Phase>,
    pub budget: Option<u64>,
    /// Which patterns of its domains the feature takes.
    pub domain_patterns: DomainPatterns,
    pub items: Items,
    pub origin: Origin,
}

/// Which patterns of its domains a feature takes (`domain_patterns:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DomainPatterns {
    /// Every pattern of every domain in scope.
    #[default]
    All,
    /// Only the domain patterns its phases name (its own and its services' all the same).
    Named,
}

/// `kind: strategy`: context for every bundle whose domains include all of `domains`.
#[derive(Debug, Clone, Serialize)]
pub struct Strategy {
    pub name: StrategyName,
    pub description: Option<String>,
    /// The domain set, as declared (deduplicated).
    pub domains: Vec<DomainName>,
    pub phases: Vec<Phase>,
    pub items: Items,
    pub origin: Origin,
}

impl Strategy {
    /// Whether a bundle with these domains takes this strategy: they include all of its.
    pub fn applies_to<Name: AsRef<str>>(&self, domains: &[Name]) -> bool {
        self.domains
            .iter()
            .all(|wanted| domains.iter().any(|have| have.as_ref() == wanted.as_str()))
    }
}

/// `kind: agent`.
#[derive(Debug, Clone, Serialize)]
pub struct Agent {
    pub name: AgentName,
    pub description: Option<String>,
    pub topics: Vec<Topic>,
    pub sections: Option<Vec<AgentSection>>,
    pub budget: Option<u64>,
    pub origin: Origin,
}

/// A whole validated workspace.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Canonical root folder.
    pub root: PathBuf,
    pub settings: Settings,
    pub org: Option<Org>,
    pub domains: Vec<Domain>,
    pub services: Vec<Service>,
    pub features: Vec<Feature>,
    /// In declaration order.
    pub strategies: Vec<Strategy>,
    pub agents: Vec<Agent>,
    /// The path resolver validation used (with its file index), for reading files later.
    pub resolver: Arc<Resolver>,
    /// Domains, services and features by name (the first declaration of a name wins),
    /// built on the first lookup once the lists are complete.
    pub names: std::sync::OnceLock<NameIndex>,
}

/// Positions in a workspace's lists, by name.
#[derive(Debug, Clone, Default)]
pub struct NameIndex {
    domains: rustc_hash::FxHashMap<String, usize>,
    services: rustc_hash::FxHashMap<String, usize>,
    features: rustc_hash::FxHashMap<String, usize>,
}

impl NameIndex {
    fn of(workspace: &Workspace) -> Self {
        fn positions<'a>(
            names: impl Iterator<Item = &'a str>,
        ) -> rustc_hash::FxHashMap<String, usize> {
            let mut map = rustc_hash::FxHashMap::default();
            for (position, name) in names.enumerate() {
                map.entry(name.to_owned()).or_insert(position);
            }
            map
        }
        Self {
            domains: positions(workspace.domains.iter().map(|domain| domain.name.as_str())),
            services: positions(
                workspace
                    .services
                    .iter()
                    .map(|service| service.name.as_str()),
            ),
            features: positions(
                workspace
                    .features
                    .iter()
                    .map(|feature| feature.name.as_str()),
            ),
        }
    }
}

impl Workspace {
    fn index(&self) -> &NameIndex {
        self.names.get_or_init(|| NameIndex::of(self))
    }

    // The index is a hint: a list changed after it was built (tests reorder them) is
    // searched instead.

    pub fn domain(&self, name: &str) -> Option<&Domain> {
        let hinted = self
            .index()
            .domains
            .get(name)
            .and_then(|&at| self.domains.get(at));
        match hinted {
            Some(domain) if domain.name.as_str() == name => Some(domain),
            _ => self
                .domains
                .iter()
                .find(|domain| domain.name.as_str() == name),
        }
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        let hinted = self
            .index()
            .services
            .get(name)
            .and_then(|&at| self.services.get(at));
        match hinted {
            Some(service) if service.name.as_str() == name => Some(service),
            _ => self
                .services
                .iter()
                .find(|service| service.name.as_str() == name),
        }
    }

    pub fn strategy(&self, name: &str) -> Option<&Strategy> {
        self.strategies
            .iter()
            .find(|strategy| strategy.name.as_str() == name)
    }

    pub fn feature(&self, name: &str) -> Option<&Feature> {
        let hinted = self
            .index()
            .features
            .get(name)
            .and_then(|&at| self.features.get(at));
        match hinted {
            Some(feature) if feature.name.as_str() == name => Some(feature),
            _ => self
                .features
                .iter()
                .find(|feature| feature.name.as_str() == name),
        }
    }
}
