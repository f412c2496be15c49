//! `ctx insights` and `ctx stats`: what the recorded runs say.
//!
//! A run's outcome is the one recorded with `ctx record`, else its gate verdict (passed →
//! success, failed → failure; interrupted and infrastructure runs are left out). Per
//! context item (included in the run's bundle), its presence in successes and failures;
//! the findings, at the seed's thresholds, each also needing the item to separate the
//! outcomes by at least 20 points (an item present in every run tells nothing):
//! - **with success**: present in ≥ 70 % of successes;
//! - **missing from failures**: absent from ≥ 60 % of failures (and more present in
//!   successes);
//! - **present in failures**: present in ≥ 50 % of failures (and less in successes).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Store, StoreError, int, text};

/// The least separation (success rate minus failure rate, or the reverse) of a finding.
pub const MIN_SEPARATION: f64 = 0.2;

/// How many run ids are listed per item and outcome (the most recent; counts are exact).
pub const LISTED_RUNS: usize = 20;

/// One analysed run.
#[derive(Debug, Clone)]
struct Run {
    id: String,
    feature: Option<String>,
    success: bool,
    commit: Option<String>,
}

/// An item's presence.
#[derive(Debug, Clone, Serialize)]
pub struct ItemPresence {
    pub id: String,
    pub in_successes: usize,
    pub in_failures: usize,
    pub success_rate: f64,
    pub failure_rate: f64,
    /// Success rate minus failure rate.
    pub separation: f64,
    /// The most recent runs (up to 20) with it that succeeded, and that failed.
    pub success_runs: Vec<String>,
    pub failure_runs: Vec<String>,
    /// Features of the analysed runs whose bundles lacked it.
    pub lacking_features: Vec<String>,
}

/// A flaky gate.
#[derive(Debug, Clone, Serialize)]
pub struct FlakyGate {
    pub id: String,
    /// Runs where it passed only after a retry.
    pub flaky_runs: usize,
    /// Commits on which it both passed and failed.
    pub mixed_commits: usize,
}

/// A proposal, validated against history.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    pub kind: &'static str,
    pub item: String,
    pub feature: Option<String>,
    /// Success rate of the recorded runs that match the proposed state.
    pub success_rate: f64,
    pub matching_runs: usize,
    pub kept: bool,
    pub summary: String,
    /// The file written under `.ctx/inbox/` (kept proposals only).
    pub file: Option<String>,
}

/// `ctx.insights/v1`.
#[derive(Debug, Clone, Serialize)]
pub struct Insights {
    pub schema: &'static str,
    pub feature: Option<String>,
    pub runs: usize,
    pub successes: usize,
    pub failures: usize,
    /// How many more runs are needed before findings are made (0: enough).
    pub needs_runs: usize,
    pub items: Vec<ItemPresence>,
    pub with_success: Vec<String>,
    pub missing_from_failures: Vec<String>,
    pub present_in_failures: Vec<String>,
    pub flaky_gates: Vec<FlakyGate>,
    pub proposals: Vec<Proposal>,
}

fn rate(count: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        count as f64 / of as f64
    }
}

/// The last `last` runs of the workspace (of `feature`, if given), newest first.
fn recent_runs(
    store: &mut Store,
    workspace: &str,
    feature: Option<&str>,
    last: usize,
) -> Result<Vec<Run>, StoreError> {
    let mut sql = String::from(
        "SELECT run_id, feature, verdict, outcome, git_commit FROM ctx_runs WHERE workspace = ?1",
    );
    let mut values = vec![text(workspace)];
    if let Some(feature) = feature {
        sql.push_str(" AND feature = ?2");
        values.push(text(feature));
    }
    sql.push_str(&format!(
        " ORDER BY started_ms DESC, run_id DESC LIMIT ?{}",
        values.len() + 1
    ));
    values.push(int(i64::try_from(last).unwrap_or(i64::MAX)));
    let rows = store.rows(&sql, &values)?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let mut row = row.into_iter();
            let id = row.next()??;
            let feature = row.next()?;
            let verdict = row.next()?.unwrap_or_default();
            let outcome = row.next()?;
            let commit = row.next()?;
            let success = match outcome.as_deref() {
                Some("success") => true,
                Some("failure") => false,
                _ => match verdict.as_str() {
                    "passed" => true,
                    "failed" => false,
                    _ => return None,
                },
            };
            Some(Run {
                id,
                feature,
                success,
                commit,
            })
        })
        .collect())
}

