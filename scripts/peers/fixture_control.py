"""The fixture's control API under /_fixture/ (no auth, JSON in and out, never faulted): scenarios,
queued faults, what happens outside the retry system (invoices settled elsewhere, voided,
subscriptions cancelled, customers deleted, customers changing cards or paying on the hosted page,
disputes, customers clicking the links they were sent), the clock, and the records with their audit."""

import urllib.parse

from fixture_codes import BANK_TYPES, COUNTRIES, ApiError, bank_fields, complete_outcome
import fixture_disputes
from fixture_customers import attach_card, detach, hosted_retry, update_card
from fixture_links import visit_control
from fixture_population import make_draft_invoice, make_paid_invoice
from fixture_world import DAY, EVENT_RETENTION


class Reply:
    def __init__(self, status, body):
        self.status, self.body = status, body


def control(server, method, parts, query, data):
    """Handles /_fixture/<parts...>; returns a Reply. The world's lock is held."""
    w = server.world
    w.advance()
    w.action()
    try:
        return _control(server, w, method, parts, query, data)
    except ApiError as e:
        return Reply(e.status, {"error": e.body})


def _control(server, w, m, parts, query, data):
    if parts == ["scenario"] and m == "POST":
        return scenario(w, data)
    if parts == ["faults"]:
        if m == "POST":
            try:
                return Reply(200, {"faults": server.faults.add(data if isinstance(data, list) else [data])})
            except ValueError as e:
                return Reply(400, {"error": str(e)})
        if m == "DELETE":
            server.faults.clear()
            return Reply(200, {"faults": []})
        if m == "GET":
            return Reply(200, {"faults": server.faults.listing()})
    if parts == ["random_faults"]:
        rf = server.random_faults
        if m == "POST":
            for k in ("500", "429", "lock_timeout", "409"):
                if k in data:
                    rf.rates[k] = float(data[k])
            if "event_order" in data:
                w.event_shuffle = float(data["event_order"])
        return Reply(200, {"rates": rf.rates, "counts": rf.counts, "event_order": w.event_shuffle})
    if len(parts) == 3 and parts[0] == "invoices" and m == "POST":
        return invoice_action(w, parts[1], parts[2], data)
    if len(parts) == 3 and parts[0] == "subscriptions" and parts[2] == "cancel" and m == "POST":
        sub = w.subscriptions.get(parts[1])
        if sub is None:
            return Reply(404, {"error": "no such subscription"})
        return cancel_subscription(w, sub, data.get("invoices", "leave_open"))
    if len(parts) == 3 and parts[0] == "charges" and parts[2] == "dispute" and m == "POST":
        if parts[1] not in w.charges:
            return Reply(404, {"error": "no such charge"})
        return Reply(200, fixture_disputes.open_dispute(w, parts[1], data.get("reason"), data.get("status")))
    if len(parts) == 3 and parts[0] == "disputes" and m == "POST":
        if parts[1] not in w.disputes:
            return Reply(404, {"error": "no such dispute"})
        if parts[2] == "close":
            return Reply(200, fixture_disputes.close_dispute(w, parts[1], data.get("status", "lost")))
        if parts[2] == "update":
            return Reply(200, fixture_disputes.update_dispute(w, parts[1], data.get("status", "under_review")))
    if parts == ["disputes"] and m == "GET":
        return Reply(200, {"disputes": list(w.disputes.values()), "records": w.audit.disputes})
    if parts == ["links", "visit"] and m == "POST":
        st, rec = visit_control(w, data)
        return Reply(st, rec)
    if len(parts) == 3 and parts[:2] == ["billing_portal", "sessions"] and m == "GET":
        ent = w.portal_sessions.get(parts[2])
        if ent is None:
            return Reply(404, {"error": "no such session"})
        return Reply(200, dict(ent, now=w.clock.now_f()))
    if len(parts) == 3 and parts[0] == "customers" and m == "POST":
        c = w.customers.get(parts[1])
        if c is None:
            return Reply(404, {"error": "no such customer"})
        if parts[2] == "payment_methods":
            return Reply(200, attach_card(w, c["id"], data))
        if parts[2] == "dispute":
            ch = fixture_disputes.latest_charge(w, c["id"])
            if ch is None:
                return Reply(400, {"error": "customer %s has no succeeded charge left to dispute" % c["id"]})
            return Reply(200, fixture_disputes.open_dispute(w, ch["id"], data.get("reason"), data.get("status")))
        if parts[2] == "delete":
            for sub in w.subscriptions.values():
                if sub["customer"] == c["id"] and sub["status"] != "canceled":
                    sub.update(status="canceled", canceled_at=w.now(), ended_at=w.now())
                    w.canceled_at[sub["id"]] = w.clock.now_f()
            w.deleted_at[c["id"]] = w.clock.now_f()
            w.customers[c["id"]] = {"id": c["id"], "object": "customer", "deleted": True}
            w.add_event("customer.deleted", c, source="control")
            return Reply(200, w.customers[c["id"]])
    if len(parts) == 3 and parts[0] == "payment_methods" and m == "POST":
        if parts[1] not in w.methods:
            return Reply(404, {"error": "no such payment method"})
        if parts[2] == "detach":
            return Reply(200, detach(w, parts[1]))
        if parts[2] == "update":
            return Reply(200, update_card(w, parts[1], data.get("exp_month"), data.get("exp_year"),
                                          automatic=bool(data.get("automatic"))))
    if parts == ["invoices"] and m == "GET":
        q = dict(urllib.parse.parse_qsl(query))
        return Reply(200, {"invoices": [{"id": i["id"], "status": i["status"], "customer": i["customer"],
                                         "subscription": i["subscription"], "created": i["created"],
                                         "processing": w.intents[w.inv_meta[i["id"]]["pi"]]["status"] == "processing"}
                                        for i in w.invoices.values() if q.get("status") in (None, i["status"])]})
    if parts == ["clock"]:
        if m == "POST":
            w.clock.offset += float(data.get("advance_seconds", 0))
            w.advance()
        return Reply(200, {"now": w.now(), "offset": w.clock.offset, "time_scale": w.clock.scale})
    if parts == ["records"] and m == "GET":
        return Reply(200, w.audit.report(server.fault_counts()))
    if parts == ["events"] and m == "GET":
        q = dict(urllib.parse.parse_qsl(query))
        out = [dict(id=e["id"], type=e["type"], created=e["created"], object=e["data"]["object"].get("id"),
                    request=e["request"], **w.event_meta[e["id"]])
               for e in w.events if not q.get("type") or e["type"] == q["type"]]
        return Reply(200, {"events": out, "now": w.clock.now_f(), "time_scale": w.clock.scale,
                           "wall0": w.clock.wall0, "offset": w.clock.offset})
    if parts == ["requests"]:
        if m == "DELETE":
            server.requests.clear()
            return Reply(200, {"requests": []})
        if m == "GET":
            q = dict(urllib.parse.parse_qsl(query))
            since = int(q.get("since", 0) or 0)
            prefix = q.get("path_prefix", "")
            out = [r for r in server.requests[since:] if r["path"].startswith(prefix)]
            return Reply(200, {"requests": out, "total": len(server.requests)})
    if parts == ["state"] and m == "GET":
        return Reply(200, {"customers": len(w.customers), "invoices": len(w.invoices),
                           "open_invoices": sum(1 for i in w.invoices.values() if i["status"] == "open"),
                           "events": len(w.events), "now": w.now(), "time_scale": w.clock.scale})
    return Reply(404, {"error": "unknown control endpoint %s %s" % (m, "/".join(parts))})


