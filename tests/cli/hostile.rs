//! Hostile inputs built at test time: symlinks, FIFOs, oversized files, YAML bombs,
//! deep nesting, a closed stdout. Each must end in a located error (or a quiet exit),
//! never a panic, a hang or a read outside the root.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::ctx;

/// A workspace in a temp folder with one domain file.
fn workspace(domain_yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "domains/a.yaml", domain_yaml);
    dir
}

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Generous upper bound that only catches hangs; speed is measured in `bench/`.
const HANG_GUARD: Duration = Duration::from_secs(20);

#[cfg(unix)]
#[test]
fn symlink_leading_outside_the_root_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.txt", "TOP SECRET\n");
    let dir = workspace("kind: domain\nname: users\npatterns:\n  leak: src/link.txt\n");
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("src/link.txt"),
    )
    .unwrap();
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(2);
    assert!(run.stderr.contains("domains/a.yaml:4:9"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("symlink that leads outside the workspace root"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("TOP SECRET"));
}

#[cfg(unix)]
#[test]
fn symlink_loop_is_reported() {
    let dir = workspace("kind: domain\nname: users\npatterns:\n  loop: src/loop\n");
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("src/loop"), dir.path().join("src/loop")).unwrap();
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(2);
    assert!(run.stderr.contains("symlink loop"), "{}", run.stderr);
}

#[cfg(unix)]
#[test]
fn symlink_in_a_glob_match_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.py", "x = 1\n");
    let dir = workspace("kind: domain\nname: users\npatterns:\n  all: src/*.py\n");
    write(dir.path(), "src/ok.py", "y = 2\n");
    std::os::unix::fs::symlink(
        outside.path().join("secret.py"),
        dir.path().join("src/zz.py"),
    )
    .unwrap();
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("`src/zz.py` (matched by `src/*.py`)"),
        "{}",
        run.stderr
    );
}

