"""WEBHOOK_TARGET_DISABLED: record the event, then deliver it to the policies subscribed to it (the project's and the
system-wide ones).

Published by app.services.target_health in the transaction that disables the target, so the event, its hook
jobs and the disabled target commit together.
"""

from __future__ import annotations

from app.broker import Broker, Topic
from app.broker.events import TargetDisabledEvent
from app.notification.hooks import fan_out
from app.services import event_rows
from app.services.event_rows import NewEvent
from app.services.policy_filters import Facts

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
        payload = {
            "type": str(topic),
            "occur_at": int(event.occurred_at.timestamp()),
            "operator": OPERATOR,
            "event_data": data,
        }
        # The project's and the system-wide policies subscribed to it, through their filters (an operator filter
        # of "dockhook" takes exactly these); the target just disabled is skipped with the other disabled ones.
        fan_out(
            broker,
            row=row,
            project_id=event.project_id,
            event_type=str(topic),
            facts=Facts(operator=OPERATOR),
            payload=lambda: payload,
        )

    return handle_target_disabled
