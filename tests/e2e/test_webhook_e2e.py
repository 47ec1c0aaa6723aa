"""End to end: registry notifications become webhooks through real processes only.

Dockhook under real gunicorn, a real Redis, a real ``python worker.py`` and real HTTP(S) sinks on
127.0.0.1; policies are created through the HTTP API, the captured push of
``library/alpine:3.19`` is replayed byte for byte to ``/service/notifications``, and what happened
is read back from the sinks and from the hook-job API. The in-process version of these checks is
tests/integration/test_delivery.py.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import Queue

from tests.e2e.conftest import DELIVERY_TIMEOUT, Dockhook, RedisServer, StartDockhook
from tests.support import processes, replay
from tests.support.sinks import Received, Reply, Sink, closed_port_url, tls_context

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

PUSH = "push_oci_alpine_3.19"
CONTROL_PUSH = "push_v2s2_busybox_1.36"
ALPINE = "sha256:6e0801e933911f55adeb296638b421b3365c8d9b85dff219f74eb2d5d52add99"
SECRET = "Bearer e2e-secret"
READ_TIMEOUT = 1.0


@pytest.fixture
def dockhook_settings() -> dict[str, str]:
    """The captured fixtures' token; for the worker (it is what sends) short HTTP timeouts and no
    retries: these tests are about one attempt (retries and the sweeper have their own tests)."""
    return {
        "DOCKHOOK_NOTIFY_TOKEN": replay.TOKEN,
        "DOCKHOOK_HTTP_READ_TIMEOUT": str(READ_TIMEOUT),
        "DOCKHOOK_HTTP_CONNECT_TIMEOUT": "1",
        "DOCKHOOK_RETRY_SCHEDULE": "none",
    }


@pytest.fixture
def https_sink(tmp_path: Path) -> Iterator[Sink]:
    server = Sink(tls=tls_context(tmp_path))
    yield server
    server.close()


def push(dockhook: Dockhook) -> list[Any]:
    """Replay the captured push (2 blobs, then the manifest); every POST must be answered 200."""
    answers = [dockhook.notify(d) for d in replay.deliveries(PUSH)]
    assert [status for status, _ in answers] == [200, 200, 200], answers
    return [body for _, body in answers]


def received(sink: Sink, count: int, *watch: processes.Process) -> list[Received]:
    """Wait (bounded) until ``sink`` got ``count`` requests; fail with the processes' logs otherwise."""
    got = sink.wait_for(count, timeout=DELIVERY_TIMEOUT)
    logs = "\n".join(p.log_tail() for p in watch)
    assert len(got) >= count, f"sink got {len(got)} requests, expected {count}\n{logs}"
    return got


