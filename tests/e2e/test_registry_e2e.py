"""End to end: real skopeo pushes, pulls, inspects and deletes on a real docker-registry that notifies
Dockhook under real gunicorn; Dockhook's HTTP API and events table must show exactly what happened,
and a webhook policy on ``library`` (created through the API) must get exactly the matching
webhooks from a real RQ worker (``python worker.py``) through a real Redis.

No mocks: the image is an OCI layout built offline (scripts/oci_image.py), every process runs on
127.0.0.1, and each step waits (bounded) until the registry's notification queue is empty.

Manifest pulls of ``library/e2e`` (measured one step at a time below; blob GETs and HEADs are
pull events too, but Dockhook drops them):

* ``skopeo copy docker://…:1.0 oci:…``: one manifest GET by tag -> a pull with tag ``1.0``;
* ``skopeo inspect docker://…:1.0``: one manifest GET by tag (plus the config blob) -> tag ``1.0``;
* ``skopeo delete docker://…@digest``: GETs the manifest by digest first -> a pull without tag.

So ``pull_count`` is 3. The push of ``team-x/app:2.0`` HEADs blobs (and may mount them) but
GETs no manifest, so it adds no pull; ``team-x`` has no policy, so it yields no webhook.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import create_engine, text

from scripts import oci_image
from tests.e2e.conftest import SKOPEO_BIN, clean_env, missing_tools
from tests.support.sinks import Received, Sink

if TYPE_CHECKING:
    from tests.e2e.conftest import Dockhook, Registry
    from tests.support.processes import Process

_MISSING = missing_tools()

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(60),
    pytest.mark.skipif(
        bool(_MISSING),
        reason=f"end-to-end test needs {' and '.join(_MISSING)} on PATH (apt-get install docker-registry skopeo)",
    ),
]

SKOPEO_TIMEOUT = 30
WEBHOOK_TIMEOUT = 15
PUSH, PULL, DELETE = "PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"


def skopeo(*args: str) -> str:
    """Run skopeo with a bounded timeout; return its stdout, or fail with its output."""
    argv = [shutil.which(SKOPEO_BIN) or SKOPEO_BIN, *args]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=SKOPEO_TIMEOUT, env=clean_env())
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{' '.join(argv)} took over {SKOPEO_TIMEOUT} s: {exc.stdout!r} {exc.stderr!r}") from exc
    assert result.returncode == 0, f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def drained(registry: Registry) -> dict[str, Any]:
    """Wait for the registry's queue to Dockhook to empty; it must have had no failed delivery."""
    metrics = registry.wait_drained()
    assert metrics["Pending"] == 0, f"notifications still pending: {metrics}"
    assert metrics["Failures"] == 0, f"Dockhook refused a notification: {metrics}"
    return metrics


def repository(dockhook: Dockhook, project: str, name: str) -> dict[str, Any]:
    rows = dockhook.get_json(f"/api/v2.0/projects/{project}/repositories?page_size=100")
    matching = [r for r in rows if r["name"] == name]
    assert len(matching) == 1, f"{name} in {project}'s repositories: {rows}"
    return dict(matching[0])


def logs(dockhook: Dockhook, project: str, operation: str) -> list[dict[str, Any]]:
    """The project's access-log rows for ``operation``, oldest first."""
    rows = dockhook.get_json(f"/api/v2.0/projects/{project}/logs?operation={operation}&page_size=100")
    return sorted(rows, key=lambda r: r["id"])


def events(database_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("select type, repository, data from events order by id")).all()
    finally:
        engine.dispose()
    # A JSON column read with raw SQL is a str on SQLite and already decoded on PostgreSQL.
    return [(t, r, json.loads(d) if isinstance(d, str) else d) for t, r, d in rows]


def test_skopeo_push_pull_inspect_delete_are_recorded(
    dockhook: Dockhook, registry: Registry, worker: Process, sink: Sink, tmp_path: Path
) -> None:
    try:
        scenario(dockhook, registry, worker, sink, tmp_path)
    except AssertionError as exc:
        try:
            metrics = registry.metrics()
        except Exception as metrics_exc:  # the registry may be the thing that broke
            metrics = {"error": repr(metrics_exc)}
        raise AssertionError(
            f"{exc}\n\nregistry notification metrics: {metrics}\n\n"
            f"{dockhook.process.log_tail(60)}\n\n{registry.process.log_tail(60)}\n\n{worker.log_tail(60)}"
        ) from exc


