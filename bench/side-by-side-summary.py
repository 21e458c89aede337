#!/usr/bin/env python3
"""Medians and ratios of a side-by-side run (bench/side-by-side.sh).

Reads the JSON lines of one run and prints, per workload, each round's
figures and the median of each system's, then the three targets of the
engine: bulk enqueue (chunk 1000) and drain at least 1.5 times
graphile-worker's, and enqueue-to-start latency at 500 jobs/s with p50 and
p99 at or below graphile-worker's. A workload that a system did not finish
in some round is left out of that system's median and said so.
"""
import json
import statistics
import sys

OURS = "veriphy-jobs"
PEER = "graphile-worker"


def chunk_of(line):
    notes = line.get("notes") or ""
    marker = "chunk="
    if marker not in notes:
        return None
    return int(notes.split(marker, 1)[1].split()[0])


def load(path):
    lines = []
    with open(path) as source:
        for text in source:
            text = text.strip()
            if text.startswith("{"):
                lines.append(json.loads(text))
    return lines


def figures(lines, system, mode, key, chunk=None):
    return [
        line[key]
        for line in lines
        if line["system"] == system
        and line["mode"] == mode
        and (chunk is None or chunk_of(line) == chunk)
        and line.get(key) is not None
    ]


def median(values):
    return statistics.median(values) if values else None


def main(path):
    lines = load(path)
    checks = []

    def throughput(mode, chunk=None):
        peer = figures(lines, PEER, mode, "jobs_per_s")
        ours = figures(lines, OURS, mode, "jobs_per_s", chunk)
        print(f"{mode}: graphile-worker {[round(v) for v in peer]}, veriphy-jobs {[round(v) for v in ours]}")
        if peer and ours:
            ratio = median(ours) / median(peer)
            print(f"  medians {median(peer):,.0f} / {median(ours):,.0f} jobs/s: {ratio:.2f}x (target 1.5x)")
            checks.append((mode, ratio >= 1.5))
        else:
            checks.append((mode, False))

    throughput("enqueue", chunk=1000)
    extra = figures(lines, OURS, "enqueue", "jobs_per_s", 5000)
    if extra:
        print(f"  veriphy-jobs with chunk 5000: median {median(extra):,.0f} jobs/s")
    throughput("drain")
    for percentile in ("p50_ms", "p99_ms"):
        peer = figures(lines, PEER, "latency", percentile)
        ours = figures(lines, OURS, "latency", percentile)
        print(f"latency {percentile}: graphile-worker {peer}, veriphy-jobs {ours}")
        if peer and ours:
            print(f"  medians {median(peer):.2f} / {median(ours):.2f} ms (target: ours at or below)")
            checks.append((f"latency {percentile}", median(ours) <= median(peer)))
        else:
            checks.append((f"latency {percentile}", False))
    print("targets: " + ", ".join(f"{name} {'met' if ok else 'MISSED'}" for name, ok in checks))
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: side-by-side-summary.py RESULTS.jsonl", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
