"""Record kept registry events: dedupe, access log, repository and artifact records, publish — one transaction.

The receiver parses and filters an envelope into :class:`RegistryAction` values; :func:`record`
turns them into rows. The registry re-sends an event (same id) whenever our answer is slow, so
every kept event writes exactly one access-log row whose ``registry_event_id`` is unique: that
row is the dedupe key, and the unique index settles a race between two concurrent re-sends.

An event that cannot be recorded (rejected by the receiver, or of an unknown project while projects are not
created on first sight) is kept aside in the same transaction (app.services.rejected): the registry retries an
envelope it did not take forever, in order, so one such event must never fail the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from app.broker import Broker, Topic
from app.broker.events import ArtifactEvent
from app.extensions import db
from app.models import AccessLog, Artifact, Event, Project, Repository, Tag
from app.naming import split_repository
from app.registry.actions import RegistryAction
from app.services import hook_jobs, projects, rejected
from app.services.db import is_outage
from app.services.errors import DatabaseUnavailable
from app.services.rejected import Rejection

log = logging.getLogger(__name__)


@dataclass
class RecordOutcome:
    """What :func:`record` did with an envelope's kept and rejected events."""

    recorded: int = 0
    duplicates: int = 0
    # Events kept aside (new rows, or re-sends of events kept aside before).
    rejected: int = 0
    published: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RecordRules:
    default_project: str
    auto_create_projects: bool


_CONCURRENT_RETRIES = 3


def record(
    actions: list[RegistryAction],
    rules: RecordRules,
    broker: Broker,
    rejections: Sequence[Rejection] = (),
    source_address: str = "",
) -> RecordOutcome:
    """Record ``actions``, publish their events and keep ``rejections`` aside, in one transaction; commit.

    Idempotent per ``event_id``: an id already recorded (or repeated in ``actions``) counts as a duplicate and
    changes nothing; a rejected event kept before is not kept twice. An action of an unknown project is kept
    aside when ``rules`` do not create projects. Should the database still refuse what the receiver checked (a
    bug, not an outage), every action of the envelope is kept aside instead, so the registry is not blocked.
    Raises DatabaseUnavailable when the database cannot be reached or cannot commit; nothing was recorded then.
    """
    if not actions and not rejections:
        return RecordOutcome()
    try:
        return _transaction(lambda: _record_once(actions, rules, broker, rejections, source_address))
    except (DataError, IntegrityError) as exc:
        refused: DBAPIError = exc
    log.error(
        "the database refused an envelope the receiver had checked; its %d events are kept aside",
        len(actions),
        exc_info=refused,
    )
    reason = f"the database refused to record it ({type(refused.orig).__name__}); see the receiver's log"
    aside = [*rejections, *(Rejection(reason, action.raw_event) for action in actions)]
    return _transaction(lambda: _keep_aside(aside, source_address))


def _transaction(work: Callable[[], RecordOutcome]) -> RecordOutcome:
    for attempt in range(_CONCURRENT_RETRIES):
        try:
            outcome = work()
            hook_jobs.seal_new()
            db.session.commit()
            return outcome
        except IntegrityError:
            hook_jobs.forget_new()
            # Another process recorded one of these events (or created the same project or
            # repository, or kept the same rejected event) between our read and our write:
            # retry; the dedupe read now sees it.
            db.session.rollback()
            if attempt == _CONCURRENT_RETRIES - 1:
                raise
        except DBAPIError as exc:
            hook_jobs.forget_new()
            db.session.rollback()
            if is_outage(exc):
                raise DatabaseUnavailable(str(exc.orig or exc)) from exc
            raise
    raise AssertionError("unreachable")


def _keep_aside(aside: Sequence[Rejection], source_address: str) -> RecordOutcome:
    rejected.keep(aside, source_address)
    return RecordOutcome(rejected=len(aside))


