"""Linking source records into residents: the full re-run, and each batch as records arrive.

This module owns turning scored pairs (``linkage.results``) into placements through
``residents.apply``. ``relink`` clusters every record (``clustering``) and keeps residents' ids
stable, as one ``rerun`` decision; ``link_batch`` places new and changed records one batch at a
time (a ``link`` decision), as the ``PeopleLinker`` event reader does for each
``person-record.created``/``updated``. Both refresh the review queue. ``link_all`` is the job
(``townhall people link``): score every pair with the trained model, then ``relink``.

Splink is imported only when a scorer is loaded (``linkage.scoring``): the web process and
every command that does not link must start without it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import structlog
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from townhall.domains.people import review
from townhall.domains.people.clustering import ExistingResident, assign_ids, cluster, placements
from townhall.domains.people.decisions import Decision, decision_of
from townhall.domains.people.events import PERSON_RECORD_CREATED, PERSON_RECORD_UPDATED
from townhall.domains.people.linkage.results import ScoredPair, Thresholds, ordered
from townhall.domains.people.models import (
    KeptApart,
    LinkageModel,
    Resident,
    ResidentLink,
    SourcePersonRecord,
)
from townhall.domains.people.residents import (
    CONFIRMED,
    LINKING,
    Plan,
    TakenIds,
    apply,
    chunks,
    link_state,
)
from townhall.domains.people.service import count_source_records
from townhall.platform.audit.uses import Actor
from townhall.platform.db import Database, aware
from townhall.platform.events.models import OutboxEvent
from townhall.platform.events.readers import ReaderWaiting
from townhall.platform.progress import BuildProgress, build_progress
from townhall.settings import Settings

log = structlog.get_logger(__name__)


def system_actor() -> Actor:
    """Townhall itself, linking records (the model's and the re-run's decisions)."""
    return Actor.system(LINKING)


@dataclass(frozen=True)
class RunResult:
    """What a run did: the decision (None when nothing changed), and how much it saw."""

    decision: Decision | None
    records: int
    pairs: int
    residents: int  # active residents after the run
    review_items: int  # pending review items the run's pairs give


# --- the full re-run -------------------------------------------------------------------------


def relink(
    session: Session,
    pairs: Iterable[ScoredPair],
    *,
    thresholds: Thresholds,
    model_id: int | None,
    actor: Actor | None = None,
    reason: str | None = None,
) -> RunResult:
    """Cluster every source record by ``pairs`` and apply the result with stable ids.

    Kept-apart pairs are never joined; records a person linked (a review accepted, a staff
    merge) stay with their resident's other records. One ``rerun`` decision holds every link
    that moved; running again on the same pairs changes nothing.
    """
    scored = list(pairs)
    records = list(session.scalars(select(SourcePersonRecord.id)))
    links = {
        record_id: (resident_id, how)
        for record_id, resident_id, how in session.execute(
            select(ResidentLink.source_record_id, ResidentLink.resident_id, ResidentLink.how)
        )
    }
    kept_apart = _all_kept_apart(session)
    members: dict[str, list[int]] = defaultdict(list)
    for record_id, (resident_id, _how) in links.items():
        members[resident_id].append(record_id)
    must_link: list[tuple[int, int]] = []
    for held in members.values():
        if any(links[record][1] in CONFIRMED for record in held):
            must_link.extend(pairwise(sorted(held)))
    clusters = cluster(
        records,
        scored,
        link_threshold=thresholds.link,
        kept_apart=kept_apart,
        must_link=must_link,
    )
    created = {
        resident_id: aware(created_at)
        for resident_id, created_at in session.execute(
            select(Resident.id, Resident.created_at).where(Resident.status == "active")
        )
    }
    existing = [
        ExistingResident(resident_id, created[resident_id], frozenset(held))
        for resident_id, held in members.items()
        if resident_id in created
    ]
    taken = TakenIds(session)
    assignment = assign_ids(clusters, existing, taken.draw)
    placed = placements(assignment)
    best = _best_link_probability(scored, placed, thresholds.link)
    plan = Plan(merged=dict(assignment.merged))
    sizes = {resident_id: len(held) for held, resident_id in assignment.ids.items()}
    for record_id, resident_id in placed.items():
        current = links.get(record_id)
        if current is not None and current[0] == resident_id:
            continue
        how = "alone" if sizes[resident_id] == 1 else "rerun"
        plan.links[record_id] = link_state(resident_id, how, best.get(record_id))
    decision = apply(session, plan, kind="rerun", actor=actor or system_actor(), reason=reason)
    pending = review.refresh(
        session,
        scored,
        thresholds=thresholds,
        model_id=model_id,
        resident_of=placed,
        kept_apart=kept_apart,
    )
    review.supersede_settled(session)
    return RunResult(
        decision=decision_of(decision) if decision is not None else None,
        records=len(records),
        pairs=len(scored),
        residents=len(assignment.ids),
        review_items=pending,
    )


def _all_kept_apart(session: Session) -> set[tuple[int, int]]:
    rows = session.execute(select(KeptApart.left_record_id, KeptApart.right_record_id))
    return {(int(left), int(right)) for left, right in rows}


def _best_link_probability(
    pairs: Iterable[ScoredPair], placed: Mapping[int, str], threshold: float
) -> dict[int, float]:
    """Each record's best probability among its links inside its resident."""
    best: dict[int, float] = {}
    for pair in pairs:
        if pair.match_probability < threshold:
            continue
        if placed.get(pair.left) != placed.get(pair.right):
            continue
        for record in (pair.left, pair.right):
            best[record] = max(best.get(record, 0.0), pair.match_probability)
    return best


