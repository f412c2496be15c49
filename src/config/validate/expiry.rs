//! Expiry: items that expired (left out of bundles) or expire soon are warnings.

use crate::config::diagnostic::{Location, Problem};
use crate::config::workspace::{
    ConstraintItem, GateItem, ItemMeta, Origin, PatternItem, Section, Workspace,
};
use crate::date::Date;

/// Days ahead of `expires` that `ctx validate` starts warning.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// Items that expired (dropped from bundles) or expire within 30 days.
pub(super) fn check(
    workspace: &Workspace,
    today: Date,
    at: &dyn Fn(&Origin) -> Location,
    problems: &mut Vec<Problem>,
) {
    let soon = today.plus_days(EXPIRY_WARNING_DAYS);
    for (section, meta) in all_metas(workspace) {
        let Some(expires) = meta.expires else {
            continue;
        };
        let name = format!("{}.{}", section.as_str(), meta.key);
        if expires < today {
            problems.push(
                Problem::warning(
                    "config::expired",
                    at(&meta.origin),
                    format!("`{name}` expired on {expires} and is left out of bundles"),
                )
                .help("renew it with a later `expires`, or delete it"),
            );
        } else if expires <= soon {
            let days = expires.days_since_epoch() - today.days_since_epoch();
            problems.push(
                Problem::warning(
                    "config::expires-soon",
                    at(&meta.origin),
                    format!("`{name}` expires on {expires} (in {days} days)"),
                )
                .help("renew it with a later `expires` if it still applies"),
            );
        }
    }
}

/// The metadata of every item in the workspace, with its section.
pub fn all_metas(workspace: &Workspace) -> Vec<(Section, &ItemMeta)> {
    let mut metas = Vec::new();
    let item_sets = workspace
        .org
        .iter()
        .map(|org| &org.items)
        .chain(workspace.domains.iter().map(|domain| &domain.items))
        .chain(workspace.strategies.iter().map(|strategy| &strategy.items))
        .chain(workspace.services.iter().map(|service| &service.items))
        .chain(workspace.features.iter().map(|feature| &feature.items));
    for items in item_sets {
        metas.extend(
            items
                .patterns
                .iter()
                .map(|item: &PatternItem| (Section::Patterns, &item.meta)),
        );
        metas.extend(
            items
                .constraints
                .iter()
                .map(|item: &ConstraintItem| (Section::Constraints, &item.meta)),
        );
        metas.extend(
            items
                .quality_gates
                .iter()
                .map(|item: &GateItem| (Section::QualityGates, &item.meta)),
        );
    }
    for service in &workspace.services {
        metas.extend(
            service
                .shared_patterns
                .iter()
                .chain(&service.integration_patterns)
                .map(|item| (Section::Patterns, &item.meta)),
        );
    }
    let phases = workspace
        .features
        .iter()
        .flat_map(|feature| &feature.phases)
        .chain(
            workspace
                .strategies
                .iter()
                .flat_map(|strategy| &strategy.phases),
        );
    for phase in phases {
        metas.extend(
            phase
                .constraints
                .iter()
                .map(|item| (Section::Constraints, &item.meta)),
        );
    }
    metas
}
