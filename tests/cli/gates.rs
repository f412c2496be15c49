//! `ctx gates` against misbehaving gates (RELIABILITY.md, Gates): every verdict true,
//! every process reaped, reports written, also when interrupted.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Run, ctx, git, repo_root};

/// A workspace whose domain `d` has `gates` (YAML lines under `quality_gates:`).
fn workspace(gates: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("domains")).unwrap();
    std::fs::create_dir_all(root.join("pids")).unwrap();
    std::fs::write(
        root.join("ctx.toml"),
        "[gates]\ntimeout = \"30s\"\ngrace = \"1s\"\njobs = 4\n",
    )
    .unwrap();
    std::fs::write(
        root.join("domains/d.yaml"),
        format!("kind: domain\nname: d\nmatch:\n  paths: [\"src/d/**\"]\nquality_gates:\n{gates}"),
    )
    .unwrap();
    dir
}

fn report(root: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(root.join("report.json")).unwrap()).unwrap()
}

fn gates(root: &Path, extra: &[&str]) -> (Run, serde_json::Value) {
    let mut args = vec!["gates", "--domain", "d", "--json"];
    let report_path = root.join("report.json");
    args.push(report_path.to_str().unwrap());
    args.extend_from_slice(extra);
    let run = ctx(root, &args);
    let json = report(root);
    (run, json)
}

fn gate<'a>(report: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    report["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|gate| gate["id"] == format!("domain:d/{key}"))
        .unwrap_or_else(|| panic!("no gate {key} in {report}"))
}