# --- one batch as records arrive ---------------------------------------------------------------


def link_batch(
    session: Session,
    record_ids: Sequence[int],
    pairs: Sequence[ScoredPair],
    *,
    thresholds: Thresholds,
    model_id: int | None,
) -> Decision | None:
    """Place each new or changed record of a batch, as one ``link`` decision.

    A record not yet in a resident joins the resident of its most probable pair at the link
    threshold (not kept apart from it), else becomes a resident of its own. A changed record
    stays where it is, unless it was alone and now links to another resident (its id then
    leads there). Review-band pairs go to the queue. ``pairs`` are the batch's scored pairs.
    """
    batch = sorted(set(record_ids))
    partners = {record for pair in pairs for record in (pair.left, pair.right)} | set(batch)
    resident_of: dict[int, str] = {}
    for chunk in chunks(partners):
        rows = session.execute(
            select(ResidentLink.source_record_id, ResidentLink.resident_id).where(
                ResidentLink.source_record_id.in_(chunk)
            )
        )
        resident_of.update({int(record): resident for record, resident in rows})
    kept_apart = _kept_apart_of(session, batch)
    by_record: dict[int, list[ScoredPair]] = defaultdict(list)
    for pair in pairs:
        by_record[pair.left].append(pair)
        by_record[pair.right].append(pair)
    sizes: dict[str, int] = defaultdict(int)
    for resident_id in resident_of.values():
        sizes[resident_id] += 1
    taken = TakenIds(session)
    plan = Plan()
    for record in batch:
        linked = [p for p in by_record[record] if p.match_probability >= thresholds.link]
        target, probability = _best_resident(record, linked, resident_of, kept_apart)
        target_held = _held(resident_of, target) if target else []
        if any(ordered(record, other) in kept_apart for other in target_held):
            target = None
        current = resident_of.get(record)
        if current is not None:
            plan.refresh.add(current)
            if target is None or target == current or sizes[current] > 1:
                continue
            plan.merged[current] = target
        if target is None:
            target, how = taken.draw(), "alone"
        else:
            how = "model"
        if current is not None:
            sizes[current] -= 1
        sizes[target] += 1
        resident_of[record] = target
        plan.links[record] = link_state(target, how, probability if how == "model" else None)
    decision = apply(session, plan, kind="link", actor=system_actor(), reason=None)
    review.refresh(
        session,
        pairs,
        thresholds=thresholds,
        model_id=model_id,
        resident_of=resident_of,
        kept_apart=kept_apart,
        records=set(batch),
    )
    review.supersede_settled(session)
    return decision_of(decision) if decision is not None else None


def _held(resident_of: dict[int, str], resident_id: str) -> list[int]:
    return [record for record, resident in resident_of.items() if resident == resident_id]


def _best_resident(
    record: int,
    pairs: Iterable[ScoredPair],
    resident_of: dict[int, str],
    kept_apart: set[tuple[int, int]],
) -> tuple[str | None, float | None]:
    best: tuple[float, float, str] | None = None
    for pair in pairs:
        other = pair.right if pair.left == record else pair.left
        resident = resident_of.get(other)
        if resident is None or ordered(record, other) in kept_apart:
            continue
        key = (pair.match_probability, pair.match_weight, resident)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        return None, None
    return best[2], best[0]


def _kept_apart_of(session: Session, records: Sequence[int]) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for chunk in chunks(records):
        rows = session.execute(
            select(KeptApart.left_record_id, KeptApart.right_record_id).where(
                or_(KeptApart.left_record_id.in_(chunk), KeptApart.right_record_id.in_(chunk))
            )
        )
        found.update((int(left), int(right)) for left, right in rows)
    return found


def thresholds_of(settings: Settings) -> Thresholds:
    """The council's link and review thresholds."""
    return Thresholds(link=settings.people_link_threshold, review=settings.people_review_threshold)