def _record_once(
    actions: list[RegistryAction],
    rules: RecordRules,
    broker: Broker,
    rejections: Sequence[Rejection],
    source_address: str,
) -> RecordOutcome:
    outcome = RecordOutcome()
    aside = list(rejections)
    ids = {action.event_id for action in actions}
    seen = (
        set(db.session.scalars(select(AccessLog.registry_event_id).where(AccessLog.registry_event_id.in_(ids))))
        if ids
        else set()
    )
    project_cache: dict[str, Project | None] = {}
    for action in actions:
        if action.event_id in seen:
            outcome.duplicates += 1
            continue
        seen.add(action.event_id)
        project_name, repo_name = split_repository(action.repository, rules.default_project)
        if project_name not in project_cache:
            project_cache[project_name] = _project(project_name, rules)
        project = project_cache[project_name]
        if project is None:
            reason = f"project {project_name} does not exist, and projects are not created on first sight"
            aside.append(Rejection(f"{reason} (DOCKHOOK_AUTO_CREATE_PROJECTS=false)", action.raw_event))
            continue
        repository = _repository(project, repo_name)
        entry = AccessLog(
            project_id=project.id,
            repo_name=repo_name,
            repo_tag=action.tag,
            digest=action.digest,
            operation=action.operation,
            username=action.username,
            op_time=action.occurred_at,
            registry_event_id=action.event_id,
            registry_request_id=action.request_id,
            user_agent=action.user_agent,
        )
        db.session.add(entry)
        event = _apply(action, project, repository, entry)
        if event is not None:
            broker.publish(event.type, event)
            outcome.published.append(str(event.type))
        outcome.recorded += 1
    if aside:
        rejected.keep(aside, source_address)
    outcome.rejected = len(aside)
    db.session.flush()
    return outcome


def _project(name: str, rules: RecordRules) -> Project | None:
    if rules.auto_create_projects:
        return projects.ensure(name)
    return projects.by_name(name)


def _repository(project: Project, name: str) -> Repository:
    repository = db.session.scalar(select(Repository).where(Repository.name == name))
    if repository is None:
        repository = Repository(project_id=project.id, name=name, pull_count=0, push_count=0)
        db.session.add(repository)
        db.session.flush()
    return repository


def _artifact(repository: Repository, digest: str) -> Artifact | None:
    return db.session.scalar(select(Artifact).where(Artifact.repository_id == repository.id, Artifact.digest == digest))


def _event(
    action: RegistryAction, project: Project, repository: Repository, topic: Topic, **kw: object
) -> ArtifactEvent:
    values: dict[str, object] = {
        "type": topic,
        "project_id": project.id,
        "project_name": project.name,
        "repository": repository.name,
        "digest": action.digest,
        "tags": [action.tag] if action.tag else [],
        "media_type": action.media_type,
        "size": action.size,
        "operator": "" if action.username == "anonymous" else action.username,
        "occurred_at": action.occurred_at,
        "registry_event_id": action.event_id,
        "registry_request_id": action.request_id,
        "user_agent": action.user_agent,
        "registry_host": action.registry_host,
        "project_public": project.public,
        "repository_created": repository.creation_time,
    }
    values.update(kw)
    return ArtifactEvent(**values)  # type: ignore[arg-type]


def _apply(action: RegistryAction, project: Project, repository: Repository, entry: AccessLog) -> ArtifactEvent | None:
    """Update repository and artifact records for ``action``; return the event to publish, if any."""
    if action.operation == "push":
        return _push(action, project, repository)
    if action.operation == "pull":
        return _pull(action, project, repository)
    if action.tag:
        return _delete_tag(action, project, repository, entry)
    return _delete_digest(action, project, repository)


def _push(action: RegistryAction, project: Project, repository: Repository) -> ArtifactEvent | None:
    artifact = _artifact(repository, action.digest)
    if artifact is None:
        artifact = Artifact(repository_id=repository.id, digest=action.digest)
        db.session.add(artifact)
    artifact.media_type = action.media_type
    artifact.size = action.size
    artifact.push_time = action.occurred_at
    artifact.deleted_time = None
    db.session.flush()
    if action.tag:
        _point_tag(repository, action.tag, artifact, action.occurred_at)
    if not action.publish:
        return None
    # SQL-side increments: concurrent receivers never lose a count.
    repository.push_count = Repository.push_count + 1
    repository.last_push_time = action.occurred_at
    return _event(action, project, repository, Topic.PUSH_ARTIFACT)


def _point_tag(repository: Repository, name: str, artifact: Artifact, pushed: datetime | None) -> None:
    """A tag points at one manifest: pushing it again moves it, and so does a pull that finds it elsewhere
    (the registry is the truth). ``pushed`` is None when a pull, not a push, says where it points."""
    tag = db.session.scalar(select(Tag).where(Tag.repository_id == repository.id, Tag.name == name))
    if tag is None:
        db.session.add(Tag(repository_id=repository.id, artifact_id=artifact.id, name=name, push_time=pushed))
    elif tag.artifact_id != artifact.id or pushed is not None:
        tag.artifact_id = artifact.id
        tag.push_time = pushed or tag.push_time


