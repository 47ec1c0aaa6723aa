"""Per-target payload templates (pure): Jinja2 in an immutable sandbox, bounded in size, time and output.

A policy author writes the template, so it is hostile input: it runs in ``ImmutableSandboxedEnvironment``
(no attribute tricks, no mutation of the data), without the globals and filters that build large values
(``namespace``, ``lipsum``, ``center``, ``batch``...), with ``*``, ``**`` and ``%`` checked before they run,
with a clock check at the top of every loop iteration and block, and with its output capped.
The context is the Default payload: ``type``, ``occur_at``, ``operator``, ``event_data``, and all of it as
``payload`` (``{{ payload | tojson }}``).
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

from jinja2 import TemplateError as JinjaError
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_TEMPLATE_BYTES = 16 * 1024
MAX_OUTPUT_BYTES = 256 * 1024
RENDER_SECONDS = 0.1
# String methods whose output size is chosen by an argument (a width, a format spec): not callable.
_SIZED_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "format", "format_map", "replace"})
_DROPPED_FILTERS = ("center", "format", "indent", "wordwrap", "batch", "slice", "replace")
_DROPPED_GLOBALS = ("namespace", "lipsum", "cycler", "joiner")


class TemplateError(ValueError):
    """The template cannot be compiled or rendered; the message says why (never quoting event data at length)."""


class RenderTimeout(TemplateError):
    """Rendering took longer than its bound."""


_deadline = threading.local()


class _TickingCodeGenerator(CodeGenerator):
    """Compiled templates check the render deadline at the start of every block body, so every loop
    iteration (and every macro call) passes a check: no template loops past its time."""

    def blockvisit(self, nodes: Any, frame: Frame) -> None:
        self.writeline("environment.tick()")
        super().blockvisit(nodes, frame)


class _Environment(ImmutableSandboxedEnvironment):
    code_generator_class = _TickingCodeGenerator
    intercepted_binops = frozenset({"*", "**", "%"})

    def tick(self) -> None:
        limit = getattr(_deadline, "at", None)
        if limit is not None and time.monotonic() > limit:
            raise RenderTimeout(f"rendering took longer than {RENDER_SECONDS * 1000:.0f} ms")

    def wrap_str_format(self, value: Any) -> None:
        # str.format and format_map take widths: they are refused (is_safe_attribute), not wrapped.
        return None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in _SIZED_METHODS:
            return False
        return bool(super().is_safe_attribute(obj, attr, value))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                sized = isinstance(sequence, str | list | tuple) and isinstance(count, int)
                if sized and len(sequence) * count > MAX_OUTPUT_BYTES:
                    raise SecurityError("the result of * would be too large")
            return left * right
        if operator == "**":
            if not isinstance(right, int | float) or abs(right) > 64 or not isinstance(left, int | float):
                raise SecurityError("** takes numbers, with an exponent of at most 64")
            if abs(left) > 2**64:
                raise SecurityError("** takes a base of at most 2**64")
            return left**right
        if operator == "%":
            if isinstance(left, str):
                raise SecurityError("string formatting with % is not available in templates")
            return left % right
        return super().call_binop(context, operator, left, right)


def _environment() -> _Environment:
    env = _Environment(autoescape=False, keep_trailing_newline=True)
    for name in _DROPPED_FILTERS:
        env.filters.pop(name, None)
    for name in _DROPPED_GLOBALS:
        env.globals.pop(name, None)
    return env


_ENV = _environment()


def check_size(text: str) -> None:
    """Raise TemplateError when ``text`` is longer than MAX_TEMPLATE_BYTES (UTF-8)."""
    if len(text.encode("utf-8")) > MAX_TEMPLATE_BYTES:
        raise TemplateError(f"is longer than {MAX_TEMPLATE_BYTES} bytes")


@functools.lru_cache(maxsize=256)
def _compiled(text: str) -> Any:
    try:
        return _ENV.from_string(text)
    except JinjaError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise TemplateError(f"does not compile{where}: {_short(exc)}") from None


def render(text: str, default: dict[str, Any], seconds: float = RENDER_SECONDS) -> str:
    """``text`` rendered over the Default payload ``default``; raises TemplateError (RenderTimeout) when it is
    too long, does not compile, fails, runs longer than ``seconds`` or writes more than MAX_OUTPUT_BYTES."""
    check_size(text)
    template = _compiled(text)
    context = {**default, "payload": default}
    _deadline.at = time.monotonic() + seconds
    try:
        parts: list[str] = []
        size = 0
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT_BYTES:
                raise TemplateError(f"writes more than {MAX_OUTPUT_BYTES} bytes")
            parts.append(chunk)
        _ENV.tick()
        return "".join(parts)
    except TemplateError:
        raise
    except SecurityError as exc:
        raise TemplateError(f"is not allowed: {_short(exc)}") from None
    except JinjaError as exc:
        raise TemplateError(f"fails to render: {_short(exc)}") from None
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError, RecursionError) as exc:
        raise TemplateError(f"fails to render: {type(exc).__name__}: {_short(exc)}") from None
    finally:
        _deadline.at = None


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


_SAMPLE_TIME = 1767225600  # 2026-01-01T00:00:00Z
_SAMPLE_DIGEST = "sha256:6e0801e933911f55adeb296638b421b3365c8d9b85dff219f74eb2d5d52add99"
_SAMPLE_ARTIFACT = {
    "resources": [
        {"digest": _SAMPLE_DIGEST, "tag": "3.19", "resource_url": "registry.example.com/library/alpine:3.19"}
    ],
    "repository": {
        "date_created": _SAMPLE_TIME,
        "name": "alpine",
        "namespace": "library",
        "repo_full_name": "library/alpine",
        "repo_type": "public",
    },
}
_SAMPLE_DATA: dict[str, dict[str, Any]] = {
    "WEBHOOK_TARGET_DISABLED": {
        "policy": {"id": 1, "name": "ci", "project_id": 1},
        "target": {"index": 0, "type": "http", "address": "https://ci.example.com/hook"},
        "reason": "every attempt failed since 2025-12-27T00:00:00+00:00 (10 attempts)",
        "failing_since": _SAMPLE_TIME - 5 * 86400,
        "consecutive_failures": 10,
    }
}


def sample_payload(event_type: str) -> dict[str, Any]:
    """A Default payload of ``event_type`` as a template sees it, to check a template when it is saved."""
    data = _SAMPLE_DATA.get(event_type, _SAMPLE_ARTIFACT)
    return {"type": event_type, "occur_at": _SAMPLE_TIME, "operator": "admin", "event_data": data}
