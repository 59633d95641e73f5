#!/usr/bin/env python3
"""A Stripe-shaped fixture server for tests of the Stripe provider adapter.

Speaks the part of Stripe's v1 API (version 2024-12-18.acacia) that the
adapter uses, on loopback, with a seeded, deterministic population of
customers, payment methods, subscriptions and open invoices whose first
automatic payment failed, plus a control API under /_fixture/ for tests.

Usage:
    python3 scripts/peers/stripe_fixture.py --port 0 --api-key sk_test_fixture \
        [--seed 7] [--customers 50] [--invoices 200] [--failure-rate PER_SECOND]

The first stdout line is {"port": N} (flushed); one line per request goes to
stderr. Python 3 standard library only.

Stripe API served (Authorization: Bearer <api key>; form-encoded bodies):
    GET  /v1/events?type=..&limit=..&starting_after=..&created[gte]=..
    GET  /v1/invoices?status=..&collection_method=..&customer=..&limit=..
    GET  /v1/invoices/{id}
    POST /v1/invoices/{id}/pay            payment_method, off_session
    GET  /v1/payment_intents/{id}
    GET  /v1/customers/{id}
    GET  /v1/customers/{id}/payment_methods?limit=..&type=..
    GET  /v1/payment_methods/{id}
    GET  /v1/subscriptions/{id}
    GET  /v1/charges/{id}

Control API (no auth, JSON in and out):
    POST   /_fixture/scenario                    create a described case
    POST   /_fixture/faults                      queue a fault
    DELETE /_fixture/faults                      clear queued faults
    GET    /_fixture/faults                      list queued faults
    POST   /_fixture/invoices/{id}/pay_out_of_band
    POST   /_fixture/invoices/{id}/void
    POST   /_fixture/invoices/{id}/mark_uncollectible
    POST   /_fixture/subscriptions/{id}/cancel
    POST   /_fixture/customers/{id}/delete
    POST   /_fixture/clock                       {"advance_seconds": N}
    GET    /_fixture/records                     attempts and audit counters
    GET    /_fixture/requests[?path_prefix=..&since=N]   request log
    DELETE /_fixture/requests                    clear the request log
"""

import argparse
import hashlib
import json
import random
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_VERSION = "2024-12-18.acacia"
IDEMPOTENCY_TTL = 24 * 3600
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
MAX_BODY = 1 << 20

# --------------------------------------------------------------------------
# Decline vocabulary (codes and messages as Stripe documents them)

MESSAGES = {
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "authentication_required":
        "Your card was declined. This transaction requires authentication.",
    "incorrect_number": "Your card number is incorrect.",
    "processing_error":
        "An error occurred while processing your card. Try again in a little bit.",
    "card_velocity_exceeded":
        "Your card was declined for making repeated attempts too frequently "
        "or exceeding its amount limit.",
}
GENERIC_MESSAGE = "Your card was declined."
HARD_DECLINES = {"stolen_card", "lost_card", "fraudulent", "pickup_card",
                 "restricted_card", "incorrect_number", "invalid_account"}
DOC_URLS = {
    "card_declined": "https://stripe.com/docs/error-codes/card-declined",
    "expired_card": "https://stripe.com/docs/error-codes/expired-card",
    "authentication_required":
        "https://stripe.com/docs/error-codes/authentication-required",
}

# Weighted mix of initial failures: (weight, decline_code)
DECLINE_MIX = [
    (30, "insufficient_funds"), (24, "do_not_honor"), (7, "generic_decline"),
    (8, "expired_card"), (3, "stolen_card"), (3, "fraudulent"),
    (2, "lost_card"), (8, "authentication_required"),
    (4, "try_again_later"), (3, "card_velocity_exceeded"),
    (2, "processing_error"),
]
VISA_NETWORK_DECLINE = {"insufficient_funds": "51", "do_not_honor": "05",
                        "generic_decline": "05", "stolen_card": "04",
                        "lost_card": "04", "fraudulent": "04",
                        "incorrect_number": "14", "try_again_later": "05",
                        "card_velocity_exceeded": "61"}
COUNTRIES = [("FR", "Europe/Paris", "eur"), ("DE", "Europe/Berlin", "eur"),
             ("US", "America/New_York", "usd"), ("GB", "Europe/London", "gbp"),
             ("ES", "Europe/Madrid", "eur"), ("NL", "Europe/Amsterdam", "eur"),
             ("US", "America/Los_Angeles", "usd"), ("IT", "Europe/Rome", "eur")]


def decline_fields(decline_code, brand=None, rng=None):
    """Build the decline fields Stripe reports for an issuer decline."""
    r = rng or random.Random(0)
    if decline_code == "expired_card":
        code = "expired_card"
    elif decline_code == "authentication_required":
        code = "authentication_required"
    elif decline_code == "processing_error":
        code = "processing_error"
    elif decline_code == "incorrect_number":
        code = "incorrect_number"
    else:
        code = "card_declined"
    if decline_code in HARD_DECLINES:
        advice = "do_not_try_again"
    elif decline_code == "expired_card":
        advice = "confirm_card_data"
    elif decline_code in ("authentication_required", "processing_error"):
        advice = None
    else:
        advice = "try_again_later"
    nac = None
    ndc = None
    if brand == "mastercard":
        if decline_code in HARD_DECLINES:
            nac = "03"
        elif decline_code in ("insufficient_funds", "do_not_honor",
                              "try_again_later", "card_velocity_exceeded"):
            nac = r.choice([None, None, "24", "03" if decline_code == "do_not_honor" else "24"])
        if nac == "03":
            advice = "do_not_try_again"
    elif brand == "visa" and r.random() < 0.8:
        ndc = VISA_NETWORK_DECLINE.get(decline_code)
    return {
        "code": code,
        "decline_code": None if code == "processing_error" else decline_code,
        "advice_code": advice,
        "network_advice_code": nac,
        "network_decline_code": ndc,
        "message": MESSAGES.get(decline_code, MESSAGES.get(code, GENERIC_MESSAGE)),
    }


def complete_outcome(o):
    """Fill a (possibly partial) decline description given by a test."""
    dc = o.get("decline_code")
    code = o.get("code") or ("expired_card" if dc == "expired_card" else
                             "authentication_required" if dc == "authentication_required"
                             else "card_declined")
    return {
        "code": code,
        "decline_code": dc,
        "advice_code": o.get("advice_code"),
        "network_advice_code": o.get("network_advice_code"),
        "network_decline_code": o.get("network_decline_code"),
        "message": o.get("message") or MESSAGES.get(dc or "", MESSAGES.get(code, GENERIC_MESSAGE)),
    }


def is_hard(fields):
    return (fields.get("decline_code") in HARD_DECLINES
            or fields.get("network_advice_code") in ("03", "21"))


def mask_key(key):
    head = ""
    parts = key.split("_")
    if len(parts) >= 3:
        head = parts[0] + "_" + parts[1] + "_"
    rest = key[len(head):]
    if len(rest) <= 4:
        return head + "*" * len(rest)
    return head + "*" * (len(rest) - 4) + rest[-4:]


