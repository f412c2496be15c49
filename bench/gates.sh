#!/usr/bin/env bash
# Benchmark the gate runner: per-gate overhead against `xargs -P`, and parallel
# efficiency.
#
# usage: bench/gates.sh [RUNS]
#   200 × `true`              ctx gates -j 2 vs xargs -P 2 sh -c true (overhead per gate)
#   20 × `sleep 0.5` at -j 2  vs the ideal 5.0 s
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
cargo build --release --locked --quiet
ctx="$PWD/target/release/ctx"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/trues/domains" "$work/sleeps/domains"
{
  echo "kind: domain"; echo "name: bench"; echo "quality_gates:"
  for i in $(seq 1 200); do echo "  t$i: \"true\""; done
} > "$work/trues/domains/bench.yaml"
{
  echo "kind: domain"; echo "name: bench"; echo "quality_gates:"
  for i in $(seq 1 20); do echo "  s$i: sleep 0.5"; done
} > "$work/sleeps/domains/bench.yaml"

python3 - "$ctx" "$work" "$runs" <<'PY'
import statistics, subprocess, sys, time
ctx, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])

def median(command, **kwargs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
        times.append(time.perf_counter() - start)
    return statistics.median(times)

trues = median([ctx, "-C", f"{work}/trues", "gates", "--domain", "bench", "-j", "2"])
xargs = median(["sh", "-c", "seq 200 | xargs -P 2 -I{} sh -c true"])
validate = median([ctx, "-C", f"{work}/trues", "validate"])
print(f"200 x true:   ctx gates -j 2 {trues:.3f} s, xargs -P 2 {xargs:.3f} s, ctx validate alone {validate:.3f} s")
print(f"              overhead per gate vs xargs: {(trues - xargs) / 200 * 1000:.2f} ms "
      f"({(trues - validate - xargs) / 200 * 1000:.2f} ms excluding config loading)")
sleeps = median([ctx, "-C", f"{work}/sleeps", "gates", "--domain", "bench", "-j", "2"])
print(f"20 x sleep 0.5 at -j 2: {sleeps:.3f} s vs ideal 5.000 s ({(sleeps / 5.0 - 1) * 100:+.1f} %)")
PY