/// Analyse the recorded runs.
pub fn analyse(
    store: &mut Store,
    workspace: &str,
    feature: Option<&str>,
    last: usize,
    min_runs: usize,
) -> Result<Insights, StoreError> {
    let runs = recent_runs(store, workspace, feature, last)?;
    let successes = runs.iter().filter(|run| run.success).count();
    let failures = runs.len() - successes;
    let oldest = runs
        .iter()
        .map(|run| run.id.clone())
        .min()
        .unwrap_or_default();
    // Items of the analysed runs (run ids sort by time, so a range bounds them), by
    // index: a large history is a million rows.
    let index_of: std::collections::HashMap<&str, usize> = runs
        .iter()
        .enumerate()
        .map(|(index, run)| (run.id.as_str(), index))
        .collect();
    let mut item_index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut presence: Vec<(String, Vec<u32>)> = Vec::new();
    store.for_each_pair(
        "SELECT run_id, item_id FROM ctx_run_items WHERE workspace = ?1 AND status = 'included' AND run_id >= ?2",
        &[text(workspace), text(&oldest)],
        |run_id, item| {
            let Some(&run) = index_of.get(run_id) else {
                return;
            };
            let slot = match item_index.get(item) {
                Some(&slot) => slot,
                None => {
                    item_index.insert(item.to_owned(), presence.len());
                    presence.push((item.to_owned(), Vec::new()));
                    presence.len() - 1
                }
            };
            presence[slot].1.push(run as u32);
        },
    )?;
    let mut items: Vec<ItemPresence> = presence
        .into_iter()
        .map(|(id, mut found)| {
            // Newest first (runs are newest first).
            found.sort_unstable();
            let (in_successes, in_failures) = found.iter().fold((0, 0), |(s, f), &run| {
                if runs[run as usize].success {
                    (s + 1, f)
                } else {
                    (s, f + 1)
                }
            });
            let list = |success: bool| -> Vec<String> {
                found
                    .iter()
                    .filter(|&&run| runs[run as usize].success == success)
                    .take(LISTED_RUNS)
                    .map(|&run| runs[run as usize].id.clone())
                    .collect()
            };
            let mut present = vec![false; runs.len()];
            for &run in &found {
                present[run as usize] = true;
            }
            let lacking_features: Vec<String> = runs
                .iter()
                .enumerate()
                .filter(|(index, _)| !present[*index])
                .filter_map(|(_, run)| run.feature.clone())
                .collect::<BTreeSet<String>>()
                .into_iter()
                .collect();
            let success_rate = rate(in_successes, successes);
            let failure_rate = rate(in_failures, failures);
            ItemPresence {
                in_successes,
                in_failures,
                success_rate,
                failure_rate,
                separation: success_rate - failure_rate,
                success_runs: list(true),
                failure_runs: list(false),
                lacking_features,
                id,
            }
        })
        .collect();
    items.sort_by(|a, b| {
        b.separation
            .abs()
            .total_cmp(&a.separation.abs())
            .then_with(|| a.id.cmp(&b.id))
    });
    let needs_runs = min_runs.saturating_sub(runs.len());
    let judged = needs_runs == 0 && successes > 0 && failures > 0;
    let pick = |test: &dyn Fn(&ItemPresence) -> bool| -> Vec<String> {
        if !judged {
            return Vec::new();
        }
        items
            .iter()
            .filter(|item| test(item))
            .map(|item| item.id.clone())
            .collect()
    };
    let with_success = pick(&|item| item.success_rate >= 0.7 && item.separation >= MIN_SEPARATION);
    let missing_from_failures =
        pick(&|item| 1.0 - item.failure_rate >= 0.6 && item.separation >= MIN_SEPARATION);
    let present_in_failures =
        pick(&|item| item.failure_rate >= 0.5 && -item.separation >= MIN_SEPARATION);
    let flaky_gates = flaky(store, workspace, &runs)?;
    Ok(Insights {
        schema: "ctx.insights/v1",
        feature: feature.map(str::to_owned),
        runs: runs.len(),
        successes,
        failures,
        needs_runs,
        items,
        with_success,
        missing_from_failures,
        present_in_failures,
        flaky_gates,
        proposals: Vec::new(),
    })
}

