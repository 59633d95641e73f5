"""Disputes on the Stripe fixture: a customer asks their bank to take back a charge, usually weeks
after it succeeded, and often while newer invoices of theirs are failing.

As Stripe has them (docs.stripe.com/api/disputes/object, /disputes): a Dispute (`du_...`) names the
`charge` and its `payment_intent`, the disputed `amount` and `currency`, a `reason` and a `status`.
Inquiries (mostly American Express and Discover) start as `warning_needs_response`: no money moves and
the charge can still be refunded; they close as `warning_closed` or become chargebacks. A chargeback
starts as `needs_response`, the money and a dispute fee are withdrawn at once
(`charge.dispute.funds_withdrawn`), then `under_review` once evidence is submitted, and closes `won`
(`charge.dispute.funds_reinstated`) or `lost`; without evidence by `evidence_details.due_by` it is lost.
`prevented` (2025-08-27.basil) is a dispute stopped before it became a chargeback (the charge refunded).
A bank debit's dispute (SEPA, ACH) cannot be answered: it is lost when it opens. Every event's
`data.object` is the Dispute, never the Charge. The Charge says `disputed: true`. Stripe keeps the
customer's subscription cycling unless the account is set to cancel it on a dispute.

The disputes stream (--disputes, per customer with an open failed invoice, per fixture day) opens a
dispute on the customer's latest succeeded charge and lets it run its course."""

from fixture_codes import BANK_TYPES, ApiError, unit_hash
from fixture_world import DAY, OPEN_DISPUTE

REASONS = ("bank_cannot_process", "check_returned", "credit_not_processed", "customer_initiated",
           "debit_not_authorized", "duplicate", "fraudulent", "general", "incorrect_account_details",
           "insufficient_funds", "noncompliant", "product_not_received", "product_unacceptable",
           "subscription_canceled", "unrecognized")
CLOSED = ("won", "lost", "warning_closed", "prevented")
# Card networks' reason codes for a dispute reason: Visa, Mastercard, American Express.
NETWORK_REASON = {"fraudulent": ("10.4", "4837", "F29"), "subscription_canceled": ("13.2", "4841", "C28"),
                  "product_not_received": ("13.1", "4855", "C08"), "credit_not_processed": ("13.6", "4860", "C02"),
                  "duplicate": ("12.6.1", "4834", "P08"), "unrecognized": ("10.4", "4863", "F24"),
                  "product_unacceptable": ("13.3", "4853", "C32"), "general": ("13.7", "4853", "C32")}
STREAM_REASONS = (("fraudulent", 40), ("subscription_canceled", 20), ("product_not_received", 10),
                  ("unrecognized", 10), ("general", 10), ("credit_not_processed", 5), ("duplicate", 5))
EVIDENCE = ("access_activity_log", "billing_address", "cancellation_policy", "cancellation_policy_disclosure",
            "cancellation_rebuttal", "customer_communication", "customer_email_address", "customer_name",
            "customer_purchase_ip", "customer_signature", "duplicate_charge_documentation",
            "duplicate_charge_explanation", "duplicate_charge_id", "product_description", "receipt", "refund_policy",
            "refund_policy_disclosure", "refund_refusal_explanation", "service_date", "service_documentation",
            "shipping_address", "shipping_carrier", "shipping_date", "shipping_documentation",
            "shipping_tracking_number", "uncategorized_file", "uncategorized_text")


