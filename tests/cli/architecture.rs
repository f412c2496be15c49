//! The boundaries ARCHITECTURE.md promises, checked on the source: no import cycles
//! between modules, no clap type below `commands/`, no command calling another, stdout
//! only through the Printer, `.ctx/` laid out by `state.rs` only, no function over 150
//! lines, one exit table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

/// Every `.rs` file under `src/`, with its module path (`bundle::build`, `` for lib.rs).
fn modules() -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                out.push(path);
            }
        }
    }
    let src = crate::repo_root().join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|last| last == "mod") {
                parts.pop();
            }
            if parts == ["lib"] || parts == ["main"] {
                parts.clear();
            }
            (parts.join("::"), path)
        })
        .collect()
}

/// A file's code without comments and without its `#[cfg(test)]` tail.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules each module refers to (`crate::a::b`, `super::c`), resolved to the
/// longest module path that exists; a module's own ancestors are not counted.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let reference = Regex::new(r"\b(crate|super)((?:::\w+)+)").unwrap();
    let mut graph = BTreeMap::new();
    for (module, path) in &modules {
        let own: Vec<&str> = module.split("::").filter(|part| !part.is_empty()).collect();
        let mut edges = BTreeSet::new();
        for found in reference.captures_iter(&code(path)) {
            let rest: Vec<&str> = found[2].split("::").skip(1).collect();
            let mut full: Vec<&str> = match &found[1] {
                "crate" => Vec::new(),
                _ => own[..own.len().saturating_sub(1)].to_vec(),
            };
            full.extend(rest);
            let target = (1..=full.len())
                .rev()
                .map(|length| full[..length].join("::"))
                .find(|candidate| modules.contains_key(candidate));
            if let Some(target) = target
                && target != *module
                && !module.starts_with(&format!("{target}::"))
            {
                edges.insert(target);
            }
        }
        graph.insert(module.clone(), edges);
    }
    graph
}

/// A cycle in the graph, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, bool>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(true) => {
                let start = stack.iter().position(|name| name == node).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            Some(false) => return None,
            None => {}
        }
        state.insert(node.to_owned(), true);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(node.to_owned(), false);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut state, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn no_import_cycles_between_modules() {
    let graph = imports();
    assert!(graph.contains_key("bundle::build") && graph.contains_key("gates::run"));
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle: {}", cycle.join(" → "));
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut graph = BTreeMap::new();
    graph.insert(String::from("a"), BTreeSet::from([String::from("b")]));
    graph.insert(String::from("b"), BTreeSet::from([String::from("a")]));
    assert!(find_cycle(&graph).is_some());
    graph.insert(String::from("b"), BTreeSet::new());
    assert!(find_cycle(&graph).is_none());
}

/// Files allowed to name a thing, by module path prefix.
fn only_in(pattern: &str, allowed: &[&str]) -> Vec<String> {
    let pattern = Regex::new(pattern).unwrap();
    modules()
        .iter()
        .filter(|(module, _)| {
            !allowed.iter().any(|prefix| {
                module == prefix
                    || (!prefix.is_empty() && module.starts_with(&format!("{prefix}::")))
            })
        })
        .filter(|(_, path)| pattern.is_match(&code(path)))
        .map(|(module, _)| module.clone())
        .collect()
}

#[test]
fn no_clap_type_below_the_commands() {
    let found = only_in(r"\bclap::|crate::cli\b", &["", "cli", "commands"]);
    assert!(found.is_empty(), "clap or cli types used in {found:?}");
}

#[test]
fn no_command_calls_another() {
    let modules = modules();
    let commands: Vec<&str> = modules
        .keys()
        .filter_map(|module| module.strip_prefix("commands::"))
        .collect();
    assert!(commands.contains(&"bundle"), "{commands:?}");
    for command in &commands {
        let text = code(&modules[&format!("commands::{command}")]);
        for other in commands.iter().filter(|other| *other != command) {
            let call = Regex::new(&format!(r"commands::{other}\b|super::{other}\b")).unwrap();
            assert!(
                !call.is_match(&text),
                "`commands::{command}` calls `commands::{other}`"
            );
        }
    }
}

/// The Printer writes the CLI's stdout; in `ctx mcp`, stdout is the protocol, written
/// by its transport alone.
#[test]
fn stdout_only_through_the_printer() {
    let found = only_in(r"\bstdout\(\)", &["output", "mcp::stdio"]);
    assert!(found.is_empty(), "stdout written in {found:?}");
}

#[test]
fn the_ctx_folder_is_laid_out_by_state_only() {
    let found = only_in(r#""\.ctx""#, &["state"]);
    assert!(found.is_empty(), "`.ctx` joined in {found:?}");
}

#[test]
fn exit_codes_are_decided_in_exit_rs_only() {
    let found = only_in(
        r"ExitStatus::(GateFailed|Infrastructure|OutputError|Interrupted|Terminated|Policy)\b|process::exit",
        &["exit"],
    );
    assert!(found.is_empty(), "exit codes picked in {found:?}");
}

#[test]
fn no_function_over_150_lines() {
    let start = Regex::new(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?fn\s+(\w+)").unwrap();
    let literal = Regex::new(r#""(\\.|[^"\\])*"|'(\\.|[^'\\])'"#).unwrap();
    let mut long = Vec::new();
    for (module, path) in modules() {
        if path.to_string_lossy().ends_with("_tests.rs") {
            continue;
        }
        let text = code(&path);
        let lines: Vec<&str> = text.lines().collect();
        for (at, line) in lines.iter().enumerate() {
            let Some(found) = start.captures(line) else {
                continue;
            };
            let (mut depth, mut opened, mut end) = (0i64, false, at);
            for (offset, body) in lines[at..].iter().enumerate() {
                let body = literal.replace_all(body, "");
                depth += body.matches('{').count() as i64 - body.matches('}').count() as i64;
                opened |= body.contains('{');
                end = at + offset;
                if (opened && depth <= 0) || (!opened && body.trim_end().ends_with(';')) {
                    break;
                }
            }
            if end - at + 1 > 150 {
                long.push(format!("{module}::{} ({} lines)", &found[4], end - at + 1));
            }
        }
    }
    assert!(long.is_empty(), "functions over 150 lines: {long:?}");
}
