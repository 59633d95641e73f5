#!/usr/bin/env python3
"""relanced as systemd sees it, against the real protocol peers.

- the sd_notify protocol, read from a real AF_UNIX datagram socket set as NOTIFY_SOCKET:
  READY=1 only once the status socket answers, STATUS=, WATCHDOG=1 pings that stop while the
  store is locked (the dispatcher cannot make progress) and resume after, RELOADING=1 with
  MONOTONIC_USEC then READY=1 on SIGHUP, STOPPING=1 on SIGTERM, exit status 0;
- SIGHUP with a broken retry.toml keeps the running configuration and says why in /status;
- /metrics parsed by prometheus_client's parser (scripts/peers/check_metrics.py), /status
  validated against docs/status.schema.json (scripts/peers/check_status.py), /healthz;
- the optional TCP metrics listener;
- socket activation through systemd-socket-activate;
- relancectl status, readable and --json.

Usage: .venv/bin/python scripts/peers/test_service.py [-v]
(RELANCE_BIN names the folder holding relanced and relancectl; default .build/debug)
"""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("RELANCE_BIN", os.path.join(ROOT, ".build", "debug"))
PYTHON = sys.executable


def http_get(sock_path, path, timeout=10.0, tcp=None):
    """GET over the Unix socket (or TCP host:port): (status, headers, body)."""
    if tcp:
        host, port = tcp
        s = socket.create_connection((host, port), timeout=timeout)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(sock_path)
    s.sendall(("GET %s HTTP/1.1\r\nHost: relanced\r\nConnection: close\r\n\r\n" % path).encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding") == "chunked":
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            out += rest[:size]
            rest = rest[size + 2:]
        body = out
    return status, headers, body


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Notifications:
    """The NOTIFY_SOCKET end: every datagram, with its arrival time."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []

    def drain(self, seconds):
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return
            self.messages.append((time.monotonic(), data.decode()))

    def wait_for(self, field, seconds, since=0.0):
        """The first message after `since` holding the line `field` (e.g. READY=1)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for t, m in self.messages:
                if t >= since and field in m.split("\n"):
                    return t, m
            self.drain(0.1)
        raise AssertionError("no %s within %ss; got %r" % (field, seconds, [m for _, m in self.messages[-8:]]))

    def times(self, field, start, end):
        return [t for t, m in self.messages if start <= t <= end and field in m.split("\n")]

    def close(self):
        self.sock.close()


def write_config(directory, extra=""):
    path = os.path.join(directory, "retry.toml")
    with open(path, "w") as f:
        f.write("""[daemon]
state_dir = "%(d)s/state"
spool_dir = "%(d)s/spool"
status_socket = "%(d)s/run/relanced.sock"
poll_interval = "1m"
time_scale = 3600
spool_batch_ms = 100

[sandbox]
seed = 5
customers = 300
failures_per_day = 20000
%(extra)s
""" % {"d": directory, "extra": extra})
    return path


def run_checker(name, payload):
    r = subprocess.run([PYTHON, os.path.join(ROOT, "scripts", "peers", name)], input=payload,
                       capture_output=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).decode()


class ServiceTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="relance-service-")
        self.config = write_config(self.dir)
        self.sock = os.path.join(self.dir, "run", "relanced.sock")
        self.notify = Notifications(os.path.join(self.dir, "notify.sock"))
        self.proc = None

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        self.notify.close()
        subprocess.run(["rm", "-rf", self.dir])

    def start(self, argv_prefix=(), env_extra=None, config=None):
        env = dict(os.environ)
        env["NOTIFY_SOCKET"] = self.notify.path
        env["WATCHDOG_USEC"] = "2000000"
        env.pop("WATCHDOG_PID", None)
        env.pop("JOURNAL_STREAM", None)
        env.update(env_extra or {})
        self.log = open(os.path.join(self.dir, "relanced.log"), "wb")
        self.proc = subprocess.Popen(list(argv_prefix) + [os.path.join(BIN, "relanced"), "--config", config or self.config],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def log_text(self):
        with open(os.path.join(self.dir, "relanced.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def test_notify_reload_watchdog_metrics_status_and_stop(self):
        tcp_port = free_port()
        self.config = write_config(self.dir, extra="")
        with open(self.config) as f:
            text = f.read()
        with open(self.config, "w") as f:
            f.write(text.replace('time_scale = 3600', 'time_scale = 3600\nmetrics_listen = "127.0.0.1:%d"' % tcp_port))
        self.start()
        ready_at, ready = self.notify.wait_for("READY=1", 60)
        # READY only once the status socket answers: it must answer at once.
        status, _, body = http_get(self.sock, "/healthz")
        self.assertIn(status, (200, 503), body)
        self.assertTrue(any(line.startswith("STATUS=") for line in ready.split("\n")), ready)

        # Watchdog pings every second or so (WATCHDOG_USEC = 2 s) while everything progresses.
        self.notify.drain(4)
        pings = self.notify.times("WATCHDOG=1", ready_at, time.monotonic())
        self.assertGreaterEqual(len(pings), 3, self.notify.messages[-5:])
        self.assertTrue(self.notify.times("STATUS=" if False else "WATCHDOG=1", ready_at, time.monotonic()))
        self.assertTrue(any(m.startswith("STATUS=") for _, m in self.notify.messages), "no STATUS= line")

        # /metrics through the real Prometheus parser, on the socket and on TCP.
        status, headers, body = http_get(self.sock, "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers.get("content-type", "").startswith("text/plain"), headers)
        code, out = run_checker("check_metrics.py", body)
        self.assertEqual(code, 0, out)
        status, _, tcp_body = http_get(None, "/metrics", tcp=("127.0.0.1", tcp_port))
        self.assertEqual(status, 200)
        self.assertIn(b"relance_planner_decisions_total", tcp_body)

        # /status against its schema; relancectl status reads the same socket.
        status, _, doc = http_get(self.sock, "/status")
        self.assertEqual(status, 200)
        code, out = run_checker("check_status.py", doc)
        self.assertEqual(code, 0, out + doc.decode())
        first = json.loads(doc)
        r = subprocess.run([os.path.join(BIN, "relancectl"), "status", "--socket", self.sock], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(first["config"]["digest"][:12], r.stdout.decode())
        r = subprocess.run([os.path.join(BIN, "relancectl"), "status", "--socket", self.sock, "--json"], capture_output=True, timeout=30)
        self.assertEqual(json.loads(r.stdout)["config"]["digest"], first["config"]["digest"])

        # SIGHUP with a valid change: RELOADING=1 with MONOTONIC_USEC, then READY=1, new digest.
        with open(self.config, "a") as f:
            f.write("\n[[notices.level]]\nname = \"reminder\"\nafter = \"2d\"\ntone = \"friendly\"\nchannel = \"email\"\n")
        before = time.monotonic()
        self.proc.send_signal(signal.SIGHUP)
        t, reloading = self.notify.wait_for("RELOADING=1", 20, since=before)
        usec = [line for line in reloading.split("\n") if line.startswith("MONOTONIC_USEC=")]
        self.assertEqual(len(usec), 1, reloading)
        self.assertLess(abs(int(usec[0].split("=")[1]) / 1e6 - time.clock_gettime(time.CLOCK_MONOTONIC)), 30)
        self.notify.wait_for("READY=1", 20, since=t)
        reloaded = json.loads(http_get(self.sock, "/status")[2])
        self.assertNotEqual(reloaded["config"]["digest"], first["config"]["digest"])
        self.assertIsNone(reloaded["config"]["last_reload_error"])

        # SIGHUP with a broken file: the old configuration keeps running, and /status says why.
        with open(self.config, "a") as f:
            f.write("\n[daemon\nworkers = -3\n")
        before = time.monotonic()
        self.proc.send_signal(signal.SIGHUP)
        t, _ = self.notify.wait_for("RELOADING=1", 20, since=before)
        _, again = self.notify.wait_for("READY=1", 20, since=t)
        self.assertIn("refused", again)
        broken = json.loads(http_get(self.sock, "/status")[2])
        self.assertEqual(broken["config"]["digest"], reloaded["config"]["digest"])
        self.assertTrue(broken["config"]["last_reload_error"])
        self.assertIsNone(self.proc.poll(), "the daemon died on a broken reload")

        # A locked store: the dispatcher and the poller cannot progress, so the pings stop...
        db = sqlite3.connect(os.path.join(self.dir, "state", "relance.sqlite"), timeout=30, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        locked_at = time.monotonic()
        self.notify.drain(7)
        during = self.notify.times("WATCHDOG=1", locked_at + 3, time.monotonic())
        db.execute("ROLLBACK")
        db.close()
        self.assertEqual(during, [], "watchdog pings went on while the store was locked")
        # ...and resume once it is free again.
        released = time.monotonic()
        self.notify.drain(14)
        self.assertTrue(self.notify.times("WATCHDOG=1", released, time.monotonic()), "pings did not resume")

        # SIGTERM: STOPPING=1 first, then a clean exit.
        before = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.notify.wait_for("STOPPING=1", 30, since=before)
        self.assertEqual(self.proc.wait(timeout=60), 0, self.log_text()[-2000:])
        self.assertFalse(os.path.exists(self.sock), "the status socket file was left behind")

    def test_a_quiet_poller_keeps_the_watchdog_fed(self):
        # Real time, a poll interval longer than the watchdog: waiting for the next poll is idle by
        # design, so the pings go on (a poller that beat only after a poll starved it for the interval).
        path = os.path.join(self.dir, "retry.toml")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace('poll_interval = "1m"', 'poll_interval = "12s"').replace("time_scale = 3600", "time_scale = 1"))
        self.start(env_extra={"WATCHDOG_USEC": "3000000"})
        ready_at, _ = self.notify.wait_for("READY=1", 60)
        self.notify.drain(13)
        pings = self.notify.times("WATCHDOG=1", ready_at, time.monotonic())
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        self.assertGreaterEqual(len(pings), 8, self.log_text()[-2000:])
        self.assertLess(max(gaps), 3.0, "a gap of %.1f s between pings (watchdog 3 s)" % max(gaps))
        self.assertNotIn("watchdog pings withheld", self.log_text())
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=60), 0, self.log_text()[-2000:])

    def test_a_live_key_with_a_scaled_clock_is_refused(self):
        # The ledger counts virtual seconds: at 3600x, "15 reattempts in 30 days" would be 15 in 12 real
        # minutes on real cards. A live key never runs with time_scale != 1; a test key does.
        for key, refused in (("sk_live_51AbCdEfGh", True), ("rk_live_51AbCdEfGh", True)):
            with open(os.path.join(self.dir, "key"), "w") as f:
                f.write(key + "\n")
            path = write_config(self.dir, extra="[provider]\nkind = \"stripe\"\napi_base = \"http://127.0.0.1:9\"\napi_key_file = \"%s/key\"\n" % self.dir)
            r = subprocess.run([os.path.join(BIN, "relanced"), "--config", path, "--run-for", "5"], capture_output=True, timeout=60,
                               stdin=subprocess.DEVNULL)
            out = (r.stdout + r.stderr).decode()
            self.assertNotEqual(r.returncode, 0, out)
            self.assertIn("live Stripe key", out)
            self.assertNotIn(key, out)

    def test_socket_activation(self):
        activated = os.path.join(self.dir, "activated.sock")
        # systemd-socket-activate passes on only the environment it is told to (-E).
        self.start(argv_prefix=["systemd-socket-activate", "-l", activated, "--fdname=relanced.socket",
                                "-E", "NOTIFY_SOCKET", "-E", "WATCHDOG_USEC"])
        # Like systemd, systemd-socket-activate starts the service on the first connection; that
        # request is answered once the daemon serves the inherited socket.
        for _ in range(100):
            if os.path.exists(activated):
                break
            time.sleep(0.1)
        status, _, body = http_get(activated, "/healthz", timeout=60)
        self.assertIn(status, (200, 503), body)
        self.notify.wait_for("READY=1", 30)
        status, _, doc = http_get(activated, "/status")
        self.assertEqual(status, 200)
        self.assertEqual(run_checker("check_status.py", doc)[0], 0)
        # The configured path was not bound: systemd owns the socket.
        self.assertFalse(os.path.exists(self.sock))
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=60), 0, self.log_text()[-2000:])


if __name__ == "__main__":
    unittest.main()
