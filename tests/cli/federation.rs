//! Shared layers and drift (#22): excerpts that follow the code (`anchor`), the lock of
//! referenced files (`ctx lock`, drift warnings, `--locked`), and sources imported from a
//! standards repository (`[[sources]]`, `ctx fetch`, `ctx update`).

use crate::ctx;

const CODE: &str = "import os\n\ndef helper():\n    return 1\n\ndef charge(amount):\n    if amount <= 0:\n        raise ValueError(amount)\n    return amount\n\ndef refund():\n    pass\n";

fn anchored_workspace() -> tempfile::TempDir {
    crate::workspace_of(&[
        ("ctx.toml", ""),
        ("src/pay.py", CODE),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\npatterns:\n  charge:\n    path: src/pay.py\n    anchor: { start: '^def charge', end: '^    return' }\n  by_lines:\n    path: src/pay.py\n    lines: 6-9\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
    ])
}

fn content_of(dir: &std::path::Path, key: &str) -> (String, String) {
    let run = ctx(dir, &["bundle", "f", "--format", "json"]);
    run.expect_code(0);
    let bundle: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let item = crate::item_where(&bundle, "key", key);
    (
        item["content"].as_str().unwrap().to_owned(),
        item["lines"].as_str().unwrap().to_owned(),
    )
}

/// Issue #22, point 5: an anchored excerpt still shows the same function after code is
/// added above it.
#[test]
fn excerpts_follow_the_code() {
    let dir = anchored_workspace();
    let (before, lines) = content_of(dir.path(), "charge");
    assert!(before.starts_with("def charge(amount):"), "{before}");
    assert!(before.ends_with("    return amount\n"), "{before}");
    assert_eq!(lines, "6-9");
    // Forty lines of new code above it.
    let shifted = format!("{}{CODE}", "# new\n".repeat(40));
    std::fs::write(dir.path().join("src/pay.py"), shifted).unwrap();
    let (after, lines) = content_of(dir.path(), "charge");
    assert_eq!(after, before, "the same function");
    assert_eq!(lines, "46-49");
    let (by_lines, _) = content_of(dir.path(), "by_lines");
    assert!(
        !by_lines.contains("def charge"),
        "a fixed range shows other lines now"
    );
}

