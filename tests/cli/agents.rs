//! Multi-agent views, ad-hoc features, service bundles, and the no-leak property.

use proptest::prelude::*;

use crate::{ctx, repo_root};

fn bundle_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["bundle", "--format", "json"];
    all.extend_from_slice(args);
    let run = ctx(&repo_root(), &all);
    run.expect_code(0);
    serde_json::from_str(&run.stdout).unwrap()
}

fn status_of<'a>(bundle: &'a serde_json::Value, id: &str) -> &'a str {
    bundle["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == id)
        .map_or("absent", |item| item["status"].as_str().unwrap())
}

#[test]
fn reviewer_view_differs_from_the_default() {
    let default = bundle_json(&["checkout", "--set", "ticket=1"]);
    let reviewer = bundle_json(&["checkout", "--set", "ticket=1", "--agent", "reviewer"]);
    assert_eq!(reviewer["agent"], "reviewer");
    assert_eq!(
        reviewer["tokens"]["budget"], 16000,
        "the agent's budget applies"
    );
    // Its private note appears only in its view.
    assert_eq!(
        status_of(&default, "domain:payment/constraints/review-notes"),
        "absent"
    );
    assert_eq!(
        status_of(&reviewer, "domain:payment/constraints/review-notes"),
        "included"
    );
    // Off-topic patterns and sections it does not read are filtered, and listed as such.
    assert_eq!(
        status_of(&reviewer, "domain:inventory/patterns/inventory_sync"),
        "filtered-agent"
    );
    assert_eq!(
        status_of(&reviewer, "domain:user_management/patterns/authentication"),
        "included"
    );
    assert_eq!(
        status_of(
            &reviewer,
            "domain:order_management/examples/domains/examples/checkout/"
        ),
        "filtered-agent"
    );
    let markdown = ctx(
        &repo_root(),
        &[
            "bundle", "checkout", "--set", "ticket=1", "--agent", "reviewer",
        ],
    );
    assert!(markdown.stdout.contains("- **View**: agent `reviewer`"));
    assert!(!markdown.stdout.contains("## Examples"));
}

#[test]
fn tester_sees_gates_phases_examples_and_its_own_note() {
    let tester = bundle_json(&["checkout", "--set", "ticket=1", "--agent", "tester"]);
    assert_eq!(
        status_of(&tester, "domain:order_management/constraints/test-data"),
        "included"
    );
    assert_eq!(
        status_of(&tester, "domain:user_management/patterns/authentication"),
        "filtered-agent"
    );
    assert!(!tester["phases"].as_array().unwrap().is_empty());
    assert!(!tester["quality_gates"].as_array().unwrap().is_empty());
    let reviewer = bundle_json(&["checkout", "--set", "ticket=1", "--agent", "reviewer"]);
    assert_eq!(
        status_of(&reviewer, "domain:order_management/constraints/test-data"),
        "absent"
    );
}

#[test]
fn phases_resolve_patterns_and_gates() {
    let bundle = bundle_json(&["checkout", "--set", "ticket=1"]);
    let first = &bundle["phases"][0];
    assert_eq!(first["name"], "authentication");
    assert_eq!(first["patterns"][0]["key"], "authentication");
    assert_eq!(
        first["patterns"][0]["id"],
        "domain:user_management/patterns/authentication"
    );
    assert_eq!(
        first["patterns"][0]["path"],
        "domains/src/users/jwt_auth.py"
    );
    assert_eq!(
        first["validation"][0]["gate"]["id"],
        "domain:user_management/auth-tests"
    );
    assert_eq!(
        first["validation"][1]["prose"]["text"],
        "guest checkout completes without an account"
    );
    assert_eq!(first["constraints"][0]["key"], "session_timeout");
}

#[test]
fn describe_picks_domains_by_keywords() {
    let bundle = bundle_json(&["--describe", "reset a password by email"]);
    assert_eq!(bundle["scope"]["kind"], "ad-hoc");
    assert_eq!(
        bundle["scope"]["domains"],
        serde_json::json!(["user_management"])
    );
    assert_eq!(bundle["description"], "reset a password by email");
    // An undeclared name works the same way; plurals are tolerated.
    let bundle = bundle_json(&["refunds"]);
    assert_eq!(bundle["scope"]["domains"], serde_json::json!(["payment"]));
    let bundle = bundle_json(&["--describe", "shipment of orders", "--domain", "inventory"]);
    assert_eq!(
        bundle["scope"]["domains"],
        serde_json::json!(["order_management", "shipping", "inventory"])
    );
}

