#!/usr/bin/env python3
"""relance-deliver against real peers: aiosmtpd on loopback requiring STARTTLS and AUTH, a webhook
receiver that checks every signature, and relanced itself answering GET /charges/{id}.

relanced runs a sandbox for a few virtual days (time_scale 43200) without the deliverer, so its
spool copy fills with notices, some of whose charges are then paid. relanced goes on at time_scale 1
and relance-deliver starts (one SMTP connection), and is killed with SIGKILL at random moments
20 times. Then:
- every message the journal holds as sent is in the mailbox, over TLS and AUTH; at most one
  duplicate per kill; every emailable notice ended merged, skipped or failed (none left pending);
- no reminder lists a charge settled before the deliverer started, and some notices were skipped;
- a refused recipient (550) and a malformed line are in failed/ with their reason, nothing else is;
- every event of the webhook's types reached the receiver, correctly signed, in order per subject,
  but those it refused (400), which are in failed/;
- the systemd protocol: READY=1, WATCHDOG=1, a reload on SIGHUP (a broken file refused, the old
  configuration kept), STOPPING=1.

    test_deliver.py [--kills N]
"""
import argparse
import hashlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deliver_peers import PASSWORD, USER, Mailbox, Receiver, make_tls, start_smtp  # noqa: E402
from peerlib import unix_get  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".build", "debug")
HOOK_TYPES = ["relance.notice.due", "relance.charge.recovered", "relance.charge.closed"]
REFUSED_RCPT = "customer7@example.test"


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def refused_by_receiver(event_id):
    return hashlib.md5(event_id.encode()).digest()[0] % 32 == 0


def write_config(work, smtp_port, hook_url, ca):
    with open(os.path.join(work, "smtp-password"), "w") as f:
        f.write(PASSWORD + "\n")
    with open(os.path.join(work, "hook-secret"), "w") as f:
        f.write("whsec_relance_test\n")
    text = f"""
[daemon]
state_dir = "{work}/state"
spool_dir = "{work}/spool"
status_socket = "{work}/relanced.sock"
admin_socket = "{work}/admin.sock"
spool_copies = ["{work}/deliver-spool"]
spool_batch_ms = 50
[sandbox]
customers = 300
failures_per_day = 80
[deliver]
spool_dir = "{work}/deliver-spool"
state_dir = "{work}/deliver-state"
status_socket = "{work}/deliver.sock"
scan_ms = 50
# One SMTP connection: a kill then leaves at most one message in flight, so at most one duplicate.
concurrency = 1
[email]
server = "smtp://127.0.0.1:{smtp_port}"
ca_file = "{ca}"
username = "{USER}"
password_file = "{work}/smtp-password"
from = "billing@example.test"
reply_to = "help@example.test"
bcc_archive = "archive@example.test"
templates_dir = "{ROOT}/config/templates"
[[webhook]]
url = "{hook_url}"
types = {json.dumps(HOOK_TYPES)}
secret_file = "{work}/hook-secret"
"""
    path = os.path.join(work, "retry.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def spool_events(directory):
    events = []
    for sub in ("new", "cur"):
        d = os.path.join(directory, sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, name)) as f:
                for line in f:
                    try:
                        events.append(json.loads(line))
                    except ValueError:
                        pass
    return events


def start_deliver(config, log, env=None):
    return subprocess.Popen([os.path.join(BIN, "relance-deliver"), "--config", config], stdout=log, stderr=log, env=env)


