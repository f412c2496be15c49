//! What is exported, independent of any assistant's format: rules (the org layer,
//! always on; each domain and each service, scoped by paths) and skills (one per
//! feature), each with the merged items in effect and their origins. Built from the
//! merge (`resolve`), not from bundles: exported files carry rules and paths, never file
//! contents. Expired, disabled and overridden items are left out, and private
//! (`audience`) items are never exported.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::config::workspace::{Feature, LayerKind, Origin, Section, ValidationStep, Workspace};
use crate::date::Date;
use crate::ids::GateId;
use crate::resolve::lineage::{self, Scope};
use crate::resolve::merge::{self, MergedItem, Payload, Status};

/// One exported item, rendered as a Markdown list entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub section: Section,
    pub line: String,
    pub origin: Origin,
}

/// Always-on or path-scoped guidance.
#[derive(Debug, Clone)]
pub struct Rule {
    /// File stem: `org`, `payment`, `service-order-service`.
    pub id: String,
    pub title: String,
    /// One line: what the rule is about and when it applies.
    pub description: String,
    /// The documents it comes from.
    pub sources: BTreeSet<String>,
    /// Empty: always on.
    pub globs: Vec<String>,
    pub entries: Vec<Entry>,
    /// `ctx gates …` for this scope.
    pub verify: String,
    /// For a service: the folder all its paths share (nested AGENTS.md goes there).
    pub folder: Option<String>,
    /// For a service: its domain's rule id.
    pub domain: Option<String>,
}

/// One feature as an Agent Skill.
#[derive(Debug, Clone)]
pub struct Skill {
    /// `a-z0-9-`: the feature's name with `_` as `-`.
    pub name: String,
    pub feature: String,
    pub description: String,
    pub sources: BTreeSet<String>,
    pub body: String,
}

/// Everything exported from a workspace.
#[derive(Debug, Clone)]
pub struct Model {
    pub org: Option<Rule>,
    pub domains: Vec<Rule>,
    pub services: Vec<Rule>,
    pub skills: Vec<Skill>,
}

fn origin(origin: &Origin) -> String {
    format!("{}:{}", origin.file, origin.line)
}

