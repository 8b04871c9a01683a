"""The ``townhall`` command: typer app and entry point.

This package owns the command line. Each command group lives in its own module (``serve``,
``demo``, ``db``, ``consumers``, ``docs``); this module only assembles them. Commands build
settings, databases and apps when they run, never at import, and report errors as one red line
with a non-zero exit code; ``docs/reference/cli.md`` is generated from their ``--help``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from townhall import __version__

# Modules, not their functions: `townhall.cli.serve` must stay the module, for tests to patch.
from townhall.cli import (
    addresses,
    audit,
    consumers,
    db,
    demo,
    docs,
    events,
    keys,
    people,
    serve,
    staff,
)

app = typer.Typer(
    name="townhall",
    no_args_is_help=True,
    # Completion options would make the generated reference depend on the shell it ran in.
    add_completion=False,
    # Locals in a traceback can hold the database URL's password or the secret key.
    pretty_exceptions_show_locals=False,
    rich_markup_mode="markdown",
)
app.command()(serve.serve)
app.command()(demo.demo)
app.add_typer(db.db_app)
app.add_typer(consumers.consumers_app)
app.add_typer(keys.keys_app)
app.add_typer(staff.staff_app)
app.add_typer(addresses.addresses_app)
app.add_typer(events.events_app)
app.add_typer(audit.audit_app)
app.add_typer(people.people_app)
app.add_typer(docs.docs_app)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"townhall {__version__}")
        raise typer.Exit


@app.callback()
def _options(
    _version: Annotated[
        bool | None,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Show the version and exit."
        ),
    ] = None,
) -> None:
    """Townhall: a council's core records through consistent, secured, documented APIs.

    Settings come from TOWNHALL_* environment variables; see docs/reference/settings.md.
    """


def main() -> None:
    """Run the ``townhall`` command (the console script's entry point)."""
    app()
