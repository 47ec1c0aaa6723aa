"""Use cases: each owns its transaction; no Flask request, no marshmallow."""
