//! `ctx bundle` and `ctx explain`, end to end: the shipped example, determinism, JSON
//! shape, inputs, budget order, files (binary, large, lossy, fences, FIFOs), atomic
//! output, templates.

use std::path::Path;

use crate::{ctx, repo_root};

fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    crate::workspace_of(files)
}

fn json(root: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["bundle", "--format", "json"];
    all.extend_from_slice(args);
    let run = ctx(root, &all);
    run.expect_code(0);
    serde_json::from_str(&run.stdout).unwrap()
}

fn items<'a>(bundle: &'a serde_json::Value, section: &str) -> Vec<&'a serde_json::Value> {
    bundle["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["section"] == section)
        .collect()
}

#[test]
fn checkout_bundle_of_the_example() {
    let run = ctx(
        &repo_root(),
        &["bundle", "checkout", "--set", "ticket=SHOP-1"],
    );
    run.expect_code(0);
    let text = &run.stdout;
    for needle in [
        "# Context: checkout",
        "org `acme` → domain `user_management`",
        "`ticket` = SHOP-1",
        "of a 40000 budget (o200k)",
        "- **Digest**: `blake3:",
        "## Constraints",
        "## Plan",
        "1. **authentication**",
        "## Patterns",
        "```python",
        "## Quality gates",
        "Run them with `ctx gates checkout`.",
        "`domain:user_management/auth-tests`",
    ] {
        assert!(text.contains(needle), "lacks {needle:?}");
    }
    // Constraints come before patterns; the audience-restricted note never appears.
    assert!(text.find("## Constraints").unwrap() < text.find("## Patterns").unwrap());
    assert!(!text.contains("Reviewers: check"));
}

/// The arguments of the example's checkout bundle (ticket SHOP-1) in `format`.
fn checkout_as(format: &str) -> Vec<&str> {
    vec![
        "bundle",
        "checkout",
        "--set",
        "ticket=SHOP-1",
        "--format",
        format,
    ]
}

#[test]
fn the_same_inputs_give_byte_identical_output() {
    for format in ["markdown", "json"] {
        let args = checkout_as(format);
        let first = ctx(&repo_root(), &args);
        let second = ctx(&repo_root(), &args);
        first.expect_code(0);
        assert_eq!(first.stdout, second.stdout, "{format}");
    }
}

/// Standard output that is a regular file is written at offsets, on every core (from
/// where its offset stands, left after the document); opened to append (`>>`), or a
/// pipe, it is written as a stream. Every way gives the same bytes, in both formats, the
/// document counted (no cache: the counted document is the one written) or not.
#[test]
fn a_bundle_into_a_file_holds_the_bytes_a_pipe_gets() {
    use std::io::{Seek, Write};
    let root = repo_root();
    let dir = tempfile::tempdir().unwrap();
    for format in ["json", "markdown"] {
        for cache in [&["--no-cache"][..], &[]] {
            let mut args = checkout_as(format);
            args.extend_from_slice(cache);
            let piped = ctx(&root, &args);
            piped.expect_code(0);
            assert!(piped.stdout.len() > 1000, "{format}");
            for append in [false, true] {
                let path = dir.path().join(format!("{format}-{append}.out"));
                std::fs::write(&path, "before\n").unwrap();
                let mut file = std::fs::OpenOptions::new()
                    .write(!append)
                    .append(append)
                    .open(&path)
                    .unwrap();
                file.seek(std::io::SeekFrom::End(0)).unwrap();
                crate::ctx_into(&root, &args, file.try_clone().unwrap()).expect_code(0);
                // The offset is after the document: what is written next follows it.
                file.write_all(b"after\n").unwrap();
                assert_eq!(
                    std::fs::read_to_string(&path).unwrap(),
                    format!("before\n{}after\n", piped.stdout),
                    "{format} {cache:?} append {append}"
                );
            }
        }
    }
}

