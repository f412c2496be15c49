//! `ctx schema`: a JSON Schema for every document kind, kept in the repository.

use crate::{ctx, repo_root};

#[test]
fn schema_covers_every_kind_and_is_committed() {
    let run = ctx(&repo_root(), &["schema"]);
    run.expect_code(0);
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let kinds: Vec<&str> = schema["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|branch| branch["properties"]["kind"]["const"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["org", "domain", "strategy", "service", "feature", "agent"]
    );
    let domain = &schema["oneOf"][1];
    assert_eq!(domain["additionalProperties"], false);
    assert!(domain["properties"]["match"].is_object());
    let committed = std::fs::read_to_string(repo_root().join("ctx.schema.json")).unwrap();
    assert_eq!(
        committed, run.stdout,
        "ctx.schema.json is stale: run `cargo run -- schema > ctx.schema.json`"
    );
}
