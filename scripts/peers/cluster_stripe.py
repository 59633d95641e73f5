#!/usr/bin/env python3
"""Three relanced nodes sharing one PostgreSQL database against the Stripe fixture, with faults on,
and kill -9 of a random node every few seconds (KILLS times, the polling node one time in two), each
restarted at once (it joins again, and gets buckets back as the others give them up). Then the
nodes run undisturbed for a while and stop gracefully. The world is the fixture's: 500s (a pay's 500 went through half the time) and 429s at
realistic rates, basil events, bank debits settling days later, 3-D Secure cards, customers changing
cards and paying on the hosted page, keys pruned after 24 h; some invoices are paid elsewhere or voided
and subscriptions cancelled meanwhile.

Checks, from the fixture's own records, the database and every node's spool:
- no invoice charged twice, no idempotency key executed twice, no idempotency conflict;
- no network-rule breach: no pay after a never-retry answer, no Mastercard (10 declines in 24 h) or
  Visa (15 reattempts in 30 days) breach, no off-session pay on a card that asked for
  authentication, no pay on an invoice already closed when it was last read;
- every charge the nodes ingested is final (recovered, exhausted, closed) or still planned (a wake
  time no more than a day overdue, or held);
- the spools together hold every event id the database counts (at least once);
- no one-second window of the fixture's requests above requests_per_second;
- every node that was asked to stop stopped cleanly, and so did one last run of a node with the
  faults off (what a fault at the stop left in flight is read back at the next start);
- the work was shared: before the stop, the three nodes lease the 64 buckets between them, and
  each node's spool holds attempts it made.

Usage: python3 scripts/peers/cluster_stripe.py [KILLS]   (default 30; RELANCE_BIN as elsewhere;
RELANCE_KEEP=1 keeps the work directory)
"""

import calendar
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the peers

import pg_cluster  # noqa: E402
from peerlib import busiest_window, call, print_checks, start_fixture, unix_get, write_stripe_config  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("RELANCE_BIN", os.path.join(ROOT, ".build", "debug"))
KEY = "sk_test_cluster_7c30"
SCALE = 20000
RPS = int(os.environ.get("RELANCE_CLUSTER_RPS", "25"))
NODES = ("n1", "n2", "n3")
AUDIT_ZERO = ("double_charges", "offsession_after_auth", "after_never_retry", "attempts_on_closed_violations",
              "mastercard_declines_24h", "visa_reattempts_30d", "idempotency_conflicts")
JITTER = 0.05                  # arrival jitter allowed when counting requests in one second


