//! Secret scanning: what must never leave through a bundle or a report.
//!
//! Rules find private-key blocks, cloud credentials (AWS, GCP, Azure), forge tokens
//! (GitHub, GitLab), service keys (Slack, Stripe, OpenAI, Anthropic), URLs with a
//! password, and high-entropy values assigned to names like `password`, `secret`,
//! `token` or `api_key`. Placeholders (`EXAMPLE`, `xxxx`, `<token>`, `${VAR}`), hashes,
//! UUIDs and lockfile integrity lines are not findings, nor is any line carrying
//! `ctx:allow-secret`. A finding is reported by rule and line, never by value.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

/// One secret found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    /// 1-based line of the start of the finding.
    pub line: usize,
    /// Byte range of the secret in the text.
    #[serde(skip)]
    pub start: usize,
    #[serde(skip)]
    pub end: usize,
}

struct Rule {
    id: &'static str,
    regex: Regex,
    /// Capture group holding the secret (0 = the whole match).
    group: usize,
    /// Needs entropy and placeholder checks (generic assignments).
    generic: bool,
    /// The [`GATES`] it cannot match without (a bit per literal): it runs only on a text
    /// holding one of them. `None`: it runs on every text.
    gate: Option<u64>,
}

#[expect(
    clippy::expect_used,
    reason = "the patterns are constants, all compiled by the tests"
)]
fn rule(index: usize, &Source(id, pattern, group, generic): &Source) -> Rule {
    Rule {
        id,
        // The patterns are constants checked by the tests; a bad one is a programming error.
        regex: Regex::new(pattern).expect("invariant: secret rule patterns are valid"),
        group,
        generic,
        gate: GATES
            .iter()
            .enumerate()
            .filter(|(_, (_, rules))| rules.contains(&index))
            .map(|(bit, _)| 1 << bit)
            .reduce(|mask, bit| mask | bit),
    }
}

/// A rule as written: id, pattern, capture group, generic.
struct Source(&'static str, &'static str, usize, bool);