/// Wait (bounded) until no live process belongs to process group `group`.
fn assert_group_gone(group: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let alive: Vec<String> = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("stat")).ok())
            .filter(|stat| {
                // `pid (comm) state ppid pgrp …`; zombies are already dead.
                let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
                let fields: Vec<&str> = after.split_whitespace().collect();
                fields.len() > 2 && fields[0] != "Z" && fields[2] == group.to_string()
            })
            .collect();
        if alive.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes of group {group} remain: {alive:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pid(root: &Path, name: &str) -> u32 {
    std::fs::read_to_string(root.join("pids").join(name))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn shipped_example_gates_pass() {
    let run = ctx(&repo_root(), &["gates", "checkout"]);
    run.expect_code(0);
    assert!(run.stderr.contains("11 gates: 11 pass"), "{}", run.stderr);
    assert!(
        run.stderr.contains("STATUS  DURATION  GATE"),
        "{}",
        run.stderr
    );
}

#[test]
fn exit_codes_missing_commands_and_signals_are_named() {
    let dir = workspace(
        "  exit3: exit 3\n  missing: definitely-not-a-command-ctx\n  not-executable: ./script.sh\n  killed: kill -9 $$\n  ok: \"true\"\n",
    );
    std::fs::write(dir.path().join("script.sh"), "#!/bin/sh\necho hi\n").unwrap();
    let (run, report) = gates(dir.path(), &[]);
    run.expect_code(1);
    assert_eq!(gate(&report, "exit3")["status"], "fail");
    assert_eq!(gate(&report, "exit3")["exit_code"], 3);
    assert_eq!(
        gate(&report, "missing")["message"],
        "command not found (exit 127)"
    );
    assert_eq!(
        gate(&report, "not-executable")["message"],
        "command not executable (exit 126)"
    );
    assert_eq!(
        gate(&report, "killed")["message"],
        "killed by signal 9 (SIGKILL)"
    );
    assert_eq!(gate(&report, "killed")["signal"], "SIGKILL");
    assert_eq!(gate(&report, "ok")["status"], "pass");
    assert!(
        run.stderr
            .contains("──── fail domain:d/exit3: exited with status 3 ────"),
        "{}",
        run.stderr
    );
}

#[test]
fn parallel_gates_never_interleave_output_mid_line() {
    let dir = workspace(
        "  a: \"for i in $(seq 1 300); do echo a-line-$i; done; exit 1\"\n  b: \"for i in $(seq 1 300); do echo b-line-$i; done; exit 1\"\n",
    );
    let (run, report) = gates(dir.path(), &["-j", "2"]);
    run.expect_code(1);
    for (name, mine, other) in [("a", "a-line-", "b-line-"), ("b", "b-line-", "a-line-")] {
        let lines: Vec<usize> = run
            .stderr
            .lines()
            .enumerate()
            .filter(|(_, line)| line.contains(mine))
            .map(|(index, _)| index)
            .collect();
        assert!(!lines.is_empty(), "{}", run.stderr);
        assert_eq!(
            lines.len(),
            lines.last().unwrap() - lines.first().unwrap() + 1,
            "gate {name}'s failure block is contiguous:\n{}",
            run.stderr
        );
        assert!(
            !run.stderr
                .lines()
                .any(|line| line.contains(mine) && line.contains(other)),
            "no line mixes both gates"
        );
        let log = std::fs::read_to_string(
            dir.path()
                .join(gate(&report, name)["log"].as_str().unwrap()),
        )
        .unwrap();
        assert!(
            !log.contains(other),
            "gate {name}'s log holds only its output"
        );
        assert_eq!(log.lines().count(), 300);
    }
}

#[test]
fn hanging_gate_times_out_and_its_group_is_killed() {
    let dir = workspace(
        "  hang:\n    run: \"echo $$ > pids/hang; sleep 60 & sleep 60\"\n    timeout: 1s\n",
    );
    let started = Instant::now();
    let (run, report) = gates(dir.path(), &[]);
    let elapsed = started.elapsed();
    run.expect_code(1);
    assert_eq!(gate(&report, "hang")["status"], "timeout");
    // timeout (1s) + at most grace (1s) + 0.5s, with slack for a loaded machine.
    assert!(elapsed < Duration::from_millis(4500), "{elapsed:?}");
    assert_group_gone(pid(dir.path(), "hang"));
}

#[test]
fn gate_ignoring_sigterm_is_killed_after_the_grace_period() {
    let dir = workspace(
        "  stubborn:\n    run: \"trap '' TERM; echo $$ > pids/stubborn; sleep 60\"\n    timeout: 1s\n",
    );
    let (run, report) = gates(dir.path(), &[]);
    run.expect_code(1);
    let stubborn = gate(&report, "stubborn");
    assert_eq!(stubborn["status"], "timeout");
    assert!(
        stubborn["message"]
            .as_str()
            .unwrap()
            .contains("SIGKILL after the grace period"),
        "{stubborn}"
    );
    let duration = stubborn["duration_ms"].as_u64().unwrap();
    assert!((1900..4500).contains(&duration), "{duration} ms");
    assert_group_gone(pid(dir.path(), "stubborn"));
}

#[test]
fn background_child_holding_stdout_does_not_hold_the_run() {
    let dir = workspace("  background: \"echo $$ > pids/bg; sleep 60 & echo started\"\n");
    let started = Instant::now();
    let (run, report) = gates(dir.path(), &[]);
    run.expect_code(0);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let background = gate(&report, "background");
    assert_eq!(background["status"], "pass");
    assert!(background["duration_ms"].as_u64().unwrap() < 1000);
    assert!(
        background["output_tail"]
            .as_str()
            .unwrap()
            .contains("started")
    );
    assert_group_gone(pid(dir.path(), "bg"));
}

#[test]
fn floods_complete_with_bounded_capture_and_a_truncated_log() {
    let dir =
        workspace("  zeros: head -c 100000000 /dev/zero\n  lines: yes flood | head -c 100000000\n");
    let (run, report) = gates(dir.path(), &[]);
    run.expect_code(0);
    for key in ["zeros", "lines"] {
        let flood = gate(&report, key);
        assert_eq!(flood["status"], "pass");
        assert_eq!(flood["output_bytes"], 100_000_000u64);
        let log = dir.path().join(flood["log"].as_str().unwrap());
        let size = std::fs::metadata(&log).unwrap().len();
        assert!(size <= 64 * 1024 * 1024 + 200, "{size}");
        let tail = std::fs::read(&log).unwrap();
        let marker = String::from_utf8_lossy(&tail[tail.len() - 200..]).into_owned();
        assert!(marker.contains("log truncated"), "{marker}");
    }
}

#[test]
fn stdin_is_empty_even_when_ctx_stdin_never_closes() {
    let dir = workspace("  reads-stdin: \"cat; echo got-eof\"\n");
    let mut child = spawn_gates(dir.path(), Stdio::piped(), Stdio::null());
    let _keep_open = child.stdin.take();
    let status = crate::wait_for_exit(
        &mut child,
        Duration::from_secs(20),
        "ctx hangs on a gate reading stdin",
    );
    assert_eq!(status.code(), Some(0));
    assert!(
        gate(&report(dir.path()), "reads-stdin")["output_tail"]
            .as_str()
            .unwrap()
            .contains("got-eof")
    );
}

#[test]
fn invalid_utf8_ansi_and_carriage_returns_are_cleaned_in_reports() {
    let dir = workspace(
        "  noisy: \"printf 'caf\\\\351 \\\\033[31mred\\\\033[0m\\\\n10%%\\\\r100%%\\\\n'; exit 1\"\n",
    );
    let junit_path = dir.path().join("junit.xml");
    let (run, report) = gates(dir.path(), &["--junit", junit_path.to_str().unwrap()]);
    run.expect_code(1);
    let tail = gate(&report, "noisy")["output_tail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(tail.contains("caf\u{fffd} red\n100%\n"), "{tail:?}");
    assert!(!tail.contains('\u{1b}') && !tail.contains('\r'), "{tail:?}");
    let junit = std::fs::read_to_string(&junit_path).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&junit).unwrap();
    assert_eq!(parsed.test_suites.len(), 1);
    assert_eq!(parsed.test_suites[0].name.as_str(), "domain:d");
    assert_eq!(parsed.test_suites[0].test_cases[0].name.as_str(), "noisy");
    assert!(!junit.contains('\u{1b}'));
}

#[test]
fn cwd_vanishing_before_its_gate_starts_is_an_infrastructure_error() {
    // Valid when checked; an earlier gate (one at a time) removes the folder.
    let dir =
        workspace("  cleanup: rm -rf build\n  elsewhere:\n    run: \"true\"\n    cwd: build\n");
    std::fs::create_dir_all(dir.path().join("build")).unwrap();
    let (run, report) = gates(dir.path(), &["-j", "1"]);
    run.expect_code(3);
    assert_eq!(gate(&report, "elsewhere")["status"], "error");
    assert!(
        gate(&report, "elsewhere")["message"]
            .as_str()
            .unwrap()
            .contains("`build` does not exist"),
        "{report}"
    );
}

#[test]
fn non_blocking_failures_never_fail_the_run() {
    let dir = workspace("  advisory:\n    run: exit 1\n    blocking: false\n  ok: \"true\"\n");
    let (run, report) = gates(dir.path(), &[]);
    run.expect_code(0);
    assert_eq!(gate(&report, "advisory")["status"], "fail");
    assert!(run.stderr.contains("FAIL (non-blocking)"), "{}", run.stderr);
}

#[test]
fn environment_contract_and_bundle() {
    let dir = workspace(
        "  env: \"printf '%s\\\\n' \\\"$CTX_ROOT\\\" \\\"$CTX_RUN_ID\\\" \\\"$CTX_GATE\\\" \\\"$CTX_SCOPE\\\" \\\"$CTX_FEATURE\\\" \\\"$CTX_BUNDLE\\\" \\\"$TRACEPARENT\\\" \\\"$EXTRA\\\" > \\\"$CTX_GATE_OUTPUT_DIR/env\\\"\"\n",
    );
    std::fs::write(
        dir.path().join("domains/f.yaml"),
        "kind: feature\nname: f\ndomains: [d]\ninputs:\n  ticket: the ticket\n",
    )
    .unwrap();
    let yaml = std::fs::read_to_string(dir.path().join("domains/d.yaml")).unwrap();
    std::fs::write(
        dir.path().join("domains/d.yaml"),
        yaml.replace(
            "  env: \"",
            "  env:\n    env: { EXTRA: extra-value }\n    run: \"",
        ),
    )
    .unwrap();
    let run = ctx(dir.path(), &["gates", "f"]);
    run.expect_code(0);
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.path().join(".ctx/runs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1);
    let env = std::fs::read_to_string(runs[0].join("out/domain_d__env/env")).unwrap();
    let lines: Vec<&str> = env.lines().collect();
    let root = dir.path().canonicalize().unwrap();
    assert_eq!(lines[0], root.to_str().unwrap());
    assert_eq!(lines[1], runs[0].file_name().unwrap().to_str().unwrap());
    assert_eq!(lines[2], "domain:d/env");
    assert_eq!(lines[3], "domain:d");
    assert_eq!(lines[4], "f");
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lines[5]).unwrap()).unwrap();
    assert_eq!(bundle["schema"], "ctx.bundle/v1");
    let traceparent: Vec<&str> = lines[6].split('-').collect();
    assert_eq!(
        (
            traceparent[0],
            traceparent[1].len(),
            traceparent[2].len(),
            traceparent[3]
        ),
        ("00", 32, 16, "01")
    );
    assert_eq!(lines[7], "extra-value");
}

#[test]
fn two_runs_never_share_logs_and_record_distinct_run_ids() {
    let dir = workspace("  ok: \"true\"\n");
    let (_, first) = gates(dir.path(), &[]);
    let (_, second) = gates(dir.path(), &[]);
    assert_ne!(first["run_id"], second["run_id"]);
    assert_ne!(gate(&first, "ok")["log"], gate(&second, "ok")["log"]);
    assert_ne!(first["trace_id"], second["trace_id"]);
}

#[test]
fn dry_run_prints_the_selection_with_reasons() {
    let run = ctx(&repo_root(), &["gates", "checkout", "--dry-run"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("domain:user_management/auth-tests\n  run: python3 -m unittest"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "why: gate of feature `checkout` (declared in domain `user_management`), timeout 1m"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("11 gates selected (dry run: nothing ran)")
    );
}

#[test]
fn changed_keeps_the_gates_of_owners_of_changed_files() {
    let dir = workspace("  d-tests: \"true\"\n");
    let root = dir.path();
    std::fs::write(root.join("domains/e.yaml"), "kind: domain\nname: e\nmatch:\n  paths: [\"src/e/**\"]\nquality_gates:\n  e-tests: \"true\"\n").unwrap();
    std::fs::create_dir_all(root.join("src/d")).unwrap();
    std::fs::create_dir_all(root.join("src/e")).unwrap();
    std::fs::write(root.join("src/d/a.py"), "x = 1\n").unwrap();
    std::fs::write(root.join("src/e/b.py"), "y = 1\n").unwrap();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "init"]);
    git(root, &["checkout", "-q", "-b", "work"]);
    std::fs::write(root.join("src/e/b.py"), "y = 2\n").unwrap();
    let run = ctx(
        root,
        &[
            "gates",
            "--domain",
            "d",
            "--domain",
            "e",
            "--changed",
            "--dry-run",
        ],
    );
    run.expect_code(0);
    assert!(run.stdout.contains("domain:e/e-tests"), "{}", run.stdout);
    assert!(!run.stdout.contains("domain:d/d-tests"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("changed: `src/e/b.py` matches `src/e/**`"),
        "{}",
        run.stdout
    );
    let run = ctx(
        root,
        &[
            "gates",
            "--domain",
            "d",
            "--changed",
            "--base",
            "no-such-branch",
            "--dry-run",
        ],
    );
    run.expect_code(2);
    assert!(run.stderr.contains("fetch-depth: 0"), "{}", run.stderr);
}

/// Issue #15, point 6: `--changed` as CI uses it. Alone it considers every gate; the
/// base defaults to `master` when that is the branch there is; a change in a service
/// selects the gates of the services that depend on it, transitively, with the chain
/// in `--dry-run`.
#[test]
fn changed_as_ci_uses_it() {
    let dir = workspace("  d-tests: \"true\"\n");
    let root = dir.path();
    std::fs::write(
        root.join("domains/services.yaml"),
        "kind: service\nname: base\npaths: [\"src/base/**\"]\nquality_gates:\n  base-tests: \"true\"\n---\n\
         kind: service\nname: middle\ndepends_on: [base]\npaths: [\"src/middle/**\"]\nquality_gates:\n  middle-tests: \"true\"\n---\n\
         kind: service\nname: top\ndepends_on: [middle]\npaths: [\"src/top/**\"]\nquality_gates:\n  top-tests: \"true\"\n---\n\
         kind: service\nname: apart\npaths: [\"src/apart/**\"]\nquality_gates:\n  apart-tests: \"true\"\n",
    )
    .unwrap();
    for folder in ["d", "base", "middle", "top", "apart"] {
        std::fs::create_dir_all(root.join("src").join(folder)).unwrap();
        std::fs::write(root.join("src").join(folder).join("a.txt"), "1\n").unwrap();
    }
    // A repository whose only branch is `master`, with no remote.
    git(root, &["init", "-q", "-b", "master"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "init"]);
    git(root, &["checkout", "-q", "-b", "work"]);
    std::fs::write(root.join("src/base/a.txt"), "2\n").unwrap();
    let run = ctx(root, &["gates", "--changed", "--dry-run"]);
    run.expect_code(0);
    let out = &run.stdout;
    for selected in [
        "service:base/base-tests",
        "service:middle/middle-tests",
        "service:top/top-tests",
    ] {
        assert!(out.contains(selected), "{selected}: {out}");
    }
    for left in ["domain:d/d-tests", "service:apart/apart-tests"] {
        assert!(!out.contains(left), "{left}: {out}");
    }
    assert!(
        out.contains(
            "changed: depends on `middle` → `base`, where `src/base/a.txt` matches `src/base/**`"
        ),
        "{out}"
    );
    assert!(
        out.contains("changed: depends on `base`, where `src/base/a.txt` matches `src/base/**`"),
        "{out}"
    );
    // Narrowing a named scope still works, and nothing changed outside it.
    let run = ctx(
        root,
        &["gates", "--service", "apart", "--changed", "--dry-run"],
    );
    run.expect_code(0);
    assert!(run.stdout.contains("0 gates selected"), "{}", run.stdout);
    // Without `main`, `master` or an upstream, the error says what was tried.
    git(root, &["branch", "-q", "-m", "master", "trunk"]);
    let run = ctx(root, &["gates", "--changed", "--dry-run"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("neither `main` nor `master` exists")
            && run.stderr.contains("--base REF"),
        "{}",
        run.stderr
    );
    let run = ctx(
        root,
        &["gates", "--changed", "--base", "trunk", "--dry-run"],
    );
    run.expect_code(0);
    assert!(
        run.stdout.contains("service:top/top-tests"),
        "{}",
        run.stdout
    );
}

/// Issue #15, point 3: gates are the same gates everywhere. An org gate may be named in
/// a phase's `validation`; an override that only changes `timeout` does not make `--all`
/// run the command twice; `ctx list gates` shows the command an override inherits.
#[test]
fn gates_are_the_same_gates_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("domains")).unwrap();
    std::fs::write(root.join("ctx.toml"), "[gates]\ntimeout = \"30s\"\n").unwrap();
    std::fs::write(
        root.join("domains/all.yaml"),
        "kind: org\nname: o\nquality_gates:\n  fmt: \"echo fmt >> ran.txt\"\n---\n\
         kind: domain\nname: d\nquality_gates:\n  d-tests: \"echo d >> ran.txt\"\n---\n\
         kind: feature\nname: f\ndomains: [d]\nquality_gates:\n  d/d-tests: { timeout: 1m }\n  fmt: { timeout: 2m }\n\
         phases:\n  - name: p\n    validation: [fmt, d-tests]\n",
    )
    .unwrap();
    ctx(root, &["validate"]).expect_code(0);
    let bundle = ctx(root, &["bundle", "f", "--format", "json"]);
    bundle.expect_code(0);
    let bundle: serde_json::Value = serde_json::from_str(&bundle.stdout).unwrap();
    assert_eq!(
        bundle["phases"][0]["validation"][0]["gate"]["run"], "echo fmt >> ran.txt",
        "{bundle}"
    );
    let run = ctx(root, &["gates", "--all"]);
    run.expect_code(0);
    let ran = std::fs::read_to_string(root.join("ran.txt")).unwrap();
    let mut lines: Vec<&str> = ran.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["d", "fmt"], "{}", run.stdout);
    let list = ctx(root, &["list", "gates", "--format", "json"]);
    list.expect_code(0);
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let row = |id: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["name"] == id)
            .unwrap_or_else(|| panic!("{id}: {list}"))
            .clone()
    };
    assert_eq!(row("feature:f/fmt")["run"], "echo fmt >> ran.txt");
    assert_eq!(row("feature:f/fmt")["overrides"], "org:o/fmt");
    assert_eq!(row("feature:f/d/d-tests")["run"], "echo d >> ran.txt");
    assert_eq!(row("feature:f/d/d-tests")["overrides"], "domain:d/d-tests");
    assert_eq!(row("org:o/fmt")["overrides"], serde_json::Value::Null);
}