#[test]
fn no_keyword_match_lists_the_domains_and_their_keywords() {
    let run = ctx(&repo_root(), &["bundle", "--describe", "fly to the moon"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("no domain's keywords match \"fly to the moon\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("`payment`: payment, pay, card, refund"),
        "{}",
        run.stderr
    );
    let run = ctx(&repo_root(), &["bundle", "checkot"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("did you mean `checkout`?"),
        "{}",
        run.stderr
    );
}

/// Issue #15, point 4: a near miss of a declared feature is a typo (exit 2, `did you
/// mean`), never a smaller ad-hoc bundle that passes for the feature; an ad-hoc bundle
/// always says so on stderr with which domains matched which words; its "Left out" hint
/// gives an `explain` command that works.
#[test]
fn no_silent_fallback_on_a_typo() {
    // `checkouts` is one edit from the feature `checkout`, and `order_management`'s
    // keyword `checkout` matches it: before, a one-domain bundle passed for the feature.
    // Now a typo, in `bundle` and `explain` alike.
    for command in ["bundle", "explain"] {
        let run = ctx(&repo_root(), &[command, "checkouts"]);
        run.expect_code(2);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        assert!(
            run.stderr.contains("no feature named `checkouts`")
                && run.stderr.contains("did you mean `checkout`?")
                && run.stderr.contains("--describe \"checkouts\""),
            "{}",
            run.stderr
        );
    }
    // The explicit way still works, and says what it matched.
    let run = ctx(&repo_root(), &["bundle", "--describe", "checkouts"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains(
            "note: ad-hoc bundle of the domains whose keywords the words mention: `order_management` (checkout)"
        ),
        "{}",
        run.stderr
    );
    let run = ctx(
        &repo_root(),
        &["bundle", "--describe", "refunds for shipments"],
    );
    run.expect_code(0);
    assert!(
        run.stderr.contains(
            "note: ad-hoc bundle of the domains whose keywords the words mention: `payment` (refund), `shipping` (shipment)"
        ),
        "{}",
        run.stderr
    );
    // A name that is far from every feature is matched against keywords, and says so.
    let run = ctx(&repo_root(), &["bundle", "refunds"]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("note: `refunds` is not a declared feature: ad-hoc bundle of the domains whose keywords the words mention: `payment` (refund)"),
        "{}",
        run.stderr
    );
    let run = ctx(&repo_root(), &["explain", "--domain", "payment"]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("note: ad-hoc bundle of `--domain payment`"),
        "{}",
        run.stderr
    );
    // A declared feature says nothing of the kind.
    let run = ctx(
        &repo_root(),
        &["bundle", "checkout", "--set", "ticket=SHOP-1"],
    );
    run.expect_code(0);
    assert!(!run.stderr.contains("ad-hoc"), "{}", run.stderr);
}

#[test]
fn left_out_hint_of_an_ad_hoc_bundle_gives_a_command_that_works() {
    for (args, expected) in [
        (
            vec!["--describe", "refunds", "--agent", "tester"],
            "ctx explain --domain payment --agent tester",
        ),
        (
            vec!["--service", "order-service", "--agent", "tester"],
            "ctx explain --service order-service --agent tester",
        ),
    ] {
        let mut all = vec!["bundle"];
        all.extend_from_slice(&args);
        let run = ctx(&repo_root(), &all);
        run.expect_code(0);
        assert!(
            run.stdout.contains(&format!("(`{expected}` lists them)")),
            "{}",
            run.stdout
        );
        // Issue #15, point 8: "an 11000", not "a 11000" (the tester's budget).
        assert!(
            run.stdout.contains(" of an 11000 budget (o200k)"),
            "{}",
            run.stdout
        );
        let hint: Vec<&str> = expected.split(' ').skip(1).collect();
        let explained = ctx(&repo_root(), &hint);
        explained.expect_code(0);
        assert!(
            explained
                .stdout
                .contains(" tokens of an 11000 budget (o200k)"),
            "{}",
            explained.stdout
        );
        assert!(
            explained.stdout.contains("filtered-agent"),
            "{}",
            explained.stdout
        );
    }
}

#[test]
fn service_bundle_is_the_federated_context_of_one_service() {
    let bundle = bundle_json(&["--service", "order-service"]);
    assert_eq!(bundle["scope"]["kind"], "service");
    let layers: Vec<String> = bundle["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| {
            format!(
                "{}:{}",
                layer["kind"].as_str().unwrap(),
                layer["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        layers,
        [
            "org:acme",
            "domain:order_management",
            "integration:order-service",
            "service:order-service"
        ]
    );
    assert_eq!(
        status_of(
            &bundle,
            "integration:order-service/patterns/user_lookup@user-service"
        ),
        "included"
    );
    let markdown = ctx(&repo_root(), &["bundle", "--service", "order-service"]);
    assert!(
        markdown
            .stdout
            .contains("Run them with `ctx gates --service order-service`.")
    );
}

#[test]
fn unknown_agent_domain_or_service_suggests() {
    for (args, needle) in [
        (
            vec![
                "bundle", "checkout", "--set", "ticket=1", "--agent", "reviewr",
            ],
            "did you mean `reviewer`?",
        ),
        (
            vec!["bundle", "--domain", "payments"],
            "did you mean `payment`?",
        ),
        (
            vec!["bundle", "--service", "order-servce"],
            "did you mean `order-service`?",
        ),
    ] {
        let run = ctx(&repo_root(), &args);
        run.expect_code(2);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn today_pins_expiry() {
    // `cart_expiry` expires 2027-06-30: present today, expired when today is pinned later.
    let now = bundle_json(&["cart"]);
    assert_eq!(
        status_of(&now, "feature:cart/constraints/cart_expiry"),
        "included"
    );
    let run = ctx(
        &repo_root(),
        &[
            "bundle",
            "cart",
            "--format",
            "json",
            "--today",
            "2027-07-01",
        ],
    );
    run.expect_code(0);
    let later: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        status_of(&later, "feature:cart/constraints/cart_expiry"),
        "expired"
    );
}

/// One generated item: which agents may see it (empty = everyone) and its topic.
#[derive(Debug, Clone)]
struct Item {
    audience: Vec<usize>,
    topic: Option<usize>,
    kind: usize,
}

fn item() -> impl Strategy<Value = Item> {
    (
        proptest::collection::vec(0usize..3, 0..3),
        proptest::option::of(0usize..2),
        0usize..3,
    )
        .prop_map(|(mut audience, topic, kind)| {
            audience.sort_unstable();
            audience.dedup();
            Item {
                audience,
                topic,
                kind,
            }
        })
}

/// Write a workspace: 3 agents, 2 domains with the generated items; every private item
/// carries a unique marker in its key and content.
fn write_workspace(
    items: &[Vec<Item>],
    agent_topics: &[Vec<usize>],
) -> (tempfile::TempDir, Vec<(String, Vec<usize>)>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut private = Vec::new();
    let mut agents = String::new();
    for (index, topics) in agent_topics.iter().enumerate() {
        let topics: Vec<String> = topics.iter().map(|topic| format!("t{topic}")).collect();
        agents.push_str(&format!(
            "---\nkind: agent\nname: a{index}\ntopics: [{}]\n",
            topics.join(", ")
        ));
    }
    std::fs::create_dir_all(root.join("domains")).unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("domains/agents.yaml"), agents).unwrap();
    // The phase names every pattern of d0 and every gate: private ones included.
    let (mut phase_patterns, mut phase_gates) = (Vec::new(), Vec::new());
    for (domain, domain_items) in items.iter().enumerate() {
        let (mut patterns, mut constraints, mut gates) =
            (String::new(), String::new(), String::new());
        for (index, item) in domain_items.iter().enumerate() {
            let marker = format!("marker{domain}x{index}q");
            let key = if item.audience.is_empty() {
                format!("open{domain}x{index}")
            } else {
                marker.clone()
            };
            let audience = item
                .audience
                .iter()
                .map(|agent| format!("a{agent}"))
                .collect::<Vec<_>>()
                .join(", ");
            let topics = item
                .topic
                .map(|topic| format!("[t{topic}]"))
                .unwrap_or_else(|| String::from("[]"));
            let content = if item.audience.is_empty() {
                format!("public {key}")
            } else {
                format!("private {marker}")
            };
            match item.kind {
                0 => {
                    std::fs::write(root.join(format!("src/{key}.txt")), &content).unwrap();
                    patterns.push_str(&format!("  {key}: {{ path: src/{key}.txt, audience: [{audience}], topics: {topics} }}\n"));
                }
                1 => constraints.push_str(&format!("  {key}: {{ text: \"{content}\", audience: [{audience}], topics: {topics} }}\n")),
                _ => gates.push_str(&format!("  {key}: {{ run: \"echo {content}\", audience: [{audience}], topics: {topics} }}\n")),
            }
            if !item.audience.is_empty() {
                private.push((marker, item.audience.clone()));
            }
            match item.kind {
                0 if domain == 0 => phase_patterns.push(key.clone()),
                0 | 1 => {}
                _ => phase_gates.push(key.clone()),
            }
        }
        std::fs::write(
            root.join(format!("domains/d{domain}.yaml")),
            format!("kind: domain\nname: d{domain}\npatterns:\n{patterns}constraints:\n{constraints}quality_gates:\n{gates}"),
        )
        .unwrap();
    }
    std::fs::write(
        root.join("domains/f.yaml"),
        format!(
            "kind: feature\nname: f\ndomains: [d0, d1]\nphases:\n  - name: p\n    domains: [d0]\n    patterns: [{}]\n    validation: [{}]\n",
            phase_patterns.join(", "),
            phase_gates.join(", ")
        ),
    )
    .unwrap();
    (dir, private)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// No leak: an audience-restricted item's marker (in its key and content) is never a
    /// substring of any view outside its audience, in Markdown or JSON.
    #[test]
    fn audience_restricted_items_never_leak(
        items in proptest::collection::vec(proptest::collection::vec(item(), 0..5), 2..=2),
        agent_topics in proptest::collection::vec(proptest::collection::vec(0usize..2, 0..2), 3..=3),
    ) {
        let (dir, private) = write_workspace(&items, &agent_topics);
        let today = ctx::date::Date::parse("2026-11-21").unwrap();
        let validation = ctx::session::validate(Some(dir.path()), today).unwrap();
        prop_assert!(!validation.has_errors(), "{:#?}", validation.problems);
        let options = ctx::session::OpenOptions { today, preload_cache: false };
        let mut session = ctx::session::Session::open(Some(dir.path()), &options).unwrap();
        for view in [None, Some(0usize), Some(1), Some(2)] {
            let request = ctx::session::BundleRequest {
                feature: Some(String::from("f")),
                agent: view.map(|agent| format!("a{agent}")),
                budget: Some(0),
                require_inputs: true,
                use_cache: true,
                ..ctx::session::BundleRequest::default()
            };
            let bundle = session.bundle(&request).unwrap();
            let explained = serde_json::to_string(&ctx::bundle::explain::Explanation::of(&bundle)).unwrap();
            let workspace = session.workspace();
            let mut markdown = Vec::new();
            ctx::bundle::render::markdown(bundle.clone(), &workspace.root, "bundle.md", &mut markdown, None).unwrap();
            let markdown = String::from_utf8(markdown).unwrap();
            let mut json = Vec::new();
            ctx::bundle::render::json(&bundle, &mut json, None).unwrap();
            let json = String::from_utf8(json).unwrap();
            for (marker, audience) in &private {
                let allowed = view.is_some_and(|agent| audience.contains(&agent));
                if !allowed {
                    prop_assert!(!markdown.contains(marker.as_str()), "{} leaked into markdown view {:?}", marker, view);
                    prop_assert!(!json.contains(marker.as_str()), "{} leaked into json view {:?}", marker, view);
                    prop_assert!(!explained.contains(marker.as_str()), "{} leaked into the explanation of view {:?}", marker, view);
                }
            }
        }
    }
}
