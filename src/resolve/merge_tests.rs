//! Tests of the merge rules, one per rule, on workspaces loaded from YAML, and property
//! tests on generated layer plans.

use proptest::prelude::*;

use super::*;
use crate::config::workspace::{
    ConstraintItem, ItemKey, ItemMeta, LayerKind, Origin, Section, Workspace,
};
use crate::resolve::lineage as layer;

const TODAY: &str = "2026-11-21";

/// A workspace from `(path, text)` files; every file is validated, errors fail the test.
fn workspace(files: &[(&str, &str)]) -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    let validation = crate::config::open(Some(dir.path()), Date::parse(TODAY).unwrap()).unwrap();
    assert!(!validation.has_errors(), "{:#?}", validation.problems);
    (dir, validation.workspace)
}

fn merged(workspace: &Workspace, feature: &str) -> Merged {
    let feature = workspace.feature(feature).unwrap();
    merge(
        &layer::for_scope(workspace, &layer::Scope::of_feature(workspace, feature)),
        Date::parse(TODAY).unwrap(),
    )
}

fn find<'m>(merged: &'m Merged, layer: &str, section: Section, key: &str) -> Vec<&'m MergedItem> {
    merged
        .items
        .iter()
        .filter(|item| {
            *merged.layers[item.layer].name == *layer && item.section == section && item.key == key
        })
        .collect()
}

fn one<'m>(merged: &'m Merged, layer: &str, section: Section, key: &str) -> &'m MergedItem {
    let found = find(merged, layer, section, key);
    assert_eq!(found.len(), 1, "{layer}/{key}: {found:#?}");
    found[0]
}

const ORG: &str = "kind: org\nname: acme\nconstraints:\n  latency: org-wide p99 1s\n  style: org style\nquality_gates:\n  tests: make test\n";

#[test]
fn rule_1_unrelated_layers_keep_their_own_items() {
    let (_dir, workspace) = workspace(&[
        (
            "domains/a.yaml",
            "kind: domain\nname: a\nconstraints:\n  slo: a is fast\n",
        ),
        (
            "domains/b.yaml",
            "kind: domain\nname: b\nconstraints:\n  slo: b is fast\n",
        ),
        (
            "domains/f.yaml",
            "kind: feature\nname: f\ndomains: [a, b]\n",
        ),
    ]);
    let merged = merged(&workspace, "f");
    assert_eq!(
        one(&merged, "a", Section::Constraints, "slo").status,
        Status::Included
    );
    assert_eq!(
        one(&merged, "b", Section::Constraints, "slo").status,
        Status::Included
    );
}

#[test]
fn rule_2_domain_overrides_org_and_records_it() {
    let (_dir, workspace) = workspace(&[
        ("domains/org.yaml", ORG),
        (
            "domains/a.yaml",
            "kind: domain\nname: a\nconstraints:\n  latency: a p99 200ms\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [a]\n"),
    ]);
    let merged = merged(&workspace, "f");
    let org = one(&merged, "acme", Section::Constraints, "latency");
    let domain = one(&merged, "a", Section::Constraints, "latency");
    assert_eq!(org.status, Status::Overridden);
    assert_eq!(org.overridden_by, vec![domain.origin.clone()]);
    assert_eq!(domain.status, Status::Included);
    assert_eq!(domain.overrides, vec![org.origin.clone()]);
    assert_eq!(
        domain.payload,
        Payload::Constraint {
            text: Some(String::from("a p99 200ms"))
        }
    );
}

#[test]
fn rule_2_service_overrides_its_own_domain_only() {
    let (_dir, workspace) = workspace(&[
        (
            "domains/a.yaml",
            "kind: domain\nname: a\nconstraints:\n  slo: a slo\n",
        ),
        (
            "domains/b.yaml",
            "kind: domain\nname: b\nconstraints:\n  slo: b slo\n",
        ),
        (
            "domains/s.yaml",
            "kind: service\nname: s\ndomain: a\nconstraints:\n  slo: s slo\n",
        ),
        (
            "domains/f.yaml",
            "kind: feature\nname: f\ndomains: [b]\nservices: [s]\n",
        ),
    ]);
    let merged = merged(&workspace, "f");
    assert_eq!(
        one(&merged, "a", Section::Constraints, "slo").status,
        Status::Overridden
    );
    assert_eq!(
        one(&merged, "b", Section::Constraints, "slo").status,
        Status::Included
    );
    assert_eq!(
        one(&merged, "s", Section::Constraints, "slo").status,
        Status::Included
    );
}

