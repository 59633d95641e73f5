"""The links a dunning notice can carry, and what happens when the customer clicks them later.

- Billing portal sessions (POST /v1/billing_portal/sessions {customer, return_url?, locale?,
  flow_data[type]?}): Stripe answers a session whose `url` logs the customer in without a password.
  Stripe says only that sessions are short-lived and expire if the customer does not visit the URL
  (docs.stripe.com/api/customer_portal/sessions); the fixture gives an unvisited session 5 minutes of
  fixture time and a visited one an hour from the visit. A session URL is for redirecting a customer who
  is in your app now, not for an email read hours later.
- The hosted invoice page (`hosted_invoice_url`, null on drafts): valid 30 days after the due date or,
  without one, after finalization, never more than 120 days; a URL the API hands out stays valid at
  least 10 days from then (docs.stripe.com/invoicing/hosted-invoice-page). Paying there is the
  customer's own on-session attempt.

POST /_fixture/links/visit {"url", "action"?} is the customer clicking: a dead link is recorded in
the audit (links_dead_on_click). Two streams act like customers: --portal-visits (the share of portal
sessions whose customer opens the link, most of them hours later, when it is dead; opened in time,
most update their card there) and --hosted-races (the share of reads of an open invoice after which
the customer pays it on the hosted page within seconds: the invoice is settled right while a retry is
being planned)."""

import json
import re
import urllib.parse

from fixture_codes import ApiError, missing, unit_hash
from fixture_customers import attach_card, hosted_retry
from fixture_pay import IDEMPOTENCY_TTL, check_unknown, nest

PORTAL_TTL = 300           # fixture seconds an unvisited session URL works
PORTAL_IDLE = 3600         # fixture seconds a visited session stays open
HOSTED_DAYS, HOSTED_MAX_DAYS, HOSTED_FRESH_DAYS = 30, 120, 10
FLOWS = ("payment_method_update", "subscription_cancel", "subscription_update", "subscription_update_confirm")
AFTER = ("hosted_confirmation", "portal_homepage", "redirect")
LOCALE_RE = re.compile(r"^(auto|[a-z]{2}(-[A-Z0-9]{2,3})?)$")
DAY = 86400


def create_portal_session(world, form_pairs, key, request_id):
    """POST /v1/billing_portal/sessions: (status, body, headers), replayed under an Idempotency-Key."""
    fingerprint = json.dumps(["POST", "/v1/billing_portal/sessions", sorted(form_pairs)])
    now = world.now()
    if key is not None:
        for k in [k for k, e in world.idempotency.items() if now - e["time"] > IDEMPOTENCY_TTL]:
            del world.idempotency[k]
        ent = world.idempotency.get(key)
        if ent is not None:
            if ent["fingerprint"] != fingerprint:
                raise ApiError(400, "idempotency_error",
                               "Keys for idempotent requests can only be used with the same parameters they were "
                               "first used with. Try using a key other than '%s' if you meant to execute a different "
                               "request." % key)
            return ent["status"], ent["body"], dict(ent["headers"], **{"Idempotent-Replayed": "true",
                                                                       "Original-Request": ent["request_id"]})
    form = nest(form_pairs)
    check_unknown(form, {"customer", "return_url", "configuration", "locale", "on_behalf_of", "flow_data", "expand",
                         "customer_account"})
    cid = form.get("customer")
    if not cid:
        raise ApiError(400, "invalid_request_error", "Missing required param: customer.", code="parameter_missing",
                       param="customer")
    c = world.customers.get(cid)
    if c is None or c.get("deleted"):
        raise missing("customer", cid, "customer")
    ret = form.get("return_url")
    if ret is not None and not re.match(r"^https?://[^\s/]+", ret):
        raise ApiError(400, "invalid_request_error", "Not a valid URL", code="url_invalid", param="return_url")
    locale = form.get("locale")
    if locale is not None and not LOCALE_RE.match(locale):
        raise ApiError(400, "invalid_request_error", "Invalid locale: %s" % locale, param="locale")
    flow = portal_flow(form_pairs, ret)
    sid = world.new_id("bps_")
    token = "test_" + world.token("portal|" + sid, 64)
    session = {"id": sid, "object": "billing_portal.session", "configuration": "bpc_1Fx" + world.token("bpc", 21),
               "created": now, "customer": cid, "customer_account": None, "flow": flow, "livemode": False,
               "locale": locale, "on_behalf_of": None, "return_url": ret,
               "url": "https://billing.stripe.test/p/session/" + token}
    world.portal_sessions[sid] = {"session": session, "expires_at": now + PORTAL_TTL, "visited_at": None,
                                  "request_id": request_id}
    schedule_visit(world, sid, now)
    headers = {}
    if key is not None:
        headers["Idempotency-Key"] = key
        world.idempotency[key] = {"fingerprint": fingerprint, "status": 200, "body": session, "headers": dict(headers),
                                  "time": now, "request_id": request_id}
    return 200, session, headers


