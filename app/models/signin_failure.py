"""Sign-in failures counted per client address and per account name, for the sign-in rate limit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class SigninFailure(Base):
    """``key`` is ``addr:<client address>`` or ``user:<name>``; ``failures`` counts within the window that
    began at ``window_start``. Shared by every process, so the limit holds across a fleet."""

    __tablename__ = "signin_failures"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
