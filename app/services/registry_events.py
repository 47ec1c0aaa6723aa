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
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from app import clock
from app.broker import Broker, Topic
from app.broker.events import ArtifactEvent
from app.extensions import db
from app.models import AccessLog, Project, Repository
from app.naming import split_repository
from app.registry.actions import RegistryAction
from app.services import event_rows, hook_jobs, rejected
from app.services.db import chunks, insert_rows, is_outage
from app.services.errors import DatabaseUnavailable
from app.services.registry_records import Records
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
# The event ids already recorded among :keys (built once: see registry_records._keyed).
_RECORDED = select(AccessLog.registry_event_id).where(
    AccessLog.registry_event_id.in_(bindparam("keys", expanding=True))
)


@dataclass(frozen=True)
class Envelope:
    """One notification's kept actions and rejected events, and the address it came from."""

    actions: list[RegistryAction]
    rejections: Sequence[Rejection] = ()
    source_address: str = ""


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
    return record_many([Envelope(actions, rejections, source_address)], rules, broker)[0]


def record_many(envelopes: Sequence[Envelope], rules: RecordRules, broker: Broker) -> list[RecordOutcome]:
    """:func:`record` for several envelopes at once (the receiver's group commit): one transaction, one commit,
    each envelope's own outcome, in order. An envelope's events are applied after those of the envelopes before
    it, as if each had been recorded on its own in that order.

    Should the database refuse the group (a bug, not an outage), each envelope is recorded on its own instead,
    so that only the one it refuses has its events kept aside. Raises DatabaseUnavailable as :func:`record`
    does: then nothing of any envelope was recorded.
    """
    if not any(e.actions or e.rejections for e in envelopes):
        return [RecordOutcome() for _ in envelopes]
    try:
        return _transaction(lambda: _record_once(envelopes, rules, broker))
    except (DataError, IntegrityError) as exc:
        refused: DBAPIError = exc
    if len(envelopes) > 1:
        log.warning("the database refused a group of %d envelopes; recording each on its own", len(envelopes))
        return [outcome for e in envelopes for outcome in record_many([e], rules, broker)]
    (envelope,) = envelopes
    log.error(
        "the database refused an envelope the receiver had checked; its %d events are kept aside",
        len(envelope.actions),
        exc_info=refused,
    )
    reason = f"the database refused to record it ({type(refused.orig).__name__}); see the receiver's log"
    aside = [*envelope.rejections, *(Rejection(reason, action.raw_event) for action in envelope.actions)]
    return _transaction(lambda: [_keep_aside(aside, envelope.source_address)])


def _transaction(work: Callable[[], list[RecordOutcome]]) -> list[RecordOutcome]:
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


def _record_once(envelopes: Sequence[Envelope], rules: RecordRules, broker: Broker) -> list[RecordOutcome]:
    outcomes = [RecordOutcome() for _ in envelopes]
    aside: list[list[Rejection]] = [list(e.rejections) for e in envelopes]
    fresh = _fresh([(n, action) for n, e in enumerate(envelopes) for action in e.actions], outcomes)
    records = Records()
    named = [(n, action, *split_repository(action.repository, rules.default_project)) for n, action in fresh]
    records.load_projects((project for _, _, project, _ in named), rules.auto_create_projects)
    kept: list[tuple[int, RegistryAction, Project, str]] = []
    wanted: dict[str, Project] = {}
    for n, action, project_name, repo_name in named:
        project = records.projects.get(project_name)
        if project is None:
            reason = f"project {project_name} does not exist, and projects are not created on first sight"
            aside[n].append(Rejection(f"{reason} (DOCKHOOK_AUTO_CREATE_PROJECTS=false)", action.raw_event))
            continue
        wanted.setdefault(repo_name, project)
        kept.append((n, action, project, repo_name))
    records.load_repositories(wanted)
    applied = [(n, action, project, records.repositories[name]) for n, action, project, name in kept]
    records.load_rows([(action, project, repository) for _, action, project, repository in applied])
    # Nothing below reads the database: the events are applied in memory, in order, and written in bulk.
    entries: list[dict[str, Any]] = []
    with db.session.no_autoflush:
        for n, action, project, repository in applied:
            outcome = outcomes[n]
            entry = _access_log(action, project, repository)
            entries.append(entry)
            if action.operation == "delete" and not action.tag:
                records.note_digest_delete(action.request_id, project.id, repository.name, action.digest)
            event = _apply(action, project, repository, entry, records)
            if event is not None:
                broker.publish(event.type, event)
                if event.record is not None:
                    records.note_published(event.record)
                outcome.published.append(str(event.type))
            outcome.recorded += 1
    records.write()
    if entries:
        now = clock.now()
        insert_rows(AccessLog, [{**entry, "received_at": now} for entry in entries])
    for envelope, outcome, its_aside in zip(envelopes, outcomes, aside, strict=True):
        if its_aside:
            rejected.keep(its_aside, envelope.source_address)
        outcome.rejected = len(its_aside)
    event_rows.write()
    db.session.flush()
    return outcomes


