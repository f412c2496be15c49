#!/usr/bin/env python3
"""Benchmark the outcome store (SQLite).

usage: bench/store.py [CTX] [RUNS]

- what recording adds to a run: a 200-gate run (`true` gates, -j 2) with the store vs
  with `--no-store`, interleaved, median difference;
- `ctx insights` over 10,000 recorded runs x 100 items (all analysed: `--last 10000`),
  generated straight into the store's tables.
"""
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CTX = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(HERE), "target/release/ctx")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 11


def timed(command):
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


root = tempfile.mkdtemp()
try:
    os.makedirs(f"{root}/domains")
    with open(f"{root}/domains/d.yaml", "w") as out:
        out.write("kind: domain\nname: d\npatterns:\n" + "".join(f"  p{i}: {{ path: domains/d.yaml }}\n" for i in range(20))
                  + "quality_gates:\n" + "".join(f"  g{i}: \"true\"\n" for i in range(200))
                  + "---\nkind: feature\nname: f\ndomains: [d]\n")
    base = [CTX, "-C", root, "gates", "f", "-j", "2"]
    for _ in range(3):
        timed(base)
        timed(base + ["--no-store"])
    with_store, without, differences = [], [], []
    for index in range(RUNS):
        pair = [(base, with_store), (base + ["--no-store"], without)]
        if index % 2:
            pair.reverse()
        seconds = {}
        for command, into in pair:
            seconds[len(command)] = timed(command)
            into.append(seconds[len(command)])
        differences.append(seconds[len(base)] - seconds[len(base) + 1])
    print(f"200-gate run: {statistics.median(with_store) * 1000:.1f} ms recorded vs {statistics.median(without) * 1000:.1f} ms with --no-store; "
          f"recording adds {statistics.median(differences) * 1000:.1f} ms (median of {RUNS} interleaved pairs)")

    # 10,000 runs x 100 items, written straight into the schema ctx created.
    store = os.path.join(root, ".ctx/store.sqlite")
    connection = sqlite3.connect(store)
    connection.execute("DELETE FROM ctx_runs")
    connection.execute("DELETE FROM ctx_run_items")
    connection.execute("DELETE FROM ctx_run_gates")
    workspace = os.path.basename(root)
    random.seed(7)
    runs, items = [], []
    for number in range(10_000):
        run_id = f"20260101T{number // 3600 % 24:02d}{number // 60 % 60:02d}{number % 60:02d}Z-{number:06x}"
        success = random.random() < 0.6
        runs.append((workspace, run_id, "t", number, number + 1, None, None, 0, "f", None, "domain:d", None, "{}", "passed" if success else "failed"))
        for item in range(100):
            present = random.random() < (0.9 if (item == 0) == success else 0.5)
            items.append((workspace, run_id, f"domain:d/patterns/p{item}", "included" if present else "omitted-budget", "h", 10))
    connection.executemany("INSERT INTO ctx_runs (workspace, run_id, trace_id, started_ms, finished_ms, git_commit, git_branch, git_dirty, feature, agent, scopes, bundle_digest, tokens_by_layer, verdict) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", runs)
    connection.executemany("INSERT INTO ctx_run_items (workspace, run_id, item_id, status, content_hash, tokens) VALUES (?,?,?,?,?,?)", items)
    connection.commit()
    connection.close()
    command = [CTX, "-C", root, "insights", "--last", "10000", "--format", "json"]
    timed(command)
    times = [timed(command) for _ in range(RUNS)]
    print(f"ctx insights over 10,000 runs x 100 items: {statistics.median(times) * 1000:.1f} ms (median of {RUNS})")
finally:
    shutil.rmtree(root)
