"""``townhall demo``: migrate, build the synthetic borough once, then serve it.

This module owns the one command that takes a newcomer from nothing to a running council. Unlike
``serve`` it migrates the database itself, because the database is the demo's own. It never
rebuilds a borough a database already holds: building is ``townhall.demo``'s job, and this
module only asks it whether there is one, builds one, and reports what was built. When it builds
one, it trains the linkage model on the borough's records and links them into residents, and
makes the demo's ways into the staff pages: a housing officer's and a data steward's accounts,
each with a random password printed once on the terminal (as a resident's sign-in code is) and
kept nowhere else.
"""

from __future__ import annotations

import re
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from townhall.cli.console import console, database_errors, fail, load_settings, open_database
from townhall.cli.db import upgrade_and_report
from townhall.cli.serve import HostOption, PortOption, WorkersOption, run_server
from townhall.councils import council_name
from townhall.demo import (
    BoroughSize,
    BuildReport,
    DemoBuildRefused,
    InvalidSeed,
    UnknownCouncil,
    borough_is_built,
    build_borough,
    latest_build,
)
from townhall.errors import Conflict
from townhall.platform.auth.sign_in_models import StaffRole
from townhall.platform.auth.staff import create_staff_account
from townhall.platform.db import Database
from townhall.platform.logging import configure_logging
from townhall.platform.progress import build_progress
from townhall.settings import GSS_CODE, Settings

_DEFAULT_COUNCIL = Settings.model_fields["council_code"].default


@dataclass(frozen=True)
class DemoStaff:
    """A member of staff the demo makes: who they are in the address, their name and role."""

    who: str  # the address's local part after "demo."
    name: str
    role: StaffRole


# Front-line work, and the data steward who reviews possible matches of people's records:
# neither administers anything nor sees more than their role needs.
DEMO_STAFF = (
    DemoStaff("officer", "Demo Officer", StaffRole.HOUSING_OFFICER),
    DemoStaff("steward", "Demo Steward", StaffRole.DATA_STEWARD),
)


def demo_staff_email(council_code: str, who: str = "officer") -> str:
    """A demo staff account's address: ``demo.officer@hackney.example`` for E09000012.

    ``.example`` is reserved (RFC 2606): no mail can ever go to it.
    """
    name = council_name(council_code) or council_code
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return f"demo.{who}@{slug}.example"


def _valid_council(value: str | None) -> str | None:
    if value is not None and not GSS_CODE.match(value):
        msg = (
            f"{value!r} is not a GSS code: use a letter E, W, S or N then 8 digits, like E09000012."
        )
        raise typer.BadParameter(msg)
    return value


def demo(
    *,
    size: Annotated[
        BoroughSize,
        typer.Option(
            help="How big a borough to build: small builds in seconds; borough is a realistic "
            "London borough; large is for load tests."
        ),
    ] = BoroughSize.BOROUGH,
    seed: Annotated[
        int,
        typer.Option(min=0, help="Seed of the generator: a seed always builds the same borough."),
    ] = 42,
    council: Annotated[
        str | None,
        typer.Option(
            metavar="GSS_CODE",
            callback=_valid_council,
            show_default=False,
            help="GSS code of the council whose real postcodes the borough is built from "
            f"(default: TOWNHALL_COUNCIL_CODE, or {_DEFAULT_COUNCIL}).",
        ),
    ] = None,
    build_only: Annotated[
        bool, typer.Option("--build-only", help="Build the borough, then stop instead of serving.")
    ] = False,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    workers: WorkersOption = 1,
) -> None:
    """Build a synthetic borough from real postcodes and serve it: the quickest way to try Townhall.

    Runs `townhall db upgrade`, builds the borough unless the database already holds one, then
    serves it like `townhall serve`. Every name, date and record is invented; the postcodes are
    the council's real ones.
    """
    settings = load_settings(council_code=council)
    database = open_database(settings)
    try:
        with database_errors(settings.database_url):
            upgrade_and_report(database)
            _build_unless_built(database, settings, size=size, seed=seed)
    finally:
        database.dispose()
    if not build_only:
        run_server(settings, host=host, port=port, workers=workers)