/// The rules as written: fingerprinted as they are (a repeated bundle, whose texts are
/// all known clean, never compiles them), compiled on first scan.
const SOURCES: &[Source] = &[
    Source(
        "private-key",
        // A header alone (a string constant in a PEM parser) is not a key: a body must follow.
        r"-----BEGIN[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----[ \t]*\r?\n(?:[ \t]*[A-Za-z\-]+:[^\n]*\r?\n|[ \t]*\r?\n)*[ \t]*[A-Za-z0-9+/=]{20,}[\s\S]*?(-----END[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----|\z)",
        0,
        false,
    ),
    // The body and end of a key whose BEGIN line was cut off (output tails).
    Source(
        "private-key",
        r"(?m)((?:^[A-Za-z0-9+/=]{40,}\r?\n)+-----END[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----)",
        1,
        false,
    ),
    // A key inside a string, its newlines escaped (`"-----BEGIN …-----\nMIIE…"`), as
    // in a GCP service-account JSON's `private_key` or source code.
    Source(
        "private-key",
        r"-----BEGIN[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----(?:\\r)?\\n[A-Za-z0-9+/=]{20,}(?:(?:\\r)?\\n[A-Za-z0-9+/=]*)*(?:(?:\\r)?\\n)?(?:-----END[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----)?",
        0,
        false,
    ),
    Source(
        "aws-access-key-id",
        r"(?-u:\b)((?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})(?-u:\b)",
        1,
        false,
    ),
    Source(
        "aws-secret-access-key",
        r#"(?i)aws[a-z0-9_\-. ]{0,20}(?:secret|private)[a-z0-9_\-. ]{0,20}["']?\s*(?:=|:|=>)\s*["']?([A-Za-z0-9/+=]{40})(?:["'\s,;}]|$)"#,
        1,
        false,
    ),
    Source(
        "gcp-api-key",
        r"(?-u:\b)(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)",
        1,
        false,
    ),
    Source(
        "gcp-service-account-key",
        r#""private_key_id"\s*:\s*"([0-9a-f]{40})""#,
        1,
        false,
    ),
    Source(
        "azure-storage-key",
        r"(?i)AccountKey=([A-Za-z0-9+/]{86}==)",
        1,
        false,
    ),
    Source(
        "github-token",
        r"((?:ghp_|gho_|ghu_|ghs_|ghr_)[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})(?-u:\b)",
        1,
        false,
    ),
    Source(
        "gitlab-token",
        r"(?-u:\b)(glpat-[A-Za-z0-9_\-]{20})(?:[^A-Za-z0-9_\-]|$)",
        1,
        false,
    ),
    Source(
        "slack-token",
        r"(?-u:\b)(xox[abprs]-[0-9]{6,}-[A-Za-z0-9-]{10,})",
        1,
        false,
    ),
    Source(
        "slack-webhook",
        r"(https://hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{20,})",
        1,
        false,
    ),
    Source(
        "stripe-key",
        r"(?-u:\b)((?:sk|rk)_live_[A-Za-z0-9]{20,})(?-u:\b)",
        1,
        false,
    ),
    Source(
        "anthropic-key",
        r"(?-u:\b)(sk-ant-[a-z]+[0-9]{2}-[A-Za-z0-9_\-]{40,})",
        1,
        false,
    ),
    Source(
        "openai-key",
        r"(?-u:\b)(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,}|sk-proj-[A-Za-z0-9_\-]{60,})",
        1,
        false,
    ),
    // Database and broker URLs: any password (even a short one, even with no user).
    Source(
        "url-credentials",
        r"(?-u:\b)(?:postgres(?:ql)?|mysql|mariadb|redis|rediss|mongodb(?:\+srv)?|amqps?|mssql|sqlserver)://[^/\s:@'\x22]{0,64}:([^/\s@'\x22$<{]{1,128})@[A-Za-z0-9.\-\[]",
        1,
        false,
    ),
    Source(
        "url-credentials",
        r"(?-u:\b)[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@'\x22]{1,64}:([^/\s:@'\x22]{3,128})@[A-Za-z0-9.\-]",
        1,
        true,
    ),
    Source(
        "secret-assignment",
        // Names in the cases code uses (`password`, `Password`, `PASSWORD`, `apiKey`,
        // `API_KEY`): literal prefixes the regex engine can search for, where `(?i)`
        // made it scan every byte.
        r#"(?:pass(?:word|wd)|Pass(?:word|wd)|PASS(?:WORD|WD)|pwd|Pwd|PWD|secret|Secret|SECRET|token|Token|TOKEN|(?:client|Client|CLIENT)[_\-]?(?:secret|Secret|SECRET)|(?:api|Api|API|access|Access|ACCESS|auth|Auth|AUTH|private|Private|PRIVATE)[_\-]?(?:key|Key|KEY))(?:[_\-]?(?:key|Key|KEY))?["']?\s*(?:=|:=|:|=>)\s*["'`]([^"'`\s]{8,})["'`]"#,
        1,
        true,
    ),
    Source(
        "secret-assignment",
        r"(?m)(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY)(?:_KEY)?\s*=\s*([^\s'`\x22]{8,})(?:\s+#.*)?\s*$",
        1,
        true,
    ),
];

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .enumerate()
        .map(|(index, source)| rule(index, source))
        .collect()
});

