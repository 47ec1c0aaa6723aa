"""Test a policy's targets: one ``ping`` per target, sent by a worker through the delivery sender (SSRF guard,
auth header, signature), the answer awaited at most WAIT seconds. At most TESTS_PER_MINUTE per policy.

A test makes no hook job and no attempt row: its answer is the record (it is not a delivery of an event, and
the delivery history stays the history of events). Nothing is written to the database.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app import clock, queue, redact
from app.extensions import current_settings
from app.models import WebhookPolicy
from app.models.hook_job import new_uuid
from app.payloads import cloudevents_payload, serialise, slack_payload, template
from app.payloads.chat import CHAT_TYPES, chat_payload
from app.payloads.formats import CLOUDEVENTS_CONTENT_TYPE, JSON_CONTENT_TYPE, PING
from app.services import policies
from app.services.errors import RateLimited

TESTS_PER_MINUTE = 10
WINDOW = 60
WAIT = 5.0
# The job's own bound on a worker (RQ kills it past this): well above the sender's 2 s + 2.5 s.
JOB_TIMEOUT = 30
# Workers beat every 10 s (worker.py); none within this many seconds means none would take a test.
WORKER_SILENCE = 30.0


@dataclass(frozen=True)
class TargetTest:
    """One target's test: what came back (``ok``: a 2xx), how long it took, and the start of the answer's body."""

    index: int
    type: str
    address: str  # masked as everywhere in the API
    ok: bool
    status_code: int | None
    latency_ms: int | None
    body_excerpt: str
    error_class: str
    error_message: str
    webhook_id: str


def run_saved(policy: WebhookPolicy, target_index: int, operator: str) -> TargetTest:
    """Test the target at ``target_index`` of a saved ``policy`` (a project's or a system-wide one); the rate
    limit counts per policy. Raises NotFound for no such target, RateLimited as :func:`run`."""
    (result,) = run(
        scope=f"policy:{policy.id}",
        targets=[(target_index, policies.target_of(policy, target_index))],
        policy_id=policy.id,
        policy_name=policy.name,
        project_id=policy.project_id,
        operator=operator,
    )
    return result


def run(
    *,
    scope: str,
    targets: Sequence[tuple[int, dict[str, Any]]],
    policy_id: int | None,
    policy_name: str,
    project_id: int | None,
    operator: str,
) -> list[TargetTest]:
    """Test each ``(index, stored target)``; ``scope`` names the rate limit's counter (the policy, or the project
    for a policy not saved yet). Raises RateLimited (nothing sent) past TESTS_PER_MINUTE tests per scope."""
    settings = current_settings()
    url = settings.redis_url
    if url is None:
        return [
            _unrun(i, t, "queue_unavailable", "no Redis is configured: tests are sent by the workers")
            for i, t in targets
        ]
    try:
        wait = queue.take_quota(url, f"target-test:{scope}", TESTS_PER_MINUTE, WINDOW, cost=len(targets))
        if wait:
            raise RateLimited(
                f"at most {TESTS_PER_MINUTE} target tests per policy per minute; try again in {wait} s", wait
            )
        if not any(b.kind == "worker" and b.age <= WORKER_SILENCE for b in queue.heartbeats(url)):
            return [_unrun(i, t, "no_worker", "no worker is running: nothing was sent") for i, t in targets]
    except queue.QueueUnavailable:
        return [_unrun(i, t, "queue_unavailable", "Redis did not answer: nothing was sent") for i, t in targets]
    deadline = time.monotonic() + WAIT
    results = []
    for index, target in targets:
        try:
            body, content_type = ping_body(target, policy_id, policy_name, project_id, operator, index)
        except template.TemplateError as exc:
            results.append(_unrun(index, target, "template_error", f"the template {exc}: nothing was sent"))
            continue
        hook_id = new_uuid()
        try:
            waited = queue.run_and_wait(
                url,
                queue.TEST_TARGET,
                (target, body, content_type, hook_id),
                max(0.0, deadline - time.monotonic()),
                JOB_TIMEOUT,
            )
        except queue.QueueUnavailable:
            results.append(_unrun(index, target, "queue_unavailable", "Redis did not answer: nothing was sent"))
            continue
        results.append(_result(index, target, hook_id, waited))
    return results


def ping_body(
    target: dict[str, Any], policy_id: int | None, policy_name: str, project_id: int | None, operator: str, index: int
) -> tuple[str, str]:
    """The ping in the target's format: Default (``type: PING``), CloudEvents (``dockhook.ping``), the target's
    template, Slack or a chat message. Raises template.TemplateError when the target's template fails on it."""
    default = {
        "type": PING,
        "occur_at": int(clock.now().timestamp()),
        "operator": operator,
        "event_data": {
            "message": "Dockhook test of a webhook target: no event happened",
            "policy": {"id": policy_id, "name": policy_name},
            "target_index": index,
        },
    }
    if target.get("type") == "slack":
        return serialise(slack_payload(default)), JSON_CONTENT_TYPE
    if target.get("type") in CHAT_TYPES:
        return serialise(chat_payload(str(target["type"]), default)), JSON_CONTENT_TYPE
    if target.get("payload_format") == "Template":
        content_type = str(target.get("content_type") or JSON_CONTENT_TYPE)
        return template.render(str(target.get("template") or ""), default), content_type
    if target.get("payload_format") == "CloudEvents":
        document = cloudevents_payload(default, event_id=new_uuid(), project_id=project_id, policy_id=policy_id or 0)
        return serialise(document), CLOUDEVENTS_CONTENT_TYPE
    return serialise(default), JSON_CONTENT_TYPE


def _shown(target: dict[str, Any]) -> tuple[str, str]:
    kind = str(target.get("type", "http"))
    return kind, redact.address(str(target.get("address", "")), kind)


def _unrun(index: int, target: dict[str, Any], error_class: str, message: str) -> TargetTest:
    kind, address = _shown(target)
    return TargetTest(index, kind, address, False, None, None, "", error_class, message, "")


def _result(index: int, target: dict[str, Any], hook_id: str, waited: queue.Waited) -> TargetTest:
    kind, address = _shown(target)
    if waited.outcome == "timeout":
        message = f"no answer within {WAIT:.0f} s (the workers are busy, or the target is slow)"
        return TargetTest(index, kind, address, False, None, None, "", "timeout", message, hook_id)
    if waited.outcome != "done" or not isinstance(waited.value, dict):
        return TargetTest(
            index,
            kind,
            address,
            False,
            None,
            None,
            "",
            "worker_error",
            "the test failed on the worker; see its log",
            hook_id,
        )
    value = waited.value
    code = value.get("status_code")
    ok = code is not None and 200 <= code < 300 and not value.get("error_class")
    return TargetTest(
        index,
        kind,
        address,
        ok,
        code,
        value.get("duration_ms"),
        str(value.get("response_body") or ""),
        str(value.get("error_class") or ""),
        str(value.get("error_message") or ""),
        hook_id,
    )
