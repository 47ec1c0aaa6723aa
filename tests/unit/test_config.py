"""Settings come from the environment, and a bad value stops start-up with a message naming the variable."""

from __future__ import annotations

import pytest

from app.config import DEFAULT_UA_DENYLIST, MIN_EXPOSED_TOKEN_LENGTH, ConfigError, Settings, exposure_problem
from tests.support.settings import NEW_SECRET_KEY, SECRET_KEY

KEYS = {"DOCKHOOK_SECRET_KEYS": SECRET_KEY}


def test_defaults_run_on_sqlite_under_instance_without_redis_or_token() -> None:
    settings = Settings.from_env(KEYS)
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("instance/dockhook.db")
    assert settings.redis_url is None
    assert settings.notify_token is None
    assert settings.default_project == "library"
    assert settings.auto_create_projects is True
    assert settings.pull_ua_denylist == DEFAULT_UA_DENYLIST
    assert settings.max_body_bytes == 1024 * 1024


def test_postgres_urls_use_psycopg3() -> None:
    assert (
        Settings.from_env({**KEYS, "DATABASE_URL": "postgresql://u@h/db"}).database_url == "postgresql+psycopg://u@h/db"
    )
    assert (
        Settings.from_env({**KEYS, "DATABASE_URL": "postgres://u@h/db"}).database_url == "postgresql+psycopg://u@h/db"
    )


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            **KEYS,
            "REDIS_URL": "unix:///tmp/r.sock?db=0",
            "DOCKHOOK_NOTIFY_TOKEN": "s3cret",
            "DOCKHOOK_DEFAULT_PROJECT": "main",
            "DOCKHOOK_AUTO_CREATE_PROJECTS": "false",
            "DOCKHOOK_PULL_UA_DENYLIST": " Scanner/1 , harbor-registry-client,,",
            "DOCKHOOK_MAX_BODY_BYTES": "2048",
        }
    )
    assert settings.redis_url == "unix:///tmp/r.sock?db=0"
    assert settings.notify_token == "s3cret"
    assert settings.default_project == "main"
    assert settings.auto_create_projects is False
    assert settings.pull_ua_denylist == ("harbor-registry-client", "scanner/1")
    assert settings.max_body_bytes == 2048


