"""Helpers shared by the Python test drivers."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

PEERS = os.path.dirname(os.path.abspath(__file__))


def call(base, method, path, body=None, key=None, timeout=30):
    """A JSON request to the Stripe fixture (its control API, or the Stripe API with `key`)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    if key:
        req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def start_fixture(key, *options, stderr=subprocess.DEVNULL):
    """Starts the Stripe fixture server (stripe_fixture.py) on a free loopback port with `key` and the
    given options (--seed, --customers, --faults off, ...); returns (process, base url). The caller
    terminates it."""
    fixture = subprocess.Popen(
        [sys.executable, os.path.join(PEERS, "stripe_fixture.py"), "--port", "0", "--api-key", key, *options],
        stdout=subprocess.PIPE, stderr=stderr)
    try:
        port = json.loads(fixture.stdout.readline())["port"]
    except BaseException:
        fixture.kill()
        fixture.wait()
        raise
    return fixture, "http://127.0.0.1:%d" % port


def unix_get(sock_path, path, timeout=10.0):
    """GET over a Unix socket (the daemon's status socket): (status, body bytes, wall time mid-request)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    t0 = time.time()
    s.sendall(("GET %s HTTP/1.1\r\nHost: relanced\r\nConnection: close\r\n\r\n" % path).encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    t1 = time.time()
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b"\r\n")[0].split()[1])
    if b"transfer-encoding: chunked" in head.lower():
        out, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size.split(b";")[0], 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return status, body, (t0 + t1) / 2, t1 - t0


def write_stripe_config(work, base, key, daemon, provider):
    """Writes the API key to `work`/key and a retry.toml for relanced against the Stripe fixture at `base`,
    with state, spool and status socket under `work`; `daemon` and `provider` are further settings of
    those tables, in order (strings are quoted; e.g. provider={"max_network_retries": 2}). Returns the
    config's path."""
    def settings(table):
        return ["%s = %s" % (name, '"%s"' % value if isinstance(value, str) else value) for name, value in table.items()]

    with open(os.path.join(work, "key"), "w") as f:
        f.write(key + "\n")
    lines = ["[daemon]",
             'state_dir = "%s/state"' % work,
             'spool_dir = "%s/spool"' % work,
             'status_socket = "%s/run/relanced.sock"' % work,
             'admin_socket = "%s/run/relanced-admin.sock"' % work]
    lines += settings(daemon)
    lines += ["[provider]",
              'kind = "stripe"',
              'api_base = "%s"' % base,
              'api_key_file = "%s/key"' % work]
    lines += settings(provider)
    config = os.path.join(work, "retry.toml")
    with open(config, "w") as f:
        f.write("\n".join(lines) + "\n")
    return config


def busiest_window(times, window):
    """The most of `times` (seconds) within any span shorter than `window`."""
    ts = sorted(times)
    j = best = 0
    for i, t in enumerate(ts):
        while ts[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def print_checks(checks):
    """Prints (name, ok, detail) checks and the tally; returns how many failed."""
    failed = 0
    for name, ok, detail in checks:
        print(("  ok    " if ok else "  FAIL  ") + name + ("" if ok else " (%s)" % (detail,)))
        failed += 0 if ok else 1
    print("%d passed, %d failed" % (len(checks) - failed, failed))
    return failed
