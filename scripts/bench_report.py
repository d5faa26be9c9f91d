#!/usr/bin/env python3
"""Writes BENCHMARKS.md and docs/benchmarks.svg from criterion's saved results.

    python3 scripts/bench_report.py          # report what `cargo bench` last saved
    python3 scripts/bench_report.py --run    # run every benchmark first (a few minutes)

Criterion keeps each measurement in target/criterion/<group>/<function>/new/estimates.json.
In every group of the benches, functions named `taskgroup*` are ours, `floor_*` are the floor
(the least the operation can cost: a bare atomic, no timer, ...) and the rest are peers. The
report gives, per scenario, the median of each contender and its ratio to the fastest peer, and
the chart draws that same ratio for taskgroup, one row per scenario (log scale, the exact ratio
printed beside each bar).
Standard library only, so it runs on a fresh machine.
"""

import argparse
import datetime
import html
import json
import os
import platform
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRITERION = os.path.join(ROOT, "target", "criterion")
BENCHES = os.path.join(ROOT, "benches")
RUN_FLAGS = ["--warm-up-time", "1", "--measurement-time", "3"]


def benches_with_required_features():
    """Names of the `[[bench]]` entries of benches/Cargo.toml that have `required-features`."""
    gated, name = set(), None
    with open(os.path.join(BENCHES, "Cargo.toml"), encoding="utf-8") as manifest:
        for line in manifest:
            line = line.strip()
            if line.startswith("[["):
                name = None
            elif line.startswith("name = "):
                name = line.split("=", 1)[1].strip().strip('"')
            elif line.startswith("required-features") and name:
                gated.add(name)
    return gated


def bench_files():
    """Maps each benchmark group to the bench file that defines it, in file order.

    A group is found as a `benchmark_group("...")` literal, or as any other string literal of
    the file (a name passed to a helper), or, for names built at run time with `format!`, as
    the literal text before the first `{`."""
    groups = {}
    for name in sorted(os.listdir(BENCHES)):
        if not name.endswith(".rs"):
            continue
        with open(os.path.join(BENCHES, name)) as f:
            text = f.read()
        for group in re.findall(r'benchmark_group\(\s*"([^"]+)"', text):
            groups.setdefault(group, name[:-3])
        for literal in re.findall(r'"([a-z0-9_{}]+)"', text):
            groups.setdefault("prefix:" + literal.split("{")[0], name[:-3])
    return groups


def bench_of(scenario, files):
    group = scenario.split("/")[0]
    if group in files:
        return files[group]
    prefixes = [k[len("prefix:"):] for k in files if k.startswith("prefix:")]
    matches = [p for p in prefixes if p and group.startswith(p) and len(p) > 3]
    return files["prefix:" + max(matches, key=len)] if matches else "?"


def load(criterion):
    """Returns {scenario: [(function, median_ns)]} from criterion's saved estimates.

    A scenario is a group, or a group and a parameter (`group/param`, from a `BenchmarkId`):
    contenders are compared within one scenario only."""
    results = {}
    for dirpath, _, filenames in os.walk(criterion):
        if os.path.basename(dirpath) != "new" or "benchmark.json" not in filenames:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            meta = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            median = json.load(f)["median"]["point_estimate"]
        scenario = meta["group_id"]
        if meta.get("value_str"):
            scenario += "/" + meta["value_str"]
        name = meta.get("function_id") or meta.get("value_str") or "?"
        results.setdefault(scenario, []).append((name, median))
    return results


def kind(function):
    # `_front` lines (the semaphore's drop-and-re-queue scenarios) drop the head of the queue,
    # which no implementation has to search for: a reference cost to subtract, not a contender.
    if function.endswith("_front"):
        return "reference"
    if function.startswith("taskgroup"):
        return "taskgroup"
    if function.startswith("floor"):
        return "floor"
    return "peer"


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_ratio(ratio):
    """Two decimals, as BENCHMARKS.md's tables; two significant digits below 0.01."""
    return f"{ratio:.2f}" if ratio >= 0.01 else f"{ratio:.2g}"


