"""``POST /api/v2.0/events``: a scanner, a quota controller, replication, retention or a CI job publishes an event
of a project; it goes through the same broker, policies (with their filters) and hook jobs as registry events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import request
from flask.views import MethodView

from app.api import auth
from app.api.base import HarborBlueprint, project
from app.api.events.schemas import EXAMPLE, PublishBodySchema, PublishedSchema, PublishHeadersSchema
from app.broker.topics import canonical
from app.extensions import current_broker
from app.services import published_events

blp = HarborBlueprint(
    "events",
    __name__,
    url_prefix="/api/v2.0/events",
    description="Publish events of other producers (Dockhook extension): Harbor's scan, quota, replication and "
    "tag-retention events, delivered like registry events",
)
REQUEST_ID_MAX = 64


class Events(MethodView):
    @blp.arguments(PublishHeadersSchema, location="headers")
    @blp.arguments(PublishBodySchema, example=EXAMPLE)
    @blp.response(201, PublishedSchema, description="Published: the event is recorded and its hook jobs made")
    @blp.alt_response(200, schema=PublishedSchema, description="A re-send with a used Idempotency-Key: nothing new")
    @blp.alt_response(
        400, description="Invalid event: unknown type, event_data not of the type's shape, or naming another project"
    )
    @blp.alt_response(403, description="The caller may not publish events in this project")
    @blp.alt_response(404, description="Unknown project")
    @blp.alt_response(
        422, description="The Idempotency-Key was first used for another event (type, operator, event_data, occur_at)"
    )
    def post(self, headers: dict[str, Any], body: dict[str, Any]) -> Any:
        """Publish one event of a project. ``type`` is one of Harbor's SCANNING_COMPLETED, SCANNING_FAILED,
        SCANNING_STOPPED, QUOTA_EXCEED, QUOTA_WARNING, REPLICATION, TAG_RETENTION and ``event_data`` has the shape
        Harbor's webhooks give it. The project's and the system-wide policies subscribed to the type (and whose
        filters take it) get one hook job per target. An ``Idempotency-Key`` header makes a re-send (a retry after
        a timeout) record nothing and answer 200 with the first event; the same key with another event is refused
        (422)."""
        principal = auth.current()
        owner = project(body["project"])
        occurred = datetime.fromtimestamp(body["occur_at"], UTC) if body.get("occur_at") is not None else None
        outcome = published_events.publish(
            current_broker(),
            project=owner,
            topic=canonical(body["type"]),
            operator=body.get("operator") or principal.name,
            occurred_at=occurred,
            event_data=body["event_data"],
            idempotency_key=headers.get("idempotency_key"),
            request_id=request.headers.get("X-Request-Id", "")[:REQUEST_ID_MAX],
        )
        answer = {"event_id": outcome.event_id, "hook_jobs": outcome.hook_jobs, "duplicate": outcome.duplicate}
        return answer, 200 if outcome.duplicate else 201


blp.add_url_rule("", view_func=Events)
