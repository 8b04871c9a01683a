"""Scoring pairs of source records with the active linkage model (Splink on DuckDB).

This module owns ``load_scorer``: the active model of ``people_linkage_models`` over a frame of
every source record (``frame``) kept warm in an in-memory DuckDB, implementing
``results.Scorer``. It never writes links; the residents service places records from its pairs.

Every path scores with the same SQL, Splink's own, built once when the scorer is loaded
(``engine.scoring_sql``): only the pairs it is given differ.

- ``score_all`` blocks every pair with Splink's blocking SQL, scores them, and streams the
  pairs at or above a probability from DuckDB in batches, so a million records' pairs never
  sit in Python at once.
- ``score_records`` first re-reads the given (new or changed) records into the frame, then
  finds their candidates with the model's own blocking rules (a join of those records to the
  frame per rule) and scores only those pairs: no full run, and because a blocking rule pairs
  two records on their own values alone, exactly the pairs (and scores) a full run would give.
- ``evidence`` scores one pair whether or not blocking would have paired them.

Term frequencies (how common a first name or surname is) and the identifiers too widely shared
to block on (``frame.SHARED_LIMIT``) are counted once, when the scorer is loaded, so a pair is
found and scores the same in every path until the scorer is loaded again.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from townhall.domains.people.linkage import engine, frame
from townhall.domains.people.linkage.model import LABELS, MISSING, SHOWN
from townhall.domains.people.linkage.results import Comparison, ScoredPair, ordered
from townhall.domains.people.models import LinkageModel
from townhall.errors import Conflict, NotFound
from townhall.platform.db import Database
from townhall.platform.logging import get_logger

if TYPE_CHECKING:
    import duckdb

log = get_logger(__name__)

_STREAM_BATCH = 50_000
_TARGETS = "people_targets"
_ALL_PAIRS = "people_pairs_all"
_SOME_PAIRS = "people_pairs_some"
_SCORED = "people_scored"


class NoLinkageModel(Conflict):
    """There is no trained model to score with."""


@dataclass(frozen=True, slots=True)
class _Field:
    """One comparison of the model: its name, its levels by gamma, whether tf adjusts it."""

    name: str
    levels: dict[int, str]
    tf: bool


def _fields(settings: dict[str, Any]) -> tuple[_Field, ...]:
    fields = []
    for comparison in settings["comparisons"]:
        levels = comparison["comparison_levels"]
        non_null = [level for level in levels if not level.get("is_null_level")]
        null = [level for level in levels if level.get("is_null_level")]
        # A null level's own label: "counted with the UPRN" says more than "missing".
        by_gamma = {-1: str(null[0].get("label_for_charts") or MISSING) if null else MISSING}
        for position, level in enumerate(non_null):
            by_gamma[len(non_null) - 1 - position] = str(level.get("label_for_charts", ""))
        tf = any(level.get("tf_adjustment_column") for level in levels)
        fields.append(_Field(comparison["output_column_name"], by_gamma, tf))
    return tuple(fields)


def _tf_columns(settings: dict[str, Any]) -> list[str]:
    columns: list[str] = []
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            column = level.get("tf_adjustment_column")
            if column and column not in columns:
                columns.append(column)
    return columns


def _rules(settings: dict[str, Any]) -> list[str]:
    """The model's prediction blocking rules as SQL conditions on ``l`` and ``r``."""
    rules = []
    for rule in settings["blocking_rules_to_generate_predictions"]:
        sql = rule["blocking_rule"] if isinstance(rule, dict) else str(rule)
        rules.append(sql)
    return rules


def _weight(bf: float | None, tf: float | None) -> float:
    factor = (bf if bf is not None else 1.0) * (tf if tf is not None else 1.0)
    if factor <= 0.0:
        return -math.inf
    return math.log2(factor)


