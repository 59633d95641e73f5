#!/usr/bin/env python3
"""Crash test over Stripe: kill -9 relanced at random moments while it works against the Stripe
fixture server (random transient faults off; the rest of the fixture's world on: basil events, bank
debits settling days later, 3-D Secure cards, customers changing cards and paying on the hosted page,
keys pruned after 24 h of fixture time, the fixture's clock scaled like the daemon's; invoices paid
and voided elsewhere and subscriptions cancelled meanwhile), restart it each time, let a last run
finish gracefully, then check from the fixture's own records, the store and the spool: no double
charge, no pay on an invoice already closed when last read, no idempotency key executed twice, every
executed payment recorded once with what it came to (a bank debit once settled, a 3-D Secure request
as a decline) and nothing recorded that was not executed, nothing left in flight but debits still
processing, no event id missing, the outbox flushed, no charge stuck.

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

sys.dont_write_bytecode = True  # no __pycache__ beside the peers

from peerlib import call, print_checks, start_fixture, write_stripe_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("RELANCE_BIN", os.path.join(ROOT, ".build", "debug"))
KEY = "sk_test_crash_51d2"


def rfc3339_seconds(text):
    """An event's `time` as an epoch second."""
    import calendar
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    work = tempfile.mkdtemp(prefix="relance-crash-stripe-")
    # Random transient faults off: this test is about kill -9 at any moment, and its checks compare what
    # the fixture executed with what the store recorded. The world is Stripe's as elsewhere: basil
    # events, bank debits settling later, 3-D Secure cards, customers changing cards and paying on the
    # hosted page.
    fixture, base = start_fixture(KEY, "--seed", "23", "--customers", "60", "--invoices", "120", "--failure-rate", "2",
                                  "--faults", "off", "--time-scale", "20000")
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
        held_now = set()
        for i in range(iterations):
            proc = subprocess.Popen([os.path.join(BIN, "relanced"), "--config", config], stdout=log, stderr=log,
                                    stdin=subprocess.DEVNULL)
            # Start-up takes about a second; a random moment in the next three, while it polls and attempts.
            pause = 1.0 + rng.random() * 3.0
            if i % 10 == 3:
                # An admin holds an open invoice's charge, or releases one held earlier (the kill may
                # come at any moment of it): no attempt may be reserved while a hold is on.
                time.sleep(1.0)
                pause -= 1.0
                if held_now and rng.random() < 0.5:
                    target, verb = held_now.pop(), "release"
                else:
                    candidates = [inv["id"] for inv in call(base, "GET", "/_fixture/invoices?status=open")["invoices"]
                                  if inv["id"] not in held_now][:30]
                    target, verb = (rng.choice(candidates), "hold") if candidates else (None, None)
                if target:
                    args = [verb, target] + (["--reason", "crash-test hold"] if verb == "hold" else [])
                    r = subprocess.run([os.path.join(BIN, "relancectl")] + args + ["--socket", os.path.join(work, "run", "relanced-admin.sock")],
                                       capture_output=True, text=True, timeout=30)
                    if verb == "hold" and r.returncode == 0:
                        held_now.add(target)
            time.sleep(max(0.0, pause))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.wait()
            # The billing system acts meanwhile: an invoice paid elsewhere, one voided, a customer gone.
            if i % 10 == 5:
                # (Not one whose bank debit is processing: Stripe would not let it be settled or voided.)
                open_invoices = sorted(call(base, "GET", "/_fixture/invoices?status=open")["invoices"],
                                       key=lambda inv: -inv["created"])[:20]
                fresh = [inv for inv in open_invoices if inv["id"] not in meddled and not inv["processing"]][:3]
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
    # The fixture's whole record, kept with the state for a failure's analysis.
    with open(os.path.join(work, "records.json"), "w") as f:
        json.dump(records, f)
    check("the final run stopped cleanly", final.returncode == 0, "exit %d" % final.returncode)
    check("no invoice charged twice", audit["double_charges"] == 0, audit)
    check("no pay on an invoice already closed when last read, nor on a cancelled subscription's",
          audit["attempts_on_closed_violations"] == 0,
          "%s %s" % (audit, records.get("audit_records", {}).get("attempts_on_closed_violations", [])[:3]))
    check("no idempotency conflict", audit["idempotency_conflicts"] == 0, audit)
    executed = [a for a in records["attempts"] if a["outcome"] in ("succeeded", "declined", "processing")]
    keys = [a["idempotency_key"] for a in executed]
    check("no idempotency key executed twice", len(keys) == len(set(keys)), "%d keys, %d distinct" % (len(keys), len(set(keys))))
    # What each executed payment came to (a 3-D Secure request is a decline: the customer must act; a bank
    # debit still processing is in doubt).
    # The daemon reads a debit it left processing again once a day (its clock): one that settled within
    # the last two days before the stop may not have been read yet.
    end = records.get("now", 0)
    final = {a["idempotency_key"]: "pending" if a["outcome"] == "processing" or (a.get("settled_at") or 0) > end - 2 * 86400
             else a["outcome"] for a in executed}
    store = sqlite3.connect(os.path.join(work, "state", "relance.sqlite"))
    attempts = {k: s for k, s in store.execute("SELECT key, state FROM attempts")}
    # Those are the fixture's days, and its clock is not the daemon's (restarts put the daemon behind):
    # a settled debit whose attempt is still reserved, its charge in flight and due for a read within a
    # day of the daemon's clock, is pending too (a charge overdue by more is caught as stuck below).
    clock = int(store.execute("SELECT value FROM meta WHERE key = 'clock.virtual'").fetchone()[0])
    due = {k for k, in store.execute("SELECT a.key FROM attempts a JOIN charges c ON c.id = a.charge WHERE a.state = 'reserved' "
                                     "AND c.state = 'in_flight' AND c.wake_at <= ?", (clock + 86400,))}
    final.update({a["idempotency_key"]: "pending" for a in executed if a.get("settled_at") and a["idempotency_key"] in due})
    lost = [k for k, f in final.items() if f != "pending" and attempts.get(k) != f]
    check("every executed payment recorded with its outcome", not lost,
          "%d lost, e.g. %s" % (len(lost), [(k, final[k], attempts.get(k)) for k in lost[:3]]))
    phantom = [k for k, s in attempts.items() if s in ("succeeded", "declined") and final.get(k) not in (s, "pending")]
    check("no recorded outcome without a payment", not phantom,
          "%d phantom, e.g. %s" % (len(phantom), [(k, attempts[k], final.get(k)) for k in phantom[:3]]))
    pending = {k for k, f in final.items() if f == "pending"}
    reserved = [k for (k,) in store.execute("SELECT key FROM attempts WHERE state = 'reserved'") if k not in pending]
    check("nothing left in flight after the graceful stop (but bank debits still processing)", not reserved,
          "%d reserved, e.g. %s" % (len(reserved), reserved[:3]))
    ids = set()
    by_charge = {}
    for path in glob.glob(os.path.join(work, "spool", "new", "*")):
        with open(path) as f:
            for line in f:
                if line.strip():
                    e = json.loads(line)
                    ids.add(e["id"])
                    by_charge.setdefault(e["subject"], []).append(e)
    # Once Relance closed a charge (settled elsewhere), nothing but a thank-you may follow it.
    after = []
    for charge, events in by_charge.items():
        events.sort(key=lambda e: int(e["id"].rsplit(":", 1)[1]))
        closed = next((n for n, e in enumerate(events) if e["type"] == "relance.charge.closed"), None)
        if closed is not None:
            after += ["%s %s" % (e["id"], e["type"]) for e in events[closed + 1:]
                      if e["type"] == "relance.charge.exhausted"
                      or (e["type"] == "relance.notice.due" and e["data"]["notice"]["level"] != "thank_you")]
    check("no notice or exhaustion after settlement: %d" % len(after), not after, after[:3])
    # While a hold is on (from its relance.charge.held to its relance.charge.released, daemon time), no
    # attempt of the charge is reserved. One reserved before the hold may finish.
    reserved_at = {}
    for charge, t in store.execute("SELECT charge, reserved_at FROM attempts"):
        reserved_at.setdefault(charge, []).append(t)
    during = []
    for charge, events in by_charge.items():
        start = None
        for e in events:
            t = rfc3339_seconds(e["time"])
            if e["type"] == "relance.charge.held" and start is None:
                start = t
            elif e["type"] == "relance.charge.released" and start is not None:
                during += ["%s at %d" % (charge, r) for r in reserved_at.get(charge, []) if start < r < t]
                start = None
        if start is not None:
            during += ["%s at %d" % (charge, r) for r in reserved_at.get(charge, []) if r > start]
    holds = sum(1 for events in by_charge.values() for e in events if e["type"] == "relance.charge.held")
    check("no attempt while held: %d (of %d holds)" % (len(during), holds), not during, during[:3])
    charges = store.execute("SELECT id, events, state, wake_at, hold_reason FROM charges").fetchall()
    missing = ["%s:%d" % (c, k) for c, n, _, _, _ in charges for k in range(1, n + 1) if "%s:%d" % (c, k) not in ids]
    check("no event id missing", not missing, "%d missing, e.g. %s" % (len(missing), missing[:3]))
    pending = store.execute("SELECT count(*) FROM outbox").fetchone()[0]
    check("outbox flushed", pending == 0, "%d pending" % pending)
    now = int(store.execute("SELECT value FROM meta WHERE key = 'clock.virtual'").fetchone()[0])
    # (A charge held until released has no wake time: it waits for the admin, as it should.)
    stuck = [c for c, _, state, wake, hold in charges
             if state in ("scheduled", "in_flight", "waiting") and not hold and (wake is None or wake < now - 86400)]
    check("no charge stuck", not stuck, "%d stuck, e.g. %s" % (len(stuck), stuck[:3]))
    scan = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "peers", "scan_secrets.py"), "--key", KEY,
                           os.path.join(work, "daemon.log"), os.path.join(work, "spool")], capture_output=True, text=True)
    check("no API key or card number in the log or the spool", scan.returncode == 0, scan.stdout.strip())
    recovered = store.execute("SELECT count(*) FROM charges WHERE state = 'recovered'").fetchone()[0]
    closed = store.execute("SELECT count(*) FROM charges WHERE state = 'closed'").fetchone()[0]
    replays = sum(1 for a in records["attempts"] if a["outcome"] == "replayed")
    print("crash-stripe: kills=%d charges=%d payments=%d replays=%d recovered=%d closed=%d events=%d"
          % (killed, len(charges), len(executed), replays, recovered, closed, len(ids)))
    # What the fixture's audit counted, checked here or not (hosted-page answers included).
    print("crash-stripe audit:", json.dumps(audit, sort_keys=True))
    failed = print_checks(checks)
    if failed or os.environ.get("RELANCE_KEEP"):
        print("state kept in", work)
    else:
        subprocess.run(["rm", "-rf", work])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
