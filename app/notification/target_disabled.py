"""WEBHOOK_TARGET_DISABLED: record the event, then deliver it to the project's policies subscribed to it.

Published by app.services.target_health in the transaction that disables the target, so the event, its hook
jobs and the disabled target commit together.
"""

from __future__ import annotations

from app.broker import Broker, Topic
from app.broker.events import TargetDisabledEvent
from app.notification.hooks import HookEvent
from app.services import configurations, event_rows, policies
from app.services.event_rows import NewEvent

OPERATOR = "dockhook"


def make_handler(broker: Broker):  # type: ignore[no-untyped-def]
    """The WEBHOOK_TARGET_DISABLED handler, publishing its hook events on ``broker``."""

    def handle_target_disabled(topic: Topic, event: TargetDisabledEvent) -> None:
        data = event.data()
        row = event_rows.add(
            NewEvent(
                type=str(topic),
                project_id=event.project_id,
                repository="",
                operator=OPERATOR,
                occurred_at=event.occurred_at,
                data=data,
                registry_event_id=None,
                registry_request_id="",
            )
        )
        if not configurations.notification_enabled():
            return
        payload = {
            "type": str(topic),
            "occur_at": int(event.occurred_at.timestamp()),
            "operator": OPERATOR,
            "event_data": data,
        }
        for policy in policies.matching(event.project_id, str(topic)):
            for index, target in enumerate(policy.targets):
                if target.get("disabled"):
                    continue  # the target just disabled among them: it would fail anyway
                hook = HookEvent(
                    event=row,
                    project_id=event.project_id,
                    policy=policy,
                    target_index=index,
                    target=target,
                    event_type=str(topic),
                    payload=payload,
                )
                broker.publish(str(target.get("type", "http")), hook)

    return handle_target_disabled
