"""Fault injection shared by the test peers (the Stripe fixture server and the HTTP peer).

Two sources of faults:

- queued faults (`FaultQueue`): a test asks for the next N requests matching a method and a path
  prefix to be answered with a status, late, malformed, truncated, with the wrong content type,
  oversized, one byte at a time (drip), or by a connection reset;
- random transient faults (`RandomFaults`): a seeded share of requests answered as Stripe does
  under load or during an incident: 500 `api_error`, 429 `rate_limit`, 429 `lock_timeout`, 409
  `idempotency_key_in_use`.

The answer-shaping helpers (`send_drip`, `send_truncated`, `reset_connection`, `malformed_body`,
`padded_json`) work on any `http.server.BaseHTTPRequestHandler`. Python standard library only.
"""

import json
import random
import socket
import struct
import threading
import time

KINDS = ("status", "delay", "malformed", "truncated", "wrong_content_type", "oversized", "drip", "reset")

RATE_LIMIT_MESSAGE = ("Request rate limit exceeded. Learn more about rate limits here "
                      "https://stripe.com/docs/rate-limits.")
LOCK_TIMEOUT_MESSAGE = ("This object cannot be accessed right now because another API request or Stripe "
                        "process is currently accessing it. If you see this error intermittently, retry the "
                        "request. If you see this error frequently and are making multiple concurrent requests "
                        "to a single object, make your requests serially or at a lower rate. See "
                        "https://stripe.com/docs/rate-limits for more details.")


def in_use_message(key):
    return ("There is currently another in-progress request using this Idempotent Key (that probably means "
            "you submitted twice, and the other request is still going through): %s. Please try again later."
            % key)


def api_error_body(request_id):
    return {"error": {"type": "api_error",
                      "message": "An unknown error occurred. Please try again later (request id %s)." % request_id}}


def rate_limit_body():
    return {"error": {"type": "invalid_request_error", "code": "rate_limit",
                      "doc_url": "https://stripe.com/docs/error-codes/rate-limit", "message": RATE_LIMIT_MESSAGE}}


def lock_timeout_body():
    return {"error": {"type": "invalid_request_error", "code": "lock_timeout",
                      "doc_url": "https://stripe.com/docs/error-codes/lock-timeout", "message": LOCK_TIMEOUT_MESSAGE}}


def in_use_body(key):
    return {"error": {"type": "invalid_request_error", "code": "idempotency_key_in_use",
                      "doc_url": "https://stripe.com/docs/error-codes/idempotency-key-in-use",
                      "message": in_use_message(key)}}


# --------------------------------------------------------------------------- queued faults


class FaultQueue:
    """Faults a test queued: each matches a method ("*" for any) and a path prefix, `count` times."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    @staticmethod
    def parse(spec):
        """A fault from its JSON description; ValueError when it makes no sense."""
        kind = spec.get("kind", "status")
        if kind not in KINDS:
            raise ValueError("unknown fault kind %r" % kind)
        return {"method": str(spec.get("method", "*")).upper(),
                "path_prefix": spec.get("path_prefix", "/v1/"),
                "kind": kind, "status": int(spec.get("status", 500)),
                "headers": {str(k): str(v) for k, v in (spec.get("headers") or {}).items()},
                "seconds": float(spec.get("seconds", 1)),
                "count": int(spec.get("count", 1)),
                "bytes": int(spec.get("bytes", 8 << 20)),
                "execute": bool(spec.get("execute", kind != "status")),
                # A pay's 500 after it began executing: the payment went through ("executed"), or was
                # rolled back ("rolled_back": nothing charged); either way the 500 is saved under the key.
                "rolled_back": bool(spec.get("rolled_back", False)),
                "body": spec.get("body")}

    def add(self, specs):
        faults = [self.parse(s) for s in specs]
        with self.lock:
            self.items += faults
            return list(self.items)

    def clear(self):
        with self.lock:
            self.items = []

    def listing(self):
        with self.lock:
            return [dict(f) for f in self.items]

    def take(self, method, path):
        """The first queued fault matching this request (its count decremented), or None."""
        with self.lock:
            for f in self.items:
                if f["count"] > 0 and f["method"] in ("*", method) and path.startswith(f["path_prefix"]):
                    f["count"] -= 1
                    taken = dict(f)
                    self.items = [g for g in self.items if g["count"] > 0]
                    return taken
        return None


def status_fault_answer(fault, request_id, executed, key=None):
    """(status, headers, body) of a queued `status` fault, with Stripe's body for that status."""
    st = fault["status"]
    headers = {}
    if fault.get("body") is not None:
        body = fault["body"]
    elif st == 429:
        body = rate_limit_body()
    elif st == 409:
        body = in_use_body(key or "-")
        headers["Stripe-Should-Retry"] = "true"
    elif st >= 500:
        body = api_error_body(request_id)
        headers["Stripe-Should-Retry"] = "false" if executed else "true"
    else:
        body = {"error": {"type": "invalid_request_error", "message": "Fixture fault %d" % st}}
    headers.update(fault["headers"])
    return st, headers, body


