//! Command-line interface: clap derive types. Doc comments here are the `--help` text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::date::Date;
use crate::exit::EXIT_CODES_HELP;

/// Context engineering for teams: layered context bundles, quality gates and config
/// validation from YAML kept in git.
///
/// ctx reads the workspace's YAML documents (org, domains, services, features, agents),
/// checks every reference and path in them, and synthesises the layered context bundle
/// of a feature, every item with its provenance, fitted to a token budget.
///
/// Start with `ctx validate` in a workspace (a folder with `ctx.toml`, or with a
/// `domains/` folder), then `ctx list features` and `ctx bundle <feature>`.
#[derive(Debug, Parser)]
#[command(name = "ctx", version, after_long_help = EXIT_CODES_HELP, max_term_width = 100)]
pub struct Cli {
    /// Use DIR as the workspace root instead of searching up from the current folder for
    /// `ctx.toml`.
    #[arg(short = 'C', long = "root", global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// When to colour diagnostics; `NO_COLOR` is honoured in `auto`.
    #[arg(long, global = true, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,

    /// Print errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print notes about what ctx is doing.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the layered context bundle of a feature, for an assistant or a tool.
    ///
    /// Layers, least to most specific: org → the feature's domains → the strategies
    /// whose domain sets they cover → one integration layer per service → its services →
    /// the feature → what the bundle is handed at build time (`--changed`, `--from-run`,
    /// `--from`). Items are merged by the rules in the README (plain keys override along
    /// the lineage, `<layer>/<key>` addresses one layer, `enabled: false` removes,
    /// `final` is final), every item keeps its origin, and content is shed to fit the
    /// token budget (examples first, then patterns from the least specific layer). The
    /// same inputs give a byte-identical bundle.
    ///
    /// Examples: `ctx bundle checkout --set ticket=SHOP-123`; `ctx bundle --changed`
    /// (the change in progress); `ctx bundle checkout --set ticket=SHOP-123 --from-run
    /// latest` (hand-off after a failing gate run); `ctx bundle checkout --set
    /// ticket=SHOP-123 --extensions` (run the layers' extensions).
    Bundle(BundleArgs),
    /// Show how a feature's bundle is made: each layer, each item with its origin, what it
    /// overrides or was overridden by, why anything was left out, and tokens.
    Explain(ExplainArgs),
    /// Run quality gates as subprocesses, in parallel, and write reports CI reads.
    ///
    /// Selects the merged gates of a feature (its domains', services' and its own), of
    /// `--domain`/`--service` scopes, or `--all`; `--changed` keeps those whose domain or
    /// service owns a changed file. Each gate runs as `sh -c` in its own process group,
    /// with a timeout (SIGTERM, then SIGKILL after the grace period), output captured to
    /// `.ctx/runs/<run-id>/`. Ctrl-C stops starting gates, signals running ones, writes
    /// partial reports and exits 130; a second Ctrl-C kills at once.
    Gates(GatesArgs),
    /// Check every config document and report all problems at once.
    ///
    /// Loads `ctx.toml` and every YAML document under the configured paths, then checks
    /// keys, types, names, references (domains, services, agents, phase patterns, gate
    /// names, qualified `<layer>/<key>` overrides), `depends_on` cycles, paths (inside the
    /// root, files exist, globs match, `lines` ranges fit), `final` items and expiry
    /// dates. Exits 2 if any problem is an error; warnings alone exit 0.
    Validate(ValidateArgs),
    /// List what the workspace declares, with the file and line of each declaration.
    List(ListArgs),
    /// Print the JSON Schema of the config documents.
    ///
    /// Save it and point your editor at it with a first line such as
    /// `# yaml-language-server: $schema=../ctx.schema.json`.
    Schema(SchemaArgs),
    /// Record what the patterns show in `ctx.lock`, after a review.
    ///
    /// Writes the content hash of every file or excerpt a pattern shows (and keeps the
    /// commits of fetched sources). `ctx validate` then warns when one of them changes — a
    /// `lines: 810-836` excerpt shows other code once lines are added above it — and
    /// `ctx validate --locked` fails on it, on a file the lock does not record, or
    /// without a lock (for CI). Review the change, then run `ctx lock` again.
    Lock(LockArgs),
    /// Check out the sources of `ctx.toml` at the commits `ctx.lock` pins.
    ///
    /// A standards repository (`[[sources]]`: `name`, `git` URL or path, `rev` tag, branch
    /// or commit, `path` of its documents) is fetched with the `git` CLI and checked out
    /// read-only under `.ctx/sources/<name>/<commit>/`; its org, domains and services then
    /// take part in every bundle like local ones, with provenance such as
    /// `acme@1a2b3c4:ctx/org.yaml:12`. A source not pinned yet is pinned at the newest
    /// commit of its `rev`. Every other command works offline from the lock.
    Fetch(FetchArgs),
    /// Move sources to the newest commit of their `rev` and rewrite `ctx.lock`.
    ///
    /// Review what changed (`git diff ctx.lock`, `ctx explain`), then commit the lock.
    Update(UpdateArgs),
    /// Serve the workspace to AI assistants over the Model Context Protocol (stdio).
    ///
    /// An assistant (Claude Code, Cursor, Copilot, Codex…) starts `ctx mcp` and calls its
    /// tools: `ctx_list`, `ctx_bundle` (sized to the assistant with `max_tokens`, 20,000
    /// by default), `ctx_explain`, `ctx_validate` and `ctx_gates_plan`; each feature is
    /// also a resource (`ctx://bundle/<feature>`) and a prompt. The workspace is opened
    /// once and reopened when its configuration changes. Only protocol messages go to
    /// stdout. Register it with a `.mcp.json` entry `{"command": "ctx", "args": ["mcp"]}`.
    Mcp(McpArgs),
    /// Write the context where assistants read it: AGENTS.md, CLAUDE.md and
    /// `.claude/rules/`, `.cursor/rules/`, Copilot instructions, Kiro steering, Devin rules
    /// and Agent Skills.
    ///
    /// The org layer becomes always-on rules; each domain and each service a rule scoped
    /// to its paths (constraints verbatim, patterns as paths with `why`, gates as "how to
    /// verify", each with its origin); each feature an Agent Skill. Private (`audience`)
    /// items are never exported. Every file starts (after its front matter) with a marker
    /// naming its sources; files ctx no longer produces are removed, and a file without
    /// the marker is never overwritten (`--force` to do so). `--check` is for CI: exit 1
    /// listing what is stale. Targets default to `[export] targets` in `ctx.toml`.
    Export(ExportArgs),
    /// Write a first configuration for a repository without one.
    ///
    /// Detects the packages (Cargo workspace members and their path dependencies, npm or
    /// pnpm workspaces, `go.work`, Python packages; else the top-level folders) as
    /// services with `depends_on`, and each one's test command (`cargo test -p X`, its
    /// `test` script, `go test ./X/...`, `pytest`) as a gate. With `--import`, the rules
    /// of existing AGENTS.md, CLAUDE.md, Cursor rules and Copilot instructions become org
    /// and path-scoped constraints, each noting where it came from. Writes `ctx.toml` and
    /// `ctx/*.yaml` in the current folder (or `-C`), never over existing configuration.
    Init(InitArgs),
    /// Record how the work a gate run checked turned out (for `ctx insights`).
    ///
    /// A run's outcome is the recorded one if any, else its gate verdict. Use it from a
    /// person, a review tool or an assistant's hook: `ctx record success --run latest`.
    Record(RecordArgs),
    /// What the recorded runs say: the context items that go with success or failure.
    ///
    /// Per item of the bundles in effect, its presence in successful and failed runs
    /// (counts and run ids); the items present in at least 70 % of successes, absent from
    /// at least 60 % of failures, present in at least 50 % of failures (each separating
    /// the outcomes by 20 points or more); flaky gates. `--propose` writes reviewable
    /// YAML patches under `.ctx/inbox/`, each tested against history first (kept when
    /// the matching runs succeeded more than 80 % of the time). Never edits the config.
    Insights(InsightsArgs),
    /// Runs and pass rate per feature and gate, gate durations (p50/p90), flaky counts,
    /// tokens per layer over time.
    Stats(StatsArgs),
    /// Maintain the outcome store: `sync` sends spooled records, `prune` deletes runs
    /// older than `[store] keep` (or `--older-than`).
    Store(StoreArgs),
    /// Internal: the watchdog of a gate run (see `process::Watchdog`).
    #[command(name = "gates-watchdog", hide = true)]
    GatesWatchdog,
}

