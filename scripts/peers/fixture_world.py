"""The Stripe fixture's world: its clock, the objects (customers, payment methods, subscriptions,
invoices, PaymentIntents, charges, InvoicePayments, disputes, billing portal sessions), the event log,
how objects render in each API version, and the scheduler that settles what happens later in fixture
time. The seeded population is built by fixture_population."""

import base64
import copy
import hashlib
import heapq
import random
import threading
import time

from fixture_codes import BANK_DEAD, BANK_TYPES, DOC_URLS, is_auth, is_hard

ACACIA = "2024-12-18.acacia"
BASIL = "2025-03-31.basil"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
DAY = 86400
EVENT_RETENTION = 30 * DAY
STREAMS = ("card_changes", "hosted_retries", "hosted_races", "disputes", "portal_visits")
# Disputes still open: the card network has not decided (Stripe's statuses, docs.stripe.com/api/disputes/object).
OPEN_DISPUTE = ("warning_needs_response", "warning_under_review", "needs_response", "under_review")


def is_basil(version):
    """Basil (2025-03-31) and later render invoices without payment_intent, charge, subscription."""
    return version >= "2025-03-31"


def render(obj, version):
    """A copy of a stored object (kept in the acacia shape) as `version` renders it."""
    o = copy.deepcopy(obj)
    if not is_basil(version):
        return o
    if o.get("object") == "invoice":
        sub = o.pop("subscription", None)
        for k in ("payment_intent", "charge", "paid", "paid_out_of_band", "subscription_details", "quote"):
            o.pop(k, None)
        o["parent"] = ({"type": "subscription_details", "quote_details": None,
                        "subscription_details": {"metadata": {}, "subscription": sub}} if sub else None)
        o.setdefault("amount_overpaid", 0)
        o.setdefault("confirmation_secret", None)
    elif o.get("object") in ("payment_intent", "charge"):
        o.pop("invoice", None)
    return o


class Clock:
    """Fixture time: runs `scale` times faster than wall time from the start; tests move it ahead."""

    def __init__(self, scale=1.0):
        self.scale = float(scale)
        self.wall0 = time.time()
        self.offset = 0.0

    def now_f(self):
        return self.wall0 + (time.time() - self.wall0) * self.scale + self.offset

    def now(self):
        return int(self.now_f())


