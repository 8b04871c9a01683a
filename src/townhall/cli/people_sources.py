"""``townhall people``: the commands for source systems and their syncs.

This module owns ``townhall people sources`` (list, show, add, update) and ``townhall people
sync``. Registering a source is an operator's job on the instance: its settings come from a JSON
or TOML file (see docs/people-sources.md), checked against the connector's own settings before
they are kept, and a bad setting is one red line naming it. A sync shows a progress bar on a
terminal and logs its progress elsewhere.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from townhall.cli.console import console, database_errors, fail, load_settings, open_database
from townhall.domains.people import sources
from townhall.domains.people.sync import SyncFailed, SyncReport, sync_sources
from townhall.errors import TownhallError, ValidationFailed
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest
from townhall.platform.logging import configure_logging
from townhall.platform.progress import build_progress

sources_app = typer.Typer(
    name="sources",
    help="The council's systems holding records of people, and how each is read.",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The source's name (housing).")]
ConfigFile = Annotated[
    Path | None,
    typer.Argument(
        metavar="FILE",
        help="A JSON or TOML file with name, label, connector, trust and settings.",
        show_default=False,
    ),
]
LabelOption = Annotated[str | None, typer.Option(help="What people call it.", show_default=False)]
TrustOption = Annotated[
    int | None, typer.Option(help="Its trust rank: 1 is the most trusted.", show_default=False)
]


@contextmanager
def _database() -> Iterator[Database]:
    """The instance's database; a refused change is one red line."""
    settings = load_settings()
    database = open_database(settings)
    try:
        with database_errors(settings.database_url):
            try:
                yield database
            except ValidationFailed as exc:
                problems = "; ".join(f"{error.field}: {error.message}" for error in exc.errors)
                fail(f"{exc.detail} {problems}")
            except TownhallError as exc:
                fail(exc.detail)
    finally:
        database.dispose()


def read_config_file(path: Path) -> dict[str, Any]:
    """A source's definition from a JSON or TOML file (by its suffix); fails on a bad file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{path} cannot be read: {exc.strerror}")
    try:
        found = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        fail(f"{path} is not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'}: {exc}")
    if not isinstance(found, dict):
        fail(f"{path} must hold an object with name, label, connector, trust and settings.")
    return found


@sources_app.command("list")
def list_sources() -> None:
    """List the source systems, most trusted first, with their records and latest sync."""
    with _database() as database:
        standings = [
            sources.source_standing(database, s.name) for s in sources.all_sources(database)
        ]
    if not standings:
        console().print(
            "No source systems are registered: add one with `townhall people sources add`."
        )
        return
    table = Table(title="Source systems")
    for column in ("Trust", "Name", "Label", "Connector", "Records", "Last sync", "Refused"):
        table.add_column(
            column, justify="right" if column in ("Trust", "Records", "Refused") else "left"
        )
    for standing in standings:
        last = standing.last_sync
        table.add_row(
            str(standing.source.trust),
            standing.source.name,
            standing.source.label,
            standing.source.connector,
            f"{standing.records:,}",
            "never" if last is None else f"{last.status} {last.started_at:%Y-%m-%d %H:%M}",
            "" if last is None else f"{last.refused:,}",
        )
    console().print(table)


@sources_app.command("show")
def show_source(name: NameArgument) -> None:
    """Show a source's settings (no secrets), position and latest syncs."""
    with _database() as database:
        standing = sources.source_standing(database, name)
        syncs = sources.list_syncs(database, name, PageRequest(limit=10)).items
    source = standing.source
    console().print(f"[bold]{source.label}[/bold] ({source.name}), trust {source.trust}")
    console().print(f"Records: {standing.records:,}; position: {source.position or 'not read yet'}")
    console().print_json(json.dumps(source.connector_instance().describe()))
    table = Table(title="Latest syncs")
    for column in ("Id", "Status", "Started", "Read", "Added", "Changed", "Unchanged", "Refused"):
        table.add_column(column)
    for sync in syncs:
        table.add_row(
            str(sync.id), sync.status, f"{sync.started_at:%Y-%m-%d %H:%M:%S}",
            *(f"{count:,}" for count in (sync.rows_read, sync.added, sync.changed,
                                         sync.unchanged, sync.refused)),
        )  # fmt: skip
    console().print(table)
    for sync in syncs[:1]:
        for problem in sync.problems[:20]:
            console().print(
                f"refused {problem['position']} {problem['column'] or ''}: {problem['reason']}"
            )
        if sync.error:
            console().print(f"error: {sync.error}", style="red")


