"""gunicorn entry point (``gunicorn wsgi:app``) and the ``flask --app wsgi`` CLI (db, hooks, secrets, users)."""

from app import create_app
from jobs.cli import hooks, secrets
from jobs.users_cli import users

app = create_app()
app.cli.add_command(hooks)
app.cli.add_command(secrets)
app.cli.add_command(users)
