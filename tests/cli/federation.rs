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