def test_a_pushed_artifact_is_delivered_once_with_harbor_payload_and_recorded(
    dockhook: Dockhook, worker: processes.Process, sink: Sink
) -> None:
    dockhook.create_project("library")
    dockhook.create_policy("library", "ci", [{"address": sink.url, "auth_header": SECRET}])

    before = int(time.time())
    push(dockhook)
    (request,) = received(sink, 1, dockhook.process, worker)
    after = int(time.time())

    assert (request.method, request.path) == ("POST", "/hook")
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == SECRET
    assert headers["user-agent"].startswith("Dockhook/")
    hook_id = headers["webhook-id"]
    assert str(uuid.UUID(hook_id)) == hook_id
    assert before <= int(headers["webhook-timestamp"]) <= after

    payload = json.loads(request.body)
    assert payload["type"] == "PUSH_ARTIFACT"
    (manifest_event,) = replay.deliveries(PUSH)[-1].events()
    assert isinstance(payload["occur_at"], int)
    assert payload["occur_at"] == int(datetime.fromisoformat(manifest_event["timestamp"]).timestamp())
    assert payload["operator"] == ""
    (resource,) = payload["event_data"]["resources"]
    assert resource == {"digest": ALPINE, "tag": "3.19", "resource_url": "127.0.0.1:36851/library/alpine:3.19"}
    repository = payload["event_data"]["repository"]
    assert {k: repository[k] for k in ("name", "namespace", "repo_full_name", "repo_type")} == {
        "name": "alpine",
        "namespace": "library",
        "repo_full_name": "library/alpine",
        "repo_type": "private",
    }

    # The worker records the attempt after the sink answered: poll the job until it is final.
    job = dockhook.wait_job(hook_id, watch=[worker])
    assert (job["uuid"], job["status"], job["attempt_count"], job["last_status_code"]) == (hook_id, "success", 1, 200)
    assert (job["event_type"], job["notify_type"], job["policy_name"]) == ("PUSH_ARTIFACT", "http", "ci")
    (attempt,) = job["attempts"]
    assert (attempt["number"], attempt["status_code"], attempt["outcome"], attempt["error_class"]) == (
        1,
        200,
        "success",
        "",
    )
    assert attempt["response_body"] == "ok"
    assert job["payload"] == payload, "the API shows the payload that was sent"
    # The secret went on the wire only: the job keeps no credential, and the API shows none.
    assert "auth_header" not in job["target"]
    for path in (f"/api/v2.0/hook-jobs/{hook_id}", "/api/v2.0/projects/library/webhook/hook-jobs"):
        status, _, raw = processes.http_request(dockhook.url + path)
        assert status == 200 and b"e2e-secret" not in raw, path

    dockhook.drain_and_stop(worker)
    assert len(sink.received) == 1, "delivered exactly once"
    assert [j["uuid"] for j in dockhook.hook_jobs("library")] == [hook_id]


def test_self_signed_https_fails_with_tls_error_unless_skip_cert_verify(
    dockhook: Dockhook, worker: processes.Process, https_sink: Sink
) -> None:
    dockhook.create_project("library")
    # Verified before and after the unverified one: the worker delivers them in this order, and an
    # unverified keep-alive connection to the same host must not carry the later verified delivery.
    dockhook.create_policy("library", "verify", [{"address": https_sink.url, "skip_cert_verify": False}])
    dockhook.create_policy("library", "skip", [{"address": https_sink.url, "skip_cert_verify": True}])
    dockhook.create_policy("library", "verify-after-skip", [{"address": https_sink.url, "skip_cert_verify": False}])
    push(dockhook)

    jobs = {j["policy_name"]: dockhook.hook_job(j["uuid"]) for j in dockhook.wait_final("library", 3, watch=[worker])}
    for name in ("verify", "verify-after-skip"):
        job = jobs[name]
        assert (job["status"], job["attempt_count"], job["last_status_code"]) == ("error", 1, None), job
        (attempt,) = job["attempts"]
        assert (attempt["status_code"], attempt["error_class"], attempt["outcome"]) == (None, "tls_error", "error")
    skip = jobs["skip"]
    assert (skip["status"], [a["status_code"] for a in skip["attempts"]]) == ("success", [200])

    dockhook.drain_and_stop(worker)
    assert [r.headers["webhook-id"] for r in https_sink.received] == [skip["uuid"]], "nothing from verify policies"


def test_three_policies_with_two_targets_fan_out_to_six_deliveries(
    dockhook: Dockhook, worker: processes.Process
) -> None:
    first, second = Sink(), Sink()
    try:
        dockhook.create_project("library")
        for name in ("a", "b", "c"):
            dockhook.create_policy("library", name, [{"address": first.url}, {"address": second.url}])
        push(dockhook)

        jobs = dockhook.wait_final("library", 6, watch=[worker])
        assert [j["status"] for j in jobs] == ["success"] * 6, [(j["policy_name"], j["last_error"]) for j in jobs]
        assert sorted(j["policy_name"] for j in jobs) == ["a", "a", "b", "b", "c", "c"]
        dockhook.drain_and_stop(worker)
        assert (len(first.received), len(second.received)) == (3, 3)
        ids = [r.headers["webhook-id"] for r in first.received + second.received]
        assert len(set(ids)) == 6
        assert set(ids) == {j["uuid"] for j in jobs}
        # Each sink got one delivery of each policy.
        by_id = {j["uuid"]: j["policy_name"] for j in jobs}
        for server in (first, second):
            assert sorted(by_id[r.headers["webhook-id"]] for r in server.received) == ["a", "b", "c"]
    finally:
        first.close()
        second.close()


