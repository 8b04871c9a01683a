"""``townhall people``: the commands for training the linkage model."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the commands for training the linkage model to ``app``."""
