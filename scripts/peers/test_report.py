#!/usr/bin/env python3
"""relancectl report against a state the daemon made, read in a real browser.

- relanced runs the embedded sandbox on the shipped config, the learned policy on, for 30 s of wall
  time at a virtual clock 150,000 times faster (about 50 days), state under a temporary directory;
  its outcome records must not be empty;
- `relancectl report --state DIR --html FILE` and `--format text`;
- the HTML opened in headless Chromium (Debian's, through Playwright): no request leaves the file;
  every chart's points, read from the DOM's data attributes, equal the figures computed here from
  relance.sqlite with this file's own SQL (recovery curves by class, segment and policy; success by
  local hour and by day from payday; aging; the lift and the shadow estimate; the largest open
  amounts), and so do the text tables;
- each chart screenshot to var/artifacts/report/ and checked not blank (several colours, enough
  pixels off the background), the PNG decoded here with zlib.

Usage: .venv/bin/python scripts/peers/test_report.py
(RELANCE_BIN names the folder holding relanced and relancectl, default .build/debug;
RELANCE_REPORT_STATE=DIR reports on that state directory instead of running the daemon;
RELANCE_KEEP=1 keeps the work directory)
"""

import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
import zlib

from playwright.sync_api import sync_playwright

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("RELANCE_BIN", os.path.join(ROOT, ".build", "debug"))
ARTIFACTS = os.path.join(ROOT, "var", "artifacts", "report")
DAY = 86400
OPEN = ("scheduled", "in_flight", "waiting")
# DeclineClass raw values (RetryPlanner/Taxonomy/DeclineClass.swift) and their keys.
CLASSES = {0: "retry_later", 1: "use_another_method", 2: "customer_must_act", 3: "never_retry", 4: "consent_revoked", 5: "check_first"}
CURVES = {"recovery-by-class": "cls", "recovery-by-segment": "segment", "recovery-by-policy": "policy"}
BARS = {"success-by-hour": ("local_hour", range(0, 24)), "success-by-payday": ("payday_day", range(-15, 16))}
TOLERANCE = 0.5e-4 + 1e-9  # printed with 4 decimals


class Mismatches:
    def __init__(self):
        self.found = []

    def check(self, ok, what):
        if not ok:
            self.found.append(what)

    def close(self, got, want, what):
        self.check(got is not None and abs(float(got) - want) <= TOLERANCE, "%s: report %s, store %.6f" % (what, got, want))


