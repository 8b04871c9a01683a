"""``townhall people``: the commands for source systems and their syncs."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the commands for source systems and their syncs to ``app``."""
