#!/usr/bin/env python3
"""Checks a relanced sandbox run from the sandbox's own ledger, the store and the spool.

Prints one line of figures and `N passed, N failed`; exits 1 if any check fails."""
import argparse, glob, json, os, re, sqlite3, subprocess, sys
from collections import defaultdict

ap = argparse.ArgumentParser()
ap.add_argument("state")
ap.add_argument("spool")
ap.add_argument("--killed", type=int, default=0)
ap.add_argument("--spool", dest="spool_more", action="append", default=[], help="another node's spool: the events of every spool count")
ap.add_argument("--postgres", help="the store is this PostgreSQL database (a URI), not STATE/relance.sqlite")
a = ap.parse_args()


class PsqlStore:
    """The store's PostgreSQL database read through psql, with sqlite3's execute/fetchone/fetchall:
    integers come back as int, NULL as None."""

    def __init__(self, uri):
        self.uri = uri

    def execute(self, sql, args=()):
        for v in args:
            sql = sql.replace("?", str(int(v)), 1)
        out = subprocess.run(["psql", self.uri, "-X", "-q", "-At", "-F", "\x1f", "-P", "null=\\N", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        rows = [tuple(self._value(v) for v in line.split("\x1f")) for line in out.splitlines()]
        return Rows(rows)

    @staticmethod
    def _value(v):
        if v == "\\N":
            return None
        return int(v) if re.fullmatch(r"-?[0-9]+", v) else v


class Rows:
    def __init__(self, rows):
        self.rows = rows

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return self.rows

    def __iter__(self):
        return iter(self.rows)


store = PsqlStore(a.postgres) if a.postgres else sqlite3.connect(os.path.join(a.state, "relance.sqlite"))
sandbox = sqlite3.connect(os.path.join(a.state, "sandbox.sqlite"))
checks = []

def check(name, ok, detail=""):
    checks.append((name, ok, detail))

# 1. The sandbox's ledger: no charge paid twice, no attempt number executed under two keys.
doubles = sandbox.execute("SELECT count(*) FROM (SELECT charge FROM payments WHERE outcome='succeeded' GROUP BY charge HAVING count(*) > 1)").fetchone()[0]
check("no charge paid twice", doubles == 0, f"{doubles} double charges")
dup = sandbox.execute("SELECT count(*) FROM (SELECT charge, number FROM payments GROUP BY charge, number HAVING count(*) > 1)").fetchone()[0]
check("no attempt number performed twice", dup == 0, f"{dup} duplicates")
payments = {k: (c, n, o) for k, c, n, o in sandbox.execute("SELECT key, charge, number, outcome FROM payments")}
replays = sandbox.execute("SELECT coalesce(sum(replays),0) FROM payments").fetchone()[0]
refused = sandbox.execute("SELECT count(*) FROM refused").fetchone()[0]

# 2. Every payment the provider executed has its outcome recorded once in the store, and vice versa.
attempts = {k: (c, n, s) for k, c, n, s in store.execute("SELECT key, charge, number, state FROM attempts")}
lost = [k for k, (c, n, o) in payments.items() if k not in attempts or attempts[k][2] != o]
check("every executed payment recorded with its outcome", not lost, f"{len(lost)} lost, e.g. {lost[:3]}")
phantom = [k for k, (c, n, s) in attempts.items() if s in ("succeeded", "declined") and k not in payments]
check("no recorded outcome without a payment", not phantom, f"{len(phantom)} phantom")
reserved = store.execute("SELECT count(*) FROM attempts WHERE state='reserved'").fetchone()[0]
check("no attempt left in flight after a graceful stop", reserved == 0, f"{reserved} reserved")

# 3. Events: every stored state change has its events in the spool (ids <charge>:1..N), none pending.
ids = set()
for path in [p for spool in [a.spool] + a.spool_more for p in glob.glob(os.path.join(spool, "new", "*"))]:
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            for field in ("specversion", "id", "source", "type", "time", "subject", "data"):
                assert field in e, (path, field)
            ids.add(e["id"])
missing = []
charges = store.execute("SELECT id, events, state, wake_at, next_at FROM charges").fetchall()
for cid, n, state, wake, nxt in charges:
    for k in range(1, n + 1):
        if f"{cid}:{k}" not in ids:
            missing.append(f"{cid}:{k}")
check("no event id missing", not missing, f"{len(missing)} missing, e.g. {missing[:3]}")
pending = store.execute("SELECT count(*) FROM outbox").fetchone()[0]
check("outbox flushed", pending == 0, f"{pending} pending")
tmp = glob.glob(os.path.join(a.spool, "tmp", "*"))

# 4. No charge stuck: every open charge has a wake time, and none is more than a day overdue.
now = int(store.execute("SELECT value FROM meta WHERE key='clock.virtual'").fetchone()[0])
stuck = [cid for cid, n, state, wake, nxt in charges if state in ("scheduled", "in_flight", "waiting") and (wake is None or wake < now - 86400)]
check("no charge stuck", not stuck, f"{len(stuck)} stuck, e.g. {stuck[:3]}")
unattempted = store.execute("SELECT count(*) FROM charges WHERE attempts = 0 AND state IN ('scheduled') AND next_at < ?", (now - 86400,)).fetchone()[0]
check("every due charge attempted or stopped", unattempted == 0, f"{unattempted}")

# 5. Network rules, recounted from the provider's ledger per credential (method token).
by_method = defaultdict(list)
bank_per_charge = defaultdict(int)
for key, charge, number, method, outcome, decline, at in sandbox.execute("SELECT key, charge, number, method, outcome, decline, at FROM payments ORDER BY at"):
    by_method[method].append((at, outcome, json.loads(decline) if decline else None))
    bank_per_charge[(method, charge)] += 1
brands = {t: (b, r) for t, b, r in store.execute("SELECT token, brand, rail FROM methods")}
never = {"stolen_card", "lost_card", "fraudulent", "pickup_card", "restricted_card", "revocation_of_authorization"}
breaches = []
for method, rows in by_method.items():
    brand, rail = brands.get(method, ("visa", 0))
    times = [t for t, _, _ in rows]
    dead = False
    for idx, (t, outcome, d) in enumerate(rows):
        if dead:
            breaches.append(f"{method}: attempt after a never-retry decline")
        window30 = [x for x in times[: idx + 1] if x > t - 30 * 86400]
        if rail == 0 and brand != "mastercard" and len(window30) > 15:
            breaches.append(f"{method}: {len(window30)} attempts in 30 days")
        if brand == "mastercard":
            declines24 = [x for x, o, _ in rows[: idx + 1] if x > t - 86400 and o == "declined"]
            if len(declines24) > 10:
                breaches.append(f"{method}: {len(declines24)} declines in 24 h")
        if d and (d.get("declineCode") in never or d.get("networkAdviceCode") in ("03", "21")):
            dead = True
for (method, charge), n in bank_per_charge.items():
    if brands.get(method, ("", 0))[1] in (1, 2) and n > 2:
        breaches.append(f"{method}: {n} re-presentations of {charge}")
check("no network rule broken", not breaches, f"{len(breaches)}: {breaches[:3]}")

recovered = store.execute("SELECT count(*) FROM charges WHERE state='recovered'").fetchone()[0]
print(f"crash-test: kills={a.killed} charges={len(charges)} payments={len(payments)} replays={replays} "
      f"refused_closed={refused} recovered={recovered} events={len(ids)} tmp_leftovers={len(tmp)}")
failed = 0
for name, ok, detail in checks:
    print(("  ok    " if ok else "  FAIL  ") + name + ("" if ok else f" ({detail})"))
    failed += 0 if ok else 1
print(f"{len(checks) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