def test_chat_intervals_and_the_disable_window_are_configurable() -> None:
    defaults = Settings.from_env(KEYS)
    assert [defaults.chat_interval(kind) for kind in ("slack", "teams", "mattermost", "discord", "googlechat")] == [
        1.0
    ] * 5
    assert defaults.disable_after == 5 * 86400
    settings = Settings.from_env(
        {**KEYS, "DOCKHOOK_CHAT_INTERVALS": " teams=2, discord=0.5s ", "DOCKHOOK_DISABLE_AFTER": "36h"}
    )
    assert (settings.chat_interval("teams"), settings.chat_interval("discord")) == (2.0, 0.5)
    assert settings.chat_interval("slack") == 1.0
    assert settings.disable_after == 36 * 3600


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL"),
        ("REDIS_URL", "http://127.0.0.1:6379", "REDIS_URL"),
        ("DOCKHOOK_NOTIFY_TOKEN", "two words", "DOCKHOOK_NOTIFY_TOKEN"),
        ("DOCKHOOK_DEFAULT_PROJECT", "Not_Valid!", "DOCKHOOK_DEFAULT_PROJECT"),
        ("DOCKHOOK_AUTO_CREATE_PROJECTS", "perhaps", "DOCKHOOK_AUTO_CREATE_PROJECTS"),
        ("DOCKHOOK_MAX_BODY_BYTES", "1MB", "DOCKHOOK_MAX_BODY_BYTES"),
        ("DOCKHOOK_MAX_BODY_BYTES", "0", "DOCKHOOK_MAX_BODY_BYTES"),
        ("DOCKHOOK_CHAT_INTERVALS", "irc=1", "DOCKHOOK_CHAT_INTERVALS"),
        ("DOCKHOOK_CHAT_INTERVALS", "teams=soon", "DOCKHOOK_CHAT_INTERVALS"),
        ("DOCKHOOK_CHAT_INTERVALS", "teams=-1", "DOCKHOOK_CHAT_INTERVALS"),
        ("DOCKHOOK_DISABLE_AFTER", "soon", "DOCKHOOK_DISABLE_AFTER"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({name: value})


def test_a_missing_secret_key_stops_start_up_saying_how_to_make_one() -> None:
    with pytest.raises(ConfigError, match=r"DOCKHOOK_SECRET_KEYS is not set.*Fernet\.generate_key"):
        Settings.from_env({})


def test_a_bad_secret_key_is_named_by_position_and_never_quoted() -> None:
    with pytest.raises(ConfigError, match="key 2 is not a Fernet key") as caught:
        Settings.from_env({"DOCKHOOK_SECRET_KEYS": f"{SECRET_KEY}, not-a-key-zzzz"})
    assert "not-a-key-zzzz" not in str(caught.value)


def test_secret_keys_allowed_networks_and_overlap_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "DOCKHOOK_SECRET_KEYS": f" {NEW_SECRET_KEY} ,{SECRET_KEY}",
            "DOCKHOOK_ALLOWED_TARGET_NETWORKS": "10.1.2.0/24, ::1",
            "DOCKHOOK_SECRET_ROTATION_OVERLAP": "2h",
        }
    )
    assert settings.secret_keys == (NEW_SECRET_KEY, SECRET_KEY)
    assert [str(n) for n in settings.allowed_target_networks] == ["10.1.2.0/24", "::1/128"]
    assert settings.secret_rotation_overlap == 7200
    assert Settings.from_env(KEYS).allowed_target_networks == ()
    assert Settings.from_env(KEYS).secret_rotation_overlap == 86400
    with pytest.raises(ConfigError, match="DOCKHOOK_ALLOWED_TARGET_NETWORKS"):
        Settings.from_env({**KEYS, "DOCKHOOK_ALLOWED_TARGET_NETWORKS": "10.0.0.1/8"})
    with pytest.raises(ConfigError, match="DOCKHOOK_SECRET_ROTATION_OVERLAP"):
        Settings.from_env({**KEYS, "DOCKHOOK_SECRET_ROTATION_OVERLAP": "soon"})


def test_the_repr_of_settings_shows_no_token_or_key() -> None:
    settings = Settings.from_env(
        {**KEYS, "DOCKHOOK_NOTIFY_TOKEN": "notify-tok-1234", "DOCKHOOK_API_TOKEN": "api-tok-5678"}
    )
    shown = repr(settings)
    for secret in ("notify-tok-1234", "api-tok-5678", SECRET_KEY):
        assert secret not in shown
    assert "notify_token='******'" in shown and "<1 keys>" in shown


LONG = "x" * MIN_EXPOSED_TOKEN_LENGTH


@pytest.mark.parametrize(
    ("hosts", "notify", "api", "refused"),
    [
        (["127.0.0.1"], None, None, False),
        (["::1", "unix:/run/dockhook.sock"], None, None, False),
        (["0.0.0.0"], None, None, True),
        (["127.0.0.1", "10.0.0.5"], LONG, None, True),
        (["::"], LONG, LONG[:-1], True),
        (["0.0.0.0"], LONG, LONG, False),
    ],
)
def test_an_exposed_bind_needs_both_tokens_of_at_least_32_characters(
    hosts: list[str], notify: str | None, api: str | None, refused: bool
) -> None:
    env = {**KEYS, "DOCKHOOK_NOTIFY_TOKEN": notify or "", "DOCKHOOK_API_TOKEN": api or ""}
    problem = exposure_problem(hosts, Settings.from_env(env))
    assert (problem is not None) == refused
    if problem:
        assert "DOCKHOOK_API_TOKEN" in problem and "32 characters" in problem
        assert LONG not in problem
