#!/usr/bin/env python3
"""A Stripe-shaped fixture server for tests of the Stripe provider adapter.

Speaks the part of Stripe's v1 API that the adapter uses, on loopback, with a seeded population of
customers (with email, name and preferred locales), payment methods (cards, SEPA and US bank debits),
subscriptions, paid invoices from months ago and open invoices whose first automatic payment failed,
and a control API under /_fixture/ for tests. It behaves like the real Stripe where that hurts a retry
system: transient faults by default, an account on a newer API version than the caller, idempotency
keys forgotten after 24 hours, customers who change cards or pay on the hosted invoice page (sometimes
right as a retry is planned), bank debits that settle days later, cards that want 3-D Secure, events
that expire after 30 days and list out of order within an action, disputes, portal links that die
within minutes. Its records audit what the caller did against it.

Usage:
    python3 scripts/peers/stripe_fixture.py --port 0 --api-key sk_test_fixture [options]

The first stdout line is {"port": N} (flushed); one line per request goes to stderr. Python 3
standard library only (modules fixture_*.py beside this file).

Options:
    --seed N                 population and every random choice (default 7)
    --customers N            customers in the population (default 50)
    --invoices N             failed open invoices in the population (default 200)
    --failure-rate R         new failing invoices per wall second (default 0)
    --time-scale N           fixture time runs N times faster than wall time from the start (default 1)
    --account-version V      the account's default API version (default 2025-03-31.basil)
    --faults on|off          random transient faults (default on), at these shares of API requests:
    --fault-500 P            500 api_error (default 0.015); a pay executed or not, see fixture_pay
    --fault-429 P            429 rate_limit with Retry-After: 1 (default 0.01)
    --fault-lock-timeout P   429 lock_timeout on POSTs (default 0.003)
    --fault-409 P            409 idempotency_key_in_use on POSTs with a key (default 0.002)
    --fault-event-order P    share of actions whose events list in another order than emitted (0.3)
    --streams on|off         customers acting by themselves (default on), at these daily rates:
    --card-changes R         per customer with an open failed invoice: detach, add, update a card (0.01)
    --hosted-retries R       per open failed invoice: the customer pays on the hosted page (0.01)
    --disputes R             per customer with an open failed invoice: disputes their latest charge (0.002)
                             and at these shares:
    --hosted-races P         reads of an open invoice after which the customer pays it there at once, within
                             20 s (0.03; 0: off)
    --portal-visits P        billing portal sessions whose customer opens the link, mostly late (0.6)

How it behaves (each module says more):
    transient faults     the rates above (fixture_faults); a pay's 500 went through half the time, and
                         its replay answers what Stripe saved under the key (fixture_pay)
    idempotency          an answer is saved once execution began and replayed for 24 h of fixture time;
                         then the same request is a new one (fixture_pay)
    API versions         events render in the account's version at their creation; other answers in
                         the request's Stripe-Version (a basil invoice has no payment_intent, charge nor
                         subscription, but parent and payments) (fixture_routes, fixture_world)
    bank debits          a pay answers 200 with the invoice open and its PaymentIntent processing; ACH
                         settles after 4 business days, SEPA after 5 to 14 days, succeeded or failed
                         with Stripe's failure words (fixture_issuer, fixture_codes)
    3-D Secure           some cards answer off session 402 authentication_required, 402
                         invoice_payment_intent_requires_action, or 200 with the PaymentIntent
                         requires_action, and again until the customer updates the card (fixture_issuer)
    customers            detach, add and update cards (default now, later or never; expiries from the
                         card network's updater too), retry on the hosted invoice page (fixture_customers)
    disputes             inquiries and chargebacks on succeeded charges, funds withdrawn and reinstated,
                         lost when evidence is due and nobody answered (fixture_disputes)
    links                hosted invoice URLs (30 days past finalization, 120 at most, 10 from a read),
                         portal sessions (5 minutes unvisited, an hour once open) (fixture_links)
    subscriptions        cancelled: the customer's open invoices stop collecting (auto_advance false),
                         or are voided, or marked uncollectible (fixture_control)
    events               listed and retrievable for 30 days; a cursor naming an older one is unknown;
                         newest first; one action's events in any order among themselves (fixture_routes)
    records and audit    per-endpoint counts, the peak of any one-second window, double charges,
                         off-session pays after authentication, pays after never-retry answers, pays on
                         closed invoices (races and violations), Mastercard and Visa rules, pays while
                         the customer has a dispute open, links clicked after they died (fixture_audit)

Stripe API served (Authorization: Bearer <api key>; form-encoded bodies; Stripe-Version header
picks the objects' shape, the account's version without it):
    GET  /v1/events?type=..&types[]=..&limit=..&starting_after=..&ending_before=..&created[gte]=..
    GET  /v1/events/{id}                      (the last 30 days of fixture time only)
    GET  /v1/invoices?status=..&collection_method=..&customer=..&subscription=..&limit=..
    GET  /v1/invoices/{id}[?expand[]=payments]
    POST /v1/invoices/{id}/pay                payment_method, off_session (Idempotency-Key)
    GET  /v1/invoice_payments?invoice=..      GET /v1/invoice_payments/{id}
    GET  /v1/payment_intents/{id}             GET /v1/charges/{id}
    GET  /v1/customers/{id}                   GET /v1/customers/{id}/payment_methods?limit=..&type=..
    GET  /v1/payment_methods/{id}             GET /v1/subscriptions/{id}
    GET  /v1/disputes?charge=..&payment_intent=..&created=..&limit=..   GET /v1/disputes/{id}
    POST /v1/billing_portal/sessions          customer, return_url?, locale?, configuration?,
                                              flow_data[type]? (Idempotency-Key): a session whose url expires

Control API (no auth, JSON in and out, never faulted):
    POST   /_fixture/scenario                         create a described case (scripted outcomes, drafts,
                                                       paid invoices to dispute)
    POST   /_fixture/faults                           queue faults (status, delay, malformed, truncated,
    GET    /_fixture/faults, DELETE /_fixture/faults    wrong_content_type, oversized, drip, reset)
    POST   /_fixture/random_faults                    {"500": P, "429": P, "lock_timeout": P, "409": P,
                                                       "event_order": P}; GET
    POST   /_fixture/invoices/{id}/pay_out_of_band    ... /void, /mark_uncollectible
    POST   /_fixture/invoices/{id}/hosted_retry       {"payment_method"?, "outcome"?}: the customer pays
    POST   /_fixture/subscriptions/{id}/cancel        {"invoices"?: leave_open | void | mark_uncollectible}
    POST   /_fixture/customers/{id}/delete
    POST   /_fixture/customers/{id}/payment_methods   {"brand", "exp_month", "exp_year", "default",
                                                       "default_after"?: seconds}: new card
    POST   /_fixture/payment_methods/{id}/detach
    POST   /_fixture/payment_methods/{id}/update      {"exp_month", "exp_year", "automatic"?}
    POST   /_fixture/charges/{id}/dispute             {"reason"?, "status"?: needs_response (default),
                                                       warning_needs_response, lost, prevented..}: a Dispute
    POST   /_fixture/customers/{id}/dispute           the same, on the customer's latest succeeded charge
    POST   /_fixture/disputes/{id}/update             {"status": warning_under_review | needs_response |
                                                       under_review}
    POST   /_fixture/disputes/{id}/close              {"status": won | lost | warning_closed | prevented}
    GET    /_fixture/disputes                         every dispute, and how each was opened
    POST   /_fixture/links/visit                      {"url", "action"?: update_card | pay, "card"?,
                                                       "payment_method"?, "outcome"?}: the customer clicks;
                                                       410 {"outcome": "expired"} for a dead link
    GET    /_fixture/billing_portal/sessions/{id}     a session, its expires_at and visited_at
    POST   /_fixture/clock                            {"advance_seconds": N}; GET: now
    GET    /_fixture/records                          attempts, per-endpoint counts, peak rate, audit
    GET    /_fixture/events[?type=..]                 every event ever emitted, with wall times
    GET    /_fixture/invoices[?status=..]             every invoice's id, status, customer, subscription
    GET    /_fixture/requests[?path_prefix=..&since=N]   request log; DELETE clears it
    GET    /_fixture/state
"""

