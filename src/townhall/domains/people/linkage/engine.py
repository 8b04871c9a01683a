"""Where Splink runs: the one place that chooses its database and keeps it quiet.

This module owns Splink's backend for the people model: an in-memory DuckDB (ADR 33). Training
and scoring both get their connection and their linker here, so moving to another backend
(Spark, for a council too large for one machine) is a change to this module alone. Splink's
own logging (every SQL statement, every EM iteration) is muted while it runs: the jobs log
their progress through structlog instead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

# Splink's loggers, and sqlglot's (which Splink uses to write its SQL).
_CHATTY_LOGGERS = ("splink", "sqlglot")


def connect() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB database for one model's frame."""
    import duckdb  # noqa: PLC0415

    return duckdb.connect(":memory:")


@contextmanager
def quiet() -> Iterator[None]:
    """Splink's log lines muted below errors while the block runs.

    Its warnings are about the model's parameters (a level never observed, a default m used),
    which training handles itself and records in the model's summary (``training``).
    """
    loggers = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.ERROR))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def linker(connection: duckdb.DuckDBPyConnection, table: str, settings: Any) -> Any:
    """A Splink linker over ``table`` of ``connection`` with ``settings`` (a creator or dict)."""
    from splink import DuckDBAPI, Linker  # noqa: PLC0415

    with quiet():
        return Linker(table, settings, db_api=DuckDBAPI(connection))


def weight_of(probability: float) -> float:
    """A probability as a match weight: log2 of its odds."""
    if probability <= 0.0:
        return -math.inf
    if probability >= 1.0:
        return math.inf
    return math.log2(probability / (1.0 - probability))
