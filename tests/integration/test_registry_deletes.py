"""Deletes of manifests Dockhook learned late: a delete by digest publishes what is known, and no tag is lost."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import Artifact, HookJob, Tag
from tests.integration.test_delivery import add_policy
from tests.support import replay
from tests.support.state import send

ALPINE = "sha256:6e0801e933911f55adeb296638b421b3365c8d9b85dff219f74eb2d5d52add99"


def replay_scenarios(app: Flask, *scenarios: str) -> None:
    client = app.test_client()
    for scenario in scenarios:
        for delivery in replay.deliveries(scenario):
            status, _ = send(client, delivery)
            assert status == 200, scenario


def deletes_sent(app: Flask) -> list[tuple[str, list[str]]]:
    """(digest, tags) of every DELETE_ARTIFACT hook job, in the order they were made."""
    with app.app_context():
        jobs = db.session.scalars(select(HookJob).where(HookJob.event_type == "DELETE_ARTIFACT").order_by(HookJob.id))
        found = []
        for job in jobs:
            resources = json.loads(job.payload)["event_data"]["resources"]
            # Without a tag, Harbor's resource carries the digest in "tag".
            tags = [r["tag"] for r in resources if r["tag"] != r["digest"]]
            found.append((resources[0]["digest"], tags))
        return found


def test_a_manifest_never_pushed_here_is_learned_from_a_pull_and_its_delete_by_digest_is_published(
    make_app: Callable[..., Flask],
) -> None:
    """skopeo delete: GET by digest, DELETE by digest, then one tag delete per tag (never seen here)."""
    app = make_app(notify_token=replay.TOKEN)
    add_policy(app, [{"address": "https://ci.example.com/in"}], event_types=("DELETE_ARTIFACT",))
    replay_scenarios(app, "delete_alpine_by_digest")
    # The digest first (its tags unknown then), then each tag the registry names: none is lost.
    assert deletes_sent(app) == [(ALPINE, []), (ALPINE, ["latest"]), (ALPINE, ["3.19"])]


def test_a_pull_by_tag_teaches_the_tag_so_the_delete_carries_it(make_app: Callable[..., Flask]) -> None:
    app = make_app(notify_token=replay.TOKEN)
    add_policy(app, [{"address": "https://ci.example.com/in"}], event_types=("DELETE_ARTIFACT",))
    replay_scenarios(app, "pull_full_alpine_3.19")
    with app.app_context():
        artifact = db.session.scalars(select(Artifact).where(Artifact.digest == ALPINE)).one()
        assert artifact.media_type == "application/vnd.oci.image.manifest.v1+json"
        assert [t.name for t in db.session.scalars(select(Tag))] == ["3.19"]
    replay_scenarios(app, "delete_alpine_by_digest")
    # 3.19 came with the digest's delete; only "latest", unknown until its own tag delete, comes late.
    assert deletes_sent(app) == [(ALPINE, ["3.19"]), (ALPINE, ["latest"])]


def test_a_blob_delete_is_still_not_an_artifact_event(make_app: Callable[..., Flask]) -> None:
    app = make_app(notify_token=replay.TOKEN)
    add_policy(app, [{"address": "https://ci.example.com/in"}], event_types=("DELETE_ARTIFACT",))
    replay_scenarios(app, "delete_blob_raw")
    assert deletes_sent(app) == []
