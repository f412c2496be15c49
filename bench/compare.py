#!/usr/bin/env python3
"""A/B benchmark of two ctx binaries, interleaved in one run, with outputs compared.

usage: bench/compare.py OLD_CTX NEW_CTX [SOURCE_DIR] [ROUNDS]

For a refactor or a speed change: builds the 140 MiB bundle corpus (from SOURCE_DIR,
default the crate sources cargo keeps offline), the 2,000-document validate workspace
and the 200-gate workspace, then, ROUNDS times (default 9), runs each measurement with
the old binary and the new one back to back (the order alternating per round), so both
see the same machine state. Reports per measurement the median of each binary and the
median of the per-round new/old ratios. First, it checks that both binaries write the
same bytes (Markdown and JSON bundles, cold and repeat) and says so.
"""
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(command, **kwargs):
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - start


def output(command):
    return subprocess.run(command, check=True, capture_output=True).stdout


def main():
    old, new = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    source = sys.argv[3] if len(sys.argv) > 3 else sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/")))[0]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 9
    work = tempfile.mkdtemp()
    try:
        corpus = os.path.join(work, "corpus")
        subprocess.run([sys.executable, f"{HERE}/generate_corpus_workspace.py", source, corpus, "140"], check=True, stdout=subprocess.DEVNULL)
        docs = os.path.join(work, "docs")
        subprocess.run([sys.executable, f"{HERE}/generate_workspace.py", docs, "2000"], check=True, stdout=subprocess.DEVNULL)
        gates = os.path.join(work, "gates", "domains")
        os.makedirs(gates)
        with open(os.path.join(gates, "bench.yaml"), "w") as out:
            out.write("kind: domain\nname: bench\nquality_gates:\n" + "".join(f'  t{i}: "true"\n' for i in range(200)))
        subprocess.run(["sync"], check=True)

        cache = os.path.join(corpus, ".ctx")
        bundle = lambda ctx, fmt, extra=(): [ctx, "-C", corpus, "bundle", "all", "--format", fmt, *extra]
        same = True
        for fmt in ("markdown", "json"):
            shutil.rmtree(cache, ignore_errors=True)
            a = output(bundle(old, fmt))
            shutil.rmtree(cache, ignore_errors=True)
            b = output(bundle(new, fmt))
            c = output(bundle(new, fmt))  # repeat, with the new binary's cache
            same &= a == b == c
            print(f"identical {fmt}: {a == b == c} ({len(a):,} bytes)")
        print(f"outputs byte-identical: {same}")

        def cold(ctx, fmt):
            shutil.rmtree(cache, ignore_errors=True)
            return run(bundle(ctx, fmt))

        def repeat(ctx, fmt):
            return run(bundle(ctx, fmt))

        measurements = {
            "cold bundle, JSON": lambda ctx: cold(ctx, "json"),
            "cold bundle, Markdown": lambda ctx: cold(ctx, "markdown"),
            "repeat bundle, JSON": lambda ctx: repeat(ctx, "json"),
            "repeat bundle, Markdown": lambda ctx: repeat(ctx, "markdown"),
            "validate, 2,000 documents": lambda ctx: run([ctx, "-C", docs, "validate"]),
            "gates, 200 x true at -j 2": lambda ctx: run([ctx, "-C", os.path.dirname(gates), "gates", "--domain", "bench", "-j", "2"]),
        }
        print(f"\n{rounds} interleaved rounds; median seconds; ratio = median of per-round new/old")
        print(f"| measurement | old | new | new/old |\n|---|---|---|---|")
        for name, measure in measurements.items():
            for ctx in (old, new, old, new):  # warm-up
                measure(ctx)
            olds, news, ratios = [], [], []
            for index in range(rounds):
                pair = (old, new) if index % 2 == 0 else (new, old)
                times = {ctx: measure(ctx) for ctx in pair}
                olds.append(times[old])
                news.append(times[new])
                ratios.append(times[new] / times[old])
            print(f"| {name} | {statistics.median(olds):.3f} | {statistics.median(news):.3f} | {statistics.median(ratios):.3f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