def unit_hash(*parts):
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return struct.unpack(">Q", h[:8])[0] / 2.0 ** 64


class ApiError(Exception):
    def __init__(self, status, etype, message, code=None, param=None,
                 headers=None, extra=None):
        super().__init__(message)
        self.status = status
        self.body = {"type": etype, "message": message}
        if code:
            self.body["code"] = code
            self.body["doc_url"] = "https://stripe.com/docs/error-codes/" + code.replace("_", "-")
        if param:
            self.body["param"] = param
        if extra:
            self.body.update(extra)
        self.headers = headers or {}


def missing(kind, oid, param="id"):
    return ApiError(404, "invalid_request_error", "No such %s: '%s'" % (kind, oid),
                    code="resource_missing", param=param)


# --------------------------------------------------------------------------
# State


class Fixture:
    def __init__(self, seed, api_key, customers, invoices):
        self.lock = threading.RLock()
        self.seed = seed
        self.api_key = api_key
        self.clock_offset = 0.0
        self.start = int(time.time())
        self.counters = {}
        self.customers = {}
        self.methods = {}           # pm id -> payment method (public fields)
        self.method_state = {}      # pm id -> {"outcomes": [...], "hard": fields|None, "auth": bool}
        self.subscriptions = {}
        self.invoices = {}
        self.intents = {}
        self.charges = {}
        self.events = []            # oldest first
        self.idempotency = {}       # key -> entry
        self.inflight = set()
        self.faults = []
        self.requests = []
        self.request_count = 0
        self.per_second = {}
        self.attempts = []
        self.audit = {"double_charges": 0, "attempts_on_closed": 0,
                      "idempotency_conflicts": 0}
        self.paid_count = {}        # invoice id -> number of payments
        self.gen_rng = random.Random("%s-stream" % seed)
        self.populate(customers, invoices)

    # ---- ids and events
    def now(self):
        return int(time.time() + self.clock_offset)

    def new_id(self, prefix):
        n = self.counters.get(prefix, 0) + 1
        self.counters[prefix] = n
        h = hashlib.sha256(("%s|%s|%d" % (self.seed, prefix, n)).encode()).digest()
        return prefix + "".join(ALNUM[b % len(ALNUM)] for b in h[:24])

    def add_event(self, etype, obj, created=None, request=None):
        ev = {"id": self.new_id("evt_"), "object": "event", "type": etype,
              "created": created if created is not None else self.now(),
              "api_version": API_VERSION, "livemode": False,
              "pending_webhooks": 0,
              "request": request or {"id": None, "idempotency_key": None},
              "data": {"object": json.loads(json.dumps(obj))}}
        self.events.append(ev)
        return ev

    # ---- object builders
    def make_customer(self, cid, country, tz, email, metadata, created,
                      address=True):
        c = {"id": cid, "object": "customer", "email": email,
             "name": None, "created": created, "livemode": False,
             "address": ({"city": None, "country": country, "line1": None,
                          "line2": None, "postal_code": None, "state": None}
                         if address else None),
             "currency": None, "delinquent": True, "default_source": None,
             "description": None, "metadata": metadata,
             "invoice_settings": {"default_payment_method": None,
                                  "custom_fields": None, "footer": None,
                                  "rendering_options": None}}
        if tz and "time_zone" not in metadata:
            metadata["time_zone"] = tz
        self.customers[cid] = c
        return c

    def make_method(self, pid, cid, mtype, created, **kw):
        pm = {"id": pid, "object": "payment_method", "type": mtype,
              "customer": cid, "created": created, "livemode": False,
              "metadata": {}, "allow_redisplay": "unspecified",
              "billing_details": {"address": None, "email": None,
                                  "name": None, "phone": None}}
        if mtype == "card":
            pm["card"] = {
                "brand": kw.get("brand", "visa"), "last4": kw.get("last4", "4242"),
                "exp_month": int(kw.get("exp_month", 12)),
                "exp_year": int(kw.get("exp_year", 2030)),
                "fingerprint": kw.get("fingerprint") or self.new_id("")[:16],
                "funding": kw.get("funding", "credit"),
                "country": kw.get("country", "US"),
                "display_brand": kw.get("brand", "visa"),
                "networks": {"available": [kw.get("brand", "visa")], "preferred": None},
                "three_d_secure_usage": {"supported": True},
                "wallet": None, "checks": {"address_line1_check": None,
                                           "address_postal_code_check": None,
                                           "cvc_check": "pass"},
            }
        elif mtype == "sepa_debit":
            pm["sepa_debit"] = {
                "last4": kw.get("last4", "3000"),
                "fingerprint": kw.get("fingerprint") or self.new_id("")[:16],
                "bank_code": kw.get("bank_code", "37040044"),
                "branch_code": kw.get("branch_code", ""),
                "country": kw.get("country", "DE"),
                "generated_from": {"charge": None, "setup_attempt": None},
            }
        elif mtype == "us_bank_account":
            pm["us_bank_account"] = {
                "last4": kw.get("last4", "6789"),
                "fingerprint": kw.get("fingerprint") or self.new_id("")[:16],
                "bank_name": kw.get("bank_name", "STRIPE TEST BANK"),
                "account_holder_type": "individual",
                "account_type": "checking",
                "routing_number": kw.get("routing_number", "110000000"),
                "networks": {"preferred": "ach", "supported": ["ach"]},
            }
        else:
            raise ValueError("unsupported payment method type %r" % mtype)
        self.methods[pid] = pm
        self.method_state[pid] = {"outcomes": None, "hard": None, "auth": False,
                                  "used": 0}
        return pm

    def make_subscription(self, sid, cid, status, created):
        s = {"id": sid, "object": "subscription", "customer": cid,
             "status": status, "created": created, "livemode": False,
             "collection_method": "charge_automatically",
             "cancel_at_period_end": False, "canceled_at": None,
             "ended_at": None, "current_period_start": created,
             "current_period_end": created + 30 * 86400,
             "default_payment_method": None, "latest_invoice": None,
             "metadata": {}, "items": {"object": "list", "data": [],
                                       "has_more": False,
                                       "url": "/v1/subscription_items?subscription=" + sid}}
        if status == "canceled":
            s["canceled_at"] = s["ended_at"] = created
        self.subscriptions[sid] = s
        return s

    def make_failed_invoice(self, iid, cid, sid, amount, currency, created,
                            pm_id, fields):
        """An open invoice whose first automatic payment was declined."""
        pi_id = self.new_id("pi_")
        ch_id = self.new_id("ch_")
        inv = {"id": iid, "object": "invoice", "customer": cid,
               "subscription": sid, "amount_due": amount, "amount_paid": 0,
               "amount_remaining": amount, "currency": currency,
               "status": "open", "collection_method": "charge_automatically",
               "attempt_count": 1, "attempted": True, "payment_intent": pi_id,
               "charge": ch_id, "created": created,
               "next_payment_attempt": None, "livemode": False,
               "metadata": {}, "auto_advance": True, "paid": False,
               "paid_out_of_band": False, "billing_reason": "subscription_cycle",
               "customer_email": self.customers[cid].get("email"),
               "number": "F%06d" % (len(self.invoices) + 1), "due_date": None,
               "period_start": created - 30 * 86400, "period_end": created,
               "status_transitions": {"finalized_at": created, "paid_at": None,
                                      "voided_at": None,
                                      "marked_uncollectible_at": None}}
        pi = {"id": pi_id, "object": "payment_intent", "amount": amount,
              "amount_received": 0, "currency": currency, "customer": cid,
              "invoice": iid, "status": "requires_payment_method",
              "payment_method": None, "latest_charge": ch_id,
              "created": created, "livemode": False, "metadata": {},
              "off_session": None, "confirmation_method": "automatic",
              "capture_method": "automatic",
              "payment_method_types": ["card"],
              "last_payment_error": None}
        self.invoices[iid] = inv
        self.intents[pi_id] = pi
        self.charges[ch_id] = self.charge_object(ch_id, inv, pm_id, fields, created)
        pi["last_payment_error"] = self.payment_error(fields, pm_id, ch_id)
        if sid and sid in self.subscriptions:
            self.subscriptions[sid]["latest_invoice"] = iid
        st = self.method_state.get(pm_id)
        if st is not None:
            self.note_decline(pm_id, fields)
        self.add_event("invoice.payment_failed", inv, created=created)
        return inv

    def charge_object(self, ch_id, inv, pm_id, fields, created):
        ok = fields is None
        return {"id": ch_id, "object": "charge", "amount": inv["amount_due"],
                "amount_captured": inv["amount_due"] if ok else 0,
                "currency": inv["currency"], "customer": inv["customer"],
                "invoice": inv["id"], "payment_intent": inv["payment_intent"],
                "payment_method": pm_id, "created": created,
                "livemode": False, "paid": ok, "captured": ok,
                "status": "succeeded" if ok else "failed",
                "failure_code": None if ok else fields["code"],
                "failure_message": None if ok else fields["message"],
                "outcome": {"type": "authorized" if ok else "issuer_declined",
                            "network_status": "approved_by_network" if ok
                            else "declined_by_network",
                            "reason": None if ok else fields.get("decline_code"),
                            "advice_code": None if ok else fields.get("advice_code"),
                            "network_advice_code": None if ok else fields.get("network_advice_code"),
                            "network_decline_code": None if ok else fields.get("network_decline_code")}}

    def payment_error(self, fields, pm_id, ch_id):
        err = {"type": "card_error", "charge": ch_id}
        err.update(fields)
        doc = DOC_URLS.get(fields["code"])
        if doc:
            err["doc_url"] = doc
        pm = self.methods.get(pm_id)
        if pm is not None:
            err["payment_method"] = json.loads(json.dumps(pm))
            err["payment_method_type"] = pm["type"]
        return err

    def note_decline(self, pm_id, fields):
        st = self.method_state[pm_id]
        if is_hard(fields):
            st["hard"] = dict(fields)
        if fields.get("code") == "authentication_required":
            st["auth"] = True

    # ---- population
    def populate(self, n_customers, n_invoices):
        rng = random.Random(self.seed)
        now = self.start
        weights = [w for w, _ in DECLINE_MIX]
        codes = [c for _, c in DECLINE_MIX]
        cust_ids = []
        for i in range(n_customers):
            country, tz, currency = rng.choice(COUNTRIES)
            cid = self.new_id("cus_")
            tier = rng.choice(["gold", "silver", "silver", "bronze", "bronze", "bronze"])
            tags = rng.choice(["b2b,annual", "b2c,monthly", "b2b,monthly", "b2c,annual", ""])
            meta = {"tier": tier}
            if tags:
                meta["tags"] = tags
            created = now - rng.randint(30, 900) * 86400
            c = self.make_customer(cid, country, tz, "customer%d@example.com" % (i + 1),
                                   meta, created, address=rng.random() > 0.05)
            c["currency"] = currency
            n_methods = rng.choice([1, 1, 2, 2, 2, 3, 3, 4])
            pms = []
            for k in range(n_methods):
                pid = self.new_id("pm_")
                if k > 0 and country in ("FR", "DE", "ES", "NL", "IT") and rng.random() < 0.3:
                    pm = self.make_method(pid, cid, "sepa_debit", created + k * 86400,
                                          last4="%04d" % rng.randint(0, 9999),
                                          fingerprint="".join(rng.choice(ALNUM) for _ in range(16)),
                                          bank_code="%08d" % rng.randint(10000000, 99999999),
                                          country=country)
                elif k > 0 and country == "US" and rng.random() < 0.3:
                    pm = self.make_method(pid, cid, "us_bank_account", created + k * 86400,
                                          last4="%04d" % rng.randint(0, 9999),
                                          fingerprint="".join(rng.choice(ALNUM) for _ in range(16)),
                                          bank_name=rng.choice(["STRIPE TEST BANK", "CHASE", "WELLS FARGO"]))
                else:
                    brand = rng.choices(["visa", "mastercard", "amex"], [45, 35, 20])[0]
                    expired = rng.random() < 0.1
                    cur_year = time.gmtime(now).tm_year
                    exp_year = rng.randint(cur_year - 2, cur_year - 1) if expired else rng.randint(cur_year + 1, cur_year + 5)
                    pm = self.make_method(pid, cid, "card", created + k * 86400,
                                          brand=brand,
                                          last4="%04d" % rng.randint(0, 9999),
                                          exp_month=rng.randint(1, 12), exp_year=exp_year,
                                          fingerprint="".join(rng.choice(ALNUM) for _ in range(16)),
                                          funding=rng.choice(["credit", "credit", "debit", "prepaid"]),
                                          country=country)
                pms.append(pm)
            c["invoice_settings"]["default_payment_method"] = pms[0]["id"]
            sid = self.new_id("sub_")
            status = rng.choices(["past_due", "active", "unpaid", "canceled"], [70, 20, 6, 4])[0]
            self.make_subscription(sid, cid, status, created)
            cust_ids.append((cid, sid))
        if not cust_ids:
            return
        # Invoices, oldest first, so the event log reads in time order.
        plan = []
        for j in range(n_invoices):
            cid, sid = rng.choice(cust_ids)
            created = now - rng.randint(60, 20 * 86400)
            plan.append((created, cid, sid))
        plan.sort()
        for created, cid, sid in plan:
            self.add_failing_invoice(rng, cid, sid, created, weights, codes)

    def add_failing_invoice(self, rng, cid, sid, created, weights=None, codes=None):
        weights = weights or [w for w, _ in DECLINE_MIX]
        codes = codes or [c for _, c in DECLINE_MIX]
        c = self.customers[cid]
        pm_id = c["invoice_settings"]["default_payment_method"]
        pm = self.methods[pm_id]
        dc = rng.choices(codes, weights)[0]
        if pm["type"] == "card" and self.card_expired(pm, created):
            dc = "expired_card"
        elif dc == "expired_card":
            dc = "insufficient_funds"
        st = self.method_state[pm_id]
        if st["hard"] is not None:
            fields = dict(st["hard"])
        else:
            brand = pm["card"]["brand"] if pm["type"] == "card" else None
            fields = decline_fields(dc, brand, rng)
        amount = rng.choice([999, 1499, 1999, 2900, 4900, 9900, 19900, 49900])
        currency = c.get("currency") or "eur"
        return self.make_failed_invoice(self.new_id("in_"), cid, sid, amount,
                                        currency, created, pm_id, fields)

    def card_expired(self, pm, at):
        t = time.gmtime(at)
        card = pm["card"]
        return (card["exp_year"], card["exp_month"]) < (t.tm_year, t.tm_mon)

    def generate_one(self):
        with self.lock:
            live = [(cid, s["id"]) for s in self.subscriptions.values()
                    for cid in [s["customer"]]
                    if not self.customers[cid].get("deleted") and s["status"] != "canceled"]
            if not live:
                return None
            live.sort()
            cid, sid = self.gen_rng.choice(live)
            inv = self.add_failing_invoice(self.gen_rng, cid, sid, self.now())
            if self.subscriptions[sid]["status"] == "active":
                self.subscriptions[sid]["status"] = "past_due"
            return inv

    # ---- issuer behaviour
    def decide(self, inv, pm_id):
        """Outcome of charging pm_id for inv now: None (success) or decline fields."""
        pm = self.methods[pm_id]
        st = self.method_state[pm_id]
        if st["outcomes"] is not None:
            outs = st["outcomes"]
            idx = min(st["used"], len(outs) - 1)
            st["used"] += 1
            o = outs[idx]
            if o == "succeed" or o is None:
                return None
            return complete_outcome(o)
        if pm["type"] == "card" and self.card_expired(pm, self.now()):
            return decline_fields("expired_card", pm["card"]["brand"], random.Random(1))
        if st["hard"] is not None:
            return dict(st["hard"])
        if st["auth"]:
            return decline_fields("authentication_required", None)
        n = inv["attempt_count"]
        initial = self.intents.get(inv.get("payment_intent") or "", {})
        first_pm = ((initial.get("last_payment_error") or {}).get("payment_method") or {}).get("id")
        same = pm_id == first_pm or pm_id == self.customers[inv["customer"]]["invoice_settings"]["default_payment_method"]
        p = min(0.85, 0.10 + 0.15 * (n - 1)) if same else min(0.9, 0.55 + 0.10 * (n - 1))
        u = unit_hash(self.seed, inv["id"], pm_id, n)
        if u < p:
            return None
        v = unit_hash(self.seed, inv["id"], pm_id, n, "code")
        dc = "insufficient_funds" if v < 0.5 else "do_not_honor" if v < 0.85 else "try_again_later"
        brand = pm["card"]["brand"] if pm["type"] == "card" else None
        return decline_fields(dc, brand, random.Random(int(v * 1e9)))