def machine():
    cores = os.cpu_count()
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        rustc = "rustc (unknown)"
    return f"{cores} cores, {cpu}, {platform.system()} {platform.release()}; {rustc}"


def measured_on(criterion):
    """The day of the newest saved measurement (not today: a report made later without `--run`
    keeps the date of its numbers)."""
    newest = 0.0
    for dirpath, _, filenames in os.walk(criterion):
        if "estimates.json" in filenames:
            newest = max(newest, os.path.getmtime(os.path.join(dirpath, "estimates.json")))
    day = datetime.date.fromtimestamp(newest) if newest else datetime.date.today()
    return day.isoformat()


def markdown(results, files, today):
    out = [
        "# Benchmarks",
        "",
        "Generated by `python3 scripts/bench_report.py --run` (it runs `cargo bench -p taskgroup-benches --bench <each> -- "
        + " ".join(RUN_FLAGS)
        + "`, then reads criterion's saved results); do not edit by hand.",
        "",
        f"- Date: {today}",
        f"- Machine: {machine()}",
        "- Medians of one run. On a small, shared machine absolute times are noisy: compare the",
        "  ratios of contenders measured in the same run. Ratio = time ÷ the fastest peer's time",
        "  (below 1.00: taskgroup is faster); `floor` is the least the operation can cost.",
        "- The multi-thread groups that swung with the VM's phases (`contended_tokio_mt_64x4`,",
        "  `weighted_tokio_mt`, `contended_smol`, `spawned_100k_yield_once` and its `_worker_task`,",
        "  `small_10k_parallel_mt`, `cancel_10k_pending_mt`, `pool_10k_yield_jobs_limit_64`,",
        "  `rate_64_tasks_acquire_await`)",
        "  run one batch of every contender per round, 60 rounds (benches/common/interleaved.rs):",
        "  their figures are means over the same rounds for every contender.",
        "",
        "![per scenario, taskgroup's time ÷ the fastest peer's (the ratio column below)]"
        "(docs/benchmarks.svg)",
        "",
    ]
    summary = ["| scenario | bench | taskgroup | fastest peer | ratio | vs floor |",
               "| --- | --- | --- | --- | --- | --- |"]
    sections = []
    order = [g for g in files if g in results]
    for group in order:
        rows = results[group]
        peers = [(n, t) for n, t in rows if kind(n) == "peer"]
        floors = [(n, t) for n, t in rows if kind(n) == "floor"]
        ours = [(n, t) for n, t in rows if kind(n) == "taskgroup"]
        fastest_peer = min(peers, key=lambda r: r[1]) if peers else None
        floor = min(floors, key=lambda r: r[1]) if floors else None
        bench = files.get(group, "?")
        if ours and fastest_peer:
            main = min(ours, key=lambda r: (r[0] != "taskgroup", r[1]))
            ratio = main[1] / fastest_peer[1]
            vs_floor = f"{main[1] / floor[1]:.2f}×" if floor else "–"
            summary.append(
                f"| `{group}` | {bench} | {fmt_time(main[1])} | `{fastest_peer[0]}` "
                f"{fmt_time(fastest_peer[1])} | **{ratio:.2f}** | {vs_floor} |")
        table = [f"### `{group}` ({bench})", "",
                 "| contender | kind | median | ratio to fastest peer | ratio to floor |",
                 "| --- | --- | --- | --- | --- |"]
        for name, t in sorted(rows, key=lambda r: r[1]):
            r_peer = f"{t / fastest_peer[1]:.2f}" if fastest_peer else "–"
            r_floor = f"{t / floor[1]:.2f}" if floor else "–"
            table.append(f"| `{name}` | {kind(name)} | {fmt_time(t)} | {r_peer} | {r_floor} |")
        sections.append("\n".join(table) + "\n")
    out += ["## Summary", "", *summary, "", "## Every scenario", ""]
    out += sections
    cmd = "cargo bench -p taskgroup-benches --bench <name> -- <group> " + " ".join(RUN_FLAGS)
    out += ["## Reproduce", "", "```sh", "python3 scripts/bench_report.py --run   # everything",
            cmd + "   # one scenario", "```", ""]
    return "\n".join(out)


