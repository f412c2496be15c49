//! `ctx validate` on one fixture per bad-input case (RELIABILITY.md, Config and Paths).
//! Each asserts exit 2, the `file:line:col` and key in the message, and snapshots the
//! rendered diagnostic.

use crate::{ctx, fixture};

/// Validate fixture `name`; expect exit 2 and each of `needles` in stderr; snapshot.
fn bad(name: &str, needles: &[&str]) {
    let run = ctx(&fixture(name), &["validate"]);
    run.expect_code(2);
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "{name}: stderr lacks {needle:?}\n{}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains("help:") || run.stderr.contains("did you mean"),
        "{name}: no help line\n{}",
        run.stderr
    );
    insta::assert_snapshot!(name, run.stderr);
}

#[test]
fn syntax_error() {
    bad("syntax_error", &["domains/a.yaml:"]);
}

#[test]
fn tab_indentation() {
    bad("tab_indentation", &["domains/a.yaml:4:", "spaces"]);
}

#[test]
fn wrong_type_timeout_hints_a_duration() {
    bad(
        "wrong_type_timeout",
        &["domains/a.yaml:6:14", "`timeout: ten`", "`10m`"],
    );
}

#[test]
fn wrong_type_budget() {
    bad("wrong_type_budget", &["domains/a.yaml:3:9", "whole number"]);
}

#[test]
fn unknown_key_suggests() {
    bad(
        "unknown_key",
        &[
            "domains/a.yaml:3:1",
            "unknown key `paterns`",
            "did you mean `patterns`?",
        ],
    );
}

#[test]
fn unknown_nested_key_suggests() {
    bad(
        "unknown_key_nested",
        &["domains/a.yaml:6:5", "`timout`", "did you mean `timeout`?"],
    );
}

#[test]
fn duplicate_key_cites_both() {
    bad(
        "duplicate_key",
        &[
            "domains/a.yaml:6:3",
            "duplicate key `privacy`",
            "domains/a.yaml:4:3",
        ],
    );
}

#[test]
fn duplicate_name_across_files_cites_both() {
    bad(
        "duplicate_name_across_files",
        &[
            "domains/b.yaml:3:7",
            "domain `users` is declared twice",
            "domains/a.yaml:2:7",
        ],
    );
}

#[test]
fn empty_file() {
    bad("empty_file", &["domains/a.yaml:1:1", "holds no document"]);
}

#[test]
fn only_comments() {
    bad(
        "only_comments",
        &["domains/a.yaml:1:1", "holds no document"],
    );
}

#[test]
fn utf16_says_save_as_utf8() {
    bad("utf16", &["UTF-16", "save it as UTF-8"]);
}

#[test]
fn invalid_utf8_is_located() {
    bad("invalid_utf8", &["domains/a.yaml:3:17", "not valid UTF-8"]);
}

#[test]
fn nul_byte_is_binary_data() {
    bad("nul_byte", &["domains/a.yaml:2:9", "binary data in config"]);
}

#[test]
fn null_item_says_use_enabled_false() {
    bad(
        "null_item",
        &[
            "domains/a.yaml:4:",
            "`constraints.privacy` is null",
            "enabled: false",
        ],
    );
}

#[test]
fn unknown_domain_reference() {
    bad(
        "unknown_domain_reference",
        &[
            "domains/f.yaml:3:11",
            "unknown domain `user`",
            "did you mean `users`?",
        ],
    );
}

#[test]
fn unknown_service_reference() {
    bad(
        "unknown_service_reference",
        &[
            "domains/a.yaml:3:14",
            "unknown service `user-servce`",
            "did you mean `user-service`?",
        ],
    );
}

#[test]
fn unknown_agent_in_audience() {
    bad(
        "unknown_agent_in_audience",
        &[
            "domains/a.yaml:6:16",
            "unknown agent `reviewr`",
            "did you mean `reviewer`?",
        ],
    );
}

#[test]
fn unknown_phase_pattern() {
    bad(
        "unknown_phase_pattern",
        &[
            "domains/f.yaml:7:16",
            "`authentification`",
            "did you mean `authentication`?",
        ],
    );
}

#[test]
fn unknown_phase_gate() {
    bad(
        "unknown_phase_gate",
        &[
            "domains/f.yaml:6:18",
            "unknown gate `auth-test`",
            "did you mean `auth-tests`?",
        ],
    );
}

#[test]
fn unknown_qualified_layer() {
    bad(
        "unknown_qualified_layer",
        &[
            "domains/f.yaml:5:3",
            "layer `user`",
            "did you mean `users`?",
        ],
    );
}

