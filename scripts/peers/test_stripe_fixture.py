#!/usr/bin/env python3
"""Tests of the Stripe-shaped fixture server (stdlib unittest + urllib).

Run from the repository root:
    python3 scripts/peers/test_stripe_fixture.py -v
"""

import http.client
import json
import socket
import subprocess
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from peerlib import start_fixture

KEY = "sk_test_fixture"


class Peer:
    def __init__(self, *args):
        self.proc, self.base = start_fixture(KEY, *args)
        self.port = int(self.base.rsplit(":", 1)[1])

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc.stdout.close()

    def call(self, method, path, params=None, headers=None, key=KEY, timeout=10):
        data = None
        url = self.base + path
        if params is not None and method == "GET":
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        elif params is not None:
            data = urllib.parse.urlencode(params).encode()
        h = {"Stripe-Version": "2024-12-18.acacia"}
        if data is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if key is not None:
            h["Authorization"] = "Bearer " + key
        h.update(headers or {})
        req = urllib.request.Request(url, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def j(self, method, path, params=None, headers=None, key=KEY):
        st, h, b = self.call(method, path, params, headers, key)
        return st, json.loads(b)

    def control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + "/_fixture/" + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def pay(self, inv, pm, key=None, extra=None):
        params = {"payment_method": pm, "off_session": "true"}
        params.update(extra or {})
        headers = {"Idempotency-Key": key} if key else {}
        return self.call("POST", "/v1/invoices/%s/pay" % inv, params, headers)


def scenario(n, outcomes, decline=None, brand="visa", **cust):
    c = {"id": "cus_s%d" % n, "country": "FR",
         "metadata": {"tier": "gold", "tags": "b2b,annual", "time_zone": "Europe/Paris"},
         "subscription_status": "past_due"}
    c.update(cust)
    return {
        "customer": c,
        "methods": [
            {"id": "pm_s%d_a" % n, "type": "card", "brand": brand, "last4": "4242",
             "exp_month": 12, "exp_year": 2031, "fingerprint": "Xt5EWLLDS7FJjR%02d" % n,
             "outcomes": outcomes},
            {"id": "pm_s%d_b" % n, "type": "sepa_debit", "last4": "3000", "country": "DE",
             "outcomes": ["succeed"]},
        ],
        "invoice": {"id": "in_s%d" % n, "amount_due": 1999, "currency": "eur",
                    "decline": decline or {"code": "card_declined", "decline_code": "insufficient_funds",
                                           "advice_code": "try_again_later",
                                           "network_decline_code": "51",
                                           "payment_method": "pm_s%d_a" % n}},
    }


class FixtureTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.p = Peer("--seed", "7", "--customers", "30", "--invoices", "80")

    @classmethod
    def tearDownClass(cls):
        cls.p.stop()

    def setUp(self):
        self.p.control("DELETE", "faults")

    # ---------------------------------------------------------------- auth
    def test_auth(self):
        st, h, b = self.p.call("GET", "/v1/invoices", {"limit": 1}, key="sk_test_wrong_secret_xyz")
        self.assertEqual(st, 401)
        err = json.loads(b)["error"]
        self.assertEqual(err["type"], "invalid_request_error")
        self.assertTrue(err["message"].startswith("Invalid API Key provided: sk_test_"))
        self.assertNotIn("sk_test_wrong_secret_xyz", err["message"])
        self.assertTrue(err["message"].endswith("_xyz"))
        self.assertTrue(h["Request-Id"].startswith("req_"))
        st, h, b = self.p.call("GET", "/v1/invoices", {"limit": 1}, key=None)
        self.assertEqual(st, 401)
        st, h, b = self.p.call("GET", "/v1/invoices", {"limit": 1})
        self.assertEqual(st, 200)
        self.assertEqual(h["Content-Type"], "application/json")
        self.assertTrue(h["Request-Id"].startswith("req_"))

    def test_unknown_route_and_object(self):
        st, body = self.p.j("GET", "/v1/nothing")
        self.assertEqual(st, 404)
        self.assertIn("Unrecognized request URL", body["error"]["message"])
        st, body = self.p.j("GET", "/v1/invoices/in_missing")
        self.assertEqual(st, 404)
        self.assertEqual(body["error"]["code"], "resource_missing")
        self.assertEqual(body["error"]["message"], "No such invoice: 'in_missing'")
        st, body = self.p.j("GET", "/v1/invoices", {"bogus": "1"})
        self.assertEqual(st, 400)
        self.assertEqual(body["error"]["code"], "parameter_unknown")
        st, body = self.p.j("GET", "/v1/invoices", {"limit": "500"})
        self.assertEqual(st, 400)
        st, body = self.p.j("GET", "/v1/invoices", {"limit": "x"})
        self.assertEqual(st, 400)

    # ---------------------------------------------------------------- lists
    def test_events_list(self):
        st, page = self.p.j("GET", "/v1/events", {"type": "invoice.payment_failed", "limit": 10})
        self.assertEqual(st, 200)
        self.assertEqual(page["object"], "list")
        self.assertEqual(page["url"], "/v1/events")
        self.assertTrue(page["has_more"])
        self.assertEqual(len(page["data"]), 10)
        ev = page["data"][0]
        self.assertTrue(ev["id"].startswith("evt_"))
        self.assertEqual(ev["object"], "event")
        self.assertEqual(ev["api_version"], "2024-12-18.acacia")
        self.assertEqual(ev["data"]["object"]["object"], "invoice")
        created = [e["created"] for e in page["data"]]
        self.assertEqual(created, sorted(created, reverse=True))
        # Walk all pages with starting_after.
        seen, after = [], None
        while True:
            params = {"type": "invoice.payment_failed", "limit": 25}
            if after:
                params["starting_after"] = after
            st, page = self.p.j("GET", "/v1/events", params)
            self.assertEqual(st, 200)
            seen += page["data"]
            if not page["has_more"]:
                break
            after = page["data"][-1]["id"]
        self.assertEqual(len(seen), len({e["id"] for e in seen}))
        self.assertGreaterEqual(len(seen), 80)
        # created[gte]
        t = seen[10]["created"]
        st, page = self.p.j("GET", "/v1/events", {"type": "invoice.payment_failed", "limit": 100,
                                                  "created[gte]": t})
        self.assertTrue(all(e["created"] >= t for e in page["data"]))
        self.assertGreaterEqual(len(page["data"]), 11)
        st, body = self.p.j("GET", "/v1/events", {"starting_after": "evt_nope"})
        self.assertEqual(st, 404)

    def test_invoice_list_and_objects(self):
        st, page = self.p.j("GET", "/v1/invoices", {"status": "open", "collection_method": "charge_automatically",
                                                    "limit": 100})
        self.assertEqual(st, 200)
        self.assertTrue(page["data"])
        inv = page["data"][0]
        for k in ("id", "object", "customer", "subscription", "amount_due", "amount_paid", "amount_remaining",
                  "currency", "status", "collection_method", "attempt_count", "attempted", "payment_intent",
                  "created", "next_payment_attempt", "livemode", "metadata"):
            self.assertIn(k, inv)
        self.assertTrue(all(i["status"] == "open" for i in page["data"]))
        created = [i["created"] for i in page["data"]]
        self.assertEqual(created, sorted(created, reverse=True))
        st, page2 = self.p.j("GET", "/v1/invoices", {"status": "open", "limit": 5,
                                                     "starting_after": page["data"][4]["id"]})
        self.assertEqual([i["id"] for i in page2["data"]], [i["id"] for i in page["data"][5:10]])

        st, pi = self.p.j("GET", "/v1/payment_intents/" + inv["payment_intent"])
        self.assertEqual(st, 200)
        self.assertEqual(pi["object"], "payment_intent")
        self.assertEqual(pi["invoice"], inv["id"])
        self.assertEqual(pi["status"], "requires_payment_method")
        lpe = pi["last_payment_error"]
        self.assertEqual(lpe["type"], "card_error")
        for k in ("code", "decline_code", "advice_code", "network_advice_code", "network_decline_code",
                  "message", "payment_method"):
            self.assertIn(k, lpe)
        self.assertEqual(lpe["payment_method"]["object"], "payment_method")

        st, cus = self.p.j("GET", "/v1/customers/" + inv["customer"])
        self.assertEqual(st, 200)
        self.assertEqual(cus["object"], "customer")
        self.assertIn("tier", cus["metadata"])
        self.assertIn("time_zone", cus["metadata"])
        self.assertTrue(cus["invoice_settings"]["default_payment_method"].startswith("pm_"))

        st, pms = self.p.j("GET", "/v1/customers/%s/payment_methods" % inv["customer"], {"limit": 100})
        self.assertEqual(st, 200)
        self.assertEqual(pms["url"], "/v1/customers/%s/payment_methods" % inv["customer"])
        self.assertTrue(1 <= len(pms["data"]) <= 4)
        for pm in pms["data"]:
            self.assertEqual(pm["customer"], inv["customer"])
            self.assertIn(pm["type"], pm)

        st, sub = self.p.j("GET", "/v1/subscriptions/" + inv["subscription"])
        self.assertEqual(st, 200)
        self.assertEqual(sub["object"], "subscription")
        self.assertIn(sub["status"], ("active", "past_due", "canceled", "unpaid"))

    def test_population_mix(self):
        codes, brands, types, nac, ndc, expired = {}, set(), set(), set(), set(), 0
        custs = set()
        for inv in self.population_invoices(100):
            st, pi = self.p.j("GET", "/v1/payment_intents/" + inv["payment_intent"])
            lpe = pi["last_payment_error"] or {}
            dc = lpe.get("decline_code") or lpe.get("code")
            codes[dc] = codes.get(dc, 0) + 1
            if lpe.get("network_advice_code"):
                nac.add(lpe["network_advice_code"])
            if lpe.get("network_decline_code"):
                ndc.add(lpe["network_decline_code"])
            custs.add(inv["customer"])
        for c in custs:
            st, pms = self.p.j("GET", "/v1/customers/%s/payment_methods" % c, {"limit": 100})
            for pm in pms["data"]:
                types.add(pm["type"])
                if pm["type"] == "card":
                    brands.add(pm["card"]["brand"])
                    if (pm["card"]["exp_year"], pm["card"]["exp_month"]) < time.gmtime()[:2]:
                        expired += 1
        top = sorted(codes, key=codes.get, reverse=True)[:3]
        self.assertIn("insufficient_funds", top)
        self.assertIn("do_not_honor", top)
        self.assertTrue({"visa", "mastercard", "amex"} <= brands, brands)
        self.assertIn("card", types)
        self.assertTrue(types & {"sepa_debit", "us_bank_account"}, types)
        self.assertTrue(ndc, "some Visa network_decline_code expected")
        self.assertTrue(nac, "some Mastercard network_advice_code expected")

    def test_determinism(self):
        other = Peer("--seed", "7", "--customers", "30", "--invoices", "80")
        try:
            a = self.p.j("GET", "/v1/customers/" + self.first_invoice()["customer"])[1]
            b = other.j("GET", "/v1/customers/" + a["id"])[1]
            self.assertEqual(a["id"], b["id"])
            self.assertEqual(a["metadata"], b["metadata"])
            st, ea = other.j("GET", "/v1/events", {"type": "invoice.payment_failed", "limit": 100})
            ids = [e["data"]["object"]["id"] for e in ea["data"]]
            # Every invoice of the twin exists here with the same amount.
            for e in ea["data"][:20]:
                st, inv = self.p.j("GET", "/v1/invoices/" + e["data"]["object"]["id"])
                self.assertEqual(st, 200)
                self.assertEqual(inv["amount_due"], e["data"]["object"]["amount_due"])
            self.assertEqual(len(ids), len(set(ids)))
        finally:
            other.stop()
        third = Peer("--seed", "8", "--customers", "5", "--invoices", "5")
        try:
            st, body = third.j("GET", "/v1/customers/" + a["id"])
            self.assertEqual(st, 404)
        finally:
            third.stop()

    def population_invoices(self, n):
        """Open invoices of the seeded population (scenario ids are short)."""
        page = self.p.j("GET", "/v1/invoices", {"status": "open", "limit": 100})[1]["data"]
        return [i for i in page if len(i["id"]) > 20][:n]

    def first_invoice(self):
        return self.population_invoices(1)[0]

    # ---------------------------------------------------------------- pay
    def test_pay_decline_then_succeed_then_not_open(self):
        st, made = self.p.control("POST", "scenario", scenario(1, [
            {"code": "card_declined", "decline_code": "do_not_honor", "advice_code": "try_again_later",
             "network_advice_code": "24"}, "succeed"], brand="mastercard"))
        self.assertEqual(st, 200, made)
        self.assertEqual(made["invoice"]["status"], "open")
        self.assertEqual(made["invoice"]["attempt_count"], 1)
        self.assertEqual(made["event"]["type"], "invoice.payment_failed")
        st, pi = self.p.j("GET", "/v1/payment_intents/" + made["invoice"]["payment_intent"])
        self.assertEqual(pi["last_payment_error"]["decline_code"], "insufficient_funds")
        self.assertEqual(pi["last_payment_error"]["network_decline_code"], "51")

        st, h, b = self.p.pay("in_s1", "pm_s1_a", "rl_c1_1")
        self.assertEqual(st, 402)
        err = json.loads(b)["error"]
        self.assertEqual(err["type"], "card_error")
        self.assertEqual(err["code"], "card_declined")
        self.assertEqual(err["decline_code"], "do_not_honor")
        self.assertEqual(err["advice_code"], "try_again_later")
        self.assertEqual(err["network_advice_code"], "24")
        self.assertIsNone(err["network_decline_code"])
        self.assertTrue(err["charge"].startswith("ch_"))
        self.assertEqual(err["payment_method"]["id"], "pm_s1_a")
        self.assertEqual(err["payment_intent"]["id"], made["invoice"]["payment_intent"])
        self.assertEqual(err["message"], "Your card was declined.")
        st, inv = self.p.j("GET", "/v1/invoices/in_s1")
        self.assertEqual(inv["attempt_count"], 2)
        self.assertEqual(inv["status"], "open")
        st, pi = self.p.j("GET", "/v1/payment_intents/" + inv["payment_intent"])
        self.assertEqual(pi["last_payment_error"]["decline_code"], "do_not_honor")

        st, h, b = self.p.pay("in_s1", "pm_s1_a", "rl_c1_2")
        self.assertEqual(st, 200, b)
        inv = json.loads(b)
        self.assertEqual(inv["status"], "paid")
        self.assertEqual(inv["amount_paid"], 1999)
        self.assertEqual(inv["amount_remaining"], 0)
        self.assertEqual(inv["attempt_count"], 3)
        self.assertTrue(inv["charge"].startswith("ch_"))
        st, pi = self.p.j("GET", "/v1/payment_intents/" + inv["payment_intent"])
        self.assertEqual(pi["status"], "succeeded")
        self.assertIsNone(pi["last_payment_error"])

        st, h, b = self.p.pay("in_s1", "pm_s1_a", "rl_c1_3")
        self.assertEqual(st, 400)
        err = json.loads(b)["error"]
        self.assertEqual(err, {"type": "invalid_request_error", "message": "Invoice is already paid"})
        st, inv2 = self.p.j("GET", "/v1/invoices/in_s1")
        self.assertEqual(inv2["attempt_count"], 3)

        st, rec = self.p.control("GET", "records")
        mine = [a for a in rec["attempts"] if a["invoice"] == "in_s1"]
        self.assertEqual([a["outcome"] for a in mine], ["declined", "succeeded", "not_open"])
        self.assertEqual(mine[2]["status_before"], "paid")
        self.assertEqual(mine[0]["idempotency_key"], "rl_c1_1")
        self.assertEqual(rec["audit"]["double_charges"], 0)
        self.assertGreaterEqual(rec["audit"]["attempts_on_closed"], 1)

        st, evs = self.p.j("GET", "/v1/events", {"type": "invoice.paid", "limit": 5})
        self.assertEqual(evs["data"][0]["data"]["object"]["id"], "in_s1")

    def test_idempotency(self):
        self.p.control("POST", "scenario", scenario(2, [{"decline_code": "insufficient_funds"}, "succeed"]))
        st1, h1, b1 = self.p.pay("in_s2", "pm_s2_a", "rl_c2_1")
        self.assertEqual(st1, 402)
        self.assertNotIn("Idempotent-Replayed", h1)
        st2, h2, b2 = self.p.pay("in_s2", "pm_s2_a", "rl_c2_1")
        self.assertEqual(st2, 402)
        self.assertEqual(b1, b2)
        self.assertEqual(h2["Idempotent-Replayed"], "true")
        self.assertNotEqual(h1["Request-Id"], h2["Request-Id"])
        st, inv = self.p.j("GET", "/v1/invoices/in_s2")
        self.assertEqual(inv["attempt_count"], 2)  # nothing charged again
        # The method's next outcome is still "succeed", unused by the replay.
        st3, h3, b3 = self.p.pay("in_s2", "pm_s2_a", "rl_c2_2")
        self.assertEqual(st3, 200)
        st4, h4, b4 = self.p.pay("in_s2", "pm_s2_a", "rl_c2_2")
        self.assertEqual((st4, b4), (200, b3))
        self.assertEqual(h4["Idempotent-Replayed"], "true")
        # Same key, other parameters.
        st5, h5, b5 = self.p.pay("in_s2", "pm_s2_b", "rl_c2_2")
        self.assertEqual(st5, 400)
        self.assertEqual(json.loads(b5)["error"]["type"], "idempotency_error")
        st, rec = self.p.control("GET", "records")
        self.assertGreaterEqual(rec["audit"]["idempotency_conflicts"], 1)
        outs = [a["outcome"] for a in rec["attempts"] if a["invoice"] == "in_s2"]
        self.assertEqual(outs, ["declined", "replayed", "succeeded", "replayed", "idempotency_error"])
        self.assertEqual(rec["audit"]["double_charges"], 0)
        # Keys are kept 24 hours.
        self.p.control("POST", "scenario", scenario(3, [{"decline_code": "insufficient_funds"}]))
        self.p.pay("in_s3", "pm_s3_a", "rl_c3_1")
        self.p.control("POST", "clock", {"advance_seconds": 23 * 3600})
        st, h, b = self.p.pay("in_s3", "pm_s3_a", "rl_c3_1")
        self.assertEqual(h["Idempotent-Replayed"], "true")
        self.p.control("POST", "clock", {"advance_seconds": 2 * 3600})
        st, h, b = self.p.pay("in_s3", "pm_s3_a", "rl_c3_1")
        self.assertNotIn("Idempotent-Replayed", h)
        st, inv = self.p.j("GET", "/v1/invoices/in_s3")
        self.assertEqual(inv["attempt_count"], 3)

    def test_issuer_rules(self):
        # Hard decline repeats; expired card answers expired_card.
        sc = scenario(4, None, decline={"decline_code": "stolen_card", "advice_code": "do_not_try_again",
                                        "payment_method": "pm_s4_a"})
        del sc["methods"][0]["outcomes"]
        sc["methods"].append({"id": "pm_s4_c", "type": "card", "brand": "visa", "last4": "0002",
                              "exp_month": 1, "exp_year": 2020})
        self.p.control("POST", "scenario", sc)
        for n in range(4):
            st, h, b = self.p.pay("in_s4", "pm_s4_a", "rl_c4_a%d" % n)
            self.assertEqual(st, 402)
            self.assertEqual(json.loads(b)["error"]["decline_code"], "stolen_card")
        st, h, b = self.p.pay("in_s4", "pm_s4_c", "rl_c4_c")
        self.assertEqual(st, 402)
        self.assertEqual(json.loads(b)["error"]["code"], "expired_card")
        # Population: retrying eventually succeeds on some invoices, deterministically.
        wins = 0
        for inv in self.population_invoices(40):
            st, pms = self.p.j("GET", "/v1/customers/%s/payment_methods" % inv["customer"], {"limit": 100})
            for pm in pms["data"]:
                st, h, b = self.p.pay(inv["id"], pm["id"], "rl_pop_%s_%s" % (inv["id"], pm["id"]))
                self.assertIn(st, (200, 402, 400), b)
                if st == 200:
                    wins += 1
                    break
        self.assertGreater(wins, 3)

    def test_pay_validation(self):
        self.p.control("POST", "scenario", scenario(5, ["succeed"]))
        st, h, b = self.p.pay("in_s5", "pm_missing", "rl_c5_1")
        self.assertEqual(st, 404)
        self.assertEqual(json.loads(b)["error"]["code"], "resource_missing")
        st, h, b = self.p.pay("in_s5", "pm_s1_a", "rl_c5_2")  # another customer's method
        self.assertEqual(st, 400)
        st, h, b = self.p.pay("in_s5", "pm_s5_a", "rl_c5_3", {"bogus": "1"})
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(b)["error"]["code"], "parameter_unknown")
        # Rejected requests keep no idempotent result: the key can be reused.
        st, h, b = self.p.pay("in_s5", "pm_s5_a", "rl_c5_3")
        self.assertEqual(st, 200)
        st, h, b = self.p.pay("in_missing", "pm_s5_a", "rl_c5_4")
        self.assertEqual(st, 404)

    # ---------------------------------------------------------------- control
    def test_closed_invoices(self):
        for n in (6, 7, 8, 9, 14):
            self.p.control("POST", "scenario", scenario(n, ["succeed"]))
        st, rec0 = self.p.control("GET", "records")
        closed0 = rec0["audit"]["attempts_on_closed"]
        st, inv = self.p.control("POST", "invoices/in_s6/pay_out_of_band")
        self.assertEqual(inv["status"], "paid")
        st, h, b = self.p.pay("in_s6", "pm_s6_a", "rl_c6")
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(b)["error"]["message"], "Invoice is already paid")
        st, inv = self.p.control("POST", "invoices/in_s7/void")
        self.assertEqual(inv["status"], "void")
        st, h, b = self.p.pay("in_s7", "pm_s7_a", "rl_c7")
        self.assertEqual(st, 400)
        inv8 = self.p.j("GET", "/v1/invoices/in_s8")[1]
        st, sub = self.p.control("POST", "subscriptions/%s/cancel" % inv8["subscription"])
        self.assertEqual(sub["status"], "canceled")
        st, s2 = self.p.j("GET", "/v1/subscriptions/" + inv8["subscription"])
        self.assertEqual(s2["status"], "canceled")
        st, h, b = self.p.pay("in_s8", "pm_s8_a", "rl_c8")
        self.assertEqual(st, 200)  # Stripe still lets an open invoice be paid
        st, c = self.p.control("POST", "customers/cus_s9/delete")
        st, c = self.p.j("GET", "/v1/customers/cus_s9")
        self.assertEqual(c, {"id": "cus_s9", "object": "customer", "deleted": True})
        st, h, b = self.p.pay("in_s9", "pm_s9_a", "rl_c9")
        self.assertEqual(st, 404)
        # Stripe lets an uncollectible invoice still be paid; the audit counts it.
        st, inv = self.p.control("POST", "invoices/in_s14/mark_uncollectible")
        self.assertEqual(inv["status"], "uncollectible")
        st, h, b = self.p.pay("in_s14", "pm_s14_a", "rl_c14")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(b)["status"], "paid")
        st, rec = self.p.control("GET", "records")
        self.assertEqual(rec["audit"]["attempts_on_closed"] - closed0, 5)
        st, body = self.p.control("POST", "invoices/in_nope/void")
        self.assertEqual(st, 404)

    def test_requests_log(self):
        self.p.control("POST", "scenario", scenario(10, ["succeed"]))
        st, log0 = self.p.control("GET", "requests")
        self.p.pay("in_s10", "pm_s10_a", "rl_c10_1")
        st, log = self.p.control("GET", "requests?since=%d&path_prefix=/v1/invoices/in_s10" % log0["total"])
        r = log["requests"][-1]
        self.assertEqual(r["method"], "POST")
        self.assertEqual(r["path"], "/v1/invoices/in_s10/pay")
        self.assertIn(["payment_method", "pm_s10_a"], r["form"])
        self.assertIn(["off_session", "true"], r["form"])
        self.assertEqual(r["headers"]["Idempotency-Key"], "rl_c10_1")
        self.assertEqual(r["headers"]["Stripe-Version"], "2024-12-18.acacia")
        self.assertNotIn("Authorization", r["headers"])
        st, rec = self.p.control("GET", "records")
        self.assertGreater(rec["requests"], 10)
        self.assertGreater(rec["audit"]["max_requests_per_second"], 0)

    def test_control_bad_input(self):
        req = urllib.request.Request(self.p.base + "/_fixture/scenario", data=b"{not json", method="POST")
        try:
            urllib.request.urlopen(req, timeout=5)
            self.fail("expected 400")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 400)
        st, body = self.p.control("POST", "scenario", {"methods": [{"type": "bogus"}]})
        self.assertEqual(st, 400)
        st, body = self.p.control("POST", "faults", {"kind": "nope"})
        self.assertEqual(st, 400)
        st, body = self.p.control("GET", "nope")
        self.assertEqual(st, 404)
        # Raw garbage on the socket does not take the server down.
        with socket.create_connection(("127.0.0.1", self.p.port), timeout=5) as s:
            s.sendall(b"\x00\x01garbage\r\n\r\n")
            s.recv(100)
        st, h, b = self.p.call("POST", "/v1/invoices/in_x/pay", None, {"Content-Length": "abc"})
        self.assertIn(st, (400, 404))
        self.assertEqual(self.p.call("GET", "/v1/invoices", {"limit": 1})[0], 200)

    # ---------------------------------------------------------------- faults
    def fault(self, **f):
        st, body = self.p.control("POST", "faults", f)
        self.assertEqual(st, 200, body)

    def test_fault_status(self):
        self.fault(method="GET", path_prefix="/v1/invoices", kind="status", status=503,
                   headers={"Retry-After": "2", "Stripe-Should-Retry": "true"}, count=2)
        for _ in range(2):
            st, h, b = self.p.call("GET", "/v1/invoices", {"limit": 1})
            self.assertEqual(st, 503)
            self.assertEqual(h["Retry-After"], "2")
            self.assertEqual(h["Stripe-Should-Retry"], "true")
            self.assertEqual(json.loads(b)["error"]["type"], "api_error")
            self.assertTrue(h["Request-Id"].startswith("req_"))
        self.assertEqual(self.p.call("GET", "/v1/invoices", {"limit": 1})[0], 200)
        self.fault(method="*", path_prefix="/v1/events", kind="status", status=429, count=1)
        st, h, b = self.p.call("GET", "/v1/events", {"limit": 1})
        self.assertEqual(st, 429)
        self.assertEqual(json.loads(b)["error"]["code"], "rate_limit")
        # A status fault on a pay happens before the charge: nothing charged, no result kept.
        self.p.control("POST", "scenario", scenario(11, ["succeed"]))
        self.fault(method="POST", path_prefix="/v1/invoices/in_s11", kind="status", status=500)
        st, h, b = self.p.pay("in_s11", "pm_s11_a", "rl_c11_1")
        self.assertEqual(st, 500)
        self.assertEqual(self.p.j("GET", "/v1/invoices/in_s11")[1]["attempt_count"], 1)
        st, h, b = self.p.pay("in_s11", "pm_s11_a", "rl_c11_1")
        self.assertEqual(st, 200)
        self.assertNotIn("Idempotent-Replayed", h)
        # DELETE clears queued faults.
        self.fault(method="GET", path_prefix="/v1/", kind="status", status=500, count=5)
        self.p.control("DELETE", "faults")
        self.assertEqual(self.p.call("GET", "/v1/invoices", {"limit": 1})[0], 200)

    def test_fault_delay_charges_anyway(self):
        self.p.control("POST", "scenario", scenario(12, ["succeed"]))
        self.fault(method="POST", path_prefix="/v1/invoices/in_s12/pay", kind="delay", seconds=1.5)
        with self.assertRaises(Exception):
            self.p.call("POST", "/v1/invoices/in_s12/pay", {"payment_method": "pm_s12_a", "off_session": "true"},
                        {"Idempotency-Key": "rl_c12_1"}, timeout=0.5)
        # While the first is still running, the same key is in use.
        st, h, b = self.p.pay("in_s12", "pm_s12_a", "rl_c12_1")
        self.assertEqual(st, 409)
        self.assertEqual(json.loads(b)["error"]["code"], "idempotency_key_in_use")
        time.sleep(1.5)
        st, inv = self.p.j("GET", "/v1/invoices/in_s12")
        self.assertEqual(inv["status"], "paid")
        st, h, b = self.p.pay("in_s12", "pm_s12_a", "rl_c12_1")
        self.assertEqual(st, 200)
        self.assertEqual(h["Idempotent-Replayed"], "true")
        st, rec = self.p.control("GET", "records")
        self.assertEqual(rec["audit"]["double_charges"], 0)

    def test_fault_bodies(self):
        self.fault(path_prefix="/v1/customers/", kind="malformed")
        inv = self.first_invoice()
        st, h, b = self.p.call("GET", "/v1/customers/" + inv["customer"])
        self.assertEqual(st, 200)
        with self.assertRaises(ValueError):
            json.loads(b)
        self.fault(path_prefix="/v1/customers/", kind="wrong_content_type")
        st, h, b = self.p.call("GET", "/v1/customers/" + inv["customer"])
        self.assertTrue(h["Content-Type"].startswith("text/html"))
        self.fault(path_prefix="/v1/customers/", kind="oversized", bytes=3 << 20)
        st, h, b = self.p.call("GET", "/v1/customers/" + inv["customer"])
        self.assertGreaterEqual(len(b), 3 << 20)
        self.assertEqual(json.loads(b)["id"], inv["customer"])
        self.fault(path_prefix="/v1/customers/", kind="truncated")
        with self.assertRaises(http.client.IncompleteRead):
            self.p.call("GET", "/v1/customers/" + inv["customer"])
        self.fault(path_prefix="/v1/customers/", kind="reset")
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected, urllib.error.URLError)):
            self.p.call("GET", "/v1/customers/" + inv["customer"])
        # One byte per interval: a client's deadline fires before the answer is whole.
        self.fault(path_prefix="/v1/customers/", kind="drip", seconds=0.3)
        with socket.create_connection(("127.0.0.1", self.p.port), timeout=5) as s:
            s.sendall(("GET /v1/customers/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                       % (inv["customer"], KEY)).encode())
            t0 = time.time()
            got = b""
            while time.time() - t0 < 1.5:
                got += s.recv(100)
            self.assertTrue(b"HTTP/1.1 200".startswith(got), got)
            self.assertTrue(3 <= len(got) < 10, got)
        self.assertEqual(self.p.call("GET", "/v1/customers/" + inv["customer"])[0], 200)

    def test_fault_reset_on_pay_then_replay(self):
        self.p.control("POST", "scenario", scenario(13, ["succeed"]))
        self.fault(method="POST", path_prefix="/v1/invoices/in_s13/pay", kind="reset")
        with self.assertRaises(Exception):
            self.p.pay("in_s13", "pm_s13_a", "rl_c13_1")
        st, h, b = self.p.pay("in_s13", "pm_s13_a", "rl_c13_1")
        self.assertEqual(st, 200)
        self.assertEqual(h["Idempotent-Replayed"], "true")
        # A retry under a new key reaches a paid invoice: nothing charged.
        st, h, b = self.p.pay("in_s13", "pm_s13_a", "rl_c13_2")
        self.assertEqual(st, 400)
        self.assertEqual(self.p.j("GET", "/v1/invoices/in_s13")[1]["attempt_count"], 2)


class FailureRateTest(unittest.TestCase):
    def test_new_failures_appear(self):
        p = Peer("--seed", "3", "--customers", "4", "--invoices", "0", "--failure-rate", "20")
        try:
            time.sleep(0.6)
            st, page = p.j("GET", "/v1/events", {"type": "invoice.payment_failed", "limit": 100})
            self.assertGreaterEqual(len(page["data"]), 3)
            st, inv = p.j("GET", "/v1/invoices/" + page["data"][0]["data"]["object"]["id"])
            self.assertEqual(inv["status"], "open")
        finally:
            p.stop()

    def test_empty_population(self):
        p = Peer("--customers", "0", "--invoices", "0")
        try:
            st, page = p.j("GET", "/v1/events", {"limit": 10})
            self.assertEqual((st, page["data"], page["has_more"]), (200, [], False))
        finally:
            p.stop()


if __name__ == "__main__":
    unittest.main()