def _pull(action: RegistryAction, project: Project, repository: Repository) -> ArtifactEvent:
    """A manifest pulled. One Dockhook never saw pushed (pushed before it ran) becomes known here, with the
    tag it was pulled by, so that a later delete by digest knows it is a manifest and which tags it had."""
    repository.pull_count = Repository.pull_count + 1
    repository.last_pull_time = action.occurred_at
    artifact = _artifact(repository, action.digest)
    if artifact is None and action.digest:
        artifact = Artifact(
            repository_id=repository.id, digest=action.digest, media_type=action.media_type, size=action.size
        )
        db.session.add(artifact)
        db.session.flush()
    if artifact is not None:
        artifact.pull_time = action.occurred_at
        if action.tag and artifact.deleted_time is None:
            _point_tag(repository, action.tag, artifact, None)
    return _event(action, project, repository, Topic.PULL_ARTIFACT)


def _delete_digest(action: RegistryAction, project: Project, repository: Repository) -> ArtifactEvent | None:
    """A manifest (or blob) deleted by digest: one DELETE_ARTIFACT carrying every tag it had.

    The registry reports blob deletes the same way; a digest never seen as a manifest here is
    recorded in the access log but not published. The tag deletes that follow (same request id)
    join this event instead of opening new ones.
    """
    artifact = _artifact(repository, action.digest)
    if artifact is None or artifact.deleted_time is not None:
        return None
    tags = list(db.session.scalars(select(Tag.name).where(Tag.artifact_id == artifact.id).order_by(Tag.id)))
    db.session.execute(delete(Tag).where(Tag.artifact_id == artifact.id))
    artifact.deleted_time = action.occurred_at
    return _event(action, project, repository, Topic.DELETE_ARTIFACT, tags=tags, media_type=artifact.media_type)


def _delete_tag(
    action: RegistryAction, project: Project, repository: Repository, entry: AccessLog
) -> ArtifactEvent | None:
    """A tag removed: part of a manifest delete already published for this request, or a delete of its own.

    The registry sends a tag delete without a digest; the access-log row and the event get the one the tag
    pointed at, or the one this request deleted by digest. A tag the request's published DELETE_ARTIFACT
    did not carry (its manifest's tags were unknown) is published as its own DELETE_ARTIFACT.
    """
    tag = db.session.scalar(select(Tag).where(Tag.repository_id == repository.id, Tag.name == action.tag))
    artifact = db.session.get(Artifact, tag.artifact_id) if tag is not None else None
    if tag is not None:
        db.session.delete(tag)
    opened = None
    if action.request_id:
        opened = db.session.scalar(
            select(Event)
            .where(
                Event.registry_request_id == action.request_id,
                Event.repository == repository.name,
                Event.type == str(Topic.DELETE_ARTIFACT),
            )
            .order_by(Event.id)
        )
    digest = (
        (artifact.digest if artifact else "")
        or (str(opened.data.get("digest", "")) if opened else "")
        or _deleted_digest_of_request(action, project, repository)
    )
    entry.digest = entry.digest or digest
    if opened is not None:
        tags = list(opened.data.get("tags", []))
        if action.tag in tags:
            return None
        opened.data = {**opened.data, "tags": [*tags, action.tag]}
        # The event's hook jobs were made when it was published, without this tag: rather than lose it,
        # publish the late tag's own DELETE_ARTIFACT (same manifest, same request).
    return _event(
        action,
        project,
        repository,
        Topic.DELETE_ARTIFACT,
        digest=digest,
        media_type=artifact.media_type if artifact else (str(opened.data.get("media_type", "")) if opened else ""),
    )


def _deleted_digest_of_request(action: RegistryAction, project: Project, repository: Repository) -> str:
    """The digest this request deleted by digest in this repository (the registry sends it first, without tags)."""
    if not action.request_id:
        return ""
    found = db.session.scalar(
        select(AccessLog.digest)
        .where(
            AccessLog.registry_request_id == action.request_id,
            AccessLog.project_id == project.id,
            AccessLog.repo_name == repository.name,
            AccessLog.operation == "delete",
            AccessLog.repo_tag == "",
        )
        .order_by(AccessLog.id)
    )
    return found or ""