def portal_flow(form_pairs, return_url):
    """flow_data[...] as the session's `flow` (None without one)."""
    f = {k[len("flow_data["):-1].replace("][", "."): v for k, v in form_pairs if k.startswith("flow_data[")}
    if not f:
        return None
    t = f.get("type")
    if t not in FLOWS:
        raise ApiError(400, "invalid_request_error", "Invalid flow_data[type]: must be one of %s" % ", ".join(FLOWS),
                       param="flow_data[type]")
    after = f.get("after_completion.type", "portal_homepage")
    if after not in AFTER:
        raise ApiError(400, "invalid_request_error", "Invalid flow_data[after_completion][type]",
                       param="flow_data[after_completion][type]")
    sub = f.get(t + ".subscription")
    if t != "payment_method_update" and not sub:
        raise ApiError(400, "invalid_request_error", "Missing required param: flow_data[%s][subscription]." % t,
                       code="parameter_missing", param="flow_data[%s][subscription]" % t)
    return {"type": t, "after_completion": {
        "type": after, "hosted_confirmation": {"custom_message": f.get("after_completion.hosted_confirmation.custom_message")}
        if after == "hosted_confirmation" else None,
        "redirect": {"return_url": f.get("after_completion.redirect.return_url") or return_url}
        if after == "redirect" else None},
        "subscription_cancel": {"retention": None, "subscription": sub} if t == "subscription_cancel" else None,
        "subscription_update": {"subscription": sub} if t == "subscription_update" else None,
        "subscription_update_confirm": {"discounts": [], "items": [], "subscription": sub}
        if t == "subscription_update_confirm" else None}


def schedule_visit(world, sid, now):
    """The portal-visits stream: whether and when the customer opens the session's URL (a delay of
    minutes to days, three hours on average: mostly after it died)."""
    share = world.streams.get("portal_visits", 0.0)
    if share <= 0 or unit_hash(world.seed, "portal-visit", sid) >= share:
        return
    delay = world.rng_for("portal-delay", sid).expovariate(1.0 / (3 * 3600))
    world.at(now + delay, "portal_visit", {"session": sid})


def on_portal_visit(world, payload, due):
    ent = world.portal_sessions.get(payload["session"])
    if ent is None:
        return
    update = unit_hash(world.seed, "portal-update", payload["session"]) < 0.7
    visit(world, ent["session"]["url"], "update_card" if update else None, source="stream")


def hosted_expiry(world, inv):
    """Fixture time after which the invoice's hosted URL no longer loads (None: never finalized)."""
    fin = inv["status_transitions"].get("finalized_at")
    if fin is None:
        return None
    base = inv.get("due_date") or fin
    t = min(base + HOSTED_DAYS * DAY, fin + HOSTED_MAX_DAYS * DAY)
    read = world.audit.last_read.get(inv["id"]) if world.audit is not None else None
    return max(t, read[0] + HOSTED_FRESH_DAYS * DAY) if read else t


