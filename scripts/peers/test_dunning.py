"""The dunning lifecycle end to end: relanced over Stripe against the fixture server, on loopback.

Each scenario is written out in its test: a customer and a failed invoice put in the fixture, the
world acting outside Relance (the invoice paid on the hosted page, a card attached), and what the
spool must then say. The fixture's own records judge what was charged.

- an invoice paid elsewhere while its charge waits: the next event is relance.charge.closed with
  status paid (or uncollectible), and no notice or exhaustion follows it;
- an expired card, relance.customer.action_required, then a new card attached by the customer:
  relance.attempt.succeeded within 5 virtual minutes of the attach, reason method_updated.

Usage: .venv/bin/python scripts/peers/test_dunning.py [-v]   (RELANCE_BIN, RELANCE_KEEP as in test_faults_daemon.py)
"""

import os
import time
import unittest

from test_faults_daemon import Stack, wait_for


def scenario(cid, decline, card_outcomes=("succeed",), exp_year=2031):
    return {
        "customer": {"id": cid, "country": "FR", "subscription_id": "sub_" + cid, "metadata": {"time_zone": "Europe/Paris"},
                     "default_method": "pm_" + cid},
        "methods": [{"id": "pm_" + cid, "type": "card", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": exp_year,
                     "fingerprint": "fp_" + cid, "outcomes": list(card_outcomes)}],
        "invoice": {"id": "in_" + cid, "amount_due": 4900, "currency": "eur", "decline": dict(decline, payment_method="pm_" + cid)},
    }


class DunningTests(unittest.TestCase):
    def stack(self, name, seed, **kw):
        # No new failing invoice of the generated world: only the scenarios written out here fail.
        s = Stack(name, seed, invoices=0, rate=0.0, **kw)
        self.addCleanup(s.close)
        return s

    def charge_events(self, s, charge):
        return [e for e in s.events() if e["subject"] == charge]

    def test_an_invoice_settled_elsewhere_ends_closed_with_nothing_after(self):
        # 1 virtual day = 0.9 s: the first retry of an insufficient-funds decline is days away.
        s = self.stack("settled", 51, scale=100000)
        s.start()
        for cid, decline in (("paid1", {"decline_code": "insufficient_funds"}), ("gone1", {"decline_code": "insufficient_funds"})):
            s.api("POST", "/_fixture/scenario", scenario(cid, decline))
        wait_for(lambda: s.alive() and all(any(e["type"] == "relance.attempt.scheduled" for e in self.charge_events(s, "in_" + c))
                                            for c in ("paid1", "gone1")), 30, "both charges planned")
        # The customer pays on the hosted page (out of band); the billing system writes the other off.
        s.api("POST", "/_fixture/invoices/in_paid1/pay_out_of_band", {})
        s.api("POST", "/_fixture/invoices/in_gone1/mark_uncollectible", {})
        for charge, status in (("in_paid1", "paid"), ("in_gone1", "uncollectible")):
            wait_for(lambda: s.alive() and any(e["type"] == "relance.charge.closed" for e in self.charge_events(s, charge)), 30,
                     "%s closed" % charge)
        # Long enough for every notice (25 days) and the span (about 35 days) to have come.
        time.sleep(45 * 86400 / s.scale)
        s.stop()
        for charge, status in (("in_paid1", "paid"), ("in_gone1", "uncollectible")):
            events = self.charge_events(s, charge)
            closed = [i for i, e in enumerate(events) if e["type"] == "relance.charge.closed"]
            self.assertEqual(len(closed), 1, [e["type"] for e in events])
            self.assertEqual(events[closed[0]]["data"]["status"], status)
            after = [e["type"] for e in events[closed[0] + 1:]]
            self.assertEqual(after, [], "events after the charge closed")
            self.assertNotIn("relance.charge.exhausted", [e["type"] for e in events])
        records = s.records()
        self.assertEqual([a for a in records["attempts"] if a["invoice"] in ("in_paid1", "in_gone1")], [], "a pay on a settled invoice")

    def test_a_card_attached_after_action_required_is_tried_within_five_minutes(self):
        # At 60x with a one-minute poll: 5 virtual minutes are 5 s of wall time.
        s = self.stack("attach", 52, scale=60, poll="1m", daemon=os.environ.get("RELANCE_DAEMON_EXTRA", ""))
        s.start()
        s.api("POST", "/_fixture/scenario", scenario("exp1", {"code": "expired_card", "decline_code": "expired_card"}, exp_year=2024))
        wait_for(lambda: s.alive() and any(e["type"] == "relance.customer.action_required" for e in self.charge_events(s, "in_exp1")), 30,
                 "action_required for the expired card")
        attached_at = time.time()
        s.api("POST", "/_fixture/customers/exp1/payment_methods",
              {"id": "pm_new1", "brand": "mastercard", "exp_month": 4, "exp_year": 2031, "default": True, "outcomes": ["succeed"]})
        wait_for(lambda: s.alive() and [e for e in self.charge_events(s, "in_exp1") if e["type"] == "relance.attempt.succeeded"], 30,
                 "the new card charged")
        s.stop()
        events = self.charge_events(s, "in_exp1")
        scheduled = [e for e in events if e["type"] == "relance.attempt.scheduled"]
        self.assertTrue(scheduled and scheduled[-1]["data"]["reason"] == "method_updated", [e["data"].get("reason") for e in scheduled])
        self.assertEqual(scheduled[-1]["data"]["method"]["token"], "pm_new1")
        charged = [a for a in s.records()["attempts"] if a["invoice"] == "in_exp1" and a["outcome"] == "succeeded"]
        self.assertEqual(len(charged), 1)
        # Counted on the fixture's side, from the attach to the payment, in wall seconds times the scale.
        late = (charged[0]["time"] - attached_at) * s.scale
        self.assertLessEqual(late, 300, "the new card was charged %d virtual seconds after it was attached" % late)
        print("dunning: the new card was charged %d virtual seconds after it was attached" % late)


if __name__ == "__main__":
    unittest.main()