# --------------------------------------------------------------------------
# Query parsing (Stripe bracket notation)


def parse_pairs(text):
    try:
        return urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=False)
    except ValueError:
        return []


def nest(pairs):
    """created[gte]=1&expand[]=x -> {"created": {"gte": "1"}, "expand": ["x"]}"""
    out = {}
    for k, v in pairs:
        if "[" in k and k.endswith("]"):
            base, rest = k.split("[", 1)
            sub = rest[:-1]
            if sub == "":
                out.setdefault(base, [])
                if isinstance(out[base], list):
                    out[base].append(v)
            else:
                if not isinstance(out.get(base), dict):
                    out[base] = {}
                out[base][sub.split("][")[0]] = v
        else:
            out[k] = v
    return out


def int_param(q, name, lo=None, hi=None):
    v = q.get(name)
    if v is None:
        return None
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise ApiError(400, "invalid_request_error", "Invalid integer: %s" % v,
                       code="parameter_invalid_integer", param=name)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        raise ApiError(400, "invalid_request_error",
                       "This value must be greater than or equal to %s and less than or equal to %s." % (lo, hi),
                       param=name)
    return n


def check_unknown(q, allowed):
    for k in q:
        if k not in allowed:
            raise ApiError(400, "invalid_request_error", "Received unknown parameter: %s" % k,
                           code="parameter_unknown", param=k)