/// Literals the rules cannot match without, each with the rules (indices into
/// [`SOURCES`]) every match of which holds it, case and all: a text is searched for
/// all of them at once ([`found_gates`]), and a rule whose literals are all absent is
/// skipped, instead of each rule's own search passing over the text (those searches are
/// most of a scan's time). A case-insensitive rule is gated by every ASCII case of its
/// literal and by each other character a letter of it matches (`ſ`, `K`: a test checks
/// none is missing). Only the first generic assignment, whose
/// names (`pass`, `key`, `token`, …) most source files hold, runs on every text. No
/// literal is a prefix of another (a test checks), so the search finds every place any
/// of them starts.
const GATES: [(&str, &[usize]); 44] = [
    // The three private-key rules: a BEGIN or END line of a `… PRIVATE KEY` block.
    ("PRIVATE KEY", &[0, 1, 2]),
    ("AKIA", &[3]),
    ("ASIA", &[3]),
    ("ABIA", &[3]),
    ("ACCA", &[3]),
    // `(?i)aws`, in each of its cases.
    ("aws", &[4]),
    ("awS", &[4]),
    ("aWs", &[4]),
    ("aWS", &[4]),
    ("Aws", &[4]),
    ("AwS", &[4]),
    ("AWs", &[4]),
    ("AWS", &[4]),
    ("AIza", &[5]),
    ("\"private_key_id\"", &[6]),
    // `(?i)AccountKey=` holds `key=` in some case.
    ("key=", &[7]),
    ("keY=", &[7]),
    ("kEy=", &[7]),
    ("kEY=", &[7]),
    ("Key=", &[7]),
    ("KeY=", &[7]),
    ("KEy=", &[7]),
    ("KEY=", &[7]),
    ("ghp_", &[8]),
    ("gho_", &[8]),
    ("ghu_", &[8]),
    ("ghs_", &[8]),
    ("ghr_", &[8]),
    ("github_pat_", &[8]),
    ("glpat-", &[9]),
    ("xox", &[10]),
    ("hooks.slack.com", &[11]),
    ("_live_", &[12]),
    // Both Anthropic's and OpenAI's keys start with `sk-`.
    ("sk-", &[13, 14]),
    // Both URL rules: a scheme, then `://`.
    ("://", &[15, 16]),
    // The second generic assignment's names (`PASSW` for `PASSWORD` and `PASSWD`).
    ("PASSW", &[18]),
    ("SECRET", &[18]),
    ("TOKEN", &[18]),
    ("API_KEY", &[18]),
    ("APIKEY", &[18]),
    ("ACCESS_KEY", &[18]),
    ("PRIVATE_KEY", &[18]),
    // Unicode case folding matches `s` to the long s and `k` to the Kelvin sign. Last:
    // the one search leaves them to a look of their own at text that is not ASCII (with
    // them among its literals it took twice as long).
    ("\u{17f}", &[4]),
    ("\u{212a}", &[7]),
];

/// The [`GATES`] the one search looks for: those before the first that is not ASCII.
const SEARCHED_GATES: usize = {
    let mut count = 0;
    while count < GATES.len() && GATES[count].0.is_ascii() {
        count += 1;
    }
    count
};

// Every gate after those is looked for apart, and only in text that is not ASCII.
const _: () = {
    let mut index = SEARCHED_GATES;
    while index < GATES.len() {
        assert!(!GATES[index].0.is_ascii());
        index += 1;
    }
};

// A rule's gates and a search's findings are bit sets of one `u64`.
const _: () = assert!(GATES.len() <= 64);

#[expect(
    clippy::expect_used,
    reason = "the literals are constants, searched by the tests"
)]
static GATE_SEARCH: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
    aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(GATES[..SEARCHED_GATES].iter().map(|(literal, _)| literal))
        .expect("invariant: the gate literals build a searcher")
});

/// The [`GATES`] found in `text`, a bit per literal: one search for the ASCII ones,
/// resumed after the start of each match (not its end), so that no literal hides
/// another; the others only in text that is not all ASCII.
fn found_gates(text: &str) -> u64 {
    let mut found = 0;
    let mut input = aho_corasick::Input::new(text);
    while let Some(hit) = GATE_SEARCH.find(input.clone()) {
        found |= 1 << hit.pattern().as_usize();
        input.set_start(hit.start() + 1);
    }
    if !text.is_ascii() {
        for (bit, (literal, _)) in GATES.iter().enumerate().skip(SEARCHED_GATES) {
            if text.contains(literal) {
                found |= 1 << bit;
            }
        }
    }
    found
}