#[test]
fn rule_2_feature_overrides_org_but_not_domains() {
    let (_dir, workspace) = workspace(&[
        ("domains/org.yaml", ORG),
        (
            "domains/a.yaml",
            "kind: domain\nname: a\nconstraints:\n  style: a style\n",
        ),
        (
            "domains/f.yaml",
            "kind: feature\nname: f\ndomains: [a]\nconstraints:\n  latency: f latency\n  style: f style\n",
        ),
    ]);
    let merged = merged(&workspace, "f");
    assert_eq!(
        one(&merged, "acme", Section::Constraints, "latency").status,
        Status::Overridden
    );
    // The domain's `style` is not in the feature's plain lineage: both remain.
    assert_eq!(
        one(&merged, "a", Section::Constraints, "style").status,
        Status::Included
    );
    assert_eq!(
        one(&merged, "f", Section::Constraints, "style").status,
        Status::Included
    );
}

#[test]
fn rule_3_qualified_key_changes_one_layer_in_place() {
    let (_dir, workspace) = workspace(&[
        (
            "domains/a.yaml",
            "kind: domain\nname: orders\nquality_gates:\n  email-compiles: make email\n",
        ),
        (
            "domains/b.yaml",
            "kind: domain\nname: other\nquality_gates:\n  email-compiles: make other\n",
        ),
        (
            "domains/f.yaml",
            "kind: feature\nname: f\ndomains: [orders, other]\nquality_gates:\n  orders/email-compiles: { timeout: 30s }\n",
        ),
    ]);
    let merged = merged(&workspace, "f");
    let gate = one(&merged, "orders", Section::QualityGates, "email-compiles");
    assert_eq!(gate.status, Status::Included);
    assert_eq!(gate.changed_by.len(), 1);
    let Payload::Gate { run, timeout, .. } = &gate.payload else {
        panic!("not a gate")
    };
    assert_eq!(run.as_deref(), Some("make email"), "run is inherited");
    assert_eq!(*timeout, Some(Duration::from_secs(30)));
    let other = one(&merged, "other", Section::QualityGates, "email-compiles");
    assert!(other.changed_by.is_empty());
    assert!(find(&merged, "f", Section::QualityGates, "email-compiles").is_empty());
}

#[test]
fn rule_4_override_merges_field_by_field() {
    let (_dir, workspace) = workspace(&[
        ("domains/org.yaml", ORG),
        (
            "domains/a.yaml",
            "kind: domain\nname: a\nquality_gates:\n  tests: { timeout: 5m, env: { CI: \"1\" } }\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [a]\n"),
    ]);
    let merged = merged(&workspace, "f");
    let gate = one(&merged, "a", Section::QualityGates, "tests");
    assert_eq!(
        gate.payload,
        Payload::Gate {
            run: Some(String::from("make test")),
            timeout: Some(Duration::from_secs(300)),
            cwd: None,
            env: vec![(String::from("CI"), String::from("1"))],
            blocking: None,
            inputs: None,
            group: None,
            retries: None,
        }
    );
}

#[test]
fn rule_5_enabled_false_disables_the_inherited_item() {
    let (_dir, workspace) = workspace(&[
        ("domains/org.yaml", ORG),
        (
            "domains/a.yaml",
            "kind: domain\nname: a\nconstraints:\n  style: { enabled: false }\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [a]\n"),
    ]);
    let merged = merged(&workspace, "f");
    let org = one(&merged, "acme", Section::Constraints, "style");
    assert_eq!(org.status, Status::Disabled);
    assert_eq!(org.overridden_by.len(), 1);
    assert!(find(&merged, "a", Section::Constraints, "style").is_empty());
}

