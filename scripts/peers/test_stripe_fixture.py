#!/usr/bin/env python3
"""Tests of the Stripe-shaped fixture server (stdlib unittest + urllib).

Run from the repository root:
    python3 scripts/peers/test_stripe_fixture.py -v
"""

import collections
import http.client
import json
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ beside the peers

from peerlib import start_fixture

KEY = "sk_test_fixture"
# Deterministic tests opt out of the random transient faults and of the customers' own streams.
QUIET = ("--faults", "off", "--streams", "off")


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

    def call(self, method, path, params=None, headers=None, key=KEY, timeout=10, version="2024-12-18.acacia"):
        data = None
        url = self.base + path
        if params is not None and method == "GET":
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        elif params is not None:
            data = urllib.parse.urlencode(params).encode()
        h = {"Stripe-Version": version} if version else {}
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

    def j(self, method, path, params=None, headers=None, key=KEY, version="2024-12-18.acacia"):
        st, h, b = self.call(method, path, params, headers, key, version=version)
        return st, json.loads(b)

    def many(self, method, path, n, body=None, headers=None):
        """n requests on one kept-alive connection: [(status, headers, body)]."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        out = []
        h = {"Authorization": "Bearer " + KEY, "Stripe-Version": "2024-12-18.acacia"}
        h.update(headers or {})
        try:
            for i in range(n):
                hh = {k: (v % i if "%d" in v else v) for k, v in h.items()}
                data = body % i if body and "%d" in body else body
                if data:
                    hh["Content-Type"] = "application/x-www-form-urlencoded"
                conn.request(method, path % i if "%d" in path else path, body=data, headers=hh)
                r = conn.getresponse()
                out.append((r.status, dict(r.getheaders()), r.read()))
        finally:
            conn.close()
        return out

    def records(self):
        return self.control("GET", "records")[1]

    def audit_for(self, kind, invoice):
        return [r for r in self.records()["audit_records"][kind] if r["invoice"] == invoice]

    def advance(self, seconds):
        return self.control("POST", "clock", {"advance_seconds": seconds})[1]

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
        cls.p = Peer("--seed", "7", "--customers", "30", "--invoices", "80", *QUIET)

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
        # Events render in the account's version (basil), whatever the request's Stripe-Version.
        self.assertEqual(ev["api_version"], "2025-03-31.basil")
        self.assertEqual(ev["data"]["object"]["object"], "invoice")
        self.assertNotIn("payment_intent", ev["data"]["object"])
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
        other = Peer("--seed", "7", "--customers", "30", "--invoices", "80", *QUIET)
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
        third = Peer("--seed", "8", "--customers", "5", "--invoices", "5", *QUIET)
        try:
            st, body = third.j("GET", "/v1/customers/" + a["id"])
            self.assertEqual(st, 404)
        finally:
            third.stop()

    def audit_for(self, kind, invoice):
        st, rec = self.p.control("GET", "records")
        return [r for r in rec["audit_records"][kind] if r["invoice"] == invoice]

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
        # The third pay charged nothing (Stripe refused it) but tried to charge what we had collected.
        doubles = [r for r in rec["audit_records"]["double_charges"] if r["invoice"] == "in_s1"]
        self.assertEqual([(r["kind"], r["idempotency_key"], r["paid_by_key"]) for r in doubles],
                         [("after_paid", "rl_c1_3", "rl_c1_2")])

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
        self.assertEqual(self.audit_for("double_charges", "in_s2"), [])
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
                if st == 200 and json.loads(b)["status"] == "paid":
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
        self.assertEqual(self.audit_for("double_charges", "in_s12"), [])

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
        p = Peer("--seed", "3", "--customers", "4", "--invoices", "0", "--failure-rate", "20", *QUIET)
        try:
            time.sleep(0.6)
            st, page = p.j("GET", "/v1/events", {"type": "invoice.payment_failed", "limit": 100})
            self.assertGreaterEqual(len(page["data"]), 3)
            st, inv = p.j("GET", "/v1/invoices/" + page["data"][0]["data"]["object"]["id"])
            self.assertEqual(inv["status"], "open")
        finally:
            p.stop()

    def test_empty_population(self):
        p = Peer("--customers", "0", "--invoices", "0", *QUIET)
        try:
            st, page = p.j("GET", "/v1/events", {"limit": 10})
            self.assertEqual((st, page["data"], page["has_more"]), (200, [], False))
        finally:
            p.stop()


DAY = 86400
ACACIA, BASIL = "2024-12-18.acacia", "2025-03-31.basil"


def case(tag, methods, decline=None, **cust):
    """A customer `cus_<tag>` with these methods (the first is the default) and one failed invoice `in_<tag>`."""
    c = {"id": "cus_" + tag, "country": "US", "subscription_id": "sub_" + tag, "subscription_status": "past_due",
         "metadata": {"tier": "gold", "time_zone": "America/New_York"}}
    c.update(cust)
    ms = []
    for i, m in enumerate(methods):
        m = dict(m)
        m.setdefault("id", "pm_%s_%d" % (tag, i))
        m.setdefault("type", "card")
        if m["type"] == "card":
            m.setdefault("brand", "visa")
            m.setdefault("exp_month", 12)
            m.setdefault("exp_year", 2031)
        ms.append(m)
    d = dict(decline or {"decline_code": "insufficient_funds"})
    d.setdefault("payment_method", ms[0]["id"])
    return {"customer": c, "methods": ms, "invoice": {"id": "in_" + tag, "amount_due": 2500, "currency": "usd",
                                                      "decline": d}}


DECLINE = {"decline_code": "insufficient_funds"}


class QuietPeerTest(unittest.TestCase):
    """A fixture without random faults or customer streams, one per test class."""
    ARGS = ("--seed", "9", "--customers", "6", "--invoices", "6")

    @classmethod
    def setUpClass(cls):
        cls.p = Peer(*cls.ARGS, *QUIET)

    @classmethod
    def tearDownClass(cls):
        cls.p.stop()

    def make(self, tag, methods, decline=None, **cust):
        st, made = self.p.control("POST", "scenario", case(tag, methods, decline, **cust))
        self.assertEqual(st, 200, made)
        return made

    def events_of(self, etype, obj=None):
        st, evs = self.p.control("GET", "events?type=" + etype)
        return [e for e in evs["events"] if obj is None or e["object"] == obj]


class TransientFaultTest(unittest.TestCase):
    def test_default_rates_and_shapes(self):
        """Faults are on by default: ~1.5 % 500 api_error, ~1 % 429 rate_limit (Retry-After: 1); never on /_fixture/."""
        p = Peer("--seed", "5", "--customers", "3", "--invoices", "3")
        try:
            answers = p.many("GET", "/v1/invoices?limit=1", 2000)
            s500 = [a for a in answers if a[0] == 500]
            s429 = [a for a in answers if a[0] == 429]
            self.assertEqual(len(s500) + len(s429) + sum(1 for a in answers if a[0] == 200), 2000)
            # Each kind once in every block of 1/rate requests, at a seeded place: the share is the rate.
            self.assertTrue(29 <= len(s500) <= 30, len(s500))
            self.assertTrue(19 <= len(s429) <= 20, len(s429))
            where = [i for i, a in enumerate(answers) if a[0] == 500]
            self.assertGreater(len({b - a for a, b in zip(where, where[1:])}), 5, where)   # not periodic
            err = json.loads(s500[0][2])["error"]
            self.assertEqual(err["type"], "api_error")
            self.assertNotIn("Stripe-Should-Retry", s500[0][1])
            err = json.loads(s429[0][2])["error"]
            self.assertEqual((err["type"], err["code"]), ("invalid_request_error", "rate_limit"))
            self.assertEqual(s429[0][1]["Retry-After"], "1")
            rec = p.records()
            self.assertEqual((rec["faults"]["500"], rec["faults"]["429"]), (len(s500), len(s429)))
            self.assertEqual(rec["faults"]["lock_timeout"] + rec["faults"]["409"], 0)  # GETs only
            # The control API is never faulted.
            for _ in range(300):
                self.assertEqual(p.control("GET", "state")[0], 200)
        finally:
            p.stop()

    def test_lock_timeout_and_409_on_writes(self):
        p = Peer("--seed", "5", "--customers", "0", "--invoices", "0", "--fault-500", "0", "--fault-429", "0",
                 "--fault-lock-timeout", "0.3", "--fault-409", "0.3", "--streams", "off")
        try:
            p.control("POST", "scenario", case("lk", [{"outcomes": [DECLINE]}]))
            answers = p.many("POST", "/v1/invoices/in_lk/pay", 80, body="payment_method=pm_lk_0&off_session=true",
                             headers={"Idempotency-Key": "rl_lk_%d"})
            locks = [a for a in answers if a[0] == 429]
            conflicts = [a for a in answers if a[0] == 409]
            self.assertTrue(locks and conflicts, [a[0] for a in answers])
            self.assertEqual(json.loads(locks[0][2])["error"]["code"], "lock_timeout")
            self.assertEqual(locks[0][1]["Stripe-Should-Retry"], "true")
            self.assertEqual(json.loads(conflicts[0][2])["error"]["code"], "idempotency_key_in_use")
            executed = [a for a in p.records()["attempts"] if a["outcome"] == "declined"]
            self.assertEqual(len(executed), sum(1 for a in answers if a[0] == 402))  # faulted pays did nothing
            self.assertTrue(all(a[0] == 200 for a in p.many("GET", "/v1/invoices/in_lk", 50)))
        finally:
            p.stop()

    def test_pay_500_executed_or_not_and_replays(self):
        """A pay's 500: half went through (500 saved under the key), some failed before executing (nothing
        saved), some were rolled back (500 saved). After 24 h the key is forgotten."""
        p = Peer("--seed", "4", "--customers", "0", "--invoices", "0", "--fault-500", "1", "--fault-429", "0",
                 "--fault-lock-timeout", "0", "--fault-409", "0", "--streams", "off")
        try:
            n = 40
            for i in range(n):
                p.control("POST", "scenario", case("f%d" % i, [{"outcomes": ["succeed"]}]))
            first = {}
            for i in range(n):
                st, h, b = p.pay("in_f%d" % i, "pm_f%d_0" % i, "rl_f%d" % i)
                self.assertEqual(st, 500)
                self.assertEqual(json.loads(b)["error"]["type"], "api_error")
                first[i] = h.get("Stripe-Should-Retry")
            rec = p.records()
            kinds = {a["invoice"]: ("executed" if a.get("executed") else a["outcome"]) for a in rec["attempts"]}
            self.assertEqual(len(kinds), n)
            count = collections.Counter(kinds.values())
            self.assertTrue(10 <= count["executed"] <= 30 and count["fault_500"] and count["rolled_back"], count)
            self.assertEqual(set(rec["recovered_invoices"]), {k for k, v in kinds.items() if v == "executed"})
            p.control("POST", "random_faults", {"500": 0})
            for i in range(n):
                st, h, b = p.pay("in_f%d" % i, "pm_f%d_0" % i, "rl_f%d" % i)
                if kinds["in_f%d" % i] == "fault_500":
                    self.assertEqual((st, h.get("Idempotent-Replayed")), (200, None))  # now executed
                else:
                    self.assertEqual((st, h.get("Idempotent-Replayed")), (500, "true"))  # the saved 500
                    self.assertEqual(first[i], "false")
            p.advance(25 * 3600)
            for i in range(n):
                st, h, b = p.pay("in_f%d" % i, "pm_f%d_0" % i, "rl_f%d" % i)
                kind = kinds["in_f%d" % i]
                self.assertEqual(st, 200 if kind == "rolled_back" else 400, (kind, b))
            doubles = p.records()["audit_records"]["double_charges"]
            self.assertEqual({d["invoice"] for d in doubles if d["kind"] == "after_paid"},
                             {k for k, v in kinds.items() if v != "rolled_back"})
            # A queued 500 on a pay that went through is saved like Stripe's.
            p.control("POST", "scenario", case("fq", [{"outcomes": ["succeed"]}]))
            p.control("POST", "faults", {"method": "POST", "path_prefix": "/v1/invoices/in_fq/pay", "status": 500,
                                         "execute": True})
            self.assertEqual(p.pay("in_fq", "pm_fq_0", "rl_fq")[0], 500)
            st, h, b = p.pay("in_fq", "pm_fq_0", "rl_fq")
            self.assertEqual((st, h["Idempotent-Replayed"]), (500, "true"))
            self.assertEqual(p.j("GET", "/v1/invoices/in_fq")[1]["status"], "paid")
        finally:
            p.stop()


class ClockAndKeysTest(QuietPeerTest):
    def test_time_scale(self):
        p = Peer("--time-scale", "3600", "--customers", "0", "--invoices", "0", *QUIET)
        try:
            t0 = p.control("GET", "clock")[1]["now"]
            time.sleep(0.5)
            t1 = p.control("GET", "clock")[1]["now"]
            self.assertTrue(1000 <= t1 - t0 <= 3500, t1 - t0)
            t2 = p.advance(DAY)["now"]
            self.assertTrue(t2 - t1 >= DAY)
        finally:
            p.stop()

    def test_keys_pruned_after_24h_charge_again(self):
        self.make("k1", [{"outcomes": [DECLINE, DECLINE, "succeed"]}])
        self.assertEqual(self.p.pay("in_k1", "pm_k1_0", "rl_k1_1")[0], 402)
        self.p.advance(23 * 3600)
        self.assertEqual(self.p.pay("in_k1", "pm_k1_0", "rl_k1_1")[1]["Idempotent-Replayed"], "true")
        self.p.advance(2 * 3600)
        st, h, b = self.p.pay("in_k1", "pm_k1_0", "rl_k1_1")  # a new request: a second charge
        self.assertEqual(st, 402)
        self.assertNotIn("Idempotent-Replayed", h)
        self.assertEqual(self.p.j("GET", "/v1/invoices/in_k1")[1]["attempt_count"], 3)
        doubles = self.p.audit_for("double_charges", "in_k1")
        self.assertEqual([(d["kind"], d["idempotency_key"]) for d in doubles], [("key_reexecuted", "rl_k1_1")])
        # Paid, then the same key 25 h later: Stripe refuses, the audit names the second attempt.
        self.assertEqual(self.p.pay("in_k1", "pm_k1_0", "rl_k1_2")[0], 200)
        self.p.advance(25 * 3600)
        self.assertEqual(self.p.pay("in_k1", "pm_k1_0", "rl_k1_2")[0], 400)
        kinds = [d["kind"] for d in self.p.audit_for("double_charges", "in_k1")]
        self.assertEqual(kinds, ["key_reexecuted", "after_paid"])


class VersionTest(QuietPeerTest):
    def test_account_and_request_versions(self):
        made = self.make("v1", [{}])
        pi = made["payment_intent"]["id"]
        st, h, b = self.p.call("GET", "/v1/invoices/in_v1", version=None)
        inv = json.loads(b)
        self.assertEqual(h["Stripe-Version"], BASIL)
        for gone in ("payment_intent", "charge", "subscription", "paid", "paid_out_of_band"):
            self.assertNotIn(gone, inv)
        self.assertEqual(inv["parent"]["subscription_details"]["subscription"], "sub_v1")
        st, h, b = self.p.call("GET", "/v1/invoices/in_v1", version=ACACIA)
        self.assertEqual(h["Stripe-Version"], ACACIA)
        self.assertEqual((json.loads(b)["payment_intent"], json.loads(b)["subscription"]), (pi, "sub_v1"))
        # Expansion, as the adapter asks for it (acacia): objects in place of ids, nested one level.
        st, inv = self.p.j("GET", "/v1/invoices/in_v1?expand[]=payment_intent.latest_charge&expand[]=customer"
                           "&expand[]=subscription")
        self.assertEqual((inv["payment_intent"]["id"], inv["payment_intent"]["latest_charge"]["object"],
                          inv["customer"]["id"], inv["subscription"]["status"]), (pi, "charge", "cus_v1", "past_due"))
        st, body = self.p.j("GET", "/v1/invoices/in_v1", {"expand[]": "payment_intent"}, version=BASIL)
        self.assertEqual((st, body["error"]["message"]), (400, "This property cannot be expanded (payment_intent)."))
        st, inv = self.p.j("GET", "/v1/invoices/in_v1", {"expand[]": "payments"}, version=BASIL)
        self.assertEqual(inv["payments"]["data"][0]["payment"], {"type": "payment_intent", "payment_intent": pi})
        st, ips = self.p.j("GET", "/v1/invoice_payments", {"invoice": "in_v1"}, version=BASIL)
        self.assertEqual([x["payment"]["payment_intent"] for x in ips["data"]], [pi])
        self.assertNotIn("invoice", self.p.j("GET", "/v1/payment_intents/" + pi, version=BASIL)[1])
        self.assertEqual(self.p.j("GET", "/v1/payment_intents/" + pi)[1]["invoice"], "in_v1")
        # Events keep the account's version whatever the request asks.
        ev = self.p.j("GET", "/v1/events", {"type": "invoice.payment_failed", "limit": 1}, version=ACACIA)[1]["data"][0]
        self.assertEqual((ev["api_version"], ev["data"]["object"]["id"]), (BASIL, "in_v1"))
        self.assertNotIn("payment_intent", ev["data"]["object"])
        self.assertEqual(self.p.j("GET", "/v1/invoices/in_v1", version="banana")[0], 400)

    def test_account_on_acacia(self):
        p = Peer("--account-version", ACACIA, "--customers", "2", "--invoices", "2", *QUIET)
        try:
            ev = p.j("GET", "/v1/events", {"limit": 1}, version=None)[1]["data"][0]
            self.assertEqual(ev["api_version"], ACACIA)
            self.assertIn("payment_intent", ev["data"]["object"])
        finally:
            p.stop()



class CustomerActionsTest(QuietPeerTest):
    def test_detach_attach_update(self):
        self.make("c1", [{"outcomes": [DECLINE]}, {"brand": "mastercard"}])
        self.make("c2", [{}])
        st, pm = self.p.control("POST", "payment_methods/pm_c1_1/detach")
        self.assertEqual((st, pm["customer"]), (200, None))
        ev = self.events_of("payment_method.detached", "pm_c1_1")
        self.assertEqual(len(ev), 1)
        st, h, b = self.p.pay("in_c1", "pm_c1_1", "rl_c1x_1")
        err = json.loads(b)["error"]
        self.assertEqual((st, err["type"], err["param"]), (400, "invalid_request_error", "payment_method"))
        self.assertTrue(err["message"].startswith("The provided PaymentMethod was previously used"), err)
        st, h, b = self.p.pay("in_c1", "pm_c2_0", "rl_c1x_2")   # another customer's card
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(b)["error"]["message"],
                         "The customer does not have a payment method with the ID pm_c2_0. The payment method must be "
                         "attached to the customer.")
        # The default goes: customer.updated; a new card as default: attached and customer.updated.
        self.p.control("POST", "payment_methods/pm_c1_0/detach")
        self.assertIsNone(self.p.j("GET", "/v1/customers/cus_c1")[1]["invoice_settings"]["default_payment_method"])
        st, new = self.p.control("POST", "customers/cus_c1/payment_methods",
                                 {"id": "pm_c1_new", "brand": "visa", "default": True, "outcomes": ["succeed"]})
        self.assertEqual((st, new["customer"]), (200, "cus_c1"))
        self.assertEqual(self.p.j("GET", "/v1/customers/cus_c1")[1]["invoice_settings"]["default_payment_method"],
                         "pm_c1_new")
        self.assertEqual(len(self.events_of("payment_method.attached", "pm_c1_new")), 1)
        self.assertEqual(len(self.events_of("customer.updated", "cus_c1")), 2)
        listed = self.p.j("GET", "/v1/customers/cus_c1/payment_methods", {"limit": 100})[1]["data"]
        self.assertEqual([m["id"] for m in listed], ["pm_c1_new"])
        st, h, b = self.p.pay("in_c1", "pm_c1_new", "rl_c1x_3")
        self.assertEqual((st, json.loads(b)["status"]), (200, "paid"))
        # An expiry update.
        st, pm = self.p.control("POST", "payment_methods/pm_c2_0/update", {"exp_month": 3, "exp_year": 2033})
        self.assertEqual((pm["card"]["exp_month"], pm["card"]["exp_year"]), (3, 2033))
        st, evs = self.p.j("GET", "/v1/events", {"type": "payment_method.updated", "limit": 1})
        self.assertEqual(evs["data"][0]["data"]["previous_attributes"], {"card": {"exp_month": 12, "exp_year": 2031}})

    def test_card_changes_stream(self):
        p = Peer("--seed", "12", "--customers", "20", "--invoices", "40", "--faults", "off", "--card-changes", "2",
                 "--hosted-retries", "0")
        try:
            p.advance(3 * DAY)
            changes = p.records()["changes"]
            self.assertGreater(len(changes), 5)
            self.assertTrue({"detach", "update"} & {c["action"] for c in changes}, changes)
            self.assertTrue({c["action"] for c in changes} & {"attach", "attach_default"})
            st, evs = p.control("GET", "events")
            types = {e["type"] for e in evs["events"]}
            self.assertTrue({"payment_method.attached", "customer.updated"} <= types, types)
        finally:
            p.stop()


class BankDebitTest(QuietPeerTest):
    def test_ach_processing_then_succeeded(self):
        self.make("b1", [{"type": "us_bank_account", "outcomes": ["succeed"]}],
                  decline={"code": "insufficient_funds", "network_decline_code": "R01"})
        lpe = self.p.j("GET", "/v1/payment_intents/" + self.p.j("GET", "/v1/invoices/in_b1")[1]["payment_intent"])[1]
        self.assertEqual(lpe["last_payment_error"]["code"], "insufficient_funds")
        st, h, b = self.p.pay("in_b1", "pm_b1_0", "rl_b1_1")
        inv = json.loads(b)
        self.assertEqual((st, inv["status"]), (200, "open"))
        pi = self.p.j("GET", "/v1/payment_intents/" + inv["payment_intent"])[1]
        self.assertEqual(pi["status"], "processing")
        ch = self.p.j("GET", "/v1/charges/" + pi["latest_charge"])[1]
        self.assertEqual(ch["status"], "pending")
        st, h, b = self.p.pay("in_b1", "pm_b1_0", "rl_b1_2")   # not while it processes
        self.assertEqual((st, json.loads(b)["error"]["code"]), (400, "payment_intent_unexpected_state"))
        self.p.advance(2 * DAY)
        self.assertEqual(self.p.j("GET", "/v1/invoices/in_b1")[1]["status"], "open")
        self.p.advance(6 * DAY)
        self.assertEqual(self.p.j("GET", "/v1/invoices/in_b1")[1]["status"], "paid")
        self.assertEqual(self.p.j("GET", "/v1/payment_intents/" + inv["payment_intent"])[1]["status"], "succeeded")
        ch = self.p.j("GET", "/v1/charges/" + pi["latest_charge"])[1]
        self.assertEqual((ch["status"], ch["outcome"]["type"]), ("succeeded", "authorized"))
        att = [a for a in self.p.records()["attempts"] if a["invoice"] == "in_b1" and a["answer"] == 200]
        self.assertEqual(att[0]["outcome"], "succeeded")   # what the debit came to
        self.assertIn("settled_at", att[0])

    def test_sepa_failure_words_and_dead_account(self):
        self.make("b2", [{"type": "sepa_debit", "outcomes": [{"code": "debit_not_authorized",
                                                              "network_decline_code": "MD01"}]}],
                  decline={"code": "insufficient_funds", "network_decline_code": "AM04"}, country="DE")
        inv = json.loads(self.p.pay("in_b2", "pm_b2_0", "rl_b2_1")[2])
        self.p.advance(15 * DAY)
        pi = self.p.j("GET", "/v1/payment_intents/" + inv["payment_intent"])[1]
        self.assertEqual((pi["status"], pi["last_payment_error"]["code"]), ("requires_payment_method", "debit_not_authorized"))
        ch = self.p.j("GET", "/v1/charges/" + pi["latest_charge"])[1]
        self.assertEqual((ch["status"], ch["failure_code"], ch["outcome"]["network_decline_code"]),
                         ("failed", "debit_not_authorized", "MD01"))
        self.assertEqual(len(self.events_of("invoice.payment_failed", "in_b2")), 2)
        self.p.pay("in_b2", "pm_b2_0", "rl_b2_2")   # the mandate is gone: never again
        self.assertEqual(len(self.p.audit_for("after_never_retry", "in_b2")), 1)

    def test_population_bank_failures_are_words(self):
        p = Peer("--seed", "21", "--customers", "60", "--invoices", "120", *QUIET)
        try:
            words = set()
            for inv in p.j("GET", "/v1/invoices", {"status": "open", "limit": 100})[1]["data"]:
                lpe = p.j("GET", "/v1/payment_intents/" + inv["payment_intent"])[1]["last_payment_error"]
                if lpe["payment_method"]["type"] in ("sepa_debit", "us_bank_account"):
                    words.add(lpe["code"])
            self.assertTrue(words, "some bank debits expected")
            self.assertTrue(words <= {"insufficient_funds", "account_closed", "no_account", "invalid_account_number",
                                      "debit_not_authorized", "bank_account_restricted", "generic_could_not_process"},
                            words)
        finally:
            p.stop()


class ThreeDSecureTest(QuietPeerTest):
    def test_three_answers_keep_asking_until_updated(self):
        self.make("a1", [{"outcomes": [{"decline_code": "authentication_required"}]}])
        self.make("a2", [{"outcomes": [{"code": "invoice_payment_intent_requires_action"}]}])
        self.make("a3", [{"outcomes": ["requires_action"]}])
        st, h, b = self.p.pay("in_a1", "pm_a1_0", "rl_a1_1")
        err = json.loads(b)["error"]
        self.assertEqual((st, err["type"], err["code"], err["decline_code"]),
                         (402, "card_error", "authentication_required", "authentication_required"))
        st, h, b = self.p.pay("in_a2", "pm_a2_0", "rl_a2_1")
        err = json.loads(b)["error"]
        self.assertEqual((st, err["code"]), (402, "invoice_payment_intent_requires_action"))
        self.assertNotIn("decline_code", err)
        st, h, b = self.p.pay("in_a3", "pm_a3_0", "rl_a3_1")
        inv = json.loads(b)
        self.assertEqual((st, inv["status"]), (200, "open"))
        self.assertEqual(self.p.j("GET", "/v1/payment_intents/" + inv["payment_intent"])[1]["status"], "requires_action")
        for t in ("a1", "a2", "a3"):
            self.assertEqual(self.p.audit_for("offsession_after_auth", "in_" + t), [])
            self.p.pay("in_" + t, "pm_%s_0" % t, "rl_%s_2" % t)
            self.assertEqual(len(self.p.audit_for("offsession_after_auth", "in_" + t)), 1)
        # The customer updates the card: it may be tried again.
        self.p.control("POST", "payment_methods/pm_a1_0/update", {"exp_year": 2034})
        self.p.pay("in_a1", "pm_a1_0", "rl_a1_3")
        self.assertEqual(len(self.p.audit_for("offsession_after_auth", "in_a1")), 1)

    def test_card_needing_authentication_asks_off_session(self):
        self.make("a4", [{"requires_authentication": True}])
        answers = []
        for n in range(3):
            st, h, b = self.p.pay("in_a4", "pm_a4_0", "rl_a4_%d" % n)
            body = json.loads(b)
            answers.append(body["error"]["code"] if st == 402 else
                           self.p.j("GET", "/v1/payment_intents/" + body["payment_intent"])[1]["status"])
        self.assertEqual(len(set(answers)), 1)
        self.assertIn(answers[0], ("authentication_required", "invoice_payment_intent_requires_action", "requires_action"))


class EventRetentionTest(QuietPeerTest):
    def test_events_older_than_30_days(self):
        self.make("e1", [{}])
        evs = self.p.j("GET", "/v1/events", {"limit": 100})[1]["data"]
        oldest, newest = evs[-1]["id"], evs[0]["id"]
        self.assertEqual(self.p.j("GET", "/v1/events/" + oldest)[0], 200)
        self.p.advance(31 * DAY)
        self.make("e2", [{}])
        ids = [e["id"] for e in self.p.j("GET", "/v1/events", {"limit": 100})[1]["data"]]
        self.assertNotIn(oldest, ids)
        self.assertNotIn(newest, ids)
        st, body = self.p.j("GET", "/v1/events/" + oldest)
        self.assertEqual((st, body["error"]["code"], body["error"]["message"]),
                         (404, "resource_missing", "No such event: '%s'" % oldest))
        for cursor in ("ending_before", "starting_after"):
            st, body = self.p.j("GET", "/v1/events", {"type": "invoice.payment_failed", cursor: newest})
            self.assertEqual((st, body["error"]["code"], body["error"]["param"]), (404, "resource_missing", cursor))


class HostedPageTest(QuietPeerTest):
    def test_customer_retries_on_hosted_page(self):
        made = self.make("h1", [{}])
        first_charge = made["invoice"]["charge"]
        st, rec = self.p.control("POST", "invoices/in_h1/hosted_retry", {"outcome": DECLINE})
        self.assertEqual((st, rec["outcome"]), (200, "declined"))
        fails = self.p.j("GET", "/v1/events", {"type": "invoice.payment_failed", "limit": 2}, version=None)[1]["data"]
        self.assertEqual(fails[0]["data"]["object"]["id"], "in_h1")
        # The hosted page's own request (never a key of Relance's); only Stripe's automatic work has none.
        self.assertTrue(fails[0]["request"]["id"].startswith("req_"), fails[0]["request"])
        self.assertIsNone(fails[0]["request"]["idempotency_key"])
        inv = self.p.j("GET", "/v1/invoices/in_h1")[1]
        self.assertNotEqual(inv["charge"], first_charge)
        self.assertEqual(inv["attempt_count"], 2)
        # The customer pays it: our pay after our last read is an excusable race.
        st, rec = self.p.control("POST", "invoices/in_h1/hosted_retry", {"outcome": "succeed"})
        self.assertEqual(rec["outcome"], "succeeded")
        self.assertEqual(self.p.pay("in_h1", "pm_h1_0", "rl_h1_1")[0], 400)
        races = self.p.audit_for("attempts_on_closed_excusable", "in_h1")
        self.assertEqual(len(races), 1)
        self.assertLess(races[0]["last_read"], races[0]["closed_at"])
        self.assertNotIn("in_h1", self.p.records()["recovered_invoices"])

    def test_hosted_declines_count_for_mastercard(self):
        self.make("h2", [{"brand": "mastercard", "outcomes": [DECLINE]}])
        for _ in range(6):
            self.p.control("POST", "invoices/in_h2/hosted_retry", {"outcome": DECLINE})
        for n in range(5):   # 1 automatic + 6 hosted + 5 ours = 12 declines in 24 h: our last two break the rule
            self.p.pay("in_h2", "pm_h2_0", "rl_h2_%d" % n)
        self.assertEqual([r["declines_24h"] for r in self.p.audit_for("mastercard_declines_24h", "in_h2")], [11, 12])
        self.make("h3", [{"brand": "mastercard", "outcomes": [DECLINE]}])
        for _ in range(12):   # the customer's own attempts are not ours to report
            self.p.control("POST", "invoices/in_h3/hosted_retry", {"outcome": DECLINE})
        self.assertEqual(self.p.audit_for("mastercard_declines_24h", "in_h3"), [])

    def test_hosted_retries_stream(self):
        p = Peer("--seed", "13", "--customers", "10", "--invoices", "30", "--faults", "off", "--hosted-retries", "3",
                 "--card-changes", "0")
        try:
            p.advance(2 * DAY)
            hosted = p.records()["hosted"]
            self.assertGreater(len(hosted), 5)
            self.assertTrue({"succeeded", "declined"} & {h["outcome"] for h in hosted})
        finally:
            p.stop()


class AuditTest(QuietPeerTest):
    def test_closed_invoices_races_and_violations(self):
        for t in ("x1", "x2", "x3"):
            self.make(t, [{}])
        self.p.j("GET", "/v1/invoices/in_x1")            # read, then voided: a race
        self.p.control("POST", "invoices/in_x1/void")
        self.p.control("POST", "invoices/in_x2/void")    # voided, then read: a violation
        self.p.j("GET", "/v1/invoices/in_x2")
        self.p.control("POST", "invoices/in_x3/void")    # never read: a violation
        for t in ("x1", "x2", "x3"):
            self.assertEqual(self.p.pay("in_" + t, "pm_%s_0" % t, "rl_%s" % t)[0], 400)
        self.assertEqual(len(self.p.audit_for("attempts_on_closed_excusable", "in_x1")), 1)
        self.assertEqual(len(self.p.audit_for("attempts_on_closed_violations", "in_x2")), 1)
        self.assertEqual(self.p.audit_for("attempts_on_closed_violations", "in_x3")[0]["last_read"], None)

    def test_never_retry_codes(self):
        self.make("n1", [{}], decline={"decline_code": "stolen_card"})
        self.make("n2", [{"brand": "mastercard"}], decline={"decline_code": "do_not_honor", "network_advice_code": "03"})
        self.make("n3", [{"brand": "visa"}], decline={"decline_code": "do_not_honor", "network_decline_code": "14"})
        self.make("n4", [{}], decline={"decline_code": "do_not_honor", "network_decline_code": "51"})
        for t in ("n1", "n2", "n3", "n4"):
            self.p.pay("in_" + t, "pm_%s_0" % t, "rl_%s_1" % t)
        self.assertEqual([len(self.p.audit_for("after_never_retry", "in_" + t)) for t in ("n1", "n2", "n3", "n4")],
                         [1, 1, 1, 0])
        self.p.control("POST", "payment_methods/pm_n1_0/update", {"exp_year": 2035})
        self.p.pay("in_n1", "pm_n1_0", "rl_n1_2")
        self.assertEqual(len(self.p.audit_for("after_never_retry", "in_n1")), 1)

    def test_visa_reattempts_in_30_days(self):
        self.make("r1", [{"brand": "visa", "outcomes": [DECLINE]}])
        for n in range(17):
            self.p.pay("in_r1", "pm_r1_0", "rl_r1_%d" % n)
        self.assertEqual([r["reattempts_30d"] for r in self.p.audit_for("visa_reattempts_30d", "in_r1")], [16, 17])

    def test_request_accounting(self):
        p = Peer("--seed", "3", "--customers", "2", "--invoices", "2", *QUIET)
        try:
            inv = p.j("GET", "/v1/invoices", {"limit": 1})[1]["data"][0]
            p.j("GET", "/v1/events", {"limit": 1})
            p.j("GET", "/v1/invoices/" + inv["id"])
            p.j("GET", "/v1/payment_intents/" + inv["payment_intent"])
            p.j("GET", "/v1/customers/" + inv["customer"])
            p.j("GET", "/v1/customers/%s/payment_methods" % inv["customer"])
            p.j("GET", "/v1/subscriptions/" + inv["subscription"])
            p.j("GET", "/v1/charges/" + inv["charge"])
            p.pay(inv["id"], "pm_none", "rl_acc")
            ends = p.records()["endpoints"]
            for e in ("invoices.list", "events.list", "invoices.retrieve", "payment_intents.retrieve",
                      "customers.retrieve", "customers.payment_methods", "subscriptions.retrieve", "charges.retrieve",
                      "invoices.pay"):
                self.assertEqual(ends.get(e), 1, (e, ends))
            # Two bursts straddling a second boundary: a sliding window sees them together.
            time.sleep(1.75 - time.time() % 1.0)
            p.many("GET", "/v1/invoices/" + inv["id"], 12)
            time.sleep(1.05 - time.time() % 1.0)
            p.many("GET", "/v1/invoices/" + inv["id"], 12)
            self.assertGreaterEqual(p.records()["max_requests_per_second"], 24)
        finally:
            p.stop()


class DisputeTest(QuietPeerTest):
    def paid_case(self, tag, methods=None, paid=1, **cust):
        """A customer with `paid` paid invoices (their charges can be disputed) and one open failed invoice."""
        sc = case(tag, methods or [{}], **cust)
        sc["paid_invoices"] = [{"id": "in_%s_p%d" % (tag, n), "amount_due": 1500 + n, "currency": "usd",
                                "created": int(time.time()) - (60 - n) * DAY} for n in range(paid)]
        st, made = self.p.control("POST", "scenario", sc)
        self.assertEqual(st, 200, made)
        return made

    def test_chargeback_lifecycle(self):
        made = self.paid_case("d1", paid=2)
        ch = made["paid_invoices"][0]["charge"]
        self.assertEqual(self.p.j("GET", "/v1/charges/" + ch)[1]["disputed"], False)
        st, du = self.p.control("POST", "charges/%s/dispute" % ch, {"reason": "fraudulent"})
        self.assertEqual(st, 200, du)
        self.assertTrue(du["id"].startswith("du_"))
        self.assertEqual((du["object"], du["charge"], du["payment_intent"], du["amount"], du["currency"], du["status"],
                          du["reason"], du["livemode"], du["is_charge_refundable"]),
                         ("dispute", ch, made["paid_invoices"][0]["payment_intent"], 1500, "usd", "needs_response",
                          "fraudulent", False, False))
        self.assertEqual(du["payment_method_details"]["card"]["case_type"], "chargeback")
        self.assertEqual(du["payment_method_details"]["card"]["network_reason_code"], "10.4")   # Visa, fraud
        ev = du["evidence_details"]
        self.assertEqual((ev["has_evidence"], ev["past_due"], ev["submission_count"]), (False, False, 0))
        self.assertTrue(7 * DAY <= ev["due_by"] - du["created"] <= 21 * DAY and ev["due_by"] % DAY == DAY - 1, ev)
        self.assertEqual(len(du["balance_transactions"]), 1)
        self.assertEqual(du["balance_transactions"][0]["amount"], -1500)
        # Retrievable, listed by charge and by PaymentIntent, and the charge says so.
        self.assertEqual(self.p.j("GET", "/v1/disputes/" + du["id"])[1]["status"], "needs_response")
        by_charge = self.p.j("GET", "/v1/disputes", {"charge": ch})[1]
        self.assertEqual(([d["id"] for d in by_charge["data"]], by_charge["url"]), ([du["id"]], "/v1/disputes"))
        by_pi = self.p.j("GET", "/v1/disputes", {"payment_intent": du["payment_intent"]})[1]["data"]
        self.assertEqual([d["id"] for d in by_pi], [du["id"]])
        self.assertEqual(self.p.j("GET", "/v1/disputes", {"charge": made["paid_invoices"][1]["charge"]})[1]["data"], [])
        expanded = self.p.j("GET", "/v1/disputes/%s?expand[]=charge" % du["id"])[1]
        self.assertEqual((expanded["charge"]["id"], expanded["charge"]["disputed"]), (ch, True))
        self.assertEqual(self.p.j("GET", "/v1/disputes/du_missing")[1]["error"]["code"], "resource_missing")
        self.assertEqual(self.p.j("GET", "/v1/disputes", {"bogus": "1"})[0], 400)
        # Events carry the Dispute, not the Charge; a chargeback withdraws the money at once.
        evs = self.p.j("GET", "/v1/events", [("types[]", "charge.dispute.created"),
                                             ("types[]", "charge.dispute.funds_withdrawn"), ("limit", 10)])[1]["data"]
        mine = [e for e in evs if e["data"]["object"]["id"] == du["id"]]
        self.assertEqual(sorted(e["type"] for e in mine), ["charge.dispute.created", "charge.dispute.funds_withdrawn"])
        self.assertTrue(all(e["data"]["object"]["object"] == "dispute" and e["data"]["object"]["charge"] == ch
                            for e in mine))
        # One dispute per charge; a failed charge cannot be disputed.
        self.assertEqual(self.p.control("POST", "charges/%s/dispute" % ch, {})[0], 409)
        self.assertEqual(self.p.control("POST", "charges/%s/dispute" % made["invoice"]["charge"], {})[0], 400)
        self.assertEqual(self.p.control("POST", "charges/ch_missing/dispute", {})[0], 404)
        self.assertEqual(self.p.control("POST", "charges/%s/dispute" % made["paid_invoices"][1]["charge"],
                                        {"reason": "because"})[0], 400)
        # Evidence in, then won: the money comes back.
        st, du2 = self.p.control("POST", "disputes/%s/update" % du["id"], {"status": "under_review"})
        self.assertEqual((du2["status"], du2["evidence_details"]["submission_count"]), ("under_review", 1))
        self.assertEqual(self.p.control("POST", "disputes/%s/close" % du["id"], {"status": "warning_closed"})[0], 400)
        st, du3 = self.p.control("POST", "disputes/%s/close" % du["id"], {"status": "won"})
        self.assertEqual((st, du3["status"], [t["amount"] for t in du3["balance_transactions"]]), (200, "won", [-1500, 1500]))
        closing = [e for e in self.p.j("GET", "/v1/events", {"limit": 20})[1]["data"] if e["data"]["object"]["id"] == du["id"]]
        types = {e["type"] for e in closing}
        self.assertTrue({"charge.dispute.updated", "charge.dispute.closed", "charge.dispute.funds_reinstated"} <= types)
        closed = next(e for e in closing if e["type"] == "charge.dispute.closed")
        self.assertEqual((closed["data"]["object"]["status"], closed["data"]["previous_attributes"]),
                         ("won", {"status": "under_review"}))
        self.assertEqual(self.p.control("POST", "disputes/%s/close" % du["id"], {"status": "lost"})[0], 400)
        self.assertEqual(self.p.control("POST", "disputes/du_missing/close", {"status": "lost"})[0], 404)

    def test_inquiry_escalates_to_chargeback(self):
        made = self.paid_case("d2", [{"brand": "amex"}])
        ch = made["paid_invoices"][0]["charge"]
        st, du = self.p.control("POST", "charges/%s/dispute" % ch, {"status": "warning_needs_response",
                                                                    "reason": "subscription_canceled"})
        self.assertEqual((du["status"], du["is_charge_refundable"], du["balance_transactions"]),
                         ("warning_needs_response", True, []))
        self.assertEqual(du["payment_method_details"]["card"], {"brand": "amex", "case_type": "inquiry",
                                                               "network_reason_code": "C28"})
        self.assertEqual(self.events_of("charge.dispute.funds_withdrawn", du["id"]), [])   # an inquiry takes nothing
        self.assertEqual(self.p.control("POST", "disputes/%s/close" % du["id"], {"status": "won"})[0], 400)
        st, du = self.p.control("POST", "disputes/%s/update" % du["id"], {"status": "needs_response"})
        self.assertEqual((du["status"], du["is_charge_refundable"], du["payment_method_details"]["card"]["case_type"]),
                         ("needs_response", False, "chargeback"))
        self.assertEqual(len(self.events_of("charge.dispute.funds_withdrawn", du["id"])), 1)
        upd = self.p.j("GET", "/v1/events", {"type": "charge.dispute.updated", "limit": 1})[1]["data"][0]
        self.assertEqual(upd["data"]["previous_attributes"]["status"], "warning_needs_response")
        self.assertEqual(self.p.control("POST", "disputes/%s/close" % du["id"], {"status": "warning_closed"})[0], 400)
        self.assertEqual(self.p.control("POST", "disputes/%s/close" % du["id"], {"status": "lost"})[1]["status"], "lost")
        self.assertEqual(self.events_of("charge.dispute.funds_reinstated", du["id"]), [])

    def test_customer_dispute_holds_our_pays(self):
        made = self.paid_case("d3", [{"outcomes": [DECLINE, DECLINE, DECLINE]}], paid=2)
        st, du = self.p.control("POST", "customers/cus_d3/dispute", {})
        self.assertEqual((st, du["charge"]), (200, made["paid_invoices"][1]["charge"]))   # the latest charge
        self.assertEqual(self.p.j("GET", "/v1/disputes/" + du["id"])[1]["status"], "needs_response")
        self.p.pay("in_d3", "pm_d3_0", "rl_d3_1")
        held = self.p.audit_for("pays_during_dispute", "in_d3")
        self.assertEqual(len(held), 1)
        self.assertEqual((held[0]["customer"], [d["id"] for d in held[0]["disputes"]]), ("cus_d3", [du["id"]]))
        self.p.control("POST", "disputes/%s/close" % du["id"], {"status": "lost"})
        self.p.pay("in_d3", "pm_d3_0", "rl_d3_2")
        self.assertEqual(len(self.p.audit_for("pays_during_dispute", "in_d3")), 1)   # decided: no longer held
        # The next dispute takes the older charge; then there is none left.
        self.assertEqual(self.p.control("POST", "customers/cus_d3/dispute", {})[1]["charge"],
                         made["paid_invoices"][0]["charge"])
        self.assertEqual(self.p.control("POST", "customers/cus_d3/dispute", {})[0], 400)
        self.assertEqual(self.p.control("POST", "customers/cus_none/dispute", {})[0], 404)

    def test_bank_debit_dispute_is_lost_at_once(self):
        made = self.paid_case("d4", [{"type": "sepa_debit"}], country="DE")
        st, du = self.p.control("POST", "customers/cus_d4/dispute", {})
        self.assertEqual((du["status"], du["reason"], du["evidence_details"]["due_by"], du["payment_method_details"]),
                         ("lost", "customer_initiated", 0, None))
        types = [e["type"] for e in self.p.control("GET", "events")[1]["events"] if e["object"] == du["id"]]
        self.assertEqual(types, ["charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.closed"])
        self.assertEqual(self.p.audit_for("pays_during_dispute", "in_d4"), [])
        self.p.pay("in_d4", "pm_d4_0", "rl_d4_1")
        self.assertEqual(self.p.audit_for("pays_during_dispute", "in_d4"), [])

    def test_disputes_stream(self):
        p = Peer("--seed", "14", "--customers", "30", "--invoices", "60", "--faults", "off", "--disputes", "0.5",
                 "--card-changes", "0", "--hosted-retries", "0", "--hosted-races", "0", "--portal-visits", "0")
        try:
            p.advance(4 * DAY)
            recs = p.records()["disputes"]
            self.assertGreater(len(recs), 3, recs)
            opened = {d["id"]: d for d in p.control("GET", "disputes")[1]["disputes"]}
            for r in recs:
                self.assertEqual(r["source"], "stream")
                du = opened[r["dispute"]]
                ch = p.j("GET", "/v1/charges/" + du["charge"])[1]
                self.assertEqual((ch["status"], ch["disputed"], ch["customer"]), ("succeeded", True, r["customer"]))
            statuses = {d["status"] for d in opened.values()}
            self.assertTrue(statuses & {"needs_response", "warning_needs_response", "lost"}, statuses)
            # Nobody answers: when evidence is due, chargebacks are lost, inquiries close or escalate.
            p.advance(45 * DAY)
            after = p.control("GET", "disputes")[1]["disputes"]
            early = [d for d in after if d["id"] in opened]
            self.assertTrue(all(d["status"] in ("lost", "warning_closed") for d in early), [d["status"] for d in early])
            self.assertTrue(any(e["type"] == "charge.dispute.closed" for e in p.control("GET", "events")[1]["events"]))
        finally:
            p.stop()


class ContactAndLinksTest(QuietPeerTest):
    def test_population_contact_details(self):
        p = Peer("--seed", "7", "--customers", "60", "--invoices", "10", *QUIET)
        try:
            custs = set()
            for e in p.control("GET", "events")[1]["events"]:
                custs.add(p.j("GET", "/v1/invoices/" + e["object"])[1]["customer"])
            emails, names, locales = [], [], []
            for inv in p.j("GET", "/v1/invoices", {"limit": 100})[1]["data"]:
                c = p.j("GET", "/v1/customers/" + inv["customer"])[1]
                emails.append(c["email"])
                names.append(c["name"])
                locales.append(tuple(c["preferred_locales"]))
                self.assertEqual(inv["customer_email"], c["email"])
            self.assertTrue(all(e is None or e.endswith("@example.test") for e in emails), emails)
            self.assertTrue(any(emails))
            self.assertTrue(any(names) and None in names, names)
            self.assertIn((), locales)
            self.assertTrue({l[0] for l in locales if l} - {"en", "en-US", "en-GB"}, locales)   # not all English
        finally:
            p.stop()
        made = self.make("c1", [{}], email="ana@example.test", name="Ana Lima", preferred_locales=["pt-BR", "en"])
        self.assertEqual((made["customer"]["email"], made["customer"]["name"], made["customer"]["preferred_locales"]),
                         ("ana@example.test", "Ana Lima", ["pt-BR", "en"]))
        self.assertEqual(self.make("c2", [{}])["customer"]["preferred_locales"], [])

    def test_hosted_invoice_url(self):
        made = self.make("l1", [{}])
        url = made["invoice"]["hosted_invoice_url"]
        self.assertRegex(url, r"^https://invoice\.stripe\.test/i/acct_\w+/test_[\w-]+\?s=ap$")
        self.assertTrue(made["invoice"]["invoice_pdf"].startswith("https://pay.stripe.test/invoice/acct_"))
        for version in (ACACIA, BASIL):
            self.assertEqual(self.p.j("GET", "/v1/invoices/in_l1", version=version)[1]["hosted_invoice_url"], url)
        self.assertEqual(made["event"]["data"]["object"]["hosted_invoice_url"], url)
        self.assertNotEqual(self.make("l2", [{}])["invoice"]["hosted_invoice_url"], url)
        sc = case("l3", [{}])
        sc["invoice"]["draft"] = True
        st, draft = self.p.control("POST", "scenario", sc)
        d = draft["drafts"][0]
        self.assertEqual((d["status"], d["hosted_invoice_url"], d["number"], d["payment_intent"]), ("draft", None, None, None))
        self.assertEqual(self.p.pay("in_l3", "pm_l3_0", "rl_l3")[0], 400)
        # The customer opens it: a link lives 30 days from finalization, and 10 days from any API read.
        self.assertEqual(self.p.control("POST", "links/visit", {"url": url})[1]["outcome"], "opened")
        self.p.advance(31 * DAY)
        st, rec = self.p.control("POST", "links/visit", {"url": url})
        self.assertEqual((st, rec["outcome"]), (410, "expired"))
        dead = [r for r in self.p.records()["audit_records"]["links_dead_on_click"] if r["url"] == url]
        self.assertEqual([(r["kind"], r["invoice"], r["reason"]) for r in dead], [("invoice", "in_l1", "invoice link expired")])
        self.p.j("GET", "/v1/invoices/in_l1")
        st, rec = self.p.control("POST", "links/visit", {"url": url, "action": "pay", "outcome": "succeed"})
        self.assertEqual((st, rec["outcome"]), (200, "succeeded"))
        self.assertEqual(self.p.j("GET", "/v1/invoices/in_l1")[1]["status"], "paid")
        self.assertEqual(self.p.control("POST", "links/visit", {"url": "https://invoice.stripe.test/i/x"})[0], 404)

    def test_billing_portal_session(self):
        self.make("l4", [{}], preferred_locales=["fr-FR"])
        st, h, b = self.p.call("POST", "/v1/billing_portal/sessions",
                               {"customer": "cus_l4", "return_url": "https://app.example.test/billing"},
                               {"Idempotency-Key": "rl_portal_l4"})
        s = json.loads(b)
        self.assertEqual(st, 200, s)
        self.assertTrue(s["id"].startswith("bps_"))
        self.assertEqual((s["object"], s["customer"], s["return_url"], s["livemode"], s["locale"], s["flow"]),
                         ("billing_portal.session", "cus_l4", "https://app.example.test/billing", False, None, None))
        self.assertRegex(s["url"], r"^https://billing\.stripe\.test/p/session/test_\w+$")
        st, h2, b2 = self.p.call("POST", "/v1/billing_portal/sessions",
                                 {"customer": "cus_l4", "return_url": "https://app.example.test/billing"},
                                 {"Idempotency-Key": "rl_portal_l4"})
        self.assertEqual((json.loads(b2)["id"], h2["Idempotent-Replayed"]), (s["id"], "true"))
        self.assertEqual(self.p.records()["endpoints"]["billing_portal.sessions.create"], 2)
        st, body = self.p.j("POST", "/v1/billing_portal/sessions", {"return_url": "https://x.test"})
        self.assertEqual((st, body["error"]["code"], body["error"]["param"]), (400, "parameter_missing", "customer"))
        st, body = self.p.j("POST", "/v1/billing_portal/sessions", {"customer": "cus_nobody"})
        self.assertEqual((st, body["error"]["code"]), (404, "resource_missing"))
        st, body = self.p.j("POST", "/v1/billing_portal/sessions", {"customer": "cus_l4", "flow_data[type]": "nope"})
        self.assertEqual(st, 400)
        st, flow = self.p.j("POST", "/v1/billing_portal/sessions",
                            {"customer": "cus_l4", "flow_data[type]": "payment_method_update", "locale": "fr"})
        self.assertEqual((flow["flow"]["type"], flow["flow"]["after_completion"]["type"], flow["locale"]),
                         ("payment_method_update", "portal_homepage", "fr"))
        # Five minutes to open it; once open, an hour.
        meta = self.p.control("GET", "billing_portal/sessions/" + s["id"])[1]
        self.assertEqual((meta["expires_at"] - s["created"], meta["visited_at"]), (300, None))
        self.p.advance(301)
        st, rec = self.p.control("POST", "links/visit", {"url": s["url"], "action": "update_card"})
        self.assertEqual((st, rec["outcome"], rec["reason"]), (410, "expired", "session expired"))
        st, fresh = self.p.j("POST", "/v1/billing_portal/sessions", {"customer": "cus_l4"})
        st, rec = self.p.control("POST", "links/visit", {"url": fresh["url"], "action": "update_card",
                                                         "card": {"brand": "mastercard"}})
        self.assertEqual((st, rec["outcome"]), (200, "updated_card"))
        self.assertEqual(self.p.j("GET", "/v1/customers/cus_l4")[1]["invoice_settings"]["default_payment_method"],
                         rec["payment_method"])
        self.p.advance(1800)
        self.assertEqual(self.p.control("POST", "links/visit", {"url": fresh["url"]})[0], 200)
        self.p.advance(3601)
        self.assertEqual(self.p.control("POST", "links/visit", {"url": fresh["url"]})[0], 410)

    def test_portal_links_opened_late_are_dead(self):
        p = Peer("--seed", "15", "--customers", "0", "--invoices", "0", "--faults", "off", "--portal-visits", "1",
                 "--card-changes", "0", "--hosted-retries", "0", "--disputes", "0", "--hosted-races", "0")
        try:
            p.control("POST", "scenario", case("l5", [{}]))
            for _ in range(20):
                self.assertEqual(p.j("POST", "/v1/billing_portal/sessions", {"customer": "cus_l5"})[0], 200)
            p.advance(3 * DAY)
            visits = p.records()["link_visits"]
            self.assertEqual(len(visits), 20)
            self.assertGreaterEqual(sum(1 for v in visits if v["outcome"] == "expired"), 15, visits)
            self.assertEqual(len(p.records()["audit_records"]["links_dead_on_click"]),
                             sum(1 for v in visits if v["outcome"] == "expired"))
        finally:
            p.stop()


class DunningAdversityTest(QuietPeerTest):
    def test_events_of_one_action_out_of_order(self):
        """A payment's four events are emitted together and listed in any order among themselves; a later
        action's events always list before, so a cursor never hides one."""
        p = Peer("--seed", "16", "--customers", "0", "--invoices", "0", "--faults", "on", "--fault-500", "0",
                 "--fault-429", "0", "--fault-lock-timeout", "0", "--fault-409", "0", "--fault-event-order", "1",
                 "--streams", "off")
        try:
            for n in range(6):
                p.control("POST", "scenario", case("o%d" % n, [{"outcomes": ["succeed"]}]))
                p.pay("in_o%d" % n, "pm_o%d_0" % n, "rl_o%d" % n)
            log = [e["id"] for e in reversed(p.control("GET", "events")[1]["events"])]   # newest first
            listed = p.j("GET", "/v1/events", {"limit": 100})[1]["data"]
            self.assertEqual(sorted(e["id"] for e in listed), sorted(log))
            self.assertEqual([e["created"] for e in listed], sorted((e["created"] for e in listed), reverse=True))
            self.assertNotEqual([e["id"] for e in listed], log)
            # The same order page by page.
            walked, after = [], None
            while True:
                page = p.j("GET", "/v1/events", dict({"limit": 3}, **({"starting_after": after} if after else {})))[1]
                walked += [e["id"] for e in page["data"]]
                if not page["has_more"]:
                    break
                after = walked[-1]
            self.assertEqual(walked, [e["id"] for e in listed])
            # Newer actions list before the newest event seen: ending_before finds all of them.
            for n in range(6, 9):
                p.control("POST", "scenario", case("o%d" % n, [{"outcomes": ["succeed"]}]))
                p.pay("in_o%d" % n, "pm_o%d_0" % n, "rl_o%d" % n)
            newer = p.j("GET", "/v1/events", {"limit": 100, "ending_before": listed[0]["id"]})[1]["data"]
            log = [e["id"] for e in reversed(p.control("GET", "events")[1]["events"])]
            self.assertEqual(sorted(e["id"] for e in newer), sorted(log[:len(log) - len(listed)]))
            p.control("POST", "random_faults", {"event_order": 0})
            self.assertEqual([e["id"] for e in p.j("GET", "/v1/events", {"limit": 100})[1]["data"]], log)
            st, body = p.j("GET", "/v1/events", [("types[]", "invoice.paid.%d" % i) for i in range(21)])
            self.assertEqual((st, body["error"]["param"]), (400, "types"))
            self.assertEqual(p.j("GET", "/v1/events", [("types[]", "invoice.paid.%d" % i) for i in range(20)])[0], 200)
        finally:
            p.stop()

    def test_customer_pays_on_hosted_page_as_a_retry_is_planned(self):
        p = Peer("--seed", "17", "--customers", "0", "--invoices", "0", "--faults", "off", "--hosted-races", "1",
                 "--card-changes", "0", "--hosted-retries", "0", "--disputes", "0", "--portal-visits", "0")
        try:
            p.control("POST", "scenario", case("r1", [{"outcomes": [DECLINE]}]))
            self.assertEqual(p.j("GET", "/v1/invoices/in_r1")[1]["status"], "open")   # our read before a retry
            p.advance(30)
            self.assertEqual(p.control("GET", "invoices?status=paid")[1]["invoices"][0]["id"], "in_r1")
            self.assertEqual(p.pay("in_r1", "pm_r1_0", "rl_r1")[0], 400)   # the customer was first: a race
            rec = p.records()
            self.assertEqual([h["source"] for h in rec["hosted"]], ["hosted_race"])
            self.assertEqual(len([r for r in rec["audit_records"]["attempts_on_closed_excusable"]
                                  if r["invoice"] == "in_r1"]), 1)
            self.assertEqual(rec["audit"]["attempts_on_closed_violations"], 0)
        finally:
            p.stop()

    def test_card_made_default_later_or_never(self):
        made = self.make("r2", [{}])
        old = made["customer"]["invoice_settings"]["default_payment_method"]
        st, pm = self.p.control("POST", "customers/cus_r2/payment_methods", {"default": True, "default_after": 600})
        self.assertEqual(len(self.events_of("payment_method.attached", pm["id"])), 1)
        self.assertEqual(self.p.j("GET", "/v1/customers/cus_r2")[1]["invoice_settings"]["default_payment_method"], old)
        self.p.advance(601)
        self.assertEqual(self.p.j("GET", "/v1/customers/cus_r2")[1]["invoice_settings"]["default_payment_method"],
                         pm["id"])
        upd = self.p.j("GET", "/v1/events", {"type": "customer.updated", "limit": 1})[1]["data"][0]
        self.assertEqual(upd["data"]["previous_attributes"], {"invoice_settings": {"default_payment_method": old}})
        # Detached before the merchant's code got to it: never the default.
        st, pm2 = self.p.control("POST", "customers/cus_r2/payment_methods", {"default": True, "default_after": 600})
        self.p.control("POST", "payment_methods/%s/detach" % pm2["id"])
        self.p.advance(601)
        self.assertEqual(self.p.j("GET", "/v1/customers/cus_r2")[1]["invoice_settings"]["default_payment_method"],
                         pm["id"])

    def test_card_changes_stream_is_untidy(self):
        p = Peer("--seed", "7", "--customers", "20", "--invoices", "40", "--faults", "off", "--card-changes", "2",
                 "--hosted-retries", "0", "--disputes", "0", "--hosted-races", "0")
        try:
            for _ in range(3 * 48):   # half an hour at a time: events are stamped when the clock gets there
                p.advance(1800)
            changes = p.records()["changes"]
            later = [c for c in changes if c["action"] == "attach_default" and c["default_after"]]
            self.assertTrue(later, changes)
            events = p.control("GET", "events")[1]["events"]
            attached = {e["object"]: e["created"] for e in events if e["type"] == "payment_method.attached"}
            # Each later default's customer.updated comes after its attachment, or never (detached first).
            st, evs = p.j("GET", "/v1/events", {"type": "customer.updated", "limit": 100})
            made_default = {e["data"]["object"]["invoice_settings"]["default_payment_method"]: e["created"]
                            for e in evs["data"]}
            delays = [made_default[c["payment_method"]] - attached[c["payment_method"]] for c in later
                      if c["payment_method"] in made_default]
            self.assertTrue(delays and all(d >= 60 for d in delays), delays)
            auto = [c for c in changes if c["action"] == "auto_update"]
            self.assertTrue(auto, changes)
            st, evs = p.j("GET", "/v1/events", {"type": "payment_method.automatically_updated", "limit": 10})
            self.assertEqual(sorted(e["data"]["object"]["id"] for e in evs["data"]), sorted(c["payment_method"] for c in auto))
            self.assertTrue(all("exp_year" in e["data"]["previous_attributes"]["card"] for e in evs["data"]))
        finally:
            p.stop()

    def test_network_updater_changes_expiry_only(self):
        self.make("r3", [{"exp_year": 2020}], decline={"decline_code": "stolen_card"})
        self.p.pay("in_r3", "pm_r3_0", "rl_r3_1")
        st, pm = self.p.control("POST", "payment_methods/pm_r3_0/update", {"exp_year": 2034, "automatic": True})
        self.assertEqual(pm["card"]["exp_year"], 2034)
        self.assertEqual(len(self.events_of("payment_method.automatically_updated", "pm_r3_0")), 1)
        self.assertEqual(self.events_of("payment_method.updated", "pm_r3_0"), [])
        before = len(self.p.audit_for("after_never_retry", "in_r3"))
        st, h, b = self.p.pay("in_r3", "pm_r3_0", "rl_r3_2")   # still a stolen card: nobody acted
        self.assertEqual(json.loads(b)["error"]["decline_code"], "stolen_card")
        self.assertEqual(len(self.p.audit_for("after_never_retry", "in_r3")), before + 1)

    def test_cancelled_subscription_stops_collection(self):
        sc = case("r4", [{}])
        sc["invoices"] = [sc.pop("invoice"), {"id": "in_r4b", "amount_due": 900, "currency": "usd"}]
        self.p.control("POST", "scenario", sc)
        st, sub = self.p.control("POST", "subscriptions/sub_r4/cancel", {})
        self.assertEqual(sub["status"], "canceled")
        for iid in ("in_r4", "in_r4b"):
            inv = self.p.j("GET", "/v1/invoices/" + iid)[1]
            self.assertEqual((inv["status"], inv["auto_advance"]), ("open", False))
        log = [e for e in self.p.control("GET", "events")[1]["events"] if e["object"] in ("sub_r4", "in_r4", "in_r4b")]
        self.assertEqual([e["type"] for e in log[-3:]],
                         ["customer.subscription.deleted", "invoice.updated", "invoice.updated"])
        for settle, status, etype in (("void", "void", "invoice.voided"),
                                      ("mark_uncollectible", "uncollectible", "invoice.marked_uncollectible")):
            tag = "r5" if settle == "void" else "r6"
            self.make(tag, [{}])
            self.p.control("POST", "subscriptions/sub_%s/cancel" % tag, {"invoices": settle})
            self.assertEqual(self.p.j("GET", "/v1/invoices/in_" + tag)[1]["status"], status)
            types = [e["type"] for e in self.p.control("GET", "events")[1]["events"]
                     if e["object"] in ("sub_" + tag, "in_" + tag)]
            self.assertEqual(types[-2:], ["customer.subscription.deleted", etype])
        self.assertEqual(self.p.control("POST", "subscriptions/sub_r4/cancel", {"invoices": "burn"})[0], 400)

    def test_paid_out_of_band_through_the_api_emits_invoice_paid(self):
        self.make("r7", [{}])
        st, h, b = self.p.pay("in_r7", "pm_r7_0", "rl_r7", {"paid_out_of_band": "true"})
        self.assertEqual((st, json.loads(b)["status"]), (200, "paid"))
        ev = self.p.j("GET", "/v1/events", {"type": "invoice.paid", "limit": 1})[1]["data"][0]
        self.assertEqual((ev["data"]["object"]["id"], ev["request"]["idempotency_key"]), ("in_r7", "rl_r7"))


if __name__ == "__main__":
    unittest.main()