# A human name per scenario for the chart (the bench id stays in BENCHMARKS.md's tables). A
# scenario missing here gets a name from `pretty()`; add a line when a bench adds a scenario.
NAMES = {
    "cancel_10k_pending_local": "first error cancels 10k pending tasks, local",
    "cancel_10k_pending_mt": "first error cancels 10k pending tasks, 2 threads",
    "limit64_yield_once_10k_local": "10k tasks yielding once, 64 at a time",
    "limit8_10k": "10k tasks yielding once, 8 at a time",
    "ready_10k_local": "10k ready tasks, local",
    "small_10k_parallel_mt": "10k small tasks, 2 threads",
    "yield_once_10k_local": "10k tasks yielding once, local",
    "ordered_100k_yield_once": "ordered fan-out, 100k items",
    "unordered_100k_yield_once": "unordered fan-out, 100k items",
    "slow_consumer_limit1_item1ms_consumer1ms": "slow consumer: limit 1, 1 ms items",
    "slow_consumer_limit8_item1ms_consumer1ms": "slow consumer: limit 8, 1 ms items",
    "slow_consumer_limit8_item8ms_consumer1ms": "slow consumer: limit 8, 8 ms items",
    "spawned_cpu_20us": "spawned fan-out, 2000 × 20 µs of CPU",
    "rate_uncontended_try_acquire": "try_acquire with room",
    "contended_smol": "64 tasks on 4 permits, smol",
    "contended_tokio_mt_64x4": "64 tasks on 4 permits, tokio 2 threads",
    "weighted_tokio_mt": "64 tasks, weighted 1–3 of 8 permits",
    "queued_drop_requeue_1k": "drop + requeue a waiter, 1k queued",
    "queued_drop_requeue_100k": "drop + requeue a waiter, 100k queued",
    "queued_repoll_1k": "re-poll a waiter, 1k queued",
    "queued_repoll_100k": "re-poll a waiter, 100k queued",
    "uncontended_acquire_await": "acquire().await with room",
    "uncontended_try_acquire": "try_acquire with room",
    "single_flight_coalesced_64": "64 callers, one key",
    "single_flight_uncontended": "one caller per key",
    "timeout_that_never_fires": ".timeout() that never fires",
    "timeout_ready_future": ".timeout() on a ready future",
    "add_done_uncontended": "add(1) + done()",
    "spawn_10k_guards_tokio_mt": "spawn 10k tracked tasks and wait, tokio",
    "wake_1000_waiters": "wake 1000 waiters",
}
# Names of the second part of a scenario id (`group/param`).
PARAMS = {"block_on": "block_on", "tokio_current_thread": "tokio current-thread",
          "worker_task": "consumer in a tokio task"}
# Scenarios drawn under another section than their bench file's.
SECTION_OF = {"timeout_ready_future": "timer"}
# What each bench file measures, as the chart's section titles.
SECTIONS = {"err_group": "ErrGroup", "fan_out": "fan_out", "rate_limit": "RateLimiter",
            "semaphore": "Semaphore", "single_flight": "SingleFlight",
            "timer": ".timeout()", "wait_group": "AsyncWaitGroup"}


def pretty(scenario):
    """A readable name for a scenario id: the table above, else the id's words spelled out."""
    group, _, param = scenario.partition("/")
    name = NAMES.get(group)
    if name is None:
        words = []
        for word in group.split("_"):
            m = re.fullmatch(r"([a-z]+)(\d+\w*)", word)
            if word == "mt":
                word = "multi-thread"
            elif m and m.group(1) in ("limit", "item", "consumer"):
                word = f"{m.group(1)} {m.group(2)}"
            words.append(word)
        name = " ".join(words)
    if param:
        name += f" ({PARAMS.get(param, param.replace('_', ' '))})"
    return name


def headline(rows):
    """(taskgroup's line, the fastest peer's line) of a scenario, or None where one is missing.
    The same choice as BENCHMARKS.md's summary: the line named `taskgroup` if there is one."""
    peers = [(n, t) for n, t in rows if kind(n) == "peer"]
    ours = [(n, t) for n, t in rows if kind(n) == "taskgroup"]
    if not peers or not ours:
        return None
    return min(ours, key=lambda r: (r[0] != "taskgroup", r[1])), min(peers, key=lambda r: r[1])


