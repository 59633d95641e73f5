"""The Stripe API routes of the fixture (everything but the pay endpoint, in fixture_pay): lists with
Stripe's cursor pagination, object retrieval rendered in the request's API version, and the query
parameter checks Stripe makes.

Versions: a request's `Stripe-Version` header picks the shape of the objects it gets back (the
account's default version without the header); events keep the shape of the account's version when
they were created, whatever the header (docs.stripe.com/api/events/list). Events older than 30 days
are neither listed nor retrievable, and a cursor naming one is an unknown object.

Event order: the list is newest first by `created`, a whole second, and Stripe promises no order among
events of one second (event ids are not ordered either). What one action emits together (a payment's
charge.succeeded, payment_intent.succeeded, invoice.payment_succeeded and invoice.paid; a dispute's
created and funds_withdrawn) becomes visible at once; with faults on, a share of such batches
(--fault-event-order) are listed in another order than they were emitted, the same order on every page
and with every filter. A later action's events always list before an earlier one's, so a cursor
(ending_before) never hides one."""

import re
import urllib.parse

import fixture_disputes
import fixture_links
from fixture_codes import ApiError, missing, unit_hash
from fixture_pay import check_unknown, nest, pay
from fixture_world import render

VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")


def parse_pairs(text):
    try:
        return urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=False)
    except ValueError:
        return []


def request_version(world, header):
    if header is None:
        return world.account_version
    if not VERSION_RE.match(header):
        raise ApiError(400, "invalid_request_error",
                       "Invalid Stripe API version: %s. You can find a list of the valid versions at "
                       "https://docs.stripe.com/upgrades." % header)
    return header


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
            raise ApiError(400, "invalid_request_error", "Received unknown parameter: %s[%s]" % (key, op),
                           code="parameter_unknown", param="%s[%s]" % (key, op))
        try:
            bounds[op] = int(val)
        except ValueError:
            raise ApiError(400, "invalid_request_error", "Invalid integer: %s" % val,
                           code="parameter_invalid_integer", param="%s[%s]" % (key, op))

    def f(t):
        return (("gt" not in bounds or t > bounds["gt"]) and ("gte" not in bounds or t >= bounds["gte"]) and
                ("lt" not in bounds or t < bounds["lt"]) and ("lte" not in bounds or t <= bounds["lte"]))
    return f


def paginate(items, q, url, kind, known=None):
    """A page of `items` (newest first). A cursor must name an object Stripe still knows (`known`)."""
    limit = int_param(q, "limit", 1, 100)
    limit = 10 if limit is None else limit
    sa, eb = q.get("starting_after"), q.get("ending_before")
    if sa and eb:
        raise ApiError(400, "invalid_request_error",
                       "You may only specify one of these parameters: ending_before, starting_after.",
                       code="parameters_exclusive", param="starting_after")
    ids = [o["id"] for o in items]
    pos = {oid: n for n, oid in enumerate(ids)}
    cursor, param = (sa, "starting_after") if sa else (eb, "ending_before")
    if cursor and cursor not in pos:
        if known is None or cursor not in known:
            raise missing(kind, cursor, param)
        # The cursor exists but is filtered out: place it by creation time.
        t = known[cursor]
        j = next((n for n, o in enumerate(items) if o["created"] < t), len(items))
    else:
        j = pos.get(cursor)
    if sa:
        start = j + 1 if sa in pos else j
        page, more = items[start:start + limit], len(items) > start + limit
    elif eb:
        page, more = items[max(0, j - limit):j], j - limit > 0
    else:
        page, more = items[:limit], len(items) > limit
    return {"object": "list", "url": url, "has_more": more, "data": page}


def list_events(world, q):
    check_unknown(q, {"type", "types", "limit", "starting_after", "ending_before", "created", "expand",
                      "delivery_success"})
    cf = created_filter(q)
    if len(q.get("types") or []) > 20:   # Stripe: "An array of up to 20 strings containing specific event names"
        raise ApiError(400, "invalid_request_error", "Invalid array: types must have at most 20 elements",
                       param="types")
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
    visible = world.visible_events()
    known = {e["id"]: e["created"] for e in visible}
    items = [e for e in reversed(visible) if type_ok(e["type"]) and cf(e["created"])]
    items.sort(key=lambda e: -e["created"])  # stable: newest first, ties keep log order
    return paginate(tie_order(world, items), q, "/v1/events", "event", known)


