//! `ctx list`: tables and JSON with origins.

use crate::{ctx, fixture, repo_root};

#[test]
fn lists_every_kind_with_origins() {
    for (kind, needle) in [
        ("domains", "user_management"),
        ("services", "order-service"),
        ("features", "checkout"),
        ("agents", "reviewer"),
        ("gates", "domain:user_management/auth-tests"),
    ] {
        let run = ctx(&repo_root(), &["list", kind]);
        run.expect_code(0);
        assert!(run.stdout.contains(needle), "{kind}: {}", run.stdout);
        assert!(
            run.stdout.contains("ORIGIN") && run.stdout.contains("domains/"),
            "{kind}: {}",
            run.stdout
        );
    }
}

#[test]
fn domains_table_snapshot() {
    let run = ctx(&repo_root(), &["list", "services"]);
    run.expect_code(0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn json_has_schema_and_origins() {
    let run = ctx(&repo_root(), &["list", "features", "--format", "json"]);
    run.expect_code(0);
    let listing: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(listing["schema"], "ctx.list/v1");
    let checkout = listing["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["name"] == "checkout")
        .unwrap();
    assert_eq!(checkout["origin"]["file"], "domains/features/checkout.yaml");
    assert_eq!(checkout["inputs"], serde_json::json!(["ticket"]));
}

#[test]
fn list_refuses_an_invalid_workspace() {
    let run = ctx(&fixture("unknown_key"), &["list"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("unknown key `paterns`"),
        "{}",
        run.stderr
    );
}
