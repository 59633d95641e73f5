#!/usr/bin/env python3
"""Validates a /status document read from stdin against docs/status.schema.json.

Uses the jsonschema package (draft 2020-12) and adds the checks a schema cannot express:
recovered <= charges in each amount band, rate = recovered / charges, bands in ascending order.
Exit 0 when valid, 1 listing every problem with its JSON path.

    curl --unix-socket var/run/relanced.sock http://x/status | scripts/peers/check_status.py
"""
import json
import math
import pathlib
import sys

from jsonschema import Draft202012Validator

SCHEMA = pathlib.Path(__file__).resolve().parents[2] / "docs" / "status.schema.json"


def semantic_problems(doc):
    problems = []
    bands = doc.get("recovery_rate_by_amount", [])
    for n, band in enumerate(bands):
        where = f"$.recovery_rate_by_amount[{n}]"
        if band["recovered"] > band["charges"]:
            problems.append(f"{where}: recovered {band['recovered']} > charges {band['charges']}")
        expected = band["recovered"] / band["charges"] if band["charges"] else 0
        if not math.isclose(band["rate"], expected, abs_tol=0.001):
            problems.append(f"{where}: rate {band['rate']} but recovered/charges is {expected:.4f}")
        if band["max_minor"] is not None and band["max_minor"] < band["min_minor"]:
            problems.append(f"{where}: max_minor below min_minor")
        if n and band["min_minor"] <= bands[n - 1]["min_minor"]:
            problems.append(f"{where}: bands are not in ascending order of amount")
    if doc["spool"]["paused"] and doc["spool"]["reason"] is None:
        problems.append("$.spool: paused without a reason")
    if doc["attempts"]["last_hour"] > doc["attempts"]["last_day"]:
        problems.append("$.attempts: last_hour > last_day")
    if doc["recoveries"]["last_hour"] > doc["recoveries"]["last_day"]:
        problems.append("$.recoveries: last_hour > last_day")
    return problems


def check(text):
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as error:
        return [f"not JSON: {error}"]
    schema = json.loads(SCHEMA.read_text())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    problems = [f"{e.json_path}: {e.message}" for e in sorted(validator.iter_errors(doc), key=lambda e: e.json_path)]
    return problems or semantic_problems(doc)


def main():
    problems = check(sys.stdin.read())
    if problems:
        print(f"check_status: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print("check_status: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
