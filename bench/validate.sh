#!/usr/bin/env bash
# Benchmark `ctx validate` on a generated 2,000-document workspace, and time the
# rejection of hostile configs (alias bomb, 100k-deep nesting).
#
# usage: bench/validate.sh [DOCUMENTS] [RUNS]
# Prints the median wall time of RUNS runs (default 15) and the peak RSS of one run.
set -euo pipefail
cd "$(dirname "$0")/.."
documents="${1:-2000}"
runs="${2:-15}"
cargo build --release --locked --quiet
ctx="$PWD/target/release/ctx"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 bench/generate_workspace.py "$work/ws" "$documents"
"$ctx" -C "$work/ws" validate   # must pass: the benchmark measures a clean, full check
# Measure a warm page cache, not the write-back of the files just generated.
sync

mkdir -p "$work/bomb/domains" "$work/deep/domains"
python3 - "$work" <<'PY'
import sys
work = sys.argv[1]
lines = ["kind: domian", "name: users", "lol:", "  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
for level in range(1, 10):
    lines.append(f"  a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
open(f"{work}/bomb/domains/a.yaml", "w").write("\n".join(lines) + "\n")
open(f"{work}/deep/domains/a.yaml", "w").write("kind: domian\nname: users\nx: " + "[" * 100000 + "]" * 100000 + "\n")
PY

python3 - "$ctx" "$work" "$runs" <<'PY'
import os, statistics, subprocess, sys, time
ctx, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])

def measure(root, expected):
    for _ in range(3):  # warm-up: page cache, dentries
        subprocess.run([ctx, "-C", root, "validate"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        code = subprocess.run([ctx, "-C", root, "validate"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        times.append(time.perf_counter() - start)
        assert code == expected, f"{root}: exit {code}, expected {expected}"
    return statistics.median(times), min(times), max(times)

def peak_rss(root):
    # wait4 gives this one child's own peak (RUSAGE_CHILDREN would be a max over all).
    child = subprocess.Popen([ctx, "-C", root, "validate"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(child.pid, 0)
    return usage.ru_maxrss / 1024

for label, root, expected in [("2,000-document workspace", f"{work}/ws", 0),
                              ("alias bomb (billion laughs)", f"{work}/bomb", 2),
                              ("100,000-deep flow nesting", f"{work}/deep", 2)]:
    median, low, high = measure(root, expected)
    print(f"{label:32} median {median * 1000:7.1f} ms  (min {low * 1000:.1f}, max {high * 1000:.1f}, {runs} runs)  peak RSS {peak_rss(root):.1f} MiB")
PY
