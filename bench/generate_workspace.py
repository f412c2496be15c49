#!/usr/bin/env python3
"""Generate a large, valid ctx workspace for benchmarks.

usage: generate_workspace.py OUT_DIR [DOCUMENTS]

Writes DOCUMENTS config documents (default 2000): 1 org, and domains, services,
features and agents in a 40/30/25/5 split, each domain with source files its patterns
point at (literal paths, `lines` excerpts and globs), services with depends_on chains,
features with phases that cite domain patterns and gates, agents used in `audience`.
The result validates cleanly, so the benchmark measures the full check.
"""
import os
import sys


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def main():
    out = sys.argv[1]
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    domains = int(total * 0.40)
    services = int(total * 0.30)
    agents = max(3, int(total * 0.05))
    features = total - 1 - domains - services - agents
    write(f"{out}/ctx.toml", '[workspace]\nname = "bench"\nconfig = ["config"]\n')
    write(f"{out}/config/org.yaml",
          "kind: org\nname: bench-org\nconstraints:\n  security:\n    text: never log secrets\n    final: true\n"
          "quality_gates:\n  lint: true\n")
    agent_docs = []
    for a in range(agents):
        agent_docs.append(f"kind: agent\nname: agent-{a}\ntopics: [security, t{a % 7}]\n")
    write(f"{out}/config/agents.yaml", "---\n".join(agent_docs))
    for d in range(domains):
        name = f"domain_{d:04d}"
        src = f"src/{name}"
        for f in range(3):
            write(f"{out}/{src}/module_{f}.py", "".join(f"def f{f}_{line}(x):\n    return x + {line}\n" for line in range(20)))
        write(f"{out}/config/domains/{name}.yaml", f"""kind: domain
name: {name}
owners: [team-{d % 17}]
match:
  keywords: [k{d}, topic{d % 50}]
  paths: ["{src}/**"]
patterns:
  main: {src}/module_0.py
  excerpt:
    path: {src}/module_1.py
    lines: 3-12
    why: the canonical shape
    topics: [security]
  all: {src}/*.py
constraints:
  latency: p99 under {100 + d % 300} ms
  review:
    text: reviewers check the error paths
    audience: [agent-{d % agents}]
quality_gates:
  tests-{d}: python3 -m pytest {src}
  lint-{d}:
    run: ruff check {src}
    timeout: 2m
examples: {src}/
""")
    for s in range(services):
        deps = "" if s == 0 else f"depends_on: [service-{s - 1}]\n"
        domain = f"domain_{s % domains:04d}"
        write(f"{out}/config/services/service-{s}.yaml", f"""kind: service
name: service-{s}
domain: {domain}
{deps}paths: ["src/{domain}/**"]
local_patterns:
  local: src/{domain}/module_2.py
shared_patterns:
  client-{s}: src/{domain}/module_0.py
integration_patterns:
  calls: src/{domain}/module_1.py
constraints:
  {domain}/latency: {{ enabled: false }}
quality_gates:
  svc-{s}: make test-{s}
""")
    for f in range(features):
        d1, d2 = f"domain_{f % domains:04d}", f"domain_{(f + 1) % domains:04d}"
        write(f"{out}/config/features/feature-{f}.yaml", f"""kind: feature
name: feature-{f}
domains: [{d1}, {d2}]
services: [service-{f % services}]
inputs:
  ticket: tracker id
phases:
  - name: first
    domains: [{d1}]
    patterns: [main, excerpt]
    validation: [tests-{f % domains}, "the happy path works end to end"]
  - name: second
    domains: [{d2}]
    patterns: [all]
constraints:
  {d2}/latency: {{ enabled: false }}
quality_gates:
  {d1}/lint-{f % domains}: {{ timeout: 30s }}
""")
    print(f"{out}: 1 org, {domains} domains, {services} services, {features} features, {agents} agents = {total} documents")


if __name__ == "__main__":
    main()
