//! Which gates run: the merged gates of the selected scopes (a feature, `--domain`,
//! `--service`, `--all`), deduplicated by id, each with the reason it was selected;
//! `--changed` keeps those whose layer owns a file changed since the merge base.

use std::time::Duration;

use serde::Serialize;

use crate::config::workspace::{Feature, GateInputs, LayerKind, Origin, Section, Workspace};
use crate::date::Date;
use crate::ids::GateId;
use crate::paths::Glob;
use crate::process;
use crate::resolve::lineage::{self as layer, Scope};
use crate::resolve::merge::{self, Payload, Status};

/// A gate chosen to run.
#[derive(Debug, Clone)]
pub struct SelectedGate {
    /// `domain:payment/payment-tests`: the layer whose merged gate it is, and its key.
    pub id: GateId,
    pub run: String,
    pub timeout: Option<Duration>,
    pub cwd: Option<String>,
    pub env: Vec<(String, String)>,
    pub blocking: bool,
    pub origin: Origin,
    /// Why it was selected.
    pub reason: String,
    /// What a cached pass is keyed on (`None`: always runs).
    pub inputs: Option<GateInputs>,
    /// Its resource group.
    pub group: Option<String>,
    /// How many times a failure is run again.
    pub retries: u32,
}

impl SelectedGate {
    /// The command as reports and the terminal show it: secrets redacted (the gate
    /// still runs the real one).
    pub fn shown_run(&self) -> String {
        crate::secrets::scrub(&self.run).0
    }
}

impl Serialize for SelectedGate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut gate = serializer.serialize_struct("SelectedGate", 8)?;
        gate.serialize_field("id", &self.id)?;
        gate.serialize_field("scope", &self.id.layer.to_string())?;
        gate.serialize_field("key", &self.id.key)?;
        gate.serialize_field("run", &self.shown_run())?;
        gate.serialize_field("cwd", &self.cwd)?;
        gate.serialize_field("blocking", &self.blocking)?;
        gate.serialize_field("origin", &self.origin)?;
        gate.serialize_field("reason", &self.reason)?;
        gate.end()
    }
}

/// What the command line selected.
#[derive(Debug, Clone, Default)]
pub struct Request<'w> {
    pub feature: Option<&'w Feature>,
    pub scope: Scope<'w>,
    pub all: bool,
}

/// The selected gates in run order (selection order, deduplicated by id).
pub fn select(workspace: &Workspace, request: &Request<'_>, today: Date) -> Vec<SelectedGate> {
    let mut gates: Vec<SelectedGate> = Vec::new();
    let add = |gates: &mut Vec<SelectedGate>, found: Vec<SelectedGate>| {
        for gate in found {
            if !gates.iter().any(|known| known.id == gate.id) {
                gates.push(gate);
            }
        }
    };
    if let Some(feature) = request.feature {
        let scope = Scope::of_feature(workspace, feature);
        add(
            &mut gates,
            gates_of(
                workspace,
                &scope,
                today,
                &format!("gate of feature `{}`", feature.name),
            ),
        );
    }
    for domain in &request.scope.domains {
        let scope = Scope {
            domains: vec![domain],
            ..Scope::default()
        };
        add(
            &mut gates,
            gates_of(
                workspace,
                &scope,
                today,
                &format!("`--domain {}`", domain.name),
            ),
        );
    }
    for service in &request.scope.services {
        let scope = Scope {
            services: vec![service],
            ..Scope::default()
        };
        add(
            &mut gates,
            gates_of(
                workspace,
                &scope,
                today,
                &format!("`--service {}`", service.name),
            ),
        );
    }
    if request.all {
        let mut scope = Scope::default();
        for domain in &workspace.domains {
            scope.add_domain(Some(domain));
        }
        for service in &workspace.services {
            scope.add_service(Some(service));
        }
        add(&mut gates, gates_of(workspace, &scope, today, "`--all`"));
        for feature in &workspace.features {
            let scope = Scope::of_feature(workspace, feature);
            // A feature's own gates; an override that runs the same command where an
            // inherited gate already runs it (say, one that only changes `timeout`) is
            // that gate again, not a second run.
            let own: Vec<SelectedGate> = merged_gates(workspace, &scope, today, "`--all`")
                .into_iter()
                .filter(|(gate, overrides)| {
                    gate.id.layer.kind == LayerKind::Feature
                        && !(*overrides
                            && gates.iter().any(|known| {
                                known.run == gate.run
                                    && known.cwd == gate.cwd
                                    && known.env == gate.env
                            }))
                })
                .map(|(gate, _)| gate)
                .collect();
            add(&mut gates, own);
        }
    }
    gates
}

