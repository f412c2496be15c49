#!/usr/bin/env python3
"""Benchmark `ctx export` of every target on a 10-domain, 30-service workspace.

usage: bench/export.py [CTX] [RUNS]

Times a first export (every file written) and a repeat (nothing changes), median of RUNS.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CTX = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(HERE), "target/release/ctx")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 15
TARGETS = ["agents-md", "claude", "cursor", "copilot", "kiro", "devin", "skills"]


def workspace(root):
    os.makedirs(f"{root}/domains", exist_ok=True)
    with open(f"{root}/domains/org.yaml", "w") as out:
        out.write("kind: org\nname: acme\nconstraints:\n" + "".join(f"  rule{i}: Org rule number {i} applies to every change\n" for i in range(8))
                  + "quality_gates:\n  lint: make lint\n")
    for d in range(10):
        os.makedirs(f"{root}/src/d{d}", exist_ok=True)
        for p in range(5):
            with open(f"{root}/src/d{d}/m{p}.py", "w") as out:
                out.write("def f():\n    return 1\n")
        with open(f"{root}/domains/d{d}.yaml", "w") as out:
            out.write(f"kind: domain\nname: d{d}\ndescription: Domain {d}\nmatch:\n  paths: [\"src/d{d}/**\"]\n  keywords: [k{d}, area{d}]\n"
                      "patterns:\n" + "".join(f"  p{p}:\n    path: src/d{d}/m{p}.py\n    why: Module {p} shows the way\n" for p in range(5))
                      + "constraints:\n" + "".join(f"  c{c}: Domain {d} constraint {c} must hold\n" for c in range(6))
                      + f"quality_gates:\n  test: pytest src/d{d}\n")
    docs = []
    for s in range(30):
        d = s % 10
        os.makedirs(f"{root}/services/s{s}", exist_ok=True)
        with open(f"{root}/services/s{s}/main.py", "w") as out:
            out.write("x = 1\n")
        deps = f"depends_on: [s{s - 1}]\n" if s % 10 else ""
        docs.append(f"kind: service\nname: s{s}\ndomain: d{d}\npaths: [\"services/s{s}/**\"]\n{deps}"
                    f"shared_patterns:\n  api{s}:\n    path: services/s{s}/main.py\n    why: The API of s{s}\n"
                    f"constraints:\n  own{s}: Service {s} owns its tables\nquality_gates:\n  test: pytest services/s{s}\n")
    with open(f"{root}/domains/services.yaml", "w") as out:
        out.write("---\n".join(docs))
    for f in range(3):
        with open(f"{root}/domains/f{f}.yaml", "w") as out:
            out.write(f"kind: feature\nname: f{f}\ndescription: Feature {f}\ndomains: [d{f}, d{f + 1}]\nservices: [s{f}]\n"
                      f"phases:\n  - name: build\n    domains: [d{f}]\n    patterns: [p0]\n    validation: [test]\n")


def clean(root):
    for path in ["AGENTS.md", "CLAUDE.md", ".claude", ".cursor", ".github", ".kiro", ".devin", ".agents"]:
        full = os.path.join(root, path)
        if os.path.isdir(full):
            shutil.rmtree(full)
        elif os.path.exists(full):
            os.remove(full)
    for dirpath, _, files in os.walk(os.path.join(root, "services")):
        if "AGENTS.md" in files:
            os.remove(os.path.join(dirpath, "AGENTS.md"))


def timed(root):
    start = time.perf_counter()
    subprocess.run([CTX, "-C", root, "export", *TARGETS], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


root = tempfile.mkdtemp()
try:
    workspace(root)
    subprocess.run([CTX, "-C", root, "validate"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first, repeat = [], []
    for _ in range(RUNS):
        clean(root)
        first.append(timed(root))
        repeat.append(timed(root))
    count = sum(1 for _ in subprocess.run([CTX, "-C", root, "export", "--dry-run", *TARGETS], check=True, capture_output=True, text=True).stdout.splitlines())
    print(f"ctx export, 7 targets, 10 domains / 30 services / 3 features ({count} files): "
          f"first {statistics.median(first) * 1000:.1f} ms, repeat {statistics.median(repeat) * 1000:.1f} ms (medians of {RUNS})")
finally:
    shutil.rmtree(root)