import argparse
import json
import re
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True  # no __pycache__ beside the peers

import fixture_customers
import fixture_disputes
import fixture_issuer
import fixture_links
import fixture_population
from fixture_audit import Audit
from fixture_codes import ApiError, mask_key
from fixture_control import control
from fixture_faults import (FaultQueue, RandomFaults, in_use_body, malformed_body, padded_json, random_fault_answer,
                            reset_connection, send_drip, status_fault_answer)
from fixture_routes import parse_pairs, route, unrecognized
from fixture_world import BASIL, World

MAX_BODY = 1 << 20
PAY_PATH = re.compile(r"^/v1/invoices/[^/]+/pay$")


class Answer:
    def __init__(self, status, body, headers=None, content_type="application/json", version=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else (json.dumps(body, indent=2) + "\n").encode()
        self.headers = dict(headers or {})
        self.content_type = content_type
        self.version = version


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stripe-fixture"
    sys_version = ""

    def setup(self):
        super().setup()
        # Head and body go out as two writes: without this, Nagle holds the body until the client's
        # delayed ACK of the head (40 ms an answer).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        pass

    def version_string(self):
        return "stripe-fixture"

    def do_GET(self):
        self.handle_any()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def handle_any(self):
        srv = self.server
        t0 = time.time()
        self.req_id = srv.world.new_id_locked("req_")
        self.entry = None
        status = 0
        try:
            parsed = urllib.parse.urlsplit(self.path)
            body = self.read_body()
            if parsed.path.startswith("/_fixture/"):
                status = self.control(parsed.path, parsed.query, body)
            else:
                status = self.api(parsed.path, parsed.query, body)
        except (BrokenPipeError, ConnectionResetError):
            status = -1
            self.close_connection = True
        except Exception as e:  # never crash on bad input
            try:
                status = self.send(Answer(500, {"error": {"type": "api_error",
                                                          "message": "An unknown error occurred: %s" % type(e).__name__}},
                                          {"Stripe-Should-Retry": "false"}))
            except Exception:
                self.close_connection = True
        if self.entry is not None:
            self.entry["status"] = status
        sys.stderr.write("%s %s %s %d %.1fms\n" % (time.strftime("%H:%M:%S"), self.command, self.path[:200], status,
                                                    (time.time() - t0) * 1000))
        sys.stderr.flush()

    def read_body(self):
        n = self.headers.get("Content-Length")
        if n is None:
            return b""
        try:
            n = int(n)
        except ValueError:
            self.close_connection = True
            return b""
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            return b""
        return self.rfile.read(n)

    def send(self, a, declared_length=None):
        self.send_response(a.status)
        self.send_header("Content-Type", a.content_type)
        self.send_header("Content-Length", str(declared_length if declared_length is not None else len(a.body)))
        self.send_header("Request-Id", self.req_id)
        if not self.path.startswith("/_fixture/"):
            self.send_header("Stripe-Version", a.version or self.server.world.account_version)
        for k, v in a.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(a.body)
        self.wfile.flush()
        return a.status

    def control(self, path, query, body):
        try:
            data = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return self.send(Answer(400, {"error": "body is not JSON"}))
        parts = [p for p in path.split("/") if p][1:]
        try:
            with self.server.world.lock:
                r = control(self.server, self.command, parts, query, data)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            return self.send(Answer(400, {"error": "%s: %s" % (type(e).__name__, e)}))
        return self.send(Answer(r.status, r.body))

    # ---- Stripe API
    def api(self, path, query, body):
        srv, w = self.server, self.server.world
        form_pairs = parse_pairs(body.decode("latin-1")) if body else []
        query_pairs = parse_pairs(query)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        key = self.headers.get("Idempotency-Key") if self.command == "POST" else None
        is_pay = self.command == "POST" and PAY_PATH.match(path) is not None
        with w.lock:
            w.advance()
            w.audit.on_request(self.command, path)
            self.entry = {"time": time.time(), "fixture_time": w.clock.now_f(), "method": self.command, "path": path,
                          "query": query_pairs, "form": form_pairs, "headers": hdrs, "request_id": self.req_id,
                          "fault": None}
            srv.requests.append(self.entry)
        fault = srv.faults.take(self.command, path)
        rnd = srv.random_faults.draw(self.command, key is not None) if fault is None else None
        fault500 = None
        if rnd is not None:
            self.entry["fault"] = rnd
            if rnd == "500" and is_pay:
                u = srv.random_faults.coin(0.5)
                fault500 = "executed" if u else ("before" if srv.random_faults.coin(0.5) else "rolled_back")
                self.entry["fault"] = "500:" + fault500
            if fault500 == "before":
                with w.lock:   # failed before the endpoint began: nothing executed, nothing saved
                    w.audit.attempts.append({"invoice": path.split("/")[3], "idempotency_key": key, "outcome": "fault_500",
                                             "fault": "500", "executed": False, "answer": 500, "time": time.time(),
                                             "fixture_time": w.clock.now_f(), "request_id": self.req_id})
            if fault500 in (None, "before"):
                st, h, b = random_fault_answer(rnd, self.req_id, key, pay=is_pay and fault500 is None)
                return self.send(Answer(st, b, h))
        if fault and not fault["execute"]:
            self.entry["fault"] = fault["kind"]
            st, h, b = status_fault_answer(fault, self.req_id, False, key)
            return self.deliver(Answer(st, b, h), fault)
        if fault and fault["kind"] == "status" and fault["status"] == 500 and is_pay:
            # A 500 after the payment went through (or was rolled back), saved under the key.
            fault500 = "rolled_back" if fault.get("rolled_back") else "executed"
        if key is not None:
            with w.lock:
                busy = key in w.inflight
                if not busy:
                    w.inflight.add(key)
            if busy:
                return self.send(Answer(409, in_use_body(key), {"Stripe-Should-Retry": "true"}))
        try:
            if fault and fault["kind"] == "delay":
                time.sleep(max(0.0, fault["seconds"]))
            try:
                a = self.route(path, query_pairs, form_pairs, hdrs, fault500)
            except ApiError as e:
                a = Answer(e.status, {"error": e.body}, e.headers)
        finally:
            if key is not None:
                with w.lock:
                    w.inflight.discard(key)
        if fault and fault["kind"] == "status" and fault500 is None:
            # The endpoint ran (its result kept for idempotent replay); the client sees the error.
            self.entry["fault"] = "status"
            st, h, b = status_fault_answer(fault, self.req_id, True, key)
            a = Answer(st, b, h, version=a.version)
        elif fault:
            self.entry["fault"] = fault["kind"]
        return self.deliver(a, fault)

    def route(self, path, query_pairs, form_pairs, hdrs, fault500):
        w = self.server.world
        if not path.startswith("/v1/"):
            raise unrecognized(self.command, path)
        self.auth()
        with w.lock:
            w.action()
            st, body, headers, version = route(w, self.command, path, query_pairs, form_pairs, hdrs, self.req_id,
                                               fault500)
        return Answer(st, body, headers, version=version)

    def auth(self):
        h = self.headers.get("Authorization")
        if not h:
            raise ApiError(401, "invalid_request_error",
                           "You did not provide an API key. You need to provide your API key in the Authorization "
                           "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
                           "https://stripe.com/docs/api#authentication for details, or we can help at "
                           "https://support.stripe.com/.")
        scheme, _, key = h.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise ApiError(401, "invalid_request_error", "Invalid API Key provided: %s" % mask_key(key or scheme))
        if key != self.server.world.api_key:
            raise ApiError(401, "invalid_request_error", "Invalid API Key provided: %s" % mask_key(key))

    def deliver(self, a, fault):
        kind = fault["kind"] if fault else None
        if kind in (None, "status", "delay"):
            return self.send(a)
        if kind == "malformed":
            return self.send(Answer(a.status, malformed_body(), a.headers, version=a.version))
        if kind == "wrong_content_type":
            a.content_type = "text/html; charset=utf-8"
            return self.send(a)
        if kind == "oversized":
            return self.send(Answer(a.status, padded_json(a.body, fault["bytes"]), a.headers, version=a.version))
        if kind == "truncated":
            self.send(Answer(a.status, a.body[:len(a.body) // 2], a.headers, version=a.version),
                      declared_length=len(a.body))
            self.close_connection = True
            return a.status
        if kind == "drip":
            head = ["HTTP/1.1 %d %s" % (a.status, self.responses.get(a.status, ("",))[0]), "Server: stripe-fixture",
                    "Date: %s" % self.date_time_string(), "Content-Type: %s" % a.content_type,
                    "Content-Length: %d" % len(a.body), "Request-Id: %s" % self.req_id,
                    "Stripe-Version: %s" % (a.version or self.server.world.account_version)]
            head += ["%s: %s" % kv for kv in a.headers.items()]
            send_drip(self, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + a.body,
                      fault["seconds"] if fault["seconds"] > 0 else 1.0)
            return a.status
        if kind == "reset":
            reset_connection(self)
            return 0
        return self.send(a)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        sys.stderr.write("connection error from %s: %s\n" % (client_address, sys.exc_info()[1]))

    def fault_counts(self):
        counts = dict(self.random_faults.counts)
        counts["rates"] = dict(self.random_faults.rates)
        return counts


def ticker(world, stop):
    """Settles what falls due in fixture time even when nobody asks."""
    while not stop.wait(0.05):
        with world.lock:
            world.advance()


def generator(world, rate, stop):
    if rate <= 0:
        return
    interval = 1.0 / rate
    next_t = time.time() + interval
    while not stop.wait(max(0.0, next_t - time.time())):
        fixture_population.generate_one(world)
        next_t += interval
        if next_t < time.time() - 5:
            next_t = time.time()


def build(args):
    """The world and the server for parsed arguments (not yet serving)."""
    streams = {"card_changes": args.card_changes, "hosted_retries": args.hosted_retries, "disputes": args.disputes,
               "hosted_races": args.hosted_races, "portal_visits": args.portal_visits} if args.streams == "on" else {}
    w = World(args.seed, args.api_key, args.account_version, args.time_scale, streams)
    w.audit = Audit(w)
    w.handlers.update(settle=fixture_issuer.settle, change=fixture_customers.on_change,
                      hosted=fixture_customers.on_hosted, set_default=fixture_customers.on_set_default,
                      dispute=fixture_disputes.on_dispute, dispute_due=fixture_disputes.on_due,
                      portal_visit=fixture_links.on_portal_visit, hosted_race=fixture_links.on_hosted_race)
    with w.lock:
        fixture_population.populate(w, max(0, args.customers), max(0, args.invoices))
    srv = Server((args.host, args.port), Handler)
    srv.world = w
    srv.faults = FaultQueue()
    on = args.faults == "on"
    w.event_shuffle = args.fault_event_order if on else 0.0
    srv.random_faults = RandomFaults(args.seed, args.fault_500 if on else 0, args.fault_429 if on else 0,
                                     args.fault_lock_timeout if on else 0, args.fault_409 if on else 0)
    srv.requests = []
    return srv


def main(argv=None):
    ap = argparse.ArgumentParser(description="Stripe-shaped fixture server (loopback only)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    ap.add_argument("--api-key", default="sk_test_fixture")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--customers", type=int, default=50)
    ap.add_argument("--invoices", type=int, default=200)
    ap.add_argument("--failure-rate", type=float, default=0.0, help="new failing invoices per wall second")
    ap.add_argument("--time-scale", type=float, default=1.0, help="fixture seconds per wall second")
    ap.add_argument("--account-version", default=BASIL)
    ap.add_argument("--faults", choices=("on", "off"), default="on")
    ap.add_argument("--fault-500", type=float, default=0.015)
    ap.add_argument("--fault-429", type=float, default=0.01)
    ap.add_argument("--fault-lock-timeout", type=float, default=0.003)
    ap.add_argument("--fault-409", type=float, default=0.002)
    ap.add_argument("--fault-event-order", type=float, default=0.3,
                    help="share of actions whose events are listed in another order than they were emitted")
    ap.add_argument("--streams", choices=("on", "off"), default="on")
    ap.add_argument("--card-changes", type=float, default=0.01, help="per customer with a failing invoice per day")
    ap.add_argument("--hosted-retries", type=float, default=0.01, help="per open failed invoice per day")
    ap.add_argument("--disputes", type=float, default=0.002,
                    help="per customer with an open failed invoice per day: a dispute of their latest charge")
    ap.add_argument("--hosted-races", type=float, default=0.03,
                    help="share of reads of an open invoice after which the customer pays it on the hosted page")
    ap.add_argument("--portal-visits", type=float, default=0.6,
                    help="share of billing portal sessions whose customer opens the link (mostly hours later)")
    args = ap.parse_args(argv)
    if not (args.host.startswith("127.") or args.host in ("::1", "localhost")):
        ap.error("--host must be a loopback address")
    if args.time_scale <= 0:
        ap.error("--time-scale must be positive")
    srv = build(args)
    sys.stdout.write(json.dumps({"port": srv.server_address[1]}) + "\n")
    sys.stdout.flush()
    stop = threading.Event()
    threading.Thread(target=generator, args=(srv.world, args.failure_rate, stop), daemon=True).start()
    threading.Thread(target=ticker, args=(srv.world, stop), daemon=True).start()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        srv.server_close()


if __name__ == "__main__":
    main()
