//! The token cache (`.ctx/cache/tokens`): repeated bundles reuse counts and scan results
//! by content hash, never a stale one, and a broken or unwritable cache only costs speed.

use std::path::Path;

use crate::{ctx, item_where, workspace_of};

fn small_workspace() -> tempfile::TempDir {
    workspace_of(&[
        (
            "src/a.py",
            "def greet(name):\n    return f\"hello {name}\"\n",
        ),
        ("src/b.py", "VALUE = 1\n"),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\npatterns:\n  a: src/a.py\n  b: src/b.py\nconstraints:\n  c: Keep functions pure.\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
    ])
}

fn bundle(root: &Path, extra: &[&str]) -> (String, serde_json::Value) {
    let mut args = vec!["bundle", "f", "--format", "json"];
    args.extend_from_slice(extra);
    let run = ctx(root, &args);
    run.expect_code(0);
    let json = serde_json::from_str(&run.stdout).unwrap();
    (run.stdout.clone(), json)
}

fn item_tokens(bundle: &serde_json::Value, key: &str) -> u64 {
    item_where(bundle, "key", key)["tokens"].as_u64().unwrap()
}

#[test]
fn repeated_bundles_use_the_cache_and_are_identical() {
    let dir = small_workspace();
    let (first, _) = bundle(dir.path(), &[]);
    let cache = dir.path().join(".ctx/cache/tokens");
    assert!(cache.is_file(), "the first run writes the cache");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".ctx/.gitignore")).unwrap(),
        "*\n",
        "the cache folder ignores itself"
    );
    let written = std::fs::metadata(&cache).unwrap().modified().unwrap();
    let (second, _) = bundle(dir.path(), &[]);
    assert_eq!(first, second);
    assert_eq!(
        std::fs::metadata(&cache).unwrap().modified().unwrap(),
        written,
        "a run that learns nothing leaves the cache alone"
    );
    let (fresh, _) = bundle(dir.path(), &["--no-cache"]);
    assert_eq!(first, fresh);
}

/// A cold Markdown bundle writes the document it counted (its stand-ins replaced), a
/// repeated one renders the template (its total comes from the cache): the same bytes,
/// whatever the contents and the bundle's own text hold — a file without a last newline,
/// backtick runs, and a rule that looks like a content's stand-in.
#[test]
fn markdown_written_from_its_count_is_the_template_render() {
    let dir = workspace_of(&[
        (
            "src/a.py",
            "def greet(name):\n    return f\"hello {name}\"\n",
        ),
        ("src/b.md", "````\nfenced\n````\nno newline at the end"),
        ("src/c.rs", "fn main() {}\n"),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\npatterns:\n  a: src/a.py\n  b: src/b.md\n  c: src/c.rs\nconstraints:\n  c: \"Looks like a stand-in: \\ue0000\\ue001 and \\ue000\"\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
    ]);
    let run = |extra: &[&str]| {
        let mut args = vec!["bundle", "f"];
        args.extend_from_slice(extra);
        let run = ctx(dir.path(), &args);
        run.expect_code(0);
        run.stdout
    };
    let cold = run(&[]);
    assert!(cold.contains("Looks like a stand-in: \u{e000}0\u{e001} and \u{e000}"));
    assert!(cold.contains("````\nfenced\n````\nno newline at the end\n`````\n"));
    assert!(cold.contains("fn main() {}\n"));
    let repeat = run(&[]);
    assert_eq!(cold, repeat);
    let fresh = run(&["--no-cache"]);
    assert_eq!(cold, fresh);
    let total: usize = cold
        .split("- **Tokens**: ")
        .nth(1)
        .and_then(|line| line.split(' ').next())
        .and_then(|total| total.parse().ok())
        .unwrap();
    assert!(total > 100 && total < 1000, "{cold}");
}

#[test]
fn a_changed_file_never_reuses_a_stale_count() {
    let dir = small_workspace();
    let (_, before) = bundle(dir.path(), &[]);
    // Same length, so size and (coarse) timestamps cannot tell the difference.
    let file = dir.path().join("src/a.py");
    let old = std::fs::read_to_string(&file).unwrap();
    let new = old.replace("hello {name}", "x y z w v u ");
    assert_eq!(old.len(), new.len());
    std::fs::write(&file, &new).unwrap();
    let (_, after) = bundle(dir.path(), &[]);
    let (_, fresh) = bundle(dir.path(), &["--no-cache"]);
    assert_ne!(item_tokens(&before, "a"), item_tokens(&after, "a"));
    assert_eq!(item_tokens(&after, "a"), item_tokens(&fresh, "a"));
    assert_eq!(after["tokens"], fresh["tokens"]);
    assert_ne!(before["digest"], after["digest"]);
    assert_eq!(item_where(&after, "key", "a")["content"], new.as_str());
}

#[test]
fn a_corrupt_cache_is_ignored_and_rewritten() {
    let dir = small_workspace();
    let (expected, _) = bundle(dir.path(), &["--no-cache"]);
    assert!(
        !dir.path().join(".ctx").exists(),
        "--no-cache writes nothing"
    );
    let cache = dir.path().join(".ctx/cache/tokens");
    std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
    std::fs::write(&cache, b"ctx token cache v1 garbage\n\x01\x02\x03").unwrap();
    let (out, _) = bundle(dir.path(), &[]);
    assert_eq!(out, expected);
    assert!(
        std::fs::read(&cache).unwrap().len() > 41,
        "the cache is rewritten with real entries"
    );
}

#[test]
fn an_unwritable_cache_does_not_fail_the_bundle() {
    let dir = small_workspace();
    let (expected, _) = bundle(dir.path(), &["--no-cache"]);
    // `.ctx` is a file: the cache folder cannot be created, even by root.
    std::fs::write(dir.path().join(".ctx"), "not a folder").unwrap();
    let run = ctx(dir.path(), &["-v", "bundle", "f", "--format", "json"]);
    run.expect_code(0);
    assert_eq!(run.stdout, expected);
    assert!(
        run.stderr.contains("token cache") && run.stderr.contains("not saved"),
        "{}",
        run.stderr
    );
}

#[test]
fn cached_files_with_secrets_are_still_redacted() {
    let secret = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let dir = workspace_of(&[
        ("src/settings.py", &format!("TOKEN = \"{secret}\"\n")),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\npatterns:\n  settings: src/settings.py\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
    ]);
    for _ in 0..2 {
        let run = ctx(dir.path(), &["bundle", "f", "--format", "json"]);
        run.expect_code(0);
        assert!(!run.stdout.contains(secret));
        assert!(
            run.stdout.contains("[REDACTED:github-token]"),
            "{}",
            run.stdout
        );
        assert!(!run.stderr.contains(secret));
    }
    let cache = std::fs::read(dir.path().join(".ctx/cache/tokens")).unwrap();
    assert!(
        !cache
            .windows(secret.len())
            .any(|window| window == secret.as_bytes()),
        "the cache holds hashes and counts, never text"
    );
}