/// The Markdown line of an item, or `None` when it is not exported.
fn entry(item: &MergedItem, layer: &crate::ids::LayerId) -> Option<Entry> {
    if item.status != Status::Included || !item.audience.is_empty() {
        return None;
    }
    let key = &item.key;
    let line = match &item.payload {
        Payload::Constraint { text: Some(text) } => format!("**{key}**: {}", one_line(text)),
        Payload::Pattern {
            path: Some(path),
            lines,
            why,
        } => {
            let mut line = format!("**{key}**: `{path}`");
            if let Some(lines) = lines {
                let _ = write!(line, " (lines {lines})");
            }
            if let Some(why) = why {
                let _ = write!(line, ": {}", one_line(why));
            }
            line
        }
        Payload::Gate { run: Some(run), .. } => {
            let id = GateId::new(layer.clone(), key.clone());
            format!("**{key}**: `{}` (gate `{id}`)", one_line(run))
        }
        Payload::Example { path } => format!("`{path}`"),
        _ => return None,
    };
    Some(Entry {
        section: item.section,
        line,
        // A constraint's text changed in place is where that text is written.
        origin: item
            .text_from
            .clone()
            .unwrap_or_else(|| item.origin.clone()),
    })
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The exported entries of the layers of a scope whose index satisfies `keep`.
fn entries_of(
    workspace: &Workspace,
    scope: &Scope<'_>,
    today: Date,
    keep: impl Fn(&crate::ids::LayerId) -> bool,
) -> (Vec<Entry>, BTreeSet<String>) {
    let plans = lineage::for_scope(workspace, scope);
    let merged = merge::merge(&plans, today);
    let mut sources = BTreeSet::new();
    let mut entries = Vec::new();
    for item in &merged.items {
        let layer = &merged.layers[item.layer];
        if !keep(layer) {
            continue;
        }
        if let Some(entry) = entry(item, layer) {
            sources.insert(entry.origin.file.clone());
            entries.push(entry);
        }
    }
    (entries, sources)
}

/// The folder every glob of `paths` lies in (`services/payment` for
/// `services/payment/**` and `services/payment/api/*.py`), if they share one.
pub fn common_folder(paths: &[String]) -> Option<String> {
    let folders: Vec<Vec<&str>> = paths
        .iter()
        .map(|path| {
            path.split('/')
                .take_while(|part| !part.contains(['*', '?', '[', '{']))
                .collect::<Vec<_>>()
        })
        .collect();
    let first = folders.first()?;
    let mut shared = first.len();
    for folder in &folders[1..] {
        shared = shared.min(first.iter().zip(folder).take_while(|(a, b)| a == b).count());
    }
    // A literal file path names a file, not a folder: its folder is its parent.
    let mut parts = first[..shared].to_vec();
    if paths
        .iter()
        .any(|path| path.split('/').count() == parts.len())
    {
        parts.pop();
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Build the model of a workspace.
pub fn build(workspace: &Workspace, today: Date) -> Model {
    let org = workspace.org.as_ref().map(|org| {
        let (entries, mut sources) = entries_of(workspace, &Scope::default(), today, |layer| {
            layer.kind == LayerKind::Org
        });
        sources.insert(org.origin.file.clone());
        Rule {
            id: String::from("org"),
            title: format!("{} engineering rules", org.name),
            description: org
                .description
                .clone()
                .unwrap_or_else(|| format!("Rules of {} for every change", org.name)),
            sources,
            globs: Vec::new(),
            entries,
            verify: String::from("ctx gates --all"),
            folder: None,
            domain: None,
        }
    });
    let domains = workspace
        .domains
        .iter()
        .map(|domain| {
            let scope = Scope {
                domains: vec![domain],
                ..Scope::default()
            };
            let (entries, mut sources) = entries_of(workspace, &scope, today, |layer| {
                layer.kind == LayerKind::Domain
            });
            sources.insert(domain.origin.file.clone());
            let mut globs = domain.paths.clone();
            for service in workspace
                .services
                .iter()
                .filter(|service| service.domain.as_ref() == Some(&domain.name))
            {
                globs.extend(service.paths.iter().cloned());
            }
            dedup(&mut globs);
            Rule {
                id: domain.name.to_string(),
                title: format!("Domain {}", domain.name),
                description: domain
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("Rules of the {} domain", domain.name)),
                sources,
                globs,
                entries,
                verify: format!("ctx gates --domain {}", domain.name),
                folder: None,
                domain: None,
            }
        })
        .collect();
    let services = workspace
        .services
        .iter()
        .map(|service| {
            let scope = Scope {
                services: vec![service],
                ..Scope::default()
            };
            let (entries, mut sources) = entries_of(workspace, &scope, today, |layer| {
                matches!(layer.kind, LayerKind::Integration | LayerKind::Service)
            });
            sources.insert(service.origin.file.clone());
            let mut globs = service.paths.clone();
            dedup(&mut globs);
            Rule {
                id: format!("service-{}", service.name),
                title: format!("Service {}", service.name),
                description: service
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("Rules of the {} service", service.name)),
                sources,
                folder: common_folder(&service.paths),
                globs,
                entries,
                verify: format!("ctx gates --service {}", service.name),
                domain: service.domain.as_ref().map(ToString::to_string),
            }
        })
        .collect();
    let skills = workspace
        .features
        .iter()
        .map(|feature| skill(workspace, feature, today))
        .collect();
    Model {
        org,
        domains,
        services,
        skills,
    }
}

fn dedup(globs: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    globs.retain(|glob| seen.insert(glob.clone()));
}

/// A feature as a skill: its plan, merged constraints, gates and pattern paths.
fn skill(workspace: &Workspace, feature: &Feature, today: Date) -> Skill {
    let scope = Scope::of_feature(workspace, feature);
    // Private items are never exported, names included: a phase naming one does not
    // name it here.
    let merged = merge::merge(&lineage::for_scope(workspace, &scope), today);
    let private = |section: Section, key: &str| {
        merged
            .items
            .iter()
            .any(|item| item.section == section && item.key == key && !item.audience.is_empty())
            && !merged
                .items
                .iter()
                .any(|item| item.section == section && item.key == key && item.audience.is_empty())
    };
    let (entries, mut sources) = entries_of(workspace, &scope, today, |_| true);
    sources.insert(feature.origin.file.clone());
    let mut keywords: Vec<&str> = Vec::new();
    for name in &feature.domains {
        if let Some(domain) = workspace.domain(name.as_str()) {
            for keyword in &domain.keywords {
                if !keywords.contains(&keyword.as_str()) {
                    keywords.push(keyword);
                }
            }
        }
    }
    let mut description = feature
        .description
        .clone()
        .unwrap_or_else(|| format!("Work on the {} feature", feature.name));
    if !keywords.is_empty() {
        description.push_str(&format!(". Use when working on {}", keywords.join(", ")));
    }
    let mut body = format!("# {}\n\n", feature.name);
    if let Some(text) = &feature.description {
        let _ = writeln!(body, "{}\n", one_line(text));
    }
    if !feature.inputs.is_empty() {
        body.push_str("## Inputs\n\n");
        for input in &feature.inputs {
            let _ = writeln!(body, "- `{}`: {}", input.key, one_line(&input.description));
        }
        body.push('\n');
    }
    if !feature.phases.is_empty() {
        body.push_str("## Plan\n\n");
        for (number, phase) in feature.phases.iter().enumerate() {
            let _ = write!(body, "{}. **{}**", number + 1, phase.name);
            if let Some(text) = &phase.description {
                let _ = write!(body, ": {}", one_line(text));
            }
            body.push('\n');
            let patterns: Vec<String> = phase
                .patterns
                .iter()
                .filter(|key| !private(Section::Patterns, key))
                .map(|key| format!("`{key}`"))
                .collect();
            if !patterns.is_empty() {
                let _ = writeln!(body, "   - patterns: {}", patterns.join(", "));
            }
            for constraint in phase
                .constraints
                .iter()
                .filter(|item| item.meta.audience.is_empty())
            {
                if let Some(text) = &constraint.text {
                    let _ = writeln!(body, "   - **{}**: {}", constraint.meta.key, one_line(text));
                }
            }
            let checks: Vec<String> = phase
                .validation
                .iter()
                .filter(|step| {
                    !matches!(step, ValidationStep::Gate(name) if private(Section::QualityGates, name))
                })
                .map(|step| match step {
                    ValidationStep::Gate(name) => format!("gate `{name}`"),
                    ValidationStep::Prose(text) => one_line(text),
                })
                .collect();
            if !checks.is_empty() {
                let _ = writeln!(body, "   - validation: {}", checks.join("; "));
            }
        }
        body.push('\n');
    }
    sections(&mut body, &entries, 2);
    let _ = writeln!(
        body,
        "## Before you finish\n\nRun `ctx gates {}` (every gate above, in parallel); `ctx bundle {}` prints the full context with the code of each pattern.",
        feature.name, feature.name
    );
    Skill {
        name: feature.name.as_str().replace('_', "-"),
        feature: feature.name.to_string(),
        description,
        sources,
        body,
    }
}

/// The entries of a rule or skill, by section (headings at `level`), each with its
/// origin as a comment.
pub fn sections(out: &mut String, entries: &[Entry], level: usize) {
    for (section, title) in [
        (Section::Constraints, "Constraints"),
        (Section::Patterns, "Patterns (read these files)"),
        (Section::QualityGates, "How to verify"),
        (Section::Examples, "Examples"),
    ] {
        let lines: Vec<&Entry> = entries
            .iter()
            .filter(|entry| entry.section == section)
            .collect();
        if lines.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{} {title}\n", "#".repeat(level));
        for entry in lines {
            let _ = writeln!(out, "- {} <!-- {} -->", entry.line, origin(&entry.origin));
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_common_folder_is_found_only_when_every_path_shares_it() {
        let paths = |list: &[&str]| {
            list.iter()
                .map(|path| (*path).to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            common_folder(&paths(&["services/pay/**", "services/pay/api/*.py"])),
            Some(String::from("services/pay"))
        );
        assert_eq!(common_folder(&paths(&["src/a/**", "lib/b/**"])), None);
        assert_eq!(common_folder(&paths(&["**/*.py"])), None);
        assert_eq!(
            common_folder(&paths(&["domains/src/orders.py"])),
            Some(String::from("domains/src"))
        );
    }
}
