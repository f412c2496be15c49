//! `--help` teaches: snapshot it, and check that clap's definition is consistent.

use std::process::Command;

fn help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_ctx"))
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn top_level_help_lists_commands_and_exit_codes() {
    let text = help(&["--help"]);
    for needle in ["validate", "list", "schema", "Exit codes:", "130/143"] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    insta::assert_snapshot!(text);
}

#[test]
fn validate_help_snapshot() {
    insta::assert_snapshot!(help(&["validate", "--help"]));
}

#[test]
fn cli_definition_is_consistent() {
    use clap::CommandFactory;
    ctx::cli::Cli::command().debug_assert();
}
