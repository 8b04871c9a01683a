"""``townhall people``: the commands for linking records into residents, and undoing decisions."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the commands for linking records into residents, and undoing decisions to ``app``."""
