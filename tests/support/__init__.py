"""Helpers shared by the test suites: databases, fixture replay, free ports."""
