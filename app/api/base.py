"""The flask-smorest Api and Blueprint, with Harbor's error shape and 400 (not 422) for bad arguments."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Api, Blueprint
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from app.errors import from_http_exception, from_service_error
from app.services.errors import ServiceError


class _Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400


class HarborBlueprint(Blueprint):
    ARGUMENTS_PARSER = _Parser()


class HarborApi(Api):
    """Every HTTP error as ``{"errors": [{"code", "message"}]}``; service errors mapped here, once."""

    def _register_error_handlers(self) -> None:
        super()._register_error_handlers()
        self._app.register_error_handler(ServiceError, self.handle_service_error)

    def handle_http_exception(self, error: HTTPException) -> Any:
        return from_http_exception(error)

    def handle_service_error(self, error: ServiceError) -> Response:
        return from_service_error(error)
