//! Hardening II: outputs that never destroy, names that never collide, durations that
//! cannot overflow, output that cannot inject, run folders that do not grow forever.

use std::os::unix::fs::FileTypeExt;

use crate::{ctx, workspace_of};

fn example() -> tempfile::TempDir {
    workspace_of(&[
        (
            "domains/d.yaml",
            "kind: domain\nname: d\nconstraints:\n  rule: Always test\nquality_gates:\n  ok: \"true\"\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
    ])
}

#[test]
fn outputs_never_replace_a_fifo_or_follow_a_symlink_over_it() {
    let dir = example();
    let fifo = dir.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let run = ctx(dir.path(), &["bundle", "f", "-o", fifo.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        reader.join().unwrap().contains("Always test"),
        "written through the FIFO"
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "still a FIFO"
    );
    // A symlink is written through to its destination, and stays a symlink.
    let target = dir.path().join("real.md");
    let link = dir.path().join("link.md");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert_eq!(
        ctx(dir.path(), &["bundle", "f", "-o", link.to_str().unwrap()]).code,
        0
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .contains("Always test")
    );
    // `-o -` is stdout.
    let stdout = ctx(dir.path(), &["bundle", "f", "-o", "-"]);
    assert!(stdout.stdout.contains("Always test"));
}

#[test]
fn an_output_that_is_one_of_the_runs_inputs_is_refused_before_anything_is_written() {
    let dir = example();
    let config = dir.path().join("domains/d.yaml");
    let before = std::fs::read_to_string(&config).unwrap();
    let run = ctx(dir.path(), &["bundle", "f", "-o", config.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("is one of this run's inputs (a configuration document)"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    // Through a symlink too.
    let alias = dir.path().join("alias.yaml");
    std::os::unix::fs::symlink(&config, &alias).unwrap();
    assert_eq!(
        ctx(dir.path(), &["bundle", "f", "-o", alias.to_str().unwrap()]).code,
        2
    );
    // Reports as well, and one file named twice is a usage error.
    let report = ctx(
        dir.path(),
        &["gates", "f", "--json", config.to_str().unwrap()],
    );
    assert_eq!(report.code, 2, "{}", report.stderr);
    let twice = dir.path().join("r.xml");
    let same = ctx(
        dir.path(),
        &[
            "gates",
            "f",
            "--json",
            twice.to_str().unwrap(),
            "--junit",
            twice.to_str().unwrap(),
        ],
    );
    assert_eq!(same.code, 2);
    assert!(
        same.stderr.contains("name the same file"),
        "{}",
        same.stderr
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
}

#[test]
fn durations_are_bounded_and_zero_is_refused_with_a_location() {
    let dir = workspace_of(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nquality_gates:\n  slow: { run: \"true\", timeout: 500000000000y }\n  zero: { run: \"true\", timeout: 0s }\n",
    )]);
    let run = ctx(dir.path(), &["validate"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("over the maximum of one week")
            && run.stderr.contains("domains/d.yaml:4"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("a timeout of zero") && run.stderr.contains("domains/d.yaml:5"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"));
    let flag = ctx(
        example().path(),
        &["gates", "f", "--timeout", "500000000000y"],
    );
    assert_eq!(flag.code, 2);
    let settings = workspace_of(&[
        ("ctx.toml", "[gates]\ngrace = \"99999999d\"\n"),
        ("domains/d.yaml", "kind: domain\nname: d\n"),
    ]);
    let run = ctx(settings.path(), &["validate"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("`gates.grace` is not a duration: over the maximum"),
        "{}",
        run.stderr
    );
}

#[test]
fn gate_ids_that_read_alike_never_share_a_log_and_keys_are_plain_ascii() {
    let dir = workspace_of(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nquality_gates:\n  a+b: \"echo plus\"\n  a_b: \"echo underscore\"\n",
    )]);
    let run = ctx(dir.path(), &["validate"]);
    assert_eq!(
        run.code, 2,
        "`+` is outside the key alphabet: {}",
        run.stderr
    );
    let dir = workspace_of(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nquality_gates:\n  a.b: \"echo dot > $CTX_GATE_OUTPUT_DIR/who\"\n  a_b: \"echo underscore > $CTX_GATE_OUTPUT_DIR/who\"\n",
    )]);
    assert_eq!(ctx(dir.path(), &["gates", "--domain", "d"]).code, 0);
    let runs = dir.path().join(".ctx/runs");
    let run_dir = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let logs = std::fs::read_dir(&run_dir)
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".log")
        })
        .count();
    assert_eq!(logs, 2, "one log per gate");
    let outs: Vec<String> = std::fs::read_dir(run_dir.join("out"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path().join("who")).unwrap())
        .collect();
    assert_eq!(outs.len(), 2, "one private folder per gate: {outs:?}");
    let cyrillic = workspace_of(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nconstraints:\n  security: One\n  s\u{435}curity: Two\n  Rule: A\n  rule: B\n",
    )]);
    let run = ctx(cyrillic.path(), &["validate"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("has a character outside"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("keys `Rule` and `rule` differ only by case"),
        "{}",
        run.stderr
    );
    let env = workspace_of(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nquality_gates:\n  g: { run: \"true\", env: { \"A=B\": x } }\n",
    )]);
    let run = ctx(env.path(), &["validate"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot be set") && run.stderr.contains("domains/d.yaml:4"),
        "{}",
        run.stderr
    );
}

#[test]
fn gate_output_cannot_command_the_github_runner() {
    let dir = workspace_of(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nquality_gates:\n  sneaky: \"echo '::stop-commands::x'; echo '::warning::fake'; exit 1\"\n",
    )]);
    let run = ctx(dir.path(), &["gates", "--domain", "d", "--github", "on"]);
    assert_eq!(run.code, 1);
    let stop = run.stderr.find("::stop-commands::").unwrap();
    let token = run.stderr[stop + 17..].lines().next().unwrap().to_owned();
    assert!(
        token.len() == 32 && token.chars().all(|c| c.is_ascii_hexdigit()),
        "{token}"
    );
    let resume = run.stderr.find(&format!("::{token}::")).unwrap();
    let fake = run.stderr.find("::warning::fake").unwrap();
    assert!(
        stop < fake && fake < resume,
        "the gate's lines are between the stop and the resume"
    );
    assert!(
        run.stderr[resume..].contains("::error title=gate domain%3Ad/sneaky fail::"),
        "ctx's annotation comes after the resume: {}",
        run.stderr
    );
    let base = ctx(
        dir.path(),
        &[
            "gates",
            "--domain",
            "d",
            "--changed",
            "--base=--output=/tmp/x",
        ],
    );
    assert_eq!(base.code, 2);
    assert!(
        base.stderr.contains("would be read as an option"),
        "{}",
        base.stderr
    );
}

#[test]
fn run_folders_are_pruned_to_keep_runs() {
    let dir = workspace_of(&[
        ("ctx.toml", "[gates]\nkeep_runs = 3\n"),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\nquality_gates:\n  ok: \"true\"\n",
        ),
    ]);
    for _ in 0..6 {
        assert_eq!(ctx(dir.path(), &["gates", "--domain", "d"]).code, 0);
    }
    let runs = std::fs::read_dir(dir.path().join(".ctx/runs"))
        .unwrap()
        .count();
    assert_eq!(runs, 3);
}

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