#[cfg(unix)]
#[test]
fn fifo_is_never_opened() {
    let dir = workspace(
        "kind: domain\nname: users\npatterns:\n  pipe:\n    path: src/pipe\n    lines: 1-2\n",
    );
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    let status = Command::new("mkfifo")
        .arg(dir.path().join("src/pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let run = ctx(dir.path(), &["validate"]);
    assert!(started.elapsed() < HANG_GUARD);
    run.expect_code(2);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
}

/// Config files the walk lists as regular are opened straight away; one reached through
/// a symlink is looked at first: a FIFO behind a `.yaml` name is reported, and the run
/// does not hang on it.
#[test]
fn fifo_behind_a_config_symlink_is_never_opened() {
    let dir = workspace("kind: domain\nname: users\n");
    let status = Command::new("mkfifo")
        .arg(dir.path().join("pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    std::os::unix::fs::symlink(dir.path().join("pipe"), dir.path().join("domains/b.yaml")).unwrap();
    let started = Instant::now();
    let run = ctx(dir.path(), &["validate"]);
    assert!(started.elapsed() < HANG_GUARD);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("`domains/b.yaml` is not a regular file"),
        "{}",
        run.stderr
    );
}

#[test]
fn config_over_one_mib_is_rejected_before_parsing() {
    let mut text = String::from("kind: domain\nname: users\ndescription: >\n");
    while text.len() <= 1024 * 1024 {
        text.push_str("  lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod\n");
    }
    let dir = workspace(&text);
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("limited to 1048576 bytes"),
        "{}",
        run.stderr
    );
}

/// The memory a hostile config may cost (RELIABILITY.md: < 64 MiB).
const MEMORY_BOUND: u64 = 64 << 20;

/// Rejected, located, without hanging and within [`MEMORY_BOUND`] (enforced with
/// `ulimit -d`: exceeding it would abort ctx and fail the exit-code check).
fn rejected_quickly(yaml: &str, needle: &str) {
    let dir = workspace(yaml);
    let started = Instant::now();
    let run = crate::ctx_with_memory_limit(dir.path(), MEMORY_BOUND, &["validate"]);
    assert!(
        started.elapsed() < HANG_GUARD,
        "took {:?}",
        started.elapsed()
    );
    run.expect_code(2);
    assert!(run.stderr.contains("domains/a.yaml:"), "{}", run.stderr);
    assert!(
        run.stderr.to_lowercase().contains(needle),
        "{needle}: {}",
        run.stderr
    );
}

/// A scalar just under the 1 MiB file limit is read and checked within the memory
/// bound, like any other value.
#[test]
fn huge_scalar_stays_within_the_memory_bound() {
    let dir = workspace(&format!(
        "kind: domain\nname: users\ndescription: \"{}\"\n",
        "x".repeat(1_000_000)
    ));
    let run = crate::ctx_with_memory_limit(dir.path(), MEMORY_BOUND, &["validate"]);
    run.expect_code(0);
}

/// A billion-laughs bomb. Under an unknown `kind:` the document is skipped without
/// a target type, which is where only the alias budget stands between it and memory.
#[test]
fn alias_bomb_is_rejected() {
    for kind in ["domain", "domian"] {
        let mut yaml =
            format!("kind: {kind}\nname: users\nlol:\n  a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for level in 1..10 {
            let refs = vec![format!("*a{}", level - 1); 9].join(", ");
            yaml.push_str(&format!("  a{level}: &a{level} [{refs}]\n"));
        }
        rejected_quickly(&yaml, if kind == "domian" { "limit" } else { "error" });
    }
}

#[test]
fn deep_flow_nesting_is_rejected() {
    let depth = 100_000;
    for kind in ["domain", "domian"] {
        let yaml = format!(
            "kind: {kind}\nname: users\ndescription: {}{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        rejected_quickly(&yaml, "error");
    }
}

#[test]
fn deep_block_nesting_is_rejected() {
    let mut yaml = String::from("kind: domian\nname: users\nmatch:\n");
    for level in 0..500 {
        yaml.push_str(&format!("{}k{level}:\n", " ".repeat(level + 1)));
    }
    rejected_quickly(&yaml, "limit");
}

#[test]
fn self_referential_alias_is_rejected() {
    rejected_quickly("kind: domain\nname: users\nowners: &a [*a]\n", "error");
    rejected_quickly("kind: domian\nname: users\nowners: &a [*a]\n", "error");
}

#[test]
fn broken_pipe_exits_quietly() {
    crate::assert_quiet_on_broken_pipe(&["schema"]);
}

#[test]
fn missing_root_is_a_usage_error() {
    let run = ctx(Path::new("/nonexistent/ctx-root"), &["validate"]);
    run.expect_code(2);
    assert!(run.stderr.contains("-C/--root"), "{}", run.stderr);
}

#[test]
fn workspace_is_found_from_a_subfolder() {
    let dir = workspace("kind: domain\nname: users\n");
    std::fs::write(dir.path().join("ctx.toml"), "[workspace]\nname = \"t\"\n").unwrap();
    std::fs::create_dir_all(dir.path().join("deep/er")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ctx"))
        .args(["--color", "never", "validate"])
        .current_dir(dir.path().join("deep/er"))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Make the workspace readable (and folders enterable) by anyone, for tests that run ctx
/// as an unprivileged user.
fn open_to_all(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        if path.is_dir() {
            stack.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .map(|entry| entry.unwrap().path()),
            );
        }
    }
}

fn unreadable_workspace(pattern: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = workspace(&format!(
        "kind: domain\nname: users\npatterns:\n  code: {pattern}\n"
    ));
    write(
        dir.path(),
        "domains/f.yaml",
        "kind: feature\nname: f\ndomains: [users]\n",
    );
    write(dir.path(), "src/open.py", "OPEN = 1\n");
    write(dir.path(), "src/closed.py", "CLOSED = 1\n");
    open_to_all(dir.path());
    let closed = dir.path().join("src/closed.py");
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o000)).unwrap();
    dir
}

#[cfg(unix)]
#[test]
fn unreadable_file_is_a_located_error() {
    let dir = unreadable_workspace("src/closed.py");
    let run = crate::ctx_unprivileged(dir.path(), &["validate"]);
    run.expect_code(2);
    assert!(run.stderr.contains("domains/a.yaml:4:9"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("cannot read `src/closed.py`: Permission denied"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("chmod a+r"), "{}", run.stderr);
}

#[cfg(unix)]
#[test]
fn unreadable_file_matched_by_a_glob_is_listed_not_inlined() {
    let dir = unreadable_workspace("src/*.py");
    let run = crate::ctx_unprivileged(dir.path(), &["bundle", "f", "--format", "json"]);
    run.expect_code(0);
    let bundle: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let item = |path: &str| crate::item_where(&bundle, "path", path).clone();
    assert_eq!(item("src/open.py")["status"], "included");
    assert_eq!(item("src/closed.py")["status"], "omitted-unreadable");
    assert!(item("src/closed.py").get("content").is_none());
    assert!(
        bundle["notes"][0]
            .as_str()
            .unwrap()
            .contains("`src/closed.py` could not be read"),
        "{}",
        bundle["notes"]
    );
}
