"""``townhall people``: the commands for linking records into residents, and undoing decisions.

``townhall people link`` is the full re-run (score every pair with the active model, cluster,
apply with stable resident ids, refresh the review queue) with a progress bar on a terminal.
``townhall people undo DECISION_ID`` undoes one link decision. ``townhall people golden`` says
the survivorship rules and recomputes every golden record after they change.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from townhall.cli.console import console, database_errors, fail, load_settings, open_database
from townhall.domains.people import golden
from townhall.domains.people.decisions import undo
from townhall.domains.people.linking import link_all
from townhall.errors import TownhallError
from townhall.platform.audit.uses import Actor
from townhall.platform.audit.vocabulary import ActorKind
from townhall.platform.logging import configure_logging
from townhall.platform.progress import build_progress

# Why someone at the command line changes links, as the audit trail records it.
KEEPING_RECORDS_RIGHT = "Keeping the council's joined-up records of residents right"


def _cli_actor() -> Actor:
    """The person at the command line, as Townhall itself acting for them (``cli:<user>``)."""
    return Actor(
        kind=ActorKind.SYSTEM, purpose=KEEPING_RECORDS_RIGHT, id=f"cli:{getpass.getuser()}"[:64]
    )


def link_command(
    reason: Annotated[
        str | None, typer.Option(help="Why the re-run, kept with its decision.")
    ] = None,
) -> None:
    """Link every source record into residents with the active model (a full re-run).

    Residents keep their ids: each new cluster takes the id of the resident holding most of
    its records. Records a person linked or kept apart stay so. The run is one decision,
    undone with `townhall people undo`.
    """
    settings = load_settings()
    database = open_database(settings)
    configure_logging(settings)
    try:
        with database_errors(settings.database_url):
            result = link_all(database, settings, on_terminal=sys.stderr.isatty(), reason=reason)
    except TownhallError as exc:
        fail(exc.detail)
    finally:
        database.dispose()
    decided = f"decision {result.decision.id}" if result.decision is not None else "no change"
    console().print(
        f"Linked {result.records:,} source records into {result.residents:,} residents "
        f"from {result.pairs:,} scored pairs ({decided}); "
        f"{result.review_items:,} possible matches wait for review."
    )


def undo_command(
    decision_id: Annotated[int, typer.Argument(help="The decision to undo.", min=1)],
    reason: Annotated[str, typer.Option(help="Why, kept with the undo.")],
) -> None:
    """Undo a link decision (a merge, unlink, review, link or re-run); undo an undo to redo."""
    settings = load_settings()
    database = open_database(settings)
    configure_logging(settings)
    try:
        with database_errors(settings.database_url):
            done = undo(database, decision_id, actor=_cli_actor(), reason=reason)
    except TownhallError as exc:
        fail(exc.detail)
    finally:
        database.dispose()
    console().print(
        f"Decision {decision_id} undone by decision {done.id}; "
        f"{len(done.changes['links'])} links moved back."
    )


def golden_command(
    recompute: Annotated[
        bool, typer.Option(help="Recompute every resident's golden record by the rules.")
    ] = False,
) -> None:
    """Show the survivorship rules of the golden record; recompute every resident by them."""
    settings = load_settings()
    database = open_database(settings)
    configure_logging(settings)
    try:
        with database_errors(settings.database_url):
            rules = golden.list_rules(database)
            for rule in rules:
                sources = f" ({', '.join(rule.sources)})" if rule.sources else ""
                console().print(f"{rule.field:<28} {rule.rule}{sources}")
            if recompute:
                with build_progress(on_terminal=sys.stderr.isatty()) as progress:
                    progress.phase("recomputing residents", 0)
                    seen = [0]

                    def advance(done: int, total: int) -> None:
                        if seen[0] == 0:
                            progress.phase("recomputing residents", total)
                        progress.advance(done - seen[0])
                        seen[0] = done

                    changed = golden.recompute_all(database, on_progress=advance)
                console().print(f"{changed:,} golden records changed.")
    except TownhallError as exc:
        fail(exc.detail)
    finally:
        database.dispose()


def register(app: typer.Typer) -> None:
    """Add the commands for linking records into residents, and undoing decisions to ``app``."""
    app.command("link")(link_command)
    app.command("undo")(undo_command)
    app.command("golden")(golden_command)
