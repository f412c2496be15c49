//! `depends_on` cycles: a generic finder of elementary cycles, and their problems.

use rustc_hash::FxHashMap as HashMap;

use super::Declared;
use crate::config::diagnostic::{Location, Problem};
use crate::config::load::locate;
use crate::config::model;

/// One problem per `depends_on` cycle, located at each of its edges.
pub(super) fn check(services: &[Declared<'_, model::Service>], problems: &mut Vec<Problem>) {
    let graph: Vec<(String, Vec<String>)> = services
        .iter()
        .map(|service| {
            let edges = service
                .wire
                .depends_on
                .iter()
                .map(|name| name.value.clone())
                .collect();
            (service.wire.name.value.clone(), edges)
        })
        .collect();
    for group in loops(find_cycles(&graph)) {
        let edge_location = |from: &str, to: &str| -> Option<Location> {
            let service = services
                .iter()
                .find(|service| service.wire.name.value == from)?;
            let edge = service
                .wire
                .depends_on
                .iter()
                .find(|name| name.value == to)?;
            Some(locate(service.file, edge.pos))
        };
        // Shown: the shortest cycle; located: every edge of every cycle in the loop.
        let shortest = &group[0];
        let rendered = shortest
            .iter()
            .chain(shortest.first())
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(" → ");
        // Every edge between services of the loop (its strongly connected component:
        // those reachable from it that reach it back), in declaration order.
        let members = &component(&graph, &shortest[0]);
        let edges: Vec<(&str, &str)> = graph
            .iter()
            .filter(|(from, _)| members.contains(from.as_str()))
            .flat_map(|(from, targets)| {
                targets
                    .iter()
                    .filter(move |to| members.contains(to.as_str()) && *to != from)
                    .map(move |to| (from.as_str(), to.as_str()))
            })
            .collect();
        let mut located = edges
            .iter()
            .filter_map(|&(from, to)| Some((from, to, edge_location(from, to)?)));
        let Some((first_from, first_to, first_location)) = located.next() else {
            continue;
        };
        let more = match group.len() {
            1 => String::new(),
            count => format!(" (one of {count} cycles through the same services)"),
        };
        let mut problem = Problem::error(
            "config::cycle",
            first_location,
            format!("`depends_on` cycle: {rendered}{more}"),
        )
        .label(format!("`{first_from}` depends on `{first_to}`"))
        .help("a service may not depend on itself through others (several services may share a dependency); remove the edge that points back");
        for (from, to, location) in located {
            problem = problem.related(location, format!("`{from}` depends on `{to}`"));
        }
        problems.push(problem);
    }
}

/// The services that `start` reaches through `depends_on` and that reach it back.
fn component<'g>(
    graph: &'g [(String, Vec<String>)],
    start: &'g str,
) -> std::collections::HashSet<&'g str> {
    let reach = |forward: bool| {
        let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::from([start]);
        let mut queue = vec![start];
        while let Some(node) = queue.pop() {
            for (from, targets) in graph {
                let next: Vec<&str> = if forward {
                    if from != node {
                        continue;
                    }
                    targets.iter().map(String::as_str).collect()
                } else if targets.iter().any(|target| target == node) {
                    vec![from.as_str()]
                } else {
                    continue;
                };
                for next in next {
                    if seen.insert(next) {
                        queue.push(next);
                    }
                }
            }
        }
        seen
    };
    let forward = reach(true);
    reach(false)
        .into_iter()
        .filter(|node| forward.contains(node))
        .collect()
}

/// Cycles grouped into loops: cycles that share a service are one loop (one problem),
/// each loop's cycles shortest first.
fn loops(cycles: Vec<Vec<String>>) -> Vec<Vec<Vec<String>>> {
    let mut groups: Vec<Vec<Vec<String>>> = Vec::new();
    for cycle in cycles {
        let (mut touching, rest): (Vec<_>, Vec<_>) = groups.into_iter().partition(|group| {
            group
                .iter()
                .any(|other| other.iter().any(|name| cycle.contains(name)))
        });
        let mut merged: Vec<Vec<String>> = touching.drain(..).flatten().collect();
        merged.push(cycle);
        groups = rest;
        groups.push(merged);
    }
    for group in &mut groups {
        group.sort_by_key(Vec::len);
    }
    groups
}

