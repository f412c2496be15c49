//! Issue #15, point 11: the README is verified. Every `$ ctx …` line of a `console`
//! block runs against the shipped example, and each line of output the README shows
//! must be in what ctx prints (`…` stands for lines left out; durations, run ids, the
//! finishing order of gates and the root path are the only things normalised). A block whose workspace is made up
//! for the example is marked `<!-- readme-test: illustrative -->` just above it.

use crate::{ctx, repo_root};

/// Collapse runs of spaces, and write durations and run ids as placeholders.
fn normal(line: &str, root: &str, out_dir: &str) -> String {
    let line = line.replace(out_dir, "").replace(root, "/path/to/ctx");
    let words: Vec<String> = line
        .split_whitespace()
        .map(|word| {
            let digits = word.trim_end_matches('s');
            if word.ends_with('s')
                && digits.contains('.')
                && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
            {
                String::from("<duration>")
            } else if let Some((_, total)) = word
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|rest| rest.split_once('/'))
                .filter(|(done, _)| done.chars().all(|c| c.is_ascii_digit()))
            {
                // Gates finish in any order: which one is `[1/10]` varies.
                format!("[<n>/{total}]")
            } else if word.len() > 20
                && word.starts_with("20")
                && word.contains('T')
                && word.contains('Z')
            {
                String::from("<run-id>")
            } else {
                word.to_owned()
            }
        })
        .collect();
    words.join(" ")
}

#[test]
fn readme_console_examples_match_the_binary() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let out_dir = format!("{}/", out.path().display());
    let root_text = root.display().to_string();
    let lines: Vec<&str> = readme.lines().collect();
    let mut checked = 0;
    let mut missing = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        if lines[index] != "```console" {
            index += 1;
            continue;
        }
        let illustrative = index > 0 && lines[index - 1].contains("readme-test: illustrative");
        let end = index
            + lines[index..]
                .iter()
                .position(|line| *line == "```")
                .unwrap();
        let block = &lines[index + 1..end];
        index = end + 1;
        if illustrative {
            continue;
        }
        let mut at = 0;
        while at < block.len() {
            let Some(command) = block[at].strip_prefix("$ ") else {
                at += 1;
                continue;
            };
            let shown: Vec<&str> = block[at + 1..]
                .iter()
                .take_while(|line| !line.starts_with("$ "))
                .copied()
                .collect();
            at += 1 + shown.len();
            let command = command.split("  #").next().unwrap().trim();
            let words = shlex(command);
            assert_eq!(words[0], "ctx", "{command}");
            let args: Vec<String> = words[1..]
                .iter()
                .map(|word| {
                    if word.ends_with(".md") && !word.contains('/') {
                        format!("{out_dir}{word}")
                    } else {
                        word.clone()
                    }
                })
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = ctx(&root, &args);
            assert_eq!(run.code, 0, "`{command}` failed:\n{}", run.stderr);
            let printed: Vec<String> = run
                .stdout
                .lines()
                .chain(run.stderr.lines())
                .map(|line| normal(line, &root_text, &out_dir))
                .collect();
            for line in shown {
                let line = line.trim_end();
                if line.trim().is_empty() || line.trim() == "…" {
                    continue;
                }
                let wanted = normal(line, &root_text, &out_dir);
                if !printed.contains(&wanted) {
                    missing.push(format!("`{command}` does not print:\n  {line}"));
                }
                checked += 1;
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README drifted:\n{}",
        missing.join("\n")
    );
    assert!(checked > 40, "only {checked} README lines checked");
}

/// Split a command line the way a POSIX shell would for these examples: spaces, and
/// double-quoted words.
fn shlex(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut started = false;
    for character in line.chars() {
        match character {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            other => {
                word.push(other);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}
