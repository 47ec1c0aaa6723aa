"""The receiver's group commit (app/registry/group_commit.py): who records what, in which transaction, in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from app.registry.group_commit import GroupCommit

WAIT = 10.0


class Recorder:
    """A ``record`` that notes each call's items and, for the first call, waits until released."""

    def __init__(self, fail_on: frozenset[str] = frozenset(), outage_on: frozenset[str] = frozenset()) -> None:
        self.calls: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on
        self.outage_on = outage_on

    def __call__(self, items: Sequence[str]) -> list[str]:
        self.calls.append(list(items))
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(WAIT)
        if self.outage_on & set(items):
            raise ConnectionError("database down")
        if self.fail_on & set(items):
            raise ValueError(f"refused {sorted(self.fail_on & set(items))}")
        return [f"recorded {item}" for item in items]


def submit_all(grouping: GroupCommit[str, str], recorder: Recorder, later: list[str]) -> dict[str, object]:
    """Submit "first" (which holds its transaction open), then ``later`` while it runs; every item's answer."""
    answers: dict[str, object] = {}

    def one(item: str) -> None:
        try:
            answers[item] = grouping.submit(item, 1)
        except Exception as exc:
            answers[item] = exc

    first = threading.Thread(target=one, args=("first",))
    first.start()
    assert recorder.entered.wait(WAIT)
    threads = []
    for item in later:
        thread = threading.Thread(target=one, args=(item,))
        thread.start()
        threads.append(thread)
        # Each later item waits in the queue before the next one comes: the queue's order is known.
        deadline = time.monotonic() + WAIT
        while len(grouping._queue) < len(threads):
            assert time.monotonic() < deadline
            time.sleep(0.001)
    recorder.release.set()
    for thread in [first, *threads]:
        thread.join(WAIT)
    return answers


def test_a_lone_item_is_recorded_at_once_alone() -> None:
    recorder = Recorder()
    recorder.release.set()
    grouping = GroupCommit(recorder)
    assert grouping.submit("only", 1) == "recorded only"
    assert recorder.calls == [["only"]]
    assert (grouping.groups, grouping.grouped) == (1, 0)


def test_items_arriving_during_a_transaction_share_the_next_one_in_arrival_order() -> None:
    recorder = Recorder()
    grouping = GroupCommit(recorder)
    answers = submit_all(grouping, recorder, ["a", "b", "c"])
    assert recorder.calls == [["first"], ["a", "b", "c"]]
    assert answers == {item: f"recorded {item}" for item in ("first", "a", "b", "c")}
    assert (grouping.groups, grouping.grouped) == (2, 3)


def test_a_group_is_bounded_by_items_and_by_events() -> None:
    recorder = Recorder()
    grouping = GroupCommit(recorder, max_items=2)
    submit_all(grouping, recorder, ["a", "b", "c"])
    assert recorder.calls == [["first"], ["a", "b"], ["c"]]

    recorder = Recorder()
    grouping = GroupCommit(recorder, max_size=2)
    submit_all(grouping, recorder, ["a", "b", "c"])
    assert recorder.calls == [["first"], ["a", "b"], ["c"]]


def test_an_item_refused_in_a_group_is_retried_alone_and_only_it_fails() -> None:
    recorder = Recorder(fail_on=frozenset({"b"}))
    grouping = GroupCommit(recorder)
    answers = submit_all(grouping, recorder, ["a", "b", "c"])
    assert recorder.calls == [["first"], ["a", "b", "c"], ["a"], ["b"], ["c"]]
    assert answers["a"] == "recorded a" and answers["c"] == "recorded c"
    assert isinstance(answers["b"], ValueError)


def test_a_shared_error_fails_the_whole_group_without_retries() -> None:
    recorder = Recorder(outage_on=frozenset({"b"}))
    grouping = GroupCommit(recorder, shared_errors=(ConnectionError,))
    answers = submit_all(grouping, recorder, ["a", "b", "c"])
    assert recorder.calls == [["first"], ["a", "b", "c"]]
    assert answers["first"] == "recorded first"
    assert all(isinstance(answers[item], ConnectionError) for item in ("a", "b", "c"))


def test_an_error_of_the_leader_does_not_stop_the_followers() -> None:
    recorder = Recorder(fail_on=frozenset({"first"}))
    grouping = GroupCommit(recorder)
    answers = submit_all(grouping, recorder, ["a"])
    assert isinstance(answers["first"], ValueError)
    assert answers["a"] == "recorded a"


def test_many_threads_each_get_their_own_result() -> None:
    threads = 16
    grouping = GroupCommit(lambda items: [f"recorded {item}" for item in items])
    results: dict[str, str] = {}
    barrier = threading.Barrier(threads)

    def one(n: int) -> None:
        barrier.wait()
        for k in range(50):
            results[f"{n}-{k}"] = grouping.submit(f"{n}-{k}", 1)

    workers = [threading.Thread(target=one, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(WAIT * 3)
    assert results == {f"{n}-{k}": f"recorded {n}-{k}" for n in range(threads) for k in range(50)}
    assert not grouping._queue and not grouping._busy