def svg(results, files):
    """One row per scenario: taskgroup's time ÷ the fastest peer's (the ratio of BENCHMARKS.md's
    summary), a bar from 1× on a log scale, left (green) where taskgroup is faster, right
    (orange) where it is slower. The axis spans the data in powers of two, at most 1/64 to 64;
    a bar beyond it ends in an arrow, and the number beside every bar is the real ratio."""
    import math

    rows = []  # (section, name, ratio, ours, peer)
    skipped = []
    for group in [g for g in files if g in results]:
        pair = headline(results[group])
        if pair is None:
            skipped.append(group)
            continue
        (_, ours), (peer, theirs) = pair
        section = SECTION_OF.get(group.split("/")[0], files.get(group, "?"))
        rows.append((section, pretty(group), ours / theirs, ours, (peer, theirs)))
    ratios = [r[2] for r in rows] or [1.0]
    lo_exp = max(-6, min(-1, math.floor(math.log2(min(ratios)))))
    hi_exp = min(6, max(1, math.ceil(math.log2(max(ratios)))))

    width, row_h, sec_h = 1120, 20, 24
    name_x, axis_x, axis_w = 12, 330, 320
    note_x = axis_x + axis_w + 14
    sections = []
    for r in rows:
        if r[0] not in sections:
            sections.append(r[0])
    rows.sort(key=lambda r: sections.index(r[0]))  # stable: keeps the order within a section
    top = 100
    height = top + len(rows) * row_h + len(sections) * sec_h + 44

    def x_of(ratio):
        e = min(max(math.log2(ratio), lo_exp), hi_exp)
        return axis_x + axis_w * (e - lo_exp) / (hi_exp - lo_exp)

    green, orange, grey = "#2f855a", "#dd6b20", "#718096"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{name_x}" y="22" font-size="15" font-weight="bold">taskgroup against the '
        'fastest peer, per scenario: taskgroup\'s time ÷ the fastest peer\'s</text>',
        f'<text x="{name_x}" y="40" fill="{grey}">The ratio of BENCHMARKS.md\'s summary '
        '(medians of one run). Log scale; the number beside each bar is the exact ratio.</text>',
        # Legend.
        f'<rect x="{name_x}" y="52" width="14" height="10" fill="{green}"/>',
        f'<text x="{name_x + 20}" y="61">taskgroup faster (ratio below 1×)</text>',
        f'<rect x="{name_x + 230}" y="52" width="14" height="10" fill="{orange}"/>',
        f'<text x="{name_x + 250}" y="61">taskgroup slower (above 1×)</text>',
        f'<text x="{name_x + 450}" y="61" fill="{grey}">▸ at a bar\'s end: beyond the axis, '
        'drawn cut</text>',
    ]
    # Axis: a tick and a grid line per power of two, labelled on top.
    body_top, body_bottom = top - 8, height - 40
    for e in range(lo_exp, hi_exp + 1):
        x = x_of(2.0 ** e)
        label = f"{2 ** e:g}×" if e >= 0 else f"1/{2 ** -e}×"
        stroke = "#2d3748" if e == 0 else "#e2e8f0"
        if hi_exp - lo_exp > 8 and e % 2:  # a wide axis: label every other power of two
            label = ""
        parts.append(f'<line x1="{x:.1f}" y1="{body_top}" x2="{x:.1f}" y2="{body_bottom}" '
                     f'stroke="{stroke}"/>')
        parts.append(f'<text x="{x:.1f}" y="{body_top - 4}" text-anchor="middle" '
                     f'fill="{grey}" font-size="11">{label}</text>')
    parts.append(f'<text x="{axis_x}" y="{body_bottom + 16}" fill="{grey}" font-size="11">'
                 '◂ taskgroup faster</text>')
    parts.append(f'<text x="{axis_x + axis_w}" y="{body_bottom + 16}" text-anchor="end" '
                 f'fill="{grey}" font-size="11">taskgroup slower ▸</text>')
    parts.append(f'<text x="{note_x}" y="{body_top - 4}" fill="{grey}" font-size="11">'
                 'ratio, fastest peer, taskgroup vs peer median</text>')

    y = top
    section = None
    for sec, name, ratio, ours, (peer, theirs) in rows:
        if sec != section:
            section = sec
            parts.append(f'<text x="{name_x}" y="{y + 16}" font-weight="bold" font-size="13">'
                         f'{html.escape(SECTIONS.get(sec, sec))}</text>')
            y += sec_h
        mid = y + row_h / 2
        parts.append(f'<text x="{name_x + 10}" y="{mid + 4:.1f}">{html.escape(name)}</text>')
        x0, x1 = x_of(1.0), x_of(ratio)
        left, right = min(x0, x1), max(x0, x1)
        color = green if ratio < 1 else orange
        parts.append(f'<rect x="{left:.1f}" y="{y + 4}" width="{max(right - left, 1.5):.1f}" '
                     f'height="{row_h - 8}" fill="{color}"/>')
        if not 2.0 ** lo_exp <= ratio <= 2.0 ** hi_exp:  # cut at the axis: an arrow says so
            tip = x1 + (6 if ratio > 1 else -6)
            parts.append(f'<path d="M{x1:.1f},{y + 3} L{tip:.1f},{mid:.1f} L{x1:.1f},'
                         f'{y + row_h - 3}z" fill="{color}"/>')
        parts.append(
            f'<text x="{note_x}" y="{mid + 4:.1f}" xml:space="preserve"><tspan font-weight="bold">'
            f'{fmt_ratio(ratio)}×</tspan><tspan fill="{grey}"> vs </tspan><tspan font-family="monospace" '
            f'font-size="11">{html.escape(peer)}</tspan><tspan fill="{grey}">  '
            f'{html.escape(fmt_time(ours))} vs {html.escape(fmt_time(theirs))}</tspan></text>')
        y += row_h
    if skipped:
        parts.append(f'<text x="{name_x}" y="{height - 8}" fill="{grey}" font-size="11">'
                     f'Not drawn (no taskgroup line or no peer): '
                     f'{html.escape(", ".join(skipped))}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", action="store_true", help="run cargo bench first")
    parser.add_argument("--criterion", default=CRITERION, help="criterion's output folder")
    parser.add_argument("--out", default=ROOT, help="where BENCHMARKS.md and docs/ go")
    args = parser.parse_args()
    if args.run:
        # Each bench by name: `cargo bench -- <criterion flags>` would hand the flags to the
        # library's test harness too, which refuses them.
        # Benches behind a feature of the member (the Redis ones need a redis-server) are left
        # out: run them by hand (`--features redis --bench redis_rate_limit`).
        gated = benches_with_required_features()
        names = sorted(
            f[:-3] for f in os.listdir(BENCHES) if f.endswith(".rs") and f[:-3] not in gated
        )
        targets = [arg for name in names for arg in ("--bench", name)]
        subprocess.run(
            ["cargo", "bench", "-p", "taskgroup-benches", *targets, "--", *RUN_FLAGS],
            cwd=ROOT,
            check=True,
        )
    results = load(args.criterion)
    if not results:
        sys.exit("no criterion results under target/criterion: run with --run")
    found = bench_files()
    benches = sorted({f for f in found.values()})
    # Scenarios in bench-file order (as `cargo bench` runs them), then by name.
    order = sorted(results, key=lambda g: (benches.index(bench_of(g, found))
                                           if bench_of(g, found) in benches else 99, g))
    files = {g: bench_of(g, found) for g in order}
    with open(os.path.join(args.out, "BENCHMARKS.md"), "w") as f:
        f.write(markdown(results, files, measured_on(args.criterion)))
    os.makedirs(os.path.join(args.out, "docs"), exist_ok=True)
    with open(os.path.join(args.out, "docs", "benchmarks.svg"), "w") as f:
        f.write(svg(results, files))
    print(f"wrote BENCHMARKS.md and docs/benchmarks.svg ({len(results)} scenarios)")


if __name__ == "__main__":
    main()