/// A short fingerprint of the rules and placeholder markers, so that what was learned
/// under one rule set (a cached "no secrets here") is never trusted under another.
/// The text without terminal escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL`,
/// two-character escapes).
pub fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(character) = chars.next() {
        if character != '\u{1b}' {
            out.push(character);
            continue;
        }
        match chars.peek() {
            Some('[') => {
                chars.next();
                for next in chars.by_ref() {
                    if ('@'..='~').contains(&next) {
                        break;
                    }
                }
            }
            Some(']') => {
                chars.next();
                while let Some(next) = chars.next() {
                    if next == '\u{7}' {
                        break;
                    }
                    if next == '\u{1b}' {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {
                chars.next();
            }
        }
    }
    out
}

pub fn fingerprint() -> String {
    let mut hasher = blake3::Hasher::new();
    for &Source(id, pattern, group, generic) in SOURCES {
        hasher.update(id.as_bytes());
        hasher.update(pattern.as_bytes());
        hasher.update(&[u8::try_from(group).unwrap_or(u8::MAX), u8::from(generic)]);
    }
    for marker in PLACEHOLDERS {
        hasher.update(marker.as_bytes());
    }
    hasher.finalize().to_hex()[..16].to_owned()
}

/// Markers of a value that is not a real secret.
const PLACEHOLDERS: [&str; 16] = [
    "example",
    "xxxx",
    "changeme",
    "change_me",
    "dummy",
    "placeholder",
    "redacted",
    "your_",
    "your-",
    "<",
    "${",
    "{{",
    "%s",
    "fake",
    "sample",
    "test1234",
];

/// Documentation placeholders, whatever the rule: `AKIAIOSFODNN7EXAMPLE`, `ghp_xxxx…`.
fn placeholder(value: &str) -> bool {
    let lower = value.to_lowercase();
    ["example", "xxxx", "${", "<", "{{"]
        .iter()
        .any(|marker| lower.contains(marker))
}

/// Shannon entropy in bits per character.
fn entropy(value: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for character in value.chars() {
        *counts.entry(character).or_insert(0usize) += 1;
    }
    let length = value.chars().count() as f64;
    counts
        .values()
        .map(|&count| {
            let probability = count as f64 / length;
            -probability * probability.log2()
        })
        .sum()
}

fn is_hash_or_uuid(value: &str) -> bool {
    let hex = value.chars().all(|character| character.is_ascii_hexdigit());
    (hex && matches!(value.len(), 32 | 40 | 56 | 64 | 96 | 128))
        || (value.len() == 36
            && value.char_indices().all(|(index, character)| {
                if matches!(index, 8 | 13 | 18 | 23) {
                    character == '-'
                } else {
                    character.is_ascii_hexdigit()
                }
            }))
        || ["sha1-", "sha256-", "sha384-", "sha512-"]
            .iter()
            .any(|prefix| value.starts_with(prefix))
}

/// Whether a generic candidate looks like a real secret rather than a placeholder,
/// identifier, path or hash.
fn plausible(value: &str) -> bool {
    let lower = value.to_lowercase();
    if PLACEHOLDERS.iter().any(|marker| lower.contains(marker)) || is_hash_or_uuid(value) {
        return false;
    }
    // Hex-only values assigned to secret-sounding names are checksums and ids in
    // practice; `{name}` is a template, not a value.
    if value.chars().all(|character| character.is_ascii_hexdigit())
        || (value.contains('{') && value.contains('}'))
    {
        return false;
    }
    // References to other values, not values: `$VAR`, `os.environ[...]`, `process.env.X`,
    // and calls such as `secrets.token_urlsafe(32)`.
    if value.starts_with('$')
        || lower.contains("env") && (lower.contains('[') || lower.contains('.'))
    {
        return false;
    }
    if let Some((callee, _)) = value.split_once('(')
        && !callee.is_empty()
        && callee.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '_' | '.' | ':')
        })
    {
        return false;
    }
    let classes = [
        value
            .chars()
            .any(|character| character.is_ascii_lowercase()),
        value
            .chars()
            .any(|character| character.is_ascii_uppercase()),
        value.chars().any(|character| character.is_ascii_digit()),
        value
            .chars()
            .any(|character| !character.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|present| **present)
    .count();
    // A word or a dotted identifier (`settings.SECRET_KEY`) is not a secret.
    let identifier = value
        .chars()
        .all(|character| character.is_ascii_alphanumeric() || matches!(character, '_' | '.' | '-'))
        && !value.chars().any(|character| character.is_ascii_digit());
    !identifier && classes >= 2 && entropy(value) >= 3.0
}

