"""Decline vocabulary of the Stripe fixture: card decline codes and messages as Stripe documents them,
network codes (Visa categories, Mastercard Merchant Advice Codes), bank-debit failure codes (ACH and
SEPA, with their raw return codes), and the errors Stripe answers around them."""

import hashlib
import random
import struct

MESSAGES = {
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "authentication_required": "Your card was declined. This transaction requires authentication.",
    "incorrect_number": "Your card number is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again in a little bit.",
    "card_velocity_exceeded": ("Your card was declined for making repeated attempts too frequently "
                               "or exceeding its amount limit."),
}
GENERIC_MESSAGE = "Your card was declined."
REQUIRES_ACTION_MESSAGE = (
    "This payment requires additional user action before it can be completed successfully. Payment can be "
    "completed using the PaymentIntent associated with the invoice. For more details see: "
    "https://stripe.com/docs/billing/subscriptions/payment#handling-action-required")
# The customer's payment method was detached (or never attached).
DETACHED_MESSAGE = (
    "The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared "
    "with a connected account without Customer attachment, or was detached from a Customer. It may not be used "
    "again. To use a PaymentMethod multiple times, you must attach it to a Customer first.")
NOT_ATTACHED_MESSAGE = ("The customer does not have a payment method with the ID %s. The payment method must be "
                        "attached to the customer.")
PROCESSING_MESSAGE = ("You cannot confirm this PaymentIntent because it has a status of processing. Only a "
                      "PaymentIntent with one of the following statuses may be confirmed: requires_payment_method, "
                      "requires_confirmation, requires_action.")

# Declines the issuer repeats for the card whatever happens (until the customer changes the card).
HARD_DECLINES = {"stolen_card", "lost_card", "fraudulent", "pickup_card", "restricted_card",
                 "incorrect_number", "invalid_account"}
# Never retry: Stripe's hard declines, Mastercard MAC 03/21, Visa category 1 ("issuer will never approve").
NEVER_RETRY_DECLINES = {"stolen_card", "lost_card", "pickup_card", "fraudulent", "restricted_card"}
NEVER_RETRY_MAC = {"03", "21"}
VISA_CATEGORY_1 = {"04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1", "R3"}

DOC_URLS = {
    "card_declined": "https://stripe.com/docs/error-codes/card-declined",
    "expired_card": "https://stripe.com/docs/error-codes/expired-card",
    "authentication_required": "https://stripe.com/docs/error-codes/authentication-required",
}

# Weighted mix of the population's first failures: (weight, decline_code)
DECLINE_MIX = [
    (30, "insufficient_funds"), (24, "do_not_honor"), (7, "generic_decline"),
    (8, "expired_card"), (3, "stolen_card"), (3, "fraudulent"),
    (2, "lost_card"), (8, "authentication_required"),
    (4, "try_again_later"), (3, "card_velocity_exceeded"),
    (2, "processing_error"),
]
VISA_NETWORK_DECLINE = {"insufficient_funds": "51", "do_not_honor": "05", "generic_decline": "05",
                        "stolen_card": "43", "lost_card": "41", "fraudulent": "59", "pickup_card": "04",
                        "incorrect_number": "14", "try_again_later": "05", "card_velocity_exceeded": "61"}
COUNTRIES = [("FR", "Europe/Paris", "eur"), ("DE", "Europe/Berlin", "eur"),
             ("US", "America/New_York", "usd"), ("GB", "Europe/London", "gbp"),
             ("ES", "Europe/Madrid", "eur"), ("NL", "Europe/Amsterdam", "eur"),
             ("US", "America/Los_Angeles", "usd"), ("IT", "Europe/Rome", "eur")]

# Bank debits: (weight, failure code, raw network code). Words as Stripe reports them in the charge's
# failure_code and the PaymentIntent's last_payment_error; raw codes (NACHA returns, SEPA ISO reasons)
# in the charge's outcome.network_decline_code.
ACH_FAILURES = [(45, "insufficient_funds", "R01"), (8, "insufficient_funds", "R09"),
                (8, "account_closed", "R02"), (6, "no_account", "R03"), (4, "invalid_account_number", "R04"),
                (12, "debit_not_authorized", "R10"), (5, "debit_not_authorized", "R07"),
                (4, "debit_not_authorized", "R29"), (8, "bank_account_restricted", "R20")]
SEPA_FAILURES = [(40, "insufficient_funds", "AM04"), (10, "account_closed", "AC04"),
                 (6, "invalid_account_number", "AC01"), (6, "bank_account_restricted", "AC06"),
                 (4, "bank_account_restricted", "AG01"), (10, "debit_not_authorized", "MD01"),
                 (8, "debit_not_authorized", "MS02"), (16, "generic_could_not_process", "MS03")]
BANK_MESSAGES = {
    "insufficient_funds": "The customer's account has insufficient funds to cover this payment.",
    "account_closed": "The customer's bank account has been closed.",
    "no_account": "The customer's bank account could not be located.",
    "invalid_account_number": "The customer's bank account number is invalid.",
    "debit_not_authorized": "The customer has notified their bank that this payment was unauthorized.",
    "bank_account_restricted": "The customer's account cannot be used with this payment method.",
    "generic_could_not_process": "This payment could not be processed.",
}
# Bank failures after which the account is dead (closed, unknown, mandate revoked).
BANK_DEAD = {"account_closed", "no_account", "invalid_account_number", "debit_not_authorized"}
BANK_TYPES = ("us_bank_account", "sepa_debit")


