"""POST /v1/invoices/{id}/pay on the Stripe fixture, behind Stripe's idempotency layer.

Idempotency (docs.stripe.com/api/idempotent_requests, /error-low-level): the first result of a key
is saved once the endpoint began executing, whatever it was (a 402, a 400 on a paid invoice, a 500)
and replayed with `Idempotent-Replayed: true`; the same key with other parameters is an
`idempotency_error`; requests rejected by parameter validation save nothing. Keys are pruned after
24 hours of fixture time: the same request afterwards is a new one (it charges again if the invoice
is still open).

A 500 on a pay is indeterminate, as Stripe warns: half the time the payment went through before the
error (its 500 is saved under the key, so a replay within 24 h answers the same 500), a quarter of the
time the request failed before executing (nothing saved: a replay executes it), a quarter of the time
it began and was rolled back (the 500 is saved, nothing was charged)."""

import json
import time

from fixture_codes import (DETACHED_MESSAGE, NOT_ATTACHED_MESSAGE, PROCESSING_MESSAGE, ApiError, missing)
from fixture_faults import api_error_body
from fixture_issuer import attempt

IDEMPOTENCY_TTL = 24 * 3600
# Outcomes after which Stripe keeps the answer under the key (execution had begun).
SAVED = ("succeeded", "declined", "processing", "not_open", "rejected_state", "rolled_back")
ALLOWED = {"payment_method", "off_session", "expand", "forgive", "mandate", "paid_out_of_band", "source"}


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


def check_unknown(q, allowed):
    for k in q:
        if k not in allowed:
            raise ApiError(400, "invalid_request_error", "Received unknown parameter: %s" % k,
                           code="parameter_unknown", param=k)


def pay(world, iid, form_pairs, key, request_id, fault500=None):
    """Returns (status, body, headers). `fault500`: None, or "executed" / "rolled_back" (a 500 after
    execution began: the payment went through, or was rolled back)."""
    fingerprint = json.dumps(["POST", "/v1/invoices/%s/pay" % iid, sorted(form_pairs)])
    now = world.now()
    form = nest(form_pairs)
    inv = world.invoices.get(iid)
    record = {"invoice": iid, "idempotency_key": key, "payment_method": form.get("payment_method"),
              "outcome": None, "status_before": inv["status"] if inv else None, "time": time.time(),
              "fixture_time": world.clock.now_f(), "request_id": request_id, "answer": None}
    audit = world.audit
    if key is not None:
        if len(key) > 255:
            raise ApiError(400, "invalid_request_error",
                           "Invalid idempotency key: must be at most 255 characters long.")
        for k in [k for k, e in world.idempotency.items() if now - e["time"] > IDEMPOTENCY_TTL]:
            del world.idempotency[k]
        ent = world.idempotency.get(key)
        if ent is not None:
            if ent["fingerprint"] != fingerprint:
                audit.idempotency_conflicts += 1
                record.update(outcome="idempotency_error", answer=400)
                audit.attempts.append(record)
                raise ApiError(400, "idempotency_error",
                               "Keys for idempotent requests can only be used with the same parameters they were "
                               "first used with. Try using a key other than '%s' if you meant to execute a different "
                               "request." % key)
            record.update(outcome="replayed", replay_of=ent["request_id"], answer=ent["status"])
            audit.attempts.append(record)
            headers = dict(ent["headers"])
            headers["Idempotent-Replayed"] = "true"
            headers["Original-Request"] = ent["request_id"]
            return ent["status"], ent["body"], headers
    headers = {}
    try:
        status, body = execute(world, inv, iid, form, record, key, request_id, dry=fault500 == "rolled_back")
    except ApiError as e:
        status, body, headers = e.status, {"error": e.body}, dict(e.headers)
        if record["outcome"] is None:
            record["outcome"] = "rejected"
            record["error"] = e.body.get("message")
    if fault500 is not None and record["outcome"] in SAVED:
        record["fault"] = "500"
        record["executed"] = fault500 == "executed" and record["outcome"] in ("succeeded", "declined", "processing")
        status, body, headers = 500, api_error_body(request_id), {"Stripe-Should-Retry": "false"}
    record["answer"] = status
    audit.attempts.append(record)
    if key is not None:
        headers["Idempotency-Key"] = key
        if record["outcome"] in SAVED:
            world.idempotency[key] = {"fingerprint": fingerprint, "status": status, "body": body,
                                      "headers": dict(headers), "time": now, "request_id": request_id}
    return status, body, headers


