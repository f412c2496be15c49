#!/usr/bin/env python3
"""Benchmark a fully cached `ctx gates` run: 200 gates, each with 50 input files.

usage: bench/gates_cache.py [CTX] [RUNS]

The first run passes and records every gate; the timed runs reuse every pass (median).
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

root = tempfile.mkdtemp()
try:
    os.makedirs(f"{root}/domains")
    gates = []
    for gate in range(200):
        os.makedirs(f"{root}/src/g{gate}")
        for index in range(50):
            with open(f"{root}/src/g{gate}/f{index}.py", "w") as out:
                out.write(f"# gate {gate} file {index}\n" + "x = 1\n" * 40)
        gates.append(f"  g{gate}:\n    run: \"true\"\n    inputs: [\"src/g{gate}/**\"]\n")
    with open(f"{root}/domains/d.yaml", "w") as out:
        out.write("kind: domain\nname: d\nquality_gates:\n" + "".join(gates))
    command = [CTX, "-C", root, "gates", "--domain", "d", "-j", "2"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["sync"], check=True)
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        result = subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - start)
        assert "200 cached" in result.stderr, result.stderr[-300:]
    print(f"fully cached run, 200 gates x 50 input files: {statistics.median(times) * 1000:.1f} ms (median of {RUNS}; min {min(times) * 1000:.1f})")
finally:
    shutil.rmtree(root)