def unit_hash(*parts):
    """A deterministic number in [0, 1) from its parts."""
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return struct.unpack(">Q", h[:8])[0] / 2.0 ** 64


def decline_fields(decline_code, brand=None, rng=None):
    """The decline fields Stripe reports for an issuer decline."""
    r = rng or random.Random(0)
    if decline_code in ("expired_card", "authentication_required", "processing_error", "incorrect_number"):
        code = decline_code
    else:
        code = "card_declined"
    if decline_code in HARD_DECLINES:
        advice = "do_not_try_again"
    elif decline_code == "expired_card":
        advice = "confirm_card_data"
    elif decline_code in ("authentication_required", "processing_error"):
        advice = None
    else:
        advice = "try_again_later"
    nac = ndc = None
    if brand == "mastercard":
        if decline_code in HARD_DECLINES:
            nac = "03"
        elif decline_code in ("insufficient_funds", "do_not_honor", "try_again_later", "card_velocity_exceeded"):
            nac = r.choice([None, None, "24", "03" if decline_code == "do_not_honor" else "24"])
        if nac == "03":
            advice = "do_not_try_again"
    elif brand == "visa" and r.random() < 0.8:
        ndc = VISA_NETWORK_DECLINE.get(decline_code)
    return {"code": code,
            "decline_code": None if code == "processing_error" else decline_code,
            "advice_code": advice, "network_advice_code": nac, "network_decline_code": ndc,
            "message": MESSAGES.get(decline_code, MESSAGES.get(code, GENERIC_MESSAGE))}


def complete_outcome(o):
    """Fills a (possibly partial) decline description given by a test."""
    dc = o.get("decline_code")
    code = o.get("code") or ("expired_card" if dc == "expired_card" else
                             "authentication_required" if dc == "authentication_required" else "card_declined")
    return {"code": code, "decline_code": dc, "advice_code": o.get("advice_code"),
            "network_advice_code": o.get("network_advice_code"),
            "network_decline_code": o.get("network_decline_code"),
            "message": o.get("message") or MESSAGES.get(dc or "", MESSAGES.get(code, GENERIC_MESSAGE))}


def bank_fields(code, raw=None, message=None):
    """The failure fields of a bank debit (no decline_code: the word is the code)."""
    return {"code": code, "decline_code": None, "advice_code": None, "network_advice_code": None,
            "network_decline_code": raw, "message": message or BANK_MESSAGES.get(code, "This payment could not be processed.")}


def bank_failure(mtype, u):
    """(failure code, raw code, message) of a bank debit failure drawn with u in [0, 1)."""
    table = ACH_FAILURES if mtype == "us_bank_account" else SEPA_FAILURES
    total = sum(w for w, _, _ in table)
    acc = 0.0
    for w, code, raw in table:
        acc += w / total
        if u < acc:
            return code, raw, BANK_MESSAGES[code]
    w, code, raw = table[-1]
    return code, raw, BANK_MESSAGES[code]


def is_auth(fields):
    return fields.get("code") in ("authentication_required", "invoice_payment_intent_requires_action") \
        or fields.get("decline_code") == "authentication_required"


def is_hard(fields):
    """The issuer will repeat this decline for the card."""
    return fields.get("decline_code") in HARD_DECLINES or fields.get("network_advice_code") in NEVER_RETRY_MAC


def is_never_retry(fields, brand=None):
    """A decline after which no retry is allowed on that method (until the customer updates it)."""
    if fields.get("decline_code") in NEVER_RETRY_DECLINES or fields.get("network_advice_code") in NEVER_RETRY_MAC:
        return True
    if brand == "visa" and fields.get("network_decline_code") in VISA_CATEGORY_1:
        return True
    return fields.get("code") in BANK_DEAD and fields.get("decline_code") is None


def mask_key(key):
    head = ""
    parts = key.split("_")
    if len(parts) >= 3:
        head = parts[0] + "_" + parts[1] + "_"
    rest = key[len(head):]
    if len(rest) <= 4:
        return head + "*" * len(rest)
    return head + "*" * (len(rest) - 4) + rest[-4:]


class ApiError(Exception):
    """A Stripe error answer: status and the `error` object."""

    def __init__(self, status, etype, message, code=None, param=None, headers=None, extra=None, doc=True):
        super().__init__(message)
        self.status = status
        self.body = {"type": etype, "message": message}
        if code:
            self.body["code"] = code
            if doc:
                self.body["doc_url"] = "https://stripe.com/docs/error-codes/" + code.replace("_", "-")
        if param:
            self.body["param"] = param
        if extra:
            self.body.update(extra)
        self.headers = headers or {}


def missing(kind, oid, param="id"):
    return ApiError(404, "invalid_request_error", "No such %s: '%s'" % (kind, oid),
                    code="resource_missing", param=param)
