//! What changed since a base: the files (`ctx gates --changed`, `ctx bundle --changed`)
//! and their diffs (the *changes* of a bundle for a change in progress, or of a hand-off).
//! Every answer comes from the `git` CLI, run through `process.rs`.

use crate::process;

/// The files changed since the merge base of a base and HEAD.
#[derive(Debug, Clone)]
pub struct Changes {
    /// The base as named (or found: see [`default_base`]).
    pub base: String,
    /// The merge base of `base` and HEAD, as a commit id.
    pub merge_base: String,
    /// Changed files, root-relative, sorted: committed since the merge base, staged,
    /// unstaged and untracked.
    pub files: Vec<String>,
}

/// Why `--changed` could not work out the changed files.
#[derive(Debug, thiserror::Error)]
pub enum ChangedError {
    #[error("cannot run `git`: {0}")]
    Git(std::io::Error),
    #[error("cannot resolve the base `{base}`: {detail}")]
    Base { base: String, detail: String },
    #[error(
        "no base to compare with: no upstream branch, no `origin/HEAD`, and neither `main` nor `master` exists"
    )]
    NoDefaultBase,
}

/// Files changed since the merge base of `base` (default: see [`default_base`]) and
/// HEAD, including uncommitted changes; root-relative.
pub fn changed_files(
    root: &std::path::Path,
    base: Option<&str>,
) -> Result<Vec<String>, ChangedError> {
    since(root, base).map(|changes| changes.files)
}

/// [`Changes`] since the merge base of `base` (default: see [`default_base`]) and HEAD.
pub fn since(root: &std::path::Path, base: Option<&str>) -> Result<Changes, ChangedError> {
    let run = |args: &[&str]| -> Result<std::process::Output, ChangedError> {
        process::git(root, args).map_err(ChangedError::Git)
    };
    let base = match base {
        // Never passed to git as an option.
        Some(base) if base.starts_with('-') => {
            return Err(ChangedError::Base {
                base: base.to_owned(),
                detail: String::from("a base starting with `-` would be read as an option"),
            });
        }
        Some(base) => base.to_owned(),
        None => default_base(&run)?,
    };
    let merge_base = run(&["merge-base", &base, "HEAD"])?;
    if !merge_base.status.success() {
        let detail = String::from_utf8_lossy(&merge_base.stderr)
            .trim()
            .to_owned();
        return Err(ChangedError::Base {
            base,
            detail: if detail.is_empty() {
                String::from("no common ancestor with HEAD")
            } else {
                detail
            },
        });
    }
    let merge_base = String::from_utf8_lossy(&merge_base.stdout)
        .trim()
        .to_owned();
    let diff = run(&["diff", "--relative", "--name-only", "-z", &merge_base])?;
    if !diff.status.success() {
        return Err(ChangedError::Base {
            base,
            detail: String::from_utf8_lossy(&diff.stderr).trim().to_owned(),
        });
    }
    let mut files: Vec<String> = diff
        .stdout
        .split(|&byte| byte == 0)
        .filter(|name| !name.is_empty())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect();
    // Untracked files are changes too.
    let untracked = run(&["ls-files", "--others", "--exclude-standard", "-z"])?;
    files.extend(
        untracked
            .stdout
            .split(|&byte| byte == 0)
            .filter(|name| !name.is_empty())
            .map(|name| String::from_utf8_lossy(name).into_owned()),
    );
    files.sort();
    files.dedup();
    Ok(Changes {
        base,
        merge_base,
        files,
    })
}

/// The base `--changed` compares with when none is named: the upstream branch, else
/// what `origin/HEAD` points at, else `main` or `master`, whichever exists.
fn default_base(
    run: &dyn Fn(&[&str]) -> Result<std::process::Output, ChangedError>,
) -> Result<String, ChangedError> {
    let name_of = |args: &[&str]| -> Result<Option<String>, ChangedError> {
        let output = run(args)?;
        let name = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        Ok((output.status.success() && !name.is_empty()).then_some(name))
    };
    if let Some(upstream) = name_of(&[
        "rev-parse",
        "--abbrev-ref",
        "--symbolic-full-name",
        "@{upstream}",
    ])? {
        return Ok(upstream);
    }
    if let Some(origin) = name_of(&["rev-parse", "--abbrev-ref", "origin/HEAD"])?
        && origin != "origin/HEAD"
    {
        return Ok(origin);
    }
    for branch in ["main", "master"] {
        if name_of(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}"),
        ])?
        .is_some()
        {
            return Ok(branch.to_owned());
        }
    }
    Err(ChangedError::NoDefaultBase)
}

