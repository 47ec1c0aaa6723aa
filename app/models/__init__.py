"""SQLAlchemy models, one module per record; importing this package registers every table."""

from app.models.access_log import AccessLog
from app.models.artifact import Artifact, Tag
from app.models.audit_entry import AuditEntry
from app.models.base import Base
from app.models.configuration import Configuration
from app.models.event import Event
from app.models.hook_job import FINAL_STATUSES, HookAttempt, HookJob, HookJobStatus, HookJobTotal
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
