"""SQLAlchemy models, one module per record; importing this package registers every table."""

from app.models.access_log import AccessLog
from app.models.artifact import Artifact, Tag
from app.models.audit_entry import AuditEntry
from app.models.base import Base
from app.models.configuration import Configuration
from app.models.event import Event
from app.models.hook_job import FINAL_STATUSES, TRIGGER_WRITTEN, HookAttempt, HookJob, HookJobStatus, HookJobTotal
from app.models.policy import PolicyEventType, WebhookPolicy
from app.models.project import Project
from app.models.project_member import ProjectMember
from app.models.rejected_notification import RejectedNotification
from app.models.repository import Repository
from app.models.robot import Robot
from app.models.signin_failure import SigninFailure
from app.models.target_health import TargetAttemptHour, TargetHealth
from app.models.user import User

__all__ = [
    "FINAL_STATUSES",
    "TRIGGER_WRITTEN",
    "AccessLog",
    "Artifact",
    "AuditEntry",
    "Base",
    "Configuration",
    "Event",
    "HookAttempt",
    "HookJob",
    "HookJobStatus",
    "HookJobTotal",
    "PolicyEventType",
    "Project",
    "ProjectMember",
    "RejectedNotification",
    "Repository",
    "Robot",
    "SigninFailure",
    "Tag",
    "TargetAttemptHour",
    "TargetHealth",
    "User",
    "WebhookPolicy",
]


def tables_to_empty() -> list[str]:
    """Every table, in an order that empties them one ``DELETE`` at a time: a table before those it refers to, and
    the tables triggers write (TRIGGER_WRITTEN) last, once nothing deleted after them can write them again."""
    names = [table.name for table in reversed(Base.metadata.sorted_tables)]
    return [name for name in names if name not in TRIGGER_WRITTEN] + [n for n in names if n in TRIGGER_WRITTEN]