/// Output format of `validate` and `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ReportFormat {
    /// For people: tables and rendered diagnostics.
    #[default]
    Text,
    /// For tools: one JSON document on stdout.
    Json,
}

/// Output format of `bundle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum BundleFormat {
    /// Markdown from the bundle template (`templates/bundle.md`, overridable).
    #[default]
    Markdown,
    /// The `ctx.bundle/v1` JSON document.
    Json,
}

/// `--tokenizer` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenizerArg {
    /// OpenAI o200k_base (GPT-4o and later).
    O200k,
    /// OpenAI cl100k_base (GPT-4, GPT-3.5).
    Cl100k,
}

/// What shapes a bundle (shared by `bundle` and `explain`).
#[derive(Debug, Args)]
pub struct BundleOptions {
    /// The feature to bundle (`ctx list features` shows them). A name that is not a
    /// declared feature is matched against the domains' keywords (an ad-hoc feature).
    #[arg(required_unless_present_any = ["describe", "domain", "service", "changed"])]
    pub feature: Option<String>,

    /// Describe the work in words; the domains whose keywords it mentions form an ad-hoc
    /// feature, e.g. `--describe "reset a password by email"`.
    #[arg(long, value_name = "TEXT", conflicts_with = "feature")]
    pub describe: Option<String>,