/// A line that should never be scanned (lockfile integrity, explicit allow).
fn allowed_line(line: &str) -> bool {
    line.contains("ctx:allow-secret")
        || line.trim_start().starts_with("integrity ")
        || line.contains("\"integrity\":")
        || line.trim_start().starts_with("checksum = ")
        || line.contains("\"resolved\":")
}

/// Every finding in `text`, in order, without overlaps.
pub fn scan(text: &str) -> Vec<Finding> {
    let found = found_gates(text);
    scan_by(text, |rule| rule.gate.is_none_or(|gate| gate & found != 0))
}

/// [`scan`] with the rules `runs` lets run.
fn scan_by(text: &str, runs: impl Fn(&Rule) -> bool) -> Vec<Finding> {
    // Where lines start, found on the first match (most texts have none).
    let starts = std::cell::OnceCell::new();
    let line_starts = || -> &Vec<usize> {
        starts.get_or_init(|| {
            std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|index| index + 1))
                .collect()
        })
    };
    let line_of = |offset: usize| line_starts().partition_point(|&start| start <= offset);
    let line_text = |line: usize| -> &str {
        let starts = line_starts();
        let start = starts[line - 1];
        let end = starts.get(line).map_or(text.len(), |next| next - 1);
        &text[start..end]
    };
    let mut findings: Vec<Finding> = Vec::new();
    for rule in RULES.iter() {
        if !runs(rule) {
            continue;
        }
        for captures in rule.regex.captures_iter(text) {
            let Some(secret) = captures.get(rule.group) else {
                continue;
            };
            let line = line_of(secret.start());
            if allowed_line(line_text(line))
                || placeholder(secret.as_str())
                || (rule.generic && !plausible(secret.as_str()))
            {
                continue;
            }
            let candidate = Finding {
                rule: rule.id,
                line,
                start: secret.start(),
                end: secret.end(),
            };
            if !findings
                .iter()
                .any(|found| found.start < candidate.end && candidate.start < found.end)
            {
                findings.push(candidate);
            }
        }
    }
    findings.sort_by_key(|finding| finding.start);
    findings
}

/// `text` with every finding replaced by `[REDACTED:<rule>]`.
pub fn redact(text: &str, findings: &[Finding]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut position = 0;
    for finding in findings {
        out.push_str(&text[position..finding.start]);
        out.push_str(&format!("[REDACTED:{}]", finding.rule));
        position = finding.end;
    }
    out.push_str(&text[position..]);
    out
}

/// Scan and redact in one step; returns the text and the findings.
pub fn scrub(text: &str) -> (String, Vec<Finding>) {
    // Escape sequences can split a token (`\x1b[31mghp_…\x1b[0m`): scan and redact the
    // text without them.
    if text.contains('\u{1b}') {
        let plain = strip_escapes(text);
        let findings = scan(&plain);
        if findings.is_empty() {
            return (text.to_owned(), findings);
        }
        return (redact(&plain, &findings), findings);
    }
    let findings = scan(text);
    if findings.is_empty() {
        return (text.to_owned(), findings);
    }
    (redact(text, &findings), findings)
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;
