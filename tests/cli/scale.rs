//! Gates at scale: partitions and the CI matrix, results cached on declared inputs,
//! resource groups, the event stream and its handlers.

use std::collections::BTreeSet;
use std::process::Command;

use crate::{Run, ctx, workspace_of};

fn ctx_env(root: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ctx"));
    command
        .arg("-C")
        .arg(root)
        .arg("--color")
        .arg("never")
        .args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    Run::from(command.output().unwrap())
}

const CACHED: &str = "kind: domain
name: d
quality_gates:
  lint:
    run: cat src/a.txt > /dev/null
    inputs: [\"src/**\"]
  env-gate:
    run: \"true\"
    inputs: { files: [src/a.txt], env: [MODE] }
  plain: \"true\"
  flaky:
    run: test -f pass
    inputs: [\"src/**\"]
";

fn statuses(run: &Run) -> Vec<(String, String)> {
    run.stderr
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let status = words.next()?;
            let _duration = words.next()?;
            let gate = words.next()?;
            gate.starts_with("domain:d/")
                .then(|| (gate.to_owned(), status.to_owned()))
        })
        .collect()
}

fn status_of(run: &Run, gate: &str) -> String {
    statuses(run)
        .into_iter()
        .find(|(id, _)| id == gate)
        .map(|(_, status)| status)
        .unwrap_or_else(|| panic!("no summary line for {gate}: {}", run.stderr))
}

