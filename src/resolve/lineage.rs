//! The one layer order: which layers a scope has, in order, and which earlier layers
//! each one may override with plain keys (its lineage). Bundles, gate selection and
//! validation's override checks all take their layers from here.
//!
//! For a feature: org → its domains (the feature's order, then the domains of its
//! services) → the strategies whose domain sets those domains cover (smaller sets first,
//! then in declaration order) → one integration layer per service (the service's `integration_patterns`
//! plus the `shared_patterns` of every service it depends on) → its services → the
//! feature itself.

use crate::config::workspace::{
    ConstraintItem, Domain, ExampleItem, ExtensionItem, Feature, GateItem, Items, LayerKind,
    Origin, PatternItem, Service, Strategy, Workspace,
};
use crate::ids::LayerId;

/// A pattern as it enters a layer, with the service that published it (shared patterns
/// in an integration layer).
#[derive(Debug, Clone, Copy)]
pub struct PlannedPattern<'w> {
    pub item: &'w PatternItem,
    pub from_service: Option<&'w str>,
}

/// One layer of a bundle, before merging.
#[derive(Debug, Clone)]
pub struct LayerPlan<'w> {
    pub id: LayerId,
    pub origin: Origin,
    pub description: Option<&'w str>,
    pub patterns: Vec<PlannedPattern<'w>>,
    pub constraints: Vec<&'w ConstraintItem>,
    pub gates: Vec<&'w GateItem>,
    pub examples: Vec<&'w ExampleItem>,
    /// Commands whose output becomes items of this layer (not merged).
    pub extensions: Vec<&'w ExtensionItem>,
    /// Indices of earlier layers whose items this layer's plain keys override.
    pub lineage: Vec<usize>,
    /// Why a layer that is not named by the request is in it (a strategy's domain set).
    pub why: Option<String>,
}

impl<'w> LayerPlan<'w> {
    fn new(
        kind: LayerKind,
        name: &str,
        origin: &Origin,
        description: Option<&'w str>,
        items: &'w Items,
    ) -> Self {
        Self {
            id: LayerId::new(kind, name),
            origin: origin.clone(),
            description,
            patterns: items
                .patterns
                .iter()
                .map(|item| PlannedPattern {
                    item,
                    from_service: None,
                })
                .collect(),
            constraints: items.constraints.iter().collect(),
            gates: items.quality_gates.iter().collect(),
            examples: items.examples.iter().collect(),
            extensions: items.extensions.iter().collect(),
            lineage: Vec::new(),
            why: None,
        }
    }
}

/// What a bundle covers: a declared feature and/or explicit domains and services.
#[derive(Debug, Clone, Default)]
pub struct Scope<'w> {
    /// The declared feature, if any (its layer comes last).
    pub feature: Option<&'w Feature>,
    /// Domains, in order (a feature's first, then any added).
    pub domains: Vec<&'w Domain>,
    /// Services, in order.
    pub services: Vec<&'w Service>,
}

impl<'w> Scope<'w> {
    /// A declared feature's scope: its domains and services.
    pub fn of_feature(workspace: &'w Workspace, feature: &'w Feature) -> Self {
        let mut scope = Self {
            feature: Some(feature),
            ..Self::default()
        };
        for name in &feature.domains {
            scope.add_domain(workspace.domain(name.as_str()));
        }
        for name in &feature.services {
            scope.add_service(workspace.service(name.as_str()));
        }
        scope
    }

    pub fn add_domain(&mut self, domain: Option<&'w Domain>) {
        if let Some(domain) = domain
            && !self.domains.iter().any(|known| known.name == domain.name)
        {
            self.domains.push(domain);
        }
    }

    pub fn add_service(&mut self, service: Option<&'w Service>) {
        if let Some(service) = service
            && !self.services.iter().any(|known| known.name == service.name)
        {
            self.services.push(service);
        }
    }
}

/// The layers of a scope, least specific first: org → domains (then the services'
/// domains) → the strategies those domains cover → one integration layer per service →
/// services → the feature, if declared.
pub fn for_scope<'w>(workspace: &'w Workspace, scope: &Scope<'w>) -> Vec<LayerPlan<'w>> {
    let services = &scope.services;
    let mut domains: Vec<&Domain> = scope.domains.clone();
    for service in services {
        if let Some(domain) = service
            .domain
            .as_ref()
            .and_then(|name| workspace.domain(name.as_str()))
            && !domains.iter().any(|known| known.name == domain.name)
        {
            domains.push(domain);
        }
    }
    let mut layers = Vec::new();
    let org = org_layer(workspace, &mut layers);
    let names: Vec<&str> = domains.iter().map(|domain| domain.name.as_str()).collect();
    for domain in domains {
        let mut layer = LayerPlan::new(
            LayerKind::Domain,
            domain.name.as_str(),
            &domain.origin,
            domain.description.as_deref(),
            &domain.items,
        );
        layer.lineage.extend(org);
        layers.push(layer);
    }
    strategy_layers(&applying(workspace, &names), org, &mut layers);
    for service in services {
        layers.push(integration_layer(workspace, service));
    }
    for service in services {
        let mut layer = service_layer(service);
        layer.lineage.extend(org);
        let own_domain = service.domain.as_ref().and_then(|domain| {
            layers.iter().position(|candidate| {
                candidate.id.kind == LayerKind::Domain && *candidate.id.name == *domain.as_str()
            })
        });
        layer.lineage.extend(own_domain);
        layers.push(layer);
    }
    if let Some(feature) = scope.feature {
        let mut layer = LayerPlan::new(
            LayerKind::Feature,
            feature.name.as_str(),
            &feature.origin,
            feature.description.as_deref(),
            &feature.items,
        );
        layer.lineage.extend(org);
        layers.push(layer);
    }
    layers
}

