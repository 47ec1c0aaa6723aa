"""Registry naming rules: project names and how a repository name maps to its project (pure)."""

from __future__ import annotations

import re

# Harbor's project-name rule: lower-case alphanumerics separated by single . _ or -.
PROJECT_NAME_RE = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
PROJECT_NAME_MAX = 255


def project_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid project name (Harbor's rule), or None.

    1-255 characters; lower-case alphanumerics separated by single ``.``, ``_`` or ``-``; not all digits
    (an all-digit name would be read as a project id).
    """
    if not name:
        return "a project name must not be empty"
    if len(name) > PROJECT_NAME_MAX:
        return f"a project name has at most {PROJECT_NAME_MAX} characters"
    if not PROJECT_NAME_RE.fullmatch(name):
        return "a project name is lower-case letters and digits, separated by single . _ or -"
    if name.isdigit():
        return "a project name must not be all digits (it would read as a project id)"
    return None


def split_repository(repository: str, default_project: str) -> tuple[str, str]:
    """Return ``(project, full_repository_name)`` for a registry repository name.

    The project is the first path segment; a single-segment name (``alpine``)
    belongs to ``default_project`` but keeps its own name, since that is the
    name clients pull it by on this registry.
    """
    name = repository.strip().strip("/")
    if "/" in name:
        project, _ = name.split("/", 1)
        return project, name
    return default_project, name
