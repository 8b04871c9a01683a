"""``townhall people``: the commands for training the linkage model.

``townhall people train`` trains the model on every source record the council holds and makes
it the active one: a progress bar on a terminal (log lines elsewhere), then what it learnt.
"""

from __future__ import annotations

import sys

import typer

from townhall.cli.console import console, database_errors, fail, load_settings, open_database
from townhall.domains.people.linkage.training import train
from townhall.errors import TownhallError
from townhall.platform.logging import configure_logging
from townhall.platform.progress import build_progress


def train_command() -> None:
    """Train the linkage model on the council's source records and make it the active one.

    Reads every source person record, estimates how likely two records are one person and how
    often each field agrees for the same person and for strangers, and stores the model. Run
    it after the first full sync of the source systems, and again when they change a lot.
    """
    settings = load_settings()
    database = open_database(settings)
    configure_logging(settings)
    try:
        with (
            database_errors(settings.database_url),
            build_progress(on_terminal=sys.stderr.isatty()) as progress,
        ):
            trained = train(database, progress=progress)
    except TownhallError as exc:
        fail(exc.detail)
    finally:
        database.dispose()
    console().print(
        f"Trained linkage model {trained.id} on {trained.records:,} source records "
        f"in {trained.seconds:.1f} s; it is now the active model.\n"
        f"Two records drawn at random are one person with probability {trained.prior:.2e}."
    )


def register(app: typer.Typer) -> None:
    """Add the commands for training the linkage model to ``app``."""
    app.command("train")(train_command)
