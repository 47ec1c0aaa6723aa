"""One clock: what the database records as "now" is what app.clock says, column defaults included."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask

from app import clock
from app.extensions import db
from app.services import projects

THEN = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_column_defaults_read_the_one_clock(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    with app.app_context(), clock.replaced(lambda: THEN):
        project = projects.ensure("timed")
        db.session.commit()
        db.session.refresh(project)
        assert project.creation_time == THEN and project.update_time == THEN
