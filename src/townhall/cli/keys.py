"""``townhall keys``: list the keys that sign access tokens, and rotate them.

This module owns the commands an operator runs to see and change the instance's signing keys.
The rules (what rotation retires, and when) live in ``townhall.platform.auth.keys``; this module
reads options, calls it and prints. Only key ids, states and times are ever printed: never a
private key. Rotations are recorded in the change log as made by ``cli:<user>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import typer

from townhall.cli.console import console, database_errors, fail, load_settings, open_database
from townhall.cli.consumers import actor
from townhall.platform.auth.keys import (
    KeyDecryptionError,
    KeyInfo,
    SigningKeys,
    instance_signing_keys,
)
from townhall.settings import Settings

keys_app = typer.Typer(
    name="keys",
    help="List and rotate the keys that sign access tokens.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON, for scripts.")]


@contextmanager
def _signing_keys() -> Iterator[tuple[SigningKeys, Settings]]:
    settings = load_settings()
    database = open_database(settings)
    try:
        with database_errors(settings.database_url):
            try:
                yield instance_signing_keys(settings, database), settings
            except KeyDecryptionError as exc:
                fail(str(exc))
    finally:
        database.dispose()


@keys_app.command("list")
def list_keys(as_json: JsonOption = False) -> None:
    """List the signing keys, newest first, with their state and when they retire.

    An active key signs new tokens; a retiring one still verifies the tokens it signed until
    they have all expired; a retired one does neither.
    """
    with _signing_keys() as (keys, _settings):
        keys.retire_due()
        found = keys.list_keys()
    if as_json:
        typer.echo(json.dumps([_as_json(key) for key in found], indent=2))
        return
    if not found:
        console().print("No signing keys yet: the first is made when the first token is issued.")
        return
    # One plain line per key: key ids are compared with a token's header, never wrapped or cut.
    for key in found:
        line = f"{key.kid}  {key.algorithm}  {key.state.value:<8}  from {_when(key.activated_at)}"
        if key.retired_at is not None:
            line += f"  retired {_when(key.retired_at)}"
        elif key.retire_after is not None:
            line += f"  retires {_when(key.retire_after)}"
        typer.echo(line)


@keys_app.command()
def rotate(
    retire_now: Annotated[
        bool,
        typer.Option(
            "--retire-now",
            help=(
                "Retire the old keys at once, for a key that may have leaked: every token they "
                "signed stops working."
            ),
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Make a new signing key; the old one keeps verifying until its last token has expired.

    New tokens are signed with the new key at once. The old key stays in the key set at
    /.well-known/jwks.json until every token it signed has expired, then retires.
    """
    with _signing_keys() as (keys, settings):
        keys.retire_due()
        new, replaced = keys.rotate(
            settings.token_ttl_seconds, actor=actor(), retire_now=retire_now
        )
    if as_json:
        typer.echo(json.dumps({"new": _as_json(new), "replaced": [_as_json(k) for k in replaced]}))
        return
    console().print(f"New signing key [bold]{new.kid}[/bold] ({new.algorithm}) signs from now on.")
    for old in replaced:
        if old.retired_at is not None:
            console().print(f"Retired {old.kid} now: the tokens it signed no longer work.")
        else:
            console().print(
                f"{old.kid} verifies the tokens it signed until {_when(old.retire_after)}, "
                "then retires."
            )


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _as_json(key: KeyInfo) -> dict[str, Any]:
    def stamp(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat().replace("+00:00", "Z")

    return {
        "kid": key.kid,
        "algorithm": key.algorithm,
        "state": key.state.value,
        "created_at": stamp(key.created_at),
        "activated_at": stamp(key.activated_at),
        "retire_after": stamp(key.retire_after),
        "retired_at": stamp(key.retired_at),
    }