class NotifyListener:
    """The systemd notify socket: keeps every datagram relance-deliver sends."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.path, self.messages = path, []
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except OSError:
                return

    def wait_for(self, line, after=0, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for i, m in enumerate(self.messages[after:], after):
                if line in m.split("\n"):
                    return i
            time.sleep(0.05)
        fail(f"no {line} from relance-deliver within {timeout} s (got {self.messages[after:][-3:]})")


def settled_journal(db):
    con = sqlite3.connect(db, timeout=10)
    try:
        pending = con.execute("SELECT count(*) FROM notice WHERE state = 'pending'").fetchone()[0]
        sending = con.execute("SELECT count(*) FROM message WHERE state = 'sending'").fetchone()[0]
        hooks = con.execute("SELECT count(*) FROM delivery WHERE state = 'pending'").fetchone()[0]
        return pending + sending + hooks
    finally:
        con.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="relance-deliver-")
    ca, cert, key = make_tls(work)
    controller, port, mailbox = start_smtp(cert, key, mailbox=Mailbox(refuse={REFUSED_RCPT}, delay=0.03))
    receiver = Receiver(b"whsec_relance_test", flaky=5, refuse=())
    receiver.refuse_check = refused_by_receiver
    config = write_config(work, port, receiver.url, ca)
    check = subprocess.run([os.path.join(BIN, "relancectl"), "check-config", config], capture_output=True, text=True)
    if check.returncode != 0:
        fail("relancectl check-config refused the deliverer's tables: " + check.stderr)
    log = open(os.path.join(work, "log"), "w")
    # Phase 1: notices pile up in the deliverer's spool copy while it is not running.
    subprocess.run([os.path.join(BIN, "relanced"), "--config", config, "--time-scale", "43200", "--run-for", "16"],
                   stdout=log, stderr=log, check=True)
    daemon = subprocess.Popen([os.path.join(BIN, "relanced"), "--config", config, "--time-scale", "1"], stdout=log, stderr=log)
    deliver = None
    try:
        for _ in range(100):
            if os.path.exists(os.path.join(work, "relanced.sock")):
                break
            time.sleep(0.1)
        events = spool_events(os.path.join(work, "deliver-spool"))
        settled = {e["subject"] for e in events if e["type"] in ("relance.charge.recovered", "relance.charge.closed")}
        emailable = [e for e in events if e["type"] == "relance.customer.action_required"
                     or (e["type"] == "relance.notice.due" and e["data"]["notice"]["channel"] == "email")]
        with open(os.path.join(work, "deliver-spool", "new", "9999999999999999-9999999999999999.jsonl"), "w") as f:
            f.write("this is not an event\n")
        print(f"spool: {len(events)} events, {len(emailable)} emailable notices, {len(settled)} charges settled")
        if len(emailable) < 50:
            fail("too few notices to test with")
        # Phase 2: deliver, killed at random moments.
        rng = random.Random(7)
        notify = NotifyListener(os.path.join(work, "notify.sock"))
        systemd_env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="2000000")
        deliver = start_deliver(config, log, env=systemd_env)
        for _ in range(args.kills):
            time.sleep(rng.uniform(0.15, 0.6))
            deliver.send_signal(signal.SIGKILL)
            deliver.wait()
            deliver = start_deliver(config, log, env=systemd_env)
        journal = os.path.join(work, "deliver-state", "deliver.sqlite")
        deadline = time.time() + 90
        while time.time() < deadline:
            time.sleep(0.5)
            if os.path.exists(journal) and settled_journal(journal) == 0 and not os.listdir(os.path.join(work, "deliver-spool", "new")):
                break
        else:
            fail("the deliverer did not finish within 90 s")
        status, metrics, _, _ = unix_get(os.path.join(work, "deliver.sock"), "/metrics")
        check_systemd(deliver, notify, config)
        mark = len(notify.messages)
        deliver.send_signal(signal.SIGTERM)
        if deliver.wait(timeout=20) != 0:
            fail("relance-deliver did not exit 0 on SIGTERM")
        notify.wait_for("STOPPING=1", after=mark, timeout=2)
        deliver = None
        check_results(work, journal, mailbox, receiver, events, emailable, settled, args.kills)
        if b'relance_deliver_messages_total{channel="email",outcome="sent"}' not in metrics:
            fail("/metrics lacks the sent emails: " + metrics.decode()[:400])
    finally:
        if deliver:
            deliver.kill()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
        controller.stop()
        receiver.shutdown()
    print("test_deliver: 1 passed, 0 failed")


def check_systemd(deliver, notify, config):
    """READY=1 at start, WATCHDOG=1 while it works, a reload on SIGHUP; a broken file keeps the old configuration."""
    start = notify.wait_for("READY=1")
    notify.wait_for("WATCHDOG=1", after=start)
    deliver.send_signal(signal.SIGHUP)
    reloading = notify.wait_for("RELOADING=1", after=start)
    notify.wait_for("READY=1", after=reloading)
    with open(config) as f:
        good = f.read()
    with open(config, "w") as f:
        f.write(good.replace('server = "smtp://', 'server = "gopher://'))
    try:
        mark = len(notify.messages)
        deliver.send_signal(signal.SIGHUP)
        ready = notify.wait_for("READY=1", after=notify.wait_for("RELOADING=1", after=mark))
        if "reload refused" not in notify.messages[ready]:
            fail("a broken retry.toml was not refused on reload: " + notify.messages[ready])
    finally:
        with open(config, "w") as f:
            f.write(good)
    if deliver.poll() is not None:
        fail("relance-deliver stopped after a refused reload")
    notify.wait_for("WATCHDOG=1", after=len(notify.messages) - 1, timeout=5)


def check_results(work, journal, mailbox, receiver, events, emailable, settled, kills):
    con = sqlite3.connect(journal)
    messages = con.execute("SELECT id, state, kind, customer FROM message").fetchall()
    notices = dict(con.execute("SELECT event_id, state FROM notice").fetchall())
    con.close()
    got = mailbox.snapshot()
    if not got:
        fail("the mailbox is empty")
    if not all(m["tls"] and m["auth"] for m in got):
        fail("a message came without STARTTLS or AUTH")
    by_id = {}
    for m in got:
        if any(t != "archive@example.test" for t in m["to"]):
            by_id.setdefault(m["message_id"].strip("<>"), []).append(m)
    sent = [m for m in messages if m[1] == "sent"]
    missing = [m[0] for m in sent if m[0] not in by_id]
    if missing:
        fail(f"{len(missing)} messages journaled as sent are not in the mailbox: {missing[:3]}")
    duplicates = sum(len(v) - 1 for v in by_id.values())
    if duplicates > kills:
        fail(f"{duplicates} duplicate emails for {kills} kills")
    left = [e["id"] for e in emailable if notices.get(e["id"]) not in ("merged", "skipped", "failed")]
    if left:
        fail(f"{len(left)} notices never handled: {left[:3]}")
    skipped = [i for i, s in notices.items() if s == "skipped"]
    if not skipped:
        fail("no notice was skipped: the scenario did not have a settled charge's notice")
    kinds = {m[0]: m[2] for m in messages}
    for mid, copies in by_id.items():
        if kinds.get(mid) != "dunning":
            continue
        text = copies[0]["raw"].decode(errors="replace")
        import email as mail
        body = "".join(p.get_content() for p in mail.message_from_string(text, policy=mail.policy.default).walk()
                       if p.get_content_type() == "text/plain")
        listed = {w.rstrip(":,") for w in body.split() if w.startswith("in_")}
        wrong = listed & settled
        if wrong:
            fail(f"reminder {mid} lists charges settled before it was composed: {sorted(wrong)}")
    failed_dir = os.path.join(work, "deliver-spool", "failed")
    failed = {n: open(os.path.join(failed_dir, n)).read() for n in os.listdir(failed_dir)}
    refused_mail = [m for m in messages if m[1] == "failed"]
    if not any("550" in t for t in failed.values()) and any(m[3] == "cus_sbx_7" for m in messages):
        fail("the refused recipient's message is not in failed/ with its 550")
    if not any(n.startswith("9999999999999999-9999999999999999.jsonl.line1") and "malformed_event" in t for n, t in failed.items()):
        fail("the malformed line is not in failed/ with its reason")
    if not os.path.exists(os.path.join(work, "deliver-spool", "cur", "9999999999999999-9999999999999999.jsonl")):
        fail("the malformed file did not move on to cur/")
    for name, text in failed.items():
        if not text.startswith("reason: "):
            fail(f"failed/{name} has no reason line")
        if "550" not in text and "malformed" not in text and "HTTP 400" not in text:
            fail(f"failed/{name} for an unexpected reason: {text.splitlines()[0]}")
    # Webhooks: every event of the types, signed, in order per subject; the refused ones in failed/.
    if receiver.bad:
        fail(f"{len(receiver.bad)} webhook posts with a bad signature")
    wanted = [e for e in events if e["type"] in HOOK_TYPES]
    received = {r[0] for r in receiver.received}
    for e in wanted:
        if refused_by_receiver(e["id"]):
            if e["id"] in received or not any(n.startswith(e["id"].replace(":", "_")) for n in failed):
                fail(f"refused event {e['id']} not in failed/")
        elif e["id"] not in received:
            fail(f"webhook never got {e['id']}")
    order = {}
    for event_id, subject, _, _ in receiver.received:
        n = int(event_id.rsplit(":", 1)[1])
        if n < order.get(subject, 0):
            fail(f"events of {subject} out of order at {event_id}")
        order[subject] = max(order.get(subject, 0), n)
    print(f"mailbox: {len(got)} messages ({len(sent)} sent, {len(refused_mail)} refused, {duplicates} duplicates after {kills} kills), "
          f"{len(skipped)} notices skipped as settled; webhooks: {len(received)} events, {sum(1 for e in wanted if refused_by_receiver(e['id']))} refused")


if __name__ == "__main__":
    main()