    /// Add a domain to the bundle's scope (repeatable).
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Vec<String>,

    /// Add a service to the scope (repeatable); alone, `--service S` bundles the
    /// federated context of S: org → its domain → its integration layer → S.
    #[arg(long, value_name = "SERVICE")]
    pub service: Vec<String>,

    /// Render an agent's view: its topics and sections only, plus items addressed to it
    /// (`ctx list agents` shows them).
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,

    /// Token budget (0 = unlimited); default: the feature's `budget`, then `ctx.toml`.
    #[arg(long, value_name = "TOKENS")]
    pub budget: Option<u64>,

    /// Tokenizer for exact counts; default: `bundle.tokenizer` in `ctx.toml` (o200k).
    #[arg(long, value_enum)]
    pub tokenizer: Option<TokenizerArg>,

    /// Set a feature input, e.g. `--set ticket=SHOP-123` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_input)]
    pub set: Vec<(String, String)>,

    /// Treat this date (YYYY-MM-DD) as today for `expires`.
    #[arg(long, env = "CTX_TODAY", value_name = "DATE", value_parser = parse_date)]
    pub today: Option<Date>,

    /// Count and scan every file afresh, without reading or updating the token cache.
    ///
    /// The cache (`.ctx/cache/tokens`) remembers token counts and secret-scan results by
    /// the hash of each file's content, so a changed file can never reuse a stale count;
    /// this flag is for measuring, not for correctness.
    #[arg(long)]
    pub no_cache: bool,

    /// Bundle the change in progress: the scope is the domains and services whose paths
    /// own the files changed since `--base` (the rules of `ctx gates --changed`), and the
    /// bundle holds each changed file's diff (budgeted, shed largest first).
    #[arg(long, conflicts_with_all = ["feature", "describe", "from_run", "from"])]
    pub changed: bool,

    /// Base for `--changed` and for a hand-off's diff (default: the upstream branch, else
    /// `origin/HEAD`, else `main` or `master`, whichever exists).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,

    /// Hand-off from a recorded gate run (a run id as `ctx gates` prints it, or `latest`):
    /// the child's bundle gets an execution layer with the run's failed gates and their
    /// output tails, the diff since `--base`, and the parent bundle's digest and tokens.
    #[arg(long, value_name = "RUN")]
    pub from_run: Option<String>,

    /// Hand-off from a parent's bundle (`ctx bundle … --format json -o FILE`): its digest
    /// and tokens are recorded (`parent`, and the chain's cumulative tokens), with the
    /// diff since `--base`.
    #[arg(long, value_name = "BUNDLE.json")]
    pub from: Option<PathBuf>,

    /// Run the layers' `extensions` (commands whose output becomes items); without it
    /// they are listed as `skipped`, since a cloned repository's configuration is not
    /// trusted to run commands.
    #[arg(long, env = "CTX_EXTENSIONS", value_parser = clap::builder::FalseyValueParser::new())]
    pub extensions: bool,
}

/// Arguments of `ctx bundle`.
#[derive(Debug, Args)]
pub struct BundleArgs {
    #[command(flatten)]
    pub options: BundleOptions,

    /// Output format.
    #[arg(long, value_enum, default_value_t = BundleFormat::Markdown)]
    pub format: BundleFormat,

    /// Write the bundle to FILE (atomically: a half-written bundle never exists). `-` is
    /// stdout; a symlink is written through to its destination; an existing FIFO or
    /// device is written through, never replaced; a file the bundle is made from is
    /// refused.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Arguments of `ctx explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub options: BundleOptions,

    /// Output format; `json` prints a `ctx.explain/v1` document.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorArg {
    /// Colour when stderr is a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// `--github` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum GithubMode {
    /// On when `GITHUB_ACTIONS=true`.
    #[default]
    Auto,
    /// Always emit groups, annotations and a step summary.
    On,
    /// Never.
    Off,
}

