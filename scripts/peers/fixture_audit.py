"""The Stripe fixture's records and audit: every payment attempt, request counts per endpoint with the
peak in any one-second (sliding) window, and the violations a careful retry system never commits,
each counted with the offending records listed:

- double_charges: an invoice paid twice; a pay executed on an invoice an earlier pay of ours already
  paid; an idempotency key executing a second charge after Stripe pruned it (24 h);
- offsession_after_auth: an off-session pay on a method after it answered authentication_required /
  requires_action, before the customer updated it;
- after_never_retry: a pay on a method after it answered a never-retry code (stolen, lost, pickup,
  fraudulent, restricted card; Mastercard MAC 03/21; Visa category 1; a closed, unknown or
  unauthorised bank account), before the customer updated it;
- attempts_on_closed: a pay on an invoice that is no longer payable (paid elsewhere, void,
  uncollectible, subscription cancelled, customer deleted), split into excusable races (the invoice
  closed after the caller's last GET /v1/invoices/{id}) and violations (already closed at that read,
  or never read);
- mastercard_declines_24h / visa_reattempts_30d: more than 10 declines on a Mastercard card in 24 h,
  more than 15 reattempts on a Visa card in 30 days, counted at the issuer (hosted-page attempts
  included), reported when one of our pays breaks the rule;
- pays_during_dispute: a pay of ours reaching the issuer for a customer with a dispute still open
  (inquiry or chargeback, not yet won, lost or closed);
- links_dead_on_click: a customer clicked a link that no longer worked (a billing portal session URL
  opened after it expired, a hosted invoice page past its expiry)."""

import collections
import time

from fixture_codes import is_auth, is_never_retry

KINDS = ("double_charges", "offsession_after_auth", "after_never_retry", "attempts_on_closed_excusable",
         "attempts_on_closed_violations", "mastercard_declines_24h", "visa_reattempts_30d", "pays_during_dispute",
         "links_dead_on_click")
CHARGED = ("succeeded", "declined", "processing")


def endpoint_of(method, path):
    """The endpoint a request names, as the adapter labels it (e.g. invoices.retrieve)."""
    p = [x for x in path.split("/") if x][1:]
    if not p:
        return "other"
    if method == "POST":
        if p == ["billing_portal", "sessions"]:
            return "billing_portal.sessions.create"
        return "invoices.pay" if len(p) == 3 and p[0] == "invoices" and p[2] == "pay" else "other"
    if len(p) == 3 and p[0] == "customers" and p[2] == "payment_methods":
        return "customers.payment_methods"
    names = {"events": "events", "invoices": "invoices", "payment_intents": "payment_intents",
             "customers": "customers", "payment_methods": "payment_methods", "subscriptions": "subscriptions",
             "charges": "charges", "invoice_payments": "invoice_payments", "disputes": "disputes"}
    if p[0] not in names or len(p) > 2:
        return "other"
    return names[p[0]] + (".list" if len(p) == 1 else ".retrieve")


