"""The registry event filter (DESIGN §5), on envelopes shaped like distribution 2.x and 3.x send them, and the
bounds a kept event must stay within before it is recorded (DESIGN §10)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.registry import bounds
from app.registry.filter import FilterRules, classify
from app.registry.schemas import LoadedEvent, load_envelope
from app.services.registry_events import RegistryAction

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RULES = FilterRules(frozenset({"harbor-registry-client", "harbor-replication-service"}))
OCI = "application/vnd.oci.image.manifest.v1+json"


def event(action: str = "push", *, method: str = "PUT", ua: str = "skopeo/1.9.3", **target: Any) -> dict[str, Any]:
    return {
        "id": "e1",
        "timestamp": "2026-11-29T12:03:50.370679635Z",
        "action": action,
        "target": {"repository": "library/app", "digest": "sha256:" + "a" * 64, **target},
        "request": {"id": "r1", "method": method, "useragent": ua},
        "actor": {},
    }


def classified(raw: dict[str, Any], rules: FilterRules = RULES) -> RegistryAction | str:
    (loaded,) = load_envelope({"events": [raw]})
    assert isinstance(loaded, LoadedEvent), loaded
    return classify(loaded.event, rules, NOW)


@pytest.mark.parametrize(
    "media_type",
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        OCI,
        "application/vnd.oci.image.index.v1+json",
    ],
)
def test_manifest_pushes_of_every_kind_are_kept(media_type: str) -> None:
    kept = classified(event(mediaType=media_type, tag="1.0"))
    assert isinstance(kept, RegistryAction)
    assert (kept.operation, kept.tag, kept.media_type, kept.publish) == ("push", "1.0", media_type, True)
    assert kept.occurred_at == datetime(2026, 11, 29, 12, 3, 50, 370679, tzinfo=UTC)
    assert kept.username == "anonymous"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (event(mediaType="application/octet-stream"), "blob"),
        (event("pull", method="GET", mediaType="application/octet-stream"), "blob"),
        (event("mount", method="POST", mediaType="application/octet-stream", fromRepository="library/x"), "mount"),
        (event("pull", method="HEAD", mediaType=OCI, tag="1.0"), "HEAD request"),
        (event("pull", method="GET", ua=" Harbor-Registry-Client ", mediaType=OCI), "denied user agent"),
        (event("pull", method="GET", ua="harbor-replication-service", mediaType=OCI), "denied user agent"),
        (event("push", mediaType="application/vnd.docker.container.image.v1+json"), "not a manifest"),
        (event("delete", method="DELETE", digest=""), "repository delete"),
        (event("teleport"), "unknown action 'teleport'"),
    ],
)
def test_dropped_events_say_why(raw: dict[str, Any], reason: str) -> None:
    assert classified(raw) == reason


def test_untagged_push_is_kept_but_not_published_unless_configured() -> None:
    kept = classified(event(mediaType=OCI))
    assert isinstance(kept, RegistryAction) and kept.publish is False
    kept = classified(event(mediaType=OCI), FilterRules(RULES.pull_ua_denylist, publish_untagged_pushes=True))
    assert isinstance(kept, RegistryAction) and kept.publish is True


def test_distribution_3x_blank_values_read_as_missing() -> None:
    raw = event("delete", method="DELETE", mediaType="", size=0, length=0, tag="", url="")
    raw["actor"] = {"name": ""}
    kept = classified(raw)
    assert isinstance(kept, RegistryAction)
    assert (kept.operation, kept.tag, kept.media_type, kept.size, kept.username) == (
        "delete",
        "",
        "",
        None,
        "anonymous",
    )


def test_unknown_fields_are_tolerated_and_actor_is_the_operator() -> None:
    raw = event("pull", method="GET", mediaType=OCI, tag="v1", size=527, references=[{"digest": "x"}], artifactType="y")
    raw["actor"] = {"name": "robot$ci"}
    raw["extra"] = {"anything": True}
    kept = classified(raw)
    assert isinstance(kept, RegistryAction)
    assert (kept.operation, kept.size, kept.username) == ("pull", 527, "robot$ci")


def test_timestamp_offsets_are_normalised_to_utc() -> None:
    raw = event(mediaType=OCI, tag="1")
    raw["timestamp"] = "2020-03-09T14:44:26.402973972-08:00"
    kept = classified(raw)
    assert isinstance(kept, RegistryAction)
    assert kept.occurred_at.astimezone(UTC) == datetime(2020, 3, 9, 22, 44, 26, 402973, tzinfo=UTC)


def test_an_unknown_action_is_named_briefly_in_the_drop_reason() -> None:
    assert classified(event("x" * 500)) == f"unknown action {'x' * 32!r}"


# --- bounds: what a kept event may hold -------------------------------------------------------------------


def kept(**target: Any) -> RegistryAction:
    action = classified(event(**{"mediaType": OCI, "tag": "1.0", **target}))
    assert isinstance(action, RegistryAction)
    return action


def test_bounds_are_the_widths_of_the_columns_the_values_go_to() -> None:
    assert bounds.WIDTHS == {
        "id": 64,
        "target.repository": 512,
        "target.tag": 255,
        "target.digest": 255,
        "target.mediaType": 255,
        "actor.name": 255,
        "request.id": 64,
        "request.useragent": 512,
        "request.host": 255,
    }


def test_a_real_event_is_within_bounds() -> None:
    assert bounds.problem(kept()) is None
    assert bounds.problem(kept(repository="alpine")) is None
    assert bounds.problem(kept(repository="team-a/sub/app")) is None


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ({"repository": "library/" + "a" * 505}, "target.repository has 513 characters; at most 512"),
        ({"tag": "t" * 256}, "target.tag has 256 characters; at most 255"),
        ({"tag": "t" * 129}, "is not a tag"),
        ({"tag": "-leading"}, "is not a tag"),
        ({"digest": "sha256:" + "a" * 249}, "target.digest has 256 characters"),
        ({"digest": "not a digest"}, "is not a digest"),
        ({"mediaType": OCI + ";" + "p" * 300}, "target.mediaType has"),
        ({"tag": "1.0\x00"}, "U+0000"),
        ({"tag": "1.0\ud800"}, "U+D800"),
        ({"repository": "library/al\npine"}, "U+000A"),
        ({"repository": "EVIL<script>alert(1)</script>"}, "project 'EVIL<script>alert(1)<'"),
        ({"repository": "a b/app"}, "project 'a b'"),
        ({"repository": "../app"}, "project '..'"),
        ({"repository": "x' or '1'='1/app"}, "project \"x' or '1'='1\""),
        ({"repository": "123/app"}, "all digits"),
        ({"repository": "library/App"}, "is not a repository name"),
        ({"repository": "library//app"}, "is not a repository name"),
        ({"repository": "library/app/"}, "is not a repository name"),
        ({"repository": "<b>"}, "is not a repository name"),
        ({"size": 2**63}, "target.size is over"),
    ],
)
def test_values_a_column_cannot_hold_or_a_registry_cannot_send_are_refused(
    target: dict[str, Any], fragment: str
) -> None:
    why = bounds.problem(kept(**target))
    assert why is not None and fragment in why, why


def test_values_at_their_limits_are_within_bounds() -> None:
    assert bounds.problem(kept(repository="library/" + "a" * 504)) is None
    assert bounds.problem(kept(tag="t" * 128, digest="sha256:" + "a" * 248, size=2**63 - 1)) is None
