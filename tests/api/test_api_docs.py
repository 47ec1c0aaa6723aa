"""/api/v2.0/docs: Swagger UI from the swagger-ui-bundle package, public (it holds no data), pointing at the
packaged files and never at a CDN or an online validator; every operation of the document is described."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

TOKEN = "k" * 40


def test_the_docs_page_and_its_files_need_no_token_and_name_no_other_host(make_app: Callable[..., Flask]) -> None:
    client = make_app(api_token=TOKEN).test_client()
    page = client.get("/api/v2.0/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.text
    assert "/api/v2.0/docs/assets/swagger-ui-bundle.js" in html and "/api/v2.0/openapi.json" in html
    assert "http://" not in html and "https://" not in html and "cdn" not in html.lower(), html
    assert '"validatorUrl": null' in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        response = client.get(f"/api/v2.0/docs/assets/{asset}")
        assert response.status_code == 200 and len(response.data) > 10_000, asset
    # Only the package's folder is served; the rest of the API still needs the token.
    assert client.get("/api/v2.0/docs/assets/../../../app/config.py").status_code == 404
    assert client.get("/api/v2.0/docs/assets/%2e%2e/__init__.py").status_code == 404
    assert client.get("/api/v2.0/projects").status_code == 401


def test_every_operation_has_a_summary(make_app: Callable[..., Flask]) -> None:
    document = make_app().test_client().get("/api/v2.0/openapi.json").json
    undescribed = [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "put", "post", "delete", "head", "patch")
        and not (operation.get("summary") or operation.get("description"))
    ]
    assert undescribed == []
    health = document["paths"]["/api/v2.0/health"]["get"]
    assert health["security"] == [] and document["paths"]["/api/v2.0/ping"]["get"]["security"] == []
