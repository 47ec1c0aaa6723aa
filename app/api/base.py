"""The flask-smorest Api and Blueprint, with Harbor's error shape and 400 (not 422) for bad arguments."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from flask_smorest import Api, Blueprint
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from app.errors import from_http_exception, from_service_error
from app.services.errors import ServiceError

# How API clients authenticate (app/api/auth.py): the API token as a Bearer token, or as the password of
# HTTP Basic, which is what Harbor's clients send. Either one will do: the document lists them as alternatives.
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "Authorization: Bearer <DOCKHOOK_API_TOKEN>",
    },
    "basicAuth": {
        "type": "http",
        "scheme": "basic",
        "description": "HTTP Basic with DOCKHOOK_API_TOKEN as the password (any user name), as Harbor clients send",
    },
}


class _Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400


class HarborBlueprint(Blueprint):
    ARGUMENTS_PARSER = _Parser()


class HarborApi(Api):
    """Every HTTP error as ``{"errors": [{"code", "message"}]}``; service errors mapped here, once.

    The OpenAPI document declares the API token's two schemes and requires one of them everywhere.
    """

    def init_app(self, app: Flask, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        security: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]
        super().init_app(app, spec_kwargs={"security": security, **(spec_kwargs or {})})
        for name, scheme in SECURITY_SCHEMES.items():
            self.spec.components.security_scheme(name, scheme)

    def _register_error_handlers(self) -> None:
        super()._register_error_handlers()
        self._app.register_error_handler(ServiceError, self.handle_service_error)

    def handle_http_exception(self, error: HTTPException) -> Any:
        return from_http_exception(error)

    def handle_service_error(self, error: ServiceError) -> Response:
        return from_service_error(error)