#[test]
fn unwritable_report_is_exit_4_and_keeps_the_previous_report() {
    let dir = workspace("  ok: \"true\"\n");
    let blocker = dir.path().join("report-dir");
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("keep"), "x").unwrap();
    let run = ctx(
        dir.path(),
        &[
            "gates",
            "--domain",
            "d",
            "--json",
            blocker.to_str().unwrap(),
        ],
    );
    run.expect_code(4);
    assert!(blocker.join("keep").exists());
}

#[test]
fn disk_full_while_writing_a_report_is_exit_4_and_keeps_the_previous_report() {
    let gates: String = (0..100)
        .map(|index| format!("  g{index}: \"true\"\n"))
        .collect();
    let dir = workspace(&gates);
    let report = dir.path().join("report.json");
    std::fs::write(&report, "previous report\n").unwrap();
    let run = crate::ctx_with_file_size_limit(
        dir.path(),
        8 * 1024,
        &["gates", "--domain", "d", "--json", report.to_str().unwrap()],
    );
    run.expect_code(4);
    assert!(run.stderr.contains("File too large"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(&report).unwrap(),
        "previous report\n"
    );
}

/// Start `ctx gates --domain d --json <dir>/report.json` in the background.
fn spawn_gates(dir: &Path, stdin: Stdio, stderr: Stdio) -> std::process::Child {
    let report_path = dir.join("report.json");
    Command::new(env!("CARGO_BIN_EXE_ctx"))
        .args([
            "-C",
            dir.to_str().unwrap(),
            "--color",
            "never",
            "gates",
            "--domain",
            "d",
            "--json",
            report_path.to_str().unwrap(),
        ])
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Start `ctx gates` on a gate that records its pid and sleeps; wait until it runs.
fn start_sleeping_run(dir: &Path) -> std::process::Child {
    let child = spawn_gates(dir, Stdio::null(), Stdio::piped());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.join("pids/sleeper").exists()
        || std::fs::read_to_string(dir.join("pids/sleeper"))
            .unwrap()
            .trim()
            .is_empty()
    {
        assert!(Instant::now() < deadline, "the gate never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn interrupt(signal: nix::sys::signal::Signal, expected: i32) {
    let dir = workspace(
        "  sleeper: \"echo $$ > pids/sleeper; sleep 60 & sleep 60\"\n  later: \"sleep 60\"\n",
    );
    std::fs::write(
        dir.path().join("ctx.toml"),
        "[gates]\ngrace = \"1s\"\njobs = 1\n",
    )
    .unwrap();
    let mut child = start_sleeping_run(dir.path());
    let group = pid(dir.path(), "sleeper");
    let sent = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        signal,
    )
    .unwrap();
    let status = crate::wait_for_exit(
        &mut child,
        Duration::from_secs(20),
        &format!("ctx did not stop after {signal}"),
    );
    assert_eq!(status.code(), Some(expected));
    // Every gate process is gone within grace + 1 s.
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "{:?}",
        sent.elapsed()
    );
    assert_group_gone(group);
    let report = report(dir.path());
    assert_eq!(report["interrupted"], true);
    assert_eq!(gate(&report, "sleeper")["status"], "interrupted");
    assert_eq!(report["skipped"], serde_json::json!(["domain:d/later"]));
}

#[test]
fn sigint_stops_the_run_writes_partial_reports_and_exits_130() {
    interrupt(nix::sys::signal::Signal::SIGINT, 130);
}

#[test]
fn sigterm_stops_the_run_and_exits_143() {
    interrupt(nix::sys::signal::Signal::SIGTERM, 143);
}

#[test]
fn github_mode_groups_output_annotates_failures_and_writes_a_summary() {
    let dir = workspace("  ok: echo all good\n  broken: \"echo broken output; exit 2\"\n");
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "previous step\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ctx"))
        .args([
            "-C",
            dir.path().to_str().unwrap(),
            "--color",
            "never",
            "gates",
            "--domain",
            "d",
            "--github",
            "on",
        ])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("::group::PASS domain:d/ok"), "{stderr}");
    // The output sits between `::stop-commands::<token>` and `::<token>::`.
    assert!(stderr.contains("all good\n::"), "{stderr}");
    assert!(stderr.contains("::\n::endgroup::"), "{stderr}");
    assert!(stderr.contains("::stop-commands::"), "{stderr}");
    assert!(stderr.contains("::error title=gate domain%3Ad/broken fail::exited with status 2%0A$ echo broken output; exit 2%0Abroken output"), "{stderr}");
    let written = std::fs::read_to_string(&summary).unwrap();
    assert!(
        written.starts_with("previous step\n### ctx gates"),
        "{written}"
    );
    assert!(written.contains("| ❌ fail |"), "{written}");
}