def created_filter(q, key="created"):
    v = q.get(key)
    if v is None:
        return lambda t: True
    if isinstance(v, str):
        try:
            t0 = int(v)
        except ValueError:
            raise ApiError(400, "invalid_request_error", "Invalid integer: %s" % v,
                           code="parameter_invalid_integer", param=key)
        return lambda t: t == t0
    if not isinstance(v, dict):
        raise ApiError(400, "invalid_request_error", "Invalid %s" % key, param=key)
    bounds = {}
    for op, val in v.items():
        if op not in ("gt", "gte", "lt", "lte"):
            raise ApiError(400, "invalid_request_error",
                           "Received unknown parameter: %s[%s]" % (key, op),
                           code="parameter_unknown", param="%s[%s]" % (key, op))
        try:
            bounds[op] = int(val)
        except ValueError:
            raise ApiError(400, "invalid_request_error", "Invalid integer: %s" % val,
                           code="parameter_invalid_integer", param="%s[%s]" % (key, op))

    def f(t):
        return (("gt" not in bounds or t > bounds["gt"]) and
                ("gte" not in bounds or t >= bounds["gte"]) and
                ("lt" not in bounds or t < bounds["lt"]) and
                ("lte" not in bounds or t <= bounds["lte"]))
    return f


def paginate(items, q, url, kind):
    """items newest first."""
    limit = int_param(q, "limit", 1, 100)
    limit = 10 if limit is None else limit
    sa, eb = q.get("starting_after"), q.get("ending_before")
    if sa and eb:
        raise ApiError(400, "invalid_request_error",
                       "You may only specify one of these parameters: ending_before, starting_after.",
                       code="parameters_exclusive", param="starting_after")
    ids = [o["id"] for o in items]
    if sa:
        if sa not in ids:
            raise missing(kind, sa, "starting_after")
        i = ids.index(sa) + 1
        page = items[i:i + limit]
        more = len(items) > i + limit
    elif eb:
        if eb not in ids:
            raise missing(kind, eb, "ending_before")
        j = ids.index(eb)
        page = items[max(0, j - limit):j]
        more = j - limit > 0
    else:
        page = items[:limit]
        more = len(items) > limit
    return {"object": "list", "url": url, "has_more": more, "data": page}


# --------------------------------------------------------------------------
# HTTP


class Response:
    def __init__(self, status, body, headers=None, content_type="application/json"):
        self.status = status
        self.body = body if isinstance(body, bytes) else (json.dumps(body, indent=2) + "\n").encode()
        self.headers = dict(headers or {})
        self.content_type = content_type


