//! `ctx init`: a first configuration for a repository that has none, from what its
//! build files say (Cargo workspace members and path dependencies, npm/pnpm workspaces,
//! `go.work`, Python packages; else the top-level folders), with each package's test
//! command as a gate; with `--import`, the rules of existing assistant files (AGENTS.md,
//! CLAUDE.md, Cursor rules, Copilot instructions) as org and path-scoped constraints.
//!
//! Writes `ctx.toml` and `ctx/*.yaml`, never over existing configuration; the caller
//! validates the result.

mod detect;
mod import;

use std::fmt::Write as _;
use std::path::Path;

use crate::error::Error;

/// A package found in the repository: a service of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// A valid ctx name (lowercase, `a-z0-9_-`).
    pub name: String,
    /// Its folder, root-relative (`.` for the root).
    pub folder: String,
    /// Names (ctx names) of the packages it depends on.
    pub depends_on: Vec<String>,
    /// Its test command, if one was found.
    pub test: Option<String>,
    /// Where it was found (`Cargo.toml`, `package.json`…).
    pub source: String,
}

/// A constraint brought over from an assistant file.
#[derive(Debug, Clone)]
pub struct Imported {
    pub key: String,
    pub text: String,
    /// `AGENTS.md:12`.
    pub from: String,
}

/// Path-scoped imported rules: a domain of the configuration.
#[derive(Debug, Clone)]
pub struct ImportedDomain {
    pub name: String,
    pub paths: Vec<String>,
    pub constraints: Vec<Imported>,
}

/// What `ctx init` found and will write.
#[derive(Debug, Clone)]
pub struct Found {
    /// How the structure was recognised.
    pub layout: String,
    pub packages: Vec<Package>,
    pub org: Vec<Imported>,
    pub domains: Vec<ImportedDomain>,
    /// Things a person should look at.
    pub review: Vec<String>,
}

/// A ctx name from any package name: lowercase, other characters as `-`.
pub fn ctx_name(name: &str) -> String {
    let mut out: String = name
        .trim()
        .chars()
        .map(|character| match character.to_ascii_lowercase() {
            lower @ ('a'..='z' | '0'..='9' | '_' | '-') => lower,
            _ => '-',
        })
        .collect();
    while out.starts_with(['-', '_']) {
        out.remove(0);
    }
    if out.is_empty() {
        out.push_str("package");
    }
    out
}

/// Look at the repository at `root`.
pub fn detect(root: &Path, import: bool) -> Found {
    let (layout, packages, mut review) = detect::packages(root);
    let (org, domains, imported_review) = if import {
        import::assistant_files(root)
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    review.extend(imported_review);
    Found {
        layout,
        packages,
        org,
        domains,
        review,
    }
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}

/// The files to write: `ctx.toml` and the YAML documents.
pub fn render(root: &Path, found: &Found) -> Vec<(String, String)> {
    let name = ctx_name(&root.file_name().map_or_else(
        || String::from("project"),
        |name| name.to_string_lossy().into_owned(),
    ));
    let mut files = Vec::new();
    files.push((
        String::from("ctx.toml"),
        format!(
            "# ctx workspace settings (written by `ctx init`; see the README's \"ctx.toml\").\n[workspace]\nname = {}\nconfig = [\"ctx\"]\n\n[export]\ntargets = [\"agents-md\", \"claude\", \"cursor\"]\n",
            quote(&name)
        ),
    ));
    let mut org = format!(
        "# The org layer: rules for every change. Written by `ctx init`; review and extend it.\nkind: org\nname: {name}\ndescription: Rules for every change in {name}\n"
    );
    if !found.org.is_empty() {
        org.push_str("constraints:\n");
        for item in &found.org {
            let _ = writeln!(org, "  # imported from {}", item.from);
            let _ = writeln!(org, "  {}: {}", item.key, quote(&item.text));
        }
    }
    files.push((String::from("ctx/org.yaml"), org));
    if !found.packages.is_empty() {
        let mut services = format!(
            "# One service per package ({}), with its dependencies and its tests as a gate.\n",
            found.layout
        );
        for (index, package) in found.packages.iter().enumerate() {
            if index > 0 {
                services.push_str("---\n");
            }
            let path = if package.folder == "." {
                String::from("**")
            } else {
                format!("{}/**", package.folder)
            };
            let _ = writeln!(services, "# from {}", package.source);
            let _ = writeln!(services, "kind: service\nname: {}", package.name);
            let _ = writeln!(services, "paths: [{}]", quote(&path));
            if !package.depends_on.is_empty() {
                let _ = writeln!(services, "depends_on: [{}]", package.depends_on.join(", "));
            }
            if let Some(test) = &package.test {
                let _ = writeln!(services, "quality_gates:\n  test: {}", quote(test));
            }
        }
        files.push((String::from("ctx/services.yaml"), services));
    }
    if !found.domains.is_empty() {
        let mut domains = String::from(
            "# Path-scoped rules imported from assistant files (`ctx init --import`).\n",
        );
        for (index, domain) in found.domains.iter().enumerate() {
            if index > 0 {
                domains.push_str("---\n");
            }
            let paths: Vec<String> = domain.paths.iter().map(|path| quote(path)).collect();
            let _ = writeln!(
                domains,
                "kind: domain\nname: {}\nmatch:\n  paths: [{}]\nconstraints:",
                domain.name,
                paths.join(", ")
            );
            for item in &domain.constraints {
                let _ = writeln!(domains, "  # imported from {}", item.from);
                let _ = writeln!(domains, "  {}: {}", item.key, quote(&item.text));
            }
        }
        files.push((String::from("ctx/domains.yaml"), domains));
    }
    files
}

/// Write the files, refusing if any configuration exists.
pub fn write(root: &Path, files: &[(String, String)]) -> Result<(), Error> {
    let existing: Vec<&str> = ["ctx.toml", "ctx"]
        .into_iter()
        .filter(|path| root.join(path).exists())
        .collect();
    if !existing.is_empty() {
        return Err(Error::Usage {
            message: format!(
                "this repository already has ctx configuration ({}); `ctx init` never overwrites it",
                existing
                    .iter()
                    .map(|path| format!("`{path}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            help: Some(String::from(
                "run `ctx validate` to check it, or remove it to start over",
            )),
        });
    }
    for (path, text) in files {
        let path = root.join(path);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|source| Error::Output {
                what: format!("`{}`", folder.display()),
                source,
            })?;
        }
        crate::output::write_atomic(&path, text.as_bytes()).map_err(|source| Error::Output {
            what: format!("`{}`", path.display()),
            source,
        })?;
    }
    Ok(())
}
