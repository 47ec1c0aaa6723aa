"""The deliveries dashboard: "did my webhook fire?" answered in a browser (server-rendered, no build step)."""

from __future__ import annotations

from flask import Flask


def install(app: Flask) -> None:
    from app.dashboard import auth
    from app.dashboard.views import bp

    auth.configure(app)
    app.register_blueprint(bp)
