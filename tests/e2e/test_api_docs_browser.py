"""The browsable API docs (/api/v2.0/docs) load in a real Chromium from Dockhook alone: Swagger UI's files come
from the swagger-ui-bundle package under gunicorn, the page asks nothing of any other host, needs no credentials,
and shows every operation of the OpenAPI document."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import StartDockhook
from tests.support import processes
from tests.support.browser import chromium_page

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_the_api_docs_load_offline_in_chromium_without_credentials(start_dockhook: StartDockhook) -> None:
    dockhook = start_dockhook(DOCKHOOK_API_TOKEN="d" * 40)
    status, _, raw = processes.http_request(f"{dockhook.url}/api/v2.0/openapi.json")
    assert status == 200
    operations = sum(
        1 for item in json.loads(raw)["paths"].values() for method in item if method in ("get", "post", "put", "delete")
    )
    with chromium_page() as (page, traffic):
        page.goto(f"{dockhook.url}/api/v2.0/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
        assert "Dockhook" in page.inner_text(".swagger-ui .info .title")
        page.wait_for_selector(".opblock", timeout=30_000)
        shown = page.locator(".opblock").count()
        assert shown >= operations > 30, (shown, operations)
        assert page.locator(".opblock-summary-path", has_text="/service/notifications").count() == 1
        # The Authorize button offers the API token's schemes.
        assert page.locator("button.authorize").count() == 1

    assert traffic.off_loopback == [], traffic.off_loopback
    assert [url for url in traffic.requested if "/api/v2.0/docs/assets/" in url], traffic.requested
    assert traffic.failed == [], traffic.failed
