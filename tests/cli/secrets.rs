//! Nothing secret leaves: planted secrets of every rule never appear in a bundle, an
//! explanation, a report or on stderr; `secrets.mode = "fail"` refuses with exit 5.

use crate::ctx;

/// One planted value per rule (random-looking, not real).
fn planted() -> Vec<(&'static str, String)> {
    let b64 = "Qm9vdHN0cmFwS2V5TWF0ZXJpYWxGb3JUZXN0aW5nT25seURvTm90VXNlSW5Qcm9k";
    vec![
        (
            "private-key",
            format!("-----BEGIN RSA PRIVATE KEY-----\n{b64}\n{b64}\n-----END RSA PRIVATE KEY-----"),
        ),
        ("aws-access-key-id", String::from("AKIAZ7QPLM3XRT5VWKNB")),
        (
            "aws-secret-access-key",
            String::from("aws_secret_access_key = hV3kQ9pLm2ZxR7tY1uW8eD4fG6jK0aS5bN2cX9vQ"),
        ),
        (
            "gcp-api-key",
            String::from("AIzaSyQ7pLm3xRt5VwKnB9dF2gH4jK6lZ8xC0vB"),
        ),
        (
            "github-token",
            String::from("ghp_Q7pLm3xRt5VwKnB9dF2gH4jK6lZ8xC0vB1nM"),
        ),
        ("gitlab-token", String::from("glpat-Q7pLm3xRt5VwKnB9dF2g")),
        (
            "slack-token",
            String::from("xoxb-482910573621-Q7pLm3xRt5VwKnB9dF2gH4jK"),
        ),
        (
            "stripe-key",
            String::from("sk_live_Q7pLm3xRt5VwKnB9dF2gH4jK6l"),
        ),
        (
            "openai-key",
            String::from(
                "sk-proj-Q7pLm3xRt5VwKnB9dF2gH4jK6lZ8xC0vB1nMQ7pLm3xRt5VwKnB9dF2gH4jK6lZ8",
            ),
        ),
        (
            "anthropic-key",
            String::from(
                "sk-ant-api03-Q7pLm3xRt5VwKnB9dF2gH4jK6lZ8xC0vB1nMQ7pLm3xRt5VwKnB9dF2gH4jK6lZ8",
            ),
        ),
        (
            "url-credentials",
            String::from("postgres://app:Zq8!vR2#pLm5@db.internal:5432/shop"),
        ),
        (
            "secret-assignment",
            String::from("password = \"Xk2#pL9mQ4!zRw\""),
        ),
    ]
}

/// The part of each planted text that must never be seen.
fn raw_values() -> Vec<String> {
    vec![
        String::from("Qm9vdHN0cmFwS2V5TWF0ZXJpYWxGb3JUZXN0aW5nT25seURvTm90VXNlSW5Qcm9k"),
        String::from("AKIAZ7QPLM3XRT5VWKNB"),
        String::from("hV3kQ9pLm2ZxR7tY1uW8eD4fG6jK0aS5bN2cX9vQ"),
        String::from("AIzaSyQ7pLm3xRt5VwKnB9dF2gH4jK6lZ8xC0vB"),
        String::from("ghp_Q7pLm3xRt5VwKnB9dF2gH4jK6lZ8xC0vB1nM"),
        String::from("glpat-Q7pLm3xRt5VwKnB9dF2g"),
        String::from("xoxb-482910573621-Q7pLm3xRt5VwKnB9dF2gH4jK"),
        String::from("sk_live_Q7pLm3xRt5VwKnB9dF2gH4jK6l"),
        String::from("sk-proj-Q7pLm3xRt5VwKnB9dF2gH4jK6lZ8xC0vB1nM"),
        String::from("sk-ant-api03-Q7pLm3xRt5VwKnB9dF2gH4jK6lZ8"),
        String::from("Zq8!vR2#pLm5"),
        String::from("Xk2#pL9mQ4!zRw"),
    ]
}