# --------------------------------------------------------------------------- random faults


class RandomFaults:
    """A seeded share of API requests answered with a transient fault.

    `draw(method, has_key)` returns None or one of "500", "429", "lock_timeout", "409": 500 for any
    request; 429 rate_limit for any request (rate limiters run before everything else); 429
    lock_timeout only on writes (POST), where Stripe locks the object; 409 idempotency_key_in_use only
    on a POST carrying an Idempotency-Key. Each kind falls once in every block of 1/rate requests it
    may fall on, at a seeded random place in the block: the share is the rate, the places random."""

    KINDS = ("500", "429", "lock_timeout", "409")

    def __init__(self, seed, rate_500=0.0, rate_429=0.0, rate_lock=0.0, rate_409=0.0):
        self.rng = random.Random("%s-faults" % seed)
        self.lock = threading.Lock()
        self.rates = {"500": rate_500, "429": rate_429, "lock_timeout": rate_lock, "409": rate_409}
        self.counts = {k: 0 for k in self.KINDS}
        self.seen = {k: 0 for k in self.KINDS}      # requests each kind could have fallen on
        self.block = {k: 0.0 for k in self.KINDS}   # where each kind's current block starts
        self.due = {k: None for k in self.KINDS}    # the place it falls on in that block

    @property
    def enabled(self):
        return any(r > 0 for r in self.rates.values())

    def draw(self, method, has_key):
        if not self.enabled:
            return None
        with self.lock:
            fired = None
            for kind in self.KINDS:
                rate = self.rates[kind]
                if rate <= 0 or (kind == "lock_timeout" and method != "POST") or \
                        (kind == "409" and not (method == "POST" and has_key)):
                    continue
                size = 1.0 / min(1.0, rate)
                if self.due[kind] is None:
                    self.due[kind] = self.block[kind] + self.rng.random() * size
                self.seen[kind] += 1
                if fired is None and self.seen[kind] > self.due[kind]:
                    fired = kind   # (a kind that meets a request already faulted falls on the next one)
                    self.counts[kind] += 1
                    self.block[kind] += size
                    self.due[kind] = None
            return fired

    def coin(self, p):
        """A seeded coin with probability p (e.g. whether a 500'd payment had executed)."""
        with self.lock:
            return self.rng.random() < p


def random_fault_answer(kind, request_id, key=None, pay=False):
    """(status, headers, body) for a random transient fault."""
    if kind == "500":
        # A POST's 500 is saved under its idempotency key (a replay returns it again): retrying with
        # the same key has no further effect. GET 500s carry no advice.
        return 500, ({"Stripe-Should-Retry": "false"} if pay else {}), api_error_body(request_id)
    if kind == "429":
        return 429, {"Retry-After": "1"}, rate_limit_body()
    if kind == "lock_timeout":
        return 429, {"Stripe-Should-Retry": "true"}, lock_timeout_body()
    return 409, {"Stripe-Should-Retry": "true"}, in_use_body(key or "-")


# --------------------------------------------------------------------------- answer shaping


def malformed_body():
    return b'{"object": "invoice", "id": "in_' + b'\x00<html>' + b'", ,}\n'


def padded_json(body, size):
    """The JSON object `body` (bytes) padded with a metadata field to at least `size` bytes."""
    try:
        obj = json.loads(body)
    except ValueError:
        obj = {}
    if not isinstance(obj, dict):
        obj = {"value": obj}
    obj["metadata_padding"] = "x" * max(0, size - len(body))
    return (json.dumps(obj, indent=2) + "\n").encode()


def send_head(handler, status, headers, length):
    handler.send_response(status)
    for k, v in headers:
        handler.send_header(k, v)
    handler.send_header("Content-Length", str(length))
    handler.end_headers()


def send_truncated(handler, status, headers, body, sent=None):
    """Declares the whole body's length, sends only part of it (half by default), closes."""
    part = body[:len(body) // 2] if sent is None else body[:sent]
    send_head(handler, status, headers, len(body))
    handler.wfile.write(part)
    handler.wfile.flush()
    handler.close_connection = True


def send_drip(handler, data, interval, close=True):
    """Writes `data` (a whole raw answer, or a body after its head) one byte per `interval` seconds."""
    handler.close_connection = handler.close_connection or close
    for i in range(len(data)):
        handler.wfile.write(data[i:i + 1])
        handler.wfile.flush()
        time.sleep(interval)


def reset_connection(handler):
    """Closes the connection with an RST (SO_LINGER 0) instead of an answer."""
    handler.close_connection = True
    try:
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
    except OSError:
        pass