/// Every elementary cycle's node list, each reported once (rotated to start at its
/// smallest name), in a deterministic order. Edges to unknown nodes are ignored.
pub fn find_cycles(graph: &[(String, Vec<String>)]) -> Vec<Vec<String>> {
    let index: HashMap<&str, usize> = graph
        .iter()
        .enumerate()
        .map(|(position, (name, _))| (name.as_str(), position))
        .collect();
    let edges: Vec<Vec<usize>> = graph
        .iter()
        .map(|(name, targets)| {
            targets
                .iter()
                .filter(|target| target.as_str() != name)
                .filter_map(|target| index.get(target.as_str()).copied())
                .collect()
        })
        .collect();
    // Iterative DFS with colours; each back edge closes one cycle along the stack.
    let mut state = vec![0u8; graph.len()]; // 0 new, 1 on stack, 2 done
    let mut cycles: Vec<Vec<String>> = Vec::new();
    for start in 0..graph.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&target) = edges[node].get(*next) {
                *next += 1;
                match state[target] {
                    0 => {
                        state[target] = 1;
                        stack.push((target, 0));
                    }
                    1 => {
                        let from = stack
                            .iter()
                            .position(|&(entry, _)| entry == target)
                            .unwrap_or(0);
                        let mut cycle: Vec<String> = stack[from..]
                            .iter()
                            .map(|&(entry, _)| graph[entry].0.clone())
                            .collect();
                        let smallest = cycle
                            .iter()
                            .enumerate()
                            .min_by(|a, b| a.1.cmp(b.1))
                            .map_or(0, |(position, _)| position);
                        cycle.rotate_left(smallest);
                        if !cycles.contains(&cycle) {
                            cycles.push(cycle);
                        }
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
    cycles.sort();
    cycles
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        edges
            .iter()
            .map(|(name, targets)| {
                (
                    (*name).to_owned(),
                    targets.iter().map(|target| (*target).to_owned()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn cycles_are_found_once_and_rotated() {
        let found = find_cycles(&graph(&[
            ("c", &["a"]),
            ("a", &["b"]),
            ("b", &["c"]),
            ("d", &["a"]),
        ]));
        assert_eq!(found, vec![vec!["a", "b", "c"]]);
        assert!(find_cycles(&graph(&[("a", &["b"]), ("b", &[]), ("c", &["a", "b"])])).is_empty());
    }

    /// Whether `node` can reach itself, by brute force.
    fn reaches_itself(edges: &[Vec<usize>], node: usize) -> bool {
        let mut seen = vec![false; edges.len()];
        let mut todo: Vec<usize> = edges[node].clone();
        while let Some(next) = todo.pop() {
            if next == node {
                return true;
            }
            if !std::mem::replace(&mut seen[next], true) {
                todo.extend(&edges[next]);
            }
        }
        false
    }

    proptest! {
        #[test]
        fn a_cycle_is_reported_exactly_when_one_exists(
            adjacency in proptest::collection::vec(proptest::collection::vec(0usize..7, 0..3), 1..7)
        ) {
            let count = adjacency.len();
            let edges: Vec<Vec<usize>> = adjacency
                .iter()
                .enumerate()
                .map(|(from, targets)| targets.iter().map(|target| target % count).filter(|target| *target != from).collect())
                .collect();
            let named: Vec<(String, Vec<String>)> = edges
                .iter()
                .enumerate()
                .map(|(from, targets)| (format!("s{from}"), targets.iter().map(|target| format!("s{target}")).collect()))
                .collect();
            let cycles = find_cycles(&named);
            let has_cycle = (0..count).any(|node| reaches_itself(&edges, node));
            prop_assert_eq!(!cycles.is_empty(), has_cycle);
            for cycle in &cycles {
                // Every reported cycle is made of real edges and closes on itself.
                for (position, name) in cycle.iter().enumerate() {
                    let next = &cycle[(position + 1) % cycle.len()];
                    let from: usize = name[1..].parse().unwrap();
                    let to: usize = next[1..].parse().unwrap();
                    prop_assert!(edges[from].contains(&to), "{name} -> {next} is not an edge");
                }
            }
        }
    }
}