#[test]
fn rule_7_expired_items_are_dropped_and_override_nothing() {
    let (_dir, workspace) = workspace(&[
        ("domains/org.yaml", ORG),
        (
            "domains/a.yaml",
            "kind: domain\nname: a\nconstraints:\n  latency: { text: old rule, expires: 2026-01-01 }\n  fresh: { text: new rule, expires: 2027-01-01 }\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\ndomains: [a]\n"),
    ]);
    let merged = merged(&workspace, "f");
    assert_eq!(
        one(&merged, "a", Section::Constraints, "latency").status,
        Status::Expired
    );
    assert_eq!(
        one(&merged, "acme", Section::Constraints, "latency").status,
        Status::Included
    );
    assert_eq!(
        one(&merged, "a", Section::Constraints, "fresh").status,
        Status::Included
    );
}

#[test]
fn rule_8_identical_shared_patterns_appear_once() {
    let (_dir, workspace) = workspace(&[
        ("src/client.py", "x = 1\n"),
        ("src/other.py", "y = 2\n"),
        (
            "domains/a.yaml",
            "kind: service\nname: a\nshared_patterns:\n  client: src/client.py\n  lookup: src/client.py\n",
        ),
        (
            "domains/b.yaml",
            "kind: service\nname: b\nshared_patterns:\n  client: src/client.py\n  lookup: src/other.py\n",
        ),
        (
            "domains/c.yaml",
            "kind: service\nname: c\ndepends_on: [a, b]\n",
        ),
        ("domains/f.yaml", "kind: feature\nname: f\nservices: [c]\n"),
    ]);
    let merged = merged(&workspace, "f");
    let client = find(&merged, "c", Section::Patterns, "client");
    assert_eq!(client.len(), 1);
    assert_eq!(client[0].from_service.as_deref(), Some("a"));
    assert_eq!(client[0].also_from, vec![String::from("b")]);
    let lookup = find(&merged, "c", Section::Patterns, "lookup");
    assert_eq!(
        lookup.len(),
        2,
        "different content appears under each origin"
    );
    assert_eq!(merged.layers[lookup[0].layer].kind, LayerKind::Integration);
}

#[test]
fn rule_9_order_is_deterministic_and_independent_of_declaration_order() {
    let files = [
        ("domains/org.yaml", ORG),
        (
            "domains/a.yaml",
            "kind: domain\nname: a\nconstraints:\n  latency: a\n  one: 1\n  two: 2\n",
        ),
        (
            "domains/b.yaml",
            "kind: domain\nname: b\nconstraints:\n  latency: b\n",
        ),
        (
            "domains/s.yaml",
            "kind: service\nname: s\ndomain: a\n---\nkind: service\nname: t\ndomain: b\n",
        ),
        (
            "domains/f.yaml",
            "kind: feature\nname: f\ndomains: [b, a]\nservices: [t, s]\n",
        ),
    ];
    let (_dir, mut workspace) = workspace(&files);
    let first = merged(&workspace, "f");
    assert_eq!(first, merged(&workspace, "f"), "idempotent");
    let names: Vec<String> = first.layers.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        [
            "org:acme",
            "domain:b",
            "domain:a",
            "integration:t",
            "integration:s",
            "service:t",
            "service:s",
            "feature:f"
        ]
    );
    workspace.domains.reverse();
    workspace.services.reverse();
    assert_eq!(
        first,
        merged(&workspace, "f"),
        "declaration order does not matter"
    );
}

// Property tests on generated layer plans.

fn constraint(layer: usize, index: usize, key: &str, enabled: Option<bool>) -> ConstraintItem {
    ConstraintItem {
        meta: ItemMeta {
            key: ItemKey::Plain(key.to_owned()),
            origin: Origin {
                file: format!("l{layer}.yaml"),
                line: index + 1,
                column: 1,
            },
            enabled,
            is_final: false,
            topics: Vec::new(),
            audience: Vec::new(),
            expires: None,
        },
        text: (enabled != Some(false)).then(|| format!("{key} from {layer}")),
    }
}

/// A generated layer: its lineage (earlier layer indices) and its constraints as
/// `(key index, enabled)`.
type GeneratedLayer = (Vec<usize>, Vec<(usize, Option<bool>)>);

