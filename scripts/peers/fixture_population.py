"""The Stripe fixture's seeded population: customers (with their contact details and languages),
their payment methods and subscriptions, open invoices whose first automatic payment failed, paid
invoices from before the event log's 30 days (the charges a customer may dispute later), and the
--failure-rate stream of new failing invoices.

Contact details are what a dunning notice needs: `email` (under example.test, some customers have
none), `name`, and `preferred_locales` (Stripe's list, most preferred first; empty for most, the
country's language for many, another language for some). They are drawn from their own seeded
streams, so the rest of the population is the same as without them."""

import random
import time

from fixture_codes import (BANK_TYPES, COUNTRIES, DECLINE_MIX, bank_failure, bank_fields, decline_fields)
from fixture_world import ALNUM, DAY

AMOUNTS = (999, 1499, 1999, 2900, 4900, 9900, 19900, 49900)
NAMES = {
    "FR": (("Camille", "Louis", "Chloé", "Hugo", "Léa"), ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau")),
    "DE": (("Lena", "Jonas", "Mia", "Lukas", "Hannah"), ("Müller", "Schmidt", "Schneider", "Fischer", "Weber")),
    "US": (("Olivia", "Liam", "Emma", "Noah", "Ava"), ("Smith", "Johnson", "Williams", "Brown", "Garcia")),
    "GB": (("Amelia", "Oliver", "Isla", "George", "Freya"), ("Taylor", "Davies", "Evans", "Wilson", "Thomas")),
    "ES": (("Lucía", "Hugo", "Martina", "Mateo", "Sofía"), ("García", "Fernández", "López", "Martínez", "Sánchez")),
    "NL": (("Emma", "Noah", "Julia", "Sem", "Tess"), ("de Jong", "Jansen", "de Vries", "van Dijk", "Bakker")),
    "IT": (("Giulia", "Leonardo", "Sofia", "Francesco", "Aurora"), ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi")),
}
LOCALES = {"FR": (["fr-FR"], ["fr"]), "DE": (["de"], ["de-DE"]), "US": (["en-US"], ["en"]),
           "GB": (["en-GB"], ["en"]), "ES": (["es"], ["es-ES"]), "NL": (["nl"], ["nl-NL"]), "IT": (["it"], ["it-IT"])}
OTHER_LOCALES = (["en"], ["fr-FR", "en"], ["de", "en"], ["es-419"], ["pt-BR"], ["pl"])


def contact(world, cid, country, n):
    """(email, name, preferred_locales) of the n-th seeded customer, from its own stream."""
    rng = world.rng_for("contact", cid)
    firsts, lasts = NAMES.get(country, NAMES["US"])
    name = "%s %s" % (rng.choice(firsts), rng.choice(lasts)) if rng.random() < 0.85 else None
    email = "customer%d@example.test" % n if rng.random() < 0.95 else None
    u = rng.random()
    locales = [] if u < 0.45 else list(rng.choice(LOCALES.get(country, (["en"],)))) if u < 0.9 \
        else list(rng.choice(OTHER_LOCALES))
    return email, name, locales


def populate(world, n_customers, n_invoices):
    rng = random.Random(world.seed)
    now = world.start
    cust_ids = []
    for i in range(n_customers):
        country, tz, currency = rng.choice(COUNTRIES)
        cid = world.new_id("cus_")
        meta = {"tier": rng.choice(["gold", "silver", "silver", "bronze", "bronze", "bronze"])}
        tags = rng.choice(["b2b,annual", "b2c,monthly", "b2b,monthly", "b2c,annual", ""])
        if tags:
            meta["tags"] = tags
        created = now - rng.randint(30, 900) * DAY
        email, name, locales = contact(world, cid, country, i + 1)
        c = world.make_customer(cid, country, tz, email, meta, created, address=rng.random() > 0.05, name=name,
                                locales=locales)
        c["currency"] = currency
        pms = []
        for k in range(rng.choice([1, 1, 2, 2, 2, 3, 3, 4])):
            pid = world.new_id("pm_")
            fp = "".join(rng.choice(ALNUM) for _ in range(16))
            if k > 0 and country in ("FR", "DE", "ES", "NL", "IT") and rng.random() < 0.3:
                pm = world.make_method(pid, cid, "sepa_debit", created + k * DAY, last4="%04d" % rng.randint(0, 9999),
                                       fingerprint=fp, bank_code="%08d" % rng.randint(10000000, 99999999),
                                       country=country)
            elif k > 0 and country == "US" and rng.random() < 0.3:
                pm = world.make_method(pid, cid, "us_bank_account", created + k * DAY,
                                       last4="%04d" % rng.randint(0, 9999), fingerprint=fp,
                                       bank_name=rng.choice(["STRIPE TEST BANK", "CHASE", "WELLS FARGO"]))
            else:
                year = time.gmtime(now).tm_year
                expired = rng.random() < 0.1
                pm = world.make_method(pid, cid, "card", created + k * DAY,
                                       brand=rng.choices(["visa", "mastercard", "amex"], [45, 35, 20])[0],
                                       last4="%04d" % rng.randint(0, 9999), exp_month=rng.randint(1, 12),
                                       exp_year=rng.randint(year - 2, year - 1) if expired else rng.randint(year + 1, year + 5),
                                       fingerprint=fp, funding=rng.choice(["credit", "credit", "debit", "prepaid"]),
                                       country=country, requires_authentication=rng.random() < 0.05)
            pms.append(pm)
        default = pms[0]
        if len(pms) > 1 and pms[1]["type"] in BANK_TYPES and rng.random() < 0.4:
            default = pms[1]   # pays by direct debit
        c["invoice_settings"]["default_payment_method"] = default["id"]
        sid = world.new_id("sub_")
        world.make_subscription(sid, cid, rng.choices(["past_due", "active", "unpaid", "canceled"], [70, 20, 6, 4])[0],
                                created)
        cust_ids.append((cid, sid))
    if not cust_ids:
        return
    plan = sorted((now - rng.randint(60, 20 * DAY), ) + rng.choice(cust_ids) for _ in range(n_invoices))
    for created, cid, sid in plan:   # oldest first, so the event log reads in time order
        add_failing_invoice(world, rng, cid, sid, created, source="population")
    for cid, sid in cust_ids:        # after the rest, so the other objects keep their ids
        add_history(world, cid, sid, now)


def add_history(world, cid, sid, now):
    """Paid invoices of the customer from 35 to 110 days ago (their events are past Stripe's 30 days)."""
    rng = world.rng_for("history", cid)
    c = world.customers[cid]
    pm_id = c["invoice_settings"]["default_payment_method"]
    for created in sorted(now - rng.randint(35 * DAY, 110 * DAY) for _ in range(rng.choice([0, 1, 1, 2, 3]))):
        make_paid_invoice(world, world.new_id("in_"), cid, sid, rng.choice(AMOUNTS), c.get("currency") or "eur",
                          created, pm_id)


def make_paid_invoice(world, iid, cid, sid, amount, currency, created, pm_id, events=False):
    """A paid invoice whose automatic payment succeeded at `created` (no events unless asked: older
    than the event log)."""
    inv = world.make_failed_invoice(iid, cid, sid, amount, currency, created, pm_id,
                                    {"code": "card_declined", "decline_code": "generic_decline", "message": ""},
                                    source="history", quiet=True)
    inv["attempt_count"] = 1
    meta = world.inv_meta[iid]
    pi = world.intents[meta["pi"]]
    world.charges[inv["charge"]] = world.charge_object(inv["charge"], inv, pm_id, None, created)
    pi.update(status="succeeded", amount_received=amount, last_payment_error=None, payment_method=pm_id)
    inv.update(status="paid", amount_paid=amount, amount_remaining=0, paid=True)
    inv["status_transitions"]["paid_at"] = created
    meta.update(closed_at=float(created), closed_by="history", paid_count=1)
    world.invoice_payments[meta["inpay"]].update(status="paid", amount_paid=amount)
    world.invoice_payments[meta["inpay"]]["status_transitions"]["paid_at"] = created
    if events:
        for et, obj in (("charge.succeeded", world.charges[inv["charge"]]), ("payment_intent.succeeded", pi),
                        ("invoice.payment_succeeded", inv), ("invoice.paid", inv)):
            world.add_event(et, obj, created=created, source="history")
    return inv


def make_draft_invoice(world, iid, cid, sid, amount, currency, created, pm_id):
    """A draft invoice: not finalized, so no number, no hosted page (`hosted_invoice_url` null), no
    PaymentIntent yet, never attempted."""
    inv = world.make_failed_invoice(iid, cid, sid, amount, currency, created, pm_id,
                                    {"code": "card_declined", "decline_code": "generic_decline", "message": ""},
                                    source="draft", quiet=True)
    world.charges.pop(inv["charge"], None)
    world.intents[world.inv_meta[iid]["pi"]].update(last_payment_error=None, latest_charge=None)
    inv.update(status="draft", attempt_count=0, attempted=False, hosted_invoice_url=None, invoice_pdf=None,
               number=None, payment_intent=None, charge=None)
    inv["status_transitions"]["finalized_at"] = None
    return inv


def add_failing_invoice(world, rng, cid, sid, created, source):
    c = world.customers[cid]
    pm_id = c["invoice_settings"]["default_payment_method"]
    pm = world.methods[pm_id]
    st = world.method_state[pm_id]
    dc = rng.choices([c for _, c in DECLINE_MIX], [w for w, _ in DECLINE_MIX])[0]
    if pm["type"] in BANK_TYPES:
        fields = dict(st["hard"]) if st["hard"] else bank_fields(*bank_failure(pm["type"], rng.random()))
    else:
        if world.card_expired(pm, created):
            dc = "expired_card"
        elif dc == "expired_card":
            dc = "insufficient_funds"
        fields = dict(st["hard"]) if st["hard"] is not None else decline_fields(dc, pm["card"]["brand"], rng)
    amount = rng.choice(AMOUNTS)
    return world.make_failed_invoice(world.new_id("in_"), cid, sid, amount, c.get("currency") or "eur",
                                     created, pm_id, fields, source=source)


def generate_one(world):
    """A new failing invoice for a live subscription (the --failure-rate stream)."""
    with world.lock:
        world.advance()
        live = sorted((s["customer"], s["id"]) for s in world.subscriptions.values()
                      if not world.customers[s["customer"]].get("deleted") and s["status"] != "canceled"
                      and world.customers[s["customer"]]["invoice_settings"]["default_payment_method"])
        if not live:
            return None
        cid, sid = world.gen_rng.choice(live)
        world.action()
        inv = add_failing_invoice(world, world.gen_rng, cid, sid, world.now(), source="generator")
        if world.subscriptions[sid]["status"] == "active":
            world.subscriptions[sid]["status"] = "past_due"
        return inv
