//! Corpus tests: for every rule, at least five true positives (found and redacted) and
//! five near misses (left alone).

use super::*;

/// Deterministic pseudo-random strings over an alphabet (no real secrets in the repo).
struct Generator(u64);

impl Generator {
    fn text(&mut self, alphabet: &str, length: usize) -> String {
        let alphabet: Vec<char> = alphabet.chars().collect();
        (0..length)
            .map(|_| {
                self.0 = self
                    .0
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                alphabet[usize::try_from(self.0 >> 33).unwrap_or(0) % alphabet.len()]
            })
            .collect()
    }
}

const UPPER_DIGITS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ALNUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const BASE64: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
const URLSAFE: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
const HEX: &str = "0123456789abcdef";

/// `(rule, true positives as (text, secret), near misses)`.
type Case = (&'static str, Vec<(String, String)>, Vec<String>);

fn corpus() -> Vec<Case> {
    let mut g = Generator(42);
    let mut cases = Vec::new();
    let tp = |text: String, secret: String| (text, secret);

    let key_body = |g: &mut Generator| {
        (0..6)
            .map(|_| g.text(BASE64, 64))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut positives = Vec::new();
    for kind in ["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED "] {
        let body = key_body(&mut g);
        let block =
            format!("-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----");
        positives.push(tp(format!("key = \"\"\"\n{block}\n\"\"\"\n"), body));
    }
    let body = key_body(&mut g);
    positives.push(tp(
        format!(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{body}\n-----END PGP PRIVATE KEY BLOCK-----\n"
        ),
        body,
    ));
    cases.push((
        "private-key",
        positives,
        vec![
            format!(
                "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                g.text(BASE64, 64)
            ),
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                g.text(BASE64, 64)
            ),
            String::from("# load the PRIVATE KEY from the vault, never from a file\n"),
            String::from("BEGIN PRIVATE KEY handling is documented in docs/keys.md\n"),
            String::from(
                "_SK_START = b\"-----BEGIN OPENSSH PRIVATE KEY-----\"\nprint('parsing')\n",
            ),
            format!(
                "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
                g.text(BASE64, 64)
            ),
        ],
    ));

    let positives = (0..5)
        .map(|index| {
            let key = format!(
                "{}{}",
                ["AKIA", "ASIA", "AKIA", "ABIA", "ACCA"][index],
                g.text(UPPER_DIGITS, 16)
            );
            tp(format!("aws_access_key_id = {key}\n"), key)
        })
        .collect();
    cases.push((
        "aws-access-key-id",
        positives,
        vec![
            String::from("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"),
            format!("id = AKIA{}\n", g.text(UPPER_DIGITS, 15)),
            format!("id = akia{}\n", g.text("abcdefghijklmnopqrstuvwxyz", 16)),
            format!("id = XAKIA{}\n", g.text(UPPER_DIGITS, 16)),
            format!("id = AKIA{}x\n", g.text(UPPER_DIGITS, 16)),
        ],
    ));

    let positives = (0..7)
        .map(|index| {
            let secret = g.text(BASE64, 40);
            let text = match index {
                0 => format!("aws_secret_access_key = {secret}\n"),
                1 => format!("AWS_SECRET_ACCESS_KEY=\"{secret}\"\n"),
                2 => format!("  awsSecretAccessKey: '{secret}'\n"),
                3 => format!("{{\"aws_secret_key\": \"{secret}\"}}\n"),
                // Any case (the rule is case-insensitive, and so is its gate).
                4 => format!("AwS_Secret_Key = {secret}\n"),
                5 => format!("aw\u{17f}_secret_key = {secret}\n"),
                _ => format!("aws.secret_access_key => \"{secret}\"\n"),
            };
            tp(text, secret)
        })
        .collect();
    cases.push((
        "aws-secret-access-key",
        positives,
        vec![
            String::from("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
            String::from("aws_secret_access_key_name = AWS_SECRET_ACCESS_KEY\n"),
            String::from("aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}\n"),
            format!("aws_region_name = {}\n", g.text(BASE64, 40)),
            String::from("# rotate the aws secret access key every 90 days\n"),
        ],
    ));

    let positives = (0..5)
        .map(|_| {
            let key = format!("AIza{}", g.text(URLSAFE, 35));
            tp(format!("GOOGLE_MAPS_KEY = \"{key}\"\n"), key)
        })
        .collect();
    cases.push((
        "gcp-api-key",
        positives,
        vec![
            format!("key = AIza{}\n", g.text(URLSAFE, 30)),
            format!("key = AIzb{}\n", g.text(URLSAFE, 35)),
            format!("key = aiza{}\n", g.text(URLSAFE, 35)),
            String::from("key = AIzaSyEXAMPLE_EXAMPLE_EXAMPLE_EXAMPLE1\n"),
            format!("key = xAIza{}\n", g.text(URLSAFE, 35)),
        ],
    ));

    let positives = (0..5)
        .map(|_| {
            let id = g.text(HEX, 40);
            tp(
                format!("{{\"type\": \"service_account\", \"private_key_id\": \"{id}\"}}\n"),
                id,
            )
        })
        .collect();
    cases.push((
        "gcp-service-account-key",
        positives,
        vec![
            String::from("{\"private_key_id\": \"{{ service_account.key_id }}\"}\n"),
            String::from("{\"private_key_id\": \"\"}\n"),
            format!("{{\"public_key_id\": \"{}\"}}\n", g.text(HEX, 40)),
            format!("{{\"private_key_id\": \"{}\"}}\n", g.text("ghijklmnop", 40)),
            String::from("{\"private_key_id\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n"),
        ],
    ));

    let positives = (0..5)
        .map(|index| {
            let key = format!("{}==", g.text(BASE64, 86));
            // Any case (the rule is case-insensitive, and so is its gate).
            let name = ["AccountKey", "accountkey", "ACCOUNTKEY", "accountKeY", "Account\u{212a}ey"][index];
            tp(format!("DefaultEndpointsProtocol=https;AccountName=shop;{name}={key};EndpointSuffix=core.windows.net\n"), key)
        })
        .collect();
    cases.push((
        "azure-storage-key",
        positives,
        vec![
            format!("AccountKey={}==\n", g.text(BASE64, 40)),
            String::from("AccountKey=<your-account-key>\n"),
            format!("AccountName={}\n", g.text(BASE64, 88)),
            String::from("AccountKey=${AZURE_STORAGE_KEY}\n"),
            String::from("# AccountKey= goes in the vault\n"),
        ],
    ));

    let mut positives: Vec<(String, String)> = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]
        .iter()
        .map(|prefix| {
            let token = format!("{prefix}{}", g.text(ALNUM, 36));
            tp(format!("GITHUB_TOKEN: {token}\n"), token)
        })
        .collect();
    let token = format!(
        "github_pat_{}",
        g.text(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_",
            82
        )
    );
    positives.push(tp(format!("token = {token}\n"), token));
    cases.push((
        "github-token",
        positives,
        vec![
            format!("ghp_{}\n", g.text(ALNUM, 35)),
            format!("ghx_{}\n", g.text(ALNUM, 36)),
            String::from("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"),
            String::from("github_pat_short\n"),
            format!("ghp_{}_\n", g.text(ALNUM, 36)),
        ],
    ));

    let positives = (0..5)
        .map(|_| {
            let token = format!("glpat-{}", g.text(URLSAFE, 20));
            tp(format!("CI_TOKEN={token}\n"), token)
        })
        .collect();
    cases.push(("gitlab-token", positives, vec![
        format!("glpat-{}\n", g.text(URLSAFE, 19)),
        format!("glpat_{}\n", g.text(URLSAFE, 20)),
        String::from("glpat-xxxxxxxxxxxxxxxxxxxx\n"),
        format!("xglpat-{}\n", g.text(URLSAFE, 20)),
        String::from("see https://docs.gitlab.com/ee/user/profile/personal_access_tokens (glpat- prefix)\n"),
    ]));

    let positives = ["xoxb", "xoxp", "xoxa", "xoxr", "xoxs"]
        .iter()
        .map(|prefix| {
            let token = format!(
                "{prefix}-{}-{}",
                g.text("0123456789", 12),
                g.text(ALNUM, 24)
            );
            tp(format!("slack: {token}\n"), token)
        })
        .collect();
    cases.push((
        "slack-token",
        positives,
        vec![
            String::from("xoxb-123-abc\n"),
            format!("xoxz-{}-{}\n", g.text("0123456789", 12), g.text(ALNUM, 24)),
            String::from("xoxb-xxxxxxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx\n"),
            String::from("xoxb-EXAMPLE-EXAMPLE\n"),
            String::from("the xoxb- prefix marks bot tokens\n"),
        ],
    ));

    let positives = (0..5)
        .map(|_| {
            let url = format!(
                "https://hooks.slack.com/services/T{}/B{}/{}",
                g.text(UPPER_DIGITS, 8),
                g.text(UPPER_DIGITS, 8),
                g.text(ALNUM, 24)
            );
            tp(format!("webhook: {url}\n"), url)
        })
        .collect();
    cases.push((
        "slack-webhook",
        positives,
        vec![
            String::from(
                "https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX\n",
            )
            .replace('X', "x"),
            format!(
                "https://hooks.slack.com/services/t{}/B{}/{}\n",
                g.text("abcdefgh", 8),
                g.text(UPPER_DIGITS, 8),
                g.text(ALNUM, 24)
            ),
            format!(
                "https://hooks.slack.com/services/T{}/{}\n",
                g.text(UPPER_DIGITS, 8),
                g.text(ALNUM, 24)
            ),
            String::from("https://hooks.slack.com/services/\n"),
            format!(
                "https://example.com/services/T{}/B{}/{}\n",
                g.text(UPPER_DIGITS, 8),
                g.text(UPPER_DIGITS, 8),
                g.text(ALNUM, 4)
            ),
        ],
    ));

    let positives = (0..5)
        .map(|index| {
            let key = format!(
                "{}_live_{}",
                if index % 2 == 0 { "sk" } else { "rk" },
                g.text(ALNUM, 24 + index)
            );
            tp(format!("STRIPE_KEY = \"{key}\"\n"), key)
        })
        .collect();
    cases.push((
        "stripe-key",
        positives,
        vec![
            format!("pk_live_{}\n", g.text(ALNUM, 24)),
            format!("sk_test_{}\n", g.text(ALNUM, 24)),
            format!("sk_live_{}\n", g.text(ALNUM, 10)),
            String::from("sk_live_xxxxxxxxxxxxxxxxxxxxxxxx\n"),
            format!("rk_test_{}\n", g.text(ALNUM, 24)),
        ],
    ));

    let positives = (0..5)
        .map(|_| {
            let key = format!("sk-ant-api03-{}", g.text(URLSAFE, 93));
            tp(format!("ANTHROPIC_API_KEY={key}\n"), key)
        })
        .collect();
    cases.push((
        "anthropic-key",
        positives,
        vec![
            String::from("sk-ant-api03-short\n"),
            String::from("the sk-ant- prefix marks Anthropic keys\n"),
            format!("sk-anthropic-{}\n", g.text("abcdefghij", 40)),
            String::from(
                "sk-ant-api03-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
            ),
            String::from("sk-ant-api03-EXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLE\n"),
        ],
    ));

    let positives = (0..5)
        .map(|index| {
            let key = if index < 3 {
                format!("sk-proj-{}", g.text(URLSAFE, 120))
            } else {
                format!("sk-{}T3BlbkFJ{}", g.text(ALNUM, 20), g.text(ALNUM, 20))
            };
            tp(format!("OPENAI_API_KEY=\"{key}\"\n"), key)
        })
        .collect();
    cases.push((
        "openai-key",
        positives,
        vec![
            String::from("sk-1234\n"),
            format!("task-proj-{}\n", g.text(URLSAFE, 80)),
            String::from(
                "sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
            ),
            String::from(
                "sk-proj-EXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLE\n",
            ),
            format!("sk-proj-{}\n", g.text(URLSAFE, 30)),
        ],
    ));

    let positives = ["postgres", "mysql", "https", "redis", "amqp"]
        .iter()
        .map(|scheme| {
            let password = format!("{}!{}", g.text(ALNUM, 10), g.text(ALNUM, 6));
            tp(
                format!("DATABASE_URL={scheme}://app:{password}@db.internal:5432/shop\n"),
                password,
            )
        })
        .collect();
    cases.push((
        "url-credentials",
        positives,
        vec![
            String::from("postgres://app:${DB_PASSWORD}@db:5432/shop\n"),
            String::from("https://user:password@example.com/\n"),
            String::from("redis://:<password>@cache:6379\n"),
            String::from("https://db.internal:8443/path\n"),
            String::from("git@github.com:acme/shop.git\n"),
        ],
    ));

    let positives = (0..6)
        .map(|index| {
            let secret = format!("{}#{}", g.text(ALNUM, 9), g.text(ALNUM, 7));
            let text = match index {
                0 => format!("password = \"{secret}\"\n"),
                1 => format!("API_KEY: '{secret}'\n"),
                2 => format!("DB_PASSWORD={secret}\n"),
                3 => format!("{{\"client_secret\": \"{secret}\"}}\n"),
                4 => format!("token := \"{secret}\"\n"),
                _ => format!("export SERVICE_TOKEN={secret}\n"),
            };
            tp(text, secret)
        })
        .collect();
    cases.push(("secret-assignment", positives, vec![
        String::from("password = \"changeme\"\n"),
        String::from("token = \"${TOKEN}\"\n"),
        String::from("password = os.environ[\"DB_PASSWORD\"]\n"),
        String::from("secret_key = \"settings.SECRET_KEY\"\n"),
        String::from("token = \"a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4\"\n"),
        String::from("password_hash = \"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW\"\n"),
        String::from("session_token = \"550e8400-e29b-41d4-a716-446655440000\"\n"),
        String::from("API_KEY = \"<your api key>\"\n"),
        String::from("    token = secrets.token_urlsafe(32)\n"),
        String::from("SESSION_TOKEN=generate_token(32)\n"),
        String::from("    Token.Prompt: '#ansibrightblue',\n"),
        String::from("ACCOUNT_SPECIFIC_ACCESS_KEY_PREFIX = \"8NWMTLYQ\"\n"),
        String::from("\"AWS::ApiGateway::ApiKey\": \"48205d4ffd7feba3\",\n"),
        String::from("raise Error(f'bad token: \"{current_phrase}\"')\n"),
    ]));
    cases
}

#[test]
fn every_rule_finds_its_true_positives_and_ignores_near_misses() {
    for (rule, positives, near_misses) in corpus() {
        assert!(
            positives.len() >= 5 && near_misses.len() >= 5,
            "{rule}: corpus too small"
        );
        for (text, secret) in &positives {
            let (redacted, findings) = scrub(text);
            assert!(
                findings.iter().any(|finding| finding.rule == rule),
                "{rule} missed in {text:?}: {findings:?}"
            );
            assert!(
                !redacted.contains(secret.as_str()),
                "{rule}: {secret:?} survived in {redacted:?}"
            );
            assert!(
                redacted.contains(&format!("[REDACTED:{rule}]")),
                "{redacted:?}"
            );
        }
        for text in &near_misses {
            let findings = scan(text);
            assert!(
                findings.is_empty(),
                "{rule}: false positive in {text:?}: {findings:?}"
            );
        }
    }
}

#[test]
fn lockfiles_hashes_and_allow_comments_are_not_findings() {
    let text = "checksum = \"8f7c0ea5bd9d8e6e3b8c3d3cb5c6f8fb4d2f3e7b2f1a9c8d7e6f5a4b3c2d1e0f\"\n\
                \"integrity\": \"sha512-Zx9kQ2pL7mN4vB8cX1zA3sD5fG6hJ7kL8qW9eR0tY1uI2oP3aS4dF5gH6jK7lZ8xC9vB0nM1==\",\n\
                password = \"Xk2#pL9mQ4!z\"  # ctx:allow-secret (test fixture)\n\
                request_id = \"550e8400-e29b-41d4-a716-446655440000\"\n";
    assert!(scan(text).is_empty(), "{:?}", scan(text));
}

#[test]
fn a_key_body_without_its_begin_line_is_still_redacted() {
    let mut g = Generator(7);
    let body = (0..4)
        .map(|_| g.text(BASE64, 64))
        .collect::<Vec<_>>()
        .join("\n");
    let text = format!("[ctx: 4096 bytes omitted]\n{body}\n-----END RSA PRIVATE KEY-----\ndone\n");
    let (redacted, findings) = scrub(&text);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(!redacted.contains(&body[..64]), "{redacted}");
    assert!(
        redacted.ends_with("[REDACTED:private-key]\ndone\n"),
        "{redacted}"
    );
}

#[test]
fn findings_carry_rule_and_line_but_redaction_keeps_the_rest() {
    let text = "line one\nconfig:\n  password: \"Xk2#pL9mQ4!zR\"\nlast line\n";
    let (redacted, findings) = scrub(text);
    assert_eq!(findings.len(), 1);
    assert_eq!(
        (findings[0].rule, findings[0].line),
        ("secret-assignment", 3)
    );
    assert_eq!(
        redacted,
        "line one\nconfig:\n  password: \"[REDACTED:secret-assignment]\"\nlast line\n"
    );
}

#[test]
fn secrets_wrapped_in_escapes_or_embedded_in_strings_and_urls_are_found() {
    let mut g = Generator(11);
    let token = format!("ghp_{}", g.text(ALNUM, 36));
    let coloured = format!("token: \u{1b}[31m{token}\u{1b}[0m done\n");
    let (redacted, findings) = scrub(&coloured);
    assert!(
        findings
            .iter()
            .any(|finding| finding.rule == "github-token"),
        "{findings:?}"
    );
    assert!(!redacted.contains(&token), "{redacted:?}");

    let body = g.text(BASE64, 64);
    let gcp = format!(
        "{{\"type\": \"service_account\", \"private_key_id\": \"x\", \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{body}\\n{body}\\n-----END PRIVATE KEY-----\\n\", \"client_email\": \"a@b\"}}"
    );
    let (redacted, findings) = scrub(&gcp);
    assert!(
        findings.iter().any(|finding| finding.rule == "private-key"),
        "GCP private_key: {findings:?}"
    );
    assert!(!redacted.contains(&body), "{redacted}");
    assert!(
        redacted.contains("client_email"),
        "the rest is kept: {redacted}"
    );

    let indented = format!(
        "tls:\n  key: |\n    -----BEGIN RSA PRIVATE KEY-----\n    {body}\n    {body}\n    -----END RSA PRIVATE KEY-----\n"
    );
    let (redacted, findings) = scrub(&indented);
    assert!(
        !findings.is_empty() && !redacted.contains(&body),
        "indented PEM: {redacted}"
    );

    for (text, secret) in [
        (
            "DATABASE_URL=postgres://app:pass@db.internal:5432/shop",
            "pass@",
        ),
        (
            "url = \"postgresql://reporting:Zq8v!kw@10.0.0.7/analytics\"",
            "Zq8v!kw",
        ),
        ("REDIS_URL=redis://:hunter2@cache:6379/0", "hunter2"),
        (
            "mongodb+srv://svc:s3cr3t-Pa55@cluster0.example.net/db",
            "s3cr3t-Pa55",
        ),
        ("amqp://guest:guest@rabbit:5672/", "guest@"),
    ] {
        let (redacted, findings) = scrub(text);
        assert!(
            findings
                .iter()
                .any(|finding| finding.rule == "url-credentials"),
            "{text}: {findings:?}"
        );
        assert!(!redacted.contains(secret), "{redacted}");
    }
    for near_miss in [
        "postgres://localhost/shop",
        "postgres://app@db.internal:5432/shop",
        "postgres://${DB_USER}:${DB_PASSWORD}@db/shop",
        "postgres://app:$PASSWORD@db/shop",
        "redis://cache:6379/0",
    ] {
        assert!(
            scan(near_miss).is_empty(),
            "{near_miss}: {:?}",
            scan(near_miss)
        );
    }
}

/// Each gate literal is written in the pattern of every rule it gates, outside any
/// optional part; a rule with several (AWS key ids, GitHub tokens) has them as the
/// alternatives of a part every match has (checked by reading them; this catches a
/// literal or an index that went wrong). That the rules still find what they must,
/// gated, is `every_rule_finds_its_true_positives_and_ignores_near_misses` and
/// `a_gated_scan_finds_what_all_rules_find`.
#[test]
fn gate_literals_are_in_the_rules_they_gate() {
    for (literal, rules) in GATES {
        for &index in rules {
            let Source(id, pattern, ..) = &SOURCES[index];
            let pattern = pattern.replace("\\.", ".");
            let found = match pattern.strip_prefix("(?i)") {
                // A letter's other case, or a character that case folding matches to one.
                Some(pattern) => {
                    pattern
                        .to_ascii_lowercase()
                        .contains(&literal.to_ascii_lowercase())
                        || Regex::new(&format!("(?i){}", regex::escape(literal)))
                            .is_ok_and(|folded| folded.is_match(pattern))
                }
                None => pattern.contains(literal),
            };
            assert!(found, "rule {index} ({id}) does not contain `{literal}`");
        }
    }
    // A mask per rule, 64 bits of them.
    assert!(GATES.len() <= 64);
}

/// A case-insensitive rule's gates are every ASCII case of each of its literals, and
/// every other character that one of their letters matches (Unicode case folding takes
/// `ſ` for `s` and the Kelvin sign for `k`): a text with `AwS` or `awſ` must not skip
/// the rule that `(?i)aws` starts.
#[test]
fn a_case_insensitive_rule_is_gated_by_every_case_of_its_literal() {
    let mut gated = 0;
    for (index, Source(id, pattern, ..)) in SOURCES.iter().enumerate() {
        if !pattern.starts_with("(?i)") {
            continue;
        }
        let literals: Vec<&str> = GATES
            .iter()
            .filter(|(_, rules)| rules.contains(&index))
            .map(|(literal, _)| *literal)
            .collect();
        for literal in literals.iter().filter(|literal| literal.is_ascii()) {
            // What the regex engine's case folding matches to the literal's characters.
            let mut folded = regex_syntax::hir::ClassUnicode::new(
                literal
                    .chars()
                    .map(|c| regex_syntax::hir::ClassUnicodeRange::new(c, c)),
            );
            folded.case_fold_simple();
            for range in folded.ranges() {
                for other in (range.start()..=range.end()).filter(|c| !c.is_ascii()) {
                    assert!(
                        literals.contains(&other.to_string().as_str()),
                        "rule {index} ({id}) is gated by `{literal}` but not by `{other}`"
                    );
                }
            }
            let letters: Vec<usize> = (0..literal.len())
                .filter(|&at| literal.as_bytes()[at].is_ascii_alphabetic())
                .collect();
            for case in 0..1u32 << letters.len() {
                let mut variant = literal.as_bytes().to_vec();
                for (bit, &at) in letters.iter().enumerate() {
                    variant[at] = if case >> bit & 1 == 1 {
                        variant[at].to_ascii_uppercase()
                    } else {
                        variant[at].to_ascii_lowercase()
                    };
                }
                let variant = String::from_utf8(variant).unwrap_or_default();
                assert!(
                    literals.contains(&variant.as_str()),
                    "rule {index} ({id}) is gated by `{literal}` but not by `{variant}`"
                );
            }
        }
        gated += usize::from(!literals.is_empty());
    }
    // The AWS secret key and Azure storage key rules.
    assert_eq!(gated, 2);
}

/// The gates' one search finds every place a literal starts because no literal starts
/// another (two literals matching at one place would be one the other's prefix).
#[test]
fn no_gate_literal_is_a_prefix_of_another() {
    for (first, _) in GATES {
        for (second, _) in GATES {
            assert!(
                first == second || !second.starts_with(first),
                "`{first}` starts `{second}`"
            );
        }
    }
}

/// Gated, a scan finds what every rule run on the text finds: on texts made of the
/// rules' true positives, near misses and the gate literals in every overlap.
#[test]
fn a_gated_scan_finds_what_all_rules_find() {
    let mut texts: Vec<String> = Vec::new();
    for (literal, _) in GATES {
        for (other, _) in GATES {
            // Overlapping and adjacent: `AKIASIA`, `sk-://`.
            texts.push(format!("{literal}{other}"));
            if let Some(last) = literal.chars().last() {
                texts.push(format!("{literal}{}", other.trim_start_matches(last)));
            }
        }
    }
    for (_, positives, near_misses) in corpus() {
        for text in positives.iter().map(|(text, _)| text).chain(&near_misses) {
            texts.push(text.clone());
            texts.push(format!("x = 1\n{text}\nAKIA ://"));
        }
    }
    for text in &texts {
        assert_eq!(scan(text), scan_by(text, |_| true), "{text:?}");
    }
}