#[test]
fn unknown_qualified_key() {
    bad(
        "unknown_qualified_key",
        &[
            "domains/f.yaml:5:3",
            "no constraints item `privcy`",
            "did you mean `privacy`?",
        ],
    );
}

#[test]
fn depends_on_cycle_prints_each_edge() {
    bad(
        "depends_on_cycle",
        &[
            "`a` → `b` → `c` → `a`",
            "domains/a.yaml:3:14",
            "domains/a.yaml:7:14",
            "domains/a.yaml:11:14",
        ],
    );
}

#[test]
fn glob_matching_nothing() {
    bad(
        "glob_matches_nothing",
        &["domains/a.yaml:4:9", "glob `src/**/*.rs` matches no file"],
    );
}

#[test]
fn missing_file() {
    bad(
        "missing_file",
        &["domains/a.yaml:4:9", "`path: src/auth.py` does not exist"],
    );
}

#[test]
fn lines_past_end_of_file() {
    bad(
        "lines_past_end",
        &[
            "domains/a.yaml:6:12",
            "past the end of `src/auth.py` (3 lines)",
        ],
    );
}

#[test]
fn final_override_cites_both() {
    bad(
        "final_override",
        &[
            "domains/a.yaml:4:3",
            "disables a `final` item of org `acme`",
            "domains/org.yaml:4:3",
        ],
    );
}

#[test]
fn path_traversal() {
    bad(
        "path_traversal",
        &["domains/a.yaml:4:7", "leaves the workspace root"],
    );
}

#[test]
fn absolute_path() {
    bad("absolute_path", &["domains/a.yaml:4:11", "is absolute"]);
}

#[test]
fn home_path() {
    bad("home_path", &["domains/a.yaml:4:7", "starts with `~`"]);
}

#[test]
fn backslash_path() {
    bad("backslash_path", &["domains/a.yaml:4:8", "backslash"]);
}

#[test]
fn git_dir_is_never_read() {
    bad("git_dir", &["domains/a.yaml:4:11", "`.git`"]);
}

#[test]
fn unknown_kind_suggests() {
    bad(
        "unknown_kind",
        &[
            "domains/a.yaml:1:7",
            "unknown document kind `domian`",
            "did you mean `domain`?",
        ],
    );
}

#[test]
fn missing_kind() {
    bad(
        "missing_kind",
        &["domains/a.yaml:1:1", "does not start with `kind:`"],
    );
}

#[test]
fn qualified_key_only_in_services_and_features() {
    bad(
        "qualified_key_in_domain",
        &[
            "domains/a.yaml:4:3",
            "only allowed in services and features",
        ],
    );
}

#[test]
fn override_of_nothing() {
    bad("override_nothing", &["domains/a.yaml:4:3", "has no `run`"]);
}

#[test]
fn bad_name() {
    bad(
        "bad_name",
        &["domains/a.yaml:2:7", "`User Management` is not valid"],
    );
}

#[test]
fn bad_date() {
    bad(
        "bad_date",
        &["domains/a.yaml:6:14", "is not a date", "YYYY-MM-DD"],
    );
}

#[test]
fn bad_lines() {
    bad("bad_lines", &["domains/a.yaml:6:12", "is not a line range"]);
}

#[test]
fn second_org() {
    bad(
        "second_org",
        &[
            "domains/a.yaml:5:7",
            "at most one org",
            "domains/a.yaml:2:7",
        ],
    );
}

#[test]
fn settings_unknown_key() {
    bad(
        "settings_unknown_key",
        &[
            "ctx.toml:2:1",
            "unknown key `budjet`",
            "did you mean `budget`?",
        ],
    );
}

#[test]
fn settings_bad_duration() {
    bad(
        "settings_bad_duration",
        &["ctx.toml:2:11", "not a duration"],
    );
}

#[test]
fn all_errors_of_a_run_are_reported() {
    let run = ctx(&fixture("many_errors_at_once"), &["validate"]);
    run.expect_code(2);
    for needle in [
        "domains/a.yaml:4:9",
        "domains/a.yaml:5:7",
        "domains/a.yaml:7:",
        "domains/f.yaml:3:11",
        "domains/f.yaml:4:12",
        "configuration has 5 errors",
    ] {
        assert!(
            run.stderr.contains(needle),
            "lacks {needle:?}\n{}",
            run.stderr
        );
    }
}

#[test]
fn bom_and_crlf_are_accepted() {
    ctx(&fixture("good_bom_crlf"), &["validate"]).expect_code(0);
}

#[test]
fn yaml_11_scalars_stay_strings() {
    ctx(&fixture("good_yaml11_scalars"), &["validate"]).expect_code(0);
    let run = ctx(
        &fixture("good_yaml11_scalars"),
        &["list", "domains", "--format", "json"],
    );
    run.expect_code(0);
    let listing: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(listing["items"][0]["name"], "0777");
    assert_eq!(
        listing["items"][0]["owners"],
        serde_json::json!(["on", "yes", "no"])
    );
}

