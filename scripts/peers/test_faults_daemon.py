#!/usr/bin/env python3
"""Daemon-level faults: relanced over Stripe against the fixture server, real processes on loopback.

Each scenario starts the Stripe fixture server and relanced with a Stripe retry.toml in a fresh
folder, breaks something while the daemon works, and then judges from the fixture's own records
(no invoice charged twice, no attempt on a closed invoice, every executed idempotency key once),
from the spool files (every charged invoice has exactly one relance.attempt.succeeded, every such
event names an invoice the fixture really charged, event ids unique and without gaps) and from
/status (it answers throughout and shows the trouble).

- provider faults during a run: 5xx bursts, 429 with Retry-After (no new request during the wait),
  answers slower than request_timeout, connection resets, truncated and malformed JSON, a wrong
  content type, an oversized body, one byte a second; then attempts go on once they stop;
- the state directory remounted read-only for about five seconds, then read-write again;
- the spool on a 1 MiB tmpfs that fills during the run (the spool pauses, new/ never holds a
  partial file), grown to 64 MiB: the daemon resumes by itself and every event is there;
- a thousand concurrent clients on the status socket (idle, reading one byte a second, sending
  garbage) for ten seconds while the daemon plans and attempts.

The two mount scenarios need root (CI runs as root); elsewhere they are skipped with a loud message.

Usage: .venv/bin/python scripts/peers/test_faults_daemon.py [-v]
(RELANCE_BIN names the folder holding relanced and relancectl; default .build/debug;
RELANCE_KEEP=1 keeps each scenario's folder)
"""

import datetime
import glob
import json
import os
import random
import re
import resource
import selectors
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from peerlib import call
from test_service import http_get

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("RELANCE_BIN", os.path.join(ROOT, ".build", "debug"))
KEY = "sk_test_faults_3f9a27"
WORKERS = 4


def can_mount():
    """Why the mount scenarios cannot run here, or None."""
    if os.geteuid() != 0:
        return "not root"
    if not shutil.which("mount"):
        return "no mount command"
    return None


