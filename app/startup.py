"""Start-up checks a Dockhook process runs before serving: the secret keys open the database's secrets."""

from __future__ import annotations

from app.config import ConfigError, Settings


def check_secret_keys(settings: Settings) -> None:
    """Raise ConfigError (saying what to do) when DOCKHOOK_SECRET_KEYS cannot decrypt the stored secrets,
    or the database has no schema. Builds a throw-away app; an unreachable database only logs a warning."""
    from app import create_app
    from app.extensions import db
    from app.services import credentials

    app = create_app(settings)
    with app.app_context():
        try:
            problem = credentials.startup_problem()
        finally:
            db.engine.dispose()
    if problem:
        raise ConfigError(problem)
