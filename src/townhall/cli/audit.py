"""``townhall audit``: verify the audit chain, sign checkpoints, publish the key, purge.

This module owns the commands an operator runs on the audit trail. The rules live in
``townhall.platform.audit`` (``verify``, ``checkpoints``, ``retention``); this module reads
options, calls them and prints. ``verify`` exits with code 1 when the chain is not intact, so a
scheduler can alert on it. Only positions, hashes, key ids and times are printed: never a record's
contents.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from townhall.cli.console import console, database_errors, fail, load_settings, open_database
from townhall.platform.audit.chain import canonical_time
from townhall.platform.audit.checkpoints import (
    PublicKeyError,
    checkpoint_key,
    key_id,
    parse_public_key,
    public_key_text,
    sign_checkpoint,
)
from townhall.platform.audit.retention import purge_audit
from townhall.platform.audit.verify import VerificationReport, verify_chain
from townhall.platform.db import Database
from townhall.platform.logging import configure_logging
from townhall.platform.progress import build_progress
from townhall.settings import Settings

audit_app = typer.Typer(
    name="audit",
    help="Verify the audit trail of uses of personal data, sign checkpoints, purge old records.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON, for scripts.")]


@contextmanager
def _database() -> Iterator[tuple[Database, Settings]]:
    settings = load_settings()
    database = open_database(settings)
    # Logged on standard error, in Townhall's format: a signed checkpoint is logged, and off a
    # terminal so is verification's progress.
    configure_logging(settings)
    try:
        with database_errors(settings.database_url):
            yield database, settings
    finally:
        database.dispose()


@audit_app.command()
def verify(
    trusted_keys: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-key",
            metavar="KEY",
            help=(
                "A public key (base64url, from `townhall audit public-key`) that also signs "
                "checkpoints: the instance's key before TOWNHALL_SECRET_KEY was changed. "
                "Repeat for several."
            ),
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check every record's hash and link, and every signed checkpoint.

    Exits with code 0 when the chain is intact and 1 when it is not, naming where and how it
    was broken: a record edited, missing, inserted or reordered, a checkpoint whose signature
    does not verify, or a chain that no longer ends in the hash a checkpoint signed.
    """
    try:
        keys = [parse_public_key(text) for text in trusted_keys or ()]
    except PublicKeyError as exc:
        fail(f"--trusted-key: {exc}")
    with _database() as (database, settings):
        on_terminal = sys.stderr.isatty()
        with build_progress(on_terminal=on_terminal and not as_json) as progress:
            report = verify_chain(database, settings, keys, on_progress=progress)
    if as_json:
        typer.echo(json.dumps(_report_json(report), indent=2))
    else:
        _print_report(report)
    if not report.intact:
        raise typer.Exit(1)


@audit_app.command()
def checkpoint(as_json: JsonOption = False) -> None:
    """Sign a checkpoint of the chain's head now (a served instance signs them by itself).

    Nothing is signed when no record was added since the last checkpoint.
    """
    with _database() as (database, settings):
        signed = sign_checkpoint(database, settings)
    if as_json:
        typer.echo(
            json.dumps(
                None
                if signed is None
                else {
                    "position": signed.position,
                    "hash": signed.hash,
                    "created_at": canonical_time(signed.created_at),
                    "key_id": signed.key_id,
                    "signature": signed.signature,
                }
            )
        )
    elif signed is None:
        console().print("No record was added since the last checkpoint: nothing to sign.")
    else:
        console().print(
            f"Signed checkpoint at position {signed.position:,} with key {signed.key_id}."
        )


@audit_app.command("public-key")
def public_key(as_json: JsonOption = False) -> None:
    """Print the public key that verifies this instance's checkpoints (base64url).

    Publish it, so anyone holding a copy of the audit trail can check who signed it. It
    changes when TOWNHALL_SECRET_KEY does; keep the old one for `verify --trusted-key`.
    """
    with _database() as (database, settings):
        key = checkpoint_key(database, settings).public_key()
    if as_json:
        typer.echo(json.dumps({"key_id": key_id(key), "public_key": public_key_text(key)}))
    else:
        typer.echo(public_key_text(key))


@audit_app.command()
def purge() -> None:
    """Delete audit records older than TOWNHALL_AUDIT_RETENTION_DAYS, up to a checkpoint.

    Records are deleted only up to the newest signed checkpoint all of whose records are that
    old, so the chain still verifies from it. Served instances purge with the other retention
    purges by themselves.
    """
    with _database() as (database, settings):
        cutoff = datetime.now(UTC) - timedelta(days=settings.audit_retention_days)
        deleted = purge_audit(database, older_than=cutoff)
    console().print(f"audit_records: {deleted:,} deleted")


def _print_report(report: VerificationReport) -> None:
    out = console()
    newest = report.newest_checkpoint
    table = Table(title="Audit chain", show_header=False)
    table.add_column("What")
    table.add_column("Found", justify="right")
    table.add_row("Records checked", f"{report.records_checked:,}")
    if report.first_position is not None:
        table.add_row("Positions", f"{report.first_position:,} to {report.last_position:,}")
    table.add_row("Purged up to checkpoint", f"{report.purged_to:,}" if report.purged_to else "-")
    table.add_row("Checkpoints checked", f"{report.checkpoints_checked:,}")
    table.add_row(
        "Newest checkpoint",
        "-" if newest is None else f"{newest.position:,} at {_when(newest.created_at)}",
    )
    table.add_row("Records after it (chain only)", f"{report.records_after_newest_checkpoint:,}")
    out.print(table)
    if report.intact:
        out.print("The audit chain is intact.", style="green")
        return
    title = f"{report.problems_found:,} problem{'' if report.problems_found == 1 else 's'}"
    if report.problems_found > len(report.problems):
        title += f" (the first {len(report.problems)} are listed)"
    problems = Table(title=title)
    for heading in ("Position", "Kind", "Detail"):
        problems.add_column(heading)
    for problem in report.problems:
        problems.add_row(str(problem.position), problem.kind.value, problem.detail)
    out.print(problems)
    out.print("The audit chain is NOT intact.", style="bold red")


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _report_json(report: VerificationReport) -> dict[str, Any]:
    newest = report.newest_checkpoint
    return {
        "intact": report.intact,
        "records_checked": report.records_checked,
        "checkpoints_checked": report.checkpoints_checked,
        "first_position": report.first_position,
        "last_position": report.last_position,
        "purged_to": report.purged_to,
        "newest_checkpoint": None
        if newest is None
        else {
            "position": newest.position,
            "created_at": canonical_time(newest.created_at),
            "key_id": newest.key_id,
        },
        "records_after_newest_checkpoint": report.records_after_newest_checkpoint,
        "problems_found": report.problems_found,
        "problems": [
            {"position": p.position, "kind": p.kind.value, "detail": p.detail}
            for p in report.problems
        ],
    }
