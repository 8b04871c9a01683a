"""``townhall consumers``: register machine consumers, rotate their secrets, grant scopes.

This module owns the commands an administrator runs on the instance itself, before any consumer
exists to call the admin API (the first consumer with ``consumers:write`` is made here). The
rules live in ``townhall.platform.auth``; this module reads options, calls the services, and
prints. Changes are recorded as made by ``cli:<user>``. A secret is printed once, when it is made;
with ``--json`` only the client id and secret are printed, for scripts.
"""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Annotated

import typer
from rich.table import Table

from townhall.cli.console import console, database_errors, fail, load_settings, open_database
from townhall.errors import TownhallError
from townhall.platform.auth import client_secrets, consumers, grants
from townhall.platform.auth.consumers import ConsumerRecord
from townhall.platform.auth.grants import GrantRecord, NewGrant
from townhall.platform.auth.models import ConsumerKind
from townhall.platform.db import Database
from townhall.platform.http.pagination import MAX_LIMIT, PageRequest, Scalar
from townhall.settings import Settings

consumers_app = typer.Typer(
    name="consumers",
    help="Register the machines that call the APIs, rotate their secrets, grant their scopes.",
    no_args_is_help=True,
)

UNSTATED_PURPOSE = "Not stated (granted on the command line at registration)."

ConsumerIdArgument = Annotated[
    str, typer.Argument(metavar="ID", help="The consumer's id (con_...).", show_default=False)
]
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help='Print only {"client_id": ..., "client_secret": ...}, for scripts.'
    ),
]


def actor() -> str:
    """How the change log names the person running this command."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        user = "unknown"
    return f"cli:{user}"


@contextmanager
def _services() -> Iterator[tuple[Database, Settings]]:
    """The instance's database and settings; a refused change is a one-line error."""
    settings = load_settings()
    database = open_database(settings)
    try:
        with database_errors(settings.database_url):
            try:
                yield database, settings
            except TownhallError as exc:
                fail(exc.detail)
    finally:
        database.dispose()


def _print_credentials(client_id: str, client_secret: str) -> None:
    # Exactly these two keys: scripts read them, and nothing else belongs beside a secret.
    typer.echo(json.dumps({"client_id": client_id, "client_secret": client_secret}))