/// Gates that passed only after a retry, or passed and failed on the same commit.
fn flaky(store: &mut Store, workspace: &str, runs: &[Run]) -> Result<Vec<FlakyGate>, StoreError> {
    let Some(oldest) = runs.iter().map(|run| run.id.clone()).min() else {
        return Ok(Vec::new());
    };
    let commits: BTreeMap<&str, Option<&str>> = runs
        .iter()
        .map(|run| (run.id.as_str(), run.commit.as_deref()))
        .collect();
    let rows = store.rows(
        "SELECT run_id, gate_id, status FROM ctx_run_gates WHERE workspace = ?1 AND run_id >= ?2",
        &[text(workspace), text(&oldest)],
    )?;
    let mut flaky_runs: BTreeMap<String, usize> = BTreeMap::new();
    let mut outcomes: BTreeMap<(String, String), BTreeSet<bool>> = BTreeMap::new();
    for row in rows {
        let (Some(Some(run_id)), Some(Some(gate)), Some(Some(status))) =
            (row.first(), row.get(1), row.get(2))
        else {
            continue;
        };
        let Some(commit) = commits.get(run_id.as_str()) else {
            continue;
        };
        if status == "flaky" {
            *flaky_runs.entry(gate.clone()).or_default() += 1;
        }
        if let Some(commit) = commit
            && matches!(status.as_str(), "pass" | "fail" | "timeout" | "flaky")
        {
            outcomes
                .entry((gate.clone(), (*commit).to_owned()))
                .or_default()
                .insert(matches!(status.as_str(), "pass" | "flaky"));
        }
    }
    let mut mixed: BTreeMap<String, usize> = BTreeMap::new();
    for ((gate, _), seen) in outcomes {
        if seen.len() == 2 {
            *mixed.entry(gate).or_default() += 1;
        }
    }
    let gates: BTreeSet<String> = flaky_runs.keys().chain(mixed.keys()).cloned().collect();
    Ok(gates
        .into_iter()
        .map(|gate| FlakyGate {
            flaky_runs: flaky_runs.get(&gate).copied().unwrap_or(0),
            mixed_commits: mixed.get(&gate).copied().unwrap_or(0),
            id: gate,
        })
        .collect())
}

/// Proposals from the findings, each tested against history: kept when the recorded
/// runs matching the proposed state succeeded more than 80 % of the time.
pub fn propose(insights: &mut Insights) {
    let mut proposals = Vec::new();
    for id in &insights.with_success {
        let Some(item) = insights.items.iter().find(|item| &item.id == id) else {
            continue;
        };
        let with = item.in_successes + item.in_failures;
        let success_rate = rate(item.in_successes, with);
        let what = if id.contains("/patterns/") {
            "pattern"
        } else {
            "item"
        };
        let feature = insights
            .feature
            .clone()
            .or_else(|| item.lacking_features.first().cloned());
        proposals.push(Proposal {
            kind: "keep-in-context",
            item: id.clone(),
            feature: feature.clone(),
            success_rate,
            matching_runs: with,
            kept: success_rate > 0.8,
            summary: format!(
                "add {what} `{id}` to {} (runs with it succeeded {:.0} %, {} of {with})",
                feature.as_deref().map_or_else(
                    || String::from("the features that lack it"),
                    |feature| format!("feature `{feature}`")
                ),
                success_rate * 100.0,
                item.in_successes
            ),
            file: None,
        });
    }
    for id in &insights.present_in_failures {
        let Some(item) = insights.items.iter().find(|item| &item.id == id) else {
            continue;
        };
        let without_successes = insights.successes - item.in_successes;
        let without_failures = insights.failures - item.in_failures;
        let without = without_successes + without_failures;
        let success_rate = rate(without_successes, without);
        proposals.push(Proposal {
            kind: "review",
            item: id.clone(),
            feature: insights.feature.clone(),
            success_rate,
            matching_runs: without,
            kept: success_rate > 0.8,
            summary: format!(
                "review `{id}`: it was in {} of {} failed runs; runs without it succeeded {:.0} % ({without_successes} of {without})",
                item.in_failures,
                insights.failures,
                success_rate * 100.0
            ),
            file: None,
        });
    }
    insights.proposals = proposals;
}

