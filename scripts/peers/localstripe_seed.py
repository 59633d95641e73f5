#!/usr/bin/env python3
"""Create a small failed-payment scenario in a running localstripe.

Usage:
    python3 scripts/peers/localstripe_seed.py --base http://127.0.0.1:PORT --api-key sk_test_x

Everything goes through localstripe's Stripe API (urllib only). Prints one
JSON document: the ids made and what each invoice should do.

localstripe only makes invoices through subscriptions, pays them with the
customer's default payment method, and answers POST /v1/invoices/{id}/pay
with HTTP 500 when given `payment_method` or `off_session`. So a recovery
here is: set the customer's invoice_settings[default_payment_method] to the
method, then POST /v1/invoices/{id}/pay with no parameters. A declined pay
answers 200 with the invoice still "open" (and a new payment_intent), not 402.

Cards (localstripe's test numbers):
    4242424242424242  attaches, charges succeed
    4000000000000341  attaches, charges decline (card_declined)
    4000000000000002  attaching it is declined (402 card_declined)
SEPA IBAN DE62370400440532013001 attaches and fails asynchronously
(about 0.5 s later); that failure is the only path in localstripe that
records an invoice.payment_failed event, and it cancels the subscription.
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

OK_CARD = "4242424242424242"
DECLINE_CARD = "4000000000000341"
ATTACH_DECLINED_CARD = "4000000000000002"
FAILING_IBAN = "DE62370400440532013001"


class Client:
    def __init__(self, base, key):
        self.base = base.rstrip("/")
        self.key = key

    def call(self, method, path, form=None):
        data = urllib.parse.urlencode(form or {}).encode() if method == "POST" else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Authorization": "Bearer " + self.key,
                                              "Stripe-Version": "2024-12-18.acacia"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                return e.code, json.loads(body)
            except ValueError:
                return e.code, {"raw": body.decode("utf-8", "replace")}

    def ok(self, method, path, form=None):
        st, body = self.call(method, path, form)
        if st != 200:
            raise SystemExit("localstripe_seed: %s %s -> %d %s" % (method, path, st, json.dumps(body)))
        return body

    def card(self, number, customer, exp_year=2030):
        pm = self.ok("POST", "/v1/payment_methods", {
            "type": "card", "card[number]": number, "card[exp_month]": "12",
            "card[exp_year]": str(exp_year), "card[cvc]": "123"})
        st, body = self.call("POST", "/v1/payment_methods/%s/attach" % pm["id"], {"customer": customer})
        return pm["id"], st, body

    def sepa(self, iban, customer):
        pm = self.ok("POST", "/v1/payment_methods", {"type": "sepa_debit", "sepa_debit[iban]": iban})
        self.ok("POST", "/v1/payment_methods/%s/attach" % pm["id"], {"customer": customer})
        return pm["id"]

    def customer(self, email, country, tier, tz):
        return self.ok("POST", "/v1/customers", {
            "email": email, "address[country]": country,
            "metadata[tier]": tier, "metadata[time_zone]": tz})["id"]

    def set_default(self, customer, pm):
        self.ok("POST", "/v1/customers/" + customer, {"invoice_settings[default_payment_method]": pm})

    def subscribe(self, customer, plan):
        sub = self.ok("POST", "/v1/subscriptions", {"customer": customer, "items[0][plan]": plan})
        inv = sub["latest_invoice"]
        return sub["id"], (inv["id"] if isinstance(inv, dict) else inv)


# The cases: name, customer (email, country, tier, time zone), payment methods {role: (kind, number,
# description)} attached in this order, the default method's role, and what to expect given
# {role: payment method id}.
CASES = [
    # 1. Declined default card, a working second card: recoverable.
    ("recoverable_with_other_card", ("recoverable@example.com", "FR", "gold", "Europe/Paris"),
     {"bad": ("card", DECLINE_CARD, "card 0341: charges decline"),
      "good": ("card", OK_CARD, "card 4242: charges succeed")},
     "bad",
     lambda m: {"invoice_status": "open", "subscription_status": "incomplete",
                "recover_with": m["good"], "stays_declined_with": m["bad"]}),
    # 2. Only a declining card: stays declined.
    ("stays_declined", ("declined@example.com", "DE", "silver", "Europe/Berlin"),
     {"bad": ("card", DECLINE_CARD, "card 0341: charges decline")},
     "bad",
     lambda m: {"invoice_status": "open", "subscription_status": "incomplete",
                "recover_with": None, "stays_declined_with": m["bad"]}),
    # 3. Failing SEPA debit (asynchronous failure, invoice.payment_failed event), card works.
    ("sepa_failed_with_event", ("sepa@example.com", "DE", "bronze", "Europe/Berlin"),
     {"iban": ("sepa", FAILING_IBAN, "sepa_debit DE62...3001: fails about 0.5 s after the charge"),
      "good": ("card", OK_CARD, "card 4242: charges succeed")},
     "iban",
     lambda m: {"invoice_status": "open", "subscription_status": "canceled", "event": "invoice.payment_failed",
                "recover_with": m["good"], "stays_declined_with": m["iban"]}),
    # 4. A card whose attachment is declined (never usable), plus a paid invoice.
    ("already_paid", ("paid@example.com", "US", "gold", "America/New_York"),
     {"refused": ("card", ATTACH_DECLINED_CARD, "card 0002: attach refused with {status} {body}"),
      "good": ("card", OK_CARD, "card 4242: charges succeed")},
     "good",
     lambda m: {"invoice_status": "paid", "subscription_status": "active", "pay_again": "400 Invoice is already paid"}),
]


def seed_case(c, plan, name, customer, methods, default, expect):
    """One case of CASES: the customer with its payment methods, attached in order, the one whose role
    is `default` as its default, subscribed to `plan` (which makes the invoice). A method's description
    may name the attach answer's {status} and {body}."""
    cus = c.customer(*customer)
    ids, described = {}, {}
    for role, (kind, number, description) in methods.items():
        if kind == "sepa":
            pm, st, body = c.sepa(number, cus), 200, {}
        else:
            pm, st, body = c.card(number, cus)
        ids[role] = pm
        described[pm] = description.format(status=st, body=json.dumps(body, sort_keys=True))
    c.set_default(cus, ids[default])
    sub, inv = c.subscribe(cus, plan)
    return {"name": name, "customer": cus, "subscription": sub, "invoice": inv,
            "methods": described, "expect": expect(ids)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--api-key", default="sk_test_x", help="any key starting with sk_")
    args = ap.parse_args()
    c = Client(args.base, args.api_key)

    product = c.ok("POST", "/v1/products", {"name": "Monthly plan", "type": "service"})["id"]
    plan = "monthly-%d" % int(time.time() * 1000)
    c.ok("POST", "/v1/plans", {"id": plan, "product": product, "amount": "1999",
                               "currency": "eur", "interval": "month"})
    out = {"base": c.base, "product": product, "plan": plan, "cases": []}

    out["cases"] = [seed_case(c, plan, *case) for case in CASES]

    # Let the asynchronous SEPA failure land, then report what localstripe holds.
    time.sleep(1.0)
    for case in out["cases"]:
        inv = c.ok("GET", "/v1/invoices/" + case["invoice"])
        sub = c.ok("GET", "/v1/subscriptions/" + case["subscription"])
        case["observed"] = {"invoice_status": inv["status"], "subscription_status": sub["status"],
                            "payment_intent": inv.get("payment_intent"),
                            "attempt_count": inv.get("attempt_count")}
    ev = c.ok("GET", "/v1/events?type=invoice.payment_failed&limit=100")
    out["invoice_payment_failed_events"] = [e["id"] for e in ev["data"]]
    out["recovery_recipe"] = ("POST /v1/customers/{customer} invoice_settings[default_payment_method]={method}; "
                              "then POST /v1/invoices/{invoice}/pay with no parameters")
    mismatched = [cs["name"] for cs in out["cases"]
                  if cs["observed"]["invoice_status"] != cs["expect"]["invoice_status"]]
    out["mismatched"] = mismatched
    json.dump(out, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
