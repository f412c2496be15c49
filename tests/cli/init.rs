//! `ctx init`: a configuration for a repository without one, that validates.

use crate::{ctx, workspace_of};

/// A Cargo workspace of `count` crates under `crates/`, each depending on the previous
/// one by path (one through `workspace = true`), with a nested AGENTS.md, a root
/// AGENTS.md, a Cursor rule and Copilot instructions to import.
fn cargo_workspace(count: usize) -> tempfile::TempDir {
    let mut files: Vec<(String, String)> = vec![
        (
            String::from("Cargo.toml"),
            format!(
                "[workspace]\nresolver = \"2\"\nmembers = [\"crates/*\"]\n\n[workspace.dependencies]\ncore_{} = {{ path = \"crates/core_{}\" }}\n",
                0, 0
            ),
        ),
        (
            String::from("AGENTS.md"),
            String::from(
                "# Team rules\n\n- Run `cargo fmt` before every commit\n- Never log secrets or tokens\n\nErrors use thiserror in libraries\nand anyhow only in binaries.\n\n```sh\ncargo test\n```\n",
            ),
        ),
        (
            String::from(".cursor/rules/storage.mdc"),
            String::from(
                "---\ndescription: Storage code\nglobs: crates/core_1/**\nalwaysApply: false\n---\n- Every write goes through the journal\n",
            ),
        ),
        (
            String::from(".github/copilot-instructions.md"),
            String::from("Prefer iterators over index loops.\n"),
        ),
        (
            String::from("crates/core_2/AGENTS.md"),
            String::from("- Keep this crate free of I/O\n"),
        ),
    ];
    for index in 0..count {
        let dependency = match index {
            0 => String::new(),
            1 => String::from("core_0 = { workspace = true }\n"),
            _ => format!(
                "core_{} = {{ path = \"../core_{}\" }}\n",
                index - 1,
                index - 1
            ),
        };
        files.push((
            format!("crates/core_{index}/Cargo.toml"),
            format!("[package]\nname = \"core_{index}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nserde = \"1\"\n{dependency}"),
        ));
        files.push((
            format!("crates/core_{index}/src/lib.rs"),
            String::from("pub fn f() {}\n"),
        ));
    }
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(path, text)| (path.as_str(), text.as_str()))
        .collect();
    workspace_of(&borrowed)
}

#[test]
fn init_import_on_a_cargo_workspace_validates_with_one_test_gate_per_crate() {
    let dir = cargo_workspace(6);
    let run = ctx(dir.path(), &["init", "--import"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("found a Cargo workspace: 6 package(s)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("ok: the configuration validates"),
        "{}",
        run.stderr
    );
    let services = std::fs::read_to_string(dir.path().join("ctx/services.yaml")).unwrap();
    assert!(
        services.contains("name: core_3\npaths: [\"crates/core_3/**\"]\ndepends_on: [core_2]"),
        "{services}"
    );
    assert!(
        services.contains("name: core_1\npaths: [\"crates/core_1/**\"]\ndepends_on: [core_0]"),
        "workspace = true: {services}"
    );
    let plan = ctx(dir.path(), &["gates", "--all", "--dry-run"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    for index in 0..6 {
        assert!(
            plan.stdout.contains(&format!(
                "service:core_{index}/test\n  run: cargo test -p core_{index}\n"
            )),
            "{}",
            plan.stdout
        );
    }
    assert!(plan.stdout.contains("6 gates selected"), "{}", plan.stdout);
    let org = std::fs::read_to_string(dir.path().join("ctx/org.yaml")).unwrap();
    assert!(org.contains("# imported from AGENTS.md:3\n  run-cargo-fmt-before: \"Run `cargo fmt` before every commit\""), "{org}");
    assert!(
        org.contains("Errors use thiserror in libraries and anyhow only in binaries."),
        "{org}"
    );
    assert!(
        org.contains("# imported from .github/copilot-instructions.md:1"),
        "{org}"
    );
    assert!(
        !org.contains("cargo test\""),
        "code blocks are not rules: {org}"
    );
    let domains = std::fs::read_to_string(dir.path().join("ctx/domains.yaml")).unwrap();
    assert!(
        domains.contains("paths: [\"crates/core_1/**\"]")
            && domains.contains("Every write goes through the journal"),
        "{domains}"
    );
    assert!(
        domains.contains("paths: [\"crates/core_2/**\"]") && domains.contains("free of I/O"),
        "{domains}"
    );
    // The imported rules reach bundles and exports.
    let bundle = ctx(dir.path(), &["bundle", "--service", "core_1"]);
    assert_eq!(bundle.code, 0, "{}", bundle.stderr);
    assert!(
        bundle.stdout.contains("Never log secrets or tokens"),
        "{}",
        bundle.stdout
    );
}

#[test]
fn init_never_overwrites_existing_configuration() {
    let dir = cargo_workspace(2);
    assert_eq!(ctx(dir.path(), &["init"]).code, 0);
    let before = std::fs::read_to_string(dir.path().join("ctx.toml")).unwrap();
    let again = ctx(dir.path(), &["init"]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains("never overwrites"),
        "{}",
        again.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ctx.toml")).unwrap(),
        before
    );
}

#[test]
fn init_without_build_files_makes_a_service_per_folder_and_says_to_add_gates() {
    let dir = workspace_of(&[
        ("api/handler.py", "x = 1\n"),
        ("web/index.js", "x\n"),
        ("README.md", "hi\n"),
    ]);
    let run = ctx(dir.path(), &["init"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("review: no build files recognised"),
        "{}",
        run.stderr
    );
    let list = ctx(dir.path(), &["list", "services"]);
    assert!(
        list.stdout.contains("api") && list.stdout.contains("web"),
        "{}",
        list.stdout
    );
}