def error_response(e):
    return Response(e.status, {"error": e.body}, e.headers)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stripe-fixture"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def version_string(self):
        return "stripe-fixture"

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    # ----
    def handle_any(self):
        fx = self.server.fixture
        t0 = time.time()
        self.req_id = fx.new_id_locked("req_")
        status = 0
        try:
            parsed = urllib.parse.urlsplit(self.path)
            path = parsed.path
            query = parsed.query
            body = self.read_body()
            if path.startswith("/_fixture/"):
                resp = self.control(path, query, body)
                status = self.send(resp)
            else:
                status = self.api(path, query, body)
        except (BrokenPipeError, ConnectionResetError):
            status = -1
            self.close_connection = True
        except Exception as e:  # never crash on bad input
            try:
                status = self.send(Response(500, {"error": {
                    "type": "api_error",
                    "message": "An unknown error occurred: %s" % type(e).__name__}},
                    {"Stripe-Should-Retry": "false"}))
            except Exception:
                self.close_connection = True
        sys.stderr.write("%s %s %s %d %.1fms\n" % (
            time.strftime("%H:%M:%S"), self.command, self.path[:200], status,
            (time.time() - t0) * 1000))
        sys.stderr.flush()

    def read_body(self):
        n = self.headers.get("Content-Length")
        if n is None:
            return b""
        try:
            n = int(n)
        except ValueError:
            self.close_connection = True
            return b""
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            return b""
        return self.rfile.read(n)

    def raw_response(self, resp):
        reason = self.responses.get(resp.status, ("",))[0]
        head = ["HTTP/1.1 %d %s" % (resp.status, reason),
                "Server: stripe-fixture",
                "Date: %s" % self.date_time_string(),
                "Content-Type: %s" % resp.content_type,
                "Content-Length: %d" % len(resp.body),
                "Request-Id: %s" % self.req_id,
                "Stripe-Version: %s" % API_VERSION]
        for k, v in resp.headers.items():
            head.append("%s: %s" % (k, v))
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1"), resp.body

    def send(self, resp, declared_length=None):
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(declared_length if declared_length is not None else len(resp.body)))
        self.send_header("Request-Id", self.req_id)
        if not self.path.startswith("/_fixture/"):
            self.send_header("Stripe-Version", API_VERSION)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(resp.body)
        self.wfile.flush()
        return resp.status

    # ---- control API
    def control(self, path, query, body):
        fx = self.server.fixture
        parts = [p for p in path.split("/") if p][1:]
        try:
            data = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return Response(400, {"error": "body is not JSON"})
        try:
            with fx.lock:
                return self.control_locked(fx, parts, query, data)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            return Response(400, {"error": "%s: %s" % (type(e).__name__, e)})

    def control_locked(self, fx, parts, query, data):
        m = self.command
        if parts == ["scenario"] and m == "POST":
            return control_scenario(fx, data)
        if parts == ["faults"]:
            if m == "POST":
                items = data if isinstance(data, list) else [data]
                for f in items:
                    kind = f.get("kind", "status")
                    if kind not in ("status", "delay", "malformed", "truncated", "wrong_content_type",
                                    "oversized", "drip", "reset"):
                        return Response(400, {"error": "unknown fault kind %r" % kind})
                    fault = {"method": str(f.get("method", "*")).upper(),
                             "path_prefix": f.get("path_prefix", "/v1/"),
                             "kind": kind, "status": int(f.get("status", 500)),
                             "headers": {str(k): str(v) for k, v in (f.get("headers") or {}).items()},
                             "seconds": float(f.get("seconds", 1)),
                             "count": int(f.get("count", 1)),
                             "bytes": int(f.get("bytes", 8 << 20)),
                             "execute": bool(f.get("execute", kind != "status")),
                             "body": f.get("body")}
                    fx.faults.append(fault)
                return Response(200, {"faults": fx.faults})
            if m == "DELETE":
                fx.faults = []
                return Response(200, {"faults": []})
            if m == "GET":
                return Response(200, {"faults": fx.faults})
        if len(parts) == 3 and parts[0] == "invoices" and m == "POST":
            inv = fx.invoices.get(parts[1])
            if inv is None:
                return Response(404, {"error": "no such invoice"})
            action = parts[2]
            if action == "pay_out_of_band":
                if inv["status"] not in ("open", "uncollectible"):
                    return Response(400, {"error": "invoice is %s" % inv["status"]})
                inv.update(status="paid", amount_paid=inv["amount_due"], amount_remaining=0,
                           paid=True, paid_out_of_band=True)
                inv["status_transitions"]["paid_at"] = fx.now()
                fx.paid_count[inv["id"]] = fx.paid_count.get(inv["id"], 0) + 1
                fx.add_event("invoice.paid", inv)
            elif action == "void":
                if inv["status"] not in ("open", "uncollectible", "draft"):
                    return Response(400, {"error": "invoice is %s" % inv["status"]})
                inv["status"] = "void"
                inv["amount_remaining"] = 0
                inv["status_transitions"]["voided_at"] = fx.now()
                pi = fx.intents.get(inv["payment_intent"])
                if pi:
                    pi["status"] = "canceled"
                fx.add_event("invoice.voided", inv)
            elif action == "mark_uncollectible":
                if inv["status"] != "open":
                    return Response(400, {"error": "invoice is %s" % inv["status"]})
                inv["status"] = "uncollectible"
                inv["status_transitions"]["marked_uncollectible_at"] = fx.now()
                fx.add_event("invoice.marked_uncollectible", inv)
            else:
                return Response(404, {"error": "unknown action"})
            return Response(200, inv)
        if len(parts) == 3 and parts[0] == "subscriptions" and parts[2] == "cancel" and m == "POST":
            sub = fx.subscriptions.get(parts[1])
            if sub is None:
                return Response(404, {"error": "no such subscription"})
            sub.update(status="canceled", canceled_at=fx.now(), ended_at=fx.now())
            fx.add_event("customer.subscription.deleted", sub)
            return Response(200, sub)
        if len(parts) == 3 and parts[0] == "customers" and parts[2] == "delete" and m == "POST":
            c = fx.customers.get(parts[1])
            if c is None:
                return Response(404, {"error": "no such customer"})
            for sub in fx.subscriptions.values():
                if sub["customer"] == c["id"] and sub["status"] != "canceled":
                    sub.update(status="canceled", canceled_at=fx.now(), ended_at=fx.now())
            fx.customers[c["id"]] = {"id": c["id"], "object": "customer", "deleted": True}
            fx.add_event("customer.deleted", c)
            return Response(200, fx.customers[c["id"]])
        if parts == ["clock"] and m == "POST":
            fx.clock_offset += float(data.get("advance_seconds", 0))
            return Response(200, {"now": fx.now(), "offset": fx.clock_offset})
        if parts == ["records"] and m == "GET":
            audit = dict(fx.audit)
            audit["double_charges"] = sum(1 for n in fx.paid_count.values() if n > 1)
            audit["max_requests_per_second"] = max(fx.per_second.values()) if fx.per_second else 0
            return Response(200, {"requests": fx.request_count, "attempts": fx.attempts,
                                  "audit": audit})
        if parts == ["requests"]:
            if m == "DELETE":
                fx.requests = []
                return Response(200, {"requests": []})
            if m == "GET":
                q = dict(parse_pairs(query))
                since = int(q.get("since", 0) or 0)
                prefix = q.get("path_prefix", "")
                out = [r for r in fx.requests[since:] if r["path"].startswith(prefix)]
                return Response(200, {"requests": out, "total": len(fx.requests)})
        if parts == ["state"] and m == "GET":
            return Response(200, {"customers": len(fx.customers), "invoices": len(fx.invoices),
                                  "open_invoices": sum(1 for i in fx.invoices.values() if i["status"] == "open"),
                                  "events": len(fx.events), "now": fx.now()})
        return Response(404, {"error": "unknown control endpoint %s %s" % (m, "/".join(parts))})

    # ---- Stripe API
    def api(self, path, query, body):
        fx = self.server.fixture
        form_pairs = parse_pairs(body.decode("latin-1")) if body else []
        query_pairs = parse_pairs(query)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        now = time.time()
        with fx.lock:
            fx.request_count += 1
            sec = int(now)
            fx.per_second[sec] = fx.per_second.get(sec, 0) + 1
            if len(fx.per_second) > 4000:
                for k in sorted(fx.per_second)[:2000]:
                    del fx.per_second[k]
            fx.requests.append({"time": now, "method": self.command, "path": path,
                                "query": query_pairs, "form": form_pairs, "headers": hdrs,
                                "request_id": self.req_id})
            fault = None
            for f in fx.faults:
                if f["count"] > 0 and (f["method"] in ("*", self.command)) and path.startswith(f["path_prefix"]):
                    f["count"] -= 1
                    fault = dict(f)
                    break
            fx.faults = [f for f in fx.faults if f["count"] > 0]

        if fault and not fault["execute"]:
            return self.deliver(self.fault_status_response(fault, executed=False), fault)
        key = self.headers.get("Idempotency-Key") if self.command == "POST" else None
        if key is not None:
            with fx.lock:
                busy = key in fx.inflight
                if not busy:
                    fx.inflight.add(key)
            if busy:
                return self.send(error_response(ApiError(
                    409, "invalid_request_error",
                    "There is currently another in-progress request using this Idempotent Key "
                    "(that probably means you submitted twice, and the other request is still going "
                    "through): %s. Please try again later." % key,
                    code="idempotency_key_in_use", headers={"Stripe-Should-Retry": "true"})))
        try:
            if fault and fault["kind"] == "delay":
                time.sleep(max(0.0, fault["seconds"]))
            try:
                resp = self.route(path, query_pairs, form_pairs)
            except ApiError as e:
                resp = error_response(e)
        finally:
            if key is not None:
                with fx.lock:
                    fx.inflight.discard(key)
        if fault and fault["kind"] == "status":
            # The endpoint ran (and its result was kept for idempotent replay);
            # the answer the client sees is the error.
            resp = self.fault_status_response(fault, executed=True)
        return self.deliver(resp, fault)

    def fault_status_response(self, fault, executed):
        st = fault["status"]
        headers = {}
        if fault.get("body") is not None:
            body = fault["body"]
        elif st == 429:
            body = {"error": {"type": "invalid_request_error", "code": "rate_limit",
                              "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
                              "message": "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."}}
            headers["Stripe-Should-Retry"] = "true"
        elif st == 409:
            body = {"error": {"type": "invalid_request_error", "code": "lock_timeout",
                              "doc_url": "https://stripe.com/docs/error-codes/lock-timeout",
                              "message": "This object cannot be accessed right now because another API request or Stripe process is currently accessing it."}}
            headers["Stripe-Should-Retry"] = "true"
        elif st >= 500:
            body = {"error": {"type": "api_error",
                              "message": "An unknown error occurred. Please try again later (request id %s)." % self.req_id}}
            headers["Stripe-Should-Retry"] = "false" if executed else "true"
        else:
            body = {"error": {"type": "invalid_request_error", "message": "Fixture fault %d" % st}}
        headers.update(fault["headers"])
        return Response(st, body, headers)

    def deliver(self, resp, fault):
        kind = fault["kind"] if fault else None
        if kind in (None, "status", "delay"):
            return self.send(resp)
        if kind == "malformed":
            return self.send(Response(resp.status, b'{"object": "invoice", "id": "in_' + b'\x00<html>' + b'", ,}\n',
                                      resp.headers))
        if kind == "wrong_content_type":
            resp.content_type = "text/html; charset=utf-8"
            return self.send(resp)
        if kind == "oversized":
            try:
                obj = json.loads(resp.body)
            except ValueError:
                obj = {}
            if not isinstance(obj, dict):
                obj = {"value": obj}
            pad = max(0, fault["bytes"] - len(resp.body))
            obj["metadata_padding"] = "x" * pad
            return self.send(Response(resp.status, obj, resp.headers))
        if kind == "truncated":
            half = resp.body[:len(resp.body) // 2]
            self.close_connection = True
            self.send(Response(resp.status, half, resp.headers), declared_length=len(resp.body))
            return resp.status
        if kind == "drip":
            head, body = self.raw_response(resp)
            data = head + body
            self.close_connection = True
            interval = fault["seconds"] if fault["seconds"] > 0 else 1.0
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(interval)
            return resp.status
        if kind == "reset":
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass
            return 0
        return self.send(resp)

    def auth(self):
        fx = self.server.fixture
        h = self.headers.get("Authorization")
        if not h:
            raise ApiError(401, "invalid_request_error",
                           "You did not provide an API key. You need to provide your API key in the "
                           "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). "
                           "See https://stripe.com/docs/api#authentication for details, or we can help at "
                           "https://support.stripe.com/.")
        scheme, _, key = h.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise ApiError(401, "invalid_request_error",
                           "Invalid API Key provided: %s" % mask_key(key or scheme))
        if key != fx.api_key:
            raise ApiError(401, "invalid_request_error", "Invalid API Key provided: %s" % mask_key(key))

    def route(self, path, query_pairs, form_pairs):
        fx = self.server.fixture
        m = self.command
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] != "v1":
            raise ApiError(404, "invalid_request_error",
                           "Unrecognized request URL (%s: %s). Please see https://stripe.com/docs or we can help at https://support.stripe.com/." % (m, path))
        self.auth()
        q = nest(query_pairs)
        parts = parts[1:]
        with fx.lock:
            if m == "GET":
                if parts == ["events"]:
                    return Response(200, list_events(fx, q))
                if parts == ["invoices"]:
                    return Response(200, list_invoices(fx, q))
                if len(parts) == 2:
                    kind, oid = parts
                    table = {"invoices": (fx.invoices, "invoice"),
                             "payment_intents": (fx.intents, "payment_intent"),
                             "customers": (fx.customers, "customer"),
                             "subscriptions": (fx.subscriptions, "subscription"),
                             "payment_methods": (fx.methods, "payment_method"),
                             "charges": (fx.charges, "charge"),
                             "events": (None, "event")}.get(kind)
                    if table:
                        check_unknown(q, {"expand"})
                        if kind == "events":
                            ev = next((e for e in fx.events if e["id"] == oid), None)
                            if ev is None:
                                raise missing("event", oid)
                            return Response(200, ev)
                        obj = table[0].get(oid)
                        if obj is None:
                            raise missing(table[1], oid)
                        return Response(200, obj)
                if len(parts) == 3 and parts[0] == "customers" and parts[2] == "payment_methods":
                    return Response(200, list_customer_methods(fx, parts[1], q))
            if m == "POST" and len(parts) == 3 and parts[0] == "invoices" and parts[2] == "pay":
                return pay(self, fx, parts[1], form_pairs)
        raise ApiError(404, "invalid_request_error",
                       "Unrecognized request URL (%s: %s). Please see https://stripe.com/docs or we can help at https://support.stripe.com/." % (m, path))


