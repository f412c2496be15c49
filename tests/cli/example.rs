//! The shipped example in `domains/` loads and validates, file by file.

use crate::{ctx, repo_root};

#[test]
fn shipped_example_validates() {
    let run = ctx(&repo_root(), &["validate"]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("ok: 1 org, 6 domains, 3 services, 2 features, 1 strategy, 3 agents"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
}

#[test]
fn every_example_file_is_loaded() {
    let root = repo_root();
    let loaded = ctx::config::load::load(
        &root.canonicalize().unwrap(),
        &[String::from("domains")],
        None,
        &[],
    );
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let mut on_disk: Vec<String> = walk(&root.join("domains"))
        .into_iter()
        .filter(|path| path.ends_with(".yaml") || path.ends_with(".yml"))
        .collect();
    on_disk.sort();
    let mut loaded_files: Vec<String> = loaded.files.iter().map(|file| file.path.clone()).collect();
    loaded_files.sort();
    assert_eq!(loaded_files, on_disk);
    assert!(loaded.documents.len() >= 15, "{}", loaded.documents.len());
}

#[test]
fn example_has_what_the_spec_asks_for() {
    let root = repo_root();
    let today = ctx::date::Date::parse("2026-11-21").unwrap();
    let validation = ctx::config::open(Some(&root), today).unwrap();
    assert!(!validation.has_errors(), "{:?}", validation.problems);
    let workspace = validation.workspace;
    let names = |mut list: Vec<&str>| {
        list.sort_unstable();
        list.join(",")
    };
    assert_eq!(
        names(
            workspace
                .domains
                .iter()
                .map(|domain| domain.name.as_str())
                .collect()
        ),
        "inventory,order_management,payment,product_catalog,shipping,user_management"
    );
    assert_eq!(
        names(
            workspace
                .services
                .iter()
                .map(|service| service.name.as_str())
                .collect()
        ),
        "order-service,product-service,user-service"
    );
    let checkout = workspace.feature("checkout").unwrap();
    let phases: Vec<&str> = checkout
        .phases
        .iter()
        .map(|phase| phase.name.as_str())
        .collect();
    assert_eq!(
        phases,
        [
            "authentication",
            "cart_validation",
            "payment_processing",
            "order_fulfillment"
        ]
    );
    assert_eq!(checkout.inputs[0].key, "ticket");
    assert!(workspace.feature("cart").is_some());
    assert_eq!(
        names(
            workspace
                .agents
                .iter()
                .map(|agent| agent.name.as_str())
                .collect()
        ),
        "implementer,reviewer,tester"
    );
    let org = workspace.org.unwrap();
    assert!(org.items.constraints.iter().any(|item| item.meta.is_final));
    let all_domains = workspace.domains.iter().flat_map(|domain| {
        domain
            .items
            .patterns
            .iter()
            .map(|item| &item.meta)
            .chain(domain.items.constraints.iter().map(|item| &item.meta))
    });
    let metas: Vec<_> = all_domains.collect();
    assert!(metas.iter().any(|meta| !meta.topics.is_empty()));
    assert!(metas.iter().any(|meta| !meta.audience.is_empty()));
    assert!(
        workspace
            .domains
            .iter()
            .all(|domain| !domain.keywords.is_empty() && !domain.paths.is_empty())
    );
    assert!(
        workspace
            .services
            .iter()
            .any(|service| !service.depends_on.is_empty()
                && !service.integration_patterns.is_empty())
    );
    assert!(
        workspace
            .services
            .iter()
            .any(|service| !service.shared_patterns.is_empty())
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(
                path.strip_prefix(repo_root())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    found
}

/// Every gate of the example runs with standard tools only and passes (until `ctx gates`
/// exists, this runs them the way it will: `sh -c`, from the root or `cwd`, with `env`).
#[test]
fn example_gates_pass() {
    let root = repo_root().canonicalize().unwrap();
    let today = ctx::date::Date::parse("2026-11-21").unwrap();
    let workspace = ctx::config::open(Some(&root), today).unwrap().workspace;
    let layers = workspace
        .org
        .iter()
        .map(|org| &org.items)
        .chain(workspace.domains.iter().map(|domain| &domain.items))
        .chain(workspace.services.iter().map(|service| &service.items))
        .chain(workspace.features.iter().map(|feature| &feature.items));
    let mut ran = 0;
    for items in layers {
        for gate in &items.quality_gates {
            let Some(run) = &gate.run else { continue };
            let output = std::process::Command::new("sh")
                .arg("-c")
                .arg(run)
                .current_dir(root.join(gate.cwd.as_deref().unwrap_or(".")))
                .envs(
                    gate.env
                        .iter()
                        .map(|(key, value)| (key.as_str(), value.as_str())),
                )
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "gate `{}` ({run}) failed\n{}{}",
                gate.meta.key,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 10, "only {ran} gates ran");
}
