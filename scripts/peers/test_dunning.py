"""The dunning lifecycle end to end: relanced over Stripe against the fixture server, on loopback.

Each scenario is written out in its test: a customer and a failed invoice put in the fixture, the
world acting outside Relance (the invoice paid on the hosted page, a card attached), and what the
spool must then say. The fixture's own records judge what was charged.

- an invoice paid elsewhere while its charge waits: the next event is relance.charge.closed with
  status paid (or uncollectible), and no notice or exhaustion follows it;
- an expired card, relance.customer.action_required, then a new card attached by the customer:
  relance.attempt.succeeded within 5 virtual minutes of the attach, reason method_updated;
- a customer with three failed charges: one notice per level, covering the three, never between
  22:00 and 07:00 in the customer's zone;
- retries over before day 25: the formal notice still goes out, unless the invoice was paid since;
- a segment with its own notice ladder and locale;
- a hold, then a release, through relancectl and the admin socket: no attempt and no notice between
  them, a new plan after; a promise attempted on its day;
- a dispute on the customer's payment holds their charges; won, it releases them;
- a reload (SIGHUP) that shortens the ladder moves the planned attempts earlier (policy_reloaded).
Every event of every scenario is checked against docs/events.schema.json.

Usage: .venv/bin/python scripts/peers/test_dunning.py [-v]   (RELANCE_BIN, RELANCE_KEEP as in test_faults_daemon.py)
"""

import datetime
import os
import signal
import subprocess
import time
import zoneinfo
import unittest

from check_events import problems
from test_faults_daemon import BIN, Stack, wait_for

DAY = 86400


def scenario(cid, decline, card_outcomes=("succeed",), exp_year=2031, invoices=1, metadata=None):
    """A customer in Paris with one Visa card answering `card_outcomes` in turn, and `invoices` failed invoices."""
    return {
        "customer": {"id": cid, "country": "FR", "subscription_id": "sub_" + cid, "email": cid + "@example.test",
                     "metadata": dict({"time_zone": "Europe/Paris"}, **(metadata or {})), "default_method": "pm_" + cid},
        "methods": [{"id": "pm_" + cid, "type": "card", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": exp_year,
                     "fingerprint": "fp_" + cid, "outcomes": list(card_outcomes)}],
        "invoices": [{"id": "in_" + cid + ("" if n == 0 else "_%d" % n), "amount_due": 4900 + 100 * n, "currency": "eur",
                      "decline": dict(decline, payment_method="pm_" + cid)} for n in range(invoices)],
    }


def paris_hour(rfc3339):
    """The hour in Paris of an RFC 3339 UTC time."""
    at = datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    return at.astimezone(zoneinfo.ZoneInfo("Europe/Paris")).hour


def rfc3339_seconds(rfc3339):
    """Epoch seconds of an RFC 3339 UTC time."""
    return datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()


SOFT = {"decline_code": "insufficient_funds"}