class World:
    def __init__(self, seed, api_key, account_version=BASIL, time_scale=1.0, streams=None):
        self.lock = threading.RLock()
        self.seed = seed
        self.api_key = api_key
        self.account_version = account_version
        self.clock = Clock(time_scale)
        self.streams = dict.fromkeys(STREAMS, 0.0)
        self.streams.update(streams or {})
        self.event_shuffle = 0.0    # share of batches of events listed in another order than emitted
        self.batch = 0              # the current action's number (events it emits share it)
        self.start = int(self.clock.wall0)
        self.counters = {}
        self.customers, self.methods, self.method_state, self.subscriptions = {}, {}, {}, {}
        self.invoices, self.intents, self.charges, self.invoice_payments = {}, {}, {}, {}
        self.disputes, self.portal_sessions = {}, {}
        self.account = "acct_1Fx" + self.token("account", 13)
        self.inv_meta = {}          # invoice id -> internal facts (intent, closing, payer, source)
        self.deleted_at = {}        # customer id -> fixture time of deletion
        self.canceled_at = {}       # subscription id -> fixture time of its cancellation
        self.change_pending = set() # customers with a scheduled action of the card-changes stream
        self.dispute_pending = set()  # customers with a scheduled action of the disputes stream
        self.events = []            # oldest first
        self.idempotency = {}       # idempotency key -> saved answer
        self.inflight = set()       # idempotency keys of requests still executing
        self.event_meta = {}        # event id -> {"wall": .., "source": ..}
        self.schedule = []          # heap of (fixture time, seq, kind, payload)
        self.handlers = {}          # scheduled kind -> function(world, payload, due)
        self.gen_rng = random.Random("%s-stream" % seed)
        self.audit = None           # set by the server (fixture_audit.Audit)

    # ---- time, ids, events
    def now(self):
        return self.clock.now()

    def new_id(self, prefix):
        n = self.counters.get(prefix, 0) + 1
        self.counters[prefix] = n
        h = hashlib.sha256(("%s|%s|%d" % (self.seed, prefix, n)).encode()).digest()
        return prefix + "".join(ALNUM[b % len(ALNUM)] for b in h[:24])

    def new_id_locked(self, prefix):
        with self.lock:
            return self.new_id(prefix)

    def token(self, what, n):
        """n characters derived from the seed and `what` (stable across runs)."""
        raw = hashlib.sha256(("%s|%s" % (self.seed, what)).encode()).digest()
        return "".join(ALNUM[b % len(ALNUM)] for b in (raw + hashlib.sha256(raw).digest())[:n])

    def invoice_links(self, iid):
        """(hosted_invoice_url, invoice_pdf): stable per invoice, shaped like Stripe's
        (https://invoice.stripe.com/i/acct_.../test_...?s=ap); a test host, never Stripe's."""
        secret = base64.urlsafe_b64encode(hashlib.sha256(("%s|link|%s" % (self.seed, iid)).encode()).digest()
                                          * 2).decode().rstrip("=")
        token = "test_" + secret[:60] + "0200" + self.token(iid, 10)
        return ("https://invoice.stripe.test/i/%s/%s?s=ap" % (self.account, token),
                "https://pay.stripe.test/invoice/%s/%s/pdf?s=ap" % (self.account, token))

    def add_event(self, etype, obj, created=None, request=None, previous=None, source="api"):
        """An event whose data.object renders in the account's default version, as Stripe does."""
        ev = {"id": self.new_id("evt_"), "object": "event", "type": etype,
              "created": created if created is not None else self.now(),
              "api_version": self.account_version, "livemode": False, "pending_webhooks": 0,
              "request": request or {"id": None, "idempotency_key": None},
              "data": {"object": render(obj, self.account_version)}}
        if previous is not None:
            ev["data"]["previous_attributes"] = previous
        self.events.append(ev)
        self.event_meta[ev["id"]] = {"wall": time.time(), "source": source, "batch": self.batch}
        return ev

    def visible_events(self):
        """Events Stripe still lists: the last 30 days of fixture time."""
        horizon = self.now() - EVENT_RETENTION
        return [e for e in self.events if e["created"] >= horizon]

    # ---- scheduler
    def at(self, when, kind, payload):
        n = self.counters.get("_sched", 0) + 1
        self.counters["_sched"] = n
        heapq.heappush(self.schedule, (when, n, kind, payload))

    def advance(self):
        """Runs what fell due in fixture time (settlements, customers acting), oldest first."""
        now = self.clock.now_f()
        while self.schedule and self.schedule[0][0] <= now:
            due, _, kind, payload = heapq.heappop(self.schedule)
            self.action()
            self.handlers[kind](self, payload, due)

    def action(self):
        """A new action begins: the events it emits are one batch (created together, listed in any order)."""
        self.batch += 1

    def rng_for(self, *parts):
        return random.Random("|".join(str(p) for p in (self.seed,) + parts))

    def stream_delay(self, rate_per_day, *parts):
        """Fixture seconds until a customer's next action of a stream with this daily rate."""
        return self.rng_for(*parts).expovariate(rate_per_day) * DAY

    # ---- object builders
    def make_customer(self, cid, country, tz, email, metadata, created, address=True, name=None, locales=None):
        if tz and "time_zone" not in metadata:
            metadata["time_zone"] = tz
        c = {"id": cid, "object": "customer", "email": email, "name": name, "created": created,
             "livemode": False, "phone": None, "preferred_locales": list(locales or []), "balance": 0,
             "address": ({"city": None, "country": country, "line1": None, "line2": None,
                          "postal_code": None, "state": None} if address else None),
             "currency": None, "delinquent": True, "default_source": None, "description": None,
             "metadata": metadata,
             "invoice_settings": {"default_payment_method": None, "custom_fields": None, "footer": None,
                                  "rendering_options": None}}
        self.customers[cid] = c
        return c

    def make_method(self, pid, cid, mtype, created, **kw):
        pm = {"id": pid, "object": "payment_method", "type": mtype, "customer": cid, "created": created,
              "livemode": False, "metadata": {}, "allow_redisplay": "unspecified",
              "billing_details": {"address": None, "email": None, "name": None, "phone": None}}
        fingerprint = kw.get("fingerprint") or self.new_id("")[:16]
        if mtype == "card":
            brand = kw.get("brand", "visa")
            pm["card"] = {"brand": brand, "last4": kw.get("last4", "4242"),
                          "exp_month": int(kw.get("exp_month", 12)), "exp_year": int(kw.get("exp_year", 2030)),
                          "fingerprint": fingerprint, "funding": kw.get("funding", "credit"),
                          "country": kw.get("country", "US"), "display_brand": brand,
                          "networks": {"available": [brand], "preferred": None},
                          "three_d_secure_usage": {"supported": True}, "wallet": None,
                          "checks": {"address_line1_check": None, "address_postal_code_check": None,
                                     "cvc_check": "pass"}}
        elif mtype == "sepa_debit":
            pm["sepa_debit"] = {"last4": kw.get("last4", "3000"), "fingerprint": fingerprint,
                                "bank_code": kw.get("bank_code", "37040044"), "branch_code": kw.get("branch_code", ""),
                                "country": kw.get("country", "DE"),
                                "generated_from": {"charge": None, "setup_attempt": None}}
        elif mtype == "us_bank_account":
            pm["us_bank_account"] = {"last4": kw.get("last4", "6789"), "fingerprint": fingerprint,
                                     "bank_name": kw.get("bank_name", "STRIPE TEST BANK"),
                                     "account_holder_type": "individual", "account_type": "checking",
                                     "routing_number": kw.get("routing_number", "110000000"),
                                     "networks": {"preferred": "ach", "supported": ["ach"]}}
        else:
            raise ValueError("unsupported payment method type %r" % mtype)
        self.methods[pid] = pm
        self.method_state[pid] = {"outcomes": None, "used": 0, "hard": None,
                                  "auth": bool(kw.get("requires_authentication", False)),
                                  "fresh": bool(kw.get("fresh", False)), "settle_days": kw.get("settle_days")}
        return pm

    def make_subscription(self, sid, cid, status, created):
        s = {"id": sid, "object": "subscription", "customer": cid, "status": status, "created": created,
             "livemode": False, "collection_method": "charge_automatically", "cancel_at_period_end": False,
             "canceled_at": None, "ended_at": None, "current_period_start": created,
             "current_period_end": created + 30 * DAY, "default_payment_method": None, "latest_invoice": None,
             "metadata": {},
             "items": {"object": "list", "data": [], "has_more": False,
                       "url": "/v1/subscription_items?subscription=" + sid}}
        if status == "canceled":
            s["canceled_at"] = s["ended_at"] = created
        self.subscriptions[sid] = s
        return s

    def fingerprint(self, pm_id):
        pm = self.methods.get(pm_id) or {}
        return (pm.get(pm.get("type")) or {}).get("fingerprint") or pm_id

    def brand(self, pm_id):
        pm = self.methods.get(pm_id) or {}
        return pm["card"]["brand"] if pm.get("type") == "card" else None

    def make_failed_invoice(self, iid, cid, sid, amount, currency, created, pm_id, fields, source="population",
                            quiet=False):
        """An open invoice whose first automatic payment (off session) failed with `fields` (`quiet`: no
        event, no issuer memory, no stream; fixture_population makes paid history from it)."""
        pi_id, ch_id, inpay = self.new_id("pi_"), self.new_id("ch_"), self.new_id("inpay_")
        inv = {"id": iid, "object": "invoice", "customer": cid, "subscription": sid, "amount_due": amount,
               "amount_paid": 0, "amount_remaining": amount, "currency": currency, "status": "open",
               "collection_method": "charge_automatically", "attempt_count": 1, "attempted": True,
               "payment_intent": pi_id, "charge": ch_id, "created": created, "next_payment_attempt": None,
               "livemode": False, "metadata": {}, "auto_advance": True, "paid": False, "paid_out_of_band": False,
               "billing_reason": "subscription_cycle", "customer_email": self.customers[cid].get("email"),
               "customer_name": self.customers[cid].get("name"),
               "number": "F%06d" % (len(self.invoices) + 1), "due_date": None,
               "period_start": created - 30 * DAY, "period_end": created,
               "status_transitions": {"finalized_at": created, "paid_at": None, "voided_at": None,
                                      "marked_uncollectible_at": None}}
        inv["hosted_invoice_url"], inv["invoice_pdf"] = self.invoice_links(iid)
        mtype = (self.methods.get(pm_id) or {}).get("type", "card")
        pi = {"id": pi_id, "object": "payment_intent", "amount": amount, "amount_received": 0,
              "currency": currency, "customer": cid, "invoice": iid, "status": "requires_payment_method",
              "payment_method": None, "latest_charge": ch_id, "created": created, "livemode": False,
              "metadata": {}, "off_session": None, "confirmation_method": "automatic", "capture_method": "automatic",
              "payment_method_types": ["card", "sepa_debit", "us_bank_account"], "next_action": None,
              "last_payment_error": None}
        self.invoices[iid], self.intents[pi_id] = inv, pi
        self.invoice_payments[inpay] = {
            "id": inpay, "object": "invoice_payment", "amount_paid": None, "amount_requested": amount,
            "created": created, "currency": currency, "invoice": iid, "is_default": True, "livemode": False,
            "payment": {"type": "payment_intent", "payment_intent": pi_id}, "status": "open",
            "status_transitions": {"canceled_at": None, "paid_at": None}}
        self.inv_meta[iid] = {"pi": pi_id, "inpay": inpay, "closed_at": None, "closed_by": None,
                              "paid_by": None, "paid_count": 0, "failed_at": created, "source": source}
        self.charges[ch_id] = self.charge_object(ch_id, inv, pm_id, fields, created)
        pi["last_payment_error"] = self.payment_error(fields, pm_id, ch_id)
        if quiet:
            return inv
        if sid and sid in self.subscriptions:
            self.subscriptions[sid]["latest_invoice"] = iid
        if pm_id in self.method_state:
            self.note_outcome(pm_id, fields, created, kind="automatic", invoice=iid, off_session=True,
                              bank=mtype in BANK_TYPES)
        self.add_event("invoice.payment_failed", inv, created=created, source=source)
        self.schedule_streams(iid, cid, created)
        return inv

    def charge_object(self, ch_id, inv, pm_id, fields, created, status=None):
        ok = fields is None
        st = status or ("succeeded" if ok else "failed")
        pending = st == "pending"
        return {"id": ch_id, "object": "charge", "amount": inv["amount_due"],
                "amount_captured": inv["amount_due"] if ok and not pending else 0,
                "currency": inv["currency"], "customer": inv["customer"], "invoice": inv["id"],
                "payment_intent": inv["payment_intent"], "payment_method": pm_id, "created": created,
                "livemode": False, "paid": ok and not pending, "captured": ok and not pending, "status": st,
                "disputed": False, "refunded": False, "amount_refunded": 0,
                "failure_code": None if ok else fields["code"], "failure_message": None if ok else fields["message"],
                "outcome": None if pending else {
                    "type": "authorized" if ok else "issuer_declined",
                    "network_status": "approved_by_network" if ok else "declined_by_network",
                    "reason": None if ok else (fields.get("decline_code") or fields["code"]),
                    "advice_code": None if ok else fields.get("advice_code"),
                    "network_advice_code": None if ok else fields.get("network_advice_code"),
                    "network_decline_code": None if ok else fields.get("network_decline_code")}}

    def payment_error(self, fields, pm_id, ch_id):
        err = {"type": "card_error", "charge": ch_id}
        err.update(fields)
        if fields.get("code") in DOC_URLS:
            err["doc_url"] = DOC_URLS[fields["code"]]
        pm = self.methods.get(pm_id)
        if pm is not None:
            err["payment_method"] = copy.deepcopy(pm)
            err["payment_method_type"] = pm["type"]
        return err

    def note_outcome(self, pm_id, fields, t, kind, invoice=None, off_session=True, bank=False, request=None):
        """The issuer's (or the bank's) answer on a method: its memory, and the audit's counters."""
        st = self.method_state[pm_id]
        if fields is not None:
            if is_hard(fields) or (bank and fields["code"] in BANK_DEAD):
                st["hard"] = dict(fields)
            if is_auth(fields):
                st["auth"] = True
        if self.audit is not None:
            self.audit.on_outcome(pm_id, fields, t, kind, invoice, off_session, request)

    def mark_paid(self, inv, t, by, request=None):
        """The invoice is paid (by `by`: api, hosted, out_of_band)."""
        meta = self.inv_meta[inv["id"]]
        inv.update(status="paid", amount_paid=inv["amount_due"], amount_remaining=0, paid=True)
        inv["status_transitions"]["paid_at"] = int(t)
        meta["paid_count"] += 1
        meta["closed_at"], meta["closed_by"] = t, by
        if by == "api":
            meta["paid_by"] = request
        ip = self.invoice_payments.get(meta["inpay"])
        if ip is not None:
            ip.update(status="paid", amount_paid=inv["amount_due"])
            ip["status_transitions"]["paid_at"] = int(t)
        if self.audit is not None:
            self.audit.on_paid(inv, t, by, request)

    def schedule_streams(self, iid, cid, created):
        base = max(created, self.now())
        rate = self.streams.get("hosted_retries", 0.0)
        if rate > 0:
            self.at(base + self.stream_delay(rate, "hosted", iid, 1), "hosted", {"invoice": iid, "k": 1})
        rate = self.streams.get("card_changes", 0.0)
        if rate > 0 and cid not in self.change_pending:
            self.change_pending.add(cid)
            self.at(base + self.stream_delay(rate, "change", cid, 1), "change", {"customer": cid, "k": 1})
        rate = self.streams.get("disputes", 0.0)
        if rate > 0 and cid not in self.dispute_pending:
            self.dispute_pending.add(cid)
            self.at(base + self.stream_delay(rate, "dispute", cid, 1), "dispute", {"customer": cid, "k": 1})

    def open_disputes(self, cid):
        """The customer's disputes the card network has not decided yet, oldest first."""
        return [d for d in self.disputes.values() if d["status"] in OPEN_DISPUTE
                and (self.charges.get(d["charge"]) or {}).get("customer") == cid]

    @staticmethod
    def card_expired(pm, at):
        t = time.gmtime(at)
        return (pm["card"]["exp_year"], pm["card"]["exp_month"]) < (t.tm_year, t.tm_mon)
