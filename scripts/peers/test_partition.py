#!/usr/bin/env python3
"""A node of a PostgreSQL cluster cut off from the database for longer than its lease, against a real
server of its own.

Two nodes share one database ([store] lease = "10s"): node A reaches it through a TCP proxy of this
test's own, node B directly. Once each leases 32 buckets of customers, the proxy closes A's
connections and refuses new ones, and the server ends whatever A still had (pg_terminate_backend):
- B takes all 64 buckets over within the lease plus 5 s (the time printed);
- A's /healthz answers 503 naming the database within 10 s, and A does not die, not even when cut off
  for twice the lease;
- once the proxy lets A through again, A reconnects and the two lease 32 buckets each again;
- both stop gracefully (exit 0), a last real-time run does what fell due, and scripts/check-run.py
  recounts from the sandbox's own ledger, the database and both spools: no charge paid twice, no
  attempt number performed twice (A attempted nothing B took over), no outcome lost, no network rule
  broken.

Usage: .venv/bin/python scripts/peers/test_partition.py (RELANCE_BIN names the folder holding relanced
and relancectl, default .build/debug; RELANCE_KEEP=1 keeps the work directory, as does a failure)
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg_cluster  # noqa: E402
import test_postgres as tp  # noqa: E402

LEASE = 10


class Proxy:
    """A TCP proxy to the server on 127.0.0.1: cut() ends every connection through it and closes the
    ones that come after at once (a partition, seen from the node); heal() forwards again."""

    def __init__(self, port):
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.sockets = set()
        self.refusing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = None if self.refusing else socket.create_connection(self.target, timeout=5)
            except OSError:
                upstream = None
            with self.lock:
                if upstream is None or self.refusing:
                    pairs = []
                else:
                    upstream.settimeout(None)
                    self.sockets |= {client, upstream}
                    pairs = [(client, upstream), (upstream, client)]
            if not pairs:
                for s in (client, upstream):
                    if s is not None:
                        s.close()
            for src, dst in pairs:
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        self._drop([src, dst])

    def _drop(self, sockets):
        with self.lock:
            self.sockets -= set(sockets)
        for s in sockets:
            try:  # shutdown first: it wakes the pump blocked in recv on the other side
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def cut(self):
        with self.lock:
            self.refusing = True
            sockets = list(self.sockets)
        self._drop(sockets)

    def heal(self):
        with self.lock:
            self.refusing = False

    def close(self):
        self.cut()
        self.listener.close()


def node_config(work, node, uri):
    """test_postgres's config with a lease of LEASE seconds in [store]."""
    path = tp.config(work, node, uri)
    text = open(path).read()
    with open(path, "w") as f:
        f.write(text.replace(f'node_name = "{node}"\n', f'node_name = "{node}"\nlease = "{LEASE}s"\n', 1))
    return path


def first_times(conditions, seconds):
    """Polls the conditions together: the seconds after which each first held (None if never)."""
    start, times = time.time(), [None] * len(conditions)
    while time.time() < start + seconds and None in times:
        for i, condition in enumerate(conditions):
            if times[i] is None and condition():
                times[i] = time.time() - start
        time.sleep(0.25)
    return times


def stop(processes, seconds=60):
    """SIGTERM to all at once, then their exit codes ("hung", and kill -9, for one not out within `seconds`)."""
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    end, codes = time.time() + seconds, []
    for p in processes:
        try:
            codes.append(p.wait(timeout=max(0.1, end - time.time())))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            codes.append("hung")
    return codes


def database_down(sock):
    code, body = tp.healthz(sock)
    return code == 503 and "database" in body


def tail(work, node, n=1500):
    path = os.path.join(work, f"daemon-{node}.log")
    return open(path, errors="replace").read()[-n:] if os.path.exists(path) else ""


def main():
    started = time.time()
    work = tempfile.mkdtemp(prefix="relance-partition.")
    os.chmod(work, 0o755)  # the server runs as postgres when this runs as root
    cluster = os.path.join(work, "pg")
    server = subprocess.run([tp.PG_CLUSTER, "start", cluster, "--fast", "--tcp", "0"], check=True, capture_output=True,
                            text=True).stdout.strip()
    nodes, proxy, crashed = [], None, True
    try:
        proxy = Proxy(urlsplit(server).port)
        run(work, server, proxy, nodes)
        crashed = False
    finally:
        for p in nodes:  # left running by a failure
            if p.poll() is None:
                p.kill()
                p.wait()
        if proxy:
            proxy.close()
        subprocess.run([tp.PG_CLUSTER, "stop", cluster], capture_output=True)
        failed = [r for r in tp.results if not r[1]]
        if os.environ.get("RELANCE_KEEP") == "1" or failed or crashed:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{len(tp.results) - len(failed)} passed, {len(failed)} failed ({time.time() - started:.0f} s)")
    sys.exit(1 if failed else 0)