def list_events(fx, q):
    check_unknown(q, {"type", "types", "limit", "starting_after", "ending_before",
                      "created", "expand", "delivery_success"})
    cf = created_filter(q)
    types = set(q.get("types") or [])
    t = q.get("type")
    def type_ok(et):
        if t:
            if t.endswith(".*"):
                if not et.startswith(t[:-1]):
                    return False
            elif et != t:
                return False
        return not types or et in types
    items = [e for e in reversed(fx.events) if type_ok(e["type"]) and cf(e["created"])]
    items.sort(key=lambda e: -e["created"])  # stable: newest first, ties keep log order
    return paginate(items, q, "/v1/events", "event")


def list_invoices(fx, q):
    check_unknown(q, {"status", "collection_method", "customer", "subscription", "limit",
                      "starting_after", "ending_before", "created", "due_date", "expand"})
    st = q.get("status")
    if st is not None and st not in ("draft", "open", "paid", "uncollectible", "void"):
        raise ApiError(400, "invalid_request_error",
                       "Invalid status: must be one of draft, open, paid, uncollectible, or void",
                       param="status")
    cm = q.get("collection_method")
    if cm is not None and cm not in ("charge_automatically", "send_invoice"):
        raise ApiError(400, "invalid_request_error",
                       "Invalid collection_method: must be one of charge_automatically or send_invoice",
                       param="collection_method")
    cf = created_filter(q)
    items = [i for i in fx.invoices.values()
             if (st is None or i["status"] == st) and (cm is None or i["collection_method"] == cm)
             and (q.get("customer") is None or i["customer"] == q.get("customer"))
             and (q.get("subscription") is None or i["subscription"] == q.get("subscription"))
             and cf(i["created"])]
    order = {iid: n for n, iid in enumerate(fx.invoices)}
    items.sort(key=lambda i: (-i["created"], -order[i["id"]]))
    return paginate(items, q, "/v1/invoices", "invoice")


