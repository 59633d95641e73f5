#!/usr/bin/env python3
"""HTTP peer for the transport tests: a threaded HTTP/1.1 server on 127.0.0.1.

Prints its port on the first line of stdout, then serves until stdin closes (so it never outlives
the test process that started it).

Endpoints (any method):
  /echo                          JSON: method, path, headers ([name, value] pairs), body (text)
  /status?code=N&retry_after=S   that status, with Retry-After and two X-Dup headers ("one", "two")
  /delay?seconds=S               waits, then 200 "late"
  /big?bytes=N[&chunked=1]       N bytes of "x", with Content-Length or chunked
  /drip?bytes=N                  Content-Length N, then one byte a second
  /close                         Content-Length 1000, 10 bytes, then the connection is closed
  /stats                         JSON: connections accepted so far, requests answered so far
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

sys.dont_write_bytecode = True  # no __pycache__ beside the peers

from fixture_faults import send_drip, send_head, send_truncated

counts = {"connections": 0, "requests": 0}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with lock:
            counts["connections"] += 1

    def log_message(self, format, *args):
        pass

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self):
        self.route()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def route(self):
        with lock:
            counts["requests"] += 1
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        handler = getattr(self, "ep_" + url.path.strip("/"), None)
        if handler is None:
            return self.reply(404, b"no such endpoint\n")
        handler(query, body)

    def reply(self, status, body, headers=(), content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def ep_echo(self, query, body):
        answer = {
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("utf-8", "replace"),
        }
        self.reply(200, json.dumps(answer).encode(), content_type="application/json")

    def ep_status(self, query, body):
        headers = [("Retry-After", query.get("retry_after", "1")), ("X-Dup", "one"), ("X-Dup", "two")]
        self.reply(int(query.get("code", "503")), b"status\n", headers)

    def ep_delay(self, query, body):
        time.sleep(float(query.get("seconds", "1")))
        self.reply(200, b"late")

    def ep_big(self, query, body):
        size = int(query.get("bytes", "1000000"))
        if query.get("chunked") != "1":
            return self.reply(200, b"x" * size)
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * 4096
        left = size
        while left > 0:
            part = chunk[: min(left, len(chunk))]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            left -= len(part)
        self.wfile.write(b"0\r\n\r\n")

    def ep_drip(self, query, body):
        size = int(query.get("bytes", "10"))
        send_head(self, 200, [], size)
        send_drip(self, b"x" * size, 1.0, close=False)

    def ep_close(self, query, body):
        send_truncated(self, 200, [], b"x" * 1000, sent=10)

    def ep_stats(self, query, body):
        with lock:
            answer = dict(counts)
        self.reply(200, json.dumps(answer).encode(), content_type="application/json")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # returns when the parent closes our stdin or exits
    os._exit(0)


if __name__ == "__main__":
    main()