/// Layers with random earlier-layer lineages and random constraints over few keys.
fn plans() -> impl Strategy<Value = Vec<GeneratedLayer>> {
    proptest::collection::vec(
        (
            proptest::collection::vec(0usize..8, 0..3),
            proptest::collection::vec(
                (
                    0usize..4,
                    proptest::option::of(proptest::bool::weighted(0.8)),
                ),
                0..4,
            ),
        ),
        1..7,
    )
}

proptest! {
    #[test]
    fn overrides_never_leave_the_lineage(layers in plans()) {
        let keys = ["a", "b", "c", "d"];
        let items: Vec<Vec<ConstraintItem>> = layers
            .iter()
            .enumerate()
            .map(|(layer, (_, items))| {
                let mut seen = std::collections::HashSet::new();
                items
                    .iter()
                    .enumerate()
                    .filter(|(_, (key, _))| seen.insert(*key))
                    .map(|(index, (key, enabled))| constraint(layer, index, keys[*key], *enabled))
                    .collect()
            })
            .collect();
        let plans: Vec<LayerPlan<'_>> = layers
            .iter()
            .enumerate()
            .map(|(index, (lineage, _))| LayerPlan {
                id: LayerId { kind: LayerKind::Domain, name: format!("l{index}").into() },
                origin: Origin { file: format!("l{index}.yaml"), line: 1, column: 1 },
                description: None,
                patterns: Vec::new(),
                constraints: items[index].iter().collect(),
                gates: Vec::new(),
                examples: Vec::new(),
                extensions: Vec::new(),
                lineage: lineage.iter().copied().filter(|earlier| *earlier < index).collect(),
                why: None,
            })
            .collect();
        let today = Date::parse(TODAY).unwrap();
        let merged = merge(&plans, today);
        prop_assert_eq!(&merged, &merge(&plans, today));
        for item in &merged.items {
            for by in &item.overridden_by {
                // The overrider's layer is named by its file, `l<index>.yaml`.
                let overrider: usize = by.file[1..by.file.len() - 5].parse().unwrap();
                prop_assert!(
                    plans[overrider].lineage.contains(&item.layer),
                    "layer {} overrode layer {} outside its lineage", overrider, item.layer
                );
            }
            if item.status == Status::Included {
                // An included item is never shadowed by a live item of the same key in a
                // later layer whose lineage holds it.
                prop_assert!(item.overridden_by.is_empty());
            }
        }
    }
}

#[test]
fn strategies_form_a_synthesis_layer_after_the_domains_and_override_their_own_domains() {
    let (_dir, workspace) = workspace(&[
        ("domains/org.yaml", ORG),
        (
            "domains/d.yaml",
            "kind: domain\nname: pay\nconstraints:\n  money: pay rule\n  latency: pay is fast\n---\nkind: domain\nname: stock\nconstraints:\n  money: stock rule\n---\nkind: domain\nname: ship\nconstraints:\n  money: ship rule\n",
        ),
        (
            "domains/s.yaml",
            "kind: strategy\nname: pay-stock-ship\ndomains: [pay, stock, ship]\nconstraints:\n  money: all three\n---\nkind: strategy\nname: pay-stock\ndomains: [stock, pay]\nconstraints:\n  money: pay and stock\n  latency: met in 50 ms\n",
        ),
        (
            "domains/f.yaml",
            "kind: feature\nname: f\ndomains: [pay, stock, ship]\n---\nkind: feature\nname: g\ndomains: [pay, ship]\n",
        ),
    ]);
    let merged = merged(&workspace, "f");
    let order: Vec<String> = merged.layers.iter().map(ToString::to_string).collect();
    assert_eq!(
        order,
        [
            "org:acme",
            "domain:pay",
            "domain:stock",
            "domain:ship",
            "strategy:pay-stock",
            "strategy:pay-stock-ship",
            "feature:f"
        ],
        "smaller domain sets first, whatever the declaration order"
    );
    // Its own domains' plain keys: overridden; so is a smaller strategy's inside its set.
    for layer in ["pay", "stock", "ship", "pay-stock"] {
        assert_eq!(
            one(&merged, layer, Section::Constraints, "money").status,
            Status::Overridden,
            "{layer}"
        );
    }
    assert_eq!(
        one(&merged, "pay-stock-ship", Section::Constraints, "money").status,
        Status::Included
    );
    assert_eq!(
        one(&merged, "pay", Section::Constraints, "latency").status,
        Status::Overridden
    );
    // `g` has pay and ship only: no strategy applies.
    let merged = self::merged(&workspace, "g");
    assert!(
        merged
            .layers
            .iter()
            .all(|layer| layer.kind != LayerKind::Strategy)
    );
}