def list_customer_methods(fx, cid, q):
    check_unknown(q, {"limit", "starting_after", "ending_before", "type", "expand", "allow_redisplay"})
    c = fx.customers.get(cid)
    if c is None or c.get("deleted"):
        raise missing("customer", cid, "customer")
    t = q.get("type")
    order = {pid: n for n, pid in enumerate(fx.methods)}
    items = [pm for pm in fx.methods.values() if pm["customer"] == cid and (t is None or pm["type"] == t)]
    items.sort(key=lambda pm: (-pm["created"], -order[pm["id"]]))
    return paginate(items, q, "/v1/customers/%s/payment_methods" % cid, "payment_method")


def pay(handler, fx, iid, form_pairs):
    """POST /v1/invoices/{id}/pay, with Stripe's idempotency semantics."""
    key = handler.headers.get("Idempotency-Key")
    fingerprint = json.dumps(["POST", "/v1/invoices/%s/pay" % iid, sorted(form_pairs)])
    now = fx.now()
    record = {"invoice": iid, "idempotency_key": key, "payment_method": None,
              "outcome": None, "status_before": None, "time": time.time(),
              "request_id": handler.req_id}
    form = nest(form_pairs)
    record["payment_method"] = form.get("payment_method")
    inv = fx.invoices.get(iid)
    record["status_before"] = inv["status"] if inv else None
    if key is not None:
        if len(key) > 255:
            raise ApiError(400, "invalid_request_error",
                           "Invalid idempotency key: must be at most 255 characters long.")
        for k in [k for k, e in fx.idempotency.items() if now - e["time"] > IDEMPOTENCY_TTL]:
            del fx.idempotency[k]
        ent = fx.idempotency.get(key)
        if ent is not None:
            if ent["fingerprint"] != fingerprint:
                fx.audit["idempotency_conflicts"] += 1
                record["outcome"] = "idempotency_error"
                fx.attempts.append(record)
                raise ApiError(400, "idempotency_error",
                               "Keys for idempotent requests can only be used with the same parameters "
                               "they were first used with. Try using a key other than '%s' if you meant "
                               "to execute a different request." % key)
            record["outcome"] = "replayed"
            record["replay_of"] = ent["request_id"]
            fx.attempts.append(record)
            headers = dict(ent["headers"])
            headers["Idempotent-Replayed"] = "true"
            headers["Original-Request"] = ent["request_id"]
            return Response(ent["status"], ent["body"], headers)
    try:
        resp = execute_pay(handler, fx, inv, iid, form, record, key)
    except ApiError as e:
        resp = error_response(e)
        if record["outcome"] is None:
            record["outcome"] = "rejected"
            record["error"] = e.body.get("message")
    fx.attempts.append(record)
    if key is not None:
        resp.headers["Idempotency-Key"] = key
    # Stripe keeps a result only once the endpoint began executing: not for
    # requests rejected by parameter validation.
    if key is not None and record["outcome"] in ("succeeded", "declined", "not_open"):
        fx.idempotency[key] = {"fingerprint": fingerprint, "status": resp.status,
                               "body": resp.body, "headers": dict(resp.headers),
                               "time": now, "request_id": handler.req_id}
    return resp


