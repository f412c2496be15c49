//! The outcome store: what `ctx gates` records, `ctx record`, `ctx insights` on a
//! generated history, concurrency and faults, retries and flakiness; on SQLite and on a
//! real PostgreSQL (`CTX_TEST_POSTGRES`, which `.ci/run` starts; in CI its absence fails
//! the PostgreSQL tests, elsewhere they say they are skipped).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{Run, workspace_of};

/// A store to test against: SQLite (the default) or the test PostgreSQL.
#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

fn postgres_url() -> Option<String> {
    match std::env::var("CTX_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CTX_TEST_POSTGRES is not set, and CI must run the PostgreSQL tests (.ci/run starts a server)"
            );
            #[expect(clippy::print_stderr, reason = "a skipped test says so")]
            {
                eprintln!(
                    "skipped: no PostgreSQL (set CTX_TEST_POSTGRES=postgres://…; `.ci/postgres.sh` starts one)"
                );
            }
            None
        }
    }
}

/// `ctx` in `root` with the backend's store (and `env`).
fn ctx_with(root: &Path, backend: Backend, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ctx"));
    command
        .arg("-C")
        .arg(root)
        .arg("--color")
        .arg("never")
        .args(args)
        .env("CTX_TODAY", "2026-11-21")
        .env_remove("CTX_STORE")
        .stdin(Stdio::null());
    if let Backend::Postgres = backend
        && let Some(url) = postgres_url()
    {
        command.env("CTX_STORE", url);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    Run::from(command.output().unwrap())
}

/// A unique workspace name: one PostgreSQL serves every test (and repository).
fn tenant(prefix: &str) -> String {
    format!("{prefix}-{}", ctx::process::random_hex(12, prefix))
}

const DOMAIN: &str = "kind: domain
name: d
patterns:
  good: { path: src/good.py, why: The way that works }
  bad: { path: src/bad.py, why: The way that does not }
constraints:
  always: Every change has a test
quality_gates:
  t: \"test -f ok\"
";

fn history_workspace(name: &str) -> tempfile::TempDir {
    let toml = format!("[workspace]\nname = \"{name}\"\n");
    workspace_of(&[
        ("ctx.toml", toml.as_str()),
        ("domains/d.yaml", DOMAIN),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
        ("src/good.py", "def good():\n    return 1\n"),
        ("src/bad.py", "def bad():\n    return 2\n"),
    ])
}

/// One run of feature `f` with `good` and `bad` in or out, passing or failing.
fn run_once(root: &Path, backend: Backend, good: bool, bad: bool, passes: bool) {
    let mut feature = String::from("kind: feature\nname: f\ndomains: [d]\n");
    if !good || !bad {
        feature.push_str("patterns:\n");
        if !good {
            feature.push_str("  d/good: { enabled: false }\n");
        }
        if !bad {
            feature.push_str("  d/bad: { enabled: false }\n");
        }
    }
    std::fs::write(root.join("domains/f.yaml"), feature).unwrap();
    if passes {
        std::fs::write(root.join("ok"), "").unwrap();
    } else {
        let _ = std::fs::remove_file(root.join("ok"));
    }
    let run = ctx_with(root, backend, &[], &["gates", "f"]);
    assert_eq!(run.code, if passes { 0 } else { 1 }, "{}", run.stderr);
    assert!(!run.stderr.contains("could not record"), "{}", run.stderr);
}

fn insights_report_exactly_the_separating_items(backend: Backend) {
    let dir = history_workspace(&tenant("insights"));
    let root = dir.path();
    let early = ctx_with(root, backend, &[], &["insights"]);
    assert!(
        early.stdout.contains("needs 10 more run(s)"),
        "{}",
        early.stdout
    );
    // 16 successes: `good` in 15, `bad` in 2. 16 failures: `good` in 3, `bad` in 13.
    for index in 0..16 {
        run_once(root, backend, index != 0, index < 2, true);
        run_once(root, backend, index < 3, index >= 3, false);
    }
    let run = ctx_with(
        root,
        backend,
        &[],
        &["insights", "--last", "50", "--format", "json", "--propose"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let insights: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(insights["runs"], 32);
    assert_eq!(
        (insights["successes"].clone(), insights["failures"].clone()),
        (16.into(), 16.into())
    );
    assert_eq!(
        insights["with_success"],
        serde_json::json!(["domain:d/patterns/good"])
    );
    assert_eq!(
        insights["missing_from_failures"],
        serde_json::json!(["domain:d/patterns/good"])
    );
    assert_eq!(
        insights["present_in_failures"],
        serde_json::json!(["domain:d/patterns/bad"])
    );
    let item = |id: &str| {
        insights["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["id"] == id)
            .unwrap_or_else(|| panic!("no item {id}"))
            .clone()
    };
    let good = item("domain:d/patterns/good");
    assert_eq!(
        (good["in_successes"].clone(), good["in_failures"].clone()),
        (15.into(), 3.into())
    );
    assert_eq!(good["success_runs"].as_array().unwrap().len(), 15);
    let bad = item("domain:d/patterns/bad");
    assert_eq!(
        (bad["in_successes"].clone(), bad["in_failures"].clone()),
        (2.into(), 13.into())
    );
    let always = item("domain:d/constraints/always");
    assert_eq!(
        (
            always["in_successes"].clone(),
            always["in_failures"].clone()
        ),
        (16.into(), 16.into())
    );
    assert_eq!(
        insights["items"][0]["id"], "domain:d/patterns/good",
        "ranked by separation"
    );
    // Proposals are tested against history: runs with `good` succeeded 15 of 18 (83 %).
    let proposals = insights["proposals"].as_array().unwrap();
    let keep = proposals
        .iter()
        .find(|proposal| proposal["item"] == "domain:d/patterns/good")
        .unwrap();
    assert_eq!(keep["kept"], true);
    let file = keep["file"].as_str().unwrap();
    let patch = std::fs::read_to_string(root.join(file)).unwrap();
    assert!(
        patch.contains("83 %") && patch.contains("kind: feature") && patch.contains("good"),
        "{patch}"
    );
    // A recorded outcome replaces the verdict of its run.
    let record = ctx_with(
        root,
        backend,
        &[],
        &[
            "record",
            "failure",
            "--run",
            "latest",
            "--feature",
            "f",
            "--note",
            "bug found in review",
        ],
    );
    assert_eq!(record.code, 0, "{}", record.stderr);
    let after = ctx_with(root, backend, &[], &["insights", "--format", "json"]);
    let after: serde_json::Value = serde_json::from_str(&after.stdout).unwrap();
    assert_eq!(
        (after["successes"].clone(), after["failures"].clone()),
        (16.into(), 16.into()),
        "the latest run was a failure already"
    );
    let stats = ctx_with(root, backend, &[], &["stats", "--format", "json"]);
    let stats: serde_json::Value = serde_json::from_str(&stats.stdout).unwrap();
    assert_eq!(stats["runs"], 32);
    assert_eq!(stats["gates"][0]["gate"], "domain:d/t");
    assert_eq!(stats["gates"][0]["runs"], 32);
}

#[test]
fn insights_on_sqlite_report_exactly_the_items_that_separate_outcomes() {
    insights_report_exactly_the_separating_items(Backend::Sqlite);
}

#[test]
fn insights_on_postgres_report_exactly_the_items_that_separate_outcomes() {
    if postgres_url().is_some() {
        insights_report_exactly_the_separating_items(Backend::Postgres);
    }
}

fn concurrent_runs_are_all_recorded(backend: Backend) {
    let name = tenant("concurrent");
    let dir = history_workspace(&name);
    std::fs::write(dir.path().join("ok"), "").unwrap();
    let children: Vec<std::process::Child> = (0..16)
        .map(|_| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_ctx"));
            command
                .arg("-C")
                .arg(dir.path())
                .args(["gates", "f"])
                .env_remove("CTX_STORE")
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            if let Backend::Postgres = backend
                && let Some(url) = postgres_url()
            {
                command.env("CTX_STORE", url);
            }
            command.spawn().unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(!stderr.contains("could not record"), "{stderr}");
    }
    let stats = ctx_with(dir.path(), backend, &[], &["stats", "--format", "json"]);
    let stats: serde_json::Value = serde_json::from_str(&stats.stdout).unwrap();
    assert_eq!(stats["runs"], 16, "16 concurrent runs, 0 lost");
    assert_eq!(stats["gates"][0]["runs"], 16);
}

#[test]
fn sixteen_concurrent_runs_are_all_recorded_on_sqlite() {
    concurrent_runs_are_all_recorded(Backend::Sqlite);
}

#[test]
fn sixteen_concurrent_runs_are_all_recorded_on_postgres() {
    if postgres_url().is_some() {
        concurrent_runs_are_all_recorded(Backend::Postgres);
    }
}

#[test]
fn a_run_killed_mid_write_leaves_the_store_consistent() {
    let mut yaml = String::from("kind: domain\nname: d\nquality_gates:\n");
    for index in 0..150 {
        yaml.push_str(&format!("  g{index}: \"true\"\n"));
    }
    let dir = workspace_of(&[("domains/d.yaml", yaml.as_str())]);
    // One run that finishes: the store exists, whatever the kills below hit.
    let first = ctx_with(
        dir.path(),
        Backend::Sqlite,
        &[],
        &["gates", "--domain", "d", "-j", "8"],
    );
    assert_eq!(first.code, 0, "{}", first.stderr);
    let mut killed = 0;
    for round in 0..12u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ctx"))
            .arg("-C")
            .arg(dir.path())
            .args(["gates", "--domain", "d", "-j", "8"])
            .env_remove("CTX_STORE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Anywhere from before the first gate to while the record is written.
        std::thread::sleep(Duration::from_millis(40 + round * 45));
        if child.try_wait().unwrap().is_none() {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
            killed += 1;
        }
        let _ = child.wait();
    }
    assert!(
        killed > 0,
        "no run was killed: the test did not test anything"
    );
    let connection = rusqlite::Connection::open(dir.path().join(".ctx/store.sqlite")).unwrap();
    let check: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // All or nothing: every recorded run has all its gates.
    let mut statement = connection
        .prepare("SELECT r.run_id, (SELECT COUNT(*) FROM ctx_run_gates g WHERE g.run_id = r.run_id) FROM ctx_runs r")
        .unwrap();
    let counts: Vec<(String, i64)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (run, gates) in &counts {
        assert_eq!(*gates, 150, "run {run} recorded partly");
    }
    assert!(
        13 - killed <= counts.len() as i32,
        "every finished run was recorded"
    );
}

#[test]
fn a_damaged_or_newer_store_is_reported_with_the_fix_and_runs_still_work() {
    let dir = history_workspace(&tenant("faults"));
    let root = dir.path();
    std::fs::write(root.join("ok"), "").unwrap();
    std::fs::create_dir_all(root.join(".ctx")).unwrap();
    std::fs::write(
        root.join(".ctx/store.sqlite"),
        "this is not a database, just text",
    )
    .unwrap();
    let run = ctx_with(root, Backend::Sqlite, &[], &["gates", "f"]);
    assert_eq!(
        run.code, 0,
        "a broken store never fails a run: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("warning: the outcome store could not record the run")
            && run.stderr.contains(".ctx/spool/"),
        "{}",
        run.stderr
    );
    let insights = ctx_with(root, Backend::Sqlite, &[], &["insights"]);
    assert_eq!(insights.code, 2, "{}", insights.stderr);
    assert!(
        insights.stderr.contains("move it aside"),
        "{}",
        insights.stderr
    );
    assert!(!insights.stderr.contains("panicked"));
    // Moved aside: the next run starts a new store and delivers the spooled record.
    std::fs::rename(
        root.join(".ctx/store.sqlite"),
        root.join(".ctx/store.sqlite.broken"),
    )
    .unwrap();
    assert_eq!(
        ctx_with(root, Backend::Sqlite, &[], &["gates", "f"]).code,
        0
    );
    let stats = ctx_with(root, Backend::Sqlite, &[], &["stats", "--format", "json"]);
    let stats: serde_json::Value = serde_json::from_str(&stats.stdout).unwrap();
    assert_eq!(stats["runs"], 2, "the spooled run was delivered");
    // A store from a newer ctx is refused, with what to do.
    let connection = rusqlite::Connection::open(root.join(".ctx/store.sqlite")).unwrap();
    connection
        .execute("INSERT INTO ctx_schema (version) VALUES (99)", [])
        .unwrap();
    drop(connection);
    let newer = ctx_with(root, Backend::Sqlite, &[], &["insights"]);
    assert_eq!(newer.code, 2);
    assert!(
        newer
            .stderr
            .contains("schema version 99, newer than this ctx knows (1)")
            && newer.stderr.contains("upgrade"),
        "{}",
        newer.stderr
    );
}

#[test]
fn an_unreachable_store_spools_the_record_and_sync_delivers_it() {
    let Some(url) = postgres_url() else {
        return;
    };
    let dir = history_workspace(&tenant("spool"));
    let root = dir.path();
    std::fs::write(root.join("ok"), "").unwrap();
    let down = ctx_with(
        root,
        Backend::Sqlite,
        &[("CTX_STORE", "postgres://postgres@127.0.0.1:1/postgres")],
        &["gates", "f"],
    );
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(down.stderr.contains("kept in"), "{}", down.stderr);
    let sync = ctx_with(
        root,
        Backend::Sqlite,
        &[("CTX_STORE", url.as_str())],
        &["store", "sync"],
    );
    assert!(
        sync.stderr.contains("1 spooled run record(s) delivered"),
        "{}",
        sync.stderr
    );
    let stats = ctx_with(root, Backend::Postgres, &[], &["stats", "--format", "json"]);
    let stats: serde_json::Value = serde_json::from_str(&stats.stdout).unwrap();
    assert_eq!(stats["runs"], 1, "and only this workspace's runs are seen");
}

#[test]
fn a_gate_that_passes_on_retry_is_flaky_and_max_fail_stops_starting_gates() {
    let dir = workspace_of(&[(
        "domains/d.yaml",
        "kind: domain
name: d
quality_gates:
  broken: \"exit 1\"
  flaky:
    run: \"n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; test $n -ge 1\"
    retries: 2
",
    )]);
    let junit = dir.path().join("gates.xml");
    let run = ctx_with(
        dir.path(),
        Backend::Sqlite,
        &[],
        &[
            "gates",
            "--domain",
            "d",
            "-j",
            "1",
            "--junit",
            junit.to_str().unwrap(),
            "--retries",
            "1",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("RETRY"), "{}", run.stderr);
    assert!(
        run.stderr.contains("FLAKY") && run.stderr.contains("domain:d/flaky"),
        "{}",
        run.stderr
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<flakyFailure"), "{xml}");
    assert!(
        xml.contains("<failure") && xml.contains("<rerunFailure"),
        "{xml}"
    );
    let stats = ctx_with(
        dir.path(),
        Backend::Sqlite,
        &[],
        &["stats", "--format", "json"],
    );
    let stats: serde_json::Value = serde_json::from_str(&stats.stdout).unwrap();
    let flaky = stats["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|gate| gate["gate"] == "domain:d/flaky")
        .unwrap();
    assert_eq!(flaky["flaky"], 1);
    let stopped = ctx_with(
        dir.path(),
        Backend::Sqlite,
        &[],
        &[
            "gates",
            "--domain",
            "d",
            "-j",
            "1",
            "--max-fail",
            "1",
            "--retries",
            "0",
        ],
    );
    assert_eq!(stopped.code, 1);
    assert!(
        stopped.stderr.contains("1 not started"),
        "{}",
        stopped.stderr
    );
}