def find_link(world, url):
    """("portal", session entry) | ("invoice", invoice) | (None, None) for a URL the fixture handed out."""
    for ent in world.portal_sessions.values():
        if ent["session"]["url"] == url:
            return "portal", ent
    for inv in world.invoices.values():
        if url and inv.get("hosted_invoice_url") == url:
            return "invoice", inv
    return None, None


def visit(world, url, action=None, card=None, payment_method=None, outcome=None, source="control"):
    """The customer clicks `url` now: (status, record). 410 for a dead link (recorded in the audit)."""
    kind, obj = find_link(world, url)
    now = world.clock.now_f()
    rec = {"url": url, "kind": kind, "action": action, "at": now, "source": source}
    if kind is None:
        rec["outcome"] = "unknown"
        return 404, rec
    if kind == "portal":
        s = obj["session"]
        rec.update(session=s["id"], customer=s["customer"], created=s["created"])
        seen = obj["visited_at"]
        dead = now > (obj["expires_at"] if seen is None else seen + PORTAL_IDLE)
        c = world.customers.get(s["customer"]) or {}
        if dead or c.get("deleted"):
            return dead_link(world, rec, "session expired" if dead else "customer deleted")
        if seen is None:
            obj["visited_at"] = now
        rec["outcome"] = "opened"
        if action == "update_card":
            pm = attach_card(world, s["customer"], dict(card or {}, default=True), source="portal")
            rec.update(outcome="updated_card", payment_method=pm["id"])
    else:
        rec.update(invoice=obj["id"], customer=obj["customer"], status=obj["status"])
        until = hosted_expiry(world, obj)
        if until is None or now > until:
            return dead_link(world, rec, "invoice link expired")
        rec["outcome"] = "opened"
        if action == "pay":
            paid = hosted_retry(world, obj["id"], payment_method, outcome, source="hosted")
            rec.update(outcome=paid["outcome"], charge=paid.get("charge"))
    if world.audit is not None:
        world.audit.link_visits.append(rec)
    return 200, rec


def dead_link(world, rec, why):
    rec.update(outcome="expired", reason=why)
    if world.audit is not None:
        world.audit.link_visits.append(rec)
        world.audit.records["links_dead_on_click"].append(dict(rec))
    return 410, rec


def on_invoice_read(world, inv):
    """The hosted-races stream: a read of an open invoice (a retry being planned) is followed, at this
    share, by the customer paying it on the hosted page a few fixture seconds later."""
    share = world.streams.get("hosted_races", 0.0)
    if share <= 0 or inv["status"] != "open":
        return
    n = world.counters.get("_reads|" + inv["id"], 0) + 1
    world.counters["_reads|" + inv["id"]] = n
    u = unit_hash(world.seed, "race", inv["id"], n)
    if u < share:
        world.at(world.clock.now_f() + 1 + 19 * u / share, "hosted_race", {"invoice": inv["id"]})


def on_hosted_race(world, payload, due):
    inv = world.invoices.get(payload["invoice"])
    if inv is None or inv["status"] != "open":
        return
    c = world.customers.get(inv["customer"]) or {}
    pm_id = (c.get("invoice_settings") or {}).get("default_payment_method")
    card = (world.methods.get(pm_id) or {}).get("type") == "card"
    hosted_retry(world, inv["id"], pm_id, "succeed" if card else None, source="hosted_race")


def visit_control(world, data):
    """POST /_fixture/links/visit {"url", "action"?: update_card | pay, "card"?, "payment_method"?, "outcome"?}"""
    url = data.get("url") or ""
    if not urllib.parse.urlsplit(url).scheme:
        raise ValueError("url is required")
    return visit(world, url, data.get("action"), data.get("card"), data.get("payment_method"), data.get("outcome"))