#[test]
fn a_gate_whose_daemon_escapes_its_group_ends_on_time_and_the_daemon_is_killed() {
    let dir = workspace_of(&[(
        "domains/d.yaml",
        "kind: domain
name: d
quality_gates:
  holds-pipes:
    run: \"setsid sh -c 'echo $$ > held; exec sleep 40' & exit 0\"
    timeout: 5s
  quiet:
    run: \"setsid sh -c 'echo $$ > quiet; exec sleep 40' > /dev/null 2>&1 < /dev/null & sleep 0.2\"
    timeout: 5s
",
    )]);
    let started = std::time::Instant::now();
    let run = ctx(
        dir.path(),
        &["gates", "--domain", "d", "--no-store", "-j", "1"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the run waited for the daemon: {:?}",
        started.elapsed()
    );
    for file in ["held", "quiet"] {
        let pid: i32 = std::fs::read_to_string(dir.path().join(file))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while alive(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "the escaped `{file}` daemon outlived its gate"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

#[test]
fn a_phase_naming_private_items_never_names_them_outside_their_audience() {
    let dir = workspace_of(&[
        (
            "domains/d.yaml",
            "kind: domain
name: d
patterns:
  open-pattern: { path: src/a.py }
  secret-pattern: { path: src/b.py, audience: [reviewer] }
quality_gates:
  open-gate: \"true\"
  secret-gate: { run: \"true\", audience: [reviewer] }
",
        ),
        (
            "domains/f.yaml",
            "kind: feature
name: f
domains: [d]
phases:
  - name: build
    patterns: [open-pattern, secret-pattern]
    validation: [open-gate, secret-gate]
",
        ),
        (
            "domains/agents.yaml",
            "kind: agent\nname: reviewer\n---\nkind: agent\nname: tester\n",
        ),
        ("src/a.py", "a = 1\n"),
        ("src/b.py", "b = 2\n"),
    ]);
    let outsiders: Vec<Vec<&str>> = vec![
        vec!["bundle", "f"],
        vec!["bundle", "f", "--format", "json"],
        vec!["bundle", "f", "--agent", "tester"],
        vec!["bundle", "f", "--agent", "tester", "--format", "json"],
        vec!["explain", "f"],
        vec!["explain", "f", "--agent", "tester", "--format", "json"],
    ];
    for args in outsiders {
        let run = ctx(dir.path(), &args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(
            run.stdout.contains("open-pattern") || run.stdout.contains("open-gate"),
            "{args:?}"
        );
        for private in ["secret-pattern", "secret-gate"] {
            assert!(
                !run.stdout.contains(private),
                "{private} leaked into {args:?}"
            );
        }
    }
    let reviewer = ctx(dir.path(), &["bundle", "f", "--agent", "reviewer"]);
    assert!(
        reviewer.stdout.contains("secret-pattern") && reviewer.stdout.contains("secret-gate"),
        "the audience sees them"
    );
    assert_eq!(ctx(dir.path(), &["export", "skills", "agents-md"]).code, 0);
    let skill = std::fs::read_to_string(dir.path().join(".agents/skills/f/SKILL.md")).unwrap();
    assert!(
        !skill.contains("secret-pattern") && !skill.contains("secret-gate"),
        "{skill}"
    );
}

#[test]
fn secrets_in_the_configuration_text_never_reach_an_output() {
    let token = format!("ghp_{}", "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6");
    let yaml = format!(
        "kind: domain
name: d
constraints:
  creds: \"Deploy with {token} from the vault\"
patterns:
  code: {{ path: src/a.py, why: \"Uses postgres://app:Zq8vkw71@db/shop\" }}
quality_gates:
  db: \"psql postgres://app:Zq8vkw71@db/shop -c 'select 1' || true\"
---
kind: feature
name: f
domains: [d]
"
    );
    let dir = workspace_of(&[("domains/d.yaml", yaml.as_str()), ("src/a.py", "a = 1\n")]);
    for args in [
        vec!["bundle", "f"],
        vec!["bundle", "f", "--format", "json"],
        vec!["explain", "f", "--format", "json"],
        vec!["gates", "f", "--dry-run"],
    ] {
        let run = ctx(dir.path(), &args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(
            !run.stdout.contains(&token) && !run.stdout.contains("Zq8vkw71"),
            "{args:?}: {}",
            run.stdout
        );
    }
    let bundle = ctx(dir.path(), &["bundle", "f"]);
    assert!(
        bundle
            .stderr
            .contains("secret redacted from the bundle: domains/d.yaml:4"),
        "{}",
        bundle.stderr
    );
    let report = dir.path().join("report.json");
    let run = ctx(
        dir.path(),
        &["gates", "f", "--json", report.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(
        !text.contains("Zq8vkw71") && text.contains("[REDACTED:url-credentials]"),
        "{text}"
    );
    let wrapped = workspace_of(&[(
        "domains/d.yaml",
        &format!(
            "kind: domain\nname: d\nquality_gates:\n  leak: \"printf '\\\\033[31m{token}\\\\033[0m'; exit 1\"\n"
        ),
    )]);
    let run = ctx(wrapped.path(), &["gates", "--domain", "d"]);
    assert_eq!(run.code, 1);
    assert!(
        !run.stderr.contains(&token),
        "a coloured token is still a token: {}",
        run.stderr
    );
}

#[test]
fn a_tampered_token_cache_can_neither_switch_redaction_off_nor_change_a_bundle() {
    let token = format!("ghp_{}", "Zx9kQ2pL7mN4vB8cX1zA3sD5fG6hJ7kL8qW9");
    let source = format!("API = \"{token}\"\n");
    let dir = workspace_of(&[
        (
            "domains/d.yaml",
            "kind: domain\nname: d\npatterns:\n  code: { path: src/a.py }\n---\nkind: feature\nname: f\ndomains: [d]\n",
        ),
        ("src/a.py", source.as_str()),
    ]);
    let fresh = ctx(
        dir.path(),
        &["bundle", "f", "--format", "json", "--no-cache"],
    );
    assert!(!fresh.stdout.contains(&token));
    assert_eq!(ctx(dir.path(), &["bundle", "f"]).code, 0);
    let path = dir.path().join(".ctx/cache/tokens");
    let original = std::fs::read(&path).unwrap();
    let header_end = original.iter().position(|&byte| byte == b'\n').unwrap() + 1;
    // Forge every text entry as `clean`, with a valid checksum (the MAC it cannot make).
    let mut forged = original.clone();
    let entry_bytes = 32 + 4 + 4 + 1 + 4 + 1 + 8 + 8;
    let count = u32::from_le_bytes(forged[header_end..header_end + 4].try_into().unwrap()) as usize;
    for index in 0..count {
        let start = header_end + 4 + index * entry_bytes;
        forged[start + 40] = 1;
        let check = blake3::hash(&forged[start..start + 46]);
        forged[start + 46..start + 54].copy_from_slice(&check.as_bytes()[..8]);
    }
    std::fs::write(&path, &forged).unwrap();
    let run = ctx(dir.path(), &["bundle", "f", "--format", "json"]);
    assert!(
        !run.stdout.contains(&token),
        "a forged `clean` flag switched redaction off"
    );
    // One flipped byte anywhere changes nothing in what is written.
    for offset in [header_end + 10, original.len() - 5, original.len() / 2] {
        let mut flipped = original.clone();
        flipped[offset] ^= 0x40;
        std::fs::write(&path, &flipped).unwrap();
        let run = ctx(dir.path(), &["bundle", "f", "--format", "json"]);
        assert_eq!(run.code, 0);
        let digest =
            |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap()["digest"].clone();
        assert_eq!(
            digest(&run.stdout),
            digest(&fresh.stdout),
            "byte {offset} flipped changed the bundle"
        );
    }
    // A FIFO where the cache belongs is not read (it would block).
    std::fs::remove_file(&path).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap()
            .success()
    );
    let run = ctx(dir.path(), &["bundle", "f"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_gate_never_outlives_a_ctx_killed_with_sigkill() {
    let dir = workspace_of(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nquality_gates:\n  long: \"echo $$ > leader; sleep 60\"\n",
    )]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ctx"))
        .arg("-C")
        .arg(dir.path())
        .args(["gates", "--domain", "d", "--no-store"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let leader_file = dir.path().join("leader");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let leader: i32 = loop {
        if let Some(pid) = std::fs::read_to_string(&leader_file)
            .ok()
            .and_then(|text| text.trim().parse().ok())
        {
            break pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gate never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = child.wait();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while alive(leader) {
        assert!(
            std::time::Instant::now() < deadline,
            "the gate's leader outlived `kill -9` of ctx"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn paths_ctx_does_not_own_never_block_it_and_sighup_ends_a_run_like_sigterm() {
    // `ctx.toml` and the step summary as FIFOs: refused, never waited on.
    let dir = workspace_of(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nquality_gates:\n  ok: \"true\"\n",
    )]);
    assert!(
        std::process::Command::new("mkfifo")
            .arg(dir.path().join("ctx.toml"))
            .status()
            .unwrap()
            .success()
    );
    let started = std::time::Instant::now();
    let run = ctx(dir.path(), &["validate"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    std::fs::remove_file(dir.path().join("ctx.toml")).unwrap();
    let summary = dir.path().join("summary");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&summary)
            .status()
            .unwrap()
            .success()
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ctx"))
        .arg("-C")
        .arg(dir.path())
        .args(["gates", "--domain", "d", "--github", "on", "--no-store"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // SIGHUP (the terminal went away) ends a run like SIGTERM: gates stopped, exit 143.
    let slow = workspace_of(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nquality_gates:\n  slow: \"echo started > started; sleep 30\"\n",
    )]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ctx"))
        .arg("-C")
        .arg(slow.path())
        .args(["gates", "--domain", "d", "--no-store"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !slow.path().join("started").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the gate never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let status = crate::wait_for_exit(
        &mut child,
        std::time::Duration::from_secs(20),
        "ctx did not stop on SIGHUP",
    );
    assert_eq!(status.code(), Some(143));
}

#[test]
fn list_never_names_a_private_gate() {
    let dir = workspace_of(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nquality_gates:\n  open-gate: \"true\"\n  secret-gate: { run: \"true\", audience: [reviewer] }\n---\nkind: agent\nname: reviewer\n",
    )]);
    for format in ["text", "json"] {
        let run = ctx(dir.path(), &["list", "gates", "--format", format]);
        assert!(
            run.stdout.contains("open-gate") && !run.stdout.contains("secret-gate"),
            "{}",
            run.stdout
        );
    }
}
