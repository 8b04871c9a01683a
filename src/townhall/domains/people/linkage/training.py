"""Training the linkage model on the council's own source records.

This module owns ``train``: Splink's three estimates, in the order its documentation gives,
over a frame of every source record (``frame``), stored as the new active model in
``people_linkage_models``:

1. how likely two records drawn at random are one person, from pairs deterministic rules
   (same National Insurance number; same full name and date of birth; same email and surname)
   say are surely one, allowing for the share of true pairs those rules miss;
2. each comparison level's u probability (how often two different people agree that way), by
   random sampling of pairs with a fixed seed;
3. each level's m probability (how often one person's two records agree that way), by
   expectation maximisation over two blocking rules, each estimating the comparisons the other
   cannot.

The same records always give the same model: the sample's seed is fixed and DuckDB samples on
one thread while it draws it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from townhall.domains.people.linkage import engine, frame, model
from townhall.domains.people.models import LinkageModel
from townhall.domains.people.service import count_source_records
from townhall.errors import Conflict
from townhall.platform.db import Database
from townhall.platform.logging import get_logger
from townhall.platform.progress import BuildProgress

if TYPE_CHECKING:
    import duckdb

log = get_logger(__name__)

# u by random sampling: enough pairs that a rare agreement (two strangers with one email) is
# seen, with a fixed seed so training is repeatable.
U_PAIRS = 5_000_000
SEED = 7033
# No level is impossible for a true pair: EM on one council's records can drive a level's m
# (how often one person's records disagree that way) towards zero, which would make a single
# differing date of birth outweigh every other field. Each m is kept at least this, and a level
# never seen is given this on both sides (no evidence either way).
M_FLOOR = 0.001
# Fewer records than this cannot estimate anything a person should trust.
MINIMUM_RECORDS = 10

PHASES = ("reading records", "prior", "u probabilities", "m probabilities", "saving")


class TooFewRecords(Conflict):
    """Training needs more source records than there are."""


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """A model training stored: its id and what it learnt from."""

    id: int
    records: int
    prior: float
    seconds: float


class _Silent:
    """Progress nobody watches (a caller that passed none)."""

    def phase(self, name: str, total: int) -> None:
        """Nothing to show."""

    def advance(self, rows: int) -> None:
        """Nothing to count."""


def _smoothed(settings: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The trained settings with every m at least M_FLOOR; and the levels never observed."""
    unobserved: list[str] = []
    for comparison in settings["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        for level in levels:
            name = f"{comparison['output_column_name']}: {level.get('label_for_charts')}"
            if level.get("u_probability") is None:
                level["u_probability"] = M_FLOOR
                level["m_probability"] = M_FLOOR
                unobserved.append(name)
            elif level.get("m_probability") is None:
                # The floor, not m = u: for a "Different" level EM never estimated it means
                # one person's records never disagree that way, which is evidence (ADR 33).
                level["m_probability"] = M_FLOOR
                unobserved.append(name)
            else:
                level["m_probability"] = max(float(level["m_probability"]), M_FLOOR)
        total = sum(float(level["m_probability"]) for level in levels)
        for level in levels:
            level["m_probability"] = float(level["m_probability"]) / total
    return settings, unobserved


def _levels(settings: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each comparison's levels with their m and u (the summary a data team reads)."""
    return {
        comparison["output_column_name"]: [
            {
                "level": level.get("label_for_charts"),
                "m": level.get("m_probability"),
                "u": level.get("u_probability"),
            }
            for level in comparison["comparison_levels"]
            if not level.get("is_null_level")
        ]
        for comparison in settings["comparisons"]
    }


def train(database: Database, *, progress: BuildProgress | None = None) -> TrainedModel:
    """Train a model on every source record, store it as the active one, and return it.

    ``progress`` is told each phase (a bar on a terminal, log lines elsewhere). Raises
    TooFewRecords when there are fewer than MINIMUM_RECORDS source records.
    """
    report = progress or _Silent()
    started = time.perf_counter()
    expected = count_source_records(database)
    if expected < MINIMUM_RECORDS:
        msg = (
            f"Training needs at least {MINIMUM_RECORDS} source person records; "
            f"there are {expected}. Sync the council's source systems first."
        )
        raise TooFewRecords(msg)
    connection = engine.connect()
    try:
        report.phase(PHASES[0], expected)
        records = frame.load_frame(connection, database, on_batch=report.advance)
        phases = [_timed(PHASES[0], started, records=records)]
        settings = _fit(connection, report, phases)
    finally:
        connection.close()
    settings, unobserved = _smoothed(settings)
    report.phase(PHASES[4], 1)
    prior = float(settings["probability_two_random_records_match"])
    summary = {
        "phases": phases,
        "probability_two_random_records_match": prior,
        "prediction_rules": [list(rule) for rule in model.PREDICTION_RULES],
        "levels": _levels(settings),
        "unobserved_levels": unobserved,
    }
    with database.write() as session:
        session.execute(
            update(LinkageModel).where(LinkageModel.active.is_(True)).values(active=False)
        )
        row = LinkageModel(
            created_at=datetime.now(UTC),
            active=True,
            settings=settings,
            records_trained_on=records,
            summary=summary,
        )
        session.add(row)
        session.flush()
        model_id = row.id
    report.advance(1)
    seconds = time.perf_counter() - started
    log.info("people.linkage.trained", model_id=model_id, records=records, prior=prior)
    return TrainedModel(id=model_id, records=records, prior=prior, seconds=seconds)


def _timed(phase: str, since: float, **details: Any) -> dict[str, Any]:
    """A phase's line in the summary: how long it took since ``since``, and its details."""
    return {"phase": phase, "seconds": round(time.perf_counter() - since, 3), **details}


def _fit(
    connection: duckdb.DuckDBPyConnection, report: BuildProgress, phases: list[dict[str, Any]]
) -> dict[str, Any]:
    """Splink's three estimates over the frame in ``connection``: its trained settings."""
    from splink.internals.exceptions import EMTrainingException  # noqa: PLC0415

    linker = engine.linker(connection, frame.FRAME, model.settings())
    with engine.quiet():
        since = time.perf_counter()
        report.phase(PHASES[1], 1)
        linker.training.estimate_probability_two_random_records_match(
            model.blocking(model.DETERMINISTIC_RULES), recall=model.DETERMINISTIC_RECALL
        )
        report.advance(1)
        phases.append(_timed(PHASES[1], since, recall=model.DETERMINISTIC_RECALL))
        since = time.perf_counter()
        report.phase(PHASES[2], 1)
        # One thread while sampling: DuckDB's seeded sample is repeatable only on one.
        connection.execute("SET threads = 1")
        try:
            linker.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=SEED)
        finally:
            connection.execute("RESET threads")
        report.advance(1)
        phases.append(_timed(PHASES[2], since, max_pairs=U_PAIRS, seed=SEED))
        since = time.perf_counter()
        rules = model.blocking(model.TRAINING_RULES)
        report.phase(PHASES[3], len(rules))
        passes = []
        for columns, rule in zip(model.TRAINING_RULES, rules, strict=True):
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, fix_probability_two_random_records_match=True
                )
                passes.append({"rule": list(columns), "pairs": True})
            except EMTrainingException:
                # No two records agree on this rule's columns: the other pass still estimates
                # what it can, and what neither estimates is smoothed (_smoothed).
                passes.append({"rule": list(columns), "pairs": False})
            report.advance(1)
        if not any(done["pairs"] for done in passes):
            msg = (
                "No two source records share a name or a date of birth, so the model cannot "
                "learn what a match looks like. Sync more of the council's records first."
            )
            raise TooFewRecords(msg)
        phases.append(_timed(PHASES[3], since, passes=passes))
        trained: dict[str, Any] = linker.misc.save_model_to_json()
    return trained