def _fresh(
    actions: list[tuple[int, RegistryAction]], outcomes: list[RecordOutcome]
) -> list[tuple[int, RegistryAction]]:
    """The actions (with their envelope's index) not recorded before, first of each id; the others are counted
    as their envelope's duplicates."""
    seen: set[str] = set()
    for batch in chunks({action.event_id for _, action in actions}):
        seen.update(db.session.scalars(_RECORDED, {"keys": batch}))
    fresh = []
    for n, action in actions:
        if action.event_id in seen:
            outcomes[n].duplicates += 1
            continue
        seen.add(action.event_id)
        fresh.append((n, action))
    return fresh


def _access_log(action: RegistryAction, project: Project, repository: Repository) -> dict[str, Any]:
    """The access-log row of ``action`` (written in bulk with the envelope's others)."""
    return {
        "project_id": project.id,
        "repo_name": repository.name,
        "repo_tag": action.tag,
        "digest": action.digest,
        "operation": action.operation,
        "username": action.username,
        "op_time": action.occurred_at,
        "registry_event_id": action.event_id,
        "registry_request_id": action.request_id,
        "user_agent": action.user_agent,
    }


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


def _apply(
    action: RegistryAction, project: Project, repository: Repository, entry: dict[str, Any], records: Records
) -> ArtifactEvent | None:
    """Update repository and artifact records for ``action``; return the event to publish, if any."""
    if action.operation == "push":
        return _push(action, project, repository, records)
    if action.operation == "pull":
        return _pull(action, project, repository, records)
    if action.tag:
        return _delete_tag(action, project, repository, entry, records)
    return _delete_digest(action, project, repository, records)


def _push(action: RegistryAction, project: Project, repository: Repository, records: Records) -> ArtifactEvent | None:
    artifact = records.artifact(repository, action.digest) or records.add_artifact(repository, action.digest)
    artifact.media_type = action.media_type
    artifact.size = action.size
    artifact.push_time = action.occurred_at
    artifact.deleted_time = None
    if action.tag:
        records.point_tag(repository, action.tag, artifact, action.occurred_at)
    if not action.publish:
        return None
    records.count(repository, action)
    return _event(action, project, repository, Topic.PUSH_ARTIFACT)


def _pull(action: RegistryAction, project: Project, repository: Repository, records: Records) -> ArtifactEvent:
    """A manifest pulled. One Dockhook never saw pushed (pushed before it ran) becomes known here, with the
    tag it was pulled by, so that a later delete by digest knows it is a manifest and which tags it had."""
    records.count(repository, action)
    artifact = records.artifact(repository, action.digest)
    if artifact is None and action.digest:
        artifact = records.add_artifact(repository, action.digest, media_type=action.media_type, size=action.size)
    if artifact is not None:
        artifact.pull_time = action.occurred_at
        if action.tag and artifact.deleted_time is None:
            records.point_tag(repository, action.tag, artifact, None)
    return _event(action, project, repository, Topic.PULL_ARTIFACT)


def _delete_digest(
    action: RegistryAction, project: Project, repository: Repository, records: Records
) -> ArtifactEvent | None:
    """A manifest (or blob) deleted by digest: one DELETE_ARTIFACT carrying every tag it had.

    The registry reports blob deletes the same way; a digest never seen as a manifest here is
    recorded in the access log but not published. The tag deletes that follow (same request id)
    join this event instead of opening new ones.
    """
    artifact = records.artifact(repository, action.digest)
    if artifact is None or artifact.deleted_time is not None:
        return None
    tags = records.remove_tags_of(artifact)
    artifact.deleted_time = action.occurred_at
    return _event(action, project, repository, Topic.DELETE_ARTIFACT, tags=tags, media_type=artifact.media_type)


def _delete_tag(
    action: RegistryAction, project: Project, repository: Repository, entry: dict[str, Any], records: Records
) -> ArtifactEvent | None:
    """A tag removed: part of a manifest delete already published for this request, or a delete of its own.

    The registry sends a tag delete without a digest; the access-log row and the event get the one the tag
    pointed at, or the one this request deleted by digest. A tag the request's published DELETE_ARTIFACT
    did not carry (its manifest's tags were unknown) is published as its own DELETE_ARTIFACT.
    """
    tag = records.tag(repository, action.tag)
    artifact = records.tag_points_at(tag) if tag is not None else None
    if tag is not None:
        records.remove_tag(tag)
    opened = records.opened_delete(action.request_id, repository.name) if action.request_id else None
    digest = (
        (artifact.digest if artifact else "")
        or (str(opened.data.get("digest", "")) if opened else "")
        or records.deleted_digest(action.request_id, project, repository)
    )
    entry["digest"] = entry["digest"] or digest
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