/// The merged, live gates of one scope.
fn gates_of(workspace: &Workspace, scope: &Scope<'_>, today: Date, why: &str) -> Vec<SelectedGate> {
    merged_gates(workspace, scope, today, why)
        .into_iter()
        .map(|(gate, _)| gate)
        .collect()
}

/// The merged, live gates of one scope, each with whether it overrides an inherited one.
fn merged_gates(
    workspace: &Workspace,
    scope: &Scope<'_>,
    today: Date,
    why: &str,
) -> Vec<(SelectedGate, bool)> {
    let plans = layer::for_scope(workspace, scope);
    let merged = merge::merge(&plans, today);
    merged
        .items
        .iter()
        .filter(|item| item.section == Section::QualityGates && item.status == Status::Included)
        .filter_map(|item| {
            let Payload::Gate {
                run,
                timeout,
                cwd,
                env,
                blocking,
                inputs,
                group,
                retries,
            } = &item.payload
            else {
                return None;
            };
            let layer = merged.layers[item.layer].clone();
            Some((
                SelectedGate {
                    run: run.clone()?,
                    timeout: *timeout,
                    cwd: cwd.clone(),
                    env: env.clone(),
                    blocking: blocking.unwrap_or(true),
                    inputs: inputs.clone(),
                    group: group.clone(),
                    retries: retries.unwrap_or(0),
                    origin: item.origin.clone(),
                    reason: format!(
                        "{why} (declared in {} `{}`)",
                        layer.kind.describe(),
                        layer.name
                    ),
                    id: GateId::new(layer, item.key.clone()),
                },
                !item.overrides.is_empty(),
            ))
        })
        .collect()
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
    Ok(files)
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

/// Keep the gates whose layer owns a changed file (domain `match.paths`, service
/// `paths`); org gates run when anything changed; a feature's gates when one of its
/// domains or services did.
pub fn keep_changed(
    workspace: &Workspace,
    gates: Vec<SelectedGate>,
    changed: &[String],
) -> Vec<SelectedGate> {
    let owned = |globs: &[String]| -> Option<String> {
        for glob in globs {
            let Ok(matcher) = Glob::new(glob) else {
                continue;
            };
            if let Some(file) = changed.iter().find(|file| matcher.is_match(file)) {
                return Some(format!("`{file}` matches `{glob}`"));
            }
        }
        None
    };
    let domain_hit = |name: &str| {
        workspace
            .domain(name)
            .and_then(|domain| owned(&domain.paths))
    };
    // A service is hit by its own files, or by those of a service it depends on,
    // directly or not (the first dependency hit, breadth first, with the chain).
    let service_hit = |name: &str| -> Option<String> {
        let service = workspace.service(name)?;
        if let Some(hit) = owned(&service.paths) {
            return Some(hit);
        }
        let mut seen = vec![name.to_owned()];
        let mut queue: std::collections::VecDeque<(String, Vec<String>)> = service
            .depends_on
            .iter()
            .map(|dependency| (dependency.to_string(), vec![dependency.to_string()]))
            .collect();
        while let Some((current, chain)) = queue.pop_front() {
            if seen.contains(&current) {
                continue;
            }
            seen.push(current.clone());
            let Some(dependency) = workspace.service(&current) else {
                continue;
            };
            if let Some(hit) = owned(&dependency.paths) {
                let chain: Vec<String> = chain.iter().map(|name| format!("`{name}`")).collect();
                return Some(format!("depends on {}, where {hit}", chain.join(" → ")));
            }
            for next in &dependency.depends_on {
                let mut longer = chain.clone();
                longer.push(next.to_string());
                queue.push_back((next.to_string(), longer));
            }
        }
        None
    };
    gates
        .into_iter()
        .filter_map(|mut gate| {
            let hit = match gate.id.layer.kind {
                LayerKind::Org => changed
                    .first()
                    .map(|file| format!("`{file}` changed (org gates run on any change)")),
                LayerKind::Domain => domain_hit(&gate.id.layer.name),
                LayerKind::Service | LayerKind::Integration => service_hit(&gate.id.layer.name),
                // Where domains meet, a change on either side may break the meeting.
                LayerKind::Strategy => {
                    workspace
                        .strategy(&gate.id.layer.name)
                        .and_then(|strategy| {
                            strategy
                                .domains
                                .iter()
                                .find_map(|name| domain_hit(name.as_str()))
                        })
                }
                LayerKind::Feature => workspace.feature(&gate.id.layer.name).and_then(|feature| {
                    feature
                        .domains
                        .iter()
                        .find_map(|name| domain_hit(name.as_str()))
                        .or_else(|| {
                            feature
                                .services
                                .iter()
                                .find_map(|name| service_hit(name.as_str()))
                        })
                }),
            }?;
            gate.reason = format!("{}; changed: {hit}", gate.reason);
            Some(gate)
        })
        .collect()
}
