"""gunicorn entry point (``gunicorn wsgi:app``) and the ``flask --app wsgi`` CLI (db, hooks)."""

from app import create_app
from jobs.cli import hooks

app = create_app()
app.cli.add_command(hooks)
