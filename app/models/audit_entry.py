"""Audit entry: who created, changed or deleted an account, a project member or a robot, and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.models.base import Base, UTCDateTime


class AuditEntry(Base):
    """Harbor's ``audit_log_ext`` row: ``operation`` (create, update, delete), ``resource_type`` (user,
    project_member, robot), ``resource`` (its name), ``username`` (who did it), ``op_time``."""

    __tablename__ = "audit_log_exts"
    __table_args__ = (Index("ix_audit_log_exts_op_time", "op_time", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation: Mapped[str] = mapped_column(String(16))
    operation_description: Mapped[str] = mapped_column(String(1024), default="")
    operation_result: Mapped[bool] = mapped_column(default=True)
    resource_type: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(520))
    project_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(520))
    op_time: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
