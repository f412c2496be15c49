#!/usr/bin/env python3
"""Benchmark `ctx mcp` on the shipped example, over real pipes (no SDK in the way).

usage: bench/mcp.py [CTX] [CALLS]

- start to first answer: spawn `ctx mcp` and time until the `initialize` answer (median of 15);
- a warm `ctx_bundle` round trip (feature checkout, Markdown): p50 and p90 over CALLS calls;
- memory: the server's RSS after the first 100 calls and after CALLS calls.
"""
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CTX = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/ctx")
CALLS = int(sys.argv[2]) if len(sys.argv) > 2 else 1000

INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}


def start():
    server = subprocess.Popen([CTX, "-C", ROOT, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return server


def send(server, message):
    server.stdin.write((json.dumps(message) + "\n").encode())
    server.stdin.flush()


def answer(server, id):
    while True:
        message = json.loads(server.stdout.readline())
        if message.get("id") == id:
            return message


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


starts, first_bundles = [], []
for _ in range(15):
    began = time.perf_counter()
    server = start()
    send(server, INITIALIZE)
    answer(server, 0)
    starts.append(time.perf_counter() - began)
    send(server, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    send(server, {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                  "params": {"name": "ctx_bundle", "arguments": {"feature": "checkout", "set": {"ticket": "SHOP-1"}}}})
    answer(server, 1)
    first_bundles.append(time.perf_counter() - began)
    server.stdin.close()
    server.wait()

server = start()
send(server, INITIALIZE)
answer(server, 0)
send(server, {"jsonrpc": "2.0", "method": "notifications/initialized"})
call = {"name": "ctx_bundle", "arguments": {"feature": "checkout", "set": {"ticket": "SHOP-1"}}}
times = []
rss_early = 0
for index in range(1, CALLS + 1):
    began = time.perf_counter()
    send(server, {"jsonrpc": "2.0", "id": index, "method": "tools/call", "params": call})
    result = answer(server, index)["result"]
    times.append(time.perf_counter() - began)
    assert not result["isError"], result
    if index == 100:
        rss_early = rss_kib(server.pid)
rss_late = rss_kib(server.pid)
server.stdin.close()
server.wait()
times.sort()
print(f"start to first answer: {statistics.median(starts) * 1000:.1f} ms to `initialize`, "
      f"{statistics.median(first_bundles) * 1000:.1f} ms to the first ctx_bundle (workspace opened) (medians of {len(starts)})")
print(f"warm ctx_bundle round trip: p50 {times[len(times) // 2] * 1000:.1f} ms, p90 {times[int(len(times) * 0.9)] * 1000:.1f} ms ({CALLS} calls)")
print(f"server RSS: {rss_early / 1024:.1f} MiB after 100 calls, {rss_late / 1024:.1f} MiB after {CALLS} ({(rss_late / rss_early - 1) * 100:+.1f} %)")