class DunningTests(unittest.TestCase):
    def stack(self, name, seed, **kw):
        # No new failing invoice of the generated world: only the scenarios written out here fail.
        s = Stack(name, seed, invoices=0, rate=0.0, **kw)
        self.addCleanup(s.close)
        return s

    def charge_events(self, s, charge):
        return [e for e in s.events() if e["subject"] == charge]

    def assert_schema(self, s):
        found = problems(s.events())
        self.assertEqual(found[:5], [], "%d events not as docs/events.schema.json says" % len(found))

    def notices(self, s, customer):
        return [e for e in s.events() if e["type"] == "relance.notice.due" and e["data"]["customer"] == customer]

    def test_one_notice_per_level_for_a_customer_with_three_charges_never_at_night(self):
        s = self.stack("three", 53)
        s.start()
        s.api("POST", "/_fixture/scenario", scenario("multi1", SOFT, card_outcomes=[SOFT] * 30, invoices=3))
        # The reminder is due a day after the failure, on the customer's calendar; the second at 7 days.
        wait_for(lambda: s.alive() and len(self.notices(s, "multi1")) >= 2, 60, "two notice levels for multi1")
        s.stop()
        notices = self.notices(s, "multi1")
        levels = [n["data"]["notice"]["level"] for n in notices]
        self.assertEqual(len(levels), len(set(levels)), "a level sent twice to one customer: %s" % levels)
        first = notices[0]["data"]
        self.assertEqual(sorted(c["id"] for c in first["charges"]), ["in_multi1", "in_multi1_1", "in_multi1_2"])
        self.assertEqual(first["totals"], [{"currency": "EUR", "amount": 4900 + 5000 + 5100}])
        self.assertEqual(first["contact"]["email"], "multi1@example.test")
        self.assertTrue(first["payment_url"].startswith("https://"), first)
        for n in notices:
            due = n["data"]["notice"]["due_at"]
            hour = paris_hour(due)
            self.assertTrue(7 <= hour < 22, "a notice due at %s, %dh in Paris" % (due, hour))
            # Sent at its due time: within an hour of the daemon's clock, which at this scale is a
            # fifth of a second of wall time (a busy machine delays a wake by tens of milliseconds).
            late = rfc3339_seconds(n["time"]) - rfc3339_seconds(due)
            self.assertTrue(0 <= late <= 3600, "a notice due at %s sent at %s" % (due, n["time"]))
        self.assert_schema(s)

    def test_the_formal_notice_after_exhaustion_unless_paid(self):
        # 25 days are 22 s here. A lost card is never retried, and the customer never adds another:
        # both charges wait for them until max_span (10 days here), then end exhausted.
        s = self.stack("formal", 54, scale=100000, provider='[[segment]]\nname = "default"\nmax_span = "10d"')
        s.start()
        lost = {"decline_code": "lost_card"}
        s.api("POST", "/_fixture/scenario", scenario("lost1", lost))
        s.api("POST", "/_fixture/scenario", scenario("lost2", lost))
        wait_for(lambda: s.alive() and all(any(e["type"] == "relance.charge.exhausted" for e in self.charge_events(s, "in_" + c))
                                            for c in ("lost1", "lost2")), 30, "both exhausted")
        self.assertEqual([n["data"]["notice"]["level"] for n in self.notices(s, "lost1")], ["reminder", "second_reminder"])
        # The second customer pays on the hosted page before day 25.
        s.api("POST", "/_fixture/invoices/in_lost2/pay_out_of_band", {})
        wait_for(lambda: s.alive() and any(n["data"]["notice"]["level"] == "formal_notice" for n in self.notices(s, "lost1")), 60,
                 "the formal notice of lost1")
        time.sleep(4 * DAY / s.scale)
        s.stop()
        formal = [n for n in self.notices(s, "lost1") if n["data"]["notice"]["level"] == "formal_notice"]
        self.assertEqual(len(formal), 1)
        self.assertTrue(formal[0]["data"]["notice"]["after_exhausted"])
        self.assertEqual([n["data"]["notice"]["level"] for n in self.notices(s, "lost2") if n["data"]["notice"]["level"] == "formal_notice"], [])
        self.assertIn("relance.charge.closed", [e["type"] for e in self.charge_events(s, "in_lost2")])
        self.assert_schema(s)

    def ctl(self, s, *args):
        """relancectl on the stack's admin socket; its output, failing the test when it fails."""
        r = subprocess.run([os.path.join(BIN, "relancectl")] + list(args) + ["--socket", s.admin], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, "relancectl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r.stdout

    def test_a_hold_then_a_release_and_a_promise(self):
        # 1 virtual day = 0.9 s.
        s = self.stack("hold", 56, scale=100000)
        s.start()
        s.api("POST", "/_fixture/scenario", scenario("hold1", SOFT, card_outcomes=[SOFT] * 30))
        s.api("POST", "/_fixture/scenario", scenario("prom1", SOFT, card_outcomes=["succeed"]))
        wait_for(lambda: s.alive() and all(any(e["type"] == "relance.attempt.scheduled" for e in self.charge_events(s, c))
                                            for c in ("in_hold1", "in_prom1")), 30, "both planned")
        self.assertIn("done: in_hold1", self.ctl(s, "hold", "in_hold1", "--reason", "payment plan agreed by phone"))
        # Idempotent: the same hold again changes nothing.
        self.assertIn("already so: in_hold1", self.ctl(s, "hold", "in_hold1", "--reason", "payment plan agreed by phone"))
        # Promised for the day after tomorrow, in the customer's zone (the daemon's clock is the fixture's).
        virtual = datetime.datetime.fromtimestamp(s.api("GET", "/_fixture/clock")["now"], zoneinfo.ZoneInfo("Europe/Paris"))
        day = (virtual + datetime.timedelta(days=2)).strftime("%Y-%m-%d")
        self.ctl(s, "promise", "in_prom1", "--on", day)
        status = subprocess.run([os.path.join(BIN, "relancectl"), "status", "--socket", s.sock], capture_output=True, text=True).stdout
        self.assertIn("payment plan agreed by phone", status)
        paid_before = len([a for a in s.executed() if a["invoice"] == "in_hold1"])
        time.sleep(12 * DAY / s.scale)   # the ladder's next steps and the first notices fall in here
        paid_during = len([a for a in s.executed() if a["invoice"] == "in_hold1"])
        self.ctl(s, "release", "in_hold1")
        wait_for(lambda: s.alive() and any(e["type"] == "relance.attempt.scheduled" and e["data"]["reason"] == "promised"
                                           for e in self.charge_events(s, "in_prom1")), 30, "the promised attempt")
        wait_for(lambda: s.alive() and any(e["type"] == "relance.attempt.succeeded" for e in self.charge_events(s, "in_prom1")), 30,
                 "the promise kept")
        s.stop()
        self.assertEqual(paid_during, paid_before, "attempts while held")
        events = self.charge_events(s, "in_hold1")
        types = [e["type"] for e in events]
        held, released = types.index("relance.charge.held"), types.index("relance.charge.released")
        self.assertEqual(types.count("relance.charge.held"), 1)
        self.assertEqual([t for t in types[held + 1:released] if t in ("relance.notice.due", "relance.attempt.scheduled")], [])
        self.assertIn("relance.attempt.scheduled", types[released + 1:], "no new plan after the release")
        self.assertGreaterEqual(events[released]["data"]["held_seconds"], 10 * DAY)
        promised = next(e for e in self.charge_events(s, "in_prom1") if e["data"].get("reason") == "promised")
        self.assertEqual(promised["time"][:10], datetime.datetime.fromisoformat(promised["time"].replace("Z", "+00:00")).strftime("%Y-%m-%d"))
        self.assertTrue(7 <= paris_hour(promised["time"]) < 22, promised["time"])
        self.assert_schema(s)

    def test_a_dispute_holds_the_customers_charges(self):
        s = self.stack("dispute", 57, scale=100000)
        s.start()
        case = scenario("disp1", SOFT, card_outcomes=[SOFT] * 30, invoices=2)
        case["paid_invoices"] = [{"id": "in_disp1_paid", "amount_due": 2500}]
        s.api("POST", "/_fixture/scenario", case)
        wait_for(lambda: s.alive() and any(e["type"] == "relance.attempt.scheduled" for e in self.charge_events(s, "in_disp1")), 30, "planned")
        dispute = s.api("POST", "/_fixture/customers/disp1/dispute", {"reason": "fraudulent"})
        wait_for(lambda: s.alive() and all(any(e["type"] == "relance.charge.held" for e in self.charge_events(s, c))
                                            for c in ("in_disp1", "in_disp1_1")), 30, "both charges held")
        held = [e for e in self.charge_events(s, "in_disp1") if e["type"] == "relance.charge.held"][0]
        self.assertEqual((held["data"]["reason"], held["data"]["scope"]), ("dispute", "customer"))
        paid_before = len([a for a in s.executed() if a["invoice"].startswith("in_disp1")])
        time.sleep(6 * DAY / s.scale)
        self.assertEqual(len([a for a in s.executed() if a["invoice"].startswith("in_disp1")]), paid_before, "attempts during the dispute")
        dispute_id = (dispute.get("dispute") or dispute)["id"]
        s.api("POST", "/_fixture/disputes/%s/close" % dispute_id, {"status": "won"})
        wait_for(lambda: s.alive() and all(any(e["type"] == "relance.charge.released" for e in self.charge_events(s, c))
                                            for c in ("in_disp1", "in_disp1_1")), 30, "both released once won")
        s.stop()
        self.assert_schema(s)

    def test_a_reload_that_shortens_the_ladder_moves_the_planned_times(self):
        # At 2000x a day is 43 s: the first retry of an insufficient-funds decline is a day or more away.
        s = self.stack("reload", 58, scale=2000, poll="10m")
        s.start()
        s.api("POST", "/_fixture/scenario", scenario("rel1", SOFT, card_outcomes=[SOFT] * 30))
        first = wait_for(lambda: s.alive() and [e for e in self.charge_events(s, "in_rel1") if e["type"] == "relance.attempt.scheduled"], 30,
                         "the charge planned")[0]
        with open(os.path.join(s.work, "retry.toml"), "a") as f:
            f.write('\n[[segment]]\nname = "default"\n[segment.retry_later]\nladder = ["2h"]\n')
        s.proc.send_signal(signal.SIGHUP)
        moved = wait_for(lambda: s.alive() and [e for e in self.charge_events(s, "in_rel1")
                                                if e["type"] == "relance.attempt.scheduled" and e["data"]["reason"] == "policy_reloaded"], 30,
                         "the plan moved by the reload")[0]
        s.stop()
        self.assertLess(moved["data"]["scheduled_at"], first["data"]["scheduled_at"])
        self.assert_schema(s)

    def test_a_segment_with_its_own_ladder_and_locale(self):
        segments = "\n".join([
            '[[segment]]', 'name = "gold"', 'priority = 10', '[segment.match]', 'tiers = ["gold"]',
            '[segment.notices]', '[[segment.notices.level]]', 'name = "courtesy_call"', 'after = "2d"', 'tone = "helpful"',
            'channel = "phone"', 'template = "gold_call"', 'locale = "fr-FR"',
            '[[segment]]', 'name = "default"', 'priority = 0'])
        s = self.stack("segment", 55, provider=segments)
        s.start()
        s.api("POST", "/_fixture/scenario", scenario("gold1", SOFT, card_outcomes=[SOFT] * 30, metadata={"tier": "gold"}))
        s.api("POST", "/_fixture/scenario", scenario("plain1", SOFT, card_outcomes=[SOFT] * 30))
        wait_for(lambda: s.alive() and self.notices(s, "gold1") and self.notices(s, "plain1"), 60, "a notice for each customer")
        s.stop()
        gold = self.notices(s, "gold1")[0]["data"]
        self.assertEqual((gold["notice"]["level"], gold["notice"]["template"], gold["notice"]["locale"], gold["notice"]["channel"], gold["segment"]),
                         ("courtesy_call", "gold_call", "fr-FR", "phone", "gold"))
        plain = self.notices(s, "plain1")[0]["data"]
        self.assertEqual((plain["notice"]["level"], plain["segment"]), ("reminder", "default"))
        self.assert_schema(s)

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
