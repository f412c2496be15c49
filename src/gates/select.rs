//! Which gates run: the merged gates of the selected scopes (a feature, `--domain`,
//! `--service`, `--all`), deduplicated by id, each with the reason it was selected;
//! `--changed` keeps those whose layer owns a file changed since the merge base.

use std::time::Duration;

use serde::Serialize;

use crate::config::workspace::{Feature, GateInputs, LayerKind, Origin, Section, Workspace};
use crate::date::Date;
use crate::ids::GateId;
use crate::paths::Glob;
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

/// The domains and services that own changed files (domain `match.paths`, service
/// `paths`, a service also through what it depends on, transitively), in declaration
/// order, each with why. `ctx gates --changed` keeps their gates; `ctx bundle --changed`
/// takes them as its scope.
#[derive(Debug, Clone, Default)]
pub struct Owners {
    pub domains: Vec<(String, String)>,
    pub services: Vec<(String, String)>,
}

impl Owners {
    pub fn of(workspace: &Workspace, changed: &[String]) -> Self {
        // Each glob compiled once (a service's are met again through its dependants).
        let matchers: rustc_hash::FxHashMap<&str, Glob> = workspace
            .domains
            .iter()
            .flat_map(|domain| &domain.paths)
            .chain(workspace.services.iter().flat_map(|service| &service.paths))
            .filter_map(|glob| Some((glob.as_str(), Glob::new(glob).ok()?)))
            .collect();
        let owned = |globs: &[String]| -> Option<String> {
            for glob in globs {
                let Some(matcher) = matchers.get(glob.as_str()) else {
                    continue;
                };
                if let Some(file) = changed.iter().find(|file| matcher.is_match(file)) {
                    return Some(format!("`{file}` matches `{glob}`"));
                }
            }
            None
        };
        // A service is hit by its own files, or by those of a service it depends on,
        // directly or not (the first dependency hit, breadth first, with the chain).
        let service_hit = |service: &crate::config::workspace::Service| -> Option<String> {
            if let Some(hit) = owned(&service.paths) {
                return Some(hit);
            }
            let mut seen = vec![service.name.to_string()];
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
        Self {
            domains: workspace
                .domains
                .iter()
                .filter_map(|domain| Some((domain.name.to_string(), owned(&domain.paths)?)))
                .collect(),
            services: workspace
                .services
                .iter()
                .filter_map(|service| Some((service.name.to_string(), service_hit(service)?)))
                .collect(),
        }
    }

    /// Why domain `name` owns a change, if it does.
    pub fn domain(&self, name: &str) -> Option<String> {
        self.domains
            .iter()
            .find(|(domain, _)| domain == name)
            .map(|(_, why)| why.clone())
    }

    /// Why service `name` owns a change, if it does.
    pub fn service(&self, name: &str) -> Option<String> {
        self.services
            .iter()
            .find(|(service, _)| service == name)
            .map(|(_, why)| why.clone())
    }
}

/// Keep the gates whose layer owns a changed file (see [`Owners`]); org gates run when
/// anything changed; a strategy's when one of its domains did; a feature's when one of
/// its domains or services did.
pub fn keep_changed(
    workspace: &Workspace,
    gates: Vec<SelectedGate>,
    changed: &[String],
) -> Vec<SelectedGate> {
    let owners = Owners::of(workspace, changed);
    gates
        .into_iter()
        .filter_map(|mut gate| {
            let hit = match gate.id.layer.kind {
                LayerKind::Org => changed
                    .first()
                    .map(|file| format!("`{file}` changed (org gates run on any change)")),
                LayerKind::Domain => owners.domain(&gate.id.layer.name),
                LayerKind::Service | LayerKind::Integration => owners.service(&gate.id.layer.name),
                // Where domains meet, a change on either side may break the meeting.
                LayerKind::Strategy => {
                    workspace
                        .strategy(&gate.id.layer.name)
                        .and_then(|strategy| {
                            strategy
                                .domains
                                .iter()
                                .find_map(|name| owners.domain(name.as_str()))
                        })
                }
                // Declares no gates.
                LayerKind::Execution => None,
                LayerKind::Feature => workspace.feature(&gate.id.layer.name).and_then(|feature| {
                    feature
                        .domains
                        .iter()
                        .find_map(|name| owners.domain(name.as_str()))
                        .or_else(|| {
                            feature
                                .services
                                .iter()
                                .find_map(|name| owners.service(name.as_str()))
                        })
                }),
            }?;
            gate.reason = format!("{}; changed: {hit}", gate.reason);
            Some(gate)
        })
        .collect()
}