def cancel_subscription(w, sub, invoices):
    """customer.subscription.deleted, then what the account's settings do to the customer's open
    invoices: by default Stripe stops their automatic collection (auto_advance false, invoice.updated)
    and leaves them open; or it voids them, or marks them uncollectible."""
    if invoices not in ("leave_open", "void", "mark_uncollectible"):
        return Reply(400, {"error": "invoices must be leave_open, void or mark_uncollectible"})
    sub.update(status="canceled", canceled_at=w.now(), ended_at=w.now())
    w.canceled_at[sub["id"]] = w.clock.now_f()
    w.add_event("customer.subscription.deleted", sub, source="control")
    for inv in [i for i in w.invoices.values() if i["customer"] == sub["customer"] and i["status"] == "open"]:
        if invoices != "leave_open" and inv["subscription"] == sub["id"]:
            invoice_action(w, inv["id"], invoices, {})
        elif inv["auto_advance"]:
            inv.update(auto_advance=False, next_payment_attempt=None)
            w.add_event("invoice.updated", inv, previous={"auto_advance": True}, source="control")
    return Reply(200, sub)


def invoice_action(w, iid, action, data):
    inv = w.invoices.get(iid)
    if inv is None:
        return Reply(404, {"error": "no such invoice"})
    meta = w.inv_meta[iid]
    processing = w.intents[meta["pi"]]["status"] == "processing"
    now = w.clock.now_f()
    if action == "hosted_retry":
        rec = hosted_retry(w, iid, data.get("payment_method"), data.get("outcome"), source="control")
        return Reply(200 if rec["outcome"] != "not_possible" else 400, rec)
    if action in ("pay_out_of_band", "void") and processing:
        return Reply(400, {"error": "a payment of invoice %s is processing" % iid})
    if action == "pay_out_of_band":
        if inv["status"] not in ("open", "uncollectible"):
            return Reply(400, {"error": "invoice is %s" % inv["status"]})
        w.mark_paid(inv, now, "out_of_band")
        inv["paid_out_of_band"] = True
        w.add_event("invoice.paid", inv, request={"id": w.new_id("req_"), "idempotency_key": None}, source="control")
    elif action == "void":
        if inv["status"] not in ("open", "uncollectible", "draft"):
            return Reply(400, {"error": "invoice is %s" % inv["status"]})
        inv.update(status="void", amount_remaining=0)
        inv["status_transitions"]["voided_at"] = int(now)
        meta["closed_at"], meta["closed_by"] = now, "void"
        w.intents[meta["pi"]]["status"] = "canceled"
        w.invoice_payments[meta["inpay"]]["status"] = "canceled"
        w.add_event("invoice.voided", inv, source="control")
    elif action == "mark_uncollectible":
        if inv["status"] != "open":
            return Reply(400, {"error": "invoice is %s" % inv["status"]})
        inv["status"] = "uncollectible"
        inv["status_transitions"]["marked_uncollectible_at"] = int(now)
        meta["closed_at"], meta["closed_by"] = now, "uncollectible"
        w.add_event("invoice.marked_uncollectible", inv, source="control")
    else:
        return Reply(404, {"error": "unknown action"})
    return Reply(200, inv)


