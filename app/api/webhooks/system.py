"""System-wide webhook policies, at ``/api/v2.0/webhook/policies`` (system administrators only): the same policy
object as a project's, without a project, matched against every project's events (filters narrow them)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Response, request
from flask.views import MethodView

from app.api import auth, paging
from app.api.base import ID, HarborBlueprint, created
from app.api.webhooks.schemas import (
    TEST_EXAMPLE,
    PolicyBodySchema,
    PolicyListArgs,
    PolicySchema,
    TargetTestSchema,
    shown,
)
from app.api.webhooks.views import TESTED
from app.services import policies, target_tests, webhook_lists
from app.services.policies import PolicyInput

blp = HarborBlueprint(
    "system_webhooks",
    __name__,
    url_prefix="/api/v2.0/webhook",
    description="System-wide webhook policies (Dockhook extension): one policy for the events of every project. "
    "System administrators only.",
)

EXAMPLE = {
    "name": "security-team",
    "description": "every scan of every project",
    "enabled": True,
    "event_types": ["SCANNING_COMPLETED", "SCANNING_FAILED"],
    "targets": [{"type": "http", "address": "https://security.example.com/hooks", "payload_format": "CloudEvents"}],
    "filters": {"repositories": ["*/frontend", "team-a/**"]},
}


class SystemPolicies(MethodView):
    @blp.arguments(PolicyListArgs, location="query")
    @blp.response(200, PolicySchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """List the system-wide webhook policies (``project_id`` null), newest first unless ``sort`` says (paged);
        credentials masked."""
        rows, total = webhook_lists.policies(None, args["page"], args["page_size"], args["q"], args["sort"])
        return [shown(p) for p in rows], paging.headers(total, args["page"], args["page_size"])

    @blp.arguments(PolicyBodySchema, example=EXAMPLE)
    @blp.response(201, description="Created; ``Location`` names the policy; no body")
    @blp.alt_response(400, description="Invalid policy")
    @blp.alt_response(409, description="A system-wide policy of this name exists")
    def post(self, body: PolicyInput) -> Any:
        """Create a system-wide webhook policy: it receives the subscribed events of every project, as far as its
        filters let them through. Its hook jobs belong to no project: only system administrators see them."""
        principal = auth.current()
        if principal.kind != "open":
            body = replace(body, creator=principal.name)
        policy = policies.create(None, body)
        return created(f"{request.path.rstrip('/')}/{policy.id}")


class SystemPolicy(MethodView):
    @blp.response(200, PolicySchema)
    @blp.alt_response(404, description="No such system-wide policy")
    def get(self, webhook_policy_id: int) -> Any:
        """Read one system-wide webhook policy; credentials masked."""
        return shown(policies.get(None, webhook_policy_id))

    @blp.arguments(PolicyBodySchema, example=EXAMPLE)
    @blp.response(200, description="Updated")
    @blp.alt_response(400, description="Invalid policy")
    @blp.alt_response(404, description="No such system-wide policy")
    @blp.alt_response(409, description="Another system-wide policy has this name")
    def put(self, body: PolicyInput, webhook_policy_id: int) -> Any:
        """Replace the system-wide policy, as a project policy's PUT does (masked credentials kept, filters kept
        when omitted)."""
        policies.update(None, webhook_policy_id, body)
        return Response(status=200)

    @blp.response(200, description="Deleted")
    @blp.alt_response(404, description="No such system-wide policy")
    def delete(self, webhook_policy_id: int) -> Any:
        """Delete the system-wide policy; its unsent hook jobs are stopped, the others kept as history."""
        policies.delete(None, webhook_policy_id)
        return Response(status=200)


class SystemTargetTest(MethodView):
    @blp.response(200, TargetTestSchema, example=TEST_EXAMPLE)
    @blp.alt_response(404, description="No such system-wide policy, or no target at that index")
    @blp.alt_response(429, description="More than 10 tests of this policy within the minute; Retry-After says when")
    def post(self, webhook_policy_id: int, target_index: int) -> Any:
        """Test one target of a system-wide policy."""
        policy = policies.get(None, webhook_policy_id)
        return target_tests.run_saved(policy, target_index, auth.current().name)


SystemTargetTest.post.__doc__ = f"{SystemTargetTest.post.__doc__} {TESTED}"

blp.add_url_rule("/policies", view_func=SystemPolicies)
blp.add_url_rule(f"/policies/<{ID}:webhook_policy_id>/targets/<{ID}:target_index>/test", view_func=SystemTargetTest)
blp.add_url_rule(f"/policies/<{ID}:webhook_policy_id>", view_func=SystemPolicy)
