"""The registry notification receiver: blueprint, envelope schemas and the event filter."""

from app.registry.views import bp

__all__ = ["bp"]