def mount(*args):
    r = subprocess.run(["mount"] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise OSError("mount %s: %s" % (" ".join(args), r.stderr.strip()))


def unmount(path):
    """Unmounts, retrying while the mount point is briefly busy; never leaves a mount behind silently."""
    for _ in range(50):
        if subprocess.run(["umount", path], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    subprocess.run(["umount", "-l", path], capture_output=True)


def mount_or_skip(test, *args):
    """Mounts, or skips the scenario loudly when this machine does not allow it."""
    try:
        mount(*args)
    except OSError as error:
        skip_loudly(test, str(error))


def skip_loudly(test, why):
    message = "SKIPPED %s: %s; this scenario needs root and mount (CI runs it)" % (test.id().split(".")[-1], why)
    print("\n" + "!" * len(message) + "\n" + message + "\n" + "!" * len(message), file=sys.stderr)
    test.skipTest(why)


def wait_for(condition, seconds, what, step=0.2, detail=None):
    """Polls `condition` until it returns something true; fails naming `what` after `seconds`, with
    what `detail()` says of the state then."""
    end = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("timed out after %ss waiting for %s%s" % (seconds, what, "; " + detail() if detail else ""))
        time.sleep(step)


class Stack:
    """The fixture server and relanced on a Stripe retry.toml, in a fresh folder."""

    def __init__(self, name, seed, daemon="", provider="", invoices=60, rate=1.0, rps=20, scale=20000, poll="2h"):
        self.work = tempfile.mkdtemp(prefix="relance-faults-%s-" % name)
        self.state = os.path.join(self.work, "state")
        self.spool = os.path.join(self.work, "spool")
        self.sock = os.path.join(self.work, "run", "relanced.sock")
        self.admin = os.path.join(self.work, "run", "relanced-admin.sock")
        self.daemon_settings, self.provider_settings, self.rps, self.scale, self.poll = daemon, provider, rps, scale, poll
        self.fixture = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "scripts", "peers", "stripe_fixture.py"), "--port", "0", "--api-key", KEY,
             "--seed", str(seed), "--customers", str(invoices // 2), "--invoices", str(invoices), "--failure-rate", str(rate),
             # These scenarios inject their own faults, one kind at a time, on the daemon's clock.
             "--faults", "off", "--streams", "off", "--time-scale", str(scale)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.base = "http://127.0.0.1:%d" % json.loads(self.fixture.stdout.readline())["port"]
        self.proc = None
        for d in (self.state, self.spool):
            os.makedirs(d)

    def start(self):
        with open(os.path.join(self.work, "key"), "w") as f:
            f.write(KEY + "\n")
        config = os.path.join(self.work, "retry.toml")
        with open(config, "w") as f:
            f.write("[daemon]\nstate_dir = \"%s\"\nspool_dir = \"%s\"\nstatus_socket = \"%s\"\nadmin_socket = \"%s\"\n"
                    % (self.state, self.spool, self.sock, self.admin))
            f.write("poll_interval = \"%s\"\ntime_scale = %d\nworkers = %d\nspool_batch_ms = 100\n%s\n" % (self.poll, self.scale, WORKERS, self.daemon_settings))
            f.write("[provider]\nkind = \"stripe\"\napi_base = \"%s\"\napi_key_file = \"%s/key\"\n" % (self.base, self.work))
            f.write("requests_per_second = %d\nconnect_timeout = \"1s\"\nrequest_timeout = \"2s\"\n%s\n" % (self.rps, self.provider_settings))
        self.log = open(os.path.join(self.work, "relanced.log"), "wb")
        self.proc = subprocess.Popen([os.path.join(BIN, "relanced"), "--config", config], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(self.sock) and self.alive(), 60, "the status socket")

    def alive(self):
        if self.proc.poll() is not None:
            raise AssertionError("relanced exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))
        return True

    def log_text(self):
        with open(os.path.join(self.work, "relanced.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def log_tail(self, n=3000):
        return self.log_text()[-n:]

    def api(self, method, path, body=None):
        return call(self.base, method, path, body)

    def status(self, timeout=5.0):
        code, _, body = http_get(self.sock, "/status", timeout=timeout)
        if code != 200:
            raise AssertionError("/status answered %d: %s" % (code, body[:300]))
        return json.loads(body)

    def ctl_status(self):
        """`relancectl status --json`: the document and how long it took."""
        started = time.monotonic()
        r = subprocess.run([os.path.join(BIN, "relancectl"), "status", "--socket", self.sock, "--json", "--timeout", "5"],
                           capture_output=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError("relancectl status failed: %s" % r.stderr.decode(errors="replace"))
        return json.loads(r.stdout), time.monotonic() - started

    def records(self):
        return self.api("GET", "/_fixture/records")

    def executed(self, records=None):
        """Payments the fixture executed (not replays), oldest first."""
        return [a for a in (records or self.records())["attempts"] if a["outcome"] in ("succeeded", "declined")]

    def events(self):
        out = []
        for name in sorted(glob.glob(os.path.join(self.spool, "new", "*"))):
            with open(name) as f:
                out += [json.loads(line) for line in f if line.strip()]
        return out

    def debiting(self):
        """Invoices charged by a bank debit whose attempt the store still holds in flight: the daemon
        reads a processing debit once a day of its clock, behind its backlog (at 20,000 times, ten
        seconds of dispatch lag are two days); the final checks see to them after the stop."""
        keys = {a["idempotency_key"]: a["invoice"] for a in self.executed() if a["outcome"] == "succeeded" and a.get("settled_at")}
        if not keys:
            return set()
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.state, "relance.sqlite"), uri=True, timeout=5)
        try:
            return {keys[k] for k, in db.execute("SELECT key FROM attempts WHERE state = 'reserved'") if k in keys}
        finally:
            db.close()

    def settled(self):
        """Every invoice the fixture charged has its attempt.succeeded in the spool (but bank debits
        still in flight in the store), and only those."""
        charged = {a["invoice"] for a in self.executed() if a["outcome"] == "succeeded"}
        succeeded = {e["subject"] for e in self.events() if e["type"] == "relance.attempt.succeeded"}
        return charged - self.debiting() == succeeded - self.debiting() and succeeded <= charged

    def describe(self, since):
        """What a timed-out wait saw: invoices charged without their event (and the reverse), payments
        since `since`, and what /status says of the charges."""
        charged = {a["invoice"] for a in self.executed() if a["outcome"] == "succeeded"}
        succeeded = {e["subject"] for e in self.events() if e["type"] == "relance.attempt.succeeded"}
        try:
            doc = self.status()
            charges = {k: doc[k] for k in ("charges", "provider", "last_errors") if k in doc}
        except Exception as error:  # noqa: BLE001 - shown as found
            charges = "no /status: %s" % error
        return "charged without an event %s, events without a charge %s, payments since %d; /status %s; log tail:\n%s" % (
            sorted(charged - succeeded), sorted(succeeded - charged), sum(1 for a in self.executed() if a["time"] > since),
            json.dumps(charges)[:3000], self.log_tail(4000))

    def stop(self):
        """Graceful stop: in-flight attempts finish and the outbox is flushed; exit status 0."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("relanced did not stop within 60 s of SIGTERM:\n" + self.log_tail())
        if code != 0:
            raise AssertionError("relanced exited %d:\n%s" % (code, self.log_tail()))

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.fixture.terminate()
        self.fixture.wait()
        self.fixture.stdout.close()
        if self.proc:
            self.log.close()
        if os.environ.get("RELANCE_KEEP"):
            print("kept in %s" % self.work, file=sys.stderr)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


class StatusSampler(threading.Thread):
    """Reads /status every `interval` seconds; keeps every document and every failure to answer."""

    def __init__(self, stack, interval=0.25):
        super().__init__(daemon=True)
        self.stack, self.interval = stack, interval
        self.docs, self.failures, self.slowest = [], [], 0.0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            started = time.monotonic()
            try:
                self.docs.append((time.time(), self.stack.status()))
            except Exception as error:  # noqa: BLE001 - every failure to answer is a finding
                self.failures.append("%s: %s" % (type(error).__name__, error))
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.halt.wait(self.interval)

    def stop(self):
        self.halt.set()
        self.join(timeout=30)

    def errors(self):
        """Every distinct last_errors message seen."""
        return {e["message"] for _, d in self.docs for e in d["last_errors"]}


class DaemonFaultTests(unittest.TestCase):
    def stack(self, name, seed, **kw):
        s = Stack(name, seed, **kw)
        self.addCleanup(s.close)
        return s

    def check_books(self, s, label):
        """The checks every scenario ends with, after a graceful stop; returns figures for the report line."""
        records = s.records()
        with open(os.path.join(s.work, "fixture-records.json"), "w") as f:
            json.dump(records, f)
        audit = records["audit"]
        self.assertEqual(audit["double_charges"], 0, (audit, records.get("audit_records", {}).get("double_charges"),
                                                      s.log_tail(6000)))
        self.assertEqual(audit["attempts_on_closed_violations"], 0, (audit, records.get("audit_records", {}).get("attempts_on_closed_violations")))
        self.assertEqual(audit["idempotency_conflicts"], 0, audit)
        executed = s.executed(records)
        keys = [a["idempotency_key"] for a in executed]
        self.assertEqual(len(keys), len(set(keys)), "an idempotency key executed twice")
        events = s.events()
        ids = [e["id"] for e in events]
        self.assertEqual(len(ids), len(set(ids)), "duplicate event ids")
        # The daemon reads a bank debit it left processing again once a day (its clock): one that settled
        # at the fixture within the last two days before the stop may not have been read yet. Its
        # attempt must then still be in flight in the store (checked below), not lost.
        end = records.get("now", 0)
        unread = {a["invoice"]: a["idempotency_key"] for a in executed
                  if a["outcome"] == "succeeded" and (a.get("settled_at") or 0) > end - 2 * 86400}
        # The two days are the fixture's, whose clock is not the daemon's, and a daemon behind on its
        # work (at 20,000 times, a dispatch lag of 10 s of wall time is two days) reads late: a settled
        # debit whose attempt is still reserved, its charge in flight and due for a read by a day after
        # the daemon's last clock reading, is in flight too, not lost.
        clock = [m.group(1) for m in re.finditer(rb"virtual\.time=(\S+)", open(os.path.join(s.work, "relanced.log"), "rb").read())]
        daemon_end = datetime.datetime.fromisoformat(clock[-1].decode().replace("Z", "+00:00")).timestamp() if clock else 0
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(s.state, "relance.sqlite"), uri=True)
        try:
            due = {k for k, in db.execute("SELECT a.key FROM attempts a JOIN charges c ON c.id = a.charge "
                                          "WHERE a.state = 'reserved' AND c.state = 'in_flight' AND c.wake_at <= ?", (daemon_end + 86400,))}
        finally:
            db.close()
        unread.update({a["invoice"]: a["idempotency_key"] for a in executed
                       if a["outcome"] == "succeeded" and a.get("settled_at") and a["idempotency_key"] in due})
        # Each charged invoice has exactly one attempt.succeeded, and each names a real charge.
        charged = {a["invoice"] for a in executed if a["outcome"] == "succeeded"} - set(unread)
        succeeded = [e["subject"] for e in events if e["type"] == "relance.attempt.succeeded"]
        doubled = sorted({c for c in succeeded if succeeded.count(c) > 1})
        self.assertEqual(doubled, [], "invoices with two attempt.succeeded events")
        self.assertEqual(sorted(set(succeeded) - charged - set(unread)), [], "attempt.succeeded without a charge at the fixture")
        missing = sorted(charged - set(succeeded))
        self.assertEqual(missing, [], ("charged at the fixture without attempt.succeeded",
                                       [a for a in records["attempts"] if a["invoice"] in missing],
                                       [(e["id"], e["type"], e["data"].get("reason") or e["data"].get("status")) for e in events if e["subject"] in missing]))
        # The store: every recorded outcome is the one the fixture executed under that key; ids without gaps.
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(s.state, "relance.sqlite"), uri=True)
        try:
            outcomes = {a["idempotency_key"]: a["outcome"] for a in executed}
            stored = db.execute("SELECT key, state FROM attempts WHERE state IN ('succeeded', 'declined')").fetchall()
            wrong = [(k, st, outcomes.get(k)) for k, st in stored if outcomes.get(k) != st]
            self.assertEqual(wrong, [], "outcomes stored that the fixture did not execute")
            states = dict(db.execute("SELECT key, state FROM attempts").fetchall())
            unread_lost = [(k, states.get(k)) for k in unread.values() if states.get(k) not in ("reserved", "succeeded")]
            self.assertEqual(unread_lost, [], "a debit settled just before the stop is neither in flight nor recorded")
            charges = db.execute("SELECT id, events FROM charges").fetchall()
            outbox = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
            reserved = db.execute("SELECT count(*) FROM attempts WHERE state = 'reserved'").fetchone()[0]
        finally:
            db.close()
        self.assertEqual(outbox, 0, "events left in the outbox after the graceful stop")
        expected = {"%s:%d" % (c, n) for c, count in charges for n in range(1, count + 1)}
        missing = sorted(expected - set(ids))
        self.assertEqual(missing[:5], [], "%d event ids missing from the spool" % len(missing))
        self.assertEqual(sorted(set(ids) - expected)[:5], [], "events the store does not count")
        # Whatever the faults put in error messages, neither the key nor a card number reaches the log or the spool.
        scan = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "peers", "scan_secrets.py"), "--key", KEY,
                               os.path.join(s.work, "relanced.log"), s.spool], capture_output=True, text=True)
        self.assertEqual(scan.returncode, 0, scan.stdout)
        figures = {"requests": records["requests"], "payments": len(executed), "succeeded": len(charged),
                   "replays": sum(1 for a in records["attempts"] if a["outcome"] == "replayed"),
                   "charges": len(charges), "closed": sum(1 for e in events if e["type"] == "relance.charge.closed"),
                   "events": len(ids), "reserved": reserved,
                   "double_charges": audit["double_charges"], "on_closed": audit.get("attempts_on_closed_violations", 0), "lost": len(missing),
                   "secrets_found": 0}
        print("faults-daemon %s: %s" % (label, " ".join("%s=%s" % kv for kv in figures.items())), file=sys.stderr)
        return figures

    def wait_for_attempts(self, s, at_least, seconds=40, since=0):
        return wait_for(lambda: s.alive() and len(s.executed()) >= since + at_least, seconds,
                        "%d payments at the fixture" % (since + at_least))

    # ---- (a) provider faults

    def test_a_provider_faults_during_a_stripe_run(self):
        # 10 requests a second: requests waiting for their tokens when a 429 is answered would go out
        # 100 ms apart, most of them later than one already in flight (see retry_after_holds_every_request).
        s = self.stack("provider", 31, provider="max_response_bytes = 65536", invoices=40, rps=10)
        s.start()
        self.wait_for_attempts(s, 3)
        sampler = StatusSampler(s)
        sampler.start()
        self.addCleanup(sampler.stop)
        early, late, retry_after = self.retry_after_holds_every_request(s)
        # The billing system settles some invoices itself meanwhile: the guard must catch them through the faults.
        listed = call(s.base, "GET", "/v1/invoices?status=open&collection_method=charge_automatically&limit=6", key=KEY)["data"]
        for inv, action in zip(listed, ("pay_out_of_band", "void", "pay_out_of_band")):
            s.api("POST", "/_fixture/invoices/%s/%s" % (inv["id"], action), {})
        pay = {"method": "POST", "path_prefix": "/v1/invoices/"}
        # Groups whose faults are taken by different requests (pays, polls and guards) at the same time.
        plan = [
            # The client retries a 5xx itself unless Stripe says not to: these say so, so each reaches the
            # daemon (retried ones are absorbed, spread over concurrent requests as they are).
            [{"kind": "status", "status": 503, "count": 5, "method": "GET", "headers": {"Stripe-Should-Retry": "false"}},
             dict(pay, kind="status", status=500, count=3, headers={"Stripe-Should-Retry": "false"})],
            # A slow pay still charges; its retries under the same key meet it in progress (409) or replayed.
            [dict(pay, kind="delay", seconds=3.5, count=3)],
            # A timeout is retried by the client: three in a row on the poller's reads (one at a time) reach it.
            [{"kind": "delay", "seconds": 3.5, "method": "GET", "path_prefix": "/v1/events", "count": 3}],
            [dict(pay, kind="reset"), {"kind": "reset", "method": "GET"}],
            [dict(pay, kind="truncated"), {"kind": "truncated", "method": "GET"}],
            [dict(pay, kind="malformed"), {"kind": "malformed", "method": "GET"}],
            [dict(pay, kind="wrong_content_type"), {"kind": "wrong_content_type", "method": "GET"}],
            [dict(pay, kind="oversized", bytes=300000)],
            [dict(pay, kind="drip", seconds=1, count=3)],
        ]
        injected = {"status_429": 1}
        for group in plan:
            s.api("POST", "/_fixture/faults", group)
            wait_for(lambda: s.alive() and not s.api("GET", "/_fixture/faults")["faults"], 40,
                     "the daemon to meet %s" % [f["kind"] for f in group])
            for f in group:
                name = f["kind"] + ("_%d" % f["status"] if f["kind"] == "status" else "") + ("_pay" if f.get("method") == "POST" else "_get")
                injected[name] = injected.get(name, 0) + f.get("count", 1)
        s.api("DELETE", "/_fixture/faults")
        cleared_at = time.time()
        # Faults cleared: attempts left reserved are resumed with their keys, and new ones go on.
        wait_for(lambda: s.alive() and s.settled() and sum(1 for a in s.executed() if a["time"] > cleared_at) >= 3, 60,
                 "the charged invoices settled and three new payments after the faults", detail=lambda: s.describe(cleared_at))
        sampler.stop()
        doc, seconds = s.ctl_status()
        self.assertEqual(doc["provider"]["state"], "ok", doc["provider"])
        self.assertLess(seconds, 3.0)
        s.stop()
        # /status answered all along, and showed the trouble while it lasted.
        self.assertEqual(sampler.failures, [], "/status did not answer")
        unordered = [d["last_errors"] for _, d in sampler.docs
                     if [e["time"] for e in d["last_errors"]] != sorted((e["time"] for e in d["last_errors"]), reverse=True)]
        self.assertEqual(unordered[:1], [], "/status last_errors not newest first (docs/status.schema.json)")
        states = {d["provider"]["state"] for _, d in sampler.docs}
        self.assertTrue(states & {"backing_off", "failing"}, states)
        seen = " | ".join(sorted(sampler.errors()))
        for evidence in ("HTTP 503", "HTTP 500", "HTTP 429", "timeout", "undecodable", "expected application/json",
                         "larger than the response limit"):
            self.assertIn(evidence, seen, "no %r in /status last_errors" % evidence)
        figures = self.check_books(s, "(a)")
        self.assertGreater(figures["replays"], 0, "no attempt was resumed with its key after a fault")
        print("faults-daemon (a): injected %s; Retry-After %ss: %d request(s) already in flight arrived after the 429, "
              "%d new in the wait; /status samples=%d slowest=%.2fs states=%s"
              % (json.dumps(injected, sort_keys=True), retry_after, len(early), len(late), len(sampler.docs),
                 sampler.slowest, sorted(states)), file=sys.stderr)

    def retry_after_holds_every_request(self, s, retry_after=3, in_flight=0.15):
        """A 429 with Retry-After: no new request reaches the provider before the wait is over.

        The fixture logs each request's arrival; requests already sent when the 429 went out arrive
        within `in_flight` seconds of it (at most one per worker and the poller); nothing after that
        until Retry-After has passed. A 429 whose receiving request cannot be told apart (another
        request arrived while the fault was being queued) is queued again."""
        for _ in range(5):
            total = s.api("GET", "/_fixture/requests?path_prefix=/-")["total"]
            queued_from = time.time()
            s.api("POST", "/_fixture/faults", {"kind": "status", "status": 429, "headers": {"Retry-After": str(retry_after)}})
            queued_to = time.time()
            wait_for(lambda: s.alive() and not s.api("GET", "/_fixture/faults")["faults"], 20, "a request to meet the 429")
            time.sleep(retry_after + 1)
            log = [r for r in s.api("GET", "/_fixture/requests?since=%d" % total)["requests"] if r["time"] >= queued_from]
            if not log or log[0]["time"] < queued_to:
                continue
            hit = log[0]
            following = [r["time"] - hit["time"] for r in log[1:] if r["time"] < hit["time"] + retry_after - 0.05]
            early = [t for t in following if t <= in_flight]
            late = [t for t in following if t > in_flight]
            seen = [("%.3f" % (r["time"] - hit["time"]), r["method"], r["path"]) for r in log[:len(early) + 1]]
            self.assertLessEqual(len(early), WORKERS + 1, "more requests in flight than workers and poller: %s" % seen)
            self.assertEqual(late, [], "requests %.2fs into a %ds Retry-After: %s" % (late[0] if late else 0, retry_after, following))
            return early, late, retry_after
        self.fail("could not tell which request met the 429 in five tries")

    # ---- (b) the state directory read-only

    def test_b_state_directory_read_only_for_five_seconds(self):
        """The state directory remounted read-only (a bind mount onto itself) for five seconds.

        The kernel applies a mount's read-only flag when a file is opened: the store's database, WAL,
        shared-memory and lock files, opened before through the parent mount, stay writable, and what
        the daemon opens meanwhile is refused (EROFS). Store errors, if any, must show in /status."""
        why = can_mount()
        if why:
            skip_loudly(self, why)
        s = self.stack("readonly", 37)
        s.start()
        self.wait_for_attempts(s, 3)
        sampler = StatusSampler(s)
        sampler.start()
        self.addCleanup(sampler.stop)
        mount_or_skip(self, "--bind", s.state, s.state)
        try:
            mount_or_skip(self, "-o", "remount,bind,ro", s.state)
            ro_from, paid_before = time.time(), len(s.executed())
            # The fault is real: nothing new can be created in the state directory.
            with self.assertRaises(OSError) as refused:
                open(os.path.join(s.state, "probe"), "w").close()
            self.assertEqual(refused.exception.errno, 30)  # EROFS
            time.sleep(5)
            ro_to, paid_during = time.time(), len(s.executed()) - paid_before
            mount("-o", "remount,bind,rw", s.state)
        finally:
            unmount(s.state)
        resumed = len(s.executed())
        self.wait_for_attempts(s, 3, since=resumed)
        wait_for(lambda: s.alive() and s.settled(), 30, "the charged invoices settled")
        sampler.stop()
        s.stop()
        self.assertEqual(sampler.failures, [], "/status did not answer")
        shown = sorted({e["message"] for _, d in sampler.docs for e in d["last_errors"] if "store" in e["message"]})
        logged = sum(1 for line in s.log_text().splitlines() if "store error" in line)
        if logged:
            self.assertTrue(shown, "the daemon logged %d store errors and /status showed none" % logged)
        self.check_books(s, "(b)")
        print("faults-daemon (b): read-only %.1fs (a new file refused with EROFS); payments during it %d, after it %d; "
              "store errors logged %d, shown in /status %d; /status samples %d, slowest %.2fs"
              % (ro_to - ro_from, paid_during, len(s.executed()) - resumed, logged, len(shown), len(sampler.docs),
                 sampler.slowest), file=sys.stderr)

    # ---- (c) the spool on a small tmpfs

    def test_c_spool_on_a_small_tmpfs_fills_then_grows(self):
        why = can_mount()
        if why:
            skip_loudly(self, why)
        # One event a file, so the 1 MiB fills within seconds; no free-space margin: the disk really fills (ENOSPC).
        s = self.stack("tmpfs", 41, daemon="spool_batch_events = 1\nspool_min_free_mb = 0")
        mount_or_skip(self, "-t", "tmpfs", "-o", "size=1m", "tmpfs", s.spool)
        try:
            watcher = SpoolWatcher(s.spool)
            s.start()
            watcher.start()
            sampler = StatusSampler(s)
            sampler.start()
            self.addCleanup(sampler.stop)
            paused = wait_for(lambda: s.alive() and [d for _, d in sampler.docs[-3:] if d["spool"]["paused"]], 90, "the spool to pause")[-1]
            reason = paused["spool"]["reason"]
            self.assertIn("No space left on device", reason)
            code, _, body = http_get(s.sock, "/healthz")
            self.assertEqual(code, 503, body)
            # Paused: no new attempt starts (those already in flight finish), events wait in the outbox.
            at_pause = len(s.executed())
            time.sleep(3)
            self.assertLessEqual(len(s.executed()) - at_pause, WORKERS, "attempts went on while the spool was full")
            pending = s.status()["spool"]["pending_events"]
            self.assertGreater(pending, 0)
            files_full = len(os.listdir(os.path.join(s.spool, "new")))
            mount("-o", "remount,size=64m", s.spool)
            grown_at = time.time()
            wait_for(lambda: s.alive() and not s.status()["spool"]["paused"], 30, "the spool to resume")
            resumed_after = time.time() - grown_at
            self.wait_for_attempts(s, 3, since=len(s.executed()))
            sampler.stop()
            s.stop()
            watcher.stop()
            self.assertEqual(sampler.failures, [], "/status did not answer")
            self.assertEqual(watcher.partial, [], "partial files in new/")
            self.assertEqual(os.listdir(os.path.join(s.spool, "tmp")), [], "files left in tmp/")
            figures = self.check_books(s, "(c)")
        finally:
            if s.proc and s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()
            watcher.stop()
            unmount(s.spool)
        print("faults-daemon (c): spool full after %d files (reason %r), %d events held in the outbox; resumed %.1fs after "
              "growing to 64 MiB; %d files checked whole in new/, 0 partial; %d events, ids unique, 0 gaps"
              % (files_full, reason, pending, resumed_after, watcher.checked, figures["events"]), file=sys.stderr)

    # ---- (e) the state directory's file system full

    def test_e_state_file_system_full_then_freed(self):
        """The store's file system filled to the last byte (SQLITE_FULL on every write), then freed.

        Unlike a read-only remount, a full file system reaches the files the store holds open: every
        transaction fails until space returns. Attempts whose outcome cannot be stored are resumed
        with their idempotency key afterwards; nothing may be charged twice or lost."""
        why = can_mount()
        if why:
            skip_loudly(self, why)
        s = self.stack("statefull", 43)
        mount_or_skip(self, "-t", "tmpfs", "-o", "size=32m", "tmpfs", s.state)
        filler = os.path.join(s.state, "filler")
        try:
            s.start()
            self.wait_for_attempts(s, 3)
            sampler = StatusSampler(s)
            sampler.start()
            self.addCleanup(sampler.stop)
            # Unbuffered: a buffered file keeps what its last write could not store and tries again
            # when closed, which raised ENOSPC out of the `with` now and then.
            with open(filler, "wb", buffering=0) as f:
                chunk = b"\0" * 65536
                try:
                    while True:
                        f.write(chunk)
                except OSError as error:
                    self.assertEqual(error.errno, 28)  # ENOSPC
            full_from, paid_before = time.time(), len(s.executed())
            shown = wait_for(lambda: s.alive() and [e["message"] for _, d in sampler.docs[-4:] for e in d["last_errors"]
                                                    if "store" in e["message"]], 40, "/status to show the store errors")
            time.sleep(2)
            self.assertTrue(s.alive(), "relanced exited while its file system was full:\n" + s.log_tail())
            full_for, paid_during = time.time() - full_from, len(s.executed()) - paid_before
            os.unlink(filler)
            freed = len(s.executed())
            self.wait_for_attempts(s, 3, since=freed)
            wait_for(lambda: s.alive() and s.settled(), 30, "the charged invoices settled")
            sampler.stop()
            s.stop()
            self.assertEqual(sampler.failures, [], "/status did not answer")
            logged = sum(1 for line in s.log_text().splitlines() if "store error" in line)
            self.assertGreater(logged, 0, "no store error logged while the file system was full")
            figures = self.check_books(s, "(e)")
        finally:
            if s.proc and s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()
            unmount(s.state)
        print("faults-daemon (e): state file system full for %.1fs: store errors logged %d, /status showed %r; payments "
              "during it %d (answers kept for replay), after it %d; %d events, 0 lost, 0 double charges"
              % (full_for, logged, shown[0][:120], paid_during, len(s.executed()) - freed, figures["events"]), file=sys.stderr)

    # ---- (d) the status socket under a thousand clients

    def test_d_status_socket_under_a_thousand_clients(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = 1000 + 200
        if soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(wanted, 4096), hard), hard))
        clients = min(1000, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 200)
        if clients < 1000:
            print("faults-daemon (d): RLIMIT_NOFILE hard limit %d: only %d clients" % (hard, clients), file=sys.stderr)
        s = self.stack("socket", 43, invoices=80, rate=2)
        s.start()
        self.wait_for_attempts(s, 3)
        stress = SocketStress(s.sock, idle=clients * 4 // 10, slow=clients * 3 // 10, garbage=clients - clients * 7 // 10)
        before, started = len(s.executed()), time.monotonic()
        fds, progress, latencies = [], [], []

        def sample():
            fds.append(len(os.listdir("/proc/%d/fd" % s.proc.pid)))
            progress.append((time.monotonic() - started, len(s.executed())))
            asked = time.monotonic()
            s.status(timeout=10)
            latencies.append(time.monotonic() - asked)

        stress.run(10.0, every=2.5, tick=sample)
        after = len(s.executed())
        doc, seconds = s.ctl_status()
        s.alive()
        self.assertLess(seconds, 2.0, "/status took %.2fs after the stress" % seconds)
        # Payments go on in both halves of the stress.
        middle = min(progress, key=lambda p: abs(p[0] - 5.0))[1]
        self.assertTrue(before < middle < progress[-1][1], "payments did not keep growing during the stress: %s" % progress)
        self.assertGreaterEqual(stress.peak, clients * 9 // 10, "fewer clients connected at once than asked")
        self.assertGreater(stress.garbage_400, 0)
        self.assertEqual(stress.garbage_other, 0, "garbage answered with something else than a 400")
        s.stop()
        self.check_books(s, "(d)")
        print("faults-daemon (d): %d clients (%d idle, %d slow readers, %d garbage), peak %d connected at once, "
              "daemon descriptors up to %d; garbage answered 400: %d; slow readers read %d bytes; closed by the server: %d "
              "idle, %d slow; refused: %d; payments during the stress %d -> %d (samples %s); /status during it in at most "
              "%.2fs, after it in %.2fs"
              % (clients, stress.counts["idle"], stress.counts["slow"], stress.counts["garbage"], stress.peak, max(fds),
                 stress.garbage_400, stress.slow_bytes, stress.closed["idle"], stress.closed["slow"], stress.refused,
                 before, after, [n for _, n in progress], max(latencies), seconds), file=sys.stderr)


class SpoolWatcher(threading.Thread):
    """Reads every file that appears in new/ as soon as it is there: each must be whole JSON lines."""

    def __init__(self, spool):
        super().__init__(daemon=True)
        self.new = os.path.join(spool, "new")
        self.seen, self.partial, self.checked = set(), [], 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.wait(0.02):
            self.scan()
        self.scan()

    def scan(self):
        for name in sorted(set(os.listdir(self.new)) - self.seen):
            self.seen.add(name)
            with open(os.path.join(self.new, name), "rb") as f:
                data = f.read()
            try:
                whole = data.endswith(b"\n") and all(json.loads(line)["id"] for line in data.splitlines())
            except (ValueError, KeyError):
                whole = False
            if not whole:
                self.partial.append((name, len(data)))
            self.checked += 1

    def stop(self):
        self.halt.set()
        if self.is_alive():
            self.join(timeout=30)


class SocketStress:
    """Many clients on a Unix socket at once: idle ones, slow readers that pipeline requests and read one
    byte a second, and garbage senders that expect a 400; a client the server closes is replaced."""

    SLOW_REQUESTS = b"GET /metrics HTTP/1.1\r\nHost: relanced\r\n\r\n" * 8 + b"GET /status HTTP/1.1\r\nHost: relanced\r\n\r\n"

    def __init__(self, path, idle, slow, garbage, seed=5):
        self.path = path
        self.counts = {"idle": idle, "slow": slow, "garbage": garbage}
        self.rng = random.Random(seed)
        self.sel = selectors.DefaultSelector()
        self.live = {}
        self.peak = self.refused = self.slow_bytes = self.garbage_400 = self.garbage_other = 0
        self.closed = {"idle": 0, "slow": 0, "garbage": 0}

    def open(self, kind):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(self.path)
        except (BlockingIOError, ConnectionRefusedError, FileNotFoundError):
            c.close()
            self.refused += 1
            return
        try:
            if kind == "slow":
                c.sendall(self.SLOW_REQUESTS)
            elif kind == "garbage":
                c.sendall(b"\x16\x03\x01" + bytes(self.rng.randrange(256) for _ in range(60)) + b"\r\n\r\n")
        except OSError:
            c.close()
            self.refused += 1
            return
        self.live[c] = [kind, b""]
        if kind != "slow":
            self.sel.register(c, selectors.EVENT_READ)

    def drop(self, c):
        kind = self.live.pop(c)[0]
        if kind != "slow":
            self.sel.unregister(c)
        c.close()
        return kind

    def run(self, seconds, every, tick):
        for kind, n in self.counts.items():
            for _ in range(n):
                self.open(kind)
        self.peak = len(self.live)
        end = time.monotonic() + seconds
        next_byte = next_tick = time.monotonic()
        while time.monotonic() < end:
            for key, _ in self.sel.select(timeout=0.05):
                self.readable(key.fileobj)
            now = time.monotonic()
            if now >= next_byte:
                next_byte += 1.0
                for c in [c for c, (kind, _) in self.live.items() if kind == "slow"]:
                    self.read_one_byte(c)
                # Clients the server closed come back once a second (garbage senders: a few hundred requests a second).
                self.refill()
            if now >= next_tick:
                next_tick += every
                tick()
            self.peak = max(self.peak, len(self.live))
        for c in list(self.live):
            self.drop(c)
        tick()

    def readable(self, c):
        kind, got = self.live[c]
        try:
            data = c.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.live[c][1] = got + data
            return
        if kind == "garbage":
            if got.startswith(b"HTTP/1.1 400"):
                self.garbage_400 += 1
            else:
                self.garbage_other += 1
        self.closed[self.drop(c)] += 1

    def read_one_byte(self, c):
        try:
            data = c.recv(1)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.slow_bytes += 1
        else:
            self.closed[self.drop(c)] += 1

    def refill(self):
        kinds = [kind for kind, _ in self.live.values()]
        for kind, n in self.counts.items():
            for _ in range(n - kinds.count(kind)):
                self.open(kind)


if __name__ == "__main__":
    unittest.main()
