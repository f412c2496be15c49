#!/usr/bin/env bash
# Every benchmark, in one run, written to BENCHMARKS.md: `ctx validate` (2,000
# documents, hostile configs), `ctx gates` (overhead, parallel efficiency), and
# `ctx bundle` cold and repeated next to code2prompt, yek, repomix, files-to-prompt and
# `cat` on the same files, at three corpus sizes of crate sources and on a 140 MiB
# mixed-language corpus.
#
# usage: bench/run.sh [SOURCE_DIR] [RUNS]
# SOURCE_DIR defaults to the crate sources cargo keeps offline (~/.cargo/registry/src/*).
# Peers (each optional; missing ones are reported as such): code2prompt and yek
# (`cargo install`), repomix (`npm install -g repomix`), files-to-prompt
# (`pip install files-to-prompt`).
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir="${1:-$(ls -d "$HOME"/.cargo/registry/src/*/ | head -1)}"
runs="${2:-3}"
cargo build --release --locked --quiet
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "== ctx validate"
bench/validate.sh 2000 31 | tee "$work/validate.txt"
echo "== ctx gates"
bench/gates.sh 5 | tee "$work/gates.txt"
echo "== ctx bundle and peers"
for mb in 6 40 140; do
  python3 bench/generate_corpus_workspace.py "$source_dir" "$work/ws$mb" "$mb" > /dev/null
done
# The same figures on a mixed-language tree (C/C++ headers, Python, Rust) the machine
# has offline: crate sources alone flatter the tokenizer.
python3 bench/generate_corpus_workspace.py mixed "$work/mixed140" 140 > /dev/null
sync  # time warm reads, not the write-back of the corpora just generated
python3 bench/peers.py "$PWD/target/release/ctx" "$runs" "$PWD/BENCHMARKS.md" \
  "$work/validate.txt" "$work/gates.txt" "$work/ws6" "$work/ws40" "$work/ws140" "$work/mixed140"