def end_of_day(t):
    return (int(t) // DAY + 1) * DAY - 1


def due_by(world, du_id, now, inquiry):
    """When evidence is due: the end of a day 7 to 20 days (inquiries 10 to 20) from now, as Stripe sets it."""
    lo = 10 if inquiry else 7
    return end_of_day(now + (lo + int(unit_hash(world.seed, "due", du_id, now) * (21 - lo))) * DAY)


def latest_charge(world, cid):
    """The customer's latest succeeded charge that is not disputed yet, or None."""
    mine = [c for c in world.charges.values() if c["customer"] == cid and c["status"] == "succeeded"
            and not c.get("disputed")]
    order = {ch: n for n, ch in enumerate(world.charges)}
    return max(mine, key=lambda c: (c["created"], order[c["id"]]), default=None)


def txn(world, du, amount, fee, description, category, now):
    return {"id": world.new_id("txn_"), "object": "balance_transaction", "amount": amount,
            "available_on": end_of_day(now + 2 * DAY) + 1, "created": now, "currency": du["currency"],
            "description": description, "exchange_rate": None, "fee": fee,
            "fee_details": [{"amount": fee, "application": None, "currency": du["currency"], "description": "Dispute fee",
                             "type": "stripe_fee"}] if fee else [],
            "net": amount - fee, "reporting_category": category, "source": du["id"], "status": "pending",
            "type": "adjustment"}


def open_dispute(world, ch_id, reason=None, status=None, source="control"):
    """A dispute on a succeeded charge; returns it. Emits charge.dispute.created, and for a chargeback
    charge.dispute.funds_withdrawn (a bank debit's dispute closes lost at once)."""
    ch = world.charges.get(ch_id)
    if ch is None:
        raise KeyError("no such charge %s" % ch_id)
    if ch["status"] != "succeeded":
        raise ApiError(400, "invalid_request_error", "Only a succeeded charge can be disputed (charge %s is %s)."
                       % (ch_id, ch["status"]))
    if ch.get("disputed"):
        raise ApiError(409, "invalid_request_error", "Charge %s is already disputed." % ch_id)
    mtype = (world.methods.get(ch["payment_method"]) or {}).get("type", "card")
    bank = mtype in BANK_TYPES
    reason = reason or ("customer_initiated" if mtype == "sepa_debit" else "debit_not_authorized" if bank
                        else "fraudulent")
    status = status or ("lost" if bank else "needs_response")
    if reason not in REASONS:
        raise ApiError(400, "invalid_request_error", "Invalid reason: %s" % reason, param="reason")
    if status not in OPEN_DISPUTE + ("lost", "prevented"):
        raise ApiError(400, "invalid_request_error", "A dispute opens as one of %s, lost or prevented, not %s"
                       % (", ".join(OPEN_DISPUTE), status), param="status")
    now = world.now()
    du_id = world.new_id("du_")
    inquiry = status.startswith("warning_") or status == "prevented"
    brand = (world.methods.get(ch["payment_method"]) or {}).get("card", {}).get("brand", "visa")
    codes = NETWORK_REASON.get(reason, NETWORK_REASON["general"])
    du = {"id": du_id, "object": "dispute", "amount": ch["amount"], "balance_transactions": [], "charge": ch_id,
          "created": now, "currency": ch["currency"], "enhanced_eligibility_types": [],
          "evidence": dict.fromkeys(EVIDENCE), "evidence_details": {
              "due_by": 0 if bank else due_by(world, du_id, now, inquiry), "enhanced_eligibility": {},
              "has_evidence": False, "past_due": False, "submission_count": 0},
          "is_charge_refundable": inquiry and status != "prevented", "livemode": False, "metadata": {},
          "payment_intent": ch.get("payment_intent"),
          "payment_method_details": None if bank else {"type": "card", "card": {
              "brand": brand, "case_type": "inquiry" if inquiry else "chargeback",
              "network_reason_code": codes[{"mastercard": 1, "amex": 2}.get(brand, 0)]}},
          "reason": reason, "status": status}
    du["evidence"]["enhanced_evidence"] = {}
    if status == "prevented":
        du["payment_method_details"]["card"]["case_type"] = "resolution"
        ch.update(refunded=True, amount_refunded=ch["amount"])
    world.disputes[du_id] = du
    ch["disputed"] = True
    world.add_event("charge.dispute.created", du, source=source)
    if not inquiry:
        withdraw(world, du, now, source)
    if status in CLOSED:
        world.add_event("charge.dispute.closed", du, source=source)
    if world.audit is not None:
        world.audit.disputes.append({"dispute": du_id, "charge": ch_id, "customer": ch["customer"], "status": status,
                                     "reason": reason, "at": world.clock.now_f(), "source": source})
    return du


def withdraw(world, du, now, source):
    fee = 1500 if du["currency"] == "usd" else 2000
    du["balance_transactions"].append(txn(world, du, -du["amount"], fee, "Chargeback withdrawal for %s" % du["charge"],
                                          "dispute", now))
    world.add_event("charge.dispute.funds_withdrawn", du, source=source)


def update_dispute(world, du_id, status, source="control"):
    """An open dispute moves on: an inquiry under review or escalated to a chargeback (the money is
    withdrawn then), a chargeback under review once evidence is in. Emits charge.dispute.updated."""
    du = world.disputes.get(du_id)
    if du is None:
        raise KeyError("no such dispute %s" % du_id)
    old = du["status"]
    allowed = {"warning_needs_response": ("warning_under_review", "needs_response"),
               "warning_under_review": ("needs_response",), "needs_response": ("under_review",)}
    if status not in allowed.get(old, ()):
        raise ApiError(400, "invalid_request_error", "A dispute in %s cannot become %s." % (old, status), param="status")
    now = world.now()
    prev = {"status": old}
    du["status"] = status
    if status == "under_review":
        ev = du["evidence_details"]
        prev["evidence_details"] = dict(ev)
        ev.update(has_evidence=True, submission_count=ev["submission_count"] + 1, past_due=now > ev["due_by"])
    escalated = status == "needs_response"
    if escalated:
        prev.update(is_charge_refundable=du["is_charge_refundable"],
                    evidence_details=dict(du["evidence_details"]))
        du["is_charge_refundable"] = False
        du["evidence_details"]["due_by"] = due_by(world, du_id, now, False)
        if du["payment_method_details"]:
            du["payment_method_details"]["card"]["case_type"] = "chargeback"
    world.add_event("charge.dispute.updated", du, previous=prev, source=source)
    if escalated:
        withdraw(world, du, now, source)
    return du


def close_dispute(world, du_id, status, source="control"):
    """The network decides: won (the money comes back: charge.dispute.funds_reinstated), lost,
    warning_closed (an inquiry that never became a chargeback) or prevented. Emits charge.dispute.closed."""
    du = world.disputes.get(du_id)
    if du is None:
        raise KeyError("no such dispute %s" % du_id)
    old = du["status"]
    inquiry = old.startswith("warning_")
    ok = {"won": not inquiry, "lost": not inquiry, "warning_closed": inquiry, "prevented": inquiry}
    if old not in OPEN_DISPUTE or not ok.get(status, False):
        raise ApiError(400, "invalid_request_error", "A dispute in %s cannot close as %s." % (old, status),
                       param="status")
    now = world.now()
    du["status"] = status
    du["is_charge_refundable"] = False
    if status == "prevented":
        world.charges[du["charge"]].update(refunded=True, amount_refunded=du["amount"])
    world.add_event("charge.dispute.closed", du, previous={"status": old}, source=source)
    if status == "won":
        du["balance_transactions"].append(txn(world, du, du["amount"], 0, "Chargeback reversal for %s" % du["charge"],
                                              "dispute_reversal", now))
        world.add_event("charge.dispute.funds_reinstated", du, source=source)
    return du


def on_dispute(world, payload, due):
    """The disputes stream: a customer with a failing invoice disputes their latest succeeded charge."""
    cid, k = payload["customer"], payload["k"]
    c = world.customers.get(cid)
    if c is None or c.get("deleted") or not any(i["customer"] == cid and i["status"] == "open"
                                                for i in world.invoices.values()):
        world.dispute_pending.discard(cid)
        return
    ch = latest_charge(world, cid)
    if ch is not None:
        rng = world.rng_for("dispute-act", cid, k)
        reason = rng.choices([r for r, _ in STREAM_REASONS], [w for _, w in STREAM_REASONS])[0]
        pm = world.methods.get(ch["payment_method"]) or {}
        brand = (pm.get("card") or {}).get("brand")
        inquiry = pm.get("type") == "card" and rng.random() < (0.6 if brand == "amex" else 0.1)
        du = open_dispute(world, ch["id"], None if pm.get("type") in BANK_TYPES else reason,
                          "warning_needs_response" if inquiry else None, source="stream")
        if du["status"] in OPEN_DISPUTE:
            world.at(du["evidence_details"]["due_by"] + 1, "dispute_due", {"dispute": du["id"], "n": 1})
    rate = world.streams.get("disputes", 0.0)
    if rate > 0:
        world.at(due + world.stream_delay(rate, "dispute", cid, k + 1), "dispute", {"customer": cid, "k": k + 1})
    else:
        world.dispute_pending.discard(cid)


def on_due(world, payload, due):
    """Evidence was due. Unanswered, a chargeback is lost, and an inquiry closes or becomes a chargeback
    (half the time each); with evidence in (a test moved it under review), the issuer decides 60 days
    later, for the merchant 40 % of the time."""
    du = world.disputes.get(payload["dispute"])
    if du is None or du["status"] not in OPEN_DISPUTE:
        return
    if du["status"] == "under_review" and not payload.get("decide"):   # evidence in: the issuer takes its time
        world.at(due + 60 * DAY, "dispute_due", dict(payload, decide=True))
    elif du["status"] == "under_review":
        close_dispute(world, du["id"], "won" if unit_hash(world.seed, "won", du["id"]) < 0.4 else "lost",
                      source="stream")
    elif du["status"] == "needs_response":
        close_dispute(world, du["id"], "lost", source="stream")
    elif unit_hash(world.seed, "inquiry", du["id"]) < 0.5:
        close_dispute(world, du["id"], "warning_closed", source="stream")
    else:
        update_dispute(world, du["id"], "needs_response", source="stream")
        world.at(du["evidence_details"]["due_by"] + 1, "dispute_due", {"dispute": du["id"], "n": payload["n"] + 1})


def listed(world, q):
    """Disputes for GET /v1/disputes: newest first, filtered by charge and payment_intent."""
    order = {d: n for n, d in enumerate(world.disputes)}
    items = [d for d in world.disputes.values() if q.get("charge") in (None, d["charge"])
             and q.get("payment_intent") in (None, d["payment_intent"])]
    items.sort(key=lambda d: (-d["created"], -order[d["id"]]))
    return items
