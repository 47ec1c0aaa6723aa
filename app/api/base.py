"""The flask-smorest Api and Blueprint, with Harbor's error shape and 400 (not 422) for bad arguments; the
helpers every resource shares (the project a path names, Harbor's 201)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields, validate
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from app.api.bounds import document_setting_bounds
from app.errors import from_http_exception, from_service_error
from app.models import Project
from app.services import projects
from app.services.errors import ServiceError

# How API clients authenticate (app/api/auth.py, app/services/signin.py): an account or a robot with HTTP Basic
# (what Harbor's clients send), a robot's generated secret or the bootstrap API token as a Bearer token. Either
# scheme will do: the document lists them as alternatives.
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "On /api: Bearer <a robot secret Dockhook generated> or Bearer <DOCKHOOK_API_TOKEN> (a system "
        "administrator). On /service/notifications: Bearer <DOCKHOOK_NOTIFY_TOKEN>",
    },
    "basicAuth": {
        "type": "http",
        "scheme": "basic",
        "description": "HTTP Basic: an account's name and password, a robot's full name (robot$...) and secret, or "
        "any name with DOCKHOOK_API_TOKEN as the password, as Harbor clients send",
    },
}
# Answers any API operation may give before its view runs (app/api/auth.py and app/api/access.py).
SIGN_IN_ANSWERS = {
    "401": "No credentials, or credentials that do not sign in (WWW-Authenticate says how to sign in)",
    "403": "Signed in, without the permission this operation needs",
    "429": "Too many failed sign-ins from this address or for this account (Retry-After says when to try again)",
}

# Path ids are 32-bit (PostgreSQL's integer): a larger number matches no route (404) instead of failing in the
# database. Use as ``f"<{ID}:policy_id>"``.
ID = f"int(max={2**31 - 1})"


class AsciiIntegerConverter(IntegerConverter):
    """werkzeug's ``int``, in ASCII digits only: its ``\\d+`` also matches ``١٢`` (Arabic-Indic digits, read as 12)."""

    regex = r"[0-9]+"


RESOURCE_NAME_HEADER = "X-Is-Resource-Name"
# Documented on every /api/v2.0 path that names a project (the 1.x paths take a numeric id only).
RESOURCE_NAME_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": RESOURCE_NAME_HEADER,
    "required": False,
    "schema": {"type": "boolean", "default": False},
    "description": "true: the project in the path is a name, even when it is all digits. Otherwise a number is "
    "read as a project id first, then as a name.",
}


class ErrorItemSchema(Schema):
    code = fields.String(
        required=True,
        metadata={"description": "BAD_REQUEST, UNAUTHORIZED, NOT_FOUND, CONFLICT, PRECONDITION, ..."},
    )
    message = fields.String(required=True)


class HarborErrorSchema(Schema):
    """Every error answer: ``{"errors": [{"code": ..., "message": ...}]}`` (Harbor 2.x)."""

    errors = fields.List(fields.Nested(ErrorItemSchema), required=True, validate=validate.Length(min=1))


class _Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400


class HarborBlueprint(Blueprint):
    ARGUMENTS_PARSER = _Parser()


class HarborApi(Api):
    """Every HTTP error as ``{"errors": [{"code", "message"}]}``; service errors mapped here, once.

    The OpenAPI document declares the API token's two schemes and requires one of them everywhere.
    """

    ERROR_SCHEMA = HarborErrorSchema

    def init_app(self, app: Flask, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        security: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]
        # Before any blueprint adds its rules: every <int:...> in a path takes ASCII digits only.
        app.url_map.converters["int"] = AsciiIntegerConverter
        super().init_app(app, spec_kwargs={"security": security, **(spec_kwargs or {})})
        # Bounds that are settings (DOCKHOOK_MAX_TARGETS) are documented with this app's values.
        self.ma_plugin.converter.add_attribute_function(document_setting_bounds(app))
        for name, scheme in SECURITY_SCHEMES.items():
            self.spec.components.security_scheme(name, scheme)

    def _register_error_handlers(self) -> None:
        super()._register_error_handlers()
        self._app.register_error_handler(ServiceError, self.handle_service_error)

    def handle_http_exception(self, error: HTTPException) -> Any:
        return from_http_exception(error)

    def handle_service_error(self, error: ServiceError) -> Response:
        return from_service_error(error)


def document_sign_in_answers(spec: Any) -> None:
    """Add 401, 403 and 429 (Harbor's error shape, with their headers) to every operation of the API."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/HarborError"}}}
    headers = {
        "401": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "how to sign in"}},
        "429": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds until sign-in is tried again"}},
    }
    for path, operations in spec._paths.items():
        if not path.startswith("/api/") or path == "/api/v2.0/openapi.json":
            continue
        for method, operation in operations.items():
            if method not in ("get", "put", "post", "delete", "patch", "head") or not isinstance(operation, dict):
                continue
            for status, description in SIGN_IN_ANSWERS.items():
                answer: dict[str, Any] = {"description": description, "content": error}
                if status in headers:
                    answer["headers"] = headers[status]
                operation.setdefault("responses", {}).setdefault(status, answer)


def project(name_or_id: str) -> Project:
    """The project a path names: by id or name, or by name only when ``X-Is-Resource-Name: true`` came with a
    /api/v2.0 request (Harbor 2.3+); raises NotFound."""
    is_name = request.path.startswith("/api/v2.0/") and request.headers.get(
        RESOURCE_NAME_HEADER, ""
    ).strip().lower() in ("true", "1")
    return projects.get(name_or_id, is_name=is_name)


def created(location: str) -> Response:
    """Harbor's 201: ``Location`` names the new resource, and the body is empty (typed JSON, as every answer)."""
    return Response(b"", status=201, headers={"Location": location}, content_type="application/json")