def tie_order(world, items):
    """The events of one action (a batch, one second) in another order than emitted, for a seeded share
    of batches; `items` newest first."""
    share = world.event_shuffle
    if share <= 0:
        return items
    batch = lambda e: (e["created"], world.event_meta[e["id"]]["batch"])
    out, i = [], 0
    while i < len(items):
        j = i
        while j < len(items) and batch(items[j]) == batch(items[i]):
            j += 1
        group = items[i:j]
        if len(group) > 1 and unit_hash(world.seed, "ties", *batch(group[0])) < share:
            group.sort(key=lambda e: unit_hash(world.seed, "tie", e["id"]))
        out += group
        i = j
    return out


def list_disputes(world, q):
    check_unknown(q, {"charge", "payment_intent", "created", "limit", "starting_after", "ending_before", "expand"})
    cf = created_filter(q)
    items = [d for d in fixture_disputes.listed(world, q) if cf(d["created"])]
    return paginate(items, q, "/v1/disputes", "dispute")


def list_charges(world, q, version):
    """GET /v1/charges: newest first, by `customer` or `payment_intent` (every attempt on an invoice's
    PaymentIntent, the customer's own on the hosted page included)."""
    check_unknown(q, {"customer", "payment_intent", "created", "limit", "starting_after", "ending_before", "expand"})
    cf = created_filter(q)
    order = {cid: n for n, cid in enumerate(world.charges)}
    items = [c for c in world.charges.values()
             if (q.get("customer") is None or c["customer"] == q.get("customer"))
             and (q.get("payment_intent") is None or c["payment_intent"] == q.get("payment_intent")) and cf(c["created"])]
    items.sort(key=lambda c: (-c["created"], -order[c["id"]]))
    page = paginate(items, q, "/v1/charges", "charge")
    page["data"] = [render(c, version) for c in page["data"]]
    return page


def list_invoices(world, q, version):
    check_unknown(q, {"status", "collection_method", "customer", "subscription", "limit", "starting_after",
                      "ending_before", "created", "due_date", "expand"})
    st = q.get("status")
    if st is not None and st not in ("draft", "open", "paid", "uncollectible", "void"):
        raise ApiError(400, "invalid_request_error",
                       "Invalid status: must be one of draft, open, paid, uncollectible, or void", param="status")
    cm = q.get("collection_method")
    if cm is not None and cm not in ("charge_automatically", "send_invoice"):
        raise ApiError(400, "invalid_request_error",
                       "Invalid collection_method: must be one of charge_automatically or send_invoice",
                       param="collection_method")
    cf = created_filter(q)
    items = [i for i in world.invoices.values()
             if (st is None or i["status"] == st) and (cm is None or i["collection_method"] == cm)
             and (q.get("customer") is None or i["customer"] == q.get("customer"))
             and (q.get("subscription") is None or i["subscription"] == q.get("subscription"))
             and cf(i["created"])]
    order = {iid: n for n, iid in enumerate(world.invoices)}
    items.sort(key=lambda i: (-i["created"], -order[i["id"]]))
    page = paginate(items, q, "/v1/invoices", "invoice")
    page["data"] = [render_invoice(world, i, version, q) for i in page["data"]]
    return page


def list_customer_methods(world, cid, q):
    check_unknown(q, {"limit", "starting_after", "ending_before", "type", "expand", "allow_redisplay"})
    c = world.customers.get(cid)
    if c is None or c.get("deleted"):
        raise missing("customer", cid, "customer")
    t = q.get("type")
    order = {pid: n for n, pid in enumerate(world.methods)}
    items = [pm for pm in world.methods.values() if pm["customer"] == cid and (t is None or pm["type"] == t)]
    items.sort(key=lambda pm: (-pm["created"], -order[pm["id"]]))
    return paginate(items, q, "/v1/customers/%s/payment_methods" % cid, "payment_method")


def list_invoice_payments(world, q):
    check_unknown(q, {"invoice", "payment", "status", "limit", "starting_after", "ending_before", "expand"})
    iid = q.get("invoice")
    items = [p for p in world.invoice_payments.values() if iid is None or p["invoice"] == iid]
    items.sort(key=lambda p: -p["created"])
    return paginate(items, q, "/v1/invoice_payments", "invoice_payment")


def render_invoice(world, inv, version, q):
    out = render(inv, version)
    paths = [p for p in (q.get("expand") or []) if p != "payments"]
    if len(paths) < len(q.get("expand") or []):
        inpay = world.invoice_payments.get(world.inv_meta.get(inv["id"], {}).get("inpay"))
        out["payments"] = {"object": "list", "data": [dict(inpay)] if inpay else [], "has_more": False,
                           "url": "/v1/invoice_payments"}
    return expand(world, out, paths, version)