@consumers_app.command()
def create(
    name: Annotated[
        str,
        typer.Argument(metavar="NAME", help="What the consumer is, e.g. 'Parking permits'."),
    ],
    *,
    scopes: Annotated[
        str,
        typer.Option(
            help="Scopes to grant in this instance's environment, separated by spaces.",
            show_default=False,
        ),
    ] = "",
    team: Annotated[
        str | None, typer.Option(help="The team that answers for it.", show_default=False)
    ] = None,
    contact: Annotated[
        str | None,
        typer.Option(help="A mailbox of that team, for notices about access.", show_default=False),
    ] = None,
    kind: Annotated[
        ConsumerKind,
        typer.Option(help="A council service, a partner (another organisation) or a public app."),
    ] = "council_service",
    purpose: Annotated[
        str | None,
        typer.Option(
            help="What the scopes are for, in plain words (recorded on each grant).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a consumer and print its client id and secret (shown only this once)."""
    with _services() as (database, settings):
        registered = consumers.create_consumer(
            database,
            name=name,
            owning_team=team,
            contact_email=contact,
            kind=kind,
            actor=actor(),
            grants=[
                NewGrant(
                    scope=scope,
                    purpose=purpose or UNSTATED_PURPOSE,
                    environment=settings.environment.value,
                )
                for scope in _scope_list(scopes)
            ],
        )
    record = registered.consumer
    if as_json:
        _print_credentials(record.client_id, registered.client_secret)
        return
    out = console()
    out.print(f"Registered {record.name} as {record.id}.")
    out.print(f"client_id:     {record.client_id}")
    out.print(f"client_secret: {registered.client_secret}")
    out.print("Store the secret now: it is shown only this once.", style="yellow")
    for scope in _scope_list(scopes):
        out.print(f"Granted {scope} in {settings.environment.value}.")


@consumers_app.command("list")
def list_consumers() -> None:
    """List every consumer, by name."""
    with _services() as (database, _settings):
        records = _all_consumers(database)
    if not records:
        console().print("No consumers yet: register one with `townhall consumers create`.")
        return
    table = Table(box=None)
    # Ids are copied into other commands: never wrapped or cut short.
    table.add_column("id", no_wrap=True)
    for heading in ("name", "kind", "team", "enabled"):
        table.add_column(heading)
    for record in records:
        table.add_row(
            record.id,
            record.name,
            record.kind,
            record.owning_team or "-",
            "yes" if record.enabled else "no",
        )
    console().print(table)


def _all_consumers(database: Database) -> list[ConsumerRecord]:
    found: list[ConsumerRecord] = []
    after: tuple[Scalar, ...] | None = None
    while True:
        page = consumers.list_consumers(database, PageRequest(limit=MAX_LIMIT, after=after))
        found.extend(page.items)
        if page.next_position is None:
            return found
        after = page.next_position


@consumers_app.command()
def show(consumer_id: ConsumerIdArgument) -> None:
    """Show a consumer, its grants (revoked ones too) and its secrets' records."""
    with _services() as (database, _settings):
        record = consumers.get_consumer(database, consumer_id)
        held = _all_grants(database, consumer_id)
        secrets = client_secrets.list_secrets(database, consumer_id, PageRequest(limit=MAX_LIMIT))
    out = console()
    out.print(f"{record.name} ({record.id})")
    for label, value in (
        ("client_id", record.client_id),
        ("kind", record.kind),
        ("team", record.owning_team or "-"),
        ("contact", record.contact_email or "-"),
        ("enabled", "yes" if record.enabled else "no"),
        ("rate limit per minute", _or_default(record.rate_limit_per_minute)),
        ("quota per day", _or_default(record.quota_per_day)),
        ("registered", _when(record.created_at)),
    ):
        out.print(f"  {label}: {value}")
    out.print("Grants:" if held else "Grants: none")
    for grant in held:
        out.print(f"  {grant.id} {grant.scope} in {grant.environment}, {_state(grant)}")
        out.print(f"    for: {grant.purpose}")
    out.print("Secrets:")
    for secret in secrets.items:
        ends = f"until {_when(secret.expires_at)}" if secret.expires_at else "until rotated"
        out.print(f"  {secret.id} made {_when(secret.created_at)}, {ends}")


def _all_grants(database: Database, consumer_id: str) -> list[GrantRecord]:
    found: list[GrantRecord] = []
    after: tuple[Scalar, ...] | None = None
    while True:
        page = grants.list_grants(database, consumer_id, PageRequest(limit=MAX_LIMIT, after=after))
        found.extend(page.items)
        if page.next_position is None:
            return found
        after = page.next_position


@consumers_app.command()
def disable(consumer_id: ConsumerIdArgument) -> None:
    """Stop a consumer's secrets and tokens from working (within seconds for tokens)."""
    with _services() as (database, _settings):
        record = consumers.disable_consumer(database, consumer_id, actor=actor())
    console().print(f"Disabled {record.name} ({record.id}).")


@consumers_app.command()
def enable(consumer_id: ConsumerIdArgument) -> None:
    """Let a disabled consumer get tokens again."""
    with _services() as (database, _settings):
        record = consumers.enable_consumer(database, consumer_id, actor=actor())
    console().print(f"Enabled {record.name} ({record.id}).")


@consumers_app.command("rotate-secret")
def rotate_secret(
    consumer_id: ConsumerIdArgument,
    *,
    overlap_hours: Annotated[
        int,
        typer.Option(
            min=0,
            max=int(client_secrets.MAX_OVERLAP / timedelta(hours=1)),
            help="Hours the current secrets keep working; 0 stops them at once (a leaked secret).",
        ),
    ] = int(client_secrets.DEFAULT_OVERLAP / timedelta(hours=1)),
    as_json: JsonOption = False,
) -> None:
    """Give a consumer a new secret (shown only this once); its old ones stop after the overlap."""
    with _services() as (database, _settings):
        issued = client_secrets.rotate_secret(
            database, consumer_id, actor=actor(), overlap=timedelta(hours=overlap_hours)
        )
    if as_json:
        _print_credentials(issued.client_id, issued.client_secret)
        return
    out = console()
    out.print(f"client_id:     {issued.client_id}")
    out.print(f"client_secret: {issued.client_secret}")
    out.print("Store the secret now: it is shown only this once.", style="yellow")
    if issued.previous_expire_at is not None:
        out.print(f"The previous secrets stop working at {_when(issued.previous_expire_at)}.")


@consumers_app.command()
def grant(
    consumer_id: ConsumerIdArgument,
    scope: Annotated[
        str, typer.Argument(metavar="SCOPE", help="The scope, such as consumers:read.")
    ],
    *,
    purpose: Annotated[
        str,
        typer.Option(
            help="What the consumer needs the scope for, in plain words.", show_default=False
        ),
    ],
    expires: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            metavar="YYYY-MM-DD",
            help="The last day the grant is in force (it ends at midnight UTC after it).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Grant a consumer a scope in this instance's environment."""
    with _services() as (database, settings):
        record = grants.grant_scope(
            database,
            consumer_id,
            NewGrant(
                scope=scope,
                purpose=purpose,
                environment=settings.environment.value,
                expires_at=_end_of(expires) if expires is not None else None,
            ),
            approved_by=actor(),
        )
    until = f" until {_when(record.expires_at)}" if record.expires_at else ""
    console().print(f"Granted {record.scope} to {consumer_id} in {record.environment}{until}.")


@consumers_app.command()
def revoke(
    consumer_id: ConsumerIdArgument,
    scope: Annotated[str, typer.Argument(metavar="SCOPE", help="The scope to take away.")],
) -> None:
    """Revoke a consumer's grant of a scope in this instance's environment."""
    with _services() as (database, settings):
        record = grants.revoke_scope(
            database,
            consumer_id,
            scope,
            environment=settings.environment.value,
            actor=actor(),
        )
    console().print(f"Revoked {record.scope} from {consumer_id} in {record.environment}.")


def _scope_list(scopes: str) -> list[str]:
    return [scope for scope in re.split(r"[\s,]+", scopes) if scope]


def _end_of(day: datetime) -> datetime:
    return datetime.combine(day.date() + timedelta(days=1), time(0), tzinfo=UTC)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _or_default(value: int | None) -> str:
    return str(value) if value is not None else "the instance's default"


def _state(grant: GrantRecord) -> str:
    if grant.revoked_at is not None:
        return f"revoked {_when(grant.revoked_at)} by {grant.revoked_by}"
    if grant.expires_at is not None and grant.expires_at <= datetime.now(UTC):
        return f"expired {_when(grant.expires_at)}"
    return f"until {_when(grant.expires_at)}" if grant.expires_at else "in force"
