"""Every captured registry scenario, replayed byte for byte in capture order, records exactly what it should."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tests.integration.test_receiver_hostile import kept_aside
from tests.support import replay
from tests.support.state import recorded, send

ALPINE = "sha256:6e0801e93391"
BUSYBOX = "sha256:ea7e911e261e"
INDEX = "sha256:c5f37c83a3ea"
LIST_V2S2 = "sha256:47c756042dce"
LAYER = "sha256:22be7e0cc57d"

PUSH, PULL, DELETE = "PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"

# scenario -> (new events, new access-log rows, repository (push_count, pull_count) afterwards)
MAIN: dict[
    str, tuple[list[tuple[str, str, tuple[str, ...], str]], list[tuple[str, str, str, str]], dict[str, tuple[int, int]]]
] = {
    "push_oci_alpine_3.19": (
        [(PUSH, "library/alpine", ("3.19",), ALPINE)],
        [("push", "library/alpine", "3.19", ALPINE)],
        {"library/alpine": (1, 0)},
    ),
    # The blob HEADs skopeo makes before pushing a second tag are pull events with method HEAD: dropped.
    "push_oci_alpine_latest_second_tag": (
        [(PUSH, "library/alpine", ("latest",), ALPINE)],
        [("push", "library/alpine", "latest", ALPINE)],
        {"library/alpine": (2, 0)},
    ),
    "push_v2s2_busybox_1.36": (
        [(PUSH, "library/busybox", ("1.36",), BUSYBOX)],
        [("push", "library/busybox", "1.36", BUSYBOX)],
        {"library/alpine": (2, 0), "library/busybox": (1, 0)},
    ),
    "pull_full_alpine_3.19": (
        [(PULL, "library/alpine", ("3.19",), ALPINE)],
        [("pull", "library/alpine", "3.19", ALPINE)],
        {"library/alpine": (2, 1), "library/busybox": (1, 0)},
    ),
    "pull_inspect_alpine_3.19": (
        [(PULL, "library/alpine", ("3.19",), ALPINE)],
        [("pull", "library/alpine", "3.19", ALPINE)],
        {"library/alpine": (2, 2), "library/busybox": (1, 0)},
    ),
    "pull_inspect_raw_alpine_3.19": (
        [(PULL, "library/alpine", ("3.19",), ALPINE)],
        [("pull", "library/alpine", "3.19", ALPINE)],
        {"library/alpine": (2, 3), "library/busybox": (1, 0)},
    ),
    # A manifest HEAD is an existence check, not a pull.
    "pull_head_manifest_alpine_3.19": ([], [], {"library/alpine": (2, 3), "library/busybox": (1, 0)}),
    # A pull by digest still names the artifact (Harbor 1.x sent "resources": null here).
    "pull_by_digest_alpine": (
        [(PULL, "library/alpine", (), ALPINE)],
        [("pull", "library/alpine", "", ALPINE)],
        {"library/alpine": (2, 4), "library/busybox": (1, 0)},
    ),
    # Harbor's own registry client is on the deny-list.
    "pull_manifest_harbor_client_ua": ([], [], {"library/alpine": (2, 4), "library/busybox": (1, 0)}),
    # skopeo GETs the manifest, the DELETE gives one digest event and one event per tag: one DELETE_ARTIFACT.
    "delete_alpine_by_digest": (
        [(PULL, "library/alpine", (), ALPINE), (DELETE, "library/alpine", ("3.19", "latest"), ALPINE)],
        [
            ("pull", "library/alpine", "", ALPINE),
            ("delete", "library/alpine", "", ALPINE),
            # The registry names no digest on tag deletes; the log keeps the one the tag pointed at.
            ("delete", "library/alpine", "latest", ALPINE),
            ("delete", "library/alpine", "3.19", ALPINE),
        ],
        {"library/alpine": (2, 5), "library/busybox": (1, 0)},
    ),
    "delete_by_tag_busybox_rejected": ([], [], {"library/alpine": (2, 5), "library/busybox": (1, 0)}),
    # The blob HEAD, the cross-repo mount and the config blob are dropped; the nested name keeps its path.
    "push_oci_nested_team-a_sub_app_1.0": (
        [(PUSH, "team-a/sub/app", ("1.0",), ALPINE)],
        [("push", "team-a/sub/app", "1.0", ALPINE)],
        {"library/alpine": (2, 5), "library/busybox": (1, 0), "team-a/sub/app": (1, 0)},
    ),
    # Children pushed by digest are recorded, only the tagged index is published and counted.
    "push_oci_index_multiarch": (
        [(PUSH, "library/multiarch", ("1.0",), INDEX)],
        [
            ("push", "library/multiarch", "", "sha256:2baee8a9b6b9"),
            ("push", "library/multiarch", "", "sha256:c8847fb8ca74"),
            ("push", "library/multiarch", "1.0", INDEX),
        ],
        {"library/alpine": (2, 5), "library/busybox": (1, 0), "team-a/sub/app": (1, 0), "library/multiarch": (1, 0)},
    ),
    "push_v2s2_manifest_list": (
        [(PUSH, "library/multiarch-v2s2", ("1.0",), LIST_V2S2)],
        [
            ("push", "library/multiarch-v2s2", "", "sha256:99875d3271ec"),
            ("push", "library/multiarch-v2s2", "", "sha256:0730c7ee3950"),
            ("push", "library/multiarch-v2s2", "1.0", LIST_V2S2),
        ],
        {
            "library/alpine": (2, 5),
            "library/busybox": (1, 0),
            "team-a/sub/app": (1, 0),
            "library/multiarch": (1, 0),
            "library/multiarch-v2s2": (1, 0),
        },
    ),
    "pull_inspect_raw_index": (
        [(PULL, "library/multiarch", ("1.0",), INDEX)],
        [("pull", "library/multiarch", "1.0", INDEX)],
        {
            "library/alpine": (2, 5),
            "library/busybox": (1, 0),
            "team-a/sub/app": (1, 0),
            "library/multiarch": (1, 1),
            "library/multiarch-v2s2": (1, 0),
        },
    ),
    # A digest never seen as a manifest (here a layer) is logged but publishes nothing.
    "delete_blob_raw": (
        [],
        [("delete", "team-a/sub/app", "", LAYER)],
        {
            "library/alpine": (2, 5),
            "library/busybox": (1, 0),
            "team-a/sub/app": (1, 0),
            "library/multiarch": (1, 1),
            "library/multiarch-v2s2": (1, 0),
        },
    ),
}


def test_fixture_index_matches_the_expectations() -> None:
    assert replay.scenarios("main") == list(MAIN)


def test_main_scenarios_in_capture_order_record_exactly_the_expected_rows(app: Flask) -> None:
    client = app.test_client()
    for scenario, (events, logs, repositories) in MAIN.items():
        before = recorded(app)
        for delivery in replay.deliveries(scenario):
            status, body = send(client, delivery)
            assert status == 200, (scenario, delivery.seq, body)
        after = recorded(app)
        assert after.events[len(before.events) :] == events, scenario
        assert after.access_logs[len(before.access_logs) :] == logs, scenario
        assert after.repositories == repositories, scenario
    assert recorded(app).projects == ["library", "team-a"]


@pytest.mark.parametrize("auto_create_projects", [True, False])
def test_real_registry_traffic_is_never_kept_aside(make_app: Callable[..., Flask], auto_create_projects: bool) -> None:
    """Every captured notification passes the receiver's bounds: nothing a real registry sends is rejected (with
    projects not created on first sight, only the unknown projects' events are kept aside)."""
    app = make_app(notify_token=None, auto_create_projects=auto_create_projects)
    client = app.test_client()
    ignored = 0
    for scenario in replay.index():
        for delivery in replay.deliveries(scenario):
            status, body = send(client, delivery)
            assert status == 200, (scenario, delivery.seq, body)
            ignored += int(body["ignored"])  # type: ignore[call-overload]
    aside = kept_aside(app)
    if auto_create_projects:
        assert aside == []
    else:
        assert aside and {a.reason.split(" does not exist")[0] for a in aside} == {"project library", "project team-a"}
    assert ignored > len(aside)  # blob and mount events, HEADs and Harbor's pulls are dropped, not kept aside


