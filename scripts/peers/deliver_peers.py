"""Real peers for relance-deliver: an SMTP server (aiosmtpd) with STARTTLS and AUTH, and a webhook
receiver that checks Relance-Signature. Used by test_deliver.py and scripts/bench-deliver."""
import email
import email.policy
import hashlib
import hmac
import json
import os
import ssl
import subprocess
import threading
import logging
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

USER, PASSWORD = "relance", "s3cret-smtp"
logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd warns on every AUTH about its own field


def make_tls(directory):
    """A private CA and a certificate for localhost/127.0.0.1 signed by it: (ca.pem, cert.pem, key.pem)."""
    ca_key, ca, key, csr, cert = (os.path.join(directory, n) for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    ext = os.path.join(directory, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=Relance test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext)
    return ca, cert, key


class Mailbox:
    """What the SMTP server accepted: one entry per message and recipient, with the TLS and AUTH it came over."""

    def __init__(self, refuse=(), delay=0.0):
        self.messages = []
        self.lock = threading.Lock()
        self.refuse = set(refuse)
        self.delay = delay

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            time.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        entry = {
            "message_id": parsed["Message-ID"], "to": list(envelope.rcpt_tos), "subject": str(parsed["Subject"]),
            "tls": session.ssl is not None, "auth": session.authenticated, "at": time.time(), "raw": envelope.content,
            "session": id(session),
        }
        with self.lock:
            self.messages.append(entry)
        return "250 Message accepted"

    def snapshot(self):
        with self.lock:
            return list(self.messages)


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = getattr(auth_data, "login", None) == USER.encode() and getattr(auth_data, "password", None) == PASSWORD.encode()
    return AuthResult(success=ok)


def start_smtp(cert, key, port=0, mailbox=None, require_auth=True):
    """aiosmtpd on 127.0.0.1 requiring STARTTLS (and AUTH over it); returns (controller, port, mailbox)."""
    mailbox = mailbox or Mailbox()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if port == 0:
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            auth_required=require_auth, auth_require_tls=True, authenticator=authenticator, server_hostname="localhost")
    controller.start()
    return controller, port, mailbox


class Receiver(ThreadingHTTPServer):
    """Webhook receiver: checks Relance-Signature (HMAC-SHA256 over "t.body", 5 minutes' tolerance),
    answers 503 to the first try of every `flaky`-th event and 400 to the event ids in `refuse`."""

    daemon_threads = True

    def __init__(self, secret, flaky=0, refuse=()):
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.secret, self.flaky, self.refuse = secret, flaky, set(refuse)
        self.received, self.bad, self.tries = [], [], {}
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/hook" % self.server_address[1]


def verify(secret, header, body, tolerance=300):
    """The recipe of docs/DELIVERY.md: the v1 HMAC of "t.body" under the secret, and a recent t."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t, v1 = parts.get("t", ""), parts.get("v1", "")
    expected = hmac.new(secret, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return t.isdigit() and abs(time.time() - int(t)) <= tolerance and hmac.compare_digest(expected, v1)


class ReceiverHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        server = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not verify(server.secret, self.headers.get("Relance-Signature", ""), body):
            with server.lock:
                server.bad.append(body)
            return self.answer(401)
        event = json.loads(body)
        with server.lock:
            n = server.tries[event["id"]] = server.tries.get(event["id"], 0) + 1
            flaky = server.flaky and n == 1 and hash(event["id"]) % server.flaky == 0
        if event["id"] in server.refuse or getattr(server, "refuse_check", lambda _: False)(event["id"]):
            return self.answer(400)
        if flaky:
            return self.answer(503)
        with server.lock:
            server.received.append((event["id"], event["subject"], event["type"], time.time()))
        self.answer(200)

    def answer(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
