//! The packages of a repository, from its build files.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::{Package, ctx_name};

/// The layout's name, the packages, and what to review.
pub fn packages(root: &Path) -> (String, Vec<Package>, Vec<String>) {
    let mut review = Vec::new();
    if let Some(packages) = cargo(root, &mut review) {
        return (String::from("a Cargo workspace"), packages, review);
    }
    if let Some(packages) = node(root, &mut review) {
        return (String::from("npm/pnpm workspaces"), packages, review);
    }
    if let Some(packages) = go_work(root) {
        return (String::from("a Go workspace (go.work)"), packages, review);
    }
    if let Some(packages) = python(root) {
        return (String::from("Python packages"), packages, review);
    }
    review.push(String::from(
        "no build files recognised: one service per top-level folder, without gates; add each one's test command as a gate",
    ));
    (String::from("top-level folders"), folders(root), review)
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn relative(root: &Path, path: &Path) -> String {
    let text = crate::paths::relative_display(root, path);
    if text.is_empty() {
        String::from(".")
    } else {
        text
    }
}

/// Members of a workspace list: exact folders, or `dir/*` globs (folders holding `file`).
fn expand_members(root: &Path, patterns: &[String], file: &str) -> Vec<String> {
    let mut members = Vec::new();
    for pattern in patterns {
        let pattern = pattern.trim_end_matches('/');
        match pattern
            .strip_suffix("/*")
            .or_else(|| pattern.strip_suffix("/**"))
        {
            Some(parent) => {
                let Ok(entries) = std::fs::read_dir(root.join(parent)) else {
                    continue;
                };
                let mut found: Vec<String> = entries
                    .flatten()
                    .filter(|entry| entry.path().join(file).is_file())
                    .map(|entry| format!("{parent}/{}", entry.file_name().to_string_lossy()))
                    .collect();
                found.sort();
                members.extend(found);
            }
            None if root.join(pattern).join(file).is_file() => members.push(pattern.to_owned()),
            None => {}
        }
    }
    members.dedup();
    members
}

/// A Cargo workspace: members, their path dependencies, `cargo test -p NAME`.
fn cargo(root: &Path, review: &mut Vec<String>) -> Option<Vec<Package>> {
    let manifest =
        toml::Value::Table(toml::from_str::<toml::Table>(&read(&root.join("Cargo.toml"))?).ok()?);
    let workspace = manifest.get("workspace")?;
    let strings = |value: Option<&toml::Value>| -> Vec<String> {
        value
            .and_then(toml::Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|item| item.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let excluded = strings(workspace.get("exclude"));
    let mut folders = expand_members(root, &strings(workspace.get("members")), "Cargo.toml");
    folders.retain(|folder| !excluded.contains(folder));
    if manifest.get("package").is_some() {
        folders.insert(0, String::from("."));
    }
    // Workspace dependencies declared with a path (`foo = { path = "crates/foo" }`).
    let workspace_paths: BTreeMap<String, String> = workspace
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .map(|table| {
            table
                .iter()
                .filter_map(|(name, spec)| {
                    Some((name.clone(), spec.get("path")?.as_str()?.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut by_folder: BTreeMap<String, (String, toml::Value)> = BTreeMap::new();
    for folder in &folders {
        let Some(member) = read(&root.join(folder).join("Cargo.toml"))
            .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
            .map(toml::Value::Table)
        else {
            review.push(format!("`{folder}/Cargo.toml` could not be read"));
            continue;
        };
        let Some(name) = member
            .get("package")
            .and_then(|package| package.get("name"))
            .and_then(toml::Value::as_str)
        else {
            continue;
        };
        by_folder.insert(folder.clone(), (name.to_owned(), member));
    }
    let normalize = |path: &Path| -> Option<String> {
        let joined = root.join(path);
        let canonical = joined.canonicalize().ok()?;
        let root = root.canonicalize().ok()?;
        Some(relative(&root, &canonical))
    };
    let mut packages = Vec::new();
    for (folder, (name, member)) in &by_folder {
        let mut depends_on = Vec::new();
        for section in ["dependencies", "build-dependencies"] {
            let Some(table) = member.get(section).and_then(toml::Value::as_table) else {
                continue;
            };
            for (dependency, spec) in table {
                let path = match spec.get("path").and_then(toml::Value::as_str) {
                    Some(path) => normalize(&Path::new(folder).join(path)),
                    None if spec.get("workspace").and_then(toml::Value::as_bool) == Some(true) => {
                        workspace_paths
                            .get(dependency)
                            .and_then(|path| normalize(Path::new(path)))
                    }
                    None => None,
                };
                if let Some((target, _)) = path.and_then(|path| by_folder.get(&path)) {
                    let target = ctx_name(target);
                    if !depends_on.contains(&target) && target != ctx_name(name) {
                        depends_on.push(target);
                    }
                }
            }
        }
        packages.push(Package {
            name: ctx_name(name),
            folder: folder.clone(),
            depends_on,
            test: Some(format!("cargo test -p {name}")),
            source: format!("{}/Cargo.toml", folder.trim_start_matches("./")).replace("./", ""),
        });
    }
    (!packages.is_empty()).then_some(packages)
}

/// npm or pnpm workspaces: members, dependencies on each other, their `test` script.
fn node(root: &Path, review: &mut Vec<String>) -> Option<Vec<Package>> {
    let manifest: Value = read(&root.join("package.json"))
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    let list = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut patterns = list(&manifest["workspaces"]);
    patterns.extend(list(&manifest["workspaces"]["packages"]));
    let pnpm = read(&root.join("pnpm-workspace.yaml"));
    if let Some(text) = &pnpm {
        patterns.extend(
            text.lines()
                .map(str::trim)
                .filter_map(|line| line.strip_prefix("- "))
                .map(|item| item.trim_matches(['"', '\'']).to_owned()),
        );
    }
    if patterns.is_empty() {
        return None;
    }
    let runner = if pnpm.is_some() {
        "pnpm --filter"
    } else {
        "npm test --workspace"
    };
    let folders = expand_members(root, &patterns, "package.json");
    let members: Vec<(String, Value)> = folders
        .iter()
        .filter_map(|folder| {
            let text = read(&root.join(folder).join("package.json"))?;
            Some((folder.clone(), serde_json::from_str(&text).ok()?))
        })
        .collect();
    let names: BTreeMap<String, String> = members
        .iter()
        .filter_map(|(_, package)| {
            package["name"]
                .as_str()
                .map(|name| (name.to_owned(), ctx_name(name)))
        })
        .collect();
    let mut packages = Vec::new();
    for (folder, package) in &members {
        let Some(name) = package["name"].as_str() else {
            review.push(format!("`{folder}/package.json` has no `name`"));
            continue;
        };
        let mut depends_on = Vec::new();
        for section in ["dependencies", "devDependencies"] {
            if let Some(table) = package[section].as_object() {
                for dependency in table.keys() {
                    if let Some(target) = names.get(dependency)
                        && dependency != name
                        && !depends_on.contains(target)
                    {
                        depends_on.push(target.clone());
                    }
                }
            }
        }
        let test = package["scripts"]["test"].as_str().map(|_| {
            if pnpm.is_some() {
                format!("{runner} {name} test")
            } else {
                format!("{runner} {name}")
            }
        });
        if test.is_none() {
            review.push(format!(
                "`{folder}` has no `test` script: add its checks as gates"
            ));
        }
        packages.push(Package {
            name: ctx_name(name),
            folder: folder.clone(),
            depends_on,
            test,
            source: format!("{folder}/package.json"),
        });
    }
    (!packages.is_empty()).then_some(packages)
}

/// `go.work`: each `use` folder, `go test ./DIR/...`.
fn go_work(root: &Path) -> Option<Vec<Package>> {
    let text = read(&root.join("go.work"))?;
    let mut folders = Vec::new();
    let mut in_block = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with("use (") {
            in_block = true;
        } else if in_block && line == ")" {
            in_block = false;
        } else if in_block {
            folders.push(line.to_owned());
        } else if let Some(folder) = line.strip_prefix("use ") {
            folders.push(folder.trim().to_owned());
        }
    }
    let packages: Vec<Package> = folders
        .into_iter()
        .map(|folder| folder.trim_start_matches("./").to_owned())
        .filter(|folder| !folder.is_empty() && !folder.starts_with("//"))
        .map(|folder| Package {
            name: ctx_name(folder.rsplit('/').next().unwrap_or(&folder)),
            test: Some(format!("go test ./{folder}/...")),
            source: String::from("go.work"),
            depends_on: Vec::new(),
            folder,
        })
        .collect();
    (!packages.is_empty()).then_some(packages)
}

/// Top-level folders with `pyproject.toml` or `setup.py` (or the root itself).
fn python(root: &Path) -> Option<Vec<Package>> {
    let is_package =
        |dir: &Path| dir.join("pyproject.toml").is_file() || dir.join("setup.py").is_file();
    let mut packages: Vec<Package> = top_level(root)
        .into_iter()
        .filter(|folder| is_package(&root.join(folder)))
        .map(|folder| Package {
            name: ctx_name(&folder),
            test: Some(format!("python3 -m pytest {folder}")),
            source: format!("{folder}/pyproject.toml"),
            depends_on: Vec::new(),
            folder,
        })
        .collect();
    if packages.is_empty() && is_package(root) {
        packages.push(Package {
            name: ctx_name(&root.file_name()?.to_string_lossy()),
            folder: String::from("."),
            depends_on: Vec::new(),
            test: Some(String::from("python3 -m pytest")),
            source: String::from("pyproject.toml"),
        });
    }
    (!packages.is_empty()).then_some(packages)
}

fn top_level(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut folders: Vec<String> = entries
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| {
            !name.starts_with('.')
                && !["target", "node_modules", "ctx", "dist", "build", "vendor"]
                    .contains(&name.as_str())
        })
        .collect();
    folders.sort();
    folders
}

/// One service per top-level folder with files in it.
fn folders(root: &Path) -> Vec<Package> {
    top_level(root)
        .into_iter()
        .filter(|folder| !crate::paths::walk_files(&root.join(folder)).is_empty())
        .map(|folder| Package {
            name: ctx_name(&folder),
            test: None,
            source: format!("{folder}/"),
            depends_on: Vec::new(),
            folder,
        })
        .collect()
}
