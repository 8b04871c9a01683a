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
from typing import TYPE_CHECKING, Any, NamedTuple

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


# The names Splink's SQL gives the frame with its term frequencies, and the blocked pairs.
SPLINK_FRAME = "__splink__df_concat_with_tf"
SPLINK_PAIRS = "__splink__blocked_id_pairs"


def scoring_sql(connection: duckdb.DuckDBPyConnection, table: str, settings: Any) -> ScoringSql:
    """Splink's own SQL for a trained model: blocking every pair, and scoring given pairs.

    Splink builds a prediction's SQL afresh on every call (parsing each comparison's SQL with
    sqlglot), which costs far more than scoring one record's pairs. The statements are built
    once here from Splink's own builders (``splink.internals``, stable within the 4.0 series
    that pyproject pins) and run directly: ``blocking`` reads SPLINK_FRAME and gives the pairs;
    ``scoring`` reads SPLINK_FRAME and SPLINK_PAIRS and gives each pair's comparison levels,
    Bayes factors, match weight and probability, exactly as ``predict`` would.
    """
    from splink.internals.blocking import block_using_rules_sqls  # noqa: PLC0415
    from splink.internals.comparison_vector_values import (  # noqa: PLC0415
        compute_comparison_vector_values_from_id_pairs_sqls,
    )
    from splink.internals.pipeline import CTEPipeline  # noqa: PLC0415
    from splink.internals.predict import (  # noqa: PLC0415
        predict_from_comparison_vectors_sqls_using_settings,
    )

    linked = linker(connection, table, settings)
    with quiet():
        model = linked._settings_obj
        columns = model.column_info_settings
        blocking = CTEPipeline()
        blocking.enqueue_list_of_sqls(
            block_using_rules_sqls(
                input_tablename_l=SPLINK_FRAME,
                input_tablename_r=SPLINK_FRAME,
                blocking_rules=model._blocking_rules_to_generate_predictions,
                link_type="dedupe_only",
                source_dataset_input_column=columns.source_dataset_input_column,
                unique_id_input_column=columns.unique_id_input_column,
            )
        )
        scoring = CTEPipeline()
        scoring.enqueue_list_of_sqls(
            compute_comparison_vector_values_from_id_pairs_sqls(
                model._columns_to_select_for_blocking,
                model._columns_to_select_for_comparison_vector_values,
                input_tablename_l=SPLINK_FRAME,
                input_tablename_r=SPLINK_FRAME,
                source_dataset_input_column=columns.source_dataset_input_column,
                unique_id_input_column=columns.unique_id_input_column,
                link_type="dedupe_only",
                sql_dialect_str="duckdb",
            )
        )
        scoring.enqueue_list_of_sqls(
            # No threshold in the SQL (Splink's default, though its annotations say float):
            # each path filters the probability it was asked for.
            predict_from_comparison_vectors_sqls_using_settings(
                model,
                None,  # type: ignore[arg-type]
                None,  # type: ignore[arg-type]
                sql_infinity_expression=linked._infinity_expression,
            )
        )
        return ScoringSql(
            blocking=blocking.generate_cte_pipeline_sql(),
            scoring=scoring.generate_cte_pipeline_sql(),
        )


class ScoringSql(NamedTuple):
    """A trained model's SQL: every blocked pair of SPLINK_FRAME; the scores of SPLINK_PAIRS."""

    blocking: str
    scoring: str
