#!/usr/bin/env bash
# Compare ctx with the tools users would pick instead, on the same files, in one run,
# and write BENCHMARKS.md.
#
# usage: bench/peers.sh [SOURCE_DIR] [MAX_MB] [RUNS]
# Peers (installed separately, each optional): code2prompt and yek (`cargo install`),
# repomix (`npm install -g repomix`), files-to-prompt (`pip install files-to-prompt`).
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir="${1:-$(ls -d "$HOME"/.cargo/registry/src/*/ | head -1)}"
max_mb="${2:-140}"
runs="${3:-3}"
cargo build --release --locked --quiet
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 bench/generate_corpus_workspace.py "$source_dir" "$work/ws" "$max_mb"
python3 bench/peers.py "$PWD/target/release/ctx" "$work/ws" "$runs" "$PWD/BENCHMARKS.md"