/// Arguments of `ctx gates`.
#[derive(Debug, Args)]
pub struct GatesArgs {
    /// Run the gates of this feature (after merging its layers).
    #[arg(required_unless_present_any = ["domain", "service", "all", "matrix", "why", "changed"])]
    pub feature: Option<String>,

    /// Also run the gates of this domain (repeatable).
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Vec<String>,

    /// Also run the gates of this service (repeatable).
    #[arg(long, value_name = "SERVICE")]
    pub service: Vec<String>,

    /// Run every gate of the workspace.
    #[arg(long)]
    pub all: bool,

    /// Keep only gates whose domain or service `paths` match files changed since the
    /// merge base with `--base` (uncommitted and untracked files count). A service's
    /// gates also run when a service it depends on (transitively) changed. Alone,
    /// `ctx gates --changed` considers every gate of the workspace.
    #[arg(long)]
    pub changed: bool,

    /// Base for `--changed` (default: the upstream branch, else `origin/HEAD`, else
    /// `main` or `master`, whichever exists).
    #[arg(long, value_name = "REF", requires = "changed")]
    pub base: Option<String>,

    /// Gates at a time (default: `gates.jobs` in `ctx.toml`, else available cores).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Timeout for every gate, overriding `ctx.toml` and the gates' own (e.g. `90s`, `5m`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Stop starting gates after the first blocking failure.
    #[arg(long)]
    pub fail_fast: bool,

    /// Print the selection (command and reason for each gate) without running anything.
    #[arg(long)]
    pub dry_run: bool,

    /// Feature inputs for the bundle passed to gates as `CTX_BUNDLE` (not required here).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_input)]
    pub set: Vec<(String, String)>,

    /// Run one part of the selection (for CI runners): `count:K/N` deals the sorted
    /// gates round-robin, `hash:K/N` places each gate by a stable hash of its id.
    #[arg(long, value_name = "STRATEGY:K/N", value_parser = parse_partition)]
    pub partition: Option<crate::gates::partition::Partition>,

    /// Print the GitHub Actions matrix for N parts (`strategy.matrix` JSON) and exit.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub matrix: Option<u16>,

    /// Run every selected gate, even those whose cached pass (gates with `inputs`) would
    /// be reused.
    #[arg(long)]
    pub rerun: bool,

    /// Run a failed gate again up to N times (overrides each gate's `retries`); a gate
    /// that passes after a retry is reported `flaky`.
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// Stop starting gates after N blocking failures (running ones finish).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_fail: Option<u64>,

    /// Do not record this run in the outcome store.
    #[arg(long)]
    pub no_store: bool,

    /// Say whether GATE's cached pass would be reused, and which input changed since.
    #[arg(long, value_name = "GATE")]
    pub why: Option<String>,

    /// Write the run as JSON Lines (`ctx.events/v1`) to FILE, or `-` for stdout, as it
    /// happens: run and gate started/finished, with run id, traceparent and bundle digest.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,

    /// Write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write a `ctx.gates/v1` JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// GitHub Actions output: `::group::` per gate, `::error` annotations, a step summary.
    #[arg(long, value_enum, default_value_t = GithubMode::Auto)]
    pub github: GithubMode,

    /// Treat this date (YYYY-MM-DD) as today for `expires`.
    #[arg(long, env = "CTX_TODAY", value_name = "DATE", value_parser = parse_date)]
    pub today: Option<Date>,
}

/// Arguments of `ctx validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Output format; `json` prints the diagnostics as a `ctx.diagnostics/v1` document.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Treat this date (YYYY-MM-DD) as today when checking `expires`.
    #[arg(long, env = "CTX_TODAY", value_name = "DATE", value_parser = parse_date)]
    pub today: Option<Date>,

    /// Require `ctx.lock` and hold the workspace to it (for CI): a file or excerpt that
    /// changed since `ctx lock`, or one the lock does not record, is an error.
    #[arg(long)]
    pub locked: bool,
}

/// What `ctx list` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ListKind {
    /// Domains with owners, keywords and owned paths.
    #[default]
    Domains,
    /// Services with their domain and dependencies.
    Services,
    /// Features with their domains, services and phases.
    Features,
    /// Strategies with their domain sets: what applies where those domains meet.
    Strategies,
    /// Agents with their topics and sections.
    Agents,
    /// Quality gates of every layer with their commands.
    Gates,
}