def scenario(dockhook: Dockhook, registry: Registry, worker: Process, sink: Sink, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    digest = oci_image.build_layout(layout, "1.0")
    e2e = f"docker://{registry.host}/library/e2e"

    # A webhook policy on library for every artifact event; team-x gets none.
    dockhook.create_project("library")
    dockhook.create_policy("library", "artifacts", [{"address": sink.url}], event_types=[PUSH, PULL, DELETE])

    # Push: 2 blobs and the manifest; a second repository in a project nobody created.
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:1.0", f"{e2e}:1.0")
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:1.0", f"docker://{registry.host}/team-x/app:2.0")
    drained(registry)
    assert repository(dockhook, "library", "library/e2e")["pull_count"] == 0

    # Pull, one step at a time, so each command's manifest pulls are measured on their own.
    pulled = tmp_path / "pulled"
    skopeo("copy", "--src-tls-verify=false", f"{e2e}:1.0", f"oci:{pulled}:pulled")
    assert oci_image.manifest_digest(pulled, "pulled") == digest
    drained(registry)
    assert repository(dockhook, "library", "library/e2e")["pull_count"] == 1, "skopeo copy (pull)"

    inspected = json.loads(skopeo("inspect", "--tls-verify=false", f"{e2e}:1.0"))
    assert (inspected["Digest"], inspected["Architecture"], inspected["Os"]) == (digest, "amd64", "linux")
    drained(registry)
    assert repository(dockhook, "library", "library/e2e")["pull_count"] == 2, "skopeo inspect"

    skopeo("delete", "--tls-verify=false", f"{e2e}@{digest}")
    metrics = drained(registry)
    assert repository(dockhook, "library", "library/e2e")["pull_count"] == 3, "skopeo delete (GETs the manifest)"
    assert metrics["Successes"] > 0, metrics

    # The API: projects, repository counters, the access log.
    projects = dockhook.get_json("/api/v2.0/projects?page_size=100")
    assert sorted(p["name"] for p in projects) == ["library", "team-x"]

    e2e_repo = repository(dockhook, "library", "library/e2e")
    assert (e2e_repo["push_count"], e2e_repo["pull_count"]) == (1, 3)
    app_repo = repository(dockhook, "team-x", "team-x/app")
    assert (app_repo["push_count"], app_repo["pull_count"]) == (1, 0)

    def rows(project: str, operation: str) -> list[tuple[str, str, str, str]]:
        return [(r["repo_name"], r["repo_tag"], r["digest"], r["resource"]) for r in logs(dockhook, project, operation)]

    assert rows("library", "push") == [("library/e2e", "1.0", digest, "library/e2e:1.0")]
    assert rows("team-x", "push") == [("team-x/app", "2.0", digest, "team-x/app:2.0")]
    assert rows("library", "pull") == [
        ("library/e2e", "1.0", digest, "library/e2e:1.0"),  # skopeo copy
        ("library/e2e", "1.0", digest, "library/e2e:1.0"),  # skopeo inspect
        ("library/e2e", "", digest, f"library/e2e@{digest}"),  # skopeo delete's GET by digest
    ]
    assert rows("team-x", "pull") == []
    # One DELETE: a digest event, then one tag event per tag that pointed at the manifest.
    assert rows("library", "delete") == [
        ("library/e2e", "", digest, f"library/e2e@{digest}"),
        ("library/e2e", "1.0", digest, "library/e2e:1.0"),  # the digest the tag pointed at
    ]
    pull_agents = {r["user_agent"] for r in logs(dockhook, "library", "pull")}
    assert len(pull_agents) == 1, pull_agents
    assert pull_agents.pop().startswith("skopeo/"), "user agent passed through"

    # The events table, in order.
    recorded = [(t, repo, data["tags"], data["digest"]) for t, repo, data in events(dockhook.database_url)]
    assert recorded == [
        (PUSH, "library/e2e", ["1.0"], digest),
        (PUSH, "team-x/app", ["2.0"], digest),
        (PULL, "library/e2e", ["1.0"], digest),
        (PULL, "library/e2e", ["1.0"], digest),
        (PULL, "library/e2e", [], digest),
        (DELETE, "library/e2e", ["1.0"], digest),
    ]

    # The webhooks: one per library event, in order, each delivered once and recorded as a success.
    library = [t for t, repo, _, _ in recorded if repo.startswith("library/")]
    hooks = webhooks(dockhook, sink, len(library), worker)
    assert [h["type"] for h in hooks] == library == [PUSH, PULL, PULL, PULL, DELETE]

    def resource(tag: str) -> dict[str, str]:
        reference = f":{tag}" if tag else f"@{digest}"
        return {"digest": digest, "tag": tag or digest, "resource_url": f"{registry.host}/library/e2e{reference}"}

    assert [h["event_data"]["resources"] for h in hooks] == [
        [resource("1.0")],  # the push
        [resource("1.0")],  # skopeo copy
        [resource("1.0")],  # skopeo inspect
        [resource("")],  # skopeo delete's GET by digest
        [resource("1.0")],  # the delete, with the tag that pointed at the manifest
    ]
    for hook in hooks:
        assert hook["event_data"]["repository"]["repo_full_name"] == "library/e2e"
        assert hook["event_data"]["repository"]["namespace"] == "library"
    assert dockhook.hook_jobs("team-x") == [], "team-x has no policy: its push makes no hook job"


def webhooks(dockhook: Dockhook, sink: Sink, count: int, worker: Process) -> list[dict[str, Any]]:
    """Wait for ``count`` webhooks and as many successful hook jobs of library; return the payloads in order.

    Each has its own ``webhook-id``, naming a hook job that succeeded at its one attempt, and no extra delivery
    follows. The payloads come back in the hook jobs' order (oldest first): a worker sends up to 4 webhooks to one
    target at a time, so two events close together may reach it in either order (docs/delivery.md).
    """
    got: list[Received] = sink.wait_for(count, timeout=WEBHOOK_TIMEOUT)
    assert len(got) == count, f"the sink got {len(got)} webhooks, expected {count}"
    jobs = dockhook.wait_final("library", count, timeout=WEBHOOK_TIMEOUT, watch=[worker])
    assert [(j["status"], j["attempt_count"], j["last_status_code"]) for j in jobs] == [("success", 1, 200)] * count
    dockhook.drain_and_stop(worker)  # then nothing can send another webhook: the count is final
    assert len(sink.received) == count, "no duplicate webhook"
    by_id = {r.headers["webhook-id"]: r for r in got}
    assert len(by_id) == count, list(by_id)
    assert sorted(by_id) == sorted(j["uuid"] for j in jobs)
    in_order = [by_id[j["uuid"]] for j in jobs]
    assert [j["event_type"] for j in jobs] == [json.loads(r.body)["type"] for r in in_order]
    assert all(r.method == "POST" and r.headers["content-type"] == "application/json" for r in got)
    return [json.loads(r.body) for r in in_order]