/// A generated workspace: how many domains, each strategy's domain set (a bit mask,
/// never empty), the scope's domains (a mask) and the domain of its one service, if any.
type GeneratedWorkspace = (usize, Vec<u32>, u32, Option<usize>);

fn generated_workspaces() -> impl Strategy<Value = GeneratedWorkspace> {
    (2usize..6).prop_flat_map(|domains| {
        let all = (1u32 << domains) - 1;
        (
            Just(domains),
            proptest::collection::vec(1u32..=all, 1..5),
            0u32..=all,
            proptest::option::of(0..domains),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// A strategy applies exactly when the bundle's domains (its own and its services')
    /// cover its domain set; the strategies that apply come right after the domains,
    /// smaller sets first, then in declaration order; each overrides its domains' key.
    #[test]
    fn a_strategy_applies_exactly_when_its_domain_set_is_covered(
        (count, strategies, scope_mask, service_domain) in generated_workspaces()
    ) {
        let mut files: Vec<(String, String)> = Vec::new();
        let domain_docs: Vec<String> = (0..count)
            .map(|d| format!("kind: domain\nname: d{d}\nconstraints:\n  shared: d{d} says\n"))
            .collect();
        files.push((String::from("domains/d.yaml"), domain_docs.join("---\n")));
        let strategy_docs: Vec<String> = strategies
            .iter()
            .enumerate()
            .map(|(index, mask)| {
                let names: Vec<String> = (0..count)
                    .filter(|d| mask & (1 << d) != 0)
                    .map(|d| format!("d{d}"))
                    .collect();
                format!(
                    "kind: strategy\nname: s{index}\ndomains: [{}]\nconstraints:\n  shared: s{index} says\n  own-{index}: only s{index}\n",
                    names.join(", ")
                )
            })
            .collect();
        files.push((String::from("domains/s.yaml"), strategy_docs.join("---\n")));
        if let Some(domain) = service_domain {
            files.push((
                String::from("domains/v.yaml"),
                format!("kind: service\nname: v\ndomain: d{domain}\n"),
            ));
        }
        let borrowed: Vec<(&str, &str)> =
            files.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect();
        let (_dir, workspace) = workspace(&borrowed);
        let mut scope = layer::Scope::default();
        for d in (0..count).filter(|d| scope_mask & (1 << d) != 0) {
            scope.add_domain(workspace.domain(&format!("d{d}")));
        }
        let mut covered = scope_mask;
        if let Some(domain) = service_domain {
            scope.add_service(workspace.service("v"));
            covered |= 1 << domain;
        }
        let plans = layer::for_scope(&workspace, &scope);
        let applied: Vec<usize> = plans
            .iter()
            .filter(|plan| plan.id.kind == LayerKind::Strategy)
            .map(|plan| plan.id.name[1..].parse().unwrap())
            .collect();
        let mut expected: Vec<usize> = (0..strategies.len())
            .filter(|&index| strategies[index] & !covered == 0)
            .collect();
        expected.sort_by_key(|&index| strategies[index].count_ones());
        prop_assert_eq!(&applied, &expected);
        // Right after the domains, before anything else.
        let kinds: Vec<LayerKind> = plans.iter().map(|plan| plan.id.kind).collect();
        let mut sorted = kinds.clone();
        sorted.sort();
        prop_assert_eq!(kinds, sorted);
        let merged = merge(&plans, Date::parse(TODAY).unwrap());
        for &index in &applied {
            let name = format!("s{index}");
            prop_assert_eq!(one(&merged, &name, Section::Constraints, &format!("own-{index}")).status, Status::Included);
            for d in (0..count).filter(|d| strategies[index] & (1 << d) != 0) {
                prop_assert_eq!(one(&merged, &format!("d{d}"), Section::Constraints, "shared").status, Status::Overridden);
            }
        }
    }
}
