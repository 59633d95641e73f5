#!/usr/bin/env python3
"""Crash test over Stripe: kill -9 relanced at random moments while it works against the Stripe
fixture server (with invoices paid and voided elsewhere and subscriptions cancelled meanwhile),
restart it each time, let a last run finish gracefully, then check from the fixture's own records,
the store and the spool: no invoice charged twice, no charge on a closed invoice, no idempotency key
executed twice, every executed payment recorded once with its outcome (and nothing recorded that
was not executed), nothing left in flight, no event id missing, the outbox flushed, no charge stuck.

Usage: python3 scripts/peers/crash_stripe.py [ITERATIONS]   (default 100; RELANCE_BIN as elsewhere)
"""

import glob
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

from peerlib import call, start_fixture, write_stripe_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("RELANCE_BIN", os.path.join(ROOT, ".build", "debug"))
KEY = "sk_test_crash_51d2"


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    work = tempfile.mkdtemp(prefix="relance-crash-stripe-")
    fixture, base = start_fixture(KEY, "--seed", "23", "--customers", "60", "--invoices", "120", "--failure-rate", "2")
    try:
        config = write_stripe_config(
            work, base, KEY,
            daemon={"poll_interval": "1h", "time_scale": 20000, "spool_batch_events": 25, "spool_batch_ms": 50,
                    "log_level": "warning"},
            provider={"requests_per_second": 200, "request_timeout": "5s"})
        log = open(os.path.join(work, "daemon.log"), "ab")
        rng = random.Random(int(os.environ.get("RELANCE_CRASH_SEED", "7")))
        killed = 0
        meddled = set()
        for i in range(iterations):
            proc = subprocess.Popen([os.path.join(BIN, "relanced"), "--config", config], stdout=log, stderr=log,
                                    stdin=subprocess.DEVNULL)
            # Start-up takes about a second; a random moment in the next three, while it polls and attempts.
            time.sleep(1.0 + rng.random() * 3.0)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.wait()
            # The billing system acts meanwhile: an invoice paid elsewhere, one voided, a customer gone.
            if i % 10 == 5:
                open_invoices = call(base, "GET", "/v1/invoices?status=open&collection_method=charge_automatically&limit=20", key=KEY)["data"]
                fresh = [inv for inv in open_invoices if inv["id"] not in meddled][:3]
                for action, inv in zip(("pay_out_of_band", "void", "cancel"), fresh):
                    meddled.add(inv["id"])
                    if action == "cancel" and inv.get("subscription"):
                        call(base, "POST", "/_fixture/subscriptions/%s/cancel" % inv["subscription"], {})
                    elif action != "cancel":
                        call(base, "POST", "/_fixture/invoices/%s/%s" % (inv["id"], action), {})
        # A last, uninterrupted run: attempts left in flight are resumed with their keys, what fell due is
        # attempted, and the graceful stop finishes in-flight attempts and flushes the outbox.
        final = subprocess.run([os.path.join(BIN, "relanced"), "--config", config, "--run-for", "30"],
                               stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        records = call(base, "GET", "/_fixture/records")
    finally:
        fixture.terminate()
        fixture.wait()

    checks = []

    def check(name, ok, detail=""):
        checks.append((name, ok, detail))

    audit = records["audit"]
    check("the final run stopped cleanly", final.returncode == 0, "exit %d" % final.returncode)
    check("no invoice charged twice", audit["double_charges"] == 0, audit)
    check("no charge on a closed invoice or a cancelled subscription", audit["attempts_on_closed"] == 0, audit)
    check("no idempotency conflict", audit["idempotency_conflicts"] == 0, audit)
    executed = [a for a in records["attempts"] if a["outcome"] in ("succeeded", "declined")]
    keys = [a["idempotency_key"] for a in executed]
    check("no idempotency key executed twice", len(keys) == len(set(keys)), "%d keys, %d distinct" % (len(keys), len(set(keys))))
    store = sqlite3.connect(os.path.join(work, "state", "relance.sqlite"))
    attempts = {k: s for k, s in store.execute("SELECT key, state FROM attempts")}
    lost = [a["idempotency_key"] for a in executed if attempts.get(a["idempotency_key"]) != a["outcome"]]
    check("every executed payment recorded with its outcome", not lost, "%d lost, e.g. %s" % (len(lost), lost[:3]))
    executed_keys = set(keys)
    phantom = [k for k, s in attempts.items() if s in ("succeeded", "declined") and k not in executed_keys]
    check("no recorded outcome without a payment", not phantom, "%d phantom, e.g. %s" % (len(phantom), phantom[:3]))
    reserved = store.execute("SELECT count(*) FROM attempts WHERE state = 'reserved'").fetchone()[0]
    check("nothing left in flight after the graceful stop", reserved == 0, "%d reserved" % reserved)
    ids = set()
    for path in glob.glob(os.path.join(work, "spool", "new", "*")):
        with open(path) as f:
            ids.update(json.loads(line)["id"] for line in f if line.strip())
    charges = store.execute("SELECT id, events, state, wake_at FROM charges").fetchall()
    missing = ["%s:%d" % (c, k) for c, n, _, _ in charges for k in range(1, n + 1) if "%s:%d" % (c, k) not in ids]
    check("no event id missing", not missing, "%d missing, e.g. %s" % (len(missing), missing[:3]))
    pending = store.execute("SELECT count(*) FROM outbox").fetchone()[0]
    check("outbox flushed", pending == 0, "%d pending" % pending)
    now = int(store.execute("SELECT value FROM meta WHERE key = 'clock.virtual'").fetchone()[0])
    stuck = [c for c, _, state, wake in charges if state in ("scheduled", "in_flight", "waiting") and (wake is None or wake < now - 86400)]
    check("no charge stuck", not stuck, "%d stuck, e.g. %s" % (len(stuck), stuck[:3]))
    scan = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "peers", "scan_secrets.py"), "--key", KEY,
                           os.path.join(work, "daemon.log"), os.path.join(work, "spool")], capture_output=True, text=True)
    check("no API key or card number in the log or the spool", scan.returncode == 0, scan.stdout.strip())
    recovered = store.execute("SELECT count(*) FROM charges WHERE state = 'recovered'").fetchone()[0]
    closed = store.execute("SELECT count(*) FROM charges WHERE state = 'closed'").fetchone()[0]
    replays = sum(1 for a in records["attempts"] if a["outcome"] == "replayed")
    print("crash-stripe: kills=%d charges=%d payments=%d replays=%d recovered=%d closed=%d events=%d"
          % (killed, len(charges), len(executed), replays, recovered, closed, len(ids)))
    failed = 0
    for name, ok, detail in checks:
        print(("  ok    " if ok else "  FAIL  ") + name + ("" if ok else " (%s)" % (detail,)))
        failed += 0 if ok else 1
    print("%d passed, %d failed" % (len(checks) - failed, failed))
    if failed or os.environ.get("RELANCE_KEEP"):
        print("state kept in", work)
    else:
        subprocess.run(["rm", "-rf", work])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