/// Arguments of `ctx list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// What to list.
    #[arg(value_enum, default_value_t = ListKind::Domains)]
    pub kind: ListKind,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// Arguments of `ctx export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Targets: agents-md, claude, cursor, copilot, kiro, devin, skills (default:
    /// `[export] targets` in `ctx.toml`).
    #[arg(value_name = "TARGET", value_parser = ["agents-md", "claude", "cursor", "copilot", "kiro", "devin", "skills"])]
    pub targets: Vec<String>,

    /// Write nothing; exit 1 listing every stale, missing or extra generated file.
    #[arg(long, conflicts_with = "dry_run")]
    pub check: bool,

    /// Show what would be written, changed and removed, without writing.
    #[arg(long)]
    pub dry_run: bool,

    /// Overwrite files that exist without ctx's marker.
    #[arg(long)]
    pub force: bool,

    /// Also merge Claude Code hooks into `.claude/settings.json`: a Stop hook running the
    /// gates of what changed (failures go back to the assistant) and a SessionStart hook
    /// adding a context index.
    #[arg(long)]
    pub hooks: bool,

    /// Also register `ctx mcp` in `.mcp.json` (and `.cursor/mcp.json`,
    /// `.vscode/mcp.json`, `.kiro/settings/mcp.json` for those targets).
    #[arg(long)]
    pub mcp: bool,

    /// Print the SessionStart hook's JSON (a short index of features) and exit.
    #[arg(long, hide = true)]
    pub session_context: bool,

    /// Treat this date (YYYY-MM-DD) as today for `expires`.
    #[arg(long, env = "CTX_TODAY", value_name = "DATE", value_parser = parse_date)]
    pub today: Option<Date>,
}

/// Arguments of `ctx init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Also turn existing assistant files (AGENTS.md, CLAUDE.md, `.cursor/rules/*.mdc`,
    /// Copilot instructions) into constraints.
    #[arg(long)]
    pub import: bool,
}

/// `ctx record` outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutcomeArg {
    Success,
    Failure,
}

/// Arguments of `ctx record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// How the work turned out.
    #[arg(value_enum)]
    pub outcome: OutcomeArg,

    /// The run: its id, or `latest` (the default; of `--feature`, if given).
    #[arg(long, value_name = "ID", default_value = "latest")]
    pub run: String,

    /// With `--run latest`: the latest run of this feature.
    #[arg(long, value_name = "FEATURE")]
    pub feature: Option<String>,

    /// A note kept with the outcome.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

/// Arguments of `ctx insights`.
#[derive(Debug, Args)]
pub struct InsightsArgs {
    /// Only the runs of this feature.
    pub feature: Option<String>,

    /// How many of the latest runs to analyse.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub last: usize,

    /// How many runs are needed before findings are made.
    #[arg(long, value_name = "M", default_value_t = 10)]
    pub min_runs: usize,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Write proposals as reviewable YAML patches under `.ctx/inbox/`.
    #[arg(long)]
    pub propose: bool,
}

/// Arguments of `ctx stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// `ctx store` actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreAction {
    /// Send the records spooled while the store could not be reached.
    Sync,
    /// Delete runs older than `[store] keep` (or `--older-than`).
    Prune,
}

/// Arguments of `ctx store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    #[arg(value_enum)]
    pub action: StoreAction,

    /// With `prune`: the age past which runs are deleted (e.g. `90d`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub older_than: Option<Duration>,
}

/// Arguments of `ctx mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// Also offer `ctx_gates_run`, which runs the workspace's gate commands on the
    /// assistant's request. Off by default: a cloned repository's config is code.
    #[arg(long)]
    pub allow_gates: bool,
}

/// Arguments of `ctx schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {}

/// Arguments of `ctx lock`.
#[derive(Debug, Args)]
pub struct LockArgs {}

/// Arguments of `ctx fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Fetch only these sources (default: all).
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,

    /// Change nothing in `ctx.lock` (for CI): fail when it is missing or does not pin
    /// the sources `ctx.toml` declares, or when a checkout does not match its digest.
    #[arg(long)]
    pub locked: bool,
}

/// Arguments of `ctx update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Update only these sources (default: all).
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

/// `--today`: a calendar date.
fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse(text.trim()).ok_or_else(|| {
        format!("`{text}` is not a date; write it as YYYY-MM-DD (also accepted from `CTX_TODAY`)")
    })
}

/// `--timeout`: a duration such as `90s`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::date::parse_duration(text).map_err(|error| {
        format!("`{text}` is not a duration: {error}; write a number with a unit: \"90s\", \"10m\" or \"1h 30m\" (units: ms, s, m, h, d)")
    })
}

/// `--partition count:K/N` or `hash:K/N`.
fn parse_partition(text: &str) -> Result<crate::gates::partition::Partition, String> {
    text.parse()
}

/// `--set KEY=VALUE`.
fn parse_input(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE; write it as `--set ticket=SHOP-123`"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