# --- the full run as a job -----------------------------------------------------------------------


def link_all(
    database: Database,
    settings: Settings,
    *,
    on_terminal: bool,
    reason: str | None = None,
) -> RunResult:
    """The full re-run: score every pair with the active model, cluster, apply with stable ids.

    A progress bar on a terminal (log lines otherwise) follows loading the records, blocking,
    scoring, and placing. Raises ``NoLinkageModel`` (409) when no model is trained yet.
    """
    # Imported here: Splink and DuckDB load only for a run, never with the web process.
    from townhall.domains.people.linkage.scoring import load_scorer  # noqa: PLC0415

    thresholds = thresholds_of(settings)
    with build_progress(on_terminal=on_terminal) as progress:
        progress.phase("loading records", count_source_records(database))
        scorer = load_scorer(database, on_batch=progress.advance)
        try:
            phases = _PhaseFollower(progress)
            pairs = list(
                scorer.score_all(
                    at_least=thresholds.review,
                    with_evidence_below=thresholds.link,
                    on_progress=phases,
                )
            )
        finally:
            scorer.close()
        progress.phase("placing records", 1)
        with database.write() as session:
            result = relink(
                session, pairs, thresholds=thresholds, model_id=scorer.model_id, reason=reason
            )
        progress.advance(1)
    log.info(
        "people.linking.finished",
        records=result.records,
        pairs=result.pairs,
        residents=result.residents,
        review_items=result.review_items,
        decision_id=result.decision.id if result.decision else None,
    )
    return result


class _PhaseFollower:
    """Turns the scorer's ``(phase, done, total)`` reports into progress phases and rows."""

    def __init__(self, progress: BuildProgress) -> None:
        self.progress = progress
        self.current: str | None = None
        self.done = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.current:
            self.progress.phase(phase, total)
            self.current, self.done = phase, 0
        if done > self.done:
            self.progress.advance(done - self.done)
            self.done = done


# --- the incremental linker: an event reader ---------------------------------------------------


class LinkerWaiting(ReaderWaiting):
    """No linkage model is trained yet: the linker leaves the events for when one is."""


class PeopleLinker:
    """Places each new or changed source record in a resident as its event arrives.

    An ``EventReader`` (``platform.events.readers``): each batch of ``person-record.created`` /
    ``updated`` events is scored against every record with the active model and placed by
    ``link_batch`` in the unit of work that moves the reader's cursor, so a record is placed
    exactly once. Until a model is trained it waits: it raises ``LinkerWaiting`` (the cursor
    stays, the events are read again later) and logs that once. The scorer (Splink, a frame of
    every record) is loaded on the first batch and kept; a newly trained model replaces it.
    """

    name = "people-linker"
    type_filters: tuple[str, ...] = (PERSON_RECORD_CREATED.type, PERSON_RECORD_UPDATED.type)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._scorer: Any = None
        self._database: Database | None = None
        self._waiting_logged = False

    def handle(self, session: Session, events: Sequence[OutboxEvent]) -> None:
        """Score and place the records these events name, in ``session``'s unit of work."""
        record_ids = sorted({int(event.data["record_id"]) for event in events})
        if not record_ids:
            return
        model_id = session.scalar(
            select(LinkageModel.id)
            .where(LinkageModel.active.is_(True))
            .order_by(LinkageModel.id.desc())
            .limit(1)
        )
        if model_id is None:
            if not self._waiting_logged:
                log.info("people.linker.waiting", reason="no linkage model trained yet")
                self._waiting_logged = True
            msg = "no linkage model is trained yet"
            raise LinkerWaiting(msg)
        self._waiting_logged = False
        scorer = self._scorer_for(model_id)
        thresholds = thresholds_of(self.settings)
        pairs = scorer.score_records(record_ids, at_least=thresholds.review)
        decision = link_batch(
            session, record_ids, pairs, thresholds=thresholds, model_id=scorer.model_id
        )
        log.info(
            "people.linker.placed",
            records=len(record_ids),
            pairs=len(pairs),
            decision_id=decision.id if decision else None,
        )

    def _scorer_for(self, model_id: int) -> Any:
        if self._scorer is not None and self._scorer.model_id == model_id:
            return self._scorer
        from townhall.domains.people.linkage.scoring import load_scorer  # noqa: PLC0415

        if self._scorer is not None:
            self._scorer.close()
        if self._database is None:
            # Its own engine: the scorer reads records outside the reader's unit of work.
            self._database = Database(self.settings.database_url, pool_size=2)
        self._scorer = load_scorer(self._database)
        return self._scorer

    def close(self) -> None:
        """Let go of the scorer and its database connections."""
        if self._scorer is not None:
            self._scorer.close()
            self._scorer = None
        if self._database is not None:
            self._database.dispose()
            self._database = None
