"""System configuration stored in the database (Harbor's ``/configurations``), one row per key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.models.base import Base, UTCDateTime


class Configuration(Base):
    __tablename__ = "configurations"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)
