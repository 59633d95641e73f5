#!/usr/bin/env python3
"""Checks a Prometheus text exposition (GET /metrics) read from stdin.

Parses it with prometheus_client's own parser and asserts that every metric family the daemon
documents (docs/STATUS.md) exists with the right type and label names; histograms must have
cumulative buckets from 0.001 to 60 seconds, a +Inf bucket equal to _count, and a _sum.
Exit 0 when all is well, 1 listing every problem.

    curl --unix-socket var/run/relanced.sock http://x/metrics | scripts/peers/check_metrics.py
"""
import math
import sys

from prometheus_client.parser import text_string_to_metric_families

# name -> (type, label names). Counter names include the _total suffix as exposed.
EXPECTED = {
    "relance_charges_tracked": ("gauge", {"state"}),
    "relance_attempts_total": ("counter", {"outcome", "decline_class"}),
    "relance_recovered_amount_total": ("counter", {"currency", "segment"}),
    "relance_failed_amount_total": ("counter", {"currency", "segment"}),
    "relance_time_to_recover_seconds": ("histogram", {"segment"}),
    "relance_open_amount": ("gauge", {"currency", "age"}),
    "relance_recoveries_total": ("counter", {"after_notice_level", "method", "policy"}),
    "relance_compliance_blocks_total": ("counter", {"rule"}),
    "relance_due_backlog": ("gauge", set()),
    "relance_dispatch_lag_seconds": ("histogram", set()),
    "relance_provider_requests_total": ("counter", {"endpoint", "status"}),
    "relance_provider_latency_seconds": ("histogram", set()),
    "relance_spool_pending_files": ("gauge", set()),
    "relance_planner_decisions_total": ("counter", set()),
    "relance_build_info": ("gauge", {"version"}),
}
FIRST_BUCKET, LAST_BUCKET = 0.001, 60.0
# Histograms with their own range: name -> (first, last) bucket bounds, in seconds.
RANGES = {"relance_time_to_recover_seconds": (3600.0, 60 * 86400.0)}


def exposed_name(family):
    # The parser drops "_total" from a counter family's name; its samples keep it.
    if family.type == "counter" and not family.name.endswith("_total"):
        return family.name + "_total"
    return family.name


def check_histogram(name, samples, problems):
    series = {}
    for s in samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        entry = series[key]
        if s.name == name + "_bucket":
            entry["buckets"].append((float(s.labels["le"]), s.value))
        elif s.name == name + "_sum":
            entry["sum"] = s.value
        elif s.name == name + "_count":
            entry["count"] = s.value
    if not series:
        problems.append(f"{name}: histogram has no samples")
    for key, entry in series.items():
        where = f"{name}{dict(key) or ''}"
        bounds = [b for b, _ in sorted(entry["buckets"])]
        counts = [c for _, c in sorted(entry["buckets"])]
        finite = [b for b in bounds if not math.isinf(b)]
        if not bounds or not math.isinf(bounds[-1]):
            problems.append(f"{where}: no le=\"+Inf\" bucket")
        first, last = RANGES.get(name, (FIRST_BUCKET, LAST_BUCKET))
        if not finite or not math.isclose(finite[0], first) or not math.isclose(finite[-1], last):
            problems.append(f"{where}: buckets should run from {first} to {last} s, got {finite[:1]}..{finite[-1:]}")
        if any(b > a for a, b in zip(counts[1:], counts)):
            problems.append(f"{where}: bucket counts are not cumulative: {counts}")
        if entry["sum"] is None or entry["count"] is None:
            problems.append(f"{where}: missing _sum or _count")
        elif counts and counts[-1] != entry["count"]:
            problems.append(f"{where}: +Inf bucket {counts[-1]} differs from _count {entry['count']}")


def check(text):
    problems = []
    try:
        families = {exposed_name(f): f for f in text_string_to_metric_families(text)}
    except Exception as error:  # the parser raises ValueError and friends on malformed input
        return [f"not valid Prometheus text format: {error}"]
    for name, (kind, labels) in EXPECTED.items():
        family = families.get(name)
        if family is None:
            problems.append(f"{name}: missing (expected a {kind})")
            continue
        if family.type != kind:
            problems.append(f"{name}: type {family.type}, expected {kind}")
            continue
        seen = {k for s in family.samples for k in s.labels if k != "le"}
        if seen != labels:
            problems.append(f"{name}: labels {sorted(seen)}, expected {sorted(labels)}")
        if kind == "histogram":
            check_histogram(name, family.samples, problems)
        elif not family.samples:
            problems.append(f"{name}: no samples")
        for s in family.samples:
            if kind == "counter" and s.value < 0:
                problems.append(f"{name}{s.labels}: negative counter {s.value}")
    return problems


def main():
    text = sys.stdin.read()
    problems = check(text)
    extra = sorted(n for n in (exposed_name(f) for f in text_string_to_metric_families(text))
                   if n.startswith("relance_") and n not in EXPECTED) if not problems else []
    for name in extra:
        print(f"note: {name} is not in the documented list", file=sys.stderr)
    if problems:
        print(f"check_metrics: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print(f"check_metrics: ok, {len(EXPECTED)} metric families")
    return 0


if __name__ == "__main__":
    sys.exit(main())