/// A bundle of hundreds of files, written into a file at offsets on every core, holds
/// every file's text in order, as a pipe gets it.
#[test]
fn a_bundle_of_many_files_holds_each_in_order() {
    let texts: Vec<String> = (0..700)
        .map(|index| format!("line \"{index}\"\n\tsecond \\ {index}\n").repeat(index % 7 + 1))
        .collect();
    let mut files: Vec<(String, String)> = texts
        .iter()
        .enumerate()
        .map(|(index, text)| (format!("src/f{index:04}.txt"), text.clone()))
        .collect();
    files.push((
        String::from("domains/d.yaml"),
        String::from("kind: domain\nname: d\npatterns:\n  all: src/*.txt\n"),
    ));
    files.push((
        String::from("domains/f.yaml"),
        String::from("kind: feature\nname: f\ndomains: [d]\n"),
    ));
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(path, text)| (path.as_str(), text.as_str()))
        .collect();
    let dir = workspace(&borrowed);
    let out = dir.path().join("bundle.json");
    let args = [
        "bundle",
        "f",
        "--format",
        "json",
        "--no-cache",
        "--budget",
        "0",
    ];
    crate::ctx_into(dir.path(), &args, std::fs::File::create(&out).unwrap()).expect_code(0);
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let contents: Vec<&str> = items(&bundle, "patterns")
        .iter()
        .map(|item| item["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, texts);
    let piped = ctx(dir.path(), &args);
    piped.expect_code(0);
    assert_eq!(piped.stdout, std::fs::read_to_string(&out).unwrap());
}

/// The built-in Markdown document is written directly (`bundle/markdown.rs`), a
/// workspace's template through minijinja: a workspace holding a copy of the built-in
/// template gets the same bytes, cold (the count's document written as it is), repeated
/// (the document written directly) and in every scope and view of the shipped example —
/// features with phases and inputs, an agent's view with items left out, domains,
/// a service, a tight budget.
#[test]
fn the_built_in_document_is_the_template_rendered() {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            match entry.file_type().unwrap().is_dir() {
                true => copy(&entry.path(), &target),
                false => {
                    std::fs::copy(entry.path(), &target).unwrap();
                }
            }
        }
    }
    let direct = tempfile::tempdir().unwrap();
    let templated = tempfile::tempdir().unwrap();
    for root in [direct.path(), templated.path()] {
        std::fs::copy(repo_root().join("ctx.toml"), root.join("ctx.toml")).unwrap();
        copy(&repo_root().join("domains"), &root.join("domains"));
    }
    copy(
        &repo_root().join("templates"),
        &templated.path().join("templates"),
    );
    let cases: [&[&str]; 8] = [
        &["checkout", "--set", "ticket=SHOP-1"],
        &["checkout", "--set", "ticket=SHOP-1", "--agent", "reviewer"],
        &["checkout", "--set", "ticket=SHOP-1", "--agent", "tester"],
        &["cart"],
        &["cart", "--budget", "1500"],
        &["--domain", "payment", "--domain", "shipping"],
        &["--service", "order-service"],
        &[
            "checkout",
            "--set",
            "ticket=SHOP-1",
            "--tokenizer",
            "cl100k",
        ],
    ];
    for case in cases {
        let run = |root: &Path| {
            let mut args = vec!["bundle"];
            args.extend_from_slice(case);
            let run = ctx(root, &args);
            run.expect_code(0);
            run.stdout.clone()
        };
        let cold = run(direct.path());
        assert_eq!(cold, run(templated.path()), "{case:?}");
        assert_eq!(cold, run(direct.path()), "{case:?}, repeated");
        assert!(cold.contains("## Quality gates"), "{case:?}");
    }
}

