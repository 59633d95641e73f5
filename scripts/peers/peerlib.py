"""Helpers shared by the Python test drivers."""
import json
import urllib.request


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