def expand(world, obj, paths, version):
    """Replaces the ids named by `expand[]` (dotted paths, e.g. payment_intent.latest_charge) with
    their objects, rendered in `version`; a field that is not an expandable id is refused."""
    tables = {"payment_intent": world.intents, "customer": world.customers, "subscription": world.subscriptions,
              "charge": world.charges, "latest_charge": world.charges, "payment_method": world.methods,
              "invoice": world.invoices, "default_payment_method": world.methods}
    for path in paths:
        head, _, rest = path.partition(".")
        if head not in tables or head not in obj:
            raise ApiError(400, "invalid_request_error", "This property cannot be expanded (%s)." % path,
                           param="expand")
        ref = obj[head]
        if isinstance(ref, str):
            target = tables[head].get(ref)
            obj[head] = ref = render(target, version) if target is not None else ref
        if rest and isinstance(ref, dict):
            expand(world, ref, [rest], version)
    return obj


def route(world, method, path, query_pairs, form_pairs, headers, request_id, fault500=None):
    """Returns (status, body, extra headers, version) for a Stripe API request (after auth);
    `fault500` makes a pay answer 500 after it began executing ("executed" or "rolled_back")."""
    parts = [p for p in path.split("/") if p][1:]
    version = request_version(world, headers.get("Stripe-Version"))
    q = nest(query_pairs)
    if method == "GET":
        if parts == ["events"]:
            return 200, list_events(world, q), {}, version
        if parts == ["invoices"]:
            return 200, list_invoices(world, q, version), {}, version
        if parts == ["charges"]:
            return 200, list_charges(world, q, version), {}, version
        if parts == ["invoice_payments"]:
            return 200, list_invoice_payments(world, q), {}, version
        if parts == ["disputes"]:
            page = list_disputes(world, q)
            paths = [x[5:] if x.startswith("data.") else x for x in q.get("expand") or []]
            page["data"] = [expand(world, render(d, version), paths, version) for d in page["data"]]
            return 200, page, {}, version
        if len(parts) == 3 and parts[0] == "customers" and parts[2] == "payment_methods":
            return 200, list_customer_methods(world, parts[1], q), {}, version
        if len(parts) == 2:
            return 200, retrieve(world, parts[0], parts[1], q, version), {}, version
    if method == "POST" and len(parts) == 3 and parts[0] == "invoices" and parts[2] == "pay":
        st, body, hdrs = pay(world, parts[1], form_pairs, headers.get("Idempotency-Key"), request_id, fault500)
        if st == 200 and body.get("object") == "invoice":
            body = render_invoice(world, body, version, nest(form_pairs))
        return st, body, hdrs, version
    if method == "POST" and parts == ["billing_portal", "sessions"]:
        st, body, hdrs = fixture_links.create_portal_session(world, form_pairs, headers.get("Idempotency-Key"),
                                                             request_id)
        return st, body, hdrs, version
    raise unrecognized(method, path)


def unrecognized(method, path):
    return ApiError(404, "invalid_request_error",
                    "Unrecognized request URL (%s: %s). Please see https://stripe.com/docs or we can help at "
                    "https://support.stripe.com/." % (method, path))


def retrieve(world, kind, oid, q, version):
    tables = {"invoices": (world.invoices, "invoice"), "payment_intents": (world.intents, "payment_intent"),
              "customers": (world.customers, "customer"), "subscriptions": (world.subscriptions, "subscription"),
              "payment_methods": (world.methods, "payment_method"), "charges": (world.charges, "charge"),
              "invoice_payments": (world.invoice_payments, "invoice_payment"),
              "disputes": (world.disputes, "dispute")}
    check_unknown(q, {"expand"})
    if kind == "events":
        ev = next((e for e in world.visible_events() if e["id"] == oid), None)
        if ev is None:
            raise missing("event", oid)
        return ev
    if kind not in tables:
        raise unrecognized("GET", "/v1/%s/%s" % (kind, oid))
    obj = tables[kind][0].get(oid)
    if obj is None:
        raise missing(tables[kind][1], oid)
    if kind == "invoices":
        world.audit.on_invoice_read(oid)
        fixture_links.on_invoice_read(world, obj)
        return render_invoice(world, obj, version, q)
    return expand(world, render(obj, version), q.get("expand") or [], version)