def _build_unless_built(
    database: Database, settings: Settings, *, size: BoroughSize, seed: int
) -> None:
    if borough_is_built(database):
        built = latest_build(database)
        what = (
            "a synthetic borough" if built is None else f"the synthetic borough {_describe(built)}"
        )
        console().print(
            f"The database already holds {what}, so it is not rebuilt "
            "(start from an empty database to build another)."
        )
        if built is not None and built.council_code != settings.council_code:
            console().print(
                f"It was built for {built.council_code}, not {settings.council_code}.",
                style="yellow",
            )
        return
    # Off a terminal the build reports progress as log lines: in Townhall's format on standard
    # error, not structlog's default printer on standard output amid the summary.
    configure_logging(settings)
    try:
        report = build_borough(
            database, council_code=settings.council_code, size=size, seed=seed, show_progress=None
        )
    except UnknownCouncil as exc:
        raise typer.BadParameter(str(exc), param_hint="'--council'") from exc
    except InvalidSeed as exc:
        raise typer.BadParameter(str(exc), param_hint="'--seed'") from exc
    except DemoBuildRefused as exc:  # such as a database that already holds real records
        fail(str(exc))
    console().print(build_summary(report))
    _link_residents(database, settings)
    _create_demo_staff(database, settings)


def _link_residents(database: Database, settings: Settings) -> None:
    """Train the linkage model on the borough's records, then link them into residents."""
    # Imported here: Splink and DuckDB take seconds to load, and only a build needs them.
    from townhall.domains.people.linkage.training import TooFewRecords, train  # noqa: PLC0415
    from townhall.domains.people.linking import link_all  # noqa: PLC0415

    on_terminal = sys.stderr.isatty()
    try:
        with build_progress(on_terminal=on_terminal) as progress:
            model = train(database, progress=progress)
    except TooFewRecords as exc:
        console().print(f"Residents are not linked: {exc}", style="yellow")
        return
    result = link_all(database, settings, on_terminal=on_terminal, reason="The demo's first run")
    console().print(
        f"Linked {result.records:,} source records into {result.residents:,} residents "
        f"(model {model.id}); {result.review_items:,} possible matches wait for review."
    )


def _create_demo_staff(database: Database, settings: Settings) -> None:
    for staff in DEMO_STAFF:
        _create_demo_account(database, settings, staff)


def _create_demo_account(database: Database, settings: Settings, staff: DemoStaff) -> None:
    email = demo_staff_email(settings.council_code, staff.who)
    password = secrets.token_urlsafe(15)  # 20 characters, 120 bits
    try:
        create_staff_account(
            database,
            email=email,
            display_name=staff.name,
            role=staff.role.value,
            password=password,
            actor="cli:demo",
            now=datetime.now(UTC),
        )
    except Conflict:
        console().print(f"The staff account {email} already exists; its password is unchanged.")
        return
    # Shown once: only its hash is kept, so a lost password means a new database.
    console().print(
        f"Sign in as staff at /staff/sign-in with {email} and the password "
        f"[bold]{password}[/bold] ({staff.role.label}; shown only this once).",
        highlight=False,
        soft_wrap=True,
    )


def build_summary(report: BuildReport) -> Table:
    """A table of the rows built per table, with the time taken and the rate."""
    table = Table(
        title=f"Synthetic borough {_describe(report)}",
        caption=f"Built in {report.seconds:.1f} s, {report.rows_per_second:,.0f} rows/s"
        + (f"; source extracts in {report.extracts}" if report.extracts else ""),
    )
    table.add_column("Table")
    table.add_column("Rows", justify="right")
    for name, count in sorted(report.row_counts.items()):
        table.add_row(name, f"{count:,}")
    table.add_section()
    table.add_row("Total", f"{sum(report.row_counts.values()):,}", style="bold")
    return table


def _describe(report: BuildReport) -> str:
    return f"{report.council_code} ({report.size} size, seed {report.seed})"
