"""Unbound extension singletons (database, migrations) and accessors for what create_app binds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from app.models.base import Base

if TYPE_CHECKING:
    from app.broker.broker import Broker
    from app.config import Settings

db = SQLAlchemy(model_class=Base)
migrate = Migrate()


def current_settings() -> Settings:
    """The running app's validated settings."""
    settings: Settings = current_app.extensions["dockhook.settings"]
    return settings


def current_broker() -> Broker:
    """The running app's broker, with every handler subscribed."""
    broker: Broker = current_app.extensions["dockhook.broker"]
    return broker
