"""The one token check, shared by the receiver (Bearer) and the API (Bearer or Basic, as Harbor clients send)."""

from __future__ import annotations

import base64

import pytest

from app.bearer import matches, presented

TOKEN = "t0ken-with-32-characters-or-more-x"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("header", "allow_basic", "expected"),
    [
        (f"Bearer {TOKEN}", False, TOKEN),
        (f"bearer   {TOKEN} ", False, TOKEN),
        (basic("admin", TOKEN), True, TOKEN),
        (basic("admin", TOKEN), False, None),
        ("Basic !!!not-base64", True, None),
        (f"Token {TOKEN}", True, None),
        ("", True, None),
    ],
)
def test_the_presented_credential(header: str, allow_basic: bool, expected: str | None) -> None:
    assert presented(header, basic=allow_basic) == expected


def test_matches_only_the_exact_token() -> None:
    assert matches(f"Bearer {TOKEN}", TOKEN)
    assert not matches(f"Bearer {TOKEN}x", TOKEN)
    assert not matches(f"Bearer {TOKEN[:-1]}", TOKEN)
    assert not matches("Bearer ", TOKEN)
    assert matches(basic("anyone", TOKEN), TOKEN, basic=True)
    assert not matches(basic("anyone", TOKEN), TOKEN)
