"""Settings come from the environment, and a bad value stops start-up with a message naming the variable."""

from __future__ import annotations

import pytest

from app.config import DEFAULT_UA_DENYLIST, ConfigError, Settings


def test_defaults_run_on_sqlite_under_instance_without_redis_or_token() -> None:
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("instance/dockhook.db")
    assert settings.redis_url is None
    assert settings.notify_token is None
    assert settings.default_project == "library"
    assert settings.auto_create_projects is True
    assert settings.pull_ua_denylist == DEFAULT_UA_DENYLIST
    assert settings.max_body_bytes == 1024 * 1024


def test_postgres_urls_use_psycopg3() -> None:
    assert Settings.from_env({"DATABASE_URL": "postgresql://u@h/db"}).database_url == "postgresql+psycopg://u@h/db"
    assert Settings.from_env({"DATABASE_URL": "postgres://u@h/db"}).database_url == "postgresql+psycopg://u@h/db"


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
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
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({name: value})