#[test]
fn a_cached_pass_is_reused_until_an_input_the_env_or_the_command_changes() {
    let dir = workspace_of(&[
        ("domains/d.yaml", CACHED),
        ("src/a.txt", "a\n"),
        ("pass", ""),
    ]);
    let root = dir.path();
    let first = ctx(root, &["gates", "--domain", "d"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(status_of(&first, "domain:d/lint"), "PASS");
    let report_path = root.join("report.json");
    let second = ctx(
        root,
        &[
            "gates",
            "--domain",
            "d",
            "--json",
            report_path.to_str().unwrap(),
        ],
    );
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(status_of(&second, "domain:d/lint"), "CACHED");
    assert_eq!(status_of(&second, "domain:d/env-gate"), "CACHED");
    assert_eq!(
        status_of(&second, "domain:d/plain"),
        "PASS",
        "a gate without inputs always runs"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("report.json")).unwrap()).unwrap();
    let lint = report["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|gate| gate["id"] == "domain:d/lint")
        .unwrap();
    assert_eq!(lint["cached"], true);
    assert_eq!(report["counts"]["cached"], 3);

    // An edit to an input file.
    std::fs::write(root.join("src/a.txt"), "b\n").unwrap();
    let why = ctx(root, &["gates", "--why", "lint"]);
    assert!(
        why.stdout.contains("will run") && why.stdout.contains("`src/a.txt` changed"),
        "{}",
        why.stdout
    );
    let edited = ctx(root, &["gates", "--domain", "d"]);
    assert_eq!(status_of(&edited, "domain:d/lint"), "PASS");
    assert_eq!(
        status_of(&ctx(root, &["gates", "--domain", "d"]), "domain:d/lint"),
        "CACHED"
    );

    // An environment variable the gate names.
    let with_env = ctx_env(root, &[("MODE", "fast")], &["gates", "--domain", "d"]);
    assert_eq!(status_of(&with_env, "domain:d/env-gate"), "PASS");
    assert_eq!(
        status_of(&with_env, "domain:d/lint"),
        "CACHED",
        "lint does not name MODE"
    );
    let same_env = ctx_env(root, &[("MODE", "fast")], &["gates", "--domain", "d"]);
    assert_eq!(status_of(&same_env, "domain:d/env-gate"), "CACHED");

    // The command.
    std::fs::write(
        root.join("domains/d.yaml"),
        CACHED.replace("cat src/a.txt", "wc -c src/a.txt"),
    )
    .unwrap();
    let changed = ctx(root, &["gates", "--domain", "d"]);
    assert_eq!(status_of(&changed, "domain:d/lint"), "PASS");

    // `--rerun` runs everything.
    let rerun = ctx(root, &["gates", "--domain", "d", "--rerun"]);
    assert!(
        statuses(&rerun).iter().all(|(_, status)| status == "PASS"),
        "{}",
        rerun.stderr
    );
}

#[test]
fn failures_are_never_cached_and_a_damaged_entry_only_costs_a_run() {
    let dir = workspace_of(&[("domains/d.yaml", CACHED), ("src/a.txt", "a\n")]);
    let root = dir.path();
    let failed = ctx(root, &["gates", "--domain", "d"]);
    assert_eq!(failed.code, 1);
    assert_eq!(status_of(&failed, "domain:d/flaky"), "FAIL");
    let again = ctx(root, &["gates", "--domain", "d"]);
    assert_eq!(
        status_of(&again, "domain:d/flaky"),
        "FAIL",
        "a failure is never reused"
    );
    std::fs::write(root.join("pass"), "").unwrap();
    assert_eq!(
        status_of(&ctx(root, &["gates", "--domain", "d"]), "domain:d/flaky"),
        "PASS"
    );
    assert_eq!(
        status_of(&ctx(root, &["gates", "--domain", "d"]), "domain:d/flaky"),
        "CACHED"
    );
    for entry in std::fs::read_dir(root.join(".ctx/gate-cache")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace("\"duration_ms\": ", "\"duration_ms\": 1"),
        )
        .unwrap();
    }
    let damaged = ctx(root, &["gates", "--domain", "d"]);
    assert_eq!(damaged.code, 0, "{}", damaged.stderr);
    assert_eq!(
        status_of(&damaged, "domain:d/flaky"),
        "PASS",
        "a damaged entry is ignored"
    );
}

#[test]
fn a_group_with_max_jobs_one_never_runs_two_of_its_gates_at_once() {
    let gate = |name: &str| {
        format!(
            "  {name}:\n    run: \"echo start $(date +%s%N) >> times/{name}; sleep 0.2; echo end $(date +%s%N) >> times/{name}\"\n    group: db\n"
        )
    };
    let yaml = format!(
        "kind: domain\nname: d\nquality_gates:\n{}{}{}{}  free: \"sleep 0.2\"\n",
        gate("a"),
        gate("b"),
        gate("c"),
        gate("e")
    );
    let dir = workspace_of(&[
        ("ctx.toml", "[gates.groups]\ndb = { max_jobs = 1 }\n"),
        ("domains/d.yaml", yaml.as_str()),
        ("times/.keep", ""),
    ]);
    let run = ctx(dir.path(), &["gates", "--domain", "d", "-j", "4"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut spans: Vec<(u128, u128)> = ["a", "b", "c", "e"]
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(dir.path().join("times").join(name)).unwrap();
            let value = |prefix: &str| -> u128 {
                text.lines()
                    .find_map(|line| line.strip_prefix(prefix))
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap()
            };
            (value("start "), value("end "))
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "two gates of group db overlapped: {spans:?}"
        );
    }
    let unknown = workspace_of(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nquality_gates:\n  a: { run: \"true\", group: dbb }\n",
    )]);
    let invalid = ctx(unknown.path(), &["validate"]);
    assert_eq!(invalid.code, 2);
    assert!(
        invalid.stderr.contains("gate group `dbb` is not declared")
            && invalid.stderr.contains("domains/d.yaml:4"),
        "{}",
        invalid.stderr
    );
}

fn is_traceparent(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 4
        && parts[0] == "00"
        && parts[1].len() == 32
        && parts[2].len() == 16
        && parts[3] == "01"
        && parts[1..3]
            .iter()
            .all(|part| part.chars().all(|c| c.is_ascii_hexdigit()))
}