@sources_app.command("add")
def add_source(
    file: ConfigFile = None,
    name: Annotated[str | None, typer.Option(help="Its short name.", show_default=False)] = None,
    label: LabelOption = None,
    connector: Annotated[
        str | None, typer.Option(help="How it is read: csv or sql.", show_default=False)
    ] = None,
    trust: TrustOption = None,
) -> None:
    """Register a source system from a JSON or TOML file; options replace the file's values."""
    found = read_config_file(file) if file is not None else {}
    values = {
        "name": name or found.get("name"),
        "label": label or found.get("label"),
        "connector": connector or found.get("connector"),
        "trust": trust if trust is not None else found.get("trust"),
    }
    missing = [key for key, value in values.items() if value is None]
    if missing or "settings" not in found:
        missing += [] if "settings" in found else ["settings (in the file)"]
        fail(f"A source needs {', '.join(missing)}.")
    if not isinstance(found["settings"], dict):
        fail("settings must be an object of the connector's settings.")
    rank = values["trust"]
    if not isinstance(rank, int) or isinstance(rank, bool):
        fail("trust must be a whole number (1 is the most trusted).")
    with _database() as database:
        source = sources.register_source(
            database,
            name=str(values["name"]),
            label=str(values["label"]),
            connector=str(values["connector"]),
            config=found["settings"],
            trust=rank,
        )
    console().print(
        f"Registered {source.name} ({source.label}): "
        f"sync it with `townhall people sync {source.name}`."
    )


@sources_app.command("update")
def update_source(
    name: NameArgument,
    file: ConfigFile = None,
    label: LabelOption = None,
    trust: TrustOption = None,
) -> None:
    """Change a source's settings (from a file's settings), label or trust; its records stay."""
    found = read_config_file(file) if file is not None else {}
    settings = found.get("settings")
    if file is not None and not isinstance(settings, dict):
        fail(f"{file} has no settings object.")
    with _database() as database:
        source = sources.update_source(
            database,
            name,
            label=label or found.get("label"),
            config=settings,
            trust=trust if trust is not None else found.get("trust"),
        )
    console().print(f"Updated {source.name} ({source.label}), trust {source.trust}.")


def sync(
    names: Annotated[
        list[str] | None,
        typer.Argument(metavar="[NAME]...", help="The sources to sync.", show_default=False),
    ] = None,
    all_sources: Annotated[
        bool, typer.Option("--all", help="Sync every source, most trusted first.")
    ] = False,
) -> None:
    """Read what changed in source systems since their last sync, and keep it.

    New records are added, changed ones get a new version (the old one is kept), and rows that
    cannot be read are refused with a reason (`townhall people sources show NAME`).
    """
    if bool(names) == all_sources:
        fail("Name the sources to sync, or give --all (not both).")
    settings = load_settings()
    configure_logging(settings)
    reports: list[SyncReport] = []
    with _database() as database:
        wanted = (
            [source.name for source in sources.all_sources(database)]
            if all_sources
            else list(names or [])
        )
        for name in wanted:
            sources.get_source(database, name)  # NotFound before any sync starts
        try:
            with build_progress(on_terminal=sys.stderr.isatty()) as progress:
                reports = sync_sources(database, wanted, progress=progress)
        except SyncFailed as exc:
            fail(f"Sync {exc.sync_id} failed: {exc}")
    table = Table(title="Syncs")
    for column in ("Source", "Sync", "Read", "Added", "Changed", "Unchanged", "Refused", "Rows/s"):
        table.add_column(column)
    for report in reports:
        s = report.sync
        table.add_row(
            s.source, str(s.id),
            *(f"{count:,}" for count in (s.rows_read, s.added, s.changed, s.unchanged, s.refused)),
            f"{report.rows_per_second:,.0f}",
        )  # fmt: skip
    console().print(table)


def register(app: typer.Typer) -> None:
    """Add the commands for source systems and their syncs to ``app``."""
    app.add_typer(sources_app)
    app.command("sync")(sync)
