//! Synthesis and propagation (#21): strategies for domain sets, hand-off from a parent's
//! execution, extensions, and the context of a change.

use crate::{ctx, git, workspace_of};

const DOMAINS: &str = "kind: domain\nname: payment\nmatch:\n  keywords: [pay]\nconstraints:\n  money: integers in minor units\n  final_rule: { text: never log card numbers, final: true }\nquality_gates:\n  pay-tests: echo pay\n---\nkind: domain\nname: inventory\nmatch:\n  keywords: [stock]\npatterns:\n  reservations: src/stock.py\n---\nkind: domain\nname: shipping\n";

fn strategy_workspace(strategy: &str) -> tempfile::TempDir {
    workspace_of(&[
        ("ctx.toml", ""),
        ("src/stock.py", "def reserve():\n    pass\n"),
        ("domains/d.yaml", DOMAINS),
        ("domains/s.yaml", strategy),
        (
            "domains/f.yaml",
            "kind: feature\nname: checkout\ndomains: [payment, inventory, shipping]\n---\nkind: feature\nname: refunds\ndomains: [payment, shipping]\n",
        ),
    ])
}

const STRATEGY: &str = "kind: strategy\nname: reserve-then-charge\ndescription: where payment meets inventory\ndomains: [payment, inventory]\nconstraints:\n  money: reserve before charging, in minor units\nquality_gates:\n  reserve-and-pay: echo both\nphases:\n  - name: reserve_and_pay\n    patterns: [reservations]\n    validation: [reserve-and-pay, pay-tests]\n";

fn json_bundle(dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["bundle", "--format", "json"];
    all.extend_from_slice(args);
    let run = ctx(dir, &all);
    run.expect_code(0);
    serde_json::from_str(&run.stdout).unwrap()
}

