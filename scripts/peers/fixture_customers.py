"""What the fixture's customers do outside the retry system: they detach a card, add a new one (as
their default or not), update a card's expiry, and retry a failed invoice themselves on Stripe's
hosted invoice page. Each is a control call, and each runs as a seeded background stream over
fixture days (--card-changes, --hosted-retries), emitting the events Stripe emits.

What arrives, and when, is not tidy: a card added to be the default is attached at once
(payment_method.attached) but becomes the default only when the merchant's own code or a later
visit sets it (customer.updated seconds to hours later, or never); a card's new expiry comes from the
customer (payment_method.updated) or from the card network's account updater
(payment_method.automatically_updated, with no customer involved)."""

from fixture_codes import ApiError
from fixture_issuer import attempt

NEW_CARD_BRANDS = (("visa", 50), ("mastercard", 40), ("amex", 10))


def _previous_default(world, c, new_default, source):
    old = c["invoice_settings"]["default_payment_method"]
    if old == new_default:
        return
    c["invoice_settings"]["default_payment_method"] = new_default
    world.add_event("customer.updated", c, previous={"invoice_settings": {"default_payment_method": old}},
                    source=source)


def detach(world, pm_id, source="control"):
    """Detaches a payment method from its customer (Stripe: it can never be used again)."""
    pm = world.methods.get(pm_id)
    if pm is None:
        raise KeyError("no such payment method %s" % pm_id)
    if pm["customer"] is None:
        raise ApiError(400, "invalid_request_error",
                       "The payment method you provided is not attached to a customer so detachment is impossible.")
    cid = pm["customer"]
    pm["customer"] = None
    world.add_event("payment_method.detached", pm, previous={"customer": cid}, source=source)
    c = world.customers.get(cid)
    if c is not None and c["invoice_settings"]["default_payment_method"] == pm_id:
        _previous_default(world, c, None, source)
    world.audit.on_customer_acted(pm_id)
    world.audit.changes.append({"customer": cid, "action": "detach", "payment_method": pm_id,
                                "at": world.clock.now_f(), "source": source})
    return pm


