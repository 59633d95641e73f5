"""What the card issuers and the banks of the fixture answer, and how a payment attempt changes the
invoice, its PaymentIntent and charges: approvals, declines, 3-D Secure requests off session, and bank
debits that stay `processing` for days before they settle (succeeded, or failed with Stripe's
bank-debit failure codes)."""

import copy
import random
import time

from fixture_codes import (BANK_TYPES, REQUIRES_ACTION_MESSAGE, bank_failure, bank_fields, complete_outcome,
                           decline_fields, is_auth, unit_hash)
from fixture_world import DAY


def decide(world, inv, pm_id, off_session):
    """The answer to charging pm_id for inv now: {"kind": approve | decline | auth | processing, ...}.

    `auth` carries a style: 0 = 402 card_error authentication_required, 1 = 402 whose only code is
    invoice_payment_intent_requires_action, 2 = 200 with the invoice open and its PaymentIntent
    requires_action. A card that asked for authentication asks again off session until the customer
    updates it; on session (the hosted invoice page) the customer completes it."""
    pm = world.methods[pm_id]
    st = world.method_state[pm_id]
    if pm["type"] in BANK_TYPES:
        return {"kind": "processing"}
    style = int(unit_hash(world.seed, "3ds-style", pm_id) * 3)
    if st.get("force") is not None or st["outcomes"] is not None:
        if st.get("force") is not None:
            o = st.pop("force")
        else:
            outs = st["outcomes"]
            o = outs[min(st["used"], len(outs) - 1)]
            st["used"] += 1
        if o == "succeed" or o is None:
            return {"kind": "approve"}
        if o == "requires_action":
            return {"kind": "auth", "style": 2, "fields": auth_fields(2)}
        fields = complete_outcome(o)
        if is_auth(fields) and off_session:
            st["auth"] = True
            s = 1 if fields["code"] == "invoice_payment_intent_requires_action" else 0
            return {"kind": "auth", "style": s, "fields": auth_fields(s) if s else fields}
        return {"kind": "decline", "fields": fields}
    if world.card_expired(pm, world.now()):
        return {"kind": "decline", "fields": decline_fields("expired_card", pm["card"]["brand"])}
    if st["hard"] is not None:
        return {"kind": "decline", "fields": dict(st["hard"])}
    if st["auth"] and off_session:
        return {"kind": "auth", "style": style, "fields": auth_fields(style, pm["card"]["brand"])}
    fields = soft_decline(world, inv, pm_id, "" if off_session else "hosted")
    return {"kind": "approve"} if fields is None else {"kind": "decline", "fields": fields}


def pay_chance(world, inv, pm_id):
    """The issuer's chance to approve this card for this invoice now (retries help a little)."""
    n = inv["attempt_count"]
    if world.method_state[pm_id].get("fresh"):
        return 0.85
    initial = world.intents.get(world.inv_meta[inv["id"]]["pi"], {})
    first_pm = ((initial.get("last_payment_error") or {}).get("payment_method") or {}).get("id")
    same = pm_id == first_pm or pm_id == world.customers[inv["customer"]]["invoice_settings"]["default_payment_method"]
    return min(0.85, 0.10 + 0.15 * (n - 1)) if same else min(0.9, 0.55 + 0.10 * (n - 1))


def soft_decline(world, inv, pm_id, salt=""):
    """None (approved) or the decline fields, for a card with nothing special about it."""
    n = inv["attempt_count"]
    if unit_hash(world.seed, inv["id"], pm_id, n, salt) < pay_chance(world, inv, pm_id):
        return None
    v = unit_hash(world.seed, inv["id"], pm_id, n, "code", salt)
    dc = "insufficient_funds" if v < 0.5 else "do_not_honor" if v < 0.85 else "try_again_later"
    return decline_fields(dc, world.brand(pm_id), random.Random(int(v * 1e9)))


def auth_fields(style, brand=None):
    if style == 0:
        return decline_fields("authentication_required", brand)
    return {"code": "invoice_payment_intent_requires_action", "decline_code": None, "advice_code": None,
            "network_advice_code": None, "network_decline_code": None, "message": REQUIRES_ACTION_MESSAGE}