class Audit:
    def __init__(self, world):
        self.world = world
        self.attempts = []          # POST /pay records, in order
        self.hosted = []            # attempts by customers on the hosted invoice page
        self.changes = []           # customers' payment-method changes
        self.disputes = []          # disputes opened
        self.link_visits = []       # customers clicking portal and hosted invoice links
        self.records = {k: [] for k in KINDS}
        self.idempotency_conflicts = 0
        self.requests = 0
        self.endpoints = collections.Counter()
        self.window = collections.deque()
        self.peak, self.peak_at = 0, None
        self.last_read = {}         # invoice id -> (fixture time, wall time) of the last GET of it
        self.auth_asked = {}        # payment method -> when it answered authentication_required
        self.never_retry = {}       # payment method -> when it answered a never-retry code
        self.card_history = {}      # card fingerprint -> [{t, declined, ours}]
        self.executed_keys = {}     # idempotency key -> request id of its first charge

    # ---- requests
    def on_request(self, method, path, wall=None):
        """Counts a Stripe API request (never the control API) and the sliding one-second peak."""
        t = wall if wall is not None else time.time()
        self.requests += 1
        self.endpoints[endpoint_of(method, path)] += 1
        self.window.append(t)
        while self.window and self.window[0] <= t - 1.0:
            self.window.popleft()
        if len(self.window) > self.peak:
            self.peak, self.peak_at = len(self.window), t

    def on_invoice_read(self, iid):
        self.last_read[iid] = (self.world.clock.now_f(), time.time())

    # ---- payments
    def before_attempt(self, inv, pm_id, off_session, record):
        """A pay of ours reaches the issuer: was this method allowed to be tried?"""
        base = {"invoice": inv["id"], "payment_method": pm_id, "request_id": record.get("request_id"),
                "idempotency_key": record.get("idempotency_key"), "at": self.world.clock.now_f()}
        if off_session and pm_id in self.auth_asked:
            self.records["offsession_after_auth"].append(dict(base, asked=self.auth_asked[pm_id]))
        if pm_id in self.never_retry:
            self.records["after_never_retry"].append(dict(base, answered=self.never_retry[pm_id]))
        held = self.world.open_disputes(inv["customer"])
        if held:
            self.records["pays_during_dispute"].append(dict(base, customer=inv["customer"], disputes=[
                {"id": d["id"], "status": d["status"], "charge": d["charge"], "created": d["created"]} for d in held]))

    def on_closed_pay(self, inv, record):
        """A pay of ours on an invoice no longer payable: a double charge, a race, or a violation."""
        w = self.world
        meta = w.inv_meta.get(inv["id"], {})
        now = w.clock.now_f()
        base = {"invoice": inv["id"], "request_id": record.get("request_id"),
                "idempotency_key": record.get("idempotency_key"), "at": now, "status": inv["status"]}
        if inv["status"] == "paid" and meta.get("closed_by") == "api":
            paid_by = meta.get("paid_by") or {}
            self.records["double_charges"].append(dict(base, kind="after_paid", paid_by=paid_by.get("request_id"),
                                                       paid_by_key=paid_by.get("idempotency_key")))
            record["double_charge"] = True
            return
        closes = []
        if inv["status"] != "open" and meta.get("closed_at") is not None:
            closes.append((meta["closed_at"], "invoice %s (%s)" % (inv["status"], meta.get("closed_by"))))
        elif inv["status"] != "open":
            closes.append((now, "invoice " + inv["status"]))
        sub = w.subscriptions.get(inv.get("subscription") or "")
        if sub is not None and sub["status"] == "canceled":
            closes.append((w.canceled_at.get(sub["id"], sub["canceled_at"] or now), "subscription canceled"))
        if inv["customer"] in w.deleted_at:
            closes.append((w.deleted_at[inv["customer"]], "customer deleted"))
        closed_at, reason = min(closes)
        read = self.last_read.get(inv["id"])
        entry = dict(base, reason=reason, closed_at=closed_at, last_read=read[0] if read else None)
        excusable = read is not None and closed_at > read[0]
        self.records["attempts_on_closed_excusable" if excusable else "attempts_on_closed_violations"].append(entry)
        record["closed"] = "excusable" if excusable else "violation"

    def on_paid(self, inv, t, by, request):
        meta = self.world.inv_meta[inv["id"]]
        if meta["paid_count"] > 1:
            self.records["double_charges"].append({"invoice": inv["id"], "kind": "paid_twice", "at": t, "by": by,
                                                   "request_id": (request or {}).get("request_id"),
                                                   "count": meta["paid_count"]})

    def on_executed(self, key, record):
        """A pay executed a charge under `key`: once per key, ever (Stripe forgets keys after 24 h)."""
        if key is None or record.get("outcome") not in CHARGED:
            return
        first = self.executed_keys.get(key)
        if first is None:
            self.executed_keys[key] = record.get("request_id")
            return
        self.records["double_charges"].append({"invoice": record["invoice"], "kind": "key_reexecuted",
                                               "idempotency_key": key, "first_request": first,
                                               "request_id": record.get("request_id"),
                                               "at": self.world.clock.now_f(), "outcome": record["outcome"]})
        record["double_charge"] = True

    def on_outcome(self, pm_id, fields, t, kind, invoice, off_session, request):
        """The issuer's (or bank's) answer to any attempt: flags, and the card networks' counters."""
        w = self.world
        brand = w.brand(pm_id)
        who = {"at": t, "by": kind, "invoice": invoice,
               "request_id": (request or {}).get("request_id") if isinstance(request, dict) else None}
        if fields is not None and is_auth(fields) and off_session:
            self.auth_asked[pm_id] = dict(who, code=fields["code"])
        if fields is not None and is_never_retry(fields, brand):
            self.never_retry[pm_id] = dict(who, code=fields.get("decline_code") or fields["code"],
                                           network_advice_code=fields.get("network_advice_code"),
                                           network_decline_code=fields.get("network_decline_code"))
        if brand is None or (fields is not None and fields["code"] == "invoice_payment_intent_requires_action"):
            return
        hist = self.card_history.setdefault(w.fingerprint(pm_id), [])
        ours = kind == "api"
        declined = fields is not None
        month = [h for h in hist if h["t"] > t - 30 * 86400]
        reattempt = any(h["declined"] for h in month)
        entry = {"t": t, "declined": declined, "ours": ours, "reattempt": reattempt, "invoice": invoice, "kind": kind,
                 "request_id": who["request_id"]}
        hist.append(entry)
        base = {"payment_method": pm_id, "brand": brand, "invoice": invoice, "at": t,
                "request_id": who["request_id"]}
        if brand == "mastercard" and declined and ours:
            n = sum(1 for h in hist if h["declined"] and h["t"] > t - 86400)
            if n > 10:
                self.records["mastercard_declines_24h"].append(dict(base, declines_24h=n))
        if brand == "visa" and reattempt and ours:
            n = sum(1 for h in hist if h["reattempt"] and h["t"] > t - 30 * 86400)
            if n > 15:
                self.records["visa_reattempts_30d"].append(dict(base, reattempts_30d=n, history=[
                    dict(h) for h in hist if h["t"] > t - 30 * 86400]))

    def on_customer_acted(self, pm_id):
        """The customer updated (or removed) this method: it may be tried again."""
        self.auth_asked.pop(pm_id, None)
        self.never_retry.pop(pm_id, None)

    # ---- report
    def summary(self):
        r = self.records
        audit = {k: len(v) for k, v in r.items()}
        audit["attempts_on_closed"] = audit["attempts_on_closed_excusable"] + audit["attempts_on_closed_violations"]
        audit["idempotency_conflicts"] = self.idempotency_conflicts
        audit["max_requests_per_second"] = self.peak
        return audit

    def report(self, faults=None):
        w = self.world
        recovered = {}
        for iid, meta in w.inv_meta.items():
            if meta["closed_by"] == "api" and w.invoices[iid]["status"] == "paid":
                cur = w.invoices[iid]["currency"]
                recovered[cur] = recovered.get(cur, 0) + w.invoices[iid]["amount_due"]
        return {"requests": self.requests, "endpoints": dict(self.endpoints),
                "max_requests_per_second": self.peak, "peak_at": self.peak_at,
                "attempts": self.attempts, "hosted": self.hosted, "changes": self.changes,
                "disputes": self.disputes, "link_visits": self.link_visits,
                "recovered": recovered, "recovered_invoices": sorted(
                    iid for iid, m in w.inv_meta.items() if m["closed_by"] == "api" and w.invoices[iid]["status"] == "paid"),
                "faults": faults or {}, "audit": self.summary(),
                "audit_records": {k: list(v) for k, v in self.records.items()},
                "now": w.clock.now_f(), "time_scale": w.clock.scale}
