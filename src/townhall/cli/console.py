"""What every command prints: rich output, one-line errors, settings read without tracebacks.

This module owns how the CLI talks to a person. Results go to standard output; errors go to
standard error as one red line and end the command with a non-zero exit code, so scripts can
rely on both. It must not start servers or touch the database itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from alembic.util import CommandError
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from townhall.platform.db import Database
from townhall.settings import Settings


def console() -> Console:
    """A console on standard output.

    Built per call rather than once at import, so it writes to whatever ``sys.stdout`` is at the
    time (a test runner swaps it).
    """
    return Console(highlight=False, soft_wrap=True)


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print ``message`` as one red line on standard error and exit with ``code``."""
    # soft_wrap keeps a long message on one line instead of folding it at the terminal's width.
    Console(stderr=True, highlight=False).print(message, style="red", markup=False, soft_wrap=True)
    raise typer.Exit(code)


def load_settings(*, council_code: str | None = None) -> Settings:
    """Read the ``TOWNHALL_*`` settings, or fail naming the variable that is wrong."""
    try:
        if council_code is None:
            return Settings()
        return Settings(council_code=council_code)
    except ValidationError as exc:
        problems = "; ".join(_describe_error(error) for error in exc.errors())
        fail(f"The settings are not valid: {problems}")


def _describe_error(error: ErrorDetails) -> str:
    variable = "TOWNHALL_" + "_".join(str(part) for part in error["loc"]).upper()
    # Pydantic prefixes a validator's own message with "Value error, "; people need only the rest.
    return f"{variable}: {error['msg'].removeprefix('Value error, ')}"


def safe_url(url: str) -> str:
    """A database URL fit to print: the password is masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(a malformed URL)"


def open_database(settings: Settings) -> Database:
    """The database the settings name, or fail when its driver is not installed."""
    try:
        return Database(settings.database_url, pool_size=settings.database_pool_size)
    except RuntimeError as exc:  # the PostgreSQL extra is missing; the message says how to add it
        fail(str(exc))
    except ArgumentError:
        fail(f"TOWNHALL_DATABASE_URL is not a database URL: {safe_url(settings.database_url)}")


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn the ways a database or a migration can fail into one-line errors."""
    try:
        yield
    except CommandError as exc:  # Alembic: an unknown revision, a revision clash, ...
        fail(f"Migration failed: {exc}")
    except SQLAlchemyError as exc:
        # The driver's own message is the useful part; SQLAlchemy appends a long footer to it.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        fail(f"Could not use the database at {safe_url(url)}: {reason}")
