//! What the workspace declares, by kind: the rows of `ctx list` (`ctx.list/v1`), each
//! with the origin of its declaration.

use serde::Serialize;

use crate::config::workspace::{GateItem, ItemKey, Items, LayerKind, Origin, Workspace};
use crate::ids::{GateId, LayerId};
use crate::resolve::lineage::{self, LayerPlan, Scope};

/// What to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingKind {
    Domains,
    Services,
    Features,
    Strategies,
    Agents,
    Gates,
}

/// One row of any listing: the JSON form, also rendered as a table.
#[derive(Debug, Serialize)]
pub struct Row {
    pub name: String,
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub origin: Origin,
}

/// `ctx.list/v1`.
#[derive(Debug, Serialize)]
pub struct Listing {
    pub schema: &'static str,
    pub kind: &'static str,
    /// The fields of each row, in table order.
    #[serde(skip)]
    pub columns: &'static [&'static str],
    pub items: Vec<Row>,
}

/// The listing of one kind.
pub fn of(workspace: &Workspace, kind: ListingKind) -> Listing {
    let (kind, columns, items) = match kind {
        ListingKind::Domains => (
            "domains",
            &["owners", "keywords", "paths", "items"][..],
            domains(workspace),
        ),
        ListingKind::Services => (
            "services",
            &["domain", "depends_on", "paths", "items"][..],
            services(workspace),
        ),
        ListingKind::Features => (
            "features",
            &["domains", "services", "phases", "inputs"][..],
            features(workspace),
        ),
        ListingKind::Strategies => (
            "strategies",
            &["domains", "phases", "items"][..],
            strategies(workspace),
        ),
        ListingKind::Agents => (
            "agents",
            &["topics", "sections", "budget"][..],
            agents(workspace),
        ),
        ListingKind::Gates => (
            "gates",
            &["run", "overrides", "timeout", "blocking"][..],
            gates(workspace),
        ),
    };
    Listing {
        schema: "ctx.list/v1",
        kind,
        columns,
        items,
    }
}

fn row(name: impl Into<String>, origin: &Origin, fields: Vec<(&str, serde_json::Value)>) -> Row {
    Row {
        name: name.into(),
        fields: fields
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect(),
        origin: origin.clone(),
    }
}

fn strings<T: ToString>(values: &[T]) -> serde_json::Value {
    serde_json::Value::from(values.iter().map(ToString::to_string).collect::<Vec<_>>())
}

fn item_counts(items: &Items) -> serde_json::Value {
    serde_json::json!({
        "patterns": items.patterns.len(),
        "constraints": items.constraints.len(),
        "quality_gates": items.quality_gates.len(),
        "examples": items.examples.len(),
    })
}

fn domains(workspace: &Workspace) -> Vec<Row> {
    workspace
        .domains
        .iter()
        .map(|domain| {
            row(
                domain.name.as_str(),
                &domain.origin,
                vec![
                    ("owners", strings(&domain.owners)),
                    ("keywords", strings(&domain.keywords)),
                    ("paths", strings(&domain.paths)),
                    ("items", item_counts(&domain.items)),
                ],
            )
        })
        .collect()
}

fn strategies(workspace: &Workspace) -> Vec<Row> {
    workspace
        .strategies
        .iter()
        .map(|strategy| {
            row(
                strategy.name.as_str(),
                &strategy.origin,
                vec![
                    ("domains", strings(&strategy.domains)),
                    (
                        "phases",
                        strings(
                            &strategy
                                .phases
                                .iter()
                                .map(|phase| phase.name.as_str())
                                .collect::<Vec<_>>(),
                        ),
                    ),
                    ("items", item_counts(&strategy.items)),
                ],
            )
        })
        .collect()
}

fn services(workspace: &Workspace) -> Vec<Row> {
    workspace
        .services
        .iter()
        .map(|service| {
            let mut items = item_counts(&service.items);
            items["shared_patterns"] = service.shared_patterns.len().into();
            items["integration_patterns"] = service.integration_patterns.len().into();
            row(
                service.name.as_str(),
                &service.origin,
                vec![
                    (
                        "domain",
                        service
                            .domain
                            .as_ref()
                            .map_or(serde_json::Value::Null, |name| name.to_string().into()),
                    ),
                    ("depends_on", strings(&service.depends_on)),
                    ("paths", strings(&service.paths)),
                    ("items", items),
                ],
            )
        })
        .collect()
}

fn features(workspace: &Workspace) -> Vec<Row> {
    workspace
        .features
        .iter()
        .map(|feature| {
            let phases: Vec<&str> = feature
                .phases
                .iter()
                .map(|phase| phase.name.as_str())
                .collect();
            let inputs: Vec<&str> = feature
                .inputs
                .iter()
                .map(|input| input.key.as_str())
                .collect();
            row(
                feature.name.as_str(),
                &feature.origin,
                vec![
                    ("domains", strings(&feature.domains)),
                    ("services", strings(&feature.services)),
                    ("phases", strings(&phases)),
                    ("inputs", strings(&inputs)),
                ],
            )
        })
        .collect()
}

