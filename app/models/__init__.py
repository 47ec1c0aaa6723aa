"""SQLAlchemy models, one module per record; importing this package registers every table."""

from app.models.access_log import AccessLog
from app.models.artifact import Artifact, Tag
from app.models.base import Base, utcnow
from app.models.event import Event
from app.models.project import Project
from app.models.repository import Repository

__all__ = ["AccessLog", "Artifact", "Base", "Event", "Project", "Repository", "Tag", "utcnow"]