#[test]
fn json_has_the_documented_shape() {
    let bundle = json(&repo_root(), &["checkout", "--set", "ticket=SHOP-1"]);
    assert_eq!(bundle["schema"], "ctx.bundle/v1");
    assert_eq!(bundle["feature"], "checkout");
    assert_eq!(bundle["agent"], serde_json::Value::Null);
    assert_eq!(bundle["inputs"]["ticket"], "SHOP-1");
    assert_eq!(
        bundle["layers"][0],
        serde_json::json!({"kind": "org", "name": "acme", "description": bundle["layers"][0]["description"], "origin": {"file": "domains/org.yaml", "line": 3}, "tokens": bundle["layers"][0]["tokens"]})
    );
    let statuses = [
        "included",
        "omitted-budget",
        "omitted-binary",
        "omitted-size",
        "omitted-unreadable",
        "expired",
        "disabled",
        "overridden",
        "filtered-agent",
        "filtered-feature",
        "skipped",
        "omitted-error",
    ];
    for item in bundle["items"].as_array().unwrap() {
        for field in [
            "id",
            "section",
            "key",
            "layer",
            "origin",
            "tokens",
            "status",
            "overrides",
        ] {
            assert!(!item[field].is_null(), "{field} missing in {item}");
        }
        assert!(
            statuses.contains(&item["status"].as_str().unwrap()),
            "{item}"
        );
    }
    let auth = bundle["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == "domain:user_management/patterns/authentication")
        .unwrap();
    assert_eq!(auth["path"], "domains/src/users/jwt_auth.py");
    assert_eq!(auth["origin"]["file"], "domains/user_management.yaml");
    assert!(
        auth["content"]
            .as_str()
            .unwrap()
            .contains("def verify_token")
    );
    let disabled = bundle["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["key"] == "carrier-sla")
        .unwrap();
    assert_eq!(disabled["status"], "disabled");
    let gate = bundle["quality_gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|gate| gate["id"] == "domain:user_management/auth-tests")
        .unwrap();
    assert_eq!(
        gate["timeout"], "1m",
        "the feature's qualified override applies"
    );
    assert!(bundle["digest"].as_str().unwrap().starts_with("blake3:"));
    let total = bundle["tokens"]["total"].as_u64().unwrap();
    assert!(total > 1000 && total <= 40_000, "{total}");
    assert_eq!(
        bundle["phases"][0]["validation"][0]["gate"]["id"],
        "domain:user_management/auth-tests"
    );
}

#[test]
fn markdown_and_json_share_the_digest() {
    let bundle = json(&repo_root(), &["checkout", "--set", "ticket=SHOP-1"]);
    let markdown = ctx(
        &repo_root(),
        &["bundle", "checkout", "--set", "ticket=SHOP-1"],
    );
    assert!(markdown.stdout.contains(bundle["digest"].as_str().unwrap()));
    let other = json(&repo_root(), &["checkout", "--set", "ticket=SHOP-2"]);
    assert_ne!(
        bundle["digest"], other["digest"],
        "inputs are part of the digest"
    );
}

#[test]
fn inputs_are_required_and_checked() {
    let run = ctx(&repo_root(), &["bundle", "checkout"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("needs `ticket` (Tracker id of the change"),
        "{}",
        run.stderr
    );
    let run = ctx(&repo_root(), &["bundle", "checkout", "--set", "tiket=1"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("did you mean `ticket`?"),
        "{}",
        run.stderr
    );
    let run = ctx(&repo_root(), &["bundle", "chekout"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("did you mean `checkout`?"),
        "{}",
        run.stderr
    );
}

/// Three layers of patterns and one example, with sizes that make the order visible.
fn budget_workspace() -> tempfile::TempDir {
    let big = "word ".repeat(400);
    let medium = "word ".repeat(200);
    let small = "word ".repeat(50);
    workspace(&[
        ("src/org_big.txt", &big),
        ("src/org_small.txt", &small),
        ("src/dom_big.txt", &big),
        ("src/dom_medium.txt", &medium),
        ("src/feature.txt", &small),
        ("examples/e.txt", &medium),
        (
            "domains/org.yaml",
            "kind: org\nname: acme\nconstraints:\n  rule: always be kind\npatterns:\n  org_small: src/org_small.txt\n  org_big: src/org_big.txt\n",
        ),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\npatterns:\n  dom_medium: src/dom_medium.txt\n  dom_big: src/dom_big.txt\nexamples: examples/\n",
        ),
        (
            "domains/f.yaml",
            "kind: feature\nname: f\ndomains: [d]\npatterns:\n  feature: src/feature.txt\n",
        ),
    ])
}

fn statuses(bundle: &serde_json::Value) -> Vec<(String, String)> {
    bundle["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["section"] != "constraints")
        .map(|item| {
            (
                item["key"].as_str().unwrap().to_owned(),
                item["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn budget_sheds_examples_then_least_specific_patterns_largest_first() {
    let dir = budget_workspace();
    let unlimited = json(dir.path(), &["f", "--budget", "0"]);
    let total = unlimited["tokens"]["total"].as_u64().unwrap();
    let tokens = |key: &str| -> u64 {
        crate::item_where(&unlimited, "key", key)["tokens"]
            .as_u64()
            .unwrap()
    };
    // The total counts the document, whose digest covers the budget: a budget a few
    // tokens under the total (less than any content) is "just under".
    let shed_at = |budget: u64| -> Vec<String> {
        let bundle = json(dir.path(), &["f", "--budget", &budget.to_string()]);
        assert!(bundle["tokens"]["total"].as_u64().unwrap() <= budget);
        statuses(&bundle)
            .into_iter()
            .filter(|(_, status)| status == "omitted-budget")
            .map(|(key, _)| key)
            .collect()
    };
    // Just under the total: only the example goes.
    assert_eq!(shed_at(total - 20), ["examples/e.txt"]);
    // Without the example it still does not fit: the org's largest pattern goes next,
    // and then the example fits again and is filled back.
    let budget = total - tokens("examples/e.txt") - 20;
    assert_eq!(shed_at(budget), ["org_big"]);
    // With less room, both stay out; next the org's small pattern, then the domain's
    // largest (least specific layer first, largest first within it).
    let budget = total - tokens("examples/e.txt") - tokens("org_big") - 20;
    assert_eq!(shed_at(budget), ["org_small", "org_big", "examples/e.txt"]);
    let bundle = json(dir.path(), &["f", "--budget", &budget.to_string()]);
    // A shed item stays listed with its tokens and without content.
    let org_big = bundle["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["key"] == "org_big")
        .unwrap();
    assert!(org_big["content"].is_null() && org_big["tokens"].as_u64().unwrap() > 0);
    assert!(bundle["tokens"]["total"].as_u64().unwrap() <= budget);
}

#[test]
fn constraints_over_the_budget_is_exit_2_with_the_numbers() {
    let dir = budget_workspace();
    let run = ctx(dir.path(), &["bundle", "f", "--budget", "2"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("over the budget of 2"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--budget"), "{}", run.stderr);
}

#[test]
fn tokenizers_count_differently_and_exactly() {
    let o200k = json(
        &repo_root(),
        &["checkout", "--set", "ticket=1", "--budget", "0"],
    );
    let cl100k = json(
        &repo_root(),
        &[
            "checkout",
            "--set",
            "ticket=1",
            "--budget",
            "0",
            "--tokenizer",
            "cl100k",
        ],
    );
    assert_eq!(cl100k["tokens"]["tokenizer"], "cl100k");
    assert_ne!(o200k["tokens"]["total"], cl100k["tokens"]["total"]);
}

#[test]
fn binary_large_lossy_and_fenced_files() {
    let dir = workspace(&[
        ("ctx.toml", "[bundle]\nmax_file_bytes = 200\n"),
        ("src/fenced.md", "before\n````\ninner fence\n````\nafter\n"),
        ("src/big.txt", &"x".repeat(500)),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\npatterns:\n  fenced: src/fenced.md\n  big: src/big.txt\n  bin: src/data.bin\n  latin: src/latin1.txt\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
    ]);
    std::fs::write(dir.path().join("src/data.bin"), b"\x89PNG\0\0\0binary").unwrap();
    std::fs::write(dir.path().join("src/latin1.txt"), b"caf\xe9\n").unwrap();
    let bundle = json(dir.path(), &["f"]);
    let status = |key: &str| -> String {
        items(&bundle, "patterns")
            .into_iter()
            .find(|item| item["key"] == key)
            .unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(status("big"), "omitted-size");
    assert_eq!(status("bin"), "omitted-binary");
    assert_eq!(status("latin"), "included");
    assert!(
        bundle["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|note| note.as_str().unwrap().contains("not valid UTF-8"))
    );
    let markdown = ctx(dir.path(), &["bundle", "f"]);
    markdown.expect_code(0);
    assert!(
        markdown
            .stdout
            .contains("`````markdown\nbefore\n````\ninner fence"),
        "{}",
        markdown.stdout
    );
    assert!(markdown.stdout.contains("_not inlined (omitted-binary)"));
}

#[cfg(unix)]
#[test]
fn fifo_in_an_examples_folder_is_never_opened() {
    let dir = workspace(&[
        ("examples/ok.txt", "fine\n"),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\nexamples: examples/\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
    ]);
    let status = std::process::Command::new("mkfifo")
        .arg(dir.path().join("examples/pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    let bundle = json(dir.path(), &["f"]);
    let keys: Vec<&str> = items(&bundle, "examples")
        .iter()
        .map(|item| item["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["examples/ok.txt"]);
}

#[test]
fn output_file_is_written_atomically_and_never_includes_itself() {
    let dir = workspace(&[
        ("examples/a.txt", "example a\n"),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\nexamples: examples/\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
    ]);
    let target = dir.path().join("examples/bundle.md");
    for _ in 0..2 {
        let run = ctx(dir.path(), &["bundle", "f", "-o", target.to_str().unwrap()]);
        run.expect_code(0);
        assert!(run.stdout.is_empty());
        assert!(run.stderr.contains("wrote"), "{}", run.stderr);
    }
    let written = std::fs::read_to_string(&target).unwrap();
    assert!(written.contains("examples/a.txt"));
    assert!(
        !written.contains("examples/bundle.md"),
        "the bundle includes itself:\n{written}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("examples"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("ctx-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn disk_full_while_writing_a_bundle_is_exit_4_and_keeps_the_previous_file() {
    let big = "x = 1  # filler\n".repeat(4_000);
    let dir = workspace(&[
        ("src/big.py", &big),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\npatterns:\n  big: src/big.py\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
        ("out/bundle.md", "previous bundle\n"),
    ]);
    let target = dir.path().join("out/bundle.md");
    let run = crate::ctx_with_file_size_limit(
        dir.path(),
        16 * 1024,
        &["bundle", "f", "-o", target.to_str().unwrap()],
    );
    run.expect_code(4);
    assert!(run.stderr.contains("File too large"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "previous bundle\n"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(left, ["bundle.md"], "no temp file is left behind");
}

#[test]
fn unwritable_output_is_exit_4_and_keeps_the_previous_target() {
    let dir = workspace(&[
        ("domains/d.yaml", "kind: domain\nname: d\n"),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
    ]);
    let missing_folder = dir.path().join("no/such/folder/out.md");
    let run = ctx(
        dir.path(),
        &["bundle", "f", "-o", missing_folder.to_str().unwrap()],
    );
    run.expect_code(4);
    // A folder in the way: the rename fails and the folder stays as it was.
    let blocker = dir.path().join("out.md");
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("keep"), "x").unwrap();
    let run = ctx(
        dir.path(),
        &["bundle", "f", "-o", blocker.to_str().unwrap()],
    );
    run.expect_code(4);
    assert!(blocker.join("keep").exists());
    assert!(std::fs::read_dir(dir.path()).unwrap().all(|entry| {
        !entry
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("ctx-tmp")
    }));
}

fn template_workspace(template: &str) -> tempfile::TempDir {
    workspace(&[
        ("templates/bundle.md", template),
        (
            "templates/part.md",
            "included part for {{ bundle.feature }}",
        ),
        ("domains/d.yaml", "kind: domain\nname: d\n"),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
    ])
}

#[test]
fn workspace_template_overrides_the_built_in_one() {
    let dir = template_workspace("custom {{ bundle.feature }} {% include \"part.md\" %}\n");
    let run = ctx(dir.path(), &["bundle", "f"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "custom f included part for f\n");
}

#[test]
fn template_typo_is_named_with_its_line() {
    let dir = template_workspace("line one\n{{ bundle.featuer }}\n");
    let run = ctx(dir.path(), &["bundle", "f"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("template `bundle.md` line 2"),
        "{}",
        run.stderr
    );
}

#[test]
fn runaway_template_runs_out_of_fuel() {
    let dir = template_workspace(
        "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
    );
    let run = ctx(dir.path(), &["bundle", "f"]);
    run.expect_code(2);
    assert!(run.stderr.contains("ran out of fuel"), "{}", run.stderr);
}

#[test]
fn template_includes_cannot_leave_the_templates_folder() {
    let dir = template_workspace("{% include \"../domains/d.yaml\" %}");
    let run = ctx(dir.path(), &["bundle", "f"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("leaves the templates folder"),
        "{}",
        run.stderr
    );
}

#[test]
fn explain_says_where_things_came_from_and_why_they_are_missing() {
    let run = ctx(
        &repo_root(),
        &[
            "explain",
            "checkout",
            "--set",
            "ticket=SHOP-1",
            "--budget",
            "3500",
        ],
    );
    run.expect_code(0);
    for needle in [
        "bundle `checkout`: 11 layers",
        "strategy `reserve-then-charge` (domains/strategies.yaml:2)",
        "applies: the bundle's domains include all of `payment`, `inventory`",
        "org `acme` (domains/org.yaml:3)",
        "omitted-budget     patterns/domain_events",
        "(content shed to fit the token budget)",
        "disabled           constraints/carrier-sla",
        "disabled (`enabled: false`) by domains/features/checkout.yaml:33",
        "(changed by domains/features/checkout.yaml:38)",
        "shared by `user-service`",
    ] {
        assert!(
            run.stdout.contains(needle),
            "lacks {needle:?}\n{}",
            run.stdout
        );
    }
    let json_run = ctx(
        &repo_root(),
        &[
            "explain",
            "checkout",
            "--set",
            "ticket=SHOP-1",
            "--format",
            "json",
        ],
    );
    json_run.expect_code(0);
    let explanation: serde_json::Value = serde_json::from_str(&json_run.stdout).unwrap();
    assert_eq!(explanation["schema"], "ctx.explain/v1");
    assert_eq!(explanation["layers"][0]["kind"], "org");
    assert!(explanation["layers"][0]["items"][0]["reason"].is_string());
}

#[test]
fn stale_temp_files_from_killed_runs_are_cleaned_up() {
    let dir = workspace(&[
        ("domains/d.yaml", "kind: domain\nname: d\n"),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
    ]);
    // What a writer killed mid-write leaves behind (pid 4194304 is above Linux's pid_max).
    let stale = dir.path().join(".out.md.ctx-tmp-4194304");
    std::fs::write(&stale, "half a bundle").unwrap();
    let target = dir.path().join("out.md");
    ctx(dir.path(), &["bundle", "f", "-o", target.to_str().unwrap()]).expect_code(0);
    assert!(!stale.exists());
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .starts_with("# Context: f")
    );
}

#[test]
fn odd_file_names_are_rendered_escaped() {
    let dir = workspace(&[
        ("src/odd name $HOME.py", "a = 1\n"),
        ("src/new\nline.py", "b = 2\n"),
        ("src/tick`s.py", "c = 3\n"),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\npatterns:\n  all: src/*.py\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
    ]);
    let run = ctx(dir.path(), &["bundle", "f"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("`src/odd name $HOME.py`"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("`src/new\\nline.py`"), "{}", run.stdout);
    assert!(run.stdout.contains("``src/tick`s.py``"), "{}", run.stdout);
    let bundle = json(dir.path(), &["f"]);
    let paths: Vec<&str> = items(&bundle, "patterns")
        .iter()
        .map(|item| item["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"src/new\nline.py"),
        "JSON keeps the exact name: {paths:?}"
    );
}

#[test]
fn broken_pipe_on_a_bundle_exits_quietly() {
    crate::assert_quiet_on_broken_pipe(&["bundle", "checkout", "--set", "ticket=1"]);
}

/// Issue #15, point 9: feature inputs are usable. Gates get each as `CTX_INPUT_<KEY>`;
/// `{{ inputs.KEY }}` in constraint texts, `why` and phase descriptions is replaced in
/// the bundle; an unknown key is a located error at validate.
#[test]
fn feature_inputs_are_usable() {
    let feature = "kind: feature\nname: f\ndomains: [d]\ninputs:\n  ticket: Tracker id\n  base-url: Where it runs\n\
                   constraints:\n  scope: Only what {{ inputs.ticket }} asks for\n\
                   patterns:\n  example:\n    path: a.txt\n    why: Shown for {{inputs.ticket}}\n\
                   quality_gates:\n  echo-input: 'printf \"%s %s\" \"$CTX_INPUT_TICKET\" \"$CTX_INPUT_BASE_URL\" > gate-saw.txt'\n\
                   phases:\n  - name: one\n    description: Start {{ inputs.ticket }} at {{ inputs.base-url }}\n";
    let dir = workspace(&[
        ("domains/d.yaml", "kind: domain\nname: d\n"),
        ("domains/f.yaml", feature),
        ("a.txt", "hello\n"),
    ]);
    let root = dir.path();
    ctx(root, &["validate"]).expect_code(0);
    let bundle = json(
        root,
        &["f", "--set", "ticket=SHOP-7", "--set", "base-url=http://x"],
    );
    let constraint = crate::item_where(&bundle, "key", "scope");
    assert_eq!(constraint["text"], "Only what SHOP-7 asks for");
    assert_eq!(
        crate::item_where(&bundle, "key", "example")["why"],
        "Shown for SHOP-7"
    );
    assert_eq!(
        bundle["phases"][0]["description"],
        "Start SHOP-7 at http://x"
    );
    let run = ctx(
        root,
        &[
            "gates",
            "f",
            "--set",
            "ticket=SHOP-7",
            "--set",
            "base-url=http://x",
        ],
    );
    run.expect_code(0);
    assert_eq!(
        std::fs::read_to_string(root.join("gate-saw.txt")).unwrap(),
        "SHOP-7 http://x"
    );
    // An unknown key is a located error, with the declared inputs.
    std::fs::write(
        root.join("domains/f.yaml"),
        feature.replace("{{inputs.ticket}}", "{{ inputs.tickt }}"),
    )
    .unwrap();
    let run = ctx(root, &["validate"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("domains/f.yaml:10:")
            && run.stderr.contains(
                "pattern `example`'s `why` uses `{{ inputs.tickt }}`, but feature `f` declares no input `tickt`"
            )
            && run.stderr.contains("did you mean `ticket`?"),
        "{}",
        run.stderr
    );
}

/// Issue #15, point 5: provenance that does not mislead. A constraint whose text a
/// feature changed in place is shown with the text's origin and what it overrides.
#[test]
fn provenance_that_does_not_mislead() {
    let dir = workspace(&[
        ("ctx.toml", ""),
        (
            "domains/all.yaml",
            "kind: domain\nname: d\nconstraints:\n  rule: Domain text\n  other: Untouched\n---\n\
             kind: feature\nname: f\ndomains: [d]\nconstraints:\n  d/rule: Feature text\n  d/other: { topics: [testing] }\n",
        ),
    ]);
    let root = dir.path();
    let run = ctx(root, &["bundle", "f"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains(
            "- **rule**: Feature text <sub>`domains/all.yaml:11`, overrides `domains/all.yaml:4`</sub>"
        ),
        "{}",
        run.stdout
    );
    // A change that leaves the text alone keeps the text's own origin.
    assert!(
        run.stdout
            .contains("- **other**: Untouched <sub>`domains/all.yaml:5`</sub>"),
        "{}",
        run.stdout
    );
    let bundle = json(root, &["f"]);
    let rule = crate::item_where(&bundle, "key", "rule");
    assert_eq!(rule["text_from"]["line"], 11, "{rule}");
    assert_eq!(rule["origin"]["line"], 4, "{rule}");
}

/// The document as a model reads it, without the count line (the one line the total
/// cannot count, as it holds the total), counted by an independent implementation.
fn counted_without_count_line(document: &str) -> (u64, u64) {
    let count_line = document
        .lines()
        .find(|line| {
            line.starts_with("- **Tokens**: ") || line.trim_start().starts_with("\"total\": ")
        })
        .expect("a count line");
    let reported: u64 = count_line
        .split(|c: char| !c.is_ascii_digit())
        .find(|digits| !digits.is_empty())
        .unwrap()
        .parse()
        .unwrap();
    let without = document.replacen(&format!("{count_line}\n"), "", 1);
    let o200k = tiktoken_rs::o200k_base().unwrap();
    (reported, o200k.encode_ordinary(&without).len() as u64)
}

/// Issue #15, point 1: the budget bounds the whole rendered document, Markdown or JSON,
/// and the reported total is that document's exact count (without its count line).
#[test]
fn budget_bounds_what_the_user_pastes() {
    for (format, budgets) in [
        ("markdown", [0, 3500, 5000, 40_000]),
        ("json", [0, 11_000, 13_000, 40_000]),
    ] {
        for budget in budgets {
            let budget_text = budget.to_string();
            let mut args = checkout_as(format);
            args.extend(["--budget", &budget_text]);
            let run = ctx(&repo_root(), &args);
            run.expect_code(0);
            let (reported, counted) = counted_without_count_line(&run.stdout);
            assert_eq!(reported, counted, "{format} at a budget of {budget}");
            if budget > 0 {
                assert!(counted <= budget, "{format}: {counted} over {budget}");
            }
        }
    }
    // Agent views and ad-hoc scopes render other parts of the template.
    for args in [
        &[
            "bundle", "checkout", "--set", "ticket=1", "--agent", "tester", "--budget", "3000",
        ][..],
        &["bundle", "--domain", "payment", "--budget", "2500"],
    ] {
        let run = ctx(&repo_root(), args);
        run.expect_code(0);
        let (reported, counted) = counted_without_count_line(&run.stdout);
        assert_eq!(reported, counted, "{args:?}");
    }
    // A workspace template that prints contents its own way (no fences, texts run into
    // each other), and files without a known language: still the exact count.
    let dir = workspace(&[
        (
            "templates/bundle.md",
            "# {{ bundle.feature }}\n- **Tokens**: {{ bundle.tokens.total }}\n{% for item in items %}{% if item.content is defined %}[{{ item.key }}]{{ item.content }}{% endif %}{% endfor %}\n",
        ),
        (
            "src/indented.py",
            "    def f():\n        return 1\n    // not a cut\n",
        ),
        (
            "src/notes",
            "/slash first\n  then indented\nThen a line\nend",
        ),
        (
            "src/big.rs",
            &"fn main() {\n    println!(\"hi\");\n}\n".repeat(300),
        ),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\npatterns:\n  indented: src/indented.py\n  notes: src/notes\n  big: src/big.rs\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
    ]);
    for budget in ["0", "400", "0"] {
        let run = ctx(dir.path(), &["bundle", "f", "--budget", budget]);
        run.expect_code(0);
        let (reported, counted) = counted_without_count_line(&run.stdout);
        assert_eq!(
            reported, counted,
            "custom template at {budget}: {}",
            run.stdout
        );
    }
    // A repeated bundle takes its total from the token cache; a changed template (or an
    // include it pulls in) is a new document, counted again.
    std::fs::write(
        dir.path().join("templates/extra.md"),
        "Words the first total did not count.\n",
    )
    .unwrap();
    let template = std::fs::read_to_string(dir.path().join("templates/bundle.md")).unwrap();
    std::fs::write(
        dir.path().join("templates/bundle.md"),
        format!("{template}{{% include \"extra.md\" %}}"),
    )
    .unwrap();
    let run = ctx(dir.path(), &["bundle", "f", "--budget", "0"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("Words the first total"),
        "{}",
        run.stdout
    );
    let (reported, counted) = counted_without_count_line(&run.stdout);
    assert_eq!(reported, counted, "after the template changed");
    std::fs::write(dir.path().join("templates/extra.md"), "Fewer words.\n").unwrap();
    let run = ctx(dir.path(), &["bundle", "f", "--budget", "0"]);
    let (reported, counted) = counted_without_count_line(&run.stdout);
    assert_eq!(reported, counted, "after the include changed");
}

/// The total stands in as 7070707070707 while the document is measured, and the lines
/// holding it are left out of the count; a rule (or file) holding that very number is
/// still counted, in the built-in documents and in a workspace template alike.
#[test]
fn text_that_holds_the_totals_stand_in_is_still_counted() {
    let files = [
        (
            "domains/d.yaml",
            "kind: domain\nname: d\nconstraints:\n  rule: Never page past row 7070707070707 of a table\npatterns:\n  notes: src/notes.txt\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
        (
            "src/notes.txt",
            "limit = 7070707070707\nand more words after it\n",
        ),
    ];
    let dir = workspace(&files);
    for format in ["markdown", "json"] {
        let run = ctx(dir.path(), &["bundle", "f", "--format", format]);
        run.expect_code(0);
        assert!(run.stdout.contains("row 7070707070707"), "{}", run.stdout);
        let (reported, counted) = counted_without_count_line(&run.stdout);
        assert_eq!(reported, counted, "{format}: {}", run.stdout);
    }
    let mut files = files.to_vec();
    files.push((
        "templates/bundle.md",
        "# {{ bundle.feature }}\n- **Tokens**: {{ bundle.tokens.total }}\n{% for item in items %}{{ item.text | default(\"\") }}{% if item.content is defined %}{{ item.content }}{% endif %}\n{% endfor %}",
    ));
    let dir = workspace(&files);
    let run = ctx(dir.path(), &["bundle", "f"]);
    run.expect_code(0);
    assert!(run.stdout.contains("row 7070707070707"), "{}", run.stdout);
    let (reported, counted) = counted_without_count_line(&run.stdout);
    assert_eq!(reported, counted, "workspace template: {}", run.stdout);
}

/// Issue #15, point 1: content shed on the way that fits in what is left is filled
/// back (the example first shed, then the big pattern, which alone made room).
#[test]
fn shed_content_that_fits_is_filled_back() {
    let dir = workspace(&[
        ("src/big.txt", &"word ".repeat(4000)),
        ("examples/e.txt", &"word ".repeat(600)),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\npatterns:\n  big: src/big.txt\nexamples: examples/\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
    ]);
    let unlimited = json(dir.path(), &["f", "--budget", "0"]);
    let total = unlimited["tokens"]["total"].as_u64().unwrap();
    let example = crate::item_where(&unlimited, "key", "examples/e.txt")["tokens"]
        .as_u64()
        .unwrap();
    // Shedding the example alone is not enough; the big pattern goes, and leaves room.
    let budget = total - example - 50;
    let bundle = json(dir.path(), &["f", "--budget", &budget.to_string()]);
    let status = |key: &str| crate::item_where(&bundle, "key", key)["status"].clone();
    assert_eq!(status("big"), "omitted-budget");
    assert_eq!(status("examples/e.txt"), "included", "filled back");
    assert!(bundle["tokens"]["total"].as_u64().unwrap() <= budget);
}

/// Issue #15, point 2: two keys or two layers naming the same file and range inline it
/// once; the others point at it and count 0 (another range is other content).
#[test]
fn same_content_is_inlined_once() {
    let dir = workspace(&[
        ("src/x.py", "def a():\n    pass\nMARKER = 'only once'\n"),
        (
            "domains/org.yaml",
            "kind: org\nname: acme\npatterns:\n  shared: src/x.py\n",
        ),
        (
            "domains/d.yaml",
            "kind: domain\nname: d\npatterns:\n  mine: src/x.py\n  first_lines: { path: src/x.py, lines: 1-2 }\nexamples: src/\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [d]\n"),
    ]);
    let bundle = json(dir.path(), &["f"]);
    let item = |id: &str| crate::item_where(&bundle, "id", id).clone();
    let holder = item("domain:d/patterns/mine");
    assert!(holder["content"].as_str().unwrap().contains("MARKER"));
    assert!(holder["tokens"].as_u64().unwrap() > 0);
    for id in ["org:acme/patterns/shared", "domain:d/examples/src/x.py"] {
        let other = item(id);
        assert_eq!(other["same_as"], "domain:d/patterns/mine", "{id}");
        assert_eq!(other["tokens"], 0, "{id}");
        assert!(other["content"].is_null(), "{id}");
        assert_eq!(other["status"], "included", "{id}");
    }
    let excerpt = item("domain:d/patterns/first_lines");
    assert!(excerpt["same_as"].is_null());
    assert!(excerpt["content"].as_str().unwrap().contains("def a"));
    let run = ctx(dir.path(), &["bundle", "f"]);
    run.expect_code(0);
    assert_eq!(run.stdout.matches("MARKER").count(), 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("_same content as `domain:d/patterns/mine`_"),
        "{}",
        run.stdout
    );
    let explained = ctx(dir.path(), &["explain", "f"]);
    assert!(
        explained
            .stdout
            .contains("same content as `domain:d/patterns/mine`, inlined there"),
        "{}",
        explained.stdout
    );
}

/// Issue #15, point 10: a feature can take only the domain patterns its phases name
/// (`domain_patterns: named`, the shipped `cart`); its own, the org's and its services'
/// patterns stay; the others are listed as left out, never silently dropped.
#[test]
fn a_feature_can_take_less_than_all_of_its_domains() {
    let args = ["cart", "--today", "2026-12-04"];
    let bundle = json(&repo_root(), &args);
    let status = |id: &str| crate::item_where(&bundle, "id", id)["status"].clone();
    assert_eq!(
        status("domain:inventory/patterns/inventory_sync"),
        "filtered-feature"
    );
    for id in [
        "domain:inventory/patterns/inventory_reservation",
        "domain:product_catalog/patterns/pricing",
        "domain:product_catalog/patterns/product_search",
        "org:acme/patterns/domain_events",
    ] {
        assert_eq!(status(id), "included", "{id}");
    }
    let mut all = vec!["bundle"];
    all.extend_from_slice(&args);
    let run = ctx(&repo_root(), &all);
    run.expect_code(0);
    assert!(
        !run.stdout.contains("domains/src/inventory/sync.py`\n"),
        "{}",
        run.stdout
    );
    insta::assert_snapshot!("cart_bundle_takes_named_domain_patterns", run.stdout);
    let explained = ctx(&repo_root(), &["explain", "cart", "--today", "2026-12-04"]);
    assert!(
        explained
            .stdout
            .contains("filtered-feature   patterns/inventory_sync"),
        "{}",
        explained.stdout
    );
    // A value other than `all` or `named` is a located error; `named` with phases that
    // name no pattern is a warning (the bundle would take no domain pattern).
    let feature = |extra: &str| {
        crate::workspace_of(&[
            ("ctx.toml", ""),
            ("src/a.py", "a = 1\n"),
            (
                "domains/d.yaml",
                "kind: domain\nname: d\npatterns:\n  a: src/a.py\n",
            ),
            (
                "domains/f.yaml",
                &format!(
                    "kind: feature\nname: f\ndomains: [d]\n{extra}phases:\n  - name: p\n    domains: [d]\n"
                ),
            ),
        ])
    };
    let dir = feature("domain_patterns: namd\n");
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(2);
    assert!(run.stderr.contains("domains/f.yaml:4:18"), "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean `named`?"),
        "{}",
        run.stderr
    );
    let dir = feature("domain_patterns: named\n");
    let run = ctx(dir.path(), &["validate"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("no phase names a pattern"),
        "{}",
        run.stderr
    );
}
