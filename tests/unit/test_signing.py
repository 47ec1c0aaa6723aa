"""Standard Webhooks signatures: the spec's published test vector, and secret validation."""

from __future__ import annotations

import pytest

from app.services.signing import secret_key
from jobs.signing import signature


def test_signature_matches_the_standard_webhooks_test_vector() -> None:
    # The example of the Standard Webhooks specification (also Svix's documentation).
    assert (
        signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_the_signature_covers_id_timestamp_and_every_body_byte() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    base = signature(secret, "id", 1, b"{}")
    assert signature(secret, "id2", 1, b"{}") != base
    assert signature(secret, "id", 2, b"{}") != base
    assert signature(secret, "id", 1, b"{ }") != base


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_"),
        ("whsec_not base64!", "base64"),
        ("whsec_c2hvcnQ=", "24 to 64"),
    ],
)
def test_a_malformed_secret_is_refused_without_quoting_it(secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        secret_key(secret)
    assert secret not in str(caught.value)
