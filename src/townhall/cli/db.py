"""``townhall db``: bring a database's schema up to date, inspect it, and write new revisions.

This module owns the migration commands. Running revisions is ``townhall.platform.migrations``'s
job; this module adds what a person needs around it: plain reports, one-line errors, numbered
revision ids (``0001``, ``0002``...) and the committed ``HEAD`` file. ``HEAD`` holds the newest
revision id, so two branches that each add a migration conflict in git instead of leaving
Alembic with two heads after both merge (GOV.UK Notify's trick).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from argparse import Namespace
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Annotated

import typer
from alembic import command
from alembic.config import Config
from alembic.script import Script, ScriptDirectory

from townhall.cli.console import console, database_errors, fail, load_settings, open_database
from townhall.platform import migrations
from townhall.platform.db import Database
from townhall.platform.migrations import MIGRATIONS_DIR, alembic_config
from townhall.platform.retention import purge_expired

HEAD_FILE = "HEAD"

db_app = typer.Typer(
    name="db",
    help="Migrate the database schema, and write new migrations.",
    no_args_is_help=True,
)


@db_app.command()
def upgrade(
    revision: Annotated[
        str,
        typer.Argument(metavar="REVISION", help="Revision to upgrade to; the newest by default."),
    ] = "head",
) -> None:
    """Bring the database schema up to the newest migration, creating it if need be.

    The database is the one TOWNHALL_DATABASE_URL names (a SQLite file townhall.db by default).
    """
    settings = load_settings()
    database = open_database(settings)
    try:
        with database_errors(settings.database_url):
            upgrade_and_report(database, revision)
    finally:
        database.dispose()


def upgrade_and_report(database: Database, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` and say what changed (for ``db upgrade`` and ``demo``)."""
    before = migrations.current_revision(database)
    migrations.upgrade(database, revision)
    after = migrations.current_revision(database)
    if before == after:
        console().print(f"The database schema is already at {after}.")
    else:
        console().print(f"Upgraded the database schema from {before or 'nothing'} to {after}.")


@db_app.command()
def purge() -> None:
    """Delete expired sessions, one-time codes, sign-in attempts, idempotency keys, events
    and finished webhook deliveries past TOWNHALL_EVENTS_RETENTION_DAYS, and audit records past
    TOWNHALL_AUDIT_RETENTION_DAYS (up to a signed checkpoint).

    Served instances do this every hour by themselves; run it from a scheduler for a database
    no server is running against.
    """
    settings = load_settings()
    database = open_database(settings)
    try:
        with database_errors(settings.database_url):
            counts = purge_expired(
                database,
                events_kept_for=timedelta(days=settings.events_retention_days),
                audit_kept_for=timedelta(days=settings.audit_retention_days),
            )
    finally:
        database.dispose()
    for table, count in counts.items():
        console().print(f"{table}: {count:,} deleted")


@db_app.command()
def current(
    check: Annotated[
        bool, typer.Option("--check", help="Exit with code 1 unless the schema is at the head.")
    ] = False,
) -> None:
    """Show the revision the database schema is at, and the newest this code knows."""
    settings = load_settings()
    database = open_database(settings)
    try:
        with database_errors(settings.database_url):
            revision = migrations.current_revision(database)
    finally:
        database.dispose()
    head = migrations.head_revision()
    if revision == head:
        console().print(f"{revision} (head)")
        return
    shown = revision or "No schema yet"
    console().print(f"{shown} (the head is {head}): run `townhall db upgrade`.")
    if check:
        raise typer.Exit(1)


@db_app.command()
def downgrade(
    revision: Annotated[
        str,
        typer.Argument(
            metavar="REVISION", help="Revision to go back to, such as 0001, or base for none."
        ),
    ],
) -> None:
    """Take the database schema back to an earlier revision (tables it drops lose their rows)."""
    settings = load_settings()
    database = open_database(settings)
    try:
        with database_errors(settings.database_url):
            before = migrations.current_revision(database)
            migrations.downgrade(database, revision)
            after = migrations.current_revision(database)
    finally:
        database.dispose()
    if before == after:
        console().print(f"Nothing to do: the database schema is at {after or 'nothing'}.")
    else:
        console().print(
            f"Downgraded the database schema from {before or 'nothing'} to {after or 'nothing'}."
        )


@db_app.command()
def revision(
    message: Annotated[
        str,
        typer.Option(
            "--message",
            "-m",
            help="What the revision changes, as a short phrase.",
            show_default=False,
        ),
    ],
    autogenerate: Annotated[
        bool,
        typer.Option(
            "--autogenerate/--empty",
            help="Fill the revision with the differences between the models and the migrations, "
            "or leave it empty to write by hand.",
        ),
    ] = True,
) -> None:
    """Write the next numbered migration revision, for developers who changed a models.py.

    The differences are found against a scratch SQLite database migrated to the current head, so
    your own database does not matter. Read the revision before committing it: autogenerate sees
    added and dropped tables and columns, not renames. The HEAD file is updated to the new id.
    """
    with database_errors("sqlite://"):
        script = write_revision(MIGRATIONS_DIR, message, autogenerate=autogenerate)
    console().print(f"Wrote revision {script.revision}: {_shown_path(Path(script.path))}")
    console().print(f"{_shown_path(MIGRATIONS_DIR / HEAD_FILE)} now holds {script.revision}.")


def write_revision(migrations_dir: Path, message: str, *, autogenerate: bool) -> Script:
    """Write the next numbered revision into ``migrations_dir`` and record it in ``HEAD``."""
    config = _revision_config(migrations_dir)
    scripts = ScriptDirectory.from_config(config)
    heads = scripts.get_heads()
    if len(heads) > 1:
        fail(
            f"The migrations have several heads ({', '.join(sorted(heads))}): renumber the "
            "revision your branch added so it follows the other one."
        )
    revision_id = next_revision_id(scripts)
    with TemporaryDirectory(prefix="townhall-revision-") as scratch:
        database = Database(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            if autogenerate:
                # Autogenerate compares the models with a database; one built from the
                # migrations alone shows exactly what the migrations lack.
                config.attributes["engine"] = database.engine
                command.upgrade(config, "head")
            written = command.revision(
                config, message=message, autogenerate=autogenerate, rev_id=revision_id
            )
        finally:
            database.dispose()
    if not isinstance(written, Script):  # pragma: no cover - one head gives one script
        fail("Alembic did not write a revision.")
    _format_like_the_code(Path(written.path))
    (migrations_dir / HEAD_FILE).write_text(f"{written.revision}\n", encoding="utf-8")
    return written


def next_revision_id(scripts: ScriptDirectory) -> str:
    """The id after the highest numbered revision: ``0001`` for the first, then ``0002``..."""
    numbers = [
        int(script.revision) for script in scripts.walk_revisions() if script.revision.isdigit()
    ]
    return f"{max(numbers, default=0) + 1:04d}"


def _revision_config(migrations_dir: Path) -> Config:
    config = alembic_config()
    config.set_main_option("script_location", str(migrations_dir))
    config.cmd_opts = Namespace(quiet=True)  # this command reports what it wrote itself
    return config


def _format_like_the_code(path: Path) -> None:
    """Run ruff's formatter on a new revision, when the developer tools are installed."""
    if importlib.util.find_spec("ruff") is None:
        return
    # Only formatting: a lint fix would delete the `op` import an empty revision is written with.
    subprocess.run(  # noqa: S603 - our own interpreter on a file this command just wrote
        [sys.executable, "-m", "ruff", "format", "--quiet", str(path)], check=False
    )


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