/// Issue #22, point 5: an anchor that matches no line, several lines, or has no end is
/// a located error with the lines it found.
#[test]
fn anchors_that_do_not_find_one_excerpt_are_errors() {
    let case = |anchor: &str, needles: &[&str]| {
        let dir = crate::workspace_of(&[
            ("ctx.toml", ""),
            ("src/pay.py", CODE),
            (
                "domains/d.yaml",
                &format!(
                    "kind: domain\nname: d\npatterns:\n  p:\n    path: src/pay.py\n    anchor: {anchor}\n"
                ),
            ),
        ]);
        let run = ctx(dir.path(), &["validate"]);
        run.expect_code(2);
        for needle in needles {
            assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
        }
    };
    case(
        "{ start: '^def pay', end: '^}' }",
        &[
            "domains/d.yaml:6:",
            "`anchor.start` matches no line of `src/pay.py` (12 lines)",
        ],
    );
    case(
        "{ start: '^def ', end: 'return' }",
        &[
            "`anchor.start` matches 3 lines of `src/pay.py`: 3 (`def helper():`), 6",
            "11 (`def refund():`)",
            "exactly one line",
        ],
    );
    case(
        "{ start: '^def refund', end: 'return' }",
        &["`anchor.end` matches no line after line 11 (`def refund():`) of `src/pay.py`"],
    );
    case(
        "{ start: '^def (charge', end: 'x' }",
        &["`anchor.start` is not a regular expression"],
    );
    // On a glob it would select nothing: said, not ignored.
    let dir = crate::workspace_of(&[
        ("ctx.toml", ""),
        ("src/pay.py", CODE),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\npatterns:\n  p:\n    path: src/*.py\n    anchor: { start: '^def charge', end: 'return' }\n",
        ),
    ]);
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("`anchor` needs a single file, but `path` is a glob"),
        "{}",
        run.stderr
    );
}

/// Issue #22, points 4 and 5: after `ctx lock`, code added above the excerpts leaves the
/// anchored one as it was, while the `lines` one is reported as drift (a warning; an
/// error with `--locked`) until the change is reviewed and locked again.
#[test]
fn lines_excerpts_that_drift_are_reported() {
    let dir = anchored_workspace();
    let locked = ctx(dir.path(), &["lock"]);
    locked.expect_code(0);
    assert!(
        locked
            .stderr
            .contains("locked 2 files and excerpts in ctx.lock (2 new or changed"),
        "{}",
        locked.stderr
    );
    let lock = std::fs::read_to_string(dir.path().join("ctx.lock")).unwrap();
    assert!(lock.contains("lines = \"6-9\""), "{lock}");
    assert!(
        lock.contains("anchor = \"^def charge … ^    return\""),
        "{lock}"
    );
    assert!(lock.contains("\"domain:d/patterns/by_lines\""), "{lock}");
    ctx(dir.path(), &["validate", "--locked"]).expect_code(0);
    // Forty lines above both excerpts.
    let shifted = format!("{}{CODE}", "# new\n".repeat(40));
    std::fs::write(dir.path().join("src/pay.py"), shifted).unwrap();
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(0);
    assert_eq!(
        run.stderr.matches("config::drift").count(),
        1,
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("domains/d.yaml:7:3"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("`domain:d/patterns/by_lines` shows `src/pay.py` lines 6-9, which changed since `ctx lock`"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("patterns/charge"),
        "the anchored excerpt did not drift: {}",
        run.stderr
    );
    let strict = ctx(dir.path(), &["validate", "--locked"]);
    strict.expect_code(2);
    assert!(strict.stderr.contains("config::drift"), "{}", strict.stderr);
    // Reviewed and locked again: clean.
    ctx(dir.path(), &["lock"]).expect_code(0);
    ctx(dir.path(), &["validate", "--locked"]).expect_code(0);
    // A new pattern the lock does not record fails `--locked` only.
    let yaml = std::fs::read_to_string(dir.path().join("domains/d.yaml")).unwrap();
    std::fs::write(
        dir.path().join("domains/d.yaml"),
        format!("{yaml}  whole: src/pay.py\n"),
    )
    .unwrap();
    ctx(dir.path(), &["validate"]).expect_code(0);
    let strict = ctx(dir.path(), &["validate", "--locked"]);
    strict.expect_code(2);
    assert!(
        strict.stderr.contains("which `ctx.lock` does not record"),
        "{}",
        strict.stderr
    );
    // No lock at all fails `--locked`.
    std::fs::remove_file(dir.path().join("ctx.lock")).unwrap();
    let strict = ctx(dir.path(), &["validate", "--locked"]);
    strict.expect_code(2);
    assert!(
        strict.stderr.contains("there is no `ctx.lock`"),
        "{}",
        strict.stderr
    );
}

/// Run git in `dir`; panics with its output on failure.
fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "ctx test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "ctx test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn write(dir: &std::path::Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A standards repository with two tagged revisions: an org layer with a `final` rule
/// and a pattern, and a `payments` domain whose rule changes in v2.
fn standards_repository() -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    git(dir, &["init", "-q", "-b", "main"]);
    write(
        dir,
        "ctx/org.yaml",
        "kind: org\nname: acme\nconstraints:\n  security:\n    text: Never log secrets\n    final: true\npatterns:\n  logging: examples/logging.py\n",
    );
    write(
        dir,
        "ctx/payments.yaml",
        "kind: domain\nname: payments\nconstraints:\n  pci: Card numbers never leave the vault (v1)\npatterns:\n  charge: src/charge.py\n",
    );
    write(dir, "examples/logging.py", "log.info('redacted')\n");
    write(
        dir,
        "src/charge.py",
        "def charge(amount):\n    return amount\n",
    );
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "v1"]);
    git(dir, &["tag", "v1"]);
    write(
        dir,
        "ctx/payments.yaml",
        "kind: domain\nname: payments\nconstraints:\n  pci: Card numbers never leave the vault (v2)\npatterns:\n  charge: src/charge.py\n",
    );
    git(dir, &["commit", "-q", "-am", "v2"]);
    git(dir, &["tag", "v2"]);
    repo
}

fn consuming_workspace(standards: &std::path::Path, rev: &str) -> tempfile::TempDir {
    crate::workspace_of(&[
        (
            "ctx.toml",
            &format!(
                "[[sources]]\nname = \"acme\"\ngit = \"{}\"\nrev = \"{rev}\"\npath = \"ctx\"\n",
                standards.display()
            ),
        ),
        (
            "domains/checkout.yaml",
            "kind: feature\nname: checkout\ndomains: [payments]\n",
        ),
    ])
}

fn checkout_bundle(dir: &std::path::Path) -> serde_json::Value {
    let run = ctx(dir, &["bundle", "checkout", "--format", "json"]);
    run.expect_code(0);
    serde_json::from_str(&run.stdout).unwrap()
}

/// Issue #22, points 1-3: a workspace imports the org layer and a domain of a standards
/// repository pinned in `ctx.lock`, bundles them with their provenance, passes
/// `--locked`, moves to the next revision with `ctx update`, and a tampered checkout
/// fails `--locked`.
#[test]
fn a_standards_repository_is_imported_pinned_and_updated() {
    let standards = standards_repository();
    let v1 = git(standards.path(), &["rev-parse", "v1^{commit}"]);
    let v2 = git(standards.path(), &["rev-parse", "v2^{commit}"]);
    let dir = consuming_workspace(standards.path(), "v1");
    let root = dir.path();
    // Not fetched yet: said, with what to do.
    let run = ctx(root, &["validate"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("source `acme`") && run.stderr.contains("run `ctx fetch`"),
        "{}",
        run.stderr
    );
    let fetched = ctx(root, &["fetch"]);
    fetched.expect_code(0);
    assert!(
        fetched
            .stderr
            .contains(&format!("acme: checked out {}", &v1[..7])),
        "{}",
        fetched.stderr
    );
    let lock = std::fs::read_to_string(root.join("ctx.lock")).unwrap();
    assert!(lock.contains(&format!("commit = \"{v1}\"")), "{lock}");
    // Imported items take part like local ones, with their provenance.
    let bundle = checkout_bundle(root);
    let short = &v1[..7];
    let security = crate::item_where(&bundle, "id", "org:acme/constraints/security");
    assert_eq!(
        security["origin"]["file"],
        format!("acme@{short}:ctx/org.yaml")
    );
    assert_eq!(security["origin"]["line"], 4);
    let pci = crate::item_where(&bundle, "id", "domain:payments/constraints/pci");
    assert_eq!(pci["text"], "Card numbers never leave the vault (v1)");
    let charge = crate::item_where(&bundle, "id", "domain:payments/patterns/charge");
    assert_eq!(charge["path"], "@acme/src/charge.py");
    assert_eq!(
        charge["content"],
        "def charge(amount):\n    return amount\n"
    );
    let markdown = ctx(root, &["bundle", "checkout"]);
    assert!(
        markdown
            .stdout
            .contains(&format!("`acme@{short}:ctx/payments.yaml:4`")),
        "{}",
        markdown.stdout
    );
    // Locked: the lock matches, the checkout matches its digest.
    ctx(root, &["lock"]).expect_code(0);
    ctx(root, &["validate", "--locked"]).expect_code(0);
    ctx(root, &["fetch", "--locked"]).expect_code(0);
    // A `final` item of the source cannot be disabled locally, and a local document
    // cannot take an imported one's name.
    write(
        root,
        "domains/override.yaml",
        "kind: feature\nname: other\ndomains: [payments]\nconstraints:\n  security:\n    enabled: false\n",
    );
    let run = ctx(root, &["validate"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("final") && run.stderr.contains(&format!("acme@{short}:ctx/org.yaml")),
        "{}",
        run.stderr
    );
    write(
        root,
        "domains/override.yaml",
        "kind: domain\nname: payments\n",
    );
    let run = ctx(root, &["validate"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("domains/override.yaml")
            && run
                .stderr
                .contains(&format!("acme@{short}:ctx/payments.yaml")),
        "{}",
        run.stderr
    );
    std::fs::remove_file(root.join("domains/override.yaml")).unwrap();
    // The next revision: ctx.toml asks for v2; the lock still pins v1 until `ctx update`.
    let toml = std::fs::read_to_string(root.join("ctx.toml")).unwrap();
    std::fs::write(
        root.join("ctx.toml"),
        toml.replace("rev = \"v1\"", "rev = \"v2\""),
    )
    .unwrap();
    let strict = ctx(root, &["fetch", "--locked"]);
    strict.expect_code(2);
    assert!(strict.stderr.contains("does not pin"), "{}", strict.stderr);
    let updated = ctx(root, &["update", "acme"]);
    updated.expect_code(0);
    assert!(
        updated
            .stderr
            .contains(&format!("acme: {} → {}", &v1[..7], &v2[..7])),
        "{}",
        updated.stderr
    );
    let bundle = checkout_bundle(root);
    let pci = crate::item_where(&bundle, "id", "domain:payments/constraints/pci");
    assert_eq!(pci["text"], "Card numbers never leave the vault (v2)");
    assert_eq!(
        pci["origin"]["file"],
        format!("acme@{}:ctx/payments.yaml", &v2[..7])
    );
    ctx(root, &["validate", "--locked"]).expect_code(0);
    // One checkout per source is kept, however often it is updated.
    let kept: Vec<String> = std::fs::read_dir(root.join(".ctx/sources/acme"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "repo.git")
        .collect();
    assert_eq!(kept, std::slice::from_ref(&v2));
    // A tampered checkout fails `--locked`.
    let tree = root
        .join(".ctx/sources/acme")
        .join(&v2)
        .join("ctx/payments.yaml");
    let mut permissions = std::fs::metadata(&tree).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o644);
    std::fs::set_permissions(&tree, permissions).unwrap();
    std::fs::write(
        &tree,
        "kind: domain\nname: payments\nconstraints:\n  pci: anything goes\n",
    )
    .unwrap();
    for args in [&["fetch", "--locked"][..], &["validate", "--locked"]] {
        let run = ctx(root, args);
        run.expect_code(2);
        assert!(
            run.stderr.contains("does not match its digest"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

/// Issue #22, points 2 and 3: a source sees only its own documents (a reference to
/// another source's document is an error), its paths stay inside its own tree, and a
/// private (`audience`) item of a source stays private in every bundle.
#[test]
fn sources_stay_apart_and_inside_their_trees() {
    let acme = tempfile::tempdir().unwrap();
    git(acme.path(), &["init", "-q", "-b", "main"]);
    write(
        acme.path(),
        "ctx/payments.yaml",
        "kind: domain\nname: payments\nconstraints:\n  pci: Card numbers never leave the vault\n  review-notes:\n    text: Check refunds against the ledger\n    audience: [reviewer]\npatterns:\n  escape: ../outside.txt\n",
    );
    git(acme.path(), &["add", "-A"]);
    git(acme.path(), &["commit", "-q", "-m", "bad"]);
    let beta = tempfile::tempdir().unwrap();
    git(beta.path(), &["init", "-q", "-b", "main"]);
    write(
        beta.path(),
        "ctx/ledger.yaml",
        "kind: service\nname: ledger\ndomain: payments\n",
    );
    git(beta.path(), &["add", "-A"]);
    git(beta.path(), &["commit", "-q", "-m", "bad"]);
    let toml = format!(
        "[[sources]]\nname = \"acme\"\ngit = \"{}\"\nrev = \"main\"\npath = \"ctx\"\n\n[[sources]]\nname = \"beta\"\ngit = \"{}\"\nrev = \"main\"\npath = \"ctx\"\n",
        acme.path().display(),
        beta.path().display()
    );
    let dir = crate::workspace_of(&[
        ("ctx.toml", &toml),
        ("outside.txt", "a local file the source must not reach\n"),
        (
            "domains/checkout.yaml",
            "kind: feature\nname: checkout\ndomains: [payments]\n",
        ),
        (
            "domains/agents.yaml",
            "kind: agent\nname: reviewer\ntopics: [security]\n",
        ),
    ]);
    let root = dir.path();
    ctx(root, &["fetch"]).expect_code(0);
    let run = ctx(root, &["validate"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("service `domain` in source `beta` names domain `payments` of source `acme`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("ctx/payments.yaml:9"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("`path: ../outside.txt` leaves the tree of source `acme`"),
        "{}",
        run.stderr
    );
    // Fixed upstream: beta's service keeps to itself, acme's pattern to its tree.
    write(
        acme.path(),
        "ctx/payments.yaml",
        "kind: domain\nname: payments\nconstraints:\n  pci: Card numbers never leave the vault\n  review-notes:\n    text: Check refunds against the ledger\n    audience: [reviewer]\n",
    );
    git(acme.path(), &["commit", "-q", "-am", "good"]);
    write(
        beta.path(),
        "ctx/ledger.yaml",
        "kind: service\nname: ledger\n",
    );
    git(beta.path(), &["commit", "-q", "-am", "good"]);
    ctx(root, &["update"]).expect_code(0);
    ctx(root, &["validate"]).expect_code(0);
    let status = |args: &[&str]| {
        let mut all = vec!["bundle", "checkout", "--format", "json"];
        all.extend_from_slice(args);
        let run = ctx(root, &all);
        run.expect_code(0);
        let bundle: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        bundle["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["key"] == "review-notes")
            .map(|item| item["status"].as_str().unwrap().to_owned())
    };
    assert_eq!(status(&[]), None, "private to the reviewer");
    assert_eq!(
        status(&["--agent", "reviewer"]).as_deref(),
        Some("included")
    );
}

/// A source whose `path` names no folder of the repository is an error, not an empty
/// import.
#[test]
fn a_source_without_its_documents_folder_is_an_error() {
    let standards = standards_repository();
    let dir = consuming_workspace(standards.path(), "v1");
    let toml = std::fs::read_to_string(dir.path().join("ctx.toml")).unwrap();
    std::fs::write(
        dir.path().join("ctx.toml"),
        toml.replace("path = \"ctx\"", "path = \"standards\""),
    )
    .unwrap();
    ctx(dir.path(), &["fetch"]).expect_code(0);
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("has no folder `standards`"),
        "{}",
        run.stderr
    );
}
