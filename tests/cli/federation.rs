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