fn layers(bundle: &serde_json::Value) -> Vec<String> {
    bundle["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| {
            format!(
                "{}:{}",
                layer["kind"].as_str().unwrap(),
                layer["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// #21 point 1: a strategy applies to every bundle whose domains include its set —
/// declared feature, ad-hoc words, `--domain` — and never otherwise.
#[test]
fn a_strategy_applies_wherever_its_domains_meet() {
    let dir = strategy_workspace(STRATEGY);
    let strategy = String::from("strategy:reserve-then-charge");
    for args in [
        &["checkout"][..],
        &["--domain", "payment", "--domain", "inventory"],
        &["--describe", "pay for the stock"],
    ] {
        let bundle = json_bundle(dir.path(), args);
        let layers = layers(&bundle);
        let at = layers.iter().position(|layer| *layer == strategy);
        assert!(at.is_some(), "{args:?}: {layers:?}");
        // Right after the domains.
        assert!(
            layers[..at.unwrap()]
                .iter()
                .all(|layer| layer.starts_with("org:") || layer.starts_with("domain:"))
        );
        assert!(
            layers[at.unwrap() + 1..]
                .iter()
                .all(|layer| !layer.starts_with("domain:"))
        );
        // It overrides its own domain's plain key.
        let money: Vec<&serde_json::Value> = bundle["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item["key"] == "money")
            .collect();
        assert_eq!(money.len(), 2, "{args:?}");
        assert_eq!(money[0]["status"], "overridden");
        assert_eq!(money[1]["layer"]["kind"], "strategy");
        assert_eq!(money[1]["status"], "included");
        // Its gate is in the bundle's gate list.
        assert!(
            bundle["quality_gates"]
                .as_array()
                .unwrap()
                .iter()
                .any(|gate| gate["id"] == "strategy:reserve-then-charge/reserve-and-pay")
        );
    }
    for args in [
        &["refunds"][..],
        &["--domain", "payment"],
        &["--domain", "inventory"],
    ] {
        let bundle = json_bundle(dir.path(), args);
        assert!(!layers(&bundle).contains(&strategy), "{args:?}");
    }
    // Its phases follow the feature's, marked as the strategy's.
    let bundle = json_bundle(dir.path(), &["checkout"]);
    let phase = &bundle["phases"][0];
    assert_eq!(phase["name"], "reserve_and_pay");
    assert_eq!(phase["strategy"], "reserve-then-charge");
    assert_eq!(
        phase["validation"][0]["gate"]["id"],
        "strategy:reserve-then-charge/reserve-and-pay"
    );
    assert_eq!(
        phase["validation"][1]["gate"]["id"],
        "domain:payment/pay-tests"
    );
    // `ctx explain` says which applied and why; the Markdown shows its layer and phase.
    let explain = ctx(dir.path(), &["explain", "checkout"]);
    explain.expect_code(0);
    assert!(
        explain
            .stdout
            .contains("strategy `reserve-then-charge` (domains/s.yaml:2)"),
        "{}",
        explain.stdout
    );
    assert!(
        explain
            .stdout
            .contains("  applies: the bundle's domains include all of `payment`, `inventory`"),
        "{}",
        explain.stdout
    );
    let markdown = ctx(dir.path(), &["bundle", "checkout"]);
    markdown.expect_code(0);
    assert!(
        markdown
            .stdout
            .contains("→ strategy `reserve-then-charge` →"),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown
            .stdout
            .contains("1. **reserve_and_pay** (strategy `reserve-then-charge`)"),
        "{}",
        markdown.stdout
    );
    // Its gates run with the feature's.
    let gates = ctx(dir.path(), &["gates", "checkout", "--dry-run"]);
    gates.expect_code(0);
    assert!(
        gates
            .stdout
            .contains("strategy:reserve-then-charge/reserve-and-pay"),
        "{}",
        gates.stdout
    );
    let listed = ctx(dir.path(), &["list", "strategies"]);
    listed.expect_code(0);
    assert!(
        listed
            .stdout
            .contains("reserve-then-charge  payment, inventory  reserve_and_pay"),
        "{}",
        listed.stdout
    );
}

/// #21 point 1: `ctx validate` checks a strategy's references like a feature's.
#[test]
fn strategies_are_validated_like_features() {
    let dir = strategy_workspace(
        "kind: strategy\nname: s\ndomains: [payment, inventroy, payment]\nconstraints:\n  final_rule: overriding a final rule\nphases:\n  - name: p\n    domains: [shipping]\n    patterns: [reservation]\n    validation: [pay-test]\n---\nkind: strategy\nname: empty\ndomains: []\n---\nkind: strategy\nname: payment\ndomains: [payment]\n",
    );
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(2);
    for needle in [
        "domains/s.yaml:3:20]",
        "strategy `domains` names unknown domain `inventroy`",
        "did you mean `inventory`?",
        "strategy `s` lists domain `payment` twice",
        "a `final` item of domain `payment`",
        "phase `p` uses domain `shipping`, which is not in the strategy's scope",
        "add `shipping` to the strategy's `domains`",
        "phase `p` names pattern `reservation`",
        "phase `p` validation names unknown gate `pay-test`",
        "gates in this strategy's scope",
        "strategy `empty` names no domains",
        "strategy `payment` has the same name as domain `payment`",
    ] {
        assert!(
            run.stderr.contains(needle),
            "lacks {needle:?}\n{}",
            run.stderr
        );
    }
}

/// A git repository with three domains and two services owning code, committed on
/// `main`, then a branch `work` with changes to some of it.
pub fn changed_repository() -> tempfile::TempDir {
    let dir = workspace_of(&[
        ("ctx.toml", ""),
        (
            "domains/d.yaml",
            "kind: domain\nname: pay\nmatch:\n  paths: [\"src/pay/**\"]\npatterns:\n  flow: src/pay/flow.py\nquality_gates:\n  pay-tests: \"true\"\n---\nkind: domain\nname: stock\nmatch:\n  paths: [\"src/stock/**\"]\nquality_gates:\n  stock-tests: \"true\"\n---\nkind: domain\nname: ship\nmatch:\n  paths: [\"src/ship/**\"]\nquality_gates:\n  ship-tests: \"true\"\n",
        ),
        (
            "domains/s.yaml",
            "kind: service\nname: api\npaths: [\"services/api/**\"]\nquality_gates:\n  api-tests: \"true\"\n---\nkind: service\nname: web\ndepends_on: [api]\npaths: [\"services/web/**\"]\nquality_gates:\n  web-tests: \"true\"\n---\nkind: service\nname: batch\npaths: [\"services/batch/**\"]\nquality_gates:\n  batch-tests: \"true\"\n",
        ),
        ("src/pay/flow.py", "def pay():\n    return 1\n"),
        ("src/stock/s.py", "x = 1\n"),
        ("src/ship/r.py", "rate = 1\n"),
        ("services/api/main.py", "app = 1\n"),
        ("services/web/main.py", "web = 1\n"),
        ("services/batch/job.py", "job = 1\n"),
        ("README.md", "readme\n"),
    ]);
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "init"]);
    git(root, &["checkout", "-q", "-b", "work"]);
    std::fs::write(root.join("src/pay/flow.py"), "def pay():\n    return 2\n").unwrap();
    std::fs::write(root.join("services/api/main.py"), "app = 2\n").unwrap();
    // Owned by nobody: in the diff, owning no scope.
    std::fs::write(root.join("README.md"), "readme, changed\n").unwrap();
    git(root, &["commit", "-q", "-am", "change"]);
    // Untracked, uncommitted: a change too.
    std::fs::write(root.join("src/pay/new.py"), "NEW = True\n").unwrap();
    dir
}

/// #21 point 4: `ctx bundle --changed` takes as its scope exactly the owners whose gates
/// `ctx gates --changed --dry-run` selects, and holds each changed file's diff.
#[test]
fn a_changed_bundle_has_the_scope_of_changed_gates() {
    let dir = changed_repository();
    let root = dir.path();
    let gates = ctx(root, &["gates", "--changed", "--dry-run"]);
    gates.expect_code(0);
    let mut gate_domains: Vec<String> = Vec::new();
    let mut gate_services: Vec<String> = Vec::new();
    for line in gates.stdout.lines() {
        if let Some(rest) = line.strip_prefix("domain:") {
            gate_domains.push(rest.split('/').next().unwrap().to_owned());
        }
        if let Some(rest) = line.strip_prefix("service:") {
            gate_services.push(rest.split('/').next().unwrap().to_owned());
        }
    }
    let bundle = json_bundle(root, &["--changed"]);
    let names = |field: &str| -> Vec<String> {
        bundle["scope"][field]
            .as_array()
            .unwrap()
            .iter()
            .map(|name| name.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names("domains"), gate_domains);
    assert_eq!(names("services"), gate_services);
    // The owners: `pay` (its file and an untracked one), `api` (changed) and `web`
    // (depends on it); not `stock`, `ship` or `batch`.
    assert_eq!(gate_domains, ["pay"]);
    assert_eq!(gate_services, ["api", "web"]);
    assert_eq!(bundle["scope"]["kind"], "changed");
    assert_eq!(bundle["changes"]["base"], "main");
    assert_eq!(
        bundle["changes"]["files"],
        serde_json::json!([
            "README.md",
            "services/api/main.py",
            "src/pay/flow.py",
            "src/pay/new.py"
        ])
    );
    // One diff item per changed file, in the execution layer, the last.
    let diffs: Vec<&serde_json::Value> = bundle["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["key"] == "changes")
        .collect();
    assert_eq!(diffs.len(), 4);
    assert_eq!(layers(&bundle).last().unwrap(), "execution:changes");
    let flow = diffs
        .iter()
        .find(|item| item["path"] == "src/pay/flow.py")
        .unwrap();
    assert_eq!(flow["language"], "diff");
    let text = flow["content"].as_str().unwrap();
    assert!(text.contains("-    return 1\n+    return 2\n"), "{text}");
    let new = diffs
        .iter()
        .find(|item| item["path"] == "src/pay/new.py")
        .unwrap();
    assert!(new["content"].as_str().unwrap().contains("+NEW = True"));
    // Budgeted: a small budget sheds diffs (largest first), listed as omitted-budget.
    let full = bundle["tokens"]["total"].as_u64().unwrap();
    let budget = (full - 60).to_string();
    let small = json_bundle(root, &["--changed", "--budget", &budget]);
    let statuses: Vec<&str> = small["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["key"] == "changes")
        .map(|item| item["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"omitted-budget"), "{statuses:?}");
    assert!(small["tokens"]["total"].as_u64().unwrap() <= full - 60);
    // The Markdown says what changed and how to run the gates of the change.
    let markdown = ctx(root, &["bundle", "--changed", "--base", "main"]);
    markdown.expect_code(0);
    assert!(
        markdown
            .stdout
            .contains("- **Changes**: 4 files changed since `main`"),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown
            .stdout
            .contains("Run them with `ctx gates --changed --base main`.")
    );
    assert!(markdown.stdout.contains("#### changes: `src/pay/flow.py`"));
    // Nothing changed, or nothing owned: errors that say what to do.
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "all"]);
    let none = ctx(root, &["bundle", "--changed", "--base", "HEAD"]);
    none.expect_code(2);
    assert!(
        none.stderr.contains("nothing changed since `HEAD`"),
        "{}",
        none.stderr
    );
    std::fs::write(root.join("README.md"), "again\n").unwrap();
    let unowned = ctx(root, &["bundle", "--changed", "--base", "HEAD"]);
    unowned.expect_code(2);
    assert!(
        unowned
            .stderr
            .contains("no domain or service owns the 1 changed file (`README.md`)"),
        "{}",
        unowned.stderr
    );
}

/// The count a document reports, and the count of the document without its count lines
/// (the total's, and in JSON the chain's cumulative total's).
fn reported_and_counted(document: &str) -> (u64, u64) {
    let number = |line: &str| -> u64 {
        line.split(|c: char| !c.is_ascii_digit())
            .find(|digits| !digits.is_empty())
            .unwrap()
            .parse()
            .unwrap()
    };
    let total_line = document
        .lines()
        .find(|line| {
            line.starts_with("- **Tokens**: ") || line.trim_start().starts_with("\"total\": ")
        })
        .unwrap();
    let reported = number(total_line);
    let cumulative = serde_json::from_str::<serde_json::Value>(document)
        .ok()
        .and_then(|bundle| bundle["tokens"]["cumulative"].as_u64())
        .map(|value| format!("\"cumulative\": {value}"));
    let without: String = document
        .split_inclusive('\n')
        .filter(|line| {
            line.trim_end() != total_line
                && cumulative
                    .as_deref()
                    .is_none_or(|cumulative| line.trim() != cumulative)
        })
        .collect();
    let o200k = tiktoken_rs::o200k_base().unwrap();
    (reported, o200k.encode_ordinary(&without).len() as u64)
}

/// #21 point 2: a child bundle handed a recorded failing run holds the failed gate's
/// output tail (secrets redacted) and the diff, within its budget, with the parent's
/// digest and tokens; a chain of hand-offs adds up its tokens.
#[test]
fn a_child_bundle_carries_its_parents_failure_and_diff() {
    let dir = changed_repository();
    let root = dir.path();
    std::fs::create_dir_all(root.join("scripts")).unwrap();
    std::fs::write(
        root.join("scripts/check.sh"),
        "echo \"checking the flow\"\necho \"using token=ghp_abcdefghijklmnopqrstuvwxyz0123456789\"\necho \"AssertionError: expected 2 got 3\" >&2\nexit 3\n",
    )
    .unwrap();
    std::fs::write(
        root.join("domains/f.yaml"),
        "kind: feature\nname: pay-fix\ndomains: [pay]\nquality_gates:\n  flow-check: sh scripts/check.sh\n",
    )
    .unwrap();
    let run = ctx(root, &["gates", "pay-fix"]);
    run.expect_code(1);
    let run_id = run
        .stderr
        .split("run ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let parent: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join(".ctx/runs").join(&run_id).join("bundle.json")).unwrap(),
    )
    .unwrap();
    for wanted in [run_id.as_str(), "latest"] {
        let child = json_bundle(root, &["pay-fix", "--from-run", wanted, "--budget", "3000"]);
        assert_eq!(child["parent"]["digest"], parent["digest"]);
        assert_eq!(child["parent"]["tokens"], parent["tokens"]["total"]);
        assert_eq!(child["parent"]["from"], format!("run {run_id}"));
        let total = child["tokens"]["total"].as_u64().unwrap();
        assert!(total <= 3000);
        assert_eq!(
            child["tokens"]["cumulative"].as_u64().unwrap(),
            parent["tokens"]["total"].as_u64().unwrap() + total
        );
        let failed = crate::item_where(&child, "key", "failed");
        assert_eq!(failed["path"], "feature:pay-fix/flow-check");
        assert_eq!(failed["layer"]["kind"], "execution");
        assert_eq!(failed["status"], "included");
        let tail = failed["content"].as_str().unwrap();
        assert!(tail.contains("AssertionError: expected 2 got 3"), "{tail}");
        assert!(!tail.contains("ghp_abcdefghij"), "{tail}");
        assert!(
            failed["why"]
                .as_str()
                .unwrap()
                .contains("`sh scripts/check.sh`")
        );
        let diff = child["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["key"] == "changes" && item["path"] == "src/pay/flow.py")
            .unwrap();
        assert!(diff["content"].as_str().unwrap().contains("+    return 2"));
    }
    // The Markdown header records the parent and the chain's tokens, and the total is
    // still the exact count of what is written.
    let markdown = ctx(
        root,
        &[
            "bundle",
            "pay-fix",
            "--from-run",
            "latest",
            "--budget",
            "3000",
        ],
    );
    markdown.expect_code(0);
    assert!(
        markdown.stdout.contains(&format!(
            "- **Parent**: `{}`",
            parent["digest"].as_str().unwrap()
        )),
        "{}",
        markdown.stdout
    );
    assert!(markdown.stdout.contains("with the parent chain"));
    assert!(
        markdown
            .stdout
            .contains("#### failed: `feature:pay-fix/flow-check`")
    );
    let (reported, counted) = reported_and_counted(&markdown.stdout);
    assert_eq!(reported, counted);
    // A chain: the child's bundle handed on to a grandchild.
    let child_file = root.join("child.json");
    ctx(
        root,
        &[
            "bundle",
            "pay-fix",
            "--from-run",
            "latest",
            "--format",
            "json",
            "-o",
            child_file.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    let child: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&child_file).unwrap()).unwrap();
    let grandchild = ctx(
        root,
        &[
            "bundle",
            "pay-fix",
            "--from",
            child_file.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    grandchild.expect_code(0);
    let (reported, counted) = reported_and_counted(&grandchild.stdout);
    assert_eq!(reported, counted);
    let grandchild: serde_json::Value = serde_json::from_str(&grandchild.stdout).unwrap();
    assert_eq!(grandchild["parent"]["digest"], child["digest"]);
    assert_eq!(
        grandchild["parent"]["cumulative"],
        child["tokens"]["cumulative"]
    );
    assert_eq!(
        grandchild["tokens"]["cumulative"].as_u64().unwrap(),
        child["tokens"]["cumulative"].as_u64().unwrap()
            + grandchild["tokens"]["total"].as_u64().unwrap()
    );
    // An agent view of the child still filters: a view without patterns gets none of it.
    std::fs::write(
        root.join("domains/a.yaml"),
        "kind: agent\nname: planner\nsections: [constraints, quality_gates]\n",
    )
    .unwrap();
    let view = json_bundle(
        root,
        &["pay-fix", "--from-run", "latest", "--agent", "planner"],
    );
    assert_eq!(
        crate::item_where(&view, "key", "failed")["status"],
        "filtered-agent"
    );
    // Mistakes say what to do.
    let bad = ctx(
        root,
        &["bundle", "pay-fix", "--from-run", "20990101T000000Z-abcdef"],
    );
    bad.expect_code(2);
    assert!(
        bad.stderr.contains("no record of that run"),
        "{}",
        bad.stderr
    );
    let other = root.join("not.json");
    std::fs::write(&other, "{\"schema\": \"other\"}").unwrap();
    let bad = ctx(
        root,
        &["bundle", "pay-fix", "--from", other.to_str().unwrap()],
    );
    bad.expect_code(2);
    assert!(
        bad.stderr.contains("not a `ctx.bundle/v1` document"),
        "{}",
        bad.stderr
    );
}

fn extension_workspace(extensions: &str) -> tempfile::TempDir {
    workspace_of(&[
        ("ctx.toml", ""),
        (
            "domains/d.yaml",
            &format!(
                "kind: domain\nname: pay\nconstraints:\n  money: integers\nextensions:\n{extensions}"
            ),
        ),
    ])
}

fn ctx_with_env(root: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> crate::Run {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ctx"))
        .arg("-C")
        .arg(root)
        .args(args)
        .env_remove("CTX_EXTENSIONS")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    crate::Run::from(output)
}

/// #21 point 3: extensions never run unless allowed (`--extensions`, `CTX_EXTENSIONS=1`);
/// otherwise they are listed as skipped with how to allow them.
#[test]
fn extensions_never_run_without_being_allowed() {
    let dir = extension_workspace("  marker: touch ran.marker; echo ran\n");
    let root = dir.path();
    let marker = root.join("ran.marker");
    for env in [
        &[][..],
        &[("CTX_EXTENSIONS", "0")],
        &[("CTX_EXTENSIONS", "false")],
    ] {
        let run = ctx_with_env(
            root,
            &["bundle", "--domain", "pay", "--format", "json"],
            env,
        );
        run.expect_code(0);
        assert!(!marker.exists(), "ran with {env:?}");
        let bundle: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let item = crate::item_where(&bundle, "key", "marker");
        assert_eq!(item["status"], "skipped");
        assert!(
            item["note"]
                .as_str()
                .unwrap()
                .contains("`--extensions` or `CTX_EXTENSIONS=1`")
        );
        assert!(item.get("content").is_none());
    }
    let markdown = ctx_with_env(root, &["bundle", "--domain", "pay"], &[]);
    assert!(
        markdown.stdout.contains(
            "- 1 extension not run (`marker`): allow them with `--extensions` or `CTX_EXTENSIONS=1`"
        ),
        "{}",
        markdown.stdout
    );
    assert!(!marker.exists());
    // Allowed by flag, then by environment.
    let run = ctx_with_env(
        root,
        &[
            "bundle",
            "--domain",
            "pay",
            "--extensions",
            "--format",
            "json",
        ],
        &[],
    );
    run.expect_code(0);
    assert!(marker.exists());
    let bundle: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let item = crate::item_where(&bundle, "key", "marker");
    assert_eq!(item["status"], "included");
    assert_eq!(item["content"], "ran\n");
    assert_eq!(item["layer"]["kind"], "domain");
    std::fs::remove_file(&marker).unwrap();
    ctx_with_env(
        root,
        &["bundle", "--domain", "pay"],
        &[("CTX_EXTENSIONS", "1")],
    )
    .expect_code(0);
    assert!(marker.exists());
}

/// #21 point 3: an extension that hangs is killed (with what it started) at its timeout,
/// and the bundle is still written, the extension listed as `omitted-error`.
#[test]
fn an_extension_that_hangs_is_killed_and_the_bundle_still_built() {
    let dir = extension_workspace(
        "  hangs:\n    run: 'sleep 60 & echo $! > child.pid; wait'\n    timeout: 1s\n  fine: echo fine\n",
    );
    let root = dir.path();
    let out = root.join("out.json");
    let run = ctx(
        root,
        &[
            "bundle",
            "--domain",
            "pay",
            "--extensions",
            "--format",
            "json",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    run.expect_code(0);
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let hangs = crate::item_where(&bundle, "key", "hangs");
    assert_eq!(hangs["status"], "omitted-error");
    assert!(
        hangs["note"]
            .as_str()
            .unwrap()
            .contains("timed out after 1s"),
        "{hangs}"
    );
    assert_eq!(
        crate::item_where(&bundle, "key", "fine")["content"],
        "fine\n"
    );
    // What it started is gone too.
    crate::assert_pid_gone(&root.join("child.pid"), "the extension's child outlived it");
}

/// #21 point 3: the process model of gates — the request as JSON on stdin, `CTX_*` and
/// `TRACEPARENT` set — and `format: json` lists; failures are located and the bundle
/// builds; secrets in the output are redacted.
#[test]
fn extensions_get_the_request_and_their_output_becomes_items() {
    let dir = extension_workspace(
        "  request:\n    run: 'cat; echo; echo \"$CTX_LAYER $CTX_EXTENSION $CTX_FEATURE\"; echo \"$TRACEPARENT\"'\n  notes:\n    run: 'echo \"[{\\\"key\\\": \\\"a\\\", \\\"text\\\": \\\"alpha\\\"}, {\\\"key\\\": \\\"b\\\", \\\"text\\\": \\\"token=ghp_abcdefghijklmnopqrstuvwxyz0123456789\\\"}]\"'\n    format: json\n    topics: [docs]\n  broken: 'echo oops >&2; exit 4'\n  not-json:\n    run: echo not json\n    format: json\n",
    );
    let root = dir.path();
    let bundle = json_bundle(root, &["--domain", "pay", "--extensions"]);
    let request = crate::item_where(&bundle, "key", "request")["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut lines = request.lines();
    let stdin: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(stdin["schema"], "ctx.extension/v1");
    assert_eq!(stdin["layer"], "domain:pay");
    assert_eq!(stdin["extension"], "request");
    assert_eq!(stdin["scope"]["domains"], serde_json::json!(["pay"]));
    assert_eq!(lines.next().unwrap(), "domain:pay request ad-hoc");
    let traceparent = lines.next().unwrap();
    assert!(
        traceparent.starts_with("00-") && traceparent.len() == 55,
        "{traceparent}"
    );
    let items: Vec<&serde_json::Value> = bundle["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["key"] == "notes")
        .collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["path"], "a");
    assert_eq!(items[0]["content"], "alpha");
    assert_eq!(items[0]["topics"], serde_json::json!(["docs"]));
    assert_eq!(items[1]["content"], "token=[REDACTED:github-token]");
    assert!(
        bundle["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|secret| secret["item"] == "domain:pay/patterns/notes:b")
    );
    let broken = crate::item_where(&bundle, "key", "broken");
    assert_eq!(broken["status"], "omitted-error");
    assert_eq!(
        broken["note"],
        "exited with status 4; its stderr ends: oops"
    );
    let not_json = crate::item_where(&bundle, "key", "not-json");
    assert_eq!(not_json["status"], "omitted-error");
    assert!(
        not_json["note"]
            .as_str()
            .unwrap()
            .contains("not a JSON list of `{key, text}`")
    );
}

/// #21 point 3: extension declarations are checked like any item.
#[test]
fn extension_declarations_are_validated() {
    let dir = workspace_of(&[
        ("ctx.toml", ""),
        (
            "domains/d.yaml",
            "kind: domain\nname: pay\npatterns:\n  recent: src/a.py\nextensions:\n  recent: git log\n  empty: { timeout: 5s }\n  formats:\n    run: echo\n    format: yaml\n  quick:\n    run: echo\n    timeout: soon\n",
        ),
        ("src/a.py", "x = 1\n"),
    ]);
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(2);
    for needle in [
        "extension `recent` has the key of a pattern of this document",
        "extension `empty` has no command",
        "`format: yaml` is not an extension format",
        "`timeout: soon` is not a duration above zero",
    ] {
        assert!(
            run.stderr.contains(needle),
            "lacks {needle:?}\n{}",
            run.stderr
        );
    }
}

/// A feature that takes only the domain patterns its phases name takes those a strategy
/// that applies names in its phases too.
#[test]
fn strategy_phases_name_patterns_for_features_that_take_only_named_ones() {
    let dir = workspace_of(&[
        ("ctx.toml", ""),
        ("src/stock.py", "def reserve():\n    pass\n"),
        ("src/other.py", "x = 1\n"),
        (
            "domains/d.yaml",
            "kind: domain\nname: payment\nquality_gates:\n  pay-tests: \"true\"\n---\nkind: domain\nname: inventory\npatterns:\n  reservations: src/stock.py\n  other: src/other.py\n",
        ),
        ("domains/s.yaml", STRATEGY),
        (
            "domains/f.yaml",
            "kind: feature\nname: lean\ndomains: [payment, inventory]\ndomain_patterns: named\nphases:\n  - name: build\n    patterns: []\n    validation: [\"it builds and runs\"]\n",
        ),
    ]);
    // No warning that the feature takes no domain pattern: the strategy's phase names one.
    let validate = ctx(dir.path(), &["validate"]);
    validate.expect_code(0);
    assert!(
        !validate.stderr.contains("no-named-patterns"),
        "{}",
        validate.stderr
    );
    let bundle = json_bundle(dir.path(), &["lean"]);
    assert_eq!(
        crate::item_where(&bundle, "key", "reservations")["status"],
        "included"
    );
    assert_eq!(
        crate::item_where(&bundle, "key", "other")["status"],
        "filtered-feature"
    );
}

/// RELIABILITY (processes that leave the group, floods) for extensions: what an extension
/// detaches with `setsid` does not outlive it, and a flood of output is cut at
/// `max_file_bytes` (an `omitted-error`), memory bounded, the bundle still built.
#[test]
fn extensions_leave_nothing_behind_and_floods_are_bounded() {
    let dir = extension_workspace(
        "  detaches: 'setsid sleep 60 > /dev/null 2>&1 < /dev/null & echo $! > escaped.pid; echo done'\n  floods: 'yes flood | head -c 50000000'\n",
    );
    let root = dir.path();
    std::fs::write(root.join("ctx.toml"), "[bundle]\nmax_file_bytes = 100000\n").unwrap();
    let bundle = json_bundle(root, &["--domain", "pay", "--extensions"]);
    assert_eq!(
        crate::item_where(&bundle, "key", "detaches")["content"],
        "done\n"
    );
    let floods = crate::item_where(&bundle, "key", "floods");
    assert_eq!(floods["status"], "omitted-error");
    assert!(
        floods["note"]
            .as_str()
            .unwrap()
            .contains("printed more than `max_file_bytes` (100000 bytes)"),
        "{floods}"
    );
    crate::assert_pid_gone(
        &root.join("escaped.pid"),
        "the detached process outlived the extension",
    );
}