/// The strategies a bundle with these domains takes: those whose domain set they cover,
/// smaller sets first, then in declaration order.
pub fn applying<'w>(workspace: &'w Workspace, domains: &[&str]) -> Vec<&'w Strategy> {
    let mut found: Vec<&Strategy> = workspace
        .strategies
        .iter()
        .filter(|strategy| !strategy.domains.is_empty() && strategy.applies_to(domains))
        .collect();
    found.sort_by_key(|strategy| strategy.domains.len());
    found
}

/// One synthesis layer per strategy, right after the domains. A strategy's plain keys
/// override the org's, its own domains' and those of an earlier strategy whose domain set
/// is a strict subset of its own (a meeting of more domains is more specific).
fn strategy_layers<'w>(
    strategies: &[&'w Strategy],
    org: Option<usize>,
    layers: &mut Vec<LayerPlan<'w>>,
) {
    let first = layers.len();
    for (at, strategy) in strategies.iter().enumerate() {
        let mut layer = LayerPlan::new(
            LayerKind::Strategy,
            strategy.name.as_str(),
            &strategy.origin,
            strategy.description.as_deref(),
            &strategy.items,
        );
        let names: Vec<String> = strategy
            .domains
            .iter()
            .map(|name| format!("`{name}`"))
            .collect();
        layer.why = Some(format!(
            "the bundle's domains include all of {}",
            names.join(", ")
        ));
        layer.lineage.extend(org);
        layer
            .lineage
            .extend(layers.iter().enumerate().filter_map(|(index, candidate)| {
                (candidate.id.kind == LayerKind::Domain
                    && strategy
                        .domains
                        .iter()
                        .any(|name| *name.as_str() == *candidate.id.name))
                .then_some(index)
            }));
        layer.lineage.extend(
            strategies[..at]
                .iter()
                .enumerate()
                .filter_map(|(index, earlier)| {
                    (earlier.domains.len() < strategy.domains.len()
                        && earlier
                            .domains
                            .iter()
                            .all(|name| strategy.domains.contains(name)))
                    .then_some(first + index)
                }),
        );
        layers.push(layer);
    }
}

fn org_layer<'w>(workspace: &'w Workspace, layers: &mut Vec<LayerPlan<'w>>) -> Option<usize> {
    let org = workspace.org.as_ref()?;
    layers.push(LayerPlan::new(
        LayerKind::Org,
        org.name.as_str(),
        &org.origin,
        org.description.as_deref(),
        &org.items,
    ));
    Some(layers.len() - 1)
}

fn service_layer(service: &Service) -> LayerPlan<'_> {
    LayerPlan::new(
        LayerKind::Service,
        service.name.as_str(),
        &service.origin,
        service.description.as_deref(),
        &service.items,
    )
}

/// S's integration layer: its `integration_patterns`, then the `shared_patterns` of each
/// service it depends on, in `depends_on` order.
fn integration_layer<'w>(workspace: &'w Workspace, service: &'w Service) -> LayerPlan<'w> {
    let mut patterns: Vec<PlannedPattern<'w>> = service
        .integration_patterns
        .iter()
        .map(|item| PlannedPattern {
            item,
            from_service: None,
        })
        .collect();
    for dependency in service
        .depends_on
        .iter()
        .filter_map(|name| workspace.service(name.as_str()))
    {
        patterns.extend(
            dependency
                .shared_patterns
                .iter()
                .map(|item| PlannedPattern {
                    item,
                    from_service: Some(dependency.name.as_str()),
                }),
        );
    }
    LayerPlan {
        id: LayerId::new(LayerKind::Integration, service.name.as_str()),
        origin: service.origin.clone(),
        description: None,
        patterns,
        constraints: Vec::new(),
        gates: Vec::new(),
        examples: Vec::new(),
        extensions: Vec::new(),
        lineage: Vec::new(),
        why: None,
    }
}