def query(uri, sql):
    """Rows of `sql` on the database, as tuples of str (None for NULL)."""
    out = subprocess.run(["psql", uri, "-X", "-q", "-At", "-F", "\x1f", "-P", "null=\\N", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [tuple(None if v == "\\N" else v for v in line.split("\x1f")) for line in out.splitlines()]


def node_config(work, node, base, uri):
    folder = os.path.join(work, node)
    os.makedirs(folder)
    config = write_stripe_config(
        folder, base, KEY,
        daemon={"poll_interval": "1h", "time_scale": SCALE, "spool_batch_events": 25, "spool_batch_ms": 50, "log_level": os.environ.get("RELANCE_CLUSTER_LOG", "warning")},
        provider={"requests_per_second": RPS, "request_timeout": "5s", "max_network_retries": 2})
    with open(config, "a") as f:
        f.write('[store]\nkind = "postgresql"\nurl = "%s"\nnode_name = "%s"\nlease = "10s"\n' % (uri, node))
    return config


def lag(work, uri, base):
    """Virtual seconds the working node's clock is behind the fixture's, read at one moment (the
    node's /status and the fixture's clock, a few milliseconds apart), or None."""
    node = poller(uri)
    if node is None:
        return None
    try:
        st, body, mid, _ = unix_get(os.path.join(work, node, "run", "relanced.sock"), "/status")
        fixture = call(base, "GET", "/_fixture/clock")["now"]
    except OSError:
        return None
    if st != 200:
        return None
    node_now = calendar.timegm(time.strptime(json.loads(body)["virtual_time"], "%Y-%m-%dT%H:%M:%SZ"))
    return fixture - node_now - (time.time() - mid) * SCALE


def poller(uri):
    """The node polling the provider now (the freshest heartbeat of role polling), or None."""
    rows = query(uri, "SELECT name FROM nodes WHERE role = 'polling' AND heartbeat_at > now() - interval '3 seconds' "
                      "ORDER BY heartbeat_at DESC LIMIT 1")
    return rows[0][0] if rows else None


def main():
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    work = tempfile.mkdtemp(prefix="relance-cluster-stripe-")
    os.chmod(work, 0o755)
    uri = pg_cluster.fresh_database("cluster_stripe")
    fixture, base = start_fixture(KEY, "--seed", "31", "--customers", "60", "--invoices", "120", "--failure-rate", "2",
                                  "--faults", "on", "--fault-500", "0.016", "--fault-429", "0.011", "--time-scale", str(SCALE),
                                  stderr=open(os.path.join(work, "fixture.log"), "wb"))
    configs = {n: node_config(work, n, base, uri) for n in NODES}
    migrated = subprocess.run([os.path.join(BIN, "relancectl"), "migrate", "--config", configs["n1"]], capture_output=True, text=True)
    if migrated.returncode != 0:
        sys.exit("migrate failed: " + migrated.stdout + migrated.stderr)
    logs = {n: open(os.path.join(work, n, "daemon.log"), "ab") for n in NODES}

    def start(n):
        return subprocess.Popen([os.path.join(BIN, "relanced"), "--config", configs[n]], stdout=logs[n], stderr=logs[n],
                                stdin=subprocess.DEVNULL)

    procs = {}
    rng = random.Random(int(os.environ.get("RELANCE_CLUSTER_SEED", "5")))
    killed = takeovers = 0
    meddled = set()
    try:
        for n in NODES:
            procs[n] = start(n)
            time.sleep(0.5)
        time.sleep(2)
        lag_before = lag(work, uri, base)
        for i in range(kills):
            time.sleep(1.5 + rng.random() * 2.5)
            active = poller(uri)
            victim = active if active and rng.random() < 0.5 else rng.choice(NODES)
            takeovers += victim == active
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait()
            killed += 1
            procs[victim] = start(victim)
            # The billing system acts meanwhile: an invoice paid elsewhere, one voided, a customer gone.
            if i % 6 == 2:
                open_invoices = sorted(call(base, "GET", "/_fixture/invoices?status=open")["invoices"], key=lambda inv: -inv["created"])[:20]
                fresh = [inv for inv in open_invoices if inv["id"] not in meddled and not inv["processing"]][:3]
                for action, inv in zip(("pay_out_of_band", "void", "cancel"), fresh):
                    meddled.add(inv["id"])
                    try:
                        if action == "cancel" and inv.get("subscription"):
                            call(base, "POST", "/_fixture/subscriptions/%s/cancel" % inv["subscription"], {})
                        elif action != "cancel":
                            call(base, "POST", "/_fixture/invoices/%s/%s" % (inv["id"], action), {})
                    except Exception as e:  # paid by a node between the listing and now: the race the guard is for
                        if "400" not in str(e):
                            raise
        # Undisturbed: what fell due is attempted, attempts left in flight are read back (an attempt a
        # killed node left in flight whose key Stripe may have pruned is read again once that node's
        # requests have settled: the lease plus twice the request timeout, 20 s of wall time, 4.6 days of
        # this clock); then a graceful stop.
        time.sleep(45)
        lag_after = lag(work, uri, base)
        leases = dict((o, int(n)) for o, n in query(uri, "SELECT owner, count(*) FROM leases WHERE owner IS NOT NULL AND expires > now() GROUP BY owner"))
        for n in NODES:
            procs[n].send_signal(signal.SIGTERM)
        codes = {}
        for n in NODES:
            try:
                codes[n] = procs[n].wait(timeout=60)
            except subprocess.TimeoutExpired:
                procs[n].kill()
                codes[n] = "hung"
        # A last run of one node with the faults off: an attempt whose final read at the stop met a
        # fault (a 429 while the workers finished) stays reserved, and is resolved by reading at the
        # next start, once the requests have settled (twice the request timeout).
        # It works off what was overdue when it started (at 25 requests a second the nodes run with a
        # backlog: a charge due a day ago may still wait its turn behind older ones at the stop), oldest
        # first, while the world keeps failing: at least 15 s, until nothing overdue then is left
        # waiting, at most 120 s (a charge lost to every node would wait for good: the check below).
        call(base, "POST", "/_fixture/random_faults", {"500": 0, "429": 0, "lock_timeout": 0, "409": 0})
        drained_from = int(query(uri, "SELECT value FROM meta WHERE key = 'clock.virtual'")[0][0])
        procs["n1"] = start("n1")
        began = time.time()
        time.sleep(15)
        while time.time() - began < 120 and int(query(uri, (
                "SELECT count(*) FROM charges WHERE state IN ('scheduled', 'waiting') AND hold_reason = '' "
                "AND wake_at < %d AND first_failed_at < %d") % (drained_from - 86400, drained_from - 2 * 86400))[0][0]):
            time.sleep(2)
        drained_in = time.time() - began
        procs["n1"].send_signal(signal.SIGTERM)
        try:
            codes["n1 (last run)"] = procs["n1"].wait(timeout=60)
        except subprocess.TimeoutExpired:
            procs["n1"].kill()
            codes["n1 (last run)"] = "hung"
        records = call(base, "GET", "/_fixture/records")
        requests = call(base, "GET", "/_fixture/requests")["requests"]
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        fixture.terminate()
        fixture.wait()

    checks = []

    def check(name, ok, detail=""):
        checks.append((name, ok, detail))

    with open(os.path.join(work, "records.json"), "w") as f:
        json.dump({"records": records, "requests": requests}, f)
    check("every node stops cleanly when asked", all(c == 0 for c in codes.values()), codes)
    check("the three nodes lease the 64 buckets between them before the stop", sorted(leases) == list(NODES) and sum(leases.values()) == 64, leases)
    attempts_by_node = {}
    for n in NODES:
        for path in glob.glob(os.path.join(work, n, "spool", "new", "*")):
            with open(path) as f:
                attempts_by_node[n] = attempts_by_node.get(n, 0) + sum(1 for line in f if '"type":"relance.attempt.succeeded"' in line
                                                                     or '"type":"relance.attempt.failed"' in line)
    check("each node made attempts (the work is shared)", all(attempts_by_node.get(n, 0) > 0 for n in NODES), attempts_by_node)
    audit = records["audit"]
    # Less what no node could know yet: a never-retry or authentication answer given elsewhere (Stripe's
    # own first attempt of another invoice, the customer on the hosted page) within two poll
    # intervals before the pay (the nodes learn of it by polling).
    breaches = {}
    for kind in AUDIT_ZERO:
        if kind == "idempotency_conflicts":
            if audit[kind]:
                breaches[kind] = audit[kind]
            continue
        recs = [r for r in records.get("audit_records", {}).get(kind, [])
                if not ((r.get("answered") or r.get("asked") or {}).get("by", "api") != "api"
                        and r["at"] < (r.get("answered") or r.get("asked"))["at"] + 2 * 3600)]
        if recs:
            breaches[kind] = recs[:2]
    check("no double charge, no network-rule breach, no pay on a closed invoice, no idempotency conflict", not breaches, breaches)
    executed = [a for a in records["attempts"] if a["outcome"] in ("succeeded", "declined", "processing")]
    keys = [a["idempotency_key"] for a in executed]
    check("no idempotency key executed twice", len(keys) == len(set(keys)), "%d keys, %d distinct" % (len(keys), len(set(keys))))
    peak = busiest_window([r["time"] for r in requests], 1.0 - JITTER)
    check("no second of the run above requests_per_second (%d): peak %d" % (RPS, peak), peak <= RPS, peak)

    ids, ingested = set(), {}
    for path in glob.glob(os.path.join(work, "n*", "spool", "new", "*")):
        with open(path) as f:
            for e in (json.loads(line) for line in f if line.strip()):
                ids.add(e["id"])
                if e["type"] == "relance.charge.ingested":
                    t = calendar.timegm(time.strptime(e["time"], "%Y-%m-%dT%H:%M:%SZ"))
                    ingested[e["subject"]] = min(t, ingested.get(e["subject"], t))
    charges = query(uri, "SELECT id, events, state, wake_at, hold_reason FROM charges")
    missing = ["%s:%d" % (c, k) for c, n, _, _, _ in charges for k in range(1, int(n) + 1) if "%s:%d" % (c, k) not in ids]
    check("the spools together hold every event id", not missing, "%d missing, e.g. %s" % (len(missing), missing[:3]))
    # Overdue when the last run began: worked off by its end.
    now = drained_from
    # One clock: the nodes, taking over from each other thirty times, keep the world's time (each
    # second of a takeover is five hours at this scale; a node continuing from the last stored time
    # fell behind at each). Measured at the start and before the stop, node and fixture read together.
    drift = None if lag_before is None or lag_after is None else lag_after - lag_before
    check("the nodes' clock keeps the world's through the takeovers: it fell %s hours further behind the fixture's (at most 3)"
          % (None if drift is None else round(drift / 3600, 1)), drift is not None and abs(drift) <= 3 * 3600, (lag_before, lag_after))
    final = ("recovered", "exhausted", "closed")
    # A bank debit still processing, or settled in the last two days (a node reads a processing debit
    # once a day), is in flight by right.
    end = records.get("now", 0)
    processing = {a["idempotency_key"] for a in records["attempts"]
                  if a["outcome"] == "processing" or (a.get("settled_at") or 0) > end - 2 * 86400}
    debiting = {k.rsplit("_", 1)[0][3:] for k in processing}
    # (One ingested in the last two days of the nodes' clock, a failure read late, may still wait its
    # turn behind the backlog: its first wake, a notice due a day after the failure, is already past.)
    stuck = [c for c, _, state, wake, hold in charges
             if state not in final and not hold and c not in debiting and ingested.get(c, 0) < now - 2 * 86400
             and (wake is None or int(wake) < now - 86400)]
    check("every charge ingested two days before the last run final, or planned and no longer overdue from then", not stuck,
          "%d stuck, e.g. %s" % (len(stuck), stuck[:3]))
    reserved = [k for (k,) in query(uri, "SELECT key FROM attempts WHERE state = 'reserved'")]
    left = [k for k in reserved if k not in processing]
    check("nothing left in flight after the graceful stop (but bank debits still processing)", not left, left[:3])
    states = {}
    for _, _, state, _, _ in charges:
        states[state] = states.get(state, 0) + 1
    print("cluster-stripe: leases=%s attempt events by node=%s last run %.0f s" % (leases, attempts_by_node, drained_in))
    print("cluster-stripe: kills=%d (of the polling node %d) charges=%d %s payments=%d requests=%d peak_rps=%d events=%d faults=%s"
          % (killed, takeovers, len(charges), states, len(executed), len(requests), peak, len(ids),
             {k: v for k, v in records.get("faults", {}).items() if k != "rates"}))
    failed = print_checks(checks)
    if failed or os.environ.get("RELANCE_KEEP"):
        print("kept in", work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