/// Each changed file's diff against the merge base (`git diff`, working tree included),
/// in file order; an untracked file as a diff from nothing. A file git shows no text
/// diff for (binary, mode only) gets what git says about it.
pub fn diffs(
    root: &std::path::Path,
    changes: &Changes,
) -> Result<Vec<(String, String)>, ChangedError> {
    let run = |args: &[&str]| -> Result<std::process::Output, ChangedError> {
        process::git(root, args).map_err(ChangedError::Git)
    };
    let tracked = run(&[
        "-c",
        "core.quotepath=off",
        "diff",
        "--relative",
        "--no-color",
        "--no-ext-diff",
        "--no-renames",
        &changes.merge_base,
        "--",
    ])?;
    let text = String::from_utf8_lossy(&tracked.stdout);
    let mut by_file: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for part in split_diff(&text) {
        if let Some(file) = diff_file(part) {
            by_file.insert(file, part.to_owned());
        }
    }
    for file in &changes.files {
        if by_file.contains_key(file) {
            continue;
        }
        // Untracked: a diff from nothing (exit 1 means "differs").
        let untracked = run(&["diff", "--no-color", "--no-index", "--", "/dev/null", file])?;
        let text = String::from_utf8_lossy(&untracked.stdout).into_owned();
        if !text.is_empty() {
            by_file.insert(file.clone(), text);
        }
    }
    Ok(changes
        .files
        .iter()
        .filter_map(|file| Some((file.clone(), by_file.remove(file)?)))
        .collect())
}

/// `git diff` output, cut before each `diff --git` line.
fn split_diff(text: &str) -> Vec<&str> {
    let mut starts: Vec<usize> = text
        .match_indices("diff --git ")
        .filter(|(at, _)| *at == 0 || text.as_bytes()[at - 1] == b'\n')
        .map(|(at, _)| at)
        .collect();
    starts.push(text.len());
    starts
        .windows(2)
        .map(|pair| &text[pair[0]..pair[1]])
        .collect()
}

/// The file a `diff --git a/X b/X` section is about (its `b/` side; `+++ b/X` when the
/// header line is ambiguous).
fn diff_file(part: &str) -> Option<String> {
    for line in part.lines().take(6) {
        if let Some(path) = line
            .strip_prefix("+++ ")
            .and_then(|side| side_path(side, "b/"))
        {
            return Some(path);
        }
        if let Some(path) = line
            .strip_prefix("--- ")
            .and_then(|side| side_path(side, "a/"))
            && part.contains("\n+++ /dev/null")
        {
            return Some(path);
        }
    }
    let header = part.lines().next()?.strip_prefix("diff --git a/")?;
    let half = header.len().checked_sub(3)? / 2;
    let (first, second) = header.split_at_checked(half)?;
    let second = second.strip_prefix(" b/")?;
    (first == second).then(|| second.to_owned())
}

/// The path of a `--- a/X` or `+++ b/X` side: git ends it with a tab when it has a space,
/// and C-quotes it (`"b/a\"b"`) when it has a quote, a backslash or a control character.
fn side_path(side: &str, prefix: &str) -> Option<String> {
    let side = side.strip_suffix('\t').unwrap_or(side);
    if let Some(quoted) = side
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        let mut path = String::new();
        let mut chars = quoted.chars();
        while let Some(character) = chars.next() {
            path.push(match (character, character == '\\') {
                (_, true) => match chars.next()? {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                },
                (character, false) => character,
            });
        }
        return path.strip_prefix(prefix).map(str::to_owned);
    }
    side.strip_prefix(prefix).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_is_cut_per_file() {
        let text = "diff --git a/x.py b/x.py\nindex 1..2 100644\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\ndiff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\ndiff --git a/bin.png b/bin.png\nindex 1..2 100644\nBinary files a/bin.png and b/bin.png differ\n";
        let parts = split_diff(text);
        assert_eq!(parts.len(), 3);
        let files: Vec<Option<String>> = parts.iter().map(|part| diff_file(part)).collect();
        assert_eq!(
            files,
            [
                Some(String::from("x.py")),
                Some(String::from("gone.txt")),
                Some(String::from("bin.png"))
            ]
        );
        assert!(parts[0].ends_with("+b\n"));
        // A space: git ends the side with a tab; a quote: git C-quotes it.
        let spaced =
            "diff --git a/a b.txt b/a b.txt\n--- a/a b.txt\t\n+++ b/a b.txt\t\n@@ -1 +1 @@\n";
        assert_eq!(diff_file(spaced).as_deref(), Some("a b.txt"));
        let quoted = "diff --git \"a/q\\\"x\" \"b/q\\\"x\"\n--- \"a/q\\\"x\"\n+++ \"b/q\\\"x\"\n";
        assert_eq!(diff_file(quoted).as_deref(), Some("q\"x"));
    }
}
