"""The floor of `make bench`: a bare Flask app answering a small JSON body, nothing else.

e2e/bench.py serves it under a fixed gunicorn command (gthread, 2 workers, 8 threads), never gunicorn.conf.py,
and reports every other figure as a ratio to this one's req/s measured in the same run, so a change of the apps'
server settings or of the machine does not move the goals. Not a test: nothing here is collected by pytest.
"""

from __future__ import annotations

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def floor():
    return jsonify({"status": "ok", "service": "floor"})


@app.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})
