"""``flask --app wsgi users create|passwd|delete|list``: local accounts, from the operator's shell."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.models import User
from app.services import passwords
from app.services import users as accounts
from app.services.errors import ServiceError

users = AppGroup("users", help="Local accounts (the API's /api/v2.0/users, for the operator's shell).")
OPERATOR = "cli"


def _password(given: str | None, generate: bool) -> tuple[str, bool]:
    if generate:
        return passwords.generate(), True
    if given is not None:
        return given, False
    return click.prompt("password", hide_input=True, confirmation_prompt=True), False


def _user(username: str) -> User:
    user = accounts.by_name(username)
    if user is None:
        raise click.ClickException(f"no user named {username}")
    return user


@users.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the account a system administrator.")
@click.option("--password", "given", envvar="DOCKHOOK_NEW_PASSWORD", help="Else prompted (or DOCKHOOK_NEW_PASSWORD).")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
@click.option("--if-missing", is_flag=True, help="Do nothing (successfully) when the account exists.")
def create_command(username: str, admin: bool, given: str | None, generate: bool, if_missing: bool) -> None:
    """Create an account; its password is stored as an Argon2id hash only."""
    if if_missing and accounts.by_name(username) is not None:
        click.echo(f"user {username} exists")
        return
    password, generated = _password(given, generate)
    try:
        accounts.create(username, password, sysadmin=admin, operator=OPERATOR)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created user {username}{' (system administrator)' if admin else ''}")
    if generated:
        click.echo(f"password: {password}  (shown once; Dockhook keeps only its hash)")


@users.command("passwd")
@click.argument("username")
@click.option("--password", "given", envvar="DOCKHOOK_NEW_PASSWORD", help="Else prompted (or DOCKHOOK_NEW_PASSWORD).")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
def passwd_command(username: str, given: str | None, generate: bool) -> None:
    """Set an account's password."""
    user = _user(username)
    password, generated = _password(given, generate)
    try:
        accounts.set_password(user, password, operator=OPERATOR)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"password of {username} changed")
    if generated:
        click.echo(f"password: {password}  (shown once; Dockhook keeps only its hash)")


@users.command("delete")
@click.argument("username")
def delete_command(username: str) -> None:
    """Delete an account and its project memberships."""
    accounts.delete(_user(username), operator=OPERATOR)
    click.echo(f"deleted user {username}")


@users.command("list")
def list_command() -> None:
    """Every account: name, and whether it is a system administrator."""
    page = 1
    while True:
        rows, total = accounts.page(page, 100)
        for user in rows:
            click.echo(f"{user.username}\t{'admin' if user.sysadmin_flag else 'user'}")
        if page * 100 >= total:
            break
        page += 1
