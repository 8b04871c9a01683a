"""``townhall serve``: check the schema, then run the API and portal under uvicorn.

This module owns starting the web server, for ``serve`` and for ``demo``. It refuses a database
whose schema is not at the code's migration head (it never migrates: ``townhall db upgrade`` is a
deliberate step), and it leaves logging to Townhall, which writes its own access log.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from townhall.app import create_app
from townhall.cli.console import console, database_errors, fail, load_settings, open_database
from townhall.platform.logging import configure_logging
from townhall.platform.migrations import alembic_config, current_revision, head_revision
from townhall.reference import environment_variable
from townhall.settings import Settings

APP_FACTORY = "townhall.app:create_app_from_environment"

HostOption = Annotated[
    str, typer.Option(help="Address to listen on; 0.0.0.0 listens on every interface.")
]
PortOption = Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")]
WorkersOption = Annotated[
    int,
    typer.Option(
        min=1,
        help="Worker processes. Each builds its own app from the TOWNHALL_* environment.",
    ),
]


def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    workers: WorkersOption = 1,
) -> None:
    """Serve the API and the portal from the database that is already there.

    The database schema must be at the newest migration: run `townhall db upgrade` first.
    Settings come from TOWNHALL_* environment variables (see docs/reference/settings.md).
    """
    settings = load_settings()
    require_schema_at_head(settings)
    run_server(settings, host=host, port=port, workers=workers)


def require_schema_at_head(settings: Settings) -> None:
    """Fail, telling the user what to run, unless the database's schema is at the head."""
    missing = _missing_sqlite_file(settings.database_url)
    if missing is not None:
        fail(
            f"There is no database at {missing}: run `townhall db upgrade` to create one "
            "(or `townhall demo` to build a synthetic borough)."
        )
    database = open_database(settings)
    try:
        with database_errors(settings.database_url):
            revision = current_revision(database)
    finally:
        database.dispose()
    head = head_revision()
    if revision == head:
        return
    if revision is None:
        fail("The database has no schema yet: run `townhall db upgrade` first.")
    if revision not in _known_revisions():
        fail(
            f"The database schema is at {revision}, which this version of Townhall does not "
            f"know (its newest is {head}): install the newer Townhall that migrated it."
        )
    fail(
        f"The database schema is at {revision} but this version of Townhall needs {head}: "
        "run `townhall db upgrade` first."
    )


def run_server(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Run uvicorn with ``workers`` processes until it is stopped."""
    try:
        # Built even when workers build their own, so a bad configuration (production without a
        # secret key) stops here with one line instead of in every worker, over and over.
        app = create_app(settings)
    except RuntimeError as exc:
        fail(str(exc))
    configure_logging(settings)
    plural = "worker" if workers == 1 else "workers"
    console().print(
        f"Serving [bold]{escape(settings.council_name)}[/] at [bold]{_base_url(host, port)}[/] "
        f"({workers} {plural}; API reference at /api/docs). Press Ctrl+C to stop."
    )
    # Uvicorn's own logging config and access log are off: Townhall configured logging above and
    # writes an access line per request with the route template instead of the raw path.
    if workers == 1:
        uvicorn.run(app, **_uvicorn_options(host, port))
        return
    app.state.townhall.database.dispose()
    # Workers are fresh processes that read their settings from the environment, so whatever
    # this process was given (such as `demo --council`) is handed down that way.
    os.environ.update(settings_environment(settings))
    uvicorn.run(APP_FACTORY, factory=True, workers=workers, **_uvicorn_options(host, port))


def _uvicorn_options(host: str, port: int) -> dict[str, Any]:
    # No `Server:` header: naming the server software only helps an attacker.
    return {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "server_header": False,
    }


def settings_environment(settings: Settings) -> dict[str, str]:
    """The ``TOWNHALL_*`` variables that rebuild ``settings`` in another process."""
    environment: dict[str, str] = {}
    for name in sorted(settings.model_fields_set):
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        # Strings (enums included) go as they are; anything else as JSON, which pydantic-settings
        # reads back for numbers, booleans and collections alike.
        text = str(value) if isinstance(value, str) else json.dumps(value)
        environment[environment_variable(name)] = text
    return environment


def _base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def _missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file a URL names when it does not exist (checked so serve never creates one)."""
    try:
        parsed = make_url(url)
    except ArgumentError:  # reported by open_database, with the variable to fix
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in {None, "", ":memory:"}:
        return None
    path = Path(parsed.database or "")
    return None if path.exists() else path


def _known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return {revision.revision for revision in script.walk_revisions()}
