"""What the receiver keeps of a registry event: the record the filter makes and the recording service takes (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Operation = Literal["push", "pull", "delete"]


@dataclass(frozen=True)
class RegistryAction:
    """One kept registry event, normalised (``""`` for anything the registry left out)."""

    event_id: str
    operation: Operation
    repository: str
    occurred_at: datetime
    username: str = "anonymous"
    tag: str = ""
    digest: str = ""
    media_type: str = ""
    size: int | None = None
    request_id: str = ""
    user_agent: str = ""
    # The Host the client used to reach the registry: the default host of resource URLs.
    registry_host: str = ""
    # False for a manifest pushed by digest alone (a child of an index): recorded, not published.
    publish: bool = True
    # The event as the registry sent it (decoded JSON), kept aside with a reason if it cannot be recorded.
    raw_event: Any = field(default=None, compare=False, repr=False)
