"""SQLAlchemy models, one module per record; importing this package registers every table."""

from app.models.access_log import AccessLog
from app.models.artifact import Artifact, Tag
from app.models.base import Base
from app.models.configuration import Configuration
from app.models.event import Event
from app.models.hook_job import FINAL_STATUSES, HookAttempt, HookJob, HookJobStatus
from app.models.policy import PolicyEventType, WebhookPolicy
from app.models.project import Project
from app.models.rejected_notification import RejectedNotification
from app.models.repository import Repository

__all__ = [
    "FINAL_STATUSES",
    "AccessLog",
    "Artifact",
    "Base",
    "Configuration",
    "Event",
    "HookAttempt",
    "HookJob",
    "HookJobStatus",
    "PolicyEventType",
    "Project",
    "RejectedNotification",
    "Repository",
    "Tag",
    "WebhookPolicy",
]