def scenario(w, data):
    """A described case: a customer, their methods (with scripted outcomes), failed invoices (a draft
    with "draft": true), and paid invoices before them ("paid_invoices", each charge one to dispute)."""
    c = data.get("customer") or {}
    cid = c.get("id") or w.new_id("cus_")
    if cid in w.customers:
        return Reply(409, {"error": "customer %s exists" % cid})
    methods = data.get("methods") or []
    for m in methods:
        if m.get("id") in w.methods:
            return Reply(409, {"error": "payment method %s exists" % m["id"]})
    invs = data.get("invoices") or ([data["invoice"]] if data.get("invoice") else [])
    paid = data.get("paid_invoices") or []
    for i in invs + paid:
        if i.get("id") in w.invoices:
            return Reply(409, {"error": "invoice %s exists" % i["id"]})
    now = w.now()
    country = c.get("country", "FR")
    tz = {cc: z for cc, z, _ in COUNTRIES}.get(country)
    meta = {str(k): str(v) for k, v in (c.get("metadata") or {}).items()}
    cust = w.make_customer(cid, country, None if "time_zone" in meta else tz, c.get("email", "%s@example.test" % cid),
                           meta, int(c.get("created", now - 86400 * 100)), address=c.get("address", True) is not None,
                           name=c.get("name"), locales=[str(x) for x in c.get("preferred_locales") or []])
    made = []
    for k, m in enumerate(methods):
        pid = m.get("id") or w.new_id("pm_")
        kw = {k2: v for k2, v in m.items() if k2 not in ("id", "type", "outcomes", "created")}
        pm = w.make_method(pid, cid, m.get("type", "card"), int(m.get("created", now - 86400 * (50 - k))), **kw)
        if m.get("outcomes"):
            w.method_state[pid]["outcomes"] = list(m["outcomes"])
        made.append(pm)
    default = c.get("default_method", made[0]["id"] if made else None)
    cust["invoice_settings"]["default_payment_method"] = default
    sid = c.get("subscription_id") or w.new_id("sub_")
    sub = w.make_subscription(sid, cid, c.get("subscription_status", "past_due"), now - 86400 * 100)
    history = []
    for i in paid:
        t = int(i.get("created", now - 40 * DAY))
        history.append(make_paid_invoice(w, i.get("id") or w.new_id("in_"), cid, sid, int(i.get("amount_due", 1999)),
                                         i.get("currency", "eur"), t, i.get("payment_method", default),
                                         events=t > now - EVENT_RETENTION))
    created_invs, drafts = [], []
    for i in invs:
        iid = i.get("id") or w.new_id("in_")
        if i.get("draft"):
            drafts.append(make_draft_invoice(w, iid, cid, sid, int(i.get("amount_due", 1999)), i.get("currency", "eur"),
                                             int(i.get("created", now)), default))
            continue
        d = dict(i.get("decline") or {"decline_code": "insufficient_funds"})
        pm_id = d.pop("payment_method", default)
        if (w.methods.get(pm_id) or {}).get("type") in BANK_TYPES:
            fields = bank_fields(d.get("code") or "insufficient_funds", d.get("network_decline_code"))
        else:
            fields = complete_outcome(d)
        inv = w.make_failed_invoice(iid, cid, sid, int(i.get("amount_due", 1999)), i.get("currency", "eur"),
                                    int(i.get("created", now)), pm_id, fields, source="scenario")
        if i.get("metadata"):
            inv["metadata"] = {str(k): str(v) for k, v in i["metadata"].items()}
        created_invs.append(inv)
    out = {"customer": cust, "methods": made, "subscription": sub, "invoices": created_invs,
           "paid_invoices": history, "drafts": drafts,
           "payment_intents": [w.intents[w.inv_meta[i["id"]]["pi"]] for i in created_invs]}
    if created_invs:
        out["invoice"] = created_invs[0]
        out["payment_intent"] = out["payment_intents"][0]
        out["event"] = next(e for e in reversed(w.events) if e["type"] == "invoice.payment_failed"
                            and e["data"]["object"]["id"] == created_invs[0]["id"])
    return Reply(200, out)