#[test]
fn events_arrive_in_order_with_valid_traceparents_and_a_failing_handler_changes_nothing() {
    let dir = workspace_of(&[
        (
            "ctx.toml",
            "[hooks]\ngate_finished = \"exit 3\"\nrun_finished = \"cat > run_finished.json\"\ngate_failed = \"cat >> failed.jsonl\"\n",
        ),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\nquality_gates:\n  one: \"echo $TRACEPARENT > one.tp\"\n  two: \"true\"\n",
        ),
    ]);
    let events_path = dir.path().join("events.jsonl");
    let run = ctx(
        dir.path(),
        &[
            "gates",
            "--domain",
            "d",
            "-j",
            "1",
            "--events",
            events_path.to_str().unwrap(),
        ],
    );
    assert_eq!(
        run.code, 0,
        "the handlers' failures are not the verdict: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("warning: the `gate_finished` hook `exit 3` exited with status 3"),
        "{}",
        run.stderr
    );
    let events: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|event| event["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "run_started",
            "gate_started",
            "gate_finished",
            "gate_started",
            "gate_finished",
            "run_finished"
        ]
    );
    let trace = &events[0]["traceparent"].as_str().unwrap()[3..35];
    let mut spans = BTreeSet::new();
    for event in &events {
        let traceparent = event["traceparent"].as_str().unwrap();
        assert!(is_traceparent(traceparent), "{traceparent}");
        assert_eq!(&traceparent[3..35], trace, "one trace per run");
        assert_eq!(event["run_id"], events[0]["run_id"]);
        assert_eq!(event["schema"], "ctx.events/v1");
        spans.insert(traceparent[36..52].to_owned());
    }
    assert_eq!(spans.len(), 3, "a span for the run and one per gate");
    assert_eq!(
        events[1]["traceparent"], events[2]["traceparent"],
        "a gate's events share its span"
    );
    let seen = std::fs::read_to_string(dir.path().join("one.tp")).unwrap();
    assert_eq!(
        seen.trim(),
        events[1]["traceparent"].as_str().unwrap(),
        "the gate's TRACEPARENT is its span"
    );
    assert_eq!(events[5]["verdict"], "passed");
    let finished: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("run_finished.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(finished["event"], "run_finished");
    assert!(!dir.path().join("failed.jsonl").exists(), "no gate failed");
}

#[test]
fn partitions_split_the_selection_into_disjoint_parts_and_the_matrix_names_them() {
    let mut yaml = String::from("kind: domain\nname: d\nquality_gates:\n");
    for index in 0..17 {
        yaml.push_str(&format!("  g{index}: \"true\"\n"));
    }
    let dir = workspace_of(&[("domains/d.yaml", yaml.as_str())]);
    for strategy in ["count", "hash"] {
        let mut union = Vec::new();
        for part in 1..=3 {
            let run = ctx(
                dir.path(),
                &[
                    "gates",
                    "--domain",
                    "d",
                    "--dry-run",
                    "--partition",
                    &format!("{strategy}:{part}/3"),
                ],
            );
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert!(
                run.stdout
                    .contains(&format!("(part {strategy}:{part}/3 of the selection)")),
                "{}",
                run.stdout
            );
            union.extend(
                run.stdout
                    .lines()
                    .filter(|line| line.starts_with("domain:d/"))
                    .map(str::to_owned),
            );
        }
        let unique: BTreeSet<&String> = union.iter().collect();
        assert_eq!(
            union.len(),
            17,
            "{strategy}: every gate in exactly one part"
        );
        assert_eq!(unique.len(), 17, "{strategy}: parts are disjoint");
    }
    let bad = ctx(
        dir.path(),
        &["gates", "--domain", "d", "--partition", "hash:4/3"],
    );
    assert_eq!(bad.code, 2);
    let matrix = ctx(dir.path(), &["gates", "--matrix", "3"]);
    let value: serde_json::Value = serde_json::from_str(&matrix.stdout).unwrap();
    assert_eq!(value["include"][2]["partition"], "hash:3/3");
}
