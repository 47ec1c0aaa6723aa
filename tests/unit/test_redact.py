"""Addresses as they may be shown: user-info, query-string values and chat webhook path tokens masked."""

from __future__ import annotations

import pytest

from app.redact import MASK, address


@pytest.mark.parametrize(
    ("stored", "kind", "shown"),
    [
        ("https://ci.example.com/harbor", "http", "https://ci.example.com/harbor"),
        (
            "https://ci.example.com:8443/in?token=abc123&mode=x",
            "http",
            f"https://ci.example.com:8443/in?token={MASK}&mode={MASK}",
        ),
        ("https://ci.example.com/in?flag", "http", "https://ci.example.com/in?flag="),
        ("https://u:pa55@ci.example.com/in", "http", f"https://{MASK}@ci.example.com/in"),
        (
            "https://hooks.slack.com/services/T0AB/B0CD/Xyz123secret",
            "slack",
            f"https://hooks.slack.com/services/T0AB/B0CD/{MASK}",
        ),
        (
            "https://hooks.slack.com/services/T0AB/B0CD/Xyz123secret",
            "http",
            f"https://hooks.slack.com/services/T0AB/B0CD/{MASK}",
        ),
        (
            "https://hooks.slack.com/triggers/T0AB/123/abcdef",
            "http",
            f"https://hooks.slack.com/triggers/T0AB/123/{MASK}",
        ),
        ("https://chat.internal.example/anything/tok", "slack", f"https://chat.internal.example/anything/{MASK}"),
        ("https://discord.com/api/webhooks/1234/tok-en_X", "http", f"https://discord.com/api/webhooks/1234/{MASK}"),
        ("https://mm.example.com/hooks/xyz987", "http", f"https://mm.example.com/hooks/{MASK}"),
        (
            "https://org.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d",
            "http",
            f"https://org.webhook.office.com/webhookb2/{MASK}",
        ),
        (
            "https://prod.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=1&sig=S1G",
            "http",
            f"https://prod.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version={MASK}&sig={MASK}",
        ),
        ("http://[::1]:8080/h?k=v", "http", f"http://[::1]:8080/h?k={MASK}"),
        # Chat targets on any host (self-hosted Mattermost, a Discord proxy): the last segment is the token.
        ("https://chat.corp.example/x/tok3n", "mattermost", f"https://chat.corp.example/x/{MASK}"),
        (
            "https://relay.corp.example/api/webhooks/1/tok3n",
            "discord",
            f"https://relay.corp.example/api/webhooks/1/{MASK}",
        ),
        (
            "https://chat.googleapis.com/v1/spaces/AAA/messages?key=K3Y&token=T0K",
            "googlechat",
            f"https://chat.googleapis.com/v1/spaces/AAA/messages?key={MASK}&token={MASK}",
        ),
        (
            "https://x.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/9/triggers/manual/"
            "paths/invoke?api-version=1&sig=S1G",
            "teams",
            "https://x.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/9/triggers/manual/"
            f"paths/invoke?api-version={MASK}&sig={MASK}",
        ),
    ],
)
def test_an_address_is_shown_without_its_tokens(stored: str, kind: str, shown: str) -> None:
    assert address(stored, kind) == shown


def test_an_unparsable_address_is_shown_as_the_mask_only() -> None:
    assert address("http://[::1/x?token=abc") == MASK
