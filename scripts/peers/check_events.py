#!/usr/bin/env python3
"""Validates spool events against docs/events.schema.json.

Reads every `*.jsonl` file of the spool folders named (their `new/` and `cur/` too), or JSON lines
on stdin, and adds what a schema cannot say: event ids `<charge>:<n>` name their subject, a
notice's totals add up its charges per currency. Exit 0 when all are valid, 1 listing each problem.

    scripts/peers/check_events.py var/spool
"""
import glob
import json
import os
import pathlib
import sys

from jsonschema import Draft202012Validator

SCHEMA = pathlib.Path(__file__).resolve().parents[2] / "docs" / "events.schema.json"


def validator():
    return Draft202012Validator(json.loads(SCHEMA.read_text()), format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(events, v=None):
    """Every problem of these events (parsed dicts), each naming the event."""
    v = v or validator()
    out = []
    for e in events:
        where = e.get("id", "?") if isinstance(e, dict) else "?"
        out += ["%s: %s: %s" % (where, err.json_path, err.message) for err in v.iter_errors(e)]
        if not isinstance(e, dict) or not isinstance(e.get("data"), dict):
            continue
        if e.get("id", "").rsplit(":", 1)[0] != e.get("subject"):
            out.append("%s: the id does not name the subject %s" % (where, e.get("subject")))
        d = e["data"]
        if "totals" in d and "charges" in d:
            sums = {}
            for c in d["charges"]:
                sums[c["currency"]] = sums.get(c["currency"], 0) + c["amount"]
            if sums != {t["currency"]: t["amount"] for t in d["totals"]}:
                out.append("%s: totals %s do not add up the charges %s" % (where, d["totals"], sums))
    return out


def read_spool(folder):
    events = []
    for name in sorted(glob.glob(os.path.join(folder, "**", "*.jsonl"), recursive=True)):
        with open(name) as f:
            events += [json.loads(line) for line in f if line.strip()]
    return events


def main(argv):
    events = []
    if argv:
        for folder in argv:
            events += read_spool(folder)
    else:
        events = [json.loads(line) for line in sys.stdin if line.strip()]
    found = problems(events)
    if found:
        print("check_events: %d problem(s) in %d events:" % (len(found), len(events)), file=sys.stderr)
        for p in found[:50]:
            print("  - " + p, file=sys.stderr)
        return 1
    print("check_events: %d events ok" % len(events))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