def execute(world, inv, iid, form, record, key, request_id, dry=False):
    """The endpoint itself: (status, body); ApiError for Stripe's refusals."""
    check_unknown(form, ALLOWED)
    if inv is None:
        raise missing("invoice", iid)
    cust = world.customers.get(inv["customer"])
    sub = world.subscriptions.get(inv["subscription"] or "")
    off = form.get("off_session")
    if off is not None and off not in ("true", "false"):
        raise ApiError(400, "invalid_request_error", "Invalid boolean: %s" % off, param="off_session")
    closed = inv["status"] != "open" or (sub is not None and sub["status"] == "canceled") \
        or cust is None or cust.get("deleted")
    if closed:
        world.audit.on_closed_pay(inv, record)
    if inv["status"] in ("paid", "void", "draft"):
        record["outcome"] = "not_open"
        raise ApiError(400, "invalid_request_error", {
            "paid": "Invoice is already paid", "void": "You cannot pay a void invoice.",
            "draft": "This invoice is still a draft. Finalize it before paying."}[inv["status"]])
    if form.get("paid_out_of_band") == "true":
        record["outcome"] = "succeeded"
        world.mark_paid(inv, world.clock.now_f(), "out_of_band")
        inv["paid_out_of_band"] = True
        world.add_event("invoice.paid", inv, request={"id": request_id, "idempotency_key": key})
        return 200, inv
    if cust is None or cust.get("deleted"):
        record["outcome"] = "not_open"
        raise missing("customer", inv["customer"], "customer")
    pi = world.intents[world.inv_meta[iid]["pi"]]
    pm_id = form.get("payment_method")
    if pm_id is None:
        pm_id = cust["invoice_settings"]["default_payment_method"] or \
            ((pi.get("last_payment_error") or {}).get("payment_method") or {}).get("id")
        if pm_id is None:
            raise ApiError(400, "invalid_request_error",
                           "The customer has no default payment method and none was given.", param="payment_method")
    if not isinstance(pm_id, str) or pm_id not in world.methods:
        raise missing("payment_method", pm_id, "payment_method")
    pm = world.methods[pm_id]
    record["payment_method"] = pm_id
    record["method_type"] = pm["type"]
    if pm["customer"] is None:
        record["outcome"] = "rejected_state"
        raise ApiError(400, "invalid_request_error", DETACHED_MESSAGE, param="payment_method")
    if pm["customer"] != inv["customer"]:
        record["outcome"] = "rejected_state"
        raise ApiError(400, "invalid_request_error", NOT_ATTACHED_MESSAGE % pm_id, param="payment_method")
    if pi["status"] == "processing":
        record["outcome"] = "rejected_state"
        raise ApiError(400, "invalid_request_error", PROCESSING_MESSAGE, code="payment_intent_unexpected_state",
                       extra={"payment_intent": json.loads(json.dumps(pi))})
    if dry:
        record["outcome"] = "rolled_back"
        return 200, inv
    request = {"id": request_id, "idempotency_key": key}
    status, body, outcome = attempt(world, inv, pm_id, off != "false", "api", request, record)
    record["outcome"] = outcome
    if status == 402:
        record["code"] = body["error"].get("code")
        record["decline_code"] = body["error"].get("decline_code")
    world.audit.on_executed(key, record)
    return status, body