def test_failing_targets_end_in_error_with_the_failure_class(dockhook: Dockhook, worker: processes.Process) -> None:
    failing, slow = Sink(), Sink()
    failing.respond = lambda _: Reply(status=500, body=b"boom")
    slow.respond = lambda _: Reply(delay=READ_TIMEOUT + 1.5)
    try:
        dockhook.create_project("library")
        dockhook.create_policy("library", "status-500", [{"address": failing.url}])
        dockhook.create_policy("library", "refused", [{"address": closed_port_url()}])
        dockhook.create_policy("library", "slow", [{"address": slow.url}])
        push(dockhook)

        jobs = {
            j["policy_name"]: dockhook.hook_job(j["uuid"]) for j in dockhook.wait_final("library", 3, watch=[worker])
        }
        expected = {
            "status-500": (500, "http_status"),
            "refused": (None, "connection_refused"),
            "slow": (None, "read_timeout"),
        }
        for name, (status_code, error_class) in expected.items():
            job = jobs[name]
            assert (job["status"], job["attempt_count"], job["last_status_code"]) == ("error", 1, status_code), job
            (attempt,) = job["attempts"]
            assert (attempt["status_code"], attempt["error_class"], attempt["outcome"]) == (
                status_code,
                error_class,
                "error",
            ), (name, attempt)
            assert job["last_error"], name
        assert jobs["status-500"]["attempts"][0]["response_body"] == "boom"
        assert READ_TIMEOUT * 1000 <= jobs["slow"]["attempts"][0]["duration_ms"] < (READ_TIMEOUT + 1.5) * 1000

        dockhook.drain_and_stop(worker)
        assert len(failing.received) == 1, "one attempt: retries are off here"
        assert len(slow.received) == 1, "one attempt: retries are off here"
    finally:
        failing.close()
        slow.close()


def test_redis_down_answers_200_and_leaves_the_hook_job_pending(
    start_dockhook: StartDockhook,
    start_redis: Callable[[], RedisServer],
    dockhook_settings: dict[str, str],
    sink: Sink,
) -> None:
    own_redis = start_redis()
    dockhook = start_dockhook(redis_url=own_redis.url, **dockhook_settings)
    dockhook.create_project("library")
    dockhook.create_policy("library", "ci", [{"address": sink.url}])

    # Control: while this Redis is up, gunicorn enqueues into it (so the rest is not a missing REDIS_URL).
    answers = [dockhook.notify(d) for d in replay.deliveries(CONTROL_PUSH)]
    assert [status for status, _ in answers] == [200, 200, 200], answers
    (control,) = dockhook.hook_jobs("library")
    connection = redis.Redis.from_url(own_redis.url)
    try:
        assert Queue("hooks", connection=connection).job_ids == [control["uuid"]]
    finally:
        connection.close()

    own_redis.stop()
    assert not own_redis.process.running()
    bodies = push(dockhook)
    assert bodies[-1]["recorded"] == 1, bodies

    # No worker runs here, so the control job is pending too (it is in the stopped Redis's queue).
    pending = dockhook.hook_jobs("library", "pending")
    assert [j["uuid"] for j in pending[:1]] == [control["uuid"]] and len(pending) == 2, pending
    job = pending[1]
    assert job["payload"]["event_data"]["repository"]["repo_full_name"] == "library/alpine"
    assert (job["status"], job["attempt_count"], job["policy_name"]) == ("pending", 0, "ci")
    assert dockhook.hook_job(job["uuid"])["attempts"] == []
    assert len(dockhook.hook_jobs("library")) == 2
    assert sink.received == []