#[test]
fn changed_paths_are_relative_to_a_workspace_inside_a_larger_repository() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path().join("platform");
    std::fs::create_dir_all(root.join("domains")).unwrap();
    std::fs::create_dir_all(root.join("src/d")).unwrap();
    std::fs::write(root.join("domains/d.yaml"), "kind: domain\nname: d\nmatch:\n  paths: [\"src/d/**\"]\nquality_gates:\n  d-tests: \"true\"\n").unwrap();
    std::fs::write(root.join("src/d/a.py"), "x = 1\n").unwrap();
    std::fs::write(repo.path().join("README.md"), "outside the workspace\n").unwrap();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "init"]);
    std::fs::write(root.join("src/d/a.py"), "x = 2\n").unwrap();
    let run = ctx(
        &root,
        &[
            "gates",
            "--domain",
            "d",
            "--changed",
            "--base",
            "main",
            "--dry-run",
        ],
    );
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("changed: `src/d/a.py` matches `src/d/**`"),
        "{}",
        run.stdout
    );
}

#[test]
fn fail_fast_stops_starting_gates_after_a_blocking_failure() {
    let dir = workspace("  first: exit 1\n  second: \"true\"\n  third: \"true\"\n");
    let (run, report) = gates(dir.path(), &["-j", "1", "--fail-fast"]);
    run.expect_code(1);
    assert_eq!(gate(&report, "first")["status"], "fail");
    assert_eq!(
        report["skipped"],
        serde_json::json!(["domain:d/second", "domain:d/third"])
    );
    assert!(run.stderr.contains("2 not started"), "{}", run.stderr);
}