def test_replaying_every_main_scenario_twice_changes_nothing(app: Flask) -> None:
    client = app.test_client()
    everything = [d for s in MAIN for d in replay.deliveries(s)]
    for delivery in everything:
        assert send(client, delivery)[0] == 200
    first = recorded(app)
    duplicates = 0
    for delivery in everything:
        status, body = send(client, delivery)
        assert status == 200
        assert body["recorded"] == 0
        duplicates += int(body["duplicates"])  # type: ignore[call-overload]
    assert recorded(app) == first
    assert duplicates == len(first.access_logs)


def test_harbor_ignore_list_scenarios_record_one_event_each(app: Flask) -> None:
    client = app.test_client()
    for scenario in replay.scenarios("harbor_ignore"):
        for delivery in replay.deliveries(scenario):
            assert send(client, delivery)[0] == 200
    assert recorded(app).events == [
        (PUSH, "library/alpine", ("3.19",), ALPINE),
        (PULL, "library/alpine", ("3.19",), ALPINE),
    ]


def test_registry_retries_and_timeout_resends_are_recorded_once(app: Flask) -> None:
    """The retry group re-sends events byte for byte (500s, 401s, a slow answer): one record per event id."""
    client = app.test_client()
    for scenario in replay.scenarios("retry"):
        for delivery in replay.deliveries(scenario):
            assert send(client, delivery)[0] == 200
    state = recorded(app)
    assert state.events == [(PUSH, "library/alpine", ("3.19",), ALPINE)] * 4
    assert state.repositories == {"library/alpine": (4, 0)}


