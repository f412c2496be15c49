#!/usr/bin/env python3
"""Run ctx and the tools users would pick instead on the same files, and write the report.

usage: bench/peers.py CTX_BINARY RUNS OUT_MARKDOWN VALIDATE_TXT GATES_TXT WORKSPACE...

Each WORKSPACE comes from bench/generate_corpus_workspace.py (its files are under
corpus/, and the feature `all` covers every domain); the last one is the large corpus
the targets are judged on. Every tool turns the same files into one prompt document,
with token counting on where the tool has it. Peers that are not installed are reported
as such. VALIDATE_TXT and GATES_TXT are the outputs of bench/validate.sh and
bench/gates.sh, included verbatim. Every number in the report comes from this run.
"""
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

ctx, runs, report_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
validate_txt, gates_txt = sys.argv[4], sys.argv[5]
workspaces = sys.argv[6:]


def version(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
    except Exception:  # noqa: BLE001 - any failure means "unknown"
        return "unknown"


# Sub-second commands are timed this many times at least: on a small VM their run-to-run
# noise (page-cache write-back of the previous output, other tenants) is tens of percent.
QUICK_RUNS = 9


def measure(command, workspace, warm=False):
    """Median wall time and peak RSS (MiB) over `runs` (QUICK_RUNS for commands under a
    second); None if the command fails."""
    if warm:
        subprocess.run(command, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workspace)
    times, peak = [], 0.0
    while len(times) < runs or (len(times) < QUICK_RUNS and statistics.median(times) < 1.0):
        start = time.perf_counter()
        child = subprocess.Popen(command, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workspace)
        # wait4 reports the shell and the tool it waited for: the tool's own peak.
        _, status, usage = os.wait4(child.pid, 0)
        times.append(time.perf_counter() - start)
        peak = max(peak, usage.ru_maxrss / 1024)
        if os.waitstatus_to_exitcode(status) != 0:
            return None
    return statistics.median(times), peak


# The repeat-bundle target is a ratio to `cat`: also timed in interleaved rounds (cat, JSON,
# Markdown, cat, ...), whose per-round ratios do not drift with the machine the way ratios
# of medians taken minutes apart do.
PAIRED_ROUNDS = 15


def paired(commands, workspace):
    """Wall times of each of `commands`, run in turn for PAIRED_ROUNDS rounds after one
    untimed round."""
    def run(command):
        start = time.perf_counter()
        subprocess.run(command, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workspace)
        return time.perf_counter() - start
    for command in commands:
        run(command)
    times = [[] for _ in commands]
    for _ in range(PAIRED_ROUNDS):
        for index, command in enumerate(commands):
            times[index].append(run(command))
    return times


def tools(workspace):
    corpus, out, listing = f"{workspace}/corpus", f"{workspace}/out", f"{workspace}/files.list"
    bundle = f"{ctx} -C {workspace} bundle all --budget 0"
    # Cold: no token cache (it is removed first); repeat: the cache of the previous run.
    cold = f"rm -rf {workspace}/.ctx && {bundle}"
    return [
        ("cat", "cat (read limit)", ["cat", "--version"], f"xargs -0 cat < {listing} > {out}/cat.txt", False),
        ("ctx-cold", "ctx bundle, cold (JSON, o200k)", [ctx, "--version"], f"{cold} --format json > {out}/ctx.json", False),
        ("ctx-repeat", "ctx bundle, repeat (JSON, o200k)", [ctx, "--version"], f"{bundle} --format json > {out}/ctx.json", True),
        ("ctx-md-cold", "ctx bundle, cold (Markdown, o200k)", [ctx, "--version"], f"{cold} > {out}/ctx.md", False),
        ("ctx-md-repeat", "ctx bundle, repeat (Markdown, o200k)", [ctx, "--version"], f"{bundle} > {out}/ctx.md", True),
        ("ctx-cl100k", "ctx bundle, cold (JSON, cl100k)", [ctx, "--version"], f"{cold} --format json --tokenizer cl100k > {out}/ctx-cl100k.json", False),
        # code2prompt offers cl100k (not o200k): compare it with ctx on both.
        ("code2prompt", "code2prompt (cl100k)", ["code2prompt", "--version"], f"code2prompt {corpus} --encoding cl100k --token-format raw -O {out}/code2prompt.md", False),
        ("yek", "yek (no token counts)", ["yek", "--version"], f"yek {corpus} > {out}/yek.txt", False),
        ("repomix", "repomix (o200k)", ["repomix", "--version"], f"repomix {corpus} -o {out}/repomix.md --style markdown --token-count-encoding o200k_base --no-security-check", False),
        ("files-to-prompt", "files-to-prompt (no token counts)", ["files-to-prompt", "--version"], f"files-to-prompt {corpus} > {out}/files-to-prompt.txt", False),
    ]


def corpus_files(workspace):
    files = []
    for folder, _, names in os.walk(f"{workspace}/corpus"):
        files.extend(os.path.join(folder, name) for name in names)
    files.sort()
    with open(f"{workspace}/files.list", "wb") as handle:
        handle.write(b"\0".join(path.encode() for path in files))
    os.makedirs(f"{workspace}/out", exist_ok=True)
    return len(files), sum(os.path.getsize(path) for path in files) / 1024 / 1024


sections = []
for workspace in workspaces:
    count, size = corpus_files(workspace)
    print(f"corpus: {count} files, {size:.1f} MiB", flush=True)
    results, rows = {}, []
    for key, name, version_command, command, warm in tools(workspace):
        if not shutil.which(version_command[0]) and not os.path.exists(version_command[0]):
            rows.append((name, "not installed", command, None))
            continue
        result = measure(command, workspace, warm)
        results[key] = result
        rows.append((name, version(version_command), command, result))
        print(f"  {name:38} {'failed' if result is None else f'{result[0]:.2f} s, {result[1]:.0f} MiB'}", flush=True)
    commands = {key: command for key, _, _, command, _ in tools(workspace)}
    if workspace == workspaces[-1] and all(results.get(key) for key in ("cat", "ctx-repeat", "ctx-md-repeat")):
        cat, json_times, md_times = paired([commands["cat"], commands["ctx-repeat"], commands["ctx-md-repeat"]], workspace)
        results["paired"] = {
            "cat": statistics.median(cat),
            "json": statistics.median(json_times),
            "md": statistics.median(md_times),
            "json-ratio": statistics.median(j / c for j, c in zip(json_times, cat)),
            "md-ratio": statistics.median(m / c for m, c in zip(md_times, cat)),
        }
        print(f"  interleaved repeat vs cat: {results['paired']['json-ratio']:.2f}x JSON, "
              f"{results['paired']['md-ratio']:.2f}x Markdown", flush=True)
    sections.append((count, size, rows, results))

cpu = "unknown"
try:
    with open("/proc/cpuinfo") as info:
        cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
except Exception:  # noqa: BLE001
    pass

with open(report_path, "w") as report:
    write = report.write
    write("# Benchmarks\n\n")
    write("Generated by `bench/run.sh`; every number below comes from one run of it.\n\n")
    write(f"- Machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}\n")
    write("- Corpora: `bench/generate_corpus_workspace.py` over the crate sources cargo keeps offline, at three sizes\n")
    write(f"- Runs per tool: {runs} ({QUICK_RUNS} for commands under a second); median wall time; "
          "peak RSS of the tool's own process; warm page cache\n")
    write("- Cold: the token cache `.ctx/` is removed before each run; repeat: it holds the previous run's counts\n\n")
    for count, size, rows, results in sections:
        base = results.get("ctx-cold")
        write(f"## {count} files, {size:.1f} MiB\n\n")
        write("| tool | version | median | peak RSS | time vs ctx cold JSON |\n|---|---|---|---|---|\n")
        for name, label, _, result in rows:
            if result is None:
                write(f"| {name} | {label} | {'failed' if label != 'not installed' else '-'} | - | - |\n")
                continue
            ratio = f"{result[0] / base[0]:.2f}x" if base else "-"
            write(f"| {name} | {label} | {result[0]:.2f} s | {result[1]:.0f} MiB | {ratio} |\n")
        write("\n")

    count, size, rows, results = sections[-1]
    get = lambda key: results.get(key)  # noqa: E731

    def ratio(slow, fast):
        return f"{get(slow)[0] / get(fast)[0]:.2f}x" if get(slow) and get(fast) else "n/a"

    write(f"## Against the targets (the {size:.0f} MiB corpus)\n\n")
    if get("ctx-cold") and get("code2prompt"):
        write(f"- Cold bundle vs code2prompt (target: 4x faster): {ratio('code2prompt', 'ctx-cold')} faster "
              f"with o200k ({get('ctx-cold')[0]:.2f} s vs {get('code2prompt')[0]:.2f} s for code2prompt's cl100k); "
              f"{ratio('code2prompt', 'ctx-cl100k')} with the same tokenizer (cl100k).\n")
    if get("ctx-cold") and get("repomix"):
        write(f"- Cold bundle vs repomix (o200k both): {ratio('repomix', 'ctx-cold')} faster.\n")
    if get("paired"):
        pair = get("paired")
        write(f"- Repeat bundle vs `cat` of the same files (target: at most 1.5x), median of the "
              f"per-round ratios over {PAIRED_ROUNDS} interleaved rounds (cat, JSON, Markdown): "
              f"{pair['json-ratio']:.2f}x (JSON), {pair['md-ratio']:.2f}x (Markdown); medians "
              f"{pair['cat']:.2f} s cat, {pair['json']:.2f} s JSON, {pair['md']:.2f} s Markdown. "
              f"From the separate medians in the table: {get('ctx-repeat')[0] / get('cat')[0]:.2f}x (JSON), "
              f"{get('ctx-md-repeat')[0] / get('cat')[0]:.2f}x (Markdown).\n")
    elif get("ctx-repeat") and get("cat"):
        write(f"- Repeat bundle vs `cat` of the same files (target: at most 1.5x): "
              f"{get('ctx-repeat')[0] / get('cat')[0]:.2f}x (JSON), "
              f"{get('ctx-md-repeat')[0] / get('cat')[0]:.2f}x (Markdown).\n")
    if get("ctx-cold"):
        write(f"- Peak RSS (target: at most 120 MiB): cold {get('ctx-cold')[1]:.0f} MiB (JSON), "
              f"{get('ctx-md-cold')[1]:.0f} MiB (Markdown); repeat {get('ctx-repeat')[1]:.0f} MiB. "
              f"Peers: " + ", ".join(f"{name} {result[1]:.0f} MiB" for name, _, _, result in rows
                                      if result and not name.startswith(("ctx", "cat"))) + ".\n")
    write("\n## `ctx validate` (`bench/validate.sh`)\n\n```\n")
    write(open(validate_txt).read())
    write("```\n\n## `ctx gates` (`bench/gates.sh`)\n\n```\n")
    write(open(gates_txt).read())
    write("```\n\n## Commands\n\n")
    for name, _, command, _ in sections[-1][2]:
        write(f"- {name}: `{command}`\n")
print(f"wrote {report_path}")
