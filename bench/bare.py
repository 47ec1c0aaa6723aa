"""The baselines a user would pick instead of Dockhook, in the same run: a plain RQ job that POSTs the body
(run by ``rq worker``, forking or ``SimpleWorker``), and a bare Flask JSON endpoint under the same gunicorn."""

from __future__ import annotations

import requests
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

_session: requests.Session | None = None


def post(url: str, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> int:
    """The job a user writes: POST ``body`` to ``url`` with a keep-alive session, fail on a non-2xx."""
    global _session
    if _session is None:
        _session = requests.Session()
        _session.trust_env = False
    response = _session.post(
        url, data=body, headers={"Content-Type": content_type, **(headers or {})}, timeout=(10, 10)
    )
    response.raise_for_status()
    return response.status_code


app = Flask(__name__)


@app.post("/service/notifications")
def notifications() -> ResponseReturnValue:
    """Parse the envelope as JSON and answer how many events it held: what a minimal receiver does."""
    document = request.get_json(force=True, silent=True) or {}
    return jsonify(events=len(document.get("events", [])))


@app.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")
