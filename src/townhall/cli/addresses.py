"""``townhall addresses``: load a gazetteer into Townhall, write it out, match addresses.

This module owns the command group for the addresses domain. ``import`` and ``export`` read and
write the NLPG Data Transfer Format 7.3 or a plain CSV through
``townhall.domains.addresses.gazetteer_import``; ``match`` lives in ``address_matching`` and is
added to this group there. Commands print results on standard output and fail with one red line.
An import that rejects rows still succeeds (exit code 0): the good rows are loaded and the bad
ones listed; only a file that cannot be read at all is a failure.
"""

from __future__ import annotations

import os
import socket
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from townhall.cli.address_matching import match_command
from townhall.cli.console import console, database_errors, fail, load_settings, open_database
from townhall.domains.addresses.gazetteer_import import (
    ImportReport,
    UnreadableFile,
    export_gazetteer,
    import_gazetteer,
)
from townhall.domains.addresses.search_projection import catch_up
from townhall.platform.logging import configure_logging
from townhall.platform.progress import build_progress

addresses_app = typer.Typer(
    name="addresses",
    help="Import and export the gazetteer (NLPG DTF 7.3 or plain CSV) and match addresses.",
    no_args_is_help=True,
)

addresses_app.command("match")(match_command)

# How many rejected rows the summary lists; the count covers them all.
SHOWN_REJECTIONS = 20


class GazetteerFormat(StrEnum):
    """The file formats of a gazetteer."""

    DTF = "dtf"
    CSV = "csv"


@addresses_app.command("import")
def import_command(
    path: Annotated[
        Path,
        typer.Argument(metavar="PATH", help="The gazetteer file to apply.", show_default=False),
    ],
    *,
    file_format: Annotated[
        GazetteerFormat | None,
        typer.Option(
            "--format",
            help="NLPG DTF 7.3 or Townhall's plain CSV (default: recognised from the content).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Apply a gazetteer file: only its differences from what Townhall holds are written.

    Rows that fail validation are set aside and listed by line; the rest are applied in one
    transaction, and every change is recorded and emitted as an address event. The search index is
    brought up to date with those events before the command ends. A full supply (DTF file
    type F, or a plain CSV) also deletes the records it leaves out.
    """
    settings = load_settings()
    database = open_database(settings)
    # Off a terminal progress is logged: in Townhall's format on standard error.
    configure_logging(settings)
    try:
        with database_errors(settings.database_url):
            try:
                with build_progress(on_terminal=sys.stderr.isatty()) as progress:
                    report = import_gazetteer(
                        database,
                        path,
                        format=file_format.value if file_format else None,
                        on_progress=progress,
                    )
            except UnreadableFile as exc:
                fail(str(exc))
            # The search index follows the import's events; bring it up to date now, so the
            # index is current when the command ends even with no dispatcher running (one that
            # is running holds the projection's lease and does it instead).
            catch_up(
                database,
                owner=f"cli-{socket.gethostname()}-{os.getpid()}",
                lease_seconds=settings.events_lease_seconds,
            )
    finally:
        database.dispose()
    _print_report(report)


def _print_report(report: ImportReport) -> None:
    out = console()
    supply = "full supply" if report.full_supply else "change-only updates"
    table = Table(
        title=f"Gazetteer import ({report.format}, {supply})",
        caption=f"{report.rows_read:,} rows read in {report.seconds:.1f} s; "
        f"import {report.import_id}",
    )
    table.add_column("Records")
    for heading in ("Created", "Updated", "Deleted", "Unchanged"):
        table.add_column(heading, justify="right")
    for name, counts in report.counts.items():
        table.add_row(
            name.replace("_", " "),
            f"{counts.created:,}",
            f"{counts.updated:,}",
            f"{counts.deleted:,}",
            f"{counts.unchanged:,}",
        )
    out.print(table)
    for warning in report.warnings:
        out.print(warning, style="yellow", markup=False)
    if not report.rejected_count:
        out.print("No rows were rejected.")
        return
    rows = "row" if report.rejected_count == 1 else "rows"
    rejected = Table(title=f"{report.rejected_count:,} {rows} rejected (the first are listed)")
    for heading in ("Line", "Record", "Field", "Reason"):
        rejected.add_column(heading)
    for item in report.rejected[:SHOWN_REJECTIONS]:
        rejected.add_row(
            "-" if item.line is None else str(item.line),
            item.record_type,
            item.field or "",
            item.reason,
        )
    out.print(rejected)


@addresses_app.command("export")
def export_command(
    path: Annotated[
        Path,
        typer.Argument(metavar="PATH", help="Where to write the gazetteer.", show_default=False),
    ],
    *,
    file_format: Annotated[
        GazetteerFormat,
        typer.Option("--format", help="NLPG DTF 7.3 (a full supply) or the plain CSV."),
    ] = GazetteerFormat.DTF,
) -> None:
    """Write the whole gazetteer to a file, as NLPG DTF 7.3 or as the plain CSV."""
    settings = load_settings()
    database = open_database(settings)
    try:
        with database_errors(settings.database_url):
            try:
                report = export_gazetteer(database, path, format=file_format.value)
            except OSError as exc:
                fail(f"{path} cannot be written: {exc.strerror or exc}")
    finally:
        database.dispose()
    console().print(
        f"Wrote {report.addresses:,} addresses of {report.properties:,} properties on "
        f"{report.streets:,} streets ({report.cross_references:,} cross-references) to {path} "
        f"as {report.format}.",
        markup=False,
    )