def execute_pay(handler, fx, inv, iid, form, record, key):
    allowed = {"payment_method", "off_session", "expand", "forgive", "mandate",
               "paid_out_of_band", "source"}
    check_unknown(form, allowed)
    if inv is None:
        raise missing("invoice", iid)
    cust = fx.customers.get(inv["customer"])
    sub = fx.subscriptions.get(inv["subscription"] or "")
    closed = inv["status"] not in ("open",) or (sub is not None and sub["status"] == "canceled") \
        or cust is None or cust.get("deleted")
    if closed:
        fx.audit["attempts_on_closed"] += 1
    off = form.get("off_session")
    if off is not None and off not in ("true", "false"):
        raise ApiError(400, "invalid_request_error", "Invalid boolean: %s" % off,
                       param="off_session")
    if inv["status"] == "paid":
        record["outcome"] = "not_open"
        raise ApiError(400, "invalid_request_error", "Invoice is already paid")
    if inv["status"] == "void":
        record["outcome"] = "not_open"
        raise ApiError(400, "invalid_request_error", "You cannot pay a void invoice.")
    if inv["status"] == "draft":
        record["outcome"] = "not_open"
        raise ApiError(400, "invalid_request_error",
                       "This invoice is still a draft. Finalize it before paying.")
    if form.get("paid_out_of_band") == "true":
        record["outcome"] = "succeeded"
        inv.update(status="paid", amount_paid=inv["amount_due"], amount_remaining=0,
                   paid=True, paid_out_of_band=True)
        fx.paid_count[iid] = fx.paid_count.get(iid, 0) + 1
        return Response(200, inv)
    if cust is None or cust.get("deleted"):
        record["outcome"] = "not_open"
        raise missing("customer", inv["customer"], "customer")
    pi = fx.intents[inv["payment_intent"]]
    pm_id = form.get("payment_method")
    if pm_id is None:
        pm_id = cust["invoice_settings"]["default_payment_method"] or \
            ((pi.get("last_payment_error") or {}).get("payment_method") or {}).get("id")
        if pm_id is None:
            raise ApiError(400, "invalid_request_error",
                           "The customer has no default payment method and none was given.",
                           param="payment_method")
    if not isinstance(pm_id, str) or pm_id not in fx.methods:
        raise missing("payment_method", pm_id, "payment_method")
    pm = fx.methods[pm_id]
    if pm["customer"] != inv["customer"]:
        raise ApiError(400, "invalid_request_error",
                       "The provided PaymentMethod %s is not attached to customer %s." % (pm_id, inv["customer"]),
                       param="payment_method")
    record["payment_method"] = pm_id
    fields = fx.decide(inv, pm_id)
    inv["attempt_count"] += 1
    inv["attempted"] = True
    ch_id = fx.new_id("ch_")
    now = fx.now()
    req = {"id": handler.req_id, "idempotency_key": key}
    inv["charge"] = ch_id
    pi["latest_charge"] = ch_id
    pi["payment_method"] = pm_id
    if off == "true":
        pi["off_session"] = True
    if fields is None:
        fx.charges[ch_id] = fx.charge_object(ch_id, inv, pm_id, None, now)
        inv.update(status="paid", amount_paid=inv["amount_due"], amount_remaining=0, paid=True)
        inv["status_transitions"]["paid_at"] = now
        pi.update(status="succeeded", amount_received=pi["amount"], last_payment_error=None)
        fx.paid_count[iid] = fx.paid_count.get(iid, 0) + 1
        record["outcome"] = "succeeded"
        fx.add_event("payment_intent.succeeded", pi, request=req)
        fx.add_event("invoice.payment_succeeded", inv, request=req)
        fx.add_event("invoice.paid", inv, request=req)
        return Response(200, inv)
    fx.charges[ch_id] = fx.charge_object(ch_id, inv, pm_id, fields, now)
    fx.note_decline(pm_id, fields)
    err = fx.payment_error(fields, pm_id, ch_id)
    pi.update(status="requires_payment_method", last_payment_error=err)
    record["outcome"] = "declined"
    record["code"] = fields["code"]
    record["decline_code"] = fields.get("decline_code")
    fx.add_event("payment_intent.payment_failed", pi, request=req)
    fx.add_event("invoice.payment_failed", inv, request=req)
    body = dict(err)
    body["payment_intent"] = json.loads(json.dumps(pi))
    return Response(402, {"error": body})


def control_scenario(fx, data):
    c = data.get("customer") or {}
    cid = c.get("id") or fx.new_id("cus_")
    if cid in fx.customers:
        return Response(409, {"error": "customer %s exists" % cid})
    methods = data.get("methods") or []
    for m in methods:
        if m.get("id") in fx.methods:
            return Response(409, {"error": "payment method %s exists" % m["id"]})
    invs = data.get("invoices") or ([data["invoice"]] if data.get("invoice") else [])
    for i in invs:
        if i.get("id") in fx.invoices:
            return Response(409, {"error": "invoice %s exists" % i["id"]})
    now = fx.now()
    country = c.get("country", "FR")
    tz = {cc: z for cc, z, _ in COUNTRIES}.get(country)
    meta = {str(k): str(v) for k, v in (c.get("metadata") or {}).items()}
    cust = fx.make_customer(cid, country, None if "time_zone" in meta else tz,
                            c.get("email", "%s@example.com" % cid), meta,
                            int(c.get("created", now - 86400 * 100)),
                            address=c.get("address", True) is not None)
    if c.get("address") is None and "address" in c:
        cust["address"] = None
    made = []
    for k, m in enumerate(methods):
        pid = m.get("id") or fx.new_id("pm_")
        kw = {k2: v for k2, v in m.items() if k2 not in ("id", "type", "outcomes", "created")}
        pm = fx.make_method(pid, cid, m.get("type", "card"), int(m.get("created", now - 86400 * (50 - k))), **kw)
        if m.get("outcomes"):
            fx.method_state[pid]["outcomes"] = list(m["outcomes"])
        made.append(pm)
    default = c.get("default_method", made[0]["id"] if made else None)
    cust["invoice_settings"]["default_payment_method"] = default
    sid = c.get("subscription_id") or fx.new_id("sub_")
    sub = fx.make_subscription(sid, cid, c.get("subscription_status", "past_due"), now - 86400 * 100)
    created_invs = []
    for i in invs:
        iid = i.get("id") or fx.new_id("in_")
        d = dict(i.get("decline") or {"decline_code": "insufficient_funds"})
        pm_id = d.pop("payment_method", default)
        fields = complete_outcome(d)
        inv = fx.make_failed_invoice(iid, cid, sid, int(i.get("amount_due", 1999)),
                                     i.get("currency", "eur"), int(i.get("created", now)),
                                     pm_id, fields)
        if i.get("metadata"):
            inv["metadata"] = {str(k): str(v) for k, v in i["metadata"].items()}
        created_invs.append(inv)
    out = {"customer": cust, "methods": made, "subscription": sub,
           "invoices": created_invs,
           "payment_intents": [fx.intents[i["payment_intent"]] for i in created_invs]}
    if created_invs:
        out["invoice"] = created_invs[0]
        out["payment_intent"] = out["payment_intents"][0]
        out["event"] = next(e for e in reversed(fx.events)
                            if e["type"] == "invoice.payment_failed"
                            and e["data"]["object"]["id"] == created_invs[0]["id"])
    return Response(200, out)


# --------------------------------------------------------------------------


def _new_id_locked(self, prefix):
    with self.lock:
        return self.new_id(prefix)


Fixture.new_id_locked = _new_id_locked


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        sys.stderr.write("connection error from %s: %s\n" % (client_address, sys.exc_info()[1]))


def generator(fx, rate, stop):
    if rate <= 0:
        return
    interval = 1.0 / rate
    next_t = time.time() + interval
    while not stop.wait(max(0.0, next_t - time.time())):
        fx.generate_one()
        next_t += interval
        if next_t < time.time() - 5:
            next_t = time.time()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Stripe-shaped fixture server (loopback only)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    ap.add_argument("--api-key", default="sk_test_fixture")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--customers", type=int, default=50)
    ap.add_argument("--invoices", type=int, default=200)
    ap.add_argument("--failure-rate", type=float, default=0.0,
                    help="new failing invoices per second (0 = none)")
    args = ap.parse_args(argv)
    if not (args.host.startswith("127.") or args.host in ("::1", "localhost")):
        ap.error("--host must be a loopback address")
    fx = Fixture(args.seed, args.api_key, max(0, args.customers), max(0, args.invoices))
    srv = Server((args.host, args.port), Handler)
    srv.fixture = fx
    sys.stdout.write(json.dumps({"port": srv.server_address[1]}) + "\n")
    sys.stdout.flush()
    stop = threading.Event()
    threading.Thread(target=generator, args=(fx, args.failure_rate, stop), daemon=True).start()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        srv.server_close()


if __name__ == "__main__":
    main()