#[test]
fn expiry_warns_but_passes() {
    let run = ctx(&fixture("good_expiry_warnings"), &["validate"]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("`constraints.old` expired on 2026-01-01"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("`constraints.soon` expires on 2026-12-01 (in 10 days)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("2 warnings"), "{}", run.stderr);
}

#[test]
fn json_format_lists_every_problem_with_locations() {
    let run = ctx(
        &fixture("many_errors_at_once"),
        &["validate", "--format", "json"],
    );
    run.expect_code(2);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["schema"], "ctx.diagnostics/v1");
    assert_eq!(report["errors"], 5);
    let first = &report["diagnostics"][0];
    assert!(
        first["file"].is_string() && first["line"].is_u64() && first["column"].is_u64(),
        "{first}"
    );
    assert!(first["help"].is_string(), "{first}");
}

#[test]
fn bad_today_is_a_usage_error() {
    let run = ctx(&crate::repo_root(), &["validate", "--today", "tomorrow"]);
    run.expect_code(2);
    assert!(run.stderr.contains("YYYY-MM-DD"), "{}", run.stderr);
}

#[test]
fn diagnostics_are_identical_across_runs() {
    let first = ctx(&fixture("many_errors_at_once"), &["validate"]);
    for _ in 0..3 {
        let again = ctx(&fixture("many_errors_at_once"), &["validate"]);
        assert_eq!(first.stderr, again.stderr);
    }
}

/// Issue #15, point 8: messages that teach. An unquoted value with `: `, `::` or `{`
/// says "quote this value" with the fix; `timeout: ten` says the accepted form; a
/// missing path suggests the nearest existing file; an absolute path inside the root
/// suggests the relative one.
#[test]
fn messages_teach() {
    let case = |yaml: &str, needles: &[&str]| {
        let dir = crate::workspace_of(&[
            ("ctx.toml", ""),
            ("domains/src/payment_flow.py", "x = 1\n"),
            ("domains/d.yaml", yaml),
        ]);
        let yaml = yaml.replace("ROOT", dir.path().to_str().unwrap());
        std::fs::write(dir.path().join("domains/d.yaml"), yaml).unwrap();
        let run = ctx(dir.path(), &["validate"]);
        run.expect_code(2);
        for needle in needles {
            assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
        }
        assert!(!run.stderr.contains(" at 0"), "{}", run.stderr);
    };
    let domain = "kind: domain\nname: d\n";
    case(
        &format!("{domain}constraints:\n  c: flags:: are fine\n"),
        &[
            "domains/d.yaml:4:",
            "quote this value: `c: \"flags:: are fine\"`",
        ],
    );
    case(
        &format!("{domain}constraints:\n  c: {{\"bytes\": base64}} on the wire\n"),
        &["quote this value: `c: \"{\\\"bytes\\\": base64} on the wire\"`"],
    );
    case(
        &format!("{domain}quality_gates:\n  g: {{ run: \"true\", timeout: ten }}\n"),
        &[
            "`timeout: ten` is not a duration: expected a number with a unit, such as `90s`",
            "`1h 30m`",
        ],
    );
    case(
        &format!("{domain}patterns:\n  p: domains/src/payment_flw.py\n"),
        &["did you mean `domains/src/payment_flow.py`?"],
    );
    case(
        &format!("{domain}patterns:\n  p: ROOT/domains/src/payment_flow.py\n"),
        &["write it relative to the workspace root: `domains/src/payment_flow.py`"],
    );
}

/// Issue #15, point 7: one bad document of a multi-document file is reported alone; the
/// others are still read and checked, nothing cascades into claims about documents that
/// exist, and `ctx list` still lists what could be read.
#[test]
fn one_bad_document_does_not_poison_the_rest() {
    let service =
        |name: &str, extra: &str| format!("kind: service\nname: {name}\ndomain: d\n{extra}");
    let files = |services: String| {
        crate::workspace_of(&[
            ("ctx.toml", ""),
            (
                "domains/d.yaml",
                "kind: domain\nname: d\nquality_gates:\n  t: \"true\"\n",
            ),
            ("domains/services.yaml", &services),
            (
                "domains/f.yaml",
                "kind: feature\nname: f\ndomains: [d]\nservices: [api, worker, billing]\nphases:\n  - name: p\n    validation: [t]\n",
            ),
        ])
    };
    let errors = |stderr: &str| stderr.matches("  × ").count();
    // A typo in the middle document: one error, at the typo.
    let dir = files(format!(
        "{}---\n{}---\n{}",
        service("api", ""),
        service("worker", "dependz_on: [api]\n"),
        service("billing", "depends_on: [api]\n"),
    ));
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(2);
    assert_eq!(errors(&run.stderr), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("domains/services.yaml:8:1"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `depends_on`?"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("unknown service"), "{}", run.stderr);
    // `ctx list` lists the documents that could be read, says what is wrong, exits 2.
    let listed = ctx(dir.path(), &["list", "services"]);
    listed.expect_code(2);
    assert!(listed.stdout.contains("api ") && listed.stdout.contains("billing "));
    assert!(!listed.stdout.contains("worker"), "{}", listed.stdout);
    assert!(
        listed.stderr.contains("unknown key `dependz_on`"),
        "{}",
        listed.stderr
    );
    assert!(
        listed.stderr.contains("listed what could be read"),
        "{}",
        listed.stderr
    );
    // Two syntax errors in two documents: two errors, each located.
    let dir = files(format!(
        "{}---\n{}---\n{}",
        service("api", "description: \"unclosed\n"),
        service("worker", ""),
        service("billing", "description: 'also unclosed\n"),
    ));
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(2);
    assert_eq!(errors(&run.stderr), 2, "{}", run.stderr);
    for line in ["domains/services.yaml:5:1", "domains/services.yaml:14:1"] {
        assert!(run.stderr.contains(line), "{line}: {}", run.stderr);
    }
    assert!(!run.stderr.contains("()"), "{}", run.stderr);
    // A domain whose `name:` line has the typo: the feature and the services naming it
    // are not reported (their gate `t` cannot be checked either).
    let dir = files(format!(
        "{}---\n{}",
        service("api", ""),
        service("worker", "")
    ));
    std::fs::write(
        dir.path().join("domains/d.yaml"),
        "kind: domain\nnam: d\nquality_gates:\n  t: \"true\"\n",
    )
    .unwrap();
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(2);
    assert_eq!(
        errors(&run.stderr),
        2,
        "the typo, and `billing` undeclared: {}",
        run.stderr
    );
    assert!(run.stderr.contains("unknown key `nam`"), "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown service `billing`"),
        "{}",
        run.stderr
    );
}

/// Issue #15, point 7: one wrong edge that closes several cycles is one error, with
/// every edge of the loop located; shared dependencies are fine and the help does not
/// ask for a tree.
#[test]
fn one_dependency_cycle_is_one_error() {
    let service = |name: &str, deps: &str| {
        format!("kind: service\nname: {name}\ndomain: d\ndepends_on: [{deps}]\n")
    };
    let dir = crate::workspace_of(&[
        ("ctx.toml", ""),
        ("domains/d.yaml", "kind: domain\nname: d\n"),
        (
            "domains/services.yaml",
            &[
                service("web", "api, auth"),
                service("api", "store, auth"),
                service("auth", "store"),
                // The wrong edge: the store depends on the web front end.
                service("store", "web"),
            ]
            .join("---\n"),
        ),
    ]);
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(2);
    assert_eq!(
        run.stderr.matches("config::cycle").count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.matches("  × ").count(), 1, "{}", run.stderr);
    assert!(!run.stderr.contains("tree"), "{}", run.stderr);
    for edge in [
        "`web` depends on `api`",
        "`web` depends on `auth`",
        "`api` depends on `store`",
        "`api` depends on `auth`",
        "`auth` depends on `store`",
        "`store` depends on `web`",
    ] {
        assert_eq!(
            run.stderr.matches(edge).count(),
            1,
            "{edge}: {}",
            run.stderr
        );
    }
    // Without the wrong edge, the shared dependencies are fine.
    std::fs::write(
        dir.path().join("domains/services.yaml"),
        [
            service("web", "api, auth"),
            service("api", "store, auth"),
            service("auth", "store"),
            service("store", ""),
        ]
        .join("---\n"),
    )
    .unwrap();
    ctx(dir.path(), &["validate"]).expect_code(0);
}

/// Two input keys that reach gates as the same `CTX_INPUT_*` variable are an error
/// citing both.
#[test]
fn inputs_that_collide_as_variables_are_errors() {
    let dir = crate::workspace_of(&[
        ("ctx.toml", ""),
        (
            "domains/f.yaml",
            "kind: feature\nname: f\ninputs:\n  base-url: Where the service runs\n  base_url: The same, spelled otherwise\n",
        ),
    ]);
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(2);
    for needle in [
        "inputs `base-url` and `base_url` both reach gates as `CTX_INPUT_BASE_URL`",
        "domains/f.yaml:5:3",
        "`base-url` declared here",
    ] {
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }
}