fn workspace(mode: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let body: String = planted()
        .iter()
        .map(|(rule, text)| format!("# {rule}\n{text}\n"))
        .collect();
    for path in ["src/config.py", "examples/leaky.env"] {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), &body).unwrap();
    }
    std::fs::create_dir_all(root.join("domains")).unwrap();
    std::fs::write(
        root.join("ctx.toml"),
        format!("[secrets]\nmode = \"{mode}\"\n"),
    )
    .unwrap();
    std::fs::write(
        root.join("domains/d.yaml"),
        "kind: domain\nname: d\npatterns:\n  config: src/config.py\nexamples: examples/\nquality_gates:\n  leaky: \"cat src/config.py; exit 1\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("domains/f.yaml"),
        "kind: feature\nname: f\ndomains: [d]\n",
    )
    .unwrap();
    dir
}

fn assert_clean(what: &str, text: &str) {
    for raw in raw_values() {
        assert!(!text.contains(&raw), "{what} leaks {raw:?}");
    }
}

#[test]
fn redact_mode_removes_every_planted_secret_from_every_output() {
    let dir = workspace("redact");
    let root = dir.path();
    let markdown = ctx(root, &["bundle", "f"]);
    markdown.expect_code(0);
    assert_clean("markdown", &markdown.stdout);
    assert_clean("stderr", &markdown.stderr);
    for (rule, _) in planted() {
        assert!(
            markdown.stdout.contains(&format!("[REDACTED:{rule}]")),
            "{rule} not redacted"
        );
    }
    assert!(
        markdown.stderr.contains(
            "warning: secret redacted from the bundle: src/config.py:2 (rule `private-key`)"
        ),
        "{}",
        markdown.stderr
    );
    let json = ctx(root, &["bundle", "f", "--format", "json"]);
    json.expect_code(0);
    assert_clean("json", &json.stdout);
    let bundle: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(bundle["secrets"].as_array().unwrap().len() >= 2 * planted().len());
    let explain = ctx(root, &["explain", "f"]);
    assert_clean("explain", &explain.stdout);
    assert!(
        explain.stdout.contains("secret redacted: src/config.py:"),
        "{}",
        explain.stdout
    );
    let report = root.join("report.json");
    let junit = root.join("junit.xml");
    let gates = ctx(
        root,
        &[
            "gates",
            "f",
            "--json",
            report.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--github",
            "on",
        ],
    );
    gates.expect_code(1);
    assert_clean("gate stderr", &gates.stderr);
    assert_clean(
        "gate JSON report",
        &std::fs::read_to_string(&report).unwrap(),
    );
    assert_clean(
        "gate JUnit report",
        &std::fs::read_to_string(&junit).unwrap(),
    );
}

#[test]
fn fail_mode_refuses_with_exit_5_and_names_locations_only() {
    let dir = workspace("fail");
    let run = ctx(dir.path(), &["bundle", "f"]);
    run.expect_code(5);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("src/config.py:2: private-key"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("ctx:allow-secret"), "{}", run.stderr);
    assert_clean("stderr", &run.stderr);
}

#[test]
fn allow_comment_and_off_mode_keep_content() {
    let dir = workspace("off");
    let run = ctx(dir.path(), &["bundle", "f"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("AKIAZ7QPLM3XRT5VWKNB"),
        "off mode inlines as is"
    );
    let dir = workspace("redact");
    std::fs::write(
        dir.path().join("src/config.py"),
        "key = \"AKIAZ7QPLM3XRT5VWKNB\"  # ctx:allow-secret (documented test key)\n",
    )
    .unwrap();
    std::fs::remove_dir_all(dir.path().join("examples")).unwrap();
    std::fs::write(
        dir.path().join("domains/d.yaml"),
        "kind: domain\nname: d\npatterns:\n  config: src/config.py\n",
    )
    .unwrap();
    let run = ctx(dir.path(), &["bundle", "f"]);
    run.expect_code(0);
    assert!(run.stdout.contains("AKIAZ7QPLM3XRT5VWKNB"));
    assert!(!run.stderr.contains("secret redacted"));
}

#[test]
fn the_shipped_example_has_no_findings() {
    let run = ctx(
        &crate::repo_root(),
        &[
            "bundle", "checkout", "--set", "ticket=1", "--format", "json", "--budget", "0",
        ],
    );
    run.expect_code(0);
    let bundle: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(bundle["secrets"], serde_json::json!([]));
}
