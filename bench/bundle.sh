#!/usr/bin/env bash
# Benchmark `ctx bundle` on a large workspace generated from a real source tree.
#
# usage: bench/bundle.sh [SOURCE_DIR] [MAX_MB] [RUNS]
# SOURCE_DIR defaults to the crate sources cargo keeps offline (~/.cargo/registry/src/*);
# prints the median wall time and peak RSS of `ctx bundle all` (JSON and Markdown),
# with `cat` of the same files as the read limit.
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir="${1:-$(ls -d "$HOME"/.cargo/registry/src/*/ | head -1)}"
max_mb="${2:-140}"
runs="${3:-5}"
cargo build --release --locked --quiet
ctx="$PWD/target/release/ctx"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 bench/generate_corpus_workspace.py "$source_dir" "$work/ws" "$max_mb"
"$ctx" -C "$work/ws" validate

python3 - "$ctx" "$work/ws" "$runs" <<'PY'
import os, statistics, subprocess, sys, time
ctx, root, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])

def measure(command):
    times, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        times.append(time.perf_counter() - start)
        peaks.append(usage.ru_maxrss / 1024)
        assert os.waitstatus_to_exitcode(status) == 0, command
    return statistics.median(times), max(peaks)

files = []
for folder, _, names in os.walk(os.path.join(root, "corpus")):
    files.extend(os.path.join(folder, name) for name in names)
files.sort()
size = sum(os.path.getsize(path) for path in files) / 1024 / 1024
print(f"corpus: {len(files)} files, {size:.1f} MiB")
for label, command in [
    ("cat (read limit)", ["sh", "-c", 'xargs -0 cat > /dev/null < "$0"', os.path.join(root, "files.list")]),
    ("ctx bundle --format json", [ctx, "-C", root, "bundle", "all", "--format", "json"]),
    ("ctx bundle (markdown)", [ctx, "-C", root, "bundle", "all"]),
]:
    if label.startswith("cat"):
        with open(command[-1], "wb") as listing:
            listing.write(b"\0".join(path.encode() for path in files))
    median, peak = measure(command)
    print(f"{label:28} median {median:6.2f} s   peak RSS {peak:7.1f} MiB   ({runs} runs)")
PY
