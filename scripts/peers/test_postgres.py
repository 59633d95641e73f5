#!/usr/bin/env python3
"""relanced on PostgreSQL ([store] kind = "postgresql"), against a real server of its own.

- a node refuses a database that was never migrated, naming both schema versions; `relancectl
  migrate` brings it to this build's version, and a second `migrate` has nothing to do;
- kill -9 of the node at random moments of a sandbox run (as scripts/crash-test does on SQLite),
  restarts, then a graceful run: scripts/check-run.py recounts from the sandbox's own ledger, the
  database and the spool (no charge paid twice, no attempt number performed twice, no outcome lost,
  no event id missing, no charge stuck, no network rule broken);
- while the node runs, a second node on the same database joins, and the two lease 32 buckets of
  customers each (`/status`, `relancectl status --cluster`); kill -9 of one: the other takes its
  buckets over (the time printed; at most the lease plus 5 s); the killed node rejoins and gets its
  share back; a node whose guard session the server ended reconnects and keeps its buckets; a node
  stopped gracefully hands its buckets over at once;
- the database stopped under load: /healthz says the database is out of reach, the node does not
  die, and once the server is back it resumes; the run still passes check-run;
- `relancectl migrate --from-sqlite DIR` moves a single-host state into an empty database; the node
  carries on from it, and the moved run passes check-run too.

Usage: .venv/bin/python scripts/peers/test_postgres.py [KILLS] (default 15; RELANCE_BIN names the
folder holding relanced and relancectl, default .build/debug; RELANCE_KEEP=1 keeps the work directory)
"""

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("RELANCE_BIN", os.path.join(ROOT, ".build", "debug"))
PG_CLUSTER = os.path.join(ROOT, "scripts", "pg-cluster")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg_cluster  # noqa: E402

results = []


def check(name, ok, detail=""):
    results.append((name, ok, detail))
    print(("  ok    " if ok else "  FAIL  ") + name + ("" if ok else f" ({detail})"), flush=True)


def config(work, node, uri, kind="postgresql"):
    """A node's retry.toml: its own state, spool and sockets; the shared database; the crash test's sandbox."""
    base = os.path.join(work, node)
    os.makedirs(base, exist_ok=True)
    path = os.path.join(base, "retry.toml")
    store = f'[store]\nkind = "postgresql"\nurl = "{uri}"\nnode_name = "{node}"\n' if kind == "postgresql" else ""
    with open(path, "w") as f:
        f.write(f"""[daemon]
state_dir = "{base}/state"
spool_dir = "{base}/spool"
status_socket = "{base}/relanced.sock"
admin_socket = "{base}/admin.sock"
poll_interval = "1h"
time_scale = 43200
spool_batch_events = 25
spool_batch_ms = 50
log_level = "warning"
{store}
[sandbox]
seed = 7
customers = 300
failures_per_day = 100
out_of_band_percent = 8
""")
    return path


def relanced(cfg, log, *args):
    return subprocess.Popen([os.path.join(BIN, "relanced"), "--config", cfg, *args], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT)


def relancectl(*args):
    return subprocess.run([os.path.join(BIN, "relancectl"), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


def healthz(sock):
    """The status socket's /healthz: (status code, body), or (0, error) when it does not answer."""
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(sock)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body.decode()
    except OSError as e:
        return 0, str(e)


def get_json(sock, path):
    """A status route's JSON document, or None."""
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(sock)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        return json.loads(body) if int(head.split()[1]) == 200 else None
    except (OSError, ValueError):
        return None


def leases(sock):
    """How many buckets the node on `sock` leases, from its /status (None when it does not answer)."""
    doc = get_json(sock, "/status")
    return None if doc is None else len(doc.get("store", {}).get("leases", []))


def wait_for(predicate, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def check_run(name, base, uri, killed, more=()):
    spools = [arg for spool in more for arg in ("--spool", spool)]
    done = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "check-run.py"), os.path.join(base, "state"),
                           os.path.join(base, "spool"), "--killed", str(killed), "--postgres", uri, *spools], capture_output=True, text=True)
    print(done.stdout, end="")
    check(name, done.returncode == 0, done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:])


