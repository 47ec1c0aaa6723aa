"""Webhook policies of a project, served at ``/api/v2.0/projects/{project_name_or_id}/webhook`` and at
Harbor 1.x's ``/api/projects/{project_id}/webhook``: the same view classes on two blueprints."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Response, request
from flask.views import MethodView

from app import clock
from app.api import auth, paging
from app.api.base import ID, RESOURCE_NAME_PARAMETER, HarborBlueprint, created, project
from app.api.webhooks.schemas import (
    TEST_EXAMPLE,
    LastTriggerSchema,
    PolicyBodySchema,
    PolicyListArgs,
    PolicySchema,
    PolicyTestBodySchema,
    PolicyTestSchema,
    SupportedEventsSchema,
    TargetTestSchema,
    shown,
)
from app.broker.topics import EVENT_TYPES
from app.services import policies, target_health, target_tests, webhook_lists
from app.services.policies import PAYLOAD_FORMATS, TARGET_TYPES, PolicyInput

blp = HarborBlueprint(
    "webhooks",
    __name__,
    url_prefix="/api/v2.0/projects/<project_name_or_id>/webhook",
    description="Webhook policies of a project",
)
blp_v1 = HarborBlueprint(
    "webhooks_v1",
    __name__,
    url_prefix=f"/api/projects/<{ID}:project_id>/webhook",
    description="Webhook policies of a project, Harbor 1.x paths (same handlers)",
)


@blp_v1.url_value_preprocessor
def _project_id_as_name_or_id(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # The views take ``project_name_or_id``; the 1.x rule names the same thing ``project_id``.
    if values is not None and "project_id" in values:
        values["project_name_or_id"] = str(values.pop("project_id"))


class Policies(MethodView):
    @blp.arguments(PolicyListArgs, location="query")
    @blp.response(200, PolicySchema(many=True))
    @blp.alt_response(404, description="Unknown project")
    def get(self, args: dict[str, Any], project_name_or_id: str) -> Any:
        """List the project's webhook policies, newest first unless ``sort`` says (paged); auth headers masked;
        each target with its health."""
        rows, total = webhook_lists.policies(
            project(project_name_or_id), args["page"], args["page_size"], args["q"], args["sort"]
        )
        health = target_health.for_policies(rows, clock.now())
        return [shown(p, health) for p in rows], paging.headers(total, args["page"], args["page_size"])

    @blp.arguments(PolicyBodySchema)
    @blp.response(201, description="Created; ``Location`` names the policy; no body")
    @blp.alt_response(400, description="Invalid policy")
    @blp.alt_response(404, description="Unknown project")
    @blp.alt_response(409, description="The project has a policy of this name")
    def post(self, body: PolicyInput, project_name_or_id: str) -> Any:
        """Create a webhook policy in the project; its ``creator`` is the account that signed in (the body's
        ``creator`` is kept only on an API without credentials, as Harbor 2.3+ keeps what the client sends)."""
        principal = auth.current()
        if principal.kind != "open":
            body = replace(body, creator=principal.name)
        policy = policies.create(project(project_name_or_id), body)
        return created(f"{request.path.rstrip('/')}/{policy.id}")


class Policy(MethodView):
    @blp.response(200, PolicySchema)
    @blp.alt_response(404, description="Unknown project, or no such policy in it")
    def get(self, project_name_or_id: str, webhook_policy_id: int) -> Any:
        """Read one webhook policy; auth headers masked; each target with its health (last success and failure,
        consecutive failures, success rate over the last 24 hours)."""
        return shown(policies.get(project(project_name_or_id), webhook_policy_id))

    @blp.arguments(PolicyBodySchema)
    @blp.response(200, description="Updated")
    @blp.alt_response(400, description="Invalid policy")
    @blp.alt_response(404, description="Unknown project, or no such policy in it")
    @blp.alt_response(409, description="The project has another policy of this name")
    def put(self, body: PolicyInput, project_name_or_id: str, webhook_policy_id: int) -> Any:
        """Replace the policy; ``creator`` and ``creation_time`` are kept. A masked ``auth_header`` or ``secret``
        keeps the stored one of the target at the same index with the same address, and the masked address the
        API shows keeps the stored address. A new ``secret`` keeps the old one signing during the overlap."""
        policies.update(project(project_name_or_id), webhook_policy_id, body)
        return Response(status=200)

    @blp.response(200, description="Deleted")
    @blp.alt_response(404, description="Unknown project, or no such policy in it")
    def delete(self, project_name_or_id: str, webhook_policy_id: int) -> Any:
        """Delete the policy; its hook jobs are kept as history."""
        policies.delete(project(project_name_or_id), webhook_policy_id)
        return Response(status=200)


class Events(MethodView):
    @blp.response(200, SupportedEventsSchema)
    @blp.alt_response(404, description="Unknown project")
    def get(self, project_name_or_id: str) -> Any:
        """The event types, notify types and payload formats a policy may use."""
        project(project_name_or_id)
        return {
            "event_type": [t.value for t in EVENT_TYPES],
            "notify_type": list(TARGET_TYPES),
            "payload_formats": [{"notify_type": "http", "formats": list(PAYLOAD_FORMATS)}],
        }


class LastTrigger(MethodView):
    @blp.response(200, LastTriggerSchema(many=True))
    @blp.alt_response(404, description="Unknown project")
    def get(self, project_name_or_id: str) -> Any:
        """Per (policy, event type): when a hook job was last created for it (absent if never)."""
        return policies.last_triggers(project(project_name_or_id))


TESTED = (
    'Sends one ``ping`` (Default ``{"type": "PING", ...}``, CloudEvents ``dockhook.ping`` or a Slack '
    "message, as the target's format says) from a worker, through the same sender, SSRF guard, auth header and "
    "signature as deliveries, and waits at most 5 s for the answer. Makes no hook job (nothing is recorded). At "
    "most 10 tests per policy per minute (429 with Retry-After after)."
)


class TargetTest(MethodView):
    @blp.response(200, TargetTestSchema, example=TEST_EXAMPLE)
    @blp.alt_response(404, description="Unknown project, no such policy in it, or no target at that index")
    @blp.alt_response(429, description="More than 10 tests of this policy within the minute; Retry-After says when")
    def post(self, project_name_or_id: str, webhook_policy_id: int, target_index: int) -> Any:
        """Test one target of a saved policy (also a disabled one, before re-enabling it)."""
        policy = policies.get(project(project_name_or_id), webhook_policy_id)
        return target_tests.run_saved(policy, target_index, auth.current().name)


class PolicyTest(MethodView):
    @blp.arguments(PolicyTestBodySchema)
    @blp.response(200, PolicyTestSchema, example={"targets": [TEST_EXAMPLE]})
    @blp.alt_response(400, description="Invalid targets (a denied address, a bad URL, a masked credential)")
    @blp.alt_response(404, description="Unknown project")
    @blp.alt_response(429, description="More than 10 tests in this project within the minute; Retry-After says when")
    def post(self, body: dict[str, Any], project_name_or_id: str) -> Any:
        """Test the targets of a policy before saving it (Harbor 1.x's ``POST .../policies/test``; answers the
        outcome of each target, 200 also when a target failed). The targets are checked as a save checks them."""
        owner = project(project_name_or_id)
        stored = policies.validate_targets(body["targets"])
        results = target_tests.run(
            scope=f"project:{owner.id}",
            targets=list(enumerate(stored)),
            policy_id=None,
            policy_name=body["name"],
            project_id=owner.id,
            operator=auth.current().name,
        )
        return {"targets": results}


TargetTest.post.__doc__ = f"{TargetTest.post.__doc__} {TESTED}"
PolicyTest.post.__doc__ = f"{PolicyTest.post.__doc__} {TESTED}"

ROUTES: tuple[tuple[str, type[MethodView]], ...] = (
    ("/policies", Policies),
    ("/policies/test", PolicyTest),
    (f"/policies/<{ID}:webhook_policy_id>", Policy),
    (f"/policies/<{ID}:webhook_policy_id>/targets/<{ID}:target_index>/test", TargetTest),
    ("/events", Events),
    ("/lasttrigger", LastTrigger),
)

for _rule, _view in ROUTES:
    blp.add_url_rule(_rule, view_func=_view, parameters=[RESOURCE_NAME_PARAMETER])
    blp_v1.add_url_rule(_rule, view_func=_view)