def attempt(world, inv, pm_id, off_session, source, request, record):
    """Charges pm_id for the open invoice inv. Returns (status, body, outcome) of the API answer.

    `source` is "api" (POST /v1/invoices/{id}/pay) or "hosted" (the customer on the hosted invoice
    page, on session); `request` the event's request object; `record` the attempt's record."""
    now = world.clock.now_f()
    meta = world.inv_meta[inv["id"]]
    pi = world.intents[meta["pi"]]
    if world.audit is not None and source == "api":
        world.audit.before_attempt(inv, pm_id, off_session, record)
    decision = decide(world, inv, pm_id, off_session)
    kind = decision["kind"]
    inv["attempt_count"] += 1
    inv["attempted"] = True
    pi["payment_method"] = pm_id
    if off_session:
        pi["off_session"] = True
    ch_id = None
    if kind != "auth" or decision["style"] == 0:
        ch_id = world.new_id("ch_")
        inv["charge"] = ch_id
        pi["latest_charge"] = ch_id
    if kind == "approve":
        world.charges[ch_id] = world.charge_object(ch_id, inv, pm_id, None, int(now))
        world.mark_paid(inv, now, source, record)
        pi.update(status="succeeded", amount_received=pi["amount"], last_payment_error=None, next_action=None)
        world.note_outcome(pm_id, None, now, source, inv["id"], off_session, request=record)
        for et, obj in (("charge.succeeded", world.charges[ch_id]), ("payment_intent.succeeded", pi),
                        ("invoice.payment_succeeded", inv), ("invoice.paid", inv)):
            world.add_event(et, obj, request=request, source=source)
        return 200, inv, "succeeded"
    if kind == "processing":
        world.charges[ch_id] = world.charge_object(ch_id, inv, pm_id, None, int(now), status="pending")
        pi.update(status="processing", last_payment_error=None, next_action=None)
        world.add_event("charge.pending", world.charges[ch_id], request=request, source=source)
        world.add_event("payment_intent.processing", pi, request=request, source=source)
        world.at(now + settle_delay(world, pm_id, inv, ch_id), "settle",
                 {"invoice": inv["id"], "charge": ch_id, "pm": pm_id, "source": source, "record": record})
        return 200, inv, "processing"
    fields = decision["fields"]
    if kind == "auth" and decision["style"] > 0:
        pi.update(status="requires_action", last_payment_error=None,
                  next_action={"type": "use_stripe_sdk",
                               "use_stripe_sdk": {"type": "three_d_secure_redirect", "source": pm_id}})
        world.note_outcome(pm_id, fields, now, source, inv["id"], off_session, request=record)
        world.add_event("payment_intent.requires_action", pi, request=request, source=source)
        world.add_event("invoice.payment_action_required", inv, request=request, source=source)
        record["requires_action"] = True    # not paid: for a retry system, a decline the customer must act on
        if decision["style"] == 2:
            return 200, inv, "declined"
        body = {"type": "card_error", "code": "invoice_payment_intent_requires_action", "message": fields["message"],
                "doc_url": "https://stripe.com/docs/error-codes/invoice-payment-intent-requires-action",
                "payment_intent": copy.deepcopy(pi)}
        return 402, {"error": body}, "declined"
    world.charges[ch_id] = world.charge_object(ch_id, inv, pm_id, fields, int(now))
    world.note_outcome(pm_id, fields, now, source, inv["id"], off_session, request=record)
    err = world.payment_error(fields, pm_id, ch_id)
    pi.update(status="requires_payment_method", last_payment_error=err, next_action=None)
    for et, obj in (("charge.failed", world.charges[ch_id]), ("payment_intent.payment_failed", pi),
                    ("invoice.payment_failed", inv)):
        world.add_event(et, obj, request=request, source=source)
    body = dict(err)
    body["payment_intent"] = copy.deepcopy(pi)
    if kind == "auth":
        record["requires_action"] = True
    return 402, {"error": body}, "declined"


def settle_delay(world, pm_id, inv, ch_id):
    """Fixture seconds until a bank debit settles: ACH 4 business days, SEPA 5 to 14 days."""
    days = world.method_state[pm_id].get("settle_days")
    if days is not None:
        return float(days) * DAY
    if world.methods[pm_id]["type"] == "us_bank_account":
        t, left = world.now(), 4
        while left > 0:
            t += DAY
            if time.gmtime(t).tm_wday < 5:
                left -= 1
        return t - world.now() + 3600
    return (5 + int(unit_hash(world.seed, "sepa-days", ch_id) * 10)) * DAY


def bank_result(world, inv, pm_id, ch_id):
    """None (the debit went through) or the failure fields."""
    st = world.method_state[pm_id]
    mtype = world.methods[pm_id]["type"]
    if st["outcomes"] is not None:
        o = st["outcomes"][min(st["used"], len(st["outcomes"]) - 1)]
        st["used"] += 1
        if o == "succeed" or o is None:
            return None
        code = o.get("code") or o.get("decline_code") or "insufficient_funds"
        return bank_fields(code, o.get("network_decline_code"), o.get("message"))
    if st["hard"] is not None:
        return dict(st["hard"])
    if unit_hash(world.seed, "bank", ch_id) < (0.72 if mtype == "us_bank_account" else 0.78):
        return None
    return bank_fields(*bank_failure(mtype, unit_hash(world.seed, "bank-code", ch_id)))


def settle(world, payload, due):
    """A bank debit settles: the invoice is paid, or the debit failed and the invoice stays open."""
    inv = world.invoices.get(payload["invoice"])
    ch = world.charges.get(payload["charge"])
    if inv is None or ch is None or ch["status"] != "pending":
        return
    pm_id, source, record = payload["pm"], payload["source"], payload["record"]
    pi = world.intents[world.inv_meta[inv["id"]]["pi"]]
    now = world.clock.now_f()
    fields = bank_result(world, inv, pm_id, ch["id"])
    request = {"id": None, "idempotency_key": None}
    if fields is None:
        ch.update(world.charge_object(ch["id"], inv, pm_id, None, ch["created"]))
        pi.update(status="succeeded", amount_received=pi["amount"], last_payment_error=None)
        world.note_outcome(pm_id, None, now, source, inv["id"], True, bank=True, request=record)
        if inv["status"] == "open":
            world.mark_paid(inv, now, source, record)
        events = (("charge.succeeded", ch), ("payment_intent.succeeded", pi), ("invoice.payment_succeeded", inv),
                  ("invoice.paid", inv))
    else:
        ch.update(world.charge_object(ch["id"], inv, pm_id, fields, ch["created"]))
        pi.update(status="requires_payment_method", last_payment_error=world.payment_error(fields, pm_id, ch["id"]))
        world.note_outcome(pm_id, fields, now, source, inv["id"], True, bank=True, request=record)
        events = (("charge.failed", ch), ("payment_intent.payment_failed", pi), ("invoice.payment_failed", inv))
    for et, obj in events:
        world.add_event(et, obj, request=request, source="settlement")
    # The attempt's outcome becomes what the debit came to.
    record["outcome"] = "succeeded" if fields is None else "declined"
    record["settled_at"] = now
    if fields is not None:
        record["code"] = fields["code"]