def main():
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    work = tempfile.mkdtemp(prefix="relance-pg-test.")
    os.chmod(work, 0o755)  # the server runs as postgres when this runs as root
    cluster = os.path.join(work, "pg")
    # A server of this test's own (fsync on): the outage scenario stops and starts it.
    server = subprocess.run([PG_CLUSTER, "start", cluster], check=True, capture_output=True, text=True).stdout.strip()
    try:
        run(work, cluster, server, kills)
    finally:
        subprocess.run([PG_CLUSTER, "stop", cluster], capture_output=True)
        if os.environ.get("RELANCE_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    failed = [r for r in results if not r[1]]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


def run(work, cluster, server, kills):
    uri = pg_cluster.with_database(server, "relance")
    pg_cluster.psql(server, "CREATE DATABASE relance")
    n1 = config(work, "n1", uri)
    base = os.path.dirname(n1)
    log = open(os.path.join(work, "daemon.log"), "a")

    # An unmigrated database: the node refuses, naming both versions.
    p = subprocess.run([os.path.join(BIN, "relanced"), "--config", n1, "--run-for", "5"], capture_output=True, text=True, timeout=60)
    check("a node refuses a database never migrated, naming both versions",
          p.returncode != 0 and "version 0" in p.stderr and "relancectl migrate" in p.stderr, p.stderr[-300:])
    m1, m2 = relancectl("migrate", "--config", n1), relancectl("migrate", "--config", n1)
    check("relancectl migrate brings the schema to this version, then has nothing to do",
          m1.returncode == 0 and "migrated from version 0" in m1.stdout and m2.returncode == 0 and "nothing to do" in m2.stdout,
          m1.stdout + m1.stderr + m2.stdout + m2.stderr)

    # kill -9 at random moments.
    rng = random.Random(int(os.environ.get("RELANCE_SEED", "7")))
    killed = 0
    for _ in range(kills):
        d = relanced(n1, log)
        time.sleep(0.4 + rng.random() * 2.5)
        d.kill()
        d.wait()
        killed += 1

    # A second node on the same database, while the first runs: the two share the buckets of customers.
    d = relanced(n1, log, "--time-scale", "3600")
    sock = os.path.join(base, "relanced.sock")
    check("the node comes back after the kills", wait_for(lambda: healthz(sock)[0] == 200, 30), healthz(sock))
    n2 = config(work, "n2", uri)
    base2 = os.path.dirname(n2)
    # The embedded sandbox is the provider: both nodes must see the same one (a file in the state directory).
    os.makedirs(os.path.join(base2, "state"), exist_ok=True)
    os.symlink(os.path.join(base, "state", "sandbox.sqlite"), os.path.join(base2, "state", "sandbox.sqlite"))
    log2 = open(os.path.join(work, "daemon-n2.log"), "a")
    second = relanced(n2, log2, "--time-scale", "3600")
    sock2 = os.path.join(base2, "relanced.sock")
    shared = wait_for(lambda: leases(sock) == 32 and leases(sock2) == 32, 30)
    check("a second node on the same database works beside the first: 32 buckets each within 30 s", shared and second.poll() is None
          and healthz(sock2)[0] == 200, (leases(sock), leases(sock2), healthz(sock2)))
    c = relancectl("status", "--cluster", "--config", n1)
    check("relancectl status --cluster lists both nodes with their buckets",
          c.returncode == 0 and "\nn1 " in "\n" + c.stdout and "\nn2 " in "\n" + c.stdout and "32 buckets" in c.stdout, c.stdout + c.stderr)
    doc = get_json(sock, "/status")
    nodes = {n["name"]: n["leases"] for n in (doc or {}).get("store", {}).get("nodes", [])}
    valid = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "peers", "check_status.py")], input=json.dumps(doc or {}),
                           capture_output=True, text=True)
    check("/status names the store, this node, its leases and the other node", doc is not None and doc["store"]["kind"] == "postgresql"
          and doc["store"]["node"] == "n1" and len(doc["store"]["leases"]) == 32 and nodes == {"n1": 32, "n2": 32} and valid.returncode == 0,
          f"{(doc or {}).get('store')} {valid.stdout[-300:]}")
    d.kill()
    killed_at = time.time()
    d.wait()
    killed += 1
    took_over = wait_for(lambda: leases(sock2) == 64, 40)
    takeover = time.time() - killed_at
    print(f"takeover after kill -9 of a node: {takeover:.1f} s (lease 30 s)")
    check("the other node takes the dead node's buckets over within the lease plus 5 s of a kill -9", took_over and takeover <= 35,
          f"{takeover:.1f} s")

    # A node cut off: the server ends its guard's session (as it does a partitioned node's, once it
    # notices). The node is fenced at once, reconnects at its next beat and carries on with the buckets
    # it still leases; the other node takes nothing it still leases.
    back = relanced(n1, log, "--time-scale", "3600")
    check("the killed node rejoins and gets its share back", wait_for(lambda: leases(sock) == 32 and leases(sock2) == 32, 40),
          (leases(sock), leases(sock2)))
    pg_cluster.psql(uri, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'relanced-guard:n2'")
    time.sleep(5)
    check("a node whose session was ended reconnects and keeps its buckets", second.poll() is None and healthz(sock2)[0] == 200
          and leases(sock2) == 32 and leases(sock) == 32, (second.poll(), leases(sock), leases(sock2)))
    second.terminate()
    check("a node stopped gracefully exits 0 and hands its buckets over at once",
          second.wait(timeout=60) == 0 and wait_for(lambda: leases(sock) == 64, 10), leases(sock))
    d = back

    # The database stopped under load, then started again.
    subprocess.run([PG_CLUSTER, "stop", cluster], check=True, capture_output=True)
    down = wait_for(lambda: healthz(sock)[0] == 503 and "database" in healthz(sock)[1], 20)
    check("/healthz says the database is out of reach", down, healthz(sock))
    time.sleep(3)
    check("the node outlives the database's outage", d.poll() is None, f"exit {d.returncode}")
    subprocess.run([PG_CLUSTER, "start", cluster], check=True, capture_output=True)
    check("/healthz recovers once the database is back", wait_for(lambda: healthz(sock)[0] == 200, 30), healthz(sock))
    time.sleep(3)
    d.terminate()
    try:
        code = d.wait(timeout=60)
    except subprocess.TimeoutExpired:
        if shutil.which("gdb"):  # where it hangs, for the log
            with open(os.path.join(work, "hung.txt"), "w") as f:
                subprocess.run(["gdb", "-p", str(d.pid), "-batch", "-ex", "thread apply all bt 30"], stdout=f, stderr=subprocess.STDOUT, timeout=120)
            print(f"backtrace of the hung node in {work}/hung.txt")
        d.kill()
        code = "hung"
    check("the node stops gracefully after the outage", code == 0, f"exit {code}")
    # The last run at real-time speed: what fell due meanwhile, then a graceful stop.
    d = relanced(n1, log, "--time-scale", "1", "--run-for", "20")
    d.wait(timeout=120)
    check_run("the killed, taken-over and cut-off PostgreSQL run passes the crash checks", base, uri, killed,
              more=[os.path.join(base2, "spool")])

    # A single-host state moved into PostgreSQL, and carried on from there.
    single = config(work, "single", uri, kind="sqlite")
    sbase = os.path.dirname(single)
    relanced(single, log, "--run-for", "6").wait(timeout=60)
    moved_uri = pg_cluster.with_database(server, "moved")
    pg_cluster.psql(server, "CREATE DATABASE moved")
    moved = config(work, "single", moved_uri)  # the same state and spool directories, now on PostgreSQL
    m = relancectl("migrate", "--config", moved, "--from-sqlite", os.path.join(sbase, "state"))
    check("relancectl migrate --from-sqlite moves the state", m.returncode == 0 and "charges:" in m.stdout, m.stdout + m.stderr)
    again = relancectl("migrate", "--config", moved, "--from-sqlite", os.path.join(sbase, "state"))
    check("a second move into a database with charges is refused", again.returncode != 0 and "empty database" in again.stderr,
          again.stdout + again.stderr)
    # The commands that read a state read the moved one through --config as they read the file.
    state = os.path.join(sbase, "state")
    for name, by_state, by_config in [
        ("report", ["report", "--state", state, "--format", "text"], ["report", "--config", moved, "--format", "text"]),
        ("simulate", ["simulate", "--state", state, "--config", single, "--replications", "5"], ["simulate", "--config", moved, "--replications", "5"]),
    ]:
        a, b = relancectl(*by_state), relancectl(*by_config)
        check(f"relancectl {name} --config reads the PostgreSQL store as --state reads the file",
              a.returncode == 0 and b.returncode == 0 and a.stdout == b.stdout and len(a.stdout) > 200, (a.stdout + a.stderr + b.stdout + b.stderr)[-600:])
    d = relancectl("config-diff", single, moved, "--config", moved)
    check("relancectl config-diff --config plans the PostgreSQL store's attempts again", d.returncode == 0 and "would not move" in d.stdout,
          d.stdout + d.stderr)
    relanced(moved, log, "--run-for", "6").wait(timeout=60)
    relanced(moved, log, "--time-scale", "1", "--run-for", "15").wait(timeout=60)
    check_run("the moved state carries on and passes the crash checks", sbase, moved_uri, 0)


if __name__ == "__main__":
    main()
