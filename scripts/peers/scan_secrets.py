#!/usr/bin/env python3
"""Scans files (or folders, recursively) for secrets that must never leave the provider adapter:
the API key itself, and card-number-like digit runs (13 to 19 digits passing the Luhn check, the
first not 0: no card scheme issues numbers in ISO/IEC 7812's industry 0, while zero-padded counters
such as the spool's batch names, which the log quotes, pass the Luhn check one time in ten). A run
inside a word (letters or digits on either side: a hexadecimal digest such as the config's, which
holds such a run about once in a thousand paths) or after a decimal point is not a card number.

Usage: scan_secrets.py --key KEY PATH...    prints one line of figures; exits 1 on any finding."""
import argparse
import os
import re
import sys

DIGITS = re.compile(rb"(?<![0-9A-Za-z])(?<![0-9]\.)[0-9]{13,19}(?![0-9A-Za-z])")


def luhn(number):
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ch - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def files(paths):
    for path in paths:
        if os.path.isdir(path):
            for root, _, names in os.walk(path):
                for name in names:
                    yield os.path.join(root, name)
        elif os.path.exists(path):
            yield path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--key", action="append", default=[])
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()
    keys = [k.encode() for k in a.key if k]
    findings, scanned, size = [], 0, 0
    for path in files(a.paths):
        with open(path, "rb") as f:
            data = f.read()
        scanned += 1
        size += len(data)
        for k in keys:
            if k in data:
                findings.append("%s: the API key" % path)
        for m in DIGITS.finditer(data):
            if not m.group().startswith(b"0") and luhn(m.group()):
                findings.append("%s: a card-number-like run %s…" % (path, m.group()[:4].decode()))
    print("scan-secrets: files=%d bytes=%d findings=%d" % (scanned, size, len(findings)))
    for f in findings[:20]:
        print("  " + f)
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
