"""Helpers shared by the Python test drivers."""
import json
import os
import subprocess
import sys
import urllib.request

PEERS = os.path.dirname(os.path.abspath(__file__))


def call(base, method, path, body=None, key=None):
    """A JSON request to the Stripe fixture (its control API, or the Stripe API with `key`)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    if key:
        req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def start_fixture(key, *options, stderr=subprocess.DEVNULL):
    """Starts the Stripe fixture server (stripe_fixture.py) on a free loopback port with `key` and the
    given options (--seed, --customers, ...); returns (process, base url). The caller terminates it."""
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


def write_stripe_config(work, base, key, daemon, provider):
    """Writes the API key to `work`/key and a retry.toml for relanced against the Stripe fixture at `base`,
    with state, spool and status socket under `work`; `daemon` and `provider` are further settings of
    those tables, in order (strings are quoted). Returns the config's path."""
    def settings(table):
        return ["%s = %s" % (name, '"%s"' % value if isinstance(value, str) else value) for name, value in table.items()]

    with open(os.path.join(work, "key"), "w") as f:
        f.write(key + "\n")
    lines = ["[daemon]",
             'state_dir = "%s/state"' % work,
             'spool_dir = "%s/spool"' % work,
             'status_socket = "%s/run/relanced.sock"' % work]
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
