"""Group commit for the receiver: notifications arriving together in one process share one transaction.

Each request still answers only after its own events are committed (DESIGN §2: commit before the answer and before
the enqueue). What is shared is the cost of a transaction: its reads (dedupe, projects, repositories, artifacts,
policies), its bulk writes and its commit, which are the same few statements for one envelope or for several. The
first request to find no transaction running becomes the *leader*: it takes every envelope waiting at that moment
(its own included, in arrival order, up to the limits below), records them in one transaction, enqueues their hook
jobs after the commit, and hands each waiting request its own outcome. Nothing waits for company: a request that
arrives alone is recorded at once, alone (no added latency), and a request arriving while a transaction runs waits
for it to end, then goes in the next one.

docker/distribution sends one notification at a time per endpoint, so one registry's envelopes are never grouped
with each other and their order is kept; what gets grouped is several registries (or several receivers' retries).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# A group is at most this many envelopes, and at most this many events unless its first envelope alone has more
# (the 1 MiB envelope is recorded alone, as before): the transaction's work stays bounded.
MAX_ENVELOPES = 32
MAX_EVENTS = 2000


@dataclass
class _Waiting(Generic[T, R]):
    item: T
    size: int
    result: R | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class GroupCommit(Generic[T, R]):
    """Leader/follower grouping of ``record(items) -> results`` (one result per item, in order).

    ``record`` runs on the leader's thread, in its request's app context. Should it raise for a group of several,
    each item is recorded on its own (so an error is its own item's, never a neighbour's); an error of a lone item
    is raised in that item's request.
    """

    record: Callable[[Sequence[T]], list[R]]
    # Errors that are the group's, not an item's (the database is down): every item of the group gets it.
    shared_errors: tuple[type[BaseException], ...] = ()
    max_items: int = MAX_ENVELOPES
    max_size: int = MAX_EVENTS
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _queue: list[_Waiting[T, R]] = field(default_factory=list)
    _busy: bool = False
    groups: int = 0  # transactions run (for tests and the benchmark: how much grouping happened)
    grouped: int = 0  # items recorded in a group of more than one

    def submit(self, item: T, size: int) -> R:
        """Record ``item`` (``size``: its events), alone or with others waiting now; its result once committed."""
        mine: _Waiting[T, R] = _Waiting(item, size)
        with self._cond:
            self._queue.append(mine)
        while True:
            with self._cond:
                while self._busy and not mine.done:
                    self._cond.wait()
                if mine.done:
                    break
                self._busy = True
                group = self._take()
            try:
                self._run(group)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]

    def _take(self) -> list[_Waiting[T, R]]:
        group = [self._queue.pop(0)]
        size = group[0].size
        while self._queue and len(group) < self.max_items and size + self._queue[0].size <= self.max_size:
            size += self._queue[0].size
            group.append(self._queue.pop(0))
        return group

    def _run(self, group: list[_Waiting[T, R]]) -> None:
        self.groups += 1
        try:
            results = self.record([waiting.item for waiting in group])
        except BaseException as exc:
            if len(group) == 1 or isinstance(exc, self.shared_errors):
                for waiting in group:
                    waiting.error = exc
                    waiting.done = True
                return
            for waiting in group:
                self._run_alone(waiting)
            return
        if len(group) > 1:
            self.grouped += len(group)
        for waiting, result in zip(group, results, strict=True):
            waiting.result = result
            waiting.done = True

    def _run_alone(self, waiting: _Waiting[T, R]) -> None:
        try:
            (waiting.result,) = self.record([waiting.item])
        except BaseException as exc:
            waiting.error = exc
        waiting.done = True