#[test]
fn timeout_flag_overrides_every_gate() {
    let dir = workspace("  slow:\n    run: \"echo $$ > pids/slow; sleep 60\"\n    timeout: 10m\n");
    let (run, report) = gates(dir.path(), &["--timeout", "1s"]);
    run.expect_code(1);
    assert_eq!(gate(&report, "slow")["status"], "timeout");
    assert!(
        gate(&report, "slow")["message"]
            .as_str()
            .unwrap()
            .starts_with("timed out after 1s")
    );
    assert_group_gone(pid(dir.path(), "slow"));
    let run = ctx(dir.path(), &["gates", "--domain", "d", "--timeout", "ten"]);
    run.expect_code(2);
    assert!(run.stderr.contains("is not a duration"), "{}", run.stderr);
}

#[test]
fn all_selects_every_layer_once() {
    let run = ctx(&repo_root(), &["gates", "--all", "--dry-run"]);
    run.expect_code(0);
    for id in [
        "org:acme/syntax",
        "domain:payment/payment-tests",
        "feature:checkout/checkout-flow",
        "domain:order_management/saga-check",
    ] {
        assert_eq!(
            run.stdout.matches(&format!("{id}\n")).count(),
            1,
            "{id}: {}",
            run.stdout
        );
    }
    assert!(run.stdout.contains("why: `--all`"), "{}", run.stdout);
}