def make_state(work):
    """Runs the sandbox daemon on the shipped config, everything under `work`; returns the config's path."""
    with open(os.path.join(ROOT, "config", "retry.toml")) as f:
        text = f.read().replace('"./var/', '"%s/' % work)
    # The learned policy on, so that the lift has its learned, exploration and holdout groups.
    start = text.find("\n[learning]\n")
    end = text.find("\n[", start + 1) if start >= 0 else -1
    if start >= 0:
        table = re.sub(r'(?m)^mode = "\w+"', 'mode = "on"', text[start:end if end >= 0 else len(text)], count=1)
        text = text[:start] + table + (text[end:] if end >= 0 else "")
    config = os.path.join(work, "retry.toml")
    with open(config, "w") as f:
        f.write(text)
    r = subprocess.run([os.path.join(BIN, "relanced"), "--config", config, "--time-scale", "150000", "--run-for", "30"],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        sys.exit("test_report: relanced exited %d:\n%s" % (r.returncode, r.stderr[-3000:]))
    return config


def segment_names(config):
    """The config's segment names when it has a single segment (the shipped one): index 0 is it."""
    with open(config, "rb") as f:
        segments = tomllib.load(f).get("segment", [])
    return {0: segments[0]["name"]} if len(segments) == 1 else {}


def store_figures(db, config):
    """The report's figures, from the store with this test's own SQL."""
    now = db.execute("""SELECT max((SELECT coalesce(max(first_failed_at), 0) FROM charges), (SELECT coalesce(max(ended_at), 0) FROM charges),
                                   (SELECT coalesce(max(at), 0) FROM outcomes))""").fetchone()[0]
    rows = db.execute("""
        SELECT c.id, c.customer, c.amount, c.currency, c.state, c.segment, c.last_class, c.first_failed_at, c.ended_at,
               first.decline_class, first.segment, won.policy, last.policy,
               (SELECT count(*) FROM outcomes o WHERE o.charge = c.id AND o.policy IN ('learned', 'exploration')),
               (SELECT count(*) FROM outcomes o WHERE o.charge = c.id AND o.policy = 'holdout')
        FROM charges c
        LEFT JOIN outcomes first ON first.charge = c.id AND first.number = (SELECT min(number) FROM outcomes WHERE charge = c.id)
        LEFT JOIN outcomes won ON won.charge = c.id
              AND won.number = (SELECT max(number) FROM outcomes WHERE charge = c.id AND outcome = 'succeeded')
        LEFT JOIN outcomes last ON last.charge = c.id AND last.number = (SELECT max(number) FROM outcomes WHERE charge = c.id)
        """).fetchall()
    names = segment_names(config)
    for r in rows:  # the store's own pairs of segment index and name
        if r[10] is not None:
            names.setdefault(r[5], r[10])
    charges = []
    for (cid, customer, amount, currency, state, seg, last_class, first, ended, first_class, first_seg, won, last, learned, holdout) in rows:
        has_first = db.execute("SELECT 1 FROM outcomes WHERE charge = ? AND number = 1", (cid,)).fetchone()
        charges.append(dict(
            id=cid, customer=customer, amount=amount, currency=currency, state=state, first=first, ended=ended,
            cls=first_class if has_first else CLASSES.get(last_class, "class %d" % last_class),
            segment=first_seg if first_seg is not None else names.get(seg, "segment %d" % seg),
            policy=(won if state == "recovered" else last) or "rules", learned=learned > 0, holdout=holdout > 0))
    figures = {"now": now, "charges": charges}
    for chart, key in CURVES.items():
        figures[chart] = curves(charges, now, key)
    for chart, (column, keys) in BARS.items():
        tally = dict((k, (n, s)) for k, n, s in db.execute(
            "SELECT %s, count(*), sum(outcome = 'succeeded') FROM outcomes WHERE outcome IN ('succeeded', 'declined') GROUP BY 1" % column))
        figures[chart] = {k: ((tally[k][1] / tally[k][0], tally[k][0]) if k in tally else (0.0, 0)) for k in keys}
    aging = {}
    for c in charges:
        if c["state"] in OPEN:
            age = max(0, now - c["first"]) // DAY
            band = "0-7d" if age <= 7 else "8-30d" if age <= 30 else "31-60d" if age <= 60 else "60d+"
            aging[(c["currency"], band)] = aging.get((c["currency"], band), 0) + c["amount"]
    figures["aging"] = aging
    figures["largest"] = sorted((c for c in charges if c["state"] in OPEN), key=lambda c: (-c["amount"], c["id"]))[:20]
    diffs = [l - r for l, r in db.execute("SELECT learned_p, rules_p FROM outcomes WHERE learned_p IS NOT NULL AND rules_p IS NOT NULL")]
    figures["lift"] = lift([c for c in charges if c["learned"]], [c for c in charges if c["holdout"]], diffs)
    return figures


def curves(charges, now, key):
    """{series: {d: (share, charges)}}: amount recovered within d days over the amount of charges at least d days old."""
    out = {}
    for name in sorted(set(c[key] for c in charges)):
        group = [c for c in charges if c[key] == name]
        points = {}
        for d in range(61):
            old = [c for c in group if max(0, now - c["first"]) // DAY >= d]
            total = sum(c["amount"] for c in old)
            if old and total > 0:
                won = sum(c["amount"] for c in old if c["state"] == "recovered" and max(0, c["ended"] - c["first"]) // DAY <= d)
                points[d] = (won / total, len(old))
        out[name] = points
    return out


def lift(learned, holdout, diffs):
    """The lift's shares, difference and interval, and the shadow estimate, as documented in Report/Lift.swift."""
    def share(group):
        amount = sum(c["amount"] for c in group)
        if not group or amount == 0:
            return None
        p = sum(c["amount"] for c in group if c["state"] == "recovered") / amount
        n_eff = amount ** 2 / sum(c["amount"] ** 2 for c in group)
        return {"value": p, "n": len(group), "var": p * (1 - p) / n_eff}
    out = {"learned": share(learned), "holdout": share(holdout), "lift": None, "shadow": None}
    if out["learned"] and out["holdout"]:
        d = out["learned"]["value"] - out["holdout"]["value"]
        half = 1.6449 * math.sqrt(out["learned"]["var"] + out["holdout"]["var"])
        out["lift"] = {"value": d, "low": d - half, "high": d + half, "n": out["learned"]["n"] + out["holdout"]["n"]}
    if len(diffs) >= 2:
        mean = sum(diffs) / len(diffs)
        sd = math.sqrt(sum((x - mean) ** 2 for x in diffs) / (len(diffs) - 1))
        half = 1.6449 * sd / math.sqrt(len(diffs))
        out["shadow"] = {"value": mean, "low": mean - half, "high": mean + half, "n": len(diffs)}
    return out


def png_pixels(path):
    """The pixels of an 8-bit, non-interlaced greyscale, RGB or RGBA PNG (what Chromium writes), as bytes tuples."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s: not a PNG" % path)
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    depth, colour, interlace = header[8], header[9], header[12]
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise ValueError("%s: PNG depth %d colour type %d interlace %d not handled" % (path, depth, colour, interlace))
    raw, stride, bpp = zlib.decompress(idat), width * channels, channels
    rows, previous, i = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = previous[x]
            c = previous[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        previous = line
    return [row[x:x + channels] for row in rows for x in range(0, stride, channels)]


def blankness(path):
    """(distinct colours, share of pixels that are not the most common colour) of a PNG."""
    counts = {}
    for pixel in png_pixels(path):
        counts[pixel] = counts.get(pixel, 0) + 1
    total = sum(counts.values())
    return len(counts), (total - max(counts.values())) / total if total else 0.0


def check_browser(html, want, m):
    """Opens the report in headless Chromium; compares the DOM's data attributes; screenshots the charts."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    outside = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1700, "height": 1200})
        page.on("request", lambda r: None if r.url.startswith("file://") else outside.append(r.url))
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://") else route.abort())
        page.goto("file://" + os.path.abspath(html))
        page.wait_for_load_state("load")
        m.check(not outside, "requests left the file: %s" % outside[:5])
        for chart in CURVES:
            got = page.eval_on_selector_all("#%s circle[data-x]" % chart, "els => els.map(e => [e.dataset.series, +e.dataset.x, e.dataset.y, +e.dataset.n])")
            compare_curves(chart, {(s, x): (y, n) for s, x, y, n in got}, want[chart], m)
        for chart in BARS:
            got = page.eval_on_selector_all("#%s rect[data-x]" % chart, "els => els.map(e => [+e.dataset.x, e.dataset.y, +e.dataset.n])")
            m.check(sorted(x for x, _, _ in got) == sorted(want[chart]), "%s: bars at %s" % (chart, [x for x, _, _ in got]))
            for x, y, n in got:
                rate, count = want[chart].get(x, (0.0, 0))
                m.close(y, rate, "%s x=%d rate" % (chart, x))
                m.check(n == count, "%s x=%d: report %d finished, store %d" % (chart, x, n, count))
        got = page.eval_on_selector_all("#aging td[data-currency]", "els => els.map(e => [e.dataset.currency, e.dataset.band, +e.dataset.amount])")
        aging = {(c, b): a for c, b, a in got if a}
        for key in sorted(set(aging) | set(want["aging"])):
            m.check(aging.get(key) == want["aging"].get(key), "aging %s %s: report %s, store %s" % (key + (aging.get(key), want["aging"].get(key))))
        got = page.eval_on_selector_all("#largest-open tr[data-charge]", "els => els.map(e => [e.dataset.charge, +e.dataset.amount, +e.dataset.age])")
        m.check([(c, a) for c, a, _ in got] == [(c["id"], c["amount"]) for c in want["largest"]],
                "largest open: report %s, store %s" % (got[:3], [(c["id"], c["amount"]) for c in want["largest"][:3]]))
        got = page.eval_on_selector_all("#lift [data-estimate]", "els => els.map(e => Object.assign({}, e.dataset))")
        for row in got:
            expected = want["lift"][row["estimate"]]
            if expected is None:
                m.check("missing" in row, "lift %s: the report has %s, the store not enough data" % (row["estimate"], row))
                continue
            m.check("missing" not in row, "lift %s: the report says not enough data" % row["estimate"])
            for field in ("value", "low", "high"):
                if field in expected and field in row:
                    m.close(row[field], expected[field], "lift %s %s" % (row["estimate"], field))
            m.check(int(row.get("n", -1)) == expected["n"], "lift %s: report n %s, store %d" % (row["estimate"], row.get("n"), expected["n"]))
        m.check(len(got) == 4, "lift: %d estimates in the page" % len(got))
        for chart in list(CURVES) + list(BARS):
            path = os.path.join(ARTIFACTS, chart + ".png")
            # The chart's own <svg> (the <g>'s box is cut at the glyphs' outlines).
            page.locator("svg:has(> #%s)" % chart).screenshot(path=path)
            colours, share = blankness(path)
            m.check(colours > 2 and share > 0.01, "%s looks blank: %d colours, %.1f %% off the background" % (chart, colours, 100 * share))
            print("chart %s: %s (%d colours, %.1f %% drawn)" % (chart, path, colours, 100 * share))
        page.screenshot(path=os.path.join(ARTIFACTS, "report.png"), full_page=True)
        browser.close()


def compare_curves(chart, got, want, m):
    expected = {(s, x): v for s, points in want.items() for x, v in points.items()}
    m.check(set(got) == set(expected), "%s: points only in the report %s, only in the store %s"
            % (chart, sorted(set(got) - set(expected))[:5], sorted(set(expected) - set(got))[:5]))
    for key in sorted(set(got) & set(expected)):
        m.close(got[key][0], expected[key][0], "%s %s day %d share" % (chart, key[0], key[1]))
        m.check(got[key][1] == expected[key][1], "%s %s day %d: report %d charges, store %d" % (chart, key[0], key[1], got[key][1], expected[key][1]))


def check_text(text, want, m):
    """The text tables: the same figures."""
    sections = dict((s.split(":", 1)[0].strip(), "\n".join(l for l in s.splitlines() if l.strip()))
                    for s in re.split(r"^## ", text, flags=re.M)[1:])
    m.check("(%d)" % want["now"] in text.split("\n## ")[0], "text: now is not %d" % want["now"])
    for chart in CURVES:
        lines = sections.get(chart, "").splitlines()[2:]
        header = re.split(r"\s{2,}", lines[0].strip()) if lines else []
        got = {}
        for line in lines[1:]:
            cells = re.split(r"\s{2,}", line.strip())
            for name, cell in zip(header[1:], cells[1:]):
                if cell != "-":
                    got[(name, int(cells[0]))] = (cell, None)
        expected = {(s, x): v for s, points in want[chart].items() for x, v in points.items()}
        m.check(set(got) == set(expected), "text %s: points differ (%d in the text, %d from the store)" % (chart, len(got), len(expected)))
        for key in set(got) & set(expected):
            m.close(got[key][0], expected[key][0], "text %s %s day %d" % (chart, key[0], key[1]))
    for chart in BARS:
        for line in sections.get(chart, "").splitlines()[2:]:
            x, rate, n = line.split()
            m.close(rate, want[chart][int(x)][0], "text %s %s" % (chart, x))
            m.check(int(n) == want[chart][int(x)][1], "text %s %s finished" % (chart, x))
    rows = [line.split() for line in sections.get("largest-open", "").splitlines()[2:]]
    m.check([(r[0], int(r[2])) for r in rows] == [(c["id"], c["amount"]) for c in want["largest"]], "text: largest open amounts differ")
    lift = sections.get("lift", "")
    for name in ("lift", "shadow"):
        e = want["lift"][name]
        line = next((l for l in lift.splitlines()[1:] if l.startswith(name + ":")), "")
        if e is None:
            m.check("not enough data" in line, "text %s: %r, the store has not enough data" % (name, line))
        else:
            numbers = re.findall(r"-?\d+\.\d{4}", line)
            m.check(len(numbers) == 3, "text %s: %r" % (name, line))
            for got, field in zip(numbers, ("value", "low", "high")):
                m.close(got, e[field], "text %s %s" % (name, field))


def check_window(ctl, state, db, m):
    """--from and --to: charges by first failure, attempts by time, both days included."""
    low = db.execute("SELECT min(first_failed_at) FROM charges").fetchone()[0] // DAY * DAY + 5 * DAY
    high = low + 10 * DAY - 1
    day = lambda t: time.strftime("%Y-%m-%d", time.gmtime(t))
    text = subprocess.run([ctl, "report", "--state", state, "--format", "text", "--from", day(low), "--to", day(high)],
                          capture_output=True, text=True, timeout=300, check=True).stdout
    charges = db.execute("SELECT count(*) FROM charges WHERE first_failed_at BETWEEN ? AND ?", (low, high)).fetchone()[0]
    finished = db.execute("SELECT count(*) FROM outcomes WHERE at BETWEEN ? AND ? AND outcome IN ('succeeded', 'declined')",
                          (low, high)).fetchone()[0]
    m.check("\ncharges: %d\n" % charges in text, "window %s to %s: the store has %d charges, the text says %s"
            % (day(low), day(high), charges, re.findall(r"\ncharges: .*", text)))
    hours = text.split("## success-by-hour", 1)[-1].split("\n\n", 1)[0].splitlines()[2:]
    m.check(sum(int(line.split()[2]) for line in hours) == finished, "window: the store has %d finished attempts" % finished)


def main():
    work = tempfile.mkdtemp(prefix="relance-report-")
    try:
        state = os.environ.get("RELANCE_REPORT_STATE")
        config = os.path.join(ROOT, "config", "retry.toml")
        if not state:
            config, state = make_state(work), os.path.join(work, "state")
        html = os.path.join(work, "report.html")
        ctl = os.path.join(BIN, "relancectl")
        r = subprocess.run([ctl, "report", "--state", state, "--html", html], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            sys.exit("test_report: relancectl report exited %d: %s" % (r.returncode, r.stderr))
        print(r.stderr.strip())
        text = subprocess.run([ctl, "report", "--state", state, "--format", "text"], capture_output=True, text=True, timeout=300, check=True).stdout
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(state, "relance.sqlite"), uri=True)
        outcomes = db.execute("SELECT count(*) FROM outcomes").fetchone()[0]
        if outcomes == 0:
            sys.exit("test_report: the daemon wrote no outcome record: nothing to check the charts of attempts against")
        want = store_figures(db, config)
        print("state: %d charges, %d outcome records, now %d" % (len(want["charges"]), outcomes, want["now"]))
        os.makedirs(ARTIFACTS, exist_ok=True)
        shutil.copy(html, os.path.join(ARTIFACTS, "report.html"))
        with open(os.path.join(ARTIFACTS, "report.txt"), "w") as f:
            f.write(text)
        m = Mismatches()
        check_browser(html, want, m)
        check_text(text, want, m)
        check_window(ctl, state, db, m)
        if m.found:
            print("test_report: %d mismatches between the report and the store:" % len(m.found), file=sys.stderr)
            for line in m.found[:40]:
                print("  " + line, file=sys.stderr)
            sys.exit(1)
        print("test_report: ok (report and artifacts in %s)" % ARTIFACTS)
    finally:
        if os.environ.get("RELANCE_KEEP"):
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