class SplinkScorer:
    """The active model over a warm frame of every source record."""

    def __init__(
        self,
        database: Database,
        model_id: int,
        settings: dict[str, Any],
        connection: duckdb.DuckDBPyConnection,
    ) -> None:
        """Use ``load_scorer``: it reads the model and the frame."""
        self.model_id = model_id
        self.database = database
        self.settings = settings
        self.connection = connection
        self.fields = _fields(settings)
        self.prior = float(settings["probability_two_random_records_match"])
        self.prior_weight = engine.weight_of(self.prior)
        self._tf_columns = _tf_columns(settings)
        self._rules = _rules(settings)
        self._lock = threading.Lock()
        self._select = self._select_sql()
        self._prepare()

    # --- the frame ---------------------------------------------------------------------

    def _prepare(self) -> None:
        """Term frequencies, the frame as Splink's SQL reads it, and that SQL."""
        joins = []
        columns = []
        for column in self._tf_columns:
            self.connection.execute(
                f"CREATE OR REPLACE TABLE people_tf_{column} AS "  # noqa: S608
                f"SELECT {column}, CAST(count(*) AS DOUBLE) / sum(count(*)) OVER () "
                f"AS tf_{column} FROM {frame.FRAME} WHERE {column} IS NOT NULL "
                f"GROUP BY {column}"
            )
            joins.append(f"LEFT JOIN people_tf_{column} USING ({column})")
            columns.append(f"tf_{column}")
        self.connection.execute(
            f"CREATE OR REPLACE VIEW {engine.SPLINK_FRAME} AS "  # noqa: S608
            f"SELECT {', '.join([f'{frame.FRAME}.*', *columns])} "
            f"FROM {frame.FRAME} {' '.join(joins)}"
        )
        self._sql = engine.scoring_sql(self.connection, frame.FRAME, self.settings)

    def refresh(self, record_ids: Sequence[int]) -> None:
        """Re-read these records into the frame (dropping any no longer in the database)."""
        wanted = sorted({int(rid) for rid in record_ids})
        found: set[int] = set()
        for rows in frame.read_rows(self.database, wanted):
            frame.add_rows(self.connection, rows)
            found.update(int(row[0]) for row in rows)
        frame.remove_rows(self.connection, [rid for rid in wanted if rid not in found])

    def close(self) -> None:
        """Release the DuckDB database."""
        self.connection.close()

    # --- scoring -----------------------------------------------------------------------

    def _score(self, pairs: str, at_least: float) -> str:
        """The SQL scoring the pairs of table ``pairs`` at or above ``at_least``, as _pair reads."""
        scoring = self._sql.scoring.replace(engine.SPLINK_PAIRS, pairs)
        return (
            f"SELECT {self._select} FROM ({scoring}) AS scored "  # noqa: S608
            f"WHERE match_probability >= {float(at_least)!r}"
        )

    def _select_sql(self) -> str:
        columns = ["unique_id_l", "unique_id_r", "match_weight", "match_probability"]
        for field in self.fields:
            shown = SHOWN.get(field.name, field.name)
            columns += [f"{shown}_l", f"{shown}_r", f"gamma_{field.name}", f"bf_{field.name}"]
            columns.append(f"bf_tf_adj_{field.name}" if field.tf else "NULL")
        return ", ".join(columns)

    def _pair(self, row: Sequence[Any], *, with_evidence: bool) -> ScoredPair:
        left, right = ordered(int(row[0]), int(row[1]))
        comparisons: tuple[Comparison, ...] = ()
        if with_evidence:
            items = []
            for index, field in enumerate(self.fields):
                first = 4 + index * 5
                value_l, value_r, gamma, bf, tf = row[first : first + 5]
                if int(row[0]) != left:
                    value_l, value_r = value_r, value_l
                items.append(
                    Comparison(
                        field=field.name,
                        label=LABELS.get(field.name, field.name),
                        left=value_l,
                        right=value_r,
                        level=field.levels.get(int(gamma), str(gamma)),
                        weight=0.0 if int(gamma) == -1 else _weight(bf, tf),
                    )
                )
            comparisons = tuple(items)
        return ScoredPair(
            left=left,
            right=right,
            match_weight=float(row[2]),
            match_probability=float(row[3]),
            comparisons=comparisons,
            prior_weight=self.prior_weight,
        )

    def score_all(
        self,
        *,
        at_least: float,
        with_evidence_below: float,
        on_progress: Callable[[str, int, int], None] | None = None,
    ) -> Iterator[ScoredPair]:
        """Every blocked pair of every source record with probability ``at_least``, streamed.

        Pairs below ``with_evidence_below`` (the review band) carry their comparisons.
        """
        report = on_progress or (lambda _phase, _done, _total: None)
        with self._lock:
            records = self._count()
            report("blocking", 0, records)
            self.connection.execute(f"CREATE OR REPLACE TABLE {_ALL_PAIRS} AS {self._sql.blocking}")
            report("blocking", records, records)
            blocked = self._count(_ALL_PAIRS)
            report("scoring", 0, blocked)
            self.connection.execute(
                f"CREATE OR REPLACE TABLE {_SCORED} AS {self._score(_ALL_PAIRS, at_least)}"
            )
            self.connection.execute(f"DROP TABLE {_ALL_PAIRS}")
            report("scoring", blocked, blocked)
            total = self._count(_SCORED)
            log.info(
                "people.linkage.scored", records=records, blocked=blocked, pairs=total,
                at_least=at_least,
            )  # fmt: skip
            # A cursor of its own: the pairs stream while other calls use the connection.
            cursor = self.connection.cursor()
        try:
            report("reading pairs", 0, total)
            result = cursor.execute(f"SELECT * FROM {_SCORED}")  # noqa: S608
            done = 0
            while rows := result.fetchmany(_STREAM_BATCH):
                for row in rows:
                    yield self._pair(row, with_evidence=float(row[3]) < with_evidence_below)
                done += len(rows)
                report("reading pairs", done, total)
        finally:
            cursor.close()
            with self._lock:
                self.connection.execute(f"DROP TABLE IF EXISTS {_SCORED}")

    def score_records(self, record_ids: Sequence[int], *, at_least: float) -> list[ScoredPair]:
        """Pairs of each given (new or changed) record with any other record, with evidence."""
        wanted = sorted({int(rid) for rid in record_ids})
        if not wanted:
            return []
        with self._lock:
            self.refresh(wanted)
            self._candidate_pairs(wanted)
            rows = self.connection.execute(self._score(_SOME_PAIRS, at_least)).fetchall()
        pairs = [self._pair(row, with_evidence=True) for row in rows]
        return sorted(pairs, key=lambda pair: (pair.left, pair.right))

    def _candidate_pairs(self, wanted: Sequence[int]) -> None:
        """Every pair a blocking rule makes of one of the wanted records, as Splink keys it.

        A pair is keyed by the first rule that makes it (``match_key``), smaller id on the left.
        """
        self.connection.execute(f"CREATE OR REPLACE TABLE {_TARGETS} (unique_id BIGINT)")
        self.connection.executemany(
            f"INSERT INTO {_TARGETS} VALUES (?)",  # noqa: S608
            [(rid,) for rid in wanted],
        )
        joins = [
            f"SELECT {index} AS rule, least(l.unique_id, r.unique_id) AS join_key_l, "  # noqa: S608
            f"greatest(l.unique_id, r.unique_id) AS join_key_r "
            f"FROM {_TARGETS} AS t JOIN {frame.FRAME} AS l ON l.unique_id = t.unique_id "
            f"JOIN {frame.FRAME} AS r ON ({rule}) AND r.unique_id <> l.unique_id"
            for index, rule in enumerate(self._rules)
        ]
        self.connection.execute(
            f"CREATE OR REPLACE TABLE {_SOME_PAIRS} AS "  # noqa: S608
            f"SELECT CAST(min(rule) AS VARCHAR) AS match_key, join_key_l, join_key_r "
            f"FROM ({' UNION ALL '.join(joins)}) GROUP BY join_key_l, join_key_r"
        )

    def evidence(self, left: int, right: int) -> ScoredPair:
        """One pair's score and comparisons, whether or not blocking would have paired them."""
        left, right = ordered(int(left), int(right))
        with self._lock:
            self.refresh([left, right])
            found = self.connection.execute(
                f"SELECT count(*) FROM {frame.FRAME} WHERE unique_id IN (?, ?)",  # noqa: S608
                [left, right],
            ).fetchone()
            if left == right or found is None or found[0] != 2:
                msg = f"There is no pair of source person records {left} and {right}."
                raise NotFound(msg)
            self.connection.execute(
                f"CREATE OR REPLACE TABLE {_SOME_PAIRS} AS "
                "SELECT CAST(NULL AS VARCHAR) AS match_key, "
                "CAST(? AS BIGINT) AS join_key_l, CAST(? AS BIGINT) AS join_key_r",
                [left, right],
            )
            row = self.connection.execute(self._score(_SOME_PAIRS, 0.0)).fetchone()
        if row is None:  # pragma: no cover - two records always make one pair
            msg = f"The model gave no score for records {left} and {right}."
            raise RuntimeError(msg)
        return self._pair(row, with_evidence=True)

    def _count(self, table: str = frame.FRAME) -> int:
        found = self.connection.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        return int(found[0]) if found else 0


def active_model(database: Database) -> LinkageModel:
    """The active linkage model; NoLinkageModel naming the command that trains one."""
    with database.read() as session:
        model = session.scalars(
            select(LinkageModel)
            .where(LinkageModel.active.is_(True))
            .order_by(LinkageModel.id.desc())
            .limit(1)
        ).first()
        if model is None:
            msg = (
                "There is no trained linkage model yet: train one on the council's records "
                "with `townhall people train`."
            )
            raise NoLinkageModel(msg)
        session.expunge(model)
        return model


def load_scorer(
    database: Database, *, on_batch: Callable[[int], None] | None = None
) -> SplinkScorer:
    """The active model over a fresh frame of every source record of ``database``.

    ``on_batch(rows)`` reports the frame's loading. Raises NoLinkageModel when none is trained.
    """
    model = active_model(database)
    connection = engine.connect()
    records = frame.load_frame(connection, database, on_batch=on_batch)
    log.info("people.linkage.loaded", model_id=model.id, records=records)
    return SplinkScorer(database, model.id, model.settings, connection)