def run(work, server, proxy, nodes):
    direct = pg_cluster.with_database(server, "relance")
    port = urlsplit(server).port
    via_proxy = direct.replace(f"127.0.0.1:{port}/", f"127.0.0.1:{proxy.port}/", 1)
    assert via_proxy != direct, server
    pg_cluster.psql(server, "CREATE DATABASE relance")
    cfg_a, cfg_b = node_config(work, "A", via_proxy), node_config(work, "B", direct)
    base_a, base_b = os.path.dirname(cfg_a), os.path.dirname(cfg_b)
    sock_a, sock_b = os.path.join(base_a, "relanced.sock"), os.path.join(base_b, "relanced.sock")
    m = tp.relancectl("migrate", "--config", cfg_b)
    tp.check("relancectl migrate prepares the database", m.returncode == 0, m.stdout + m.stderr)

    a = tp.relanced(cfg_a, open(os.path.join(work, "daemon-A.log"), "a"), "--time-scale", "3600")
    nodes.append(a)
    tp.check("node A starts through the proxy", tp.wait_for(lambda: tp.healthz(sock_a)[0] == 200, 30), tp.healthz(sock_a))
    # The embedded sandbox is the provider: both nodes must see the same one (a file in the state directory).
    os.makedirs(os.path.join(base_b, "state"), exist_ok=True)
    os.symlink(os.path.join(base_a, "state", "sandbox.sqlite"), os.path.join(base_b, "state", "sandbox.sqlite"))
    b = tp.relanced(cfg_b, open(os.path.join(work, "daemon-B.log"), "a"), "--time-scale", "3600")
    nodes.append(b)
    shared = tp.wait_for(lambda: tp.leases(sock_a) == 32 and tp.leases(sock_b) == 32, 40)
    tp.check("the two nodes lease 32 buckets each within 40 s", shared, (tp.leases(sock_a), tp.leases(sock_b)))

    # The partition: nothing of A's reaches the server any more, and the server ends what A had.
    proxy.cut()
    cut_at = time.time()
    ended = pg_cluster.psql(direct, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                    "WHERE application_name IN ('relanced:A', 'relanced-guard:A')").strip()
    print(f"A's sessions the server ended after the cut: {ended}")
    took_over, down = first_times([lambda: tp.leases(sock_b) == 64, lambda: database_down(sock_a)], 3 * LEASE + 10)
    if took_over is not None:
        print(f"takeover after a partition: {took_over:.1f} s (lease {LEASE} s)")
    if down is not None:
        print(f"A's /healthz said the database is out of reach after {down:.1f} s")
    tp.check("B takes all 64 buckets over within the lease plus 5 s of A's partition", took_over is not None
             and took_over <= LEASE + 5, f"{took_over} s; B leases {tp.leases(sock_b)}")
    tp.check("A's /healthz says the database is out of reach within 10 s, and A runs on", down is not None and down <= 10
             and a.poll() is None, f"after {down} s: {tp.healthz(sock_a)}, exit {a.poll()}; A's log ends: {tail(work, 'A')}")
    time.sleep(max(0, cut_at + 2 * LEASE - time.time()))
    tp.check("A cut off for twice the lease is still running, and B still leases all 64 buckets",
             a.poll() is None and b.poll() is None and tp.leases(sock_b) == 64,
             f"A exit {a.poll()}, B exit {b.poll()}, B leases {tp.leases(sock_b)}; A's log ends: {tail(work, 'A')}")

    # The partition heals: A reconnects and gets its share back.
    proxy.heal()
    healed_at = time.time()
    back = tp.wait_for(lambda: tp.leases(sock_a) == 32 and tp.leases(sock_b) == 32, 40)
    if back:
        print(f"shared again after the partition healed: {time.time() - healed_at:.1f} s")
    tp.check("once healed, A reconnects and the two lease 32 buckets each again within 40 s", back and tp.healthz(sock_a)[0] == 200,
             f"{tp.leases(sock_a)} and {tp.leases(sock_b)}; A {tp.healthz(sock_a)}; A's log ends: {tail(work, 'A')}")
    time.sleep(3)

    codes = stop([a, b])
    tp.check("both nodes stop gracefully (exit 0 within 60 s)", codes == [0, 0],
             f"exits {codes}; A's log ends: {tail(work, 'A')}; B's log ends: {tail(work, 'B')}")
    # The last run at real-time speed: what fell due meanwhile, then a graceful stop.
    last = tp.relanced(cfg_a, open(os.path.join(work, "daemon-A.log"), "a"), "--time-scale", "1", "--run-for", "15")
    nodes.append(last)
    tp.check("a last real-time run of A stops by itself", last.wait(timeout=120) == 0, f"exit {last.returncode}")
    tp.check_run("the partitioned run passes the crash checks", base_a, direct, 0, more=[os.path.join(base_b, "spool")])


if __name__ == "__main__":
    main()