def test_a_resent_manifest_event_is_acknowledged_and_recorded_once(app: Flask) -> None:
    client = app.test_client()
    manifest = replay.deliveries("push_oci_alpine_3.19")[-1]
    bodies = [send(client, manifest) for _ in range(5)]
    assert [status for status, _ in bodies] == [200] * 5
    assert [b["recorded"] for _, b in bodies] == [1, 0, 0, 0, 0]
    assert [b["duplicates"] for _, b in bodies] == [0, 1, 1, 1, 1]
    assert recorded(app).access_logs == [("push", "library/alpine", "3.19", ALPINE)]


def test_authless_registry_is_refused_when_a_token_is_configured(app: Flask) -> None:
    client = app.test_client()
    for delivery in replay.deliveries("authless_push_oci_alpine_3.19"):
        status, body = send(client, delivery)
        assert status == 401
        assert body["errors"][0]["code"] == "UNAUTHORIZED"  # type: ignore[index]
    assert recorded(app).events == []


def test_authless_registry_is_recorded_when_no_token_is_configured(make_app: Callable[..., Flask]) -> None:
    app = make_app(notify_token=None)
    client = app.test_client()
    for delivery in replay.deliveries("authless_push_oci_alpine_3.19"):
        assert send(client, delivery)[0] == 200
    assert recorded(app).events == [(PUSH, "library/alpine", ("3.19",), ALPINE)]


@pytest.mark.parametrize("scenario", ["push_oci_index_multiarch"])
def test_untagged_children_are_published_when_configured(make_app: Callable[..., Flask], scenario: str) -> None:
    app = make_app(notify_token=replay.TOKEN, publish_untagged_pushes=True)
    client = app.test_client()
    for delivery in replay.deliveries(scenario):
        assert send(client, delivery)[0] == 200
    assert [e[3] for e in recorded(app).events] == ["sha256:2baee8a9b6b9", "sha256:c8847fb8ca74", INDEX]
    assert recorded(app).repositories == {"library/multiarch": (3, 0)}
