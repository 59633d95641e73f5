#!/usr/bin/env python3
"""A whole dunning cycle: relanced with the Stripe adapter, against the Stripe-shaped fixture server.

The fixture holds a seeded population of open invoices whose first payment failed, and keeps
failing new ones while the run goes on. relanced runs with a time scale (virtual days pass in
seconds); during the run, some invoices are paid and voided out of band and some subscriptions
cancelled, so the guard has something to catch. Afterwards, the fixture's own records must show:
no invoice charged twice, no attempt on a closed invoice or a cancelled subscription, every
idempotency key used for at most one charge, the request rate kept under the configured limit,
and recoveries; the spool must hold the events.

Usage: python3 scripts/peers/test_stripe_e2e.py [-v]   (RELANCE_BIN: folder of relanced; default .build/debug)
"""

import glob
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

from peerlib import call, start_fixture, write_stripe_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("RELANCE_BIN", os.path.join(ROOT, ".build", "debug"))
KEY = "sk_test_e2e_8d41c0"
RPS = 40


class StripeEndToEnd(unittest.TestCase):
    def test_dunning_cycle_against_the_fixture(self):
        work = tempfile.mkdtemp(prefix="relance-e2e-")
        fixture, base = start_fixture(KEY, "--seed", "11", "--customers", "40", "--invoices", "80", "--failure-rate", "1",
                                      stderr=open(os.path.join(work, "fixture.log"), "wb"))
        try:
            config = write_stripe_config(
                work, base, KEY,
                daemon={"poll_interval": "2h", "time_scale": 20000, "spool_batch_ms": 100},
                provider={"requests_per_second": RPS, "request_timeout": "10s"})
            log = open(os.path.join(work, "relanced.log"), "wb")
            daemon = subprocess.Popen([os.path.join(BIN, "relanced"), "--config", config, "--run-for", "45"],
                                      stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            # Meanwhile, the billing system settles some invoices itself and customers leave.
            time.sleep(8)
            status_doc = os.path.join(work, "status.json")
            subprocess.run([os.path.join(BIN, "relancectl"), "status", "--socket", os.path.join(work, "run", "relanced.sock"), "--json"],
                           stdout=open(status_doc, "wb"), timeout=30, check=True)
            open_invoices = call(base, "GET", "/v1/invoices?status=open&collection_method=charge_automatically&limit=30", key=KEY)["data"]
            self.assertGreater(len(open_invoices), 10)
            for inv in open_invoices[:3]:
                call(base, "POST", "/_fixture/invoices/%s/pay_out_of_band" % inv["id"], {})
            for inv in open_invoices[3:5]:
                call(base, "POST", "/_fixture/invoices/%s/void" % inv["id"], {})
            for inv in open_invoices[5:8]:
                if inv.get("subscription"):
                    call(base, "POST", "/_fixture/subscriptions/%s/cancel" % inv["subscription"], {})
            self.assertEqual(daemon.wait(timeout=120), 0, open(os.path.join(work, "relanced.log")).read()[-3000:])
            out = open(os.path.join(work, "relanced.log")).read()

            records = call(base, "GET", "/_fixture/records")
            audit = records["audit"]
            attempts = [a for a in records["attempts"] if a["outcome"] != "replayed"]
            self.assertEqual(audit["double_charges"], 0, audit)
            self.assertEqual(audit["attempts_on_closed"], 0, audit)
            self.assertEqual(audit["idempotency_conflicts"], 0, audit)
            keys = [a["idempotency_key"] for a in attempts]
            self.assertEqual(len(keys), len(set(keys)), "an idempotency key charged twice")
            self.assertTrue(all(k and k.startswith("rl_") for k in keys), keys[:5])
            self.assertGreater(len(attempts), 20, "too few attempts: %d\n%s" % (len(attempts), out[-2000:]))
            self.assertGreater(sum(1 for a in attempts if a["outcome"] == "succeeded"), 3)
            # The token bucket holds the rate (a burst of one second's tokens on top at most).
            self.assertLessEqual(audit["max_requests_per_second"], 2 * RPS, audit)

            events = []
            for name in glob.glob(os.path.join(work, "spool", "new", "*")):
                with open(name) as f:
                    events += [json.loads(line) for line in f if line.strip()]
            types = {e["type"] for e in events}
            for t in ("relance.charge.ingested", "relance.attempt.scheduled", "relance.attempt.failed",
                      "relance.attempt.succeeded", "relance.charge.recovered", "relance.charge.closed"):
                self.assertIn(t, types)
            self.assertEqual(len({e["id"] for e in events}), len(events), "duplicate event ids")
            # Every attempt the fixture charged is one the daemon recorded as succeeded.
            succeeded = {e["subject"] for e in events if e["type"] == "relance.attempt.succeeded"}
            charged = {a["invoice"] for a in attempts if a["outcome"] == "succeeded"}
            self.assertEqual(charged, succeeded)
            # Neither the key nor anything like a card number reaches the log, the spool or the status document.
            scan = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "peers", "scan_secrets.py"), "--key", KEY,
                                   os.path.join(work, "relanced.log"), os.path.join(work, "spool"), status_doc],
                                  capture_output=True, text=True)
            self.assertEqual(scan.returncode, 0, scan.stdout)
            print(scan.stdout.strip(), file=sys.stderr)
            print("stripe-e2e: requests=%d attempts=%d succeeded=%d declined=%d replays=%d events=%d closed=%d max_rps=%d"
                  % (records["requests"], len(attempts), sum(1 for a in attempts if a["outcome"] == "succeeded"),
                     sum(1 for a in attempts if a["outcome"] == "declined"),
                     sum(1 for a in records["attempts"] if a["outcome"] == "replayed"), len(events),
                     sum(1 for e in events if e["type"] == "relance.charge.closed"), audit["max_requests_per_second"]),
                  file=sys.stderr)
        finally:
            fixture.terminate()
            fixture.wait()
            subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    unittest.main()
