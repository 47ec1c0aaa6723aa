"""Dockhook: registry notifications in, durable webhooks out. ``create_app`` builds the Flask app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.config import Settings
from app.version import __version__  # noqa: F401  (re-exported)


def create_app(settings: Settings | None = None, **flask_config: Any) -> Flask:
    """Build the app: validated settings, database, broker, receiver and API. Connects to nothing."""
    from app.api import init_api
    from app.api.access import install as authorize_api_requests
    from app.api.request_guard import install as guard_api_requests
    from app.dashboard import install as install_dashboard
    from app.extensions import db, migrate
    from app.logs import install_request_ids
    from app.notification import build_broker
    from app.ops.metrics import install as install_metrics
    from app.ops.probes import bp as probes_bp
    from app.registry.views import bp as registry_bp

    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
    )
    app.config.update(flask_config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["dockhook.settings"] = settings
    app.extensions["dockhook.broker"] = build_broker()

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()))
    if settings.database_url.startswith("sqlite"):
        _sqlite_directory(settings.database_url)
        with app.app_context():
            _sqlite_setup(db.engine)
    install_request_ids(app)
    app.register_blueprint(registry_bp)
    app.register_blueprint(probes_bp)
    install_metrics(app)
    install_dashboard(app)
    init_api(app)
    # After init_api's token check: API bodies within DOCKHOOK_MAX_API_BODY_BYTES (per request, so the
    # receiver keeps DOCKHOOK_MAX_BODY_BYTES), bounded JSON, no NUL or lone surrogate.
    guard_api_requests(app)
    # Last: what the signed-in caller may do (app/api/access.py), once the request is known to be well formed.
    authorize_api_requests(app)
    return app


def _engine_options(url: str) -> dict[str, Any]:
    # hide_parameters: a failed statement's error text must not carry its values (targets hold auth headers).
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}, "hide_parameters": True}
    # pre-ping: a PostgreSQL restart costs one failed request at most, not a pool of dead connections.
    return {
        "pool_pre_ping": True,
        "pool_size": 5,
        "max_overflow": 5,
        "connect_args": {"connect_timeout": 3},
        "hide_parameters": True,
    }


def _sqlite_setup(engine: Engine) -> None:
    """WAL, foreign keys, secure delete, and BEGIN IMMEDIATE so concurrent writers queue instead of failing."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        # Deleted and overwritten content is zeroed, so no old value lingers in the file's free space.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_directory(url: str) -> None:
    path = url.removeprefix("sqlite:///")
    if path and path != url and not path.startswith(":memory:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _migrations_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "migrations"
