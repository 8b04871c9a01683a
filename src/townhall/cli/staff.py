"""``townhall staff``: create, list and disable the accounts staff sign in to the portal with.

This module owns the commands an administrator runs on the instance. The rules (one account per
email address, known roles, passwords of 12 characters or more, argon2id) live in
``townhall.platform.auth.staff``; this module reads options and the password, calls the services,
and prints. A password is asked for twice without being shown, or read from standard input with
``--password-stdin`` for scripts; it is never taken as an option, where it would be kept in the
shell's history and shown in the process list. Changes are recorded as made by ``cli:<user>``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from townhall.cli.console import console, database_errors, fail, load_settings, open_database
from townhall.cli.consumers import actor
from townhall.errors import TownhallError, ValidationFailed
from townhall.platform.auth.sign_in_models import StaffRole
from townhall.platform.auth.staff import (
    StaffMember,
    create_staff_account,
    disable_staff_account,
    list_staff_accounts,
)

staff_app = typer.Typer(
    name="staff",
    help="Create, list and disable the accounts staff sign in to the portal with.",
    no_args_is_help=True,
)

EmailArgument = Annotated[
    str,
    typer.Argument(metavar="EMAIL", help="The staff member's email address.", show_default=False),
]


def _describe(error: TownhallError) -> str:
    if isinstance(error, ValidationFailed):
        return "; ".join(f"--{e.field}: {e.message}" for e in error.errors)
    return error.detail


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line: the newline that ends it is not part of the password.
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@staff_app.command()
def create(
    email: EmailArgument,
    name: Annotated[
        str, typer.Option("--name", help="The name shown in the portal.", show_default=False)
    ],
    role: Annotated[
        StaffRole,
        typer.Option("--role", help="What the person does, which decides what they may do."),
    ],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of standard input instead of asking.",
        ),
    ] = False,
) -> None:
    """Create a staff account that signs in at /staff/sign-in with a password.

    The password is asked for twice without being shown (12 characters or more).
    """
    password = _read_password(password_stdin)
    settings = load_settings()
    database = open_database(settings)
    try:
        with database_errors(settings.database_url):
            member = create_staff_account(
                database,
                email=email,
                display_name=name,
                role=role.value,
                password=password,
                actor=actor(),
                now=datetime.now(UTC),
            )
    except TownhallError as exc:
        fail(f"The account was not created: {_describe(exc)}")
    finally:
        database.dispose()
    console().print(f"Created {member.id} for {member.email} ({member.role.label}).")


@staff_app.command("list")
def list_accounts() -> None:
    """List every staff account: id, email address, name, role, and whether it may sign in."""
    settings = load_settings()
    database = open_database(settings)
    try:
        with database_errors(settings.database_url):
            members = list_staff_accounts(database)
    finally:
        database.dispose()
    if not members:
        console().print("There are no staff accounts: create one with `townhall staff create`.")
        return
    table = Table(box=None)
    # Ids and addresses are copied into other commands: never wrapped or cut short.
    table.add_column("id", no_wrap=True)
    table.add_column("email", no_wrap=True)
    table.add_column("name")
    # The role as --role takes it.
    table.add_column("role", no_wrap=True)
    table.add_column("status", no_wrap=True)
    now = datetime.now(UTC)
    for member in members:
        table.add_row(
            member.id,
            member.email,
            member.display_name,
            member.role.value,
            _status(member, now),
        )
    console().print(table)


def _status(member: StaffMember, now: datetime) -> str:
    if not member.enabled:
        return "disabled"
    if member.locked_until is not None and member.locked_until > now:
        return f"locked until {member.locked_until:%H:%M}Z"
    return "enabled"


@staff_app.command()
def disable(email: EmailArgument) -> None:
    """Stop a staff account signing in, and end the sessions it has open now."""
    settings = load_settings()
    database = open_database(settings)
    try:
        with database_errors(settings.database_url):
            member = disable_staff_account(
                database, email=email, actor=actor(), now=datetime.now(UTC)
            )
    except TownhallError as exc:
        fail(f"Nothing was disabled: {_describe(exc)}")
    finally:
        database.dispose()
    console().print(f"Disabled {member.id} ({member.email}): it can no longer sign in.")