/// The YAML patch file of a kept proposal (for review; never applied by ctx).
pub fn patch_text(proposal: &Proposal, insights: &Insights, today: &str) -> String {
    let mut out = format!(
        "# Proposed by `ctx insights --propose` on {today}; review it, then edit the configuration by hand.\n# {}\n# Evidence: {} recorded runs ({} successes, {} failures); tested against history: {:.0} % of the {} matching runs succeeded.\n",
        proposal.summary,
        insights.runs,
        insights.successes,
        insights.failures,
        proposal.success_rate * 100.0,
        proposal.matching_runs
    );
    let layer = proposal.item.split('/').next().unwrap_or("");
    let key = proposal.item.rsplit('/').next().unwrap_or("");
    match (proposal.kind, &proposal.feature) {
        ("keep-in-context", Some(feature)) => {
            let domain = layer.strip_prefix("domain:");
            out.push_str(&format!(
                "# Make sure every bundle of `{feature}` carries it:{}\nkind: feature\nname: {feature}\n",
                domain.map_or_else(String::new, |domain| format!(" the feature must include domain `{domain}`, and the pattern must fit its budget"))
            ));
            if let Some(domain) = domain {
                out.push_str(&format!("domains: [..., {domain}]   # if not there yet\n"));
            }
            out.push_str(&format!("phases:\n  - name: ...\n    patterns: [..., {key}]\n"));
        }
        ("keep-in-context", None) => out.push_str(&format!(
            "# Add `{key}` (from `{layer}`) to the features whose runs lack it.\n"
        )),
        _ => out.push_str(&format!(
            "# `{key}` (in `{layer}`) goes with failures: check that it is still right, or scope it (`topics`, `audience`, `expires`).\n"
        )),
    }
    out
}

/// `ctx.stats/v1`: runs and pass rate per feature and per gate, gate durations,
/// flaky counts, tokens per layer over time.
pub fn stats(store: &mut Store, workspace: &str) -> Result<serde_json::Value, StoreError> {
    let runs = store.rows(
        "SELECT feature, verdict, outcome, tokens_by_layer, started_ms FROM ctx_runs WHERE workspace = ?1 ORDER BY started_ms",
        &[text(workspace)],
    )?;
    let mut features: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut tokens: Vec<serde_json::Value> = Vec::new();
    for row in &runs {
        let feature = row
            .first()
            .cloned()
            .flatten()
            .unwrap_or_else(|| String::from("(none)"));
        let passed = match row.get(2).cloned().flatten().as_deref() {
            Some("success") => true,
            Some("failure") => false,
            _ => row.get(1).cloned().flatten().as_deref() == Some("passed"),
        };
        let entry = features.entry(feature.clone()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(passed);
        if let Some(Some(layers)) = row.get(3)
            && let Ok(layers) = serde_json::from_str::<serde_json::Value>(layers)
            && layers.as_object().is_some_and(|map| !map.is_empty())
        {
            tokens.push(serde_json::json!({"feature": feature, "started_ms": row.get(4).cloned().flatten().and_then(|ms| ms.parse::<i64>().ok()), "by_layer": layers}));
        }
    }
    let gate_rows = store.rows(
        "SELECT gate_id, status, duration_ms FROM ctx_run_gates WHERE workspace = ?1",
        &[text(workspace)],
    )?;
    let mut gates: BTreeMap<String, (usize, usize, usize, Vec<u64>)> = BTreeMap::new();
    for row in gate_rows {
        let (Some(Some(gate)), Some(Some(status))) = (row.first(), row.get(1)) else {
            continue;
        };
        let duration = row
            .get(2)
            .cloned()
            .flatten()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(0);
        let entry = gates.entry(gate.clone()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(matches!(status.as_str(), "pass" | "cached" | "flaky"));
        entry.2 += usize::from(status == "flaky");
        if status != "cached" {
            entry.3.push(duration);
        }
    }
    let percentile = |sorted: &[u64], p: f64| -> Option<u64> {
        if sorted.is_empty() {
            return None;
        }
        let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(rank).copied()
    };
    let features: Vec<serde_json::Value> = features
        .into_iter()
        .map(|(feature, (runs, passed))| serde_json::json!({"feature": feature, "runs": runs, "passed": passed, "pass_rate": rate(passed, runs)}))
        .collect();
    let gates: Vec<serde_json::Value> = gates
        .into_iter()
        .map(|(gate, (runs, passed, flaky, mut durations))| {
            durations.sort_unstable();
            serde_json::json!({"gate": gate, "runs": runs, "passed": passed, "pass_rate": rate(passed, runs), "flaky": flaky, "p50_ms": percentile(&durations, 0.5), "p90_ms": percentile(&durations, 0.9)})
        })
        .collect();
    Ok(serde_json::json!({
        "schema": "ctx.stats/v1",
        "runs": runs.len(),
        "features": features,
        "gates": gates,
        "tokens_over_time": tokens,
    }))
}
