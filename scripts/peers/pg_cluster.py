"""A PostgreSQL server for the Python tests: the one scripts/test started, named by
RELANCE_TEST_POSTGRES, or else a throwaway cluster that this process starts on first use
(scripts/pg-cluster start DIR --fast, in a directory of its own under /tmp) and stops at exit.

A test that needs the server fails when there is none: it never skips."""
import atexit
import os
import re
import shutil
import subprocess
import tempfile
import threading
import uuid

ENVIRONMENT_VARIABLE = "RELANCE_TEST_POSTGRES"
PG_CLUSTER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pg-cluster")

_lock = threading.Lock()
_started = {}  # "uri" or "error", once this process has tried to start its cluster


class PostgresUnavailable(Exception):
    """PostgreSQL could not be started, or did not answer."""


def url():
    """The server's URI: RELANCE_TEST_POSTGRES when set, else the cluster this process starts once."""
    uri = os.environ.get(ENVIRONMENT_VARIABLE)
    if uri:
        return uri
    with _lock:
        if not _started:
            _start_cluster()
        if "error" in _started:
            raise PostgresUnavailable(_started["error"])
        return _started["uri"]


def fresh_database(prefix):
    """Creates a database of its own (PREFIX_ and 12 random hex digits) on the server and returns its
    URI: the server's, with the database's name in place of the path."""
    server = url()
    name = database_name(prefix)
    psql(server, 'CREATE DATABASE "%s"' % name)
    return with_database(server, name)


def psql(uri, sql):
    """Runs `sql` with psql on the database at `uri`; the rows it prints, unaligned (-At)."""
    done = subprocess.run(["psql", uri, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        raise PostgresUnavailable("psql on %s: %s: %s" % (uri, sql, done.stderr.strip()))
    return done.stdout


def with_database(server, database):
    """`server` with `database` as its path (the query, such as ?host=, kept)."""
    end = min([i for i in (server.find("?"), server.find("#")) if i >= 0] or [len(server)])
    authority = server.find("://") + 3 if "://" in server else 0
    path = server.find("/", authority, end)
    if path < 0:
        path = end
    return server[:path] + "/" + database + server[end:]


def database_name(prefix):
    """A database name from `prefix` (lower-case letters, digits and _, at most 40 of them) and 12
    random hex digits."""
    head = re.sub(r"[^a-z0-9]", "_", prefix.lower())[:40]
    if not head[:1].isalpha():
        head = "db_" + head
    return "%s_%s" % (head, uuid.uuid4().hex[:12])


def _start_cluster():
    # Under /tmp: the socket's path has a length limit.
    directory = tempfile.mkdtemp(prefix="relance-pg.", dir="/tmp")
    _started["directory"] = directory
    atexit.register(_stop_cluster)
    done = subprocess.run([PG_CLUSTER, "start", directory, "--fast"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode == 0:
        _started["uri"] = done.stdout.strip()
    else:
        _started["error"] = ("PostgreSQL could not be started for the tests (install it with scripts/setup, "
                             "or set %s to a running server's URI): %s" % (ENVIRONMENT_VARIABLE, done.stderr.strip()))


def _stop_cluster():
    directory = _started.get("directory")
    if directory:
        subprocess.run([PG_CLUSTER, "stop", directory], stdin=subprocess.DEVNULL, capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)