fn agents(workspace: &Workspace) -> Vec<Row> {
    workspace
        .agents
        .iter()
        .map(|agent| {
            let sections = agent
                .sections
                .as_ref()
                .map_or(serde_json::Value::Null, |sections| {
                    serde_json::to_value(sections).unwrap_or(serde_json::Value::Null)
                });
            row(
                agent.name.as_str(),
                &agent.origin,
                vec![
                    ("topics", strings(&agent.topics)),
                    ("sections", sections),
                    (
                        "budget",
                        agent
                            .budget
                            .map_or(serde_json::Value::Null, serde_json::Value::from),
                    ),
                ],
            )
        })
        .collect()
}

fn gates(workspace: &Workspace) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut add = |layer: LayerId, gates: &[GateItem]| {
        // Private (`audience`) gates are not listed: their names are theirs.
        for gate in gates.iter().filter(|gate| gate.meta.audience.is_empty()) {
            // An override without `run` runs the inherited command: show that, and which
            // gate it comes from.
            let inherited = inherited_gate(workspace, &layer, &gate.meta.key);
            let run = gate
                .run
                .clone()
                .or_else(|| inherited.as_ref().map(|(_, run)| run.clone()));
            let overrides = match (&inherited, &gate.meta.key) {
                (Some((id, _)), _) => id.to_string().into(),
                (None, ItemKey::Qualified { layer, key }) => format!("{layer}/{key}").into(),
                (None, ItemKey::Plain(_)) => serde_json::Value::Null,
            };
            rows.push(row(
                GateId::new(layer.clone(), gate.meta.key.to_string()).to_string(),
                &gate.meta.origin,
                vec![
                    (
                        "run",
                        run.map_or(serde_json::Value::Null, serde_json::Value::from),
                    ),
                    ("overrides", overrides),
                    (
                        "timeout",
                        gate.timeout.map_or(serde_json::Value::Null, |timeout| {
                            humantime::format_duration(timeout).to_string().into()
                        }),
                    ),
                    ("blocking", gate.blocking.unwrap_or(true).into()),
                ],
            ));
        }
    };
    if let Some(org) = &workspace.org {
        add(
            LayerId::new(LayerKind::Org, org.name.as_str()),
            &org.items.quality_gates,
        );
    }
    for domain in &workspace.domains {
        add(
            LayerId::new(LayerKind::Domain, domain.name.as_str()),
            &domain.items.quality_gates,
        );
    }
    for strategy in &workspace.strategies {
        add(
            LayerId::new(LayerKind::Strategy, strategy.name.as_str()),
            &strategy.items.quality_gates,
        );
    }
    for service in &workspace.services {
        add(
            LayerId::new(LayerKind::Service, service.name.as_str()),
            &service.items.quality_gates,
        );
    }
    for feature in &workspace.features {
        add(
            LayerId::new(LayerKind::Feature, feature.name.as_str()),
            &feature.items.quality_gates,
        );
    }
    rows
}

/// The gate a declaration in `layer` overrides, with its command: `<layer>/<key>` names
/// a layer of its scope; a plain key is the nearest of that name along the layer's
/// lineage (the one order of `resolve::lineage`).
fn inherited_gate(
    workspace: &Workspace,
    layer: &LayerId,
    key: &ItemKey,
) -> Option<(GateId, String)> {
    let mut scope = Scope::default();
    match layer.kind {
        LayerKind::Feature => scope = Scope::of_feature(workspace, workspace.feature(&layer.name)?),
        LayerKind::Service => scope.add_service(workspace.service(&layer.name)),
        LayerKind::Domain => scope.add_domain(workspace.domain(&layer.name)),
        LayerKind::Strategy => {
            for name in &workspace.strategy(&layer.name)?.domains {
                scope.add_domain(workspace.domain(name.as_str()));
            }
        }
        _ => {}
    }
    let plans = lineage::for_scope(workspace, &scope);
    let gate_in = |plan: &LayerPlan<'_>, key: &str| {
        let gate = plan.gates.iter().find(|gate| {
            gate.meta.key.key() == key && matches!(gate.meta.key, ItemKey::Plain(_))
        })?;
        Some((
            GateId::new(plan.id.clone(), key.to_owned()),
            gate.run.clone()?,
        ))
    };
    match key {
        ItemKey::Qualified { layer: name, key } => plans
            .iter()
            .filter(|plan| {
                *plan.id.name == **name
                    && matches!(plan.id.kind, LayerKind::Domain | LayerKind::Service)
            })
            .find_map(|plan| gate_in(plan, key)),
        ItemKey::Plain(key) => {
            let own = plans.iter().find(|plan| plan.id == *layer)?;
            own.lineage
                .iter()
                .rev()
                .find_map(|&index| gate_in(&plans[index], key))
        }
    }
}