def attach_card(world, cid, spec, source="control"):
    """A new card for the customer (fresh at its issuer), optionally made the default."""
    c = world.customers.get(cid)
    if c is None or c.get("deleted"):
        raise KeyError("no such customer %s" % cid)
    now = world.now()
    rng = world.rng_for("new-card", cid, len(world.methods))
    year = int(spec.get("exp_year", 0)) or (1970 + now // 31557600 + rng.randint(2, 5))
    pid = spec.get("id") or world.new_id("pm_")
    if pid in world.methods:
        raise ValueError("payment method %s exists" % pid)
    brand = spec.get("brand") or rng.choices([b for b, _ in NEW_CARD_BRANDS], [w for _, w in NEW_CARD_BRANDS])[0]
    pm = world.make_method(pid, cid, spec.get("type", "card"), now, brand=brand,
                           last4=spec.get("last4", "%04d" % rng.randint(0, 9999)),
                           exp_month=int(spec.get("exp_month", rng.randint(1, 12))), exp_year=year,
                           fingerprint=spec.get("fingerprint"), country=(c.get("address") or {}).get("country") or "US",
                           fresh=True, requires_authentication=bool(spec.get("requires_authentication", False)),
                           settle_days=spec.get("settle_days"))
    if spec.get("outcomes"):
        world.method_state[pid]["outcomes"] = list(spec["outcomes"])
    world.add_event("payment_method.attached", pm, source=source)
    later = spec.get("default_after")
    if spec.get("default", False) and later is None:
        _previous_default(world, c, pid, source)
    elif spec.get("default", False):
        world.at(world.clock.now_f() + float(later), "set_default", {"customer": cid, "payment_method": pid,
                                                                     "source": source})
    world.audit.changes.append({"customer": cid, "action": "attach_default" if spec.get("default") else "attach",
                                "payment_method": pid, "at": world.clock.now_f(), "source": source,
                                "default_after": later})
    return pm


def on_set_default(world, payload, due):
    """A card attached earlier becomes the customer's default now (customer.updated), if still attached."""
    c = world.customers.get(payload["customer"])
    pm = world.methods.get(payload["payment_method"])
    if c is None or c.get("deleted") or pm is None or pm["customer"] != c["id"]:
        return
    _previous_default(world, c, pm["id"], payload.get("source", "stream"))


def update_card(world, pm_id, exp_month=None, exp_year=None, source="control", automatic=False):
    """The customer updates a card's expiry (its issuer sees a card it may approve again); `automatic`:
    the card network's account updater did (payment_method.automatically_updated)."""
    pm = world.methods.get(pm_id)
    if pm is None or pm["type"] != "card":
        raise KeyError("no such card %s" % pm_id)
    if pm["customer"] is None:
        raise ApiError(400, "invalid_request_error", "You must save this PaymentMethod to a customer before you can "
                       "update it.")
    card = pm["card"]
    prev = {"card": {"exp_month": card["exp_month"], "exp_year": card["exp_year"]}}
    year = world.now() // 31557600 + 1970
    card["exp_month"] = int(exp_month) if exp_month is not None else card["exp_month"]
    card["exp_year"] = int(exp_year) if exp_year is not None else max(card["exp_year"], year) + 3
    st = world.method_state[pm_id]
    st["fresh"] = True
    if not automatic:   # the network updater changes the expiry only: a stolen card or a 3-D Secure need stays
        st.update(hard=None, auth=False)
        world.audit.on_customer_acted(pm_id)
    world.add_event("payment_method.automatically_updated" if automatic else "payment_method.updated", pm,
                    previous=prev, source=source)
    world.audit.changes.append({"customer": pm["customer"], "action": "auto_update" if automatic else "update",
                                "payment_method": pm_id,
                                "at": world.clock.now_f(), "source": source})
    return pm


def hosted_retry(world, iid, pm_id=None, outcome=None, source="hosted"):
    """The customer pays the invoice on the hosted invoice page (on session, no idempotency key of
    ours): a new charge on the invoice, counted by its issuer like any other. Returns the record."""
    inv = world.invoices.get(iid)
    if inv is None:
        raise KeyError("no such invoice %s" % iid)
    c = world.customers.get(inv["customer"]) or {}
    pm_id = pm_id or c.get("invoice_settings", {}).get("default_payment_method")
    record = {"invoice": iid, "payment_method": pm_id, "at": world.clock.now_f(), "outcome": None, "source": source}
    pi = world.intents[world.inv_meta[iid]["pi"]]
    if inv["status"] != "open" or c.get("deleted") or pm_id not in world.methods \
            or world.methods[pm_id]["customer"] != inv["customer"] or pi["status"] == "processing":
        record["outcome"] = "not_possible"
        return record
    if outcome is not None:
        world.method_state[pm_id]["force"] = outcome
    # The hosted page confirms the payment through an API request of its own: its events name that
    # request (never a key of Relance's); only Stripe's automatic work has none ("id": null).
    status, body, out = attempt(world, inv, pm_id, False, "hosted", {"id": world.new_id("req_"), "idempotency_key": None}, record)
    record["outcome"] = out
    if status == 402:
        record["code"] = body["error"].get("code")
        record["decline_code"] = body["error"].get("decline_code")
        record["charge"] = body["error"].get("charge")
    else:
        record["charge"] = inv.get("charge")
    world.audit.hosted.append(record)
    return record


def open_failures(world, cid):
    return [i for i in world.invoices.values() if i["customer"] == cid and i["status"] == "open"]


def on_change(world, payload, due):
    """The card-changes stream: a customer with a failing invoice acts on their payment methods."""
    cid, k = payload["customer"], payload["k"]
    c = world.customers.get(cid)
    if c is None or c.get("deleted") or not open_failures(world, cid):
        world.change_pending.discard(cid)
        return
    rng = world.rng_for("change-act", cid, k)
    u = rng.random()
    default = c["invoice_settings"]["default_payment_method"]
    attached = sorted(p for p, pm in world.methods.items() if pm["customer"] == cid)
    how = world.rng_for("change-how", cid, k)
    expired = default is not None and world.methods[default]["type"] == "card" \
        and world.card_expired(world.methods[default], world.now())
    if expired and how.random() < 0.5:   # the card network's updater got there before the customer
        update_card(world, default, source="updater", automatic=True)
    elif u < 0.40 or (u < 0.80 and (default is None or world.methods[default]["type"] != "card")):
        v = how.random()   # default now (75 %), later (15 %), or never: the merchant's code did not set it
        spec = {"default": True} if v < 0.75 else {"default": True, "default_after": how.uniform(60, 6 * 3600)} \
            if v < 0.90 else {}
        attach_card(world, cid, spec, source="stream")
    elif u < 0.55:
        attach_card(world, cid, {}, source="stream")
    elif u < 0.80:
        update_card(world, default, source="stream")
    elif attached:
        detach(world, default if default and rng.random() < 0.5 else rng.choice(attached), source="stream")
    rate = world.streams.get("card_changes", 0.0)
    if rate > 0 and open_failures(world, cid):
        world.at(due + world.stream_delay(rate, "change", cid, k + 1), "change", {"customer": cid, "k": k + 1})
    else:
        world.change_pending.discard(cid)


def on_hosted(world, payload, due):
    """The hosted-retries stream: a customer retries an open failed invoice themselves."""
    iid, k = payload["invoice"], payload["k"]
    inv = world.invoices.get(iid)
    if inv is None or inv["status"] != "open":
        return
    c = world.customers.get(inv["customer"]) or {}
    pm_id = (c.get("invoice_settings") or {}).get("default_payment_method")
    if pm_id and world.methods.get(pm_id, {}).get("type") == "card":
        hosted_retry(world, iid, pm_id, source="hosted")
    rate = world.streams.get("hosted_retries", 0.0)
    if rate > 0 and inv["status"] == "open":
        world.at(due + world.stream_delay(rate, "hosted", iid, k + 1), "hosted", {"invoice": iid, "k": k + 1})
