//! Synthesis and propagation (#21): strategies for domain sets, hand-off from a parent's
//! execution, extensions, and the context of a change.

use crate::{ctx, workspace_of};

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
