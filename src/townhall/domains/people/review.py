"""The review queue: pairs the model was unsure of, for a person to accept or reject.

This module owns ``people_review_items``. A review-band pair between records in different
residents becomes one item per (record, resident), keeping the best pair as the evidence; an
item a later run or decision settles becomes ``superseded``. Accepting links the record into the
resident (a decision, ``how = review``); rejecting keeps the record apart from every record of
the resident (a decision). Both are undone with ``decisions.undo``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from townhall.domains.people.decisions import Decision, decision_of
from townhall.domains.people.linkage.results import Comparison, ScoredPair, Thresholds, ordered
from townhall.domains.people.models import ResidentLink, ReviewItem
from townhall.domains.people.residents import (
    Plan,
    active_resident,
    apply,
    kept_apart_between,
    link_state,
    records_of,
    required_reason,
)
from townhall.errors import Conflict, FieldError, NotFound, ValidationFailed
from townhall.platform.audit.uses import Actor
from townhall.platform.db import Database, aware
from townhall.platform.http.pagination import Page, PageRequest, keyset_page

STATUSES = ("pending", "accepted", "rejected", "superseded")


@dataclass(frozen=True)
class ReviewItemView:
    """A possible match: a source record, the resident it may belong to, and the evidence."""

    id: int
    source_record_id: int
    resident_id: str
    # The resident's record the model compared it with (the evidence is that pair's).
    other_record_id: int
    match_weight: float
    match_probability: float
    # Field by field: values compared, the level they fell in, each one's weight (bits).
    comparisons: tuple[Comparison, ...]
    prior_weight: float
    status: str  # pending | accepted | rejected | superseded
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_id: int | None
    model_id: int | None


def evidence_of(pair: ScoredPair) -> dict[str, Any]:
    """A pair's comparisons as stored on a review item."""
    return {
        "comparisons": [comparison.as_json() for comparison in pair.comparisons],
        "prior_weight": pair.prior_weight,
    }


def _view(item: ReviewItem) -> ReviewItemView:
    evidence = item.evidence or {}
    return ReviewItemView(
        id=item.id,
        source_record_id=item.source_record_id,
        resident_id=item.resident_id,
        other_record_id=item.other_record_id,
        match_weight=item.match_weight,
        match_probability=item.match_probability,
        comparisons=tuple(Comparison(**found) for found in evidence.get("comparisons", [])),
        prior_weight=float(evidence.get("prior_weight", 0.0)),
        status=item.status,
        created_at=aware(item.created_at),
        decided_at=aware(item.decided_at) if item.decided_at else None,
        decided_by=item.decided_by,
        decision_id=item.decision_id,
        model_id=item.model_id,
    )


def list_review_items(
    database: Database, page: PageRequest, *, status: str = "pending"
) -> Page[ReviewItemView]:
    """Review items with ``status``, most probable match first (then by id)."""
    if status not in STATUSES:
        raise ValidationFailed(
            [FieldError("query.status", f"Unknown status; one of {', '.join(STATUSES)}")]
        )
    statement = select(ReviewItem).where(ReviewItem.status == status)
    with database.read() as session:
        found = keyset_page(
            session,
            statement,
            [ReviewItem.match_probability.expression, ReviewItem.id.expression],
            page,
            lambda row: [row[0].match_probability, row[0].id],
            descending=True,
        )
        items = [_view(row[0]) for row in found.items]
    return Page(items=items, next_position=found.next_position)


def get_review_item(database: Database, item_id: int) -> ReviewItemView:
    """One review item; NotFound when there is none with ``item_id``."""
    with database.read() as session:
        item = session.get(ReviewItem, item_id)
        if item is None:
            raise NotFound(f"There is no review item {item_id}.")
        return _view(item)


def _pending(session: Session, item_id: int) -> ReviewItem:
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFound(f"There is no review item {item_id}.")
    if item.status != "pending":
        raise Conflict(f"Review item {item_id} is already {item.status}.")
    return item


def accept(database: Database, item_id: int, *, actor: Actor, reason: str) -> Decision:
    """Link the item's record into its resident (how = review): a decision, undoable.

    NotFound for no such item; Conflict when it is no longer pending.
    """
    reason = required_reason(reason)
    with database.write() as session:
        item = _pending(session, item_id)
        resident = active_resident(session, item.resident_id)
        record = item.source_record_id
        members = records_of(session, [resident.id]).get(resident.id, [])
        if kept_apart_between(session, [record], members):
            raise Conflict(
                f"The source record {record} is kept apart from a record of {resident.id}."
            )
        plan = Plan(
            links={record: link_state(resident.id, "review", item.match_probability)},
            review_items={item.id: "accepted"},
        )
        current = session.get(ResidentLink, record)
        if current is not None and current.resident_id != resident.id:
            left = current.resident_id
            if records_of(session, [left]).get(left, []) == [record]:
                # Its old resident held only this record: that id now leads to where it went.
                plan.merged[left] = resident.id
        decision = apply(session, plan, kind="accept", actor=actor, reason=reason)
        assert decision is not None  # the item's status always changes
        return decision_of(decision)


def reject(database: Database, item_id: int, *, actor: Actor, reason: str) -> Decision:
    """Keep the item's record apart from every record of its resident: a decision, undoable.

    NotFound for no such item; Conflict when it is no longer pending.
    """
    reason = required_reason(reason)
    with database.write() as session:
        item = _pending(session, item_id)
        record = item.source_record_id
        members = records_of(session, [item.resident_id]).get(item.resident_id, [])
        plan = Plan(
            kept_apart_added={ordered(record, other) for other in members if other != record},
            review_items={item.id: "rejected"},
            about={item.resident_id},
        )
        decision = apply(session, plan, kind="reject", actor=actor, reason=reason)
        assert decision is not None  # the item's status always changes
        return decision_of(decision)


# --- refreshing the queue from a run ---------------------------------------------------------


def refresh(
    session: Session,
    pairs: Iterable[ScoredPair],
    *,
    thresholds: Thresholds,
    model_id: int | None,
    resident_of: Mapping[int, str],
    kept_apart: set[tuple[int, int]],
    records: set[int] | None = None,
) -> int:
    """Make the pending queue what ``pairs`` say now; return how many items are pending for it.

    Each review-band pair between records of different residents (not kept apart) gives an
    item for the record in doubt (``_in_doubt``) and the other's resident; one item per
    (record, resident), the best pair its evidence. Pending items the pairs no longer give (about
    ``records``, or every pending item when ``records`` is None: a full run) are superseded.
    """
    now = datetime.now(UTC)
    sizes = Counter(resident_of.values())
    best: dict[tuple[int, str], ScoredPair] = {}
    for pair in pairs:
        if not thresholds.review <= pair.match_probability < thresholds.link:
            continue
        if ordered(pair.left, pair.right) in kept_apart:
            continue
        record, other = _in_doubt(pair, records, resident_of, sizes)
        if records is not None and record not in records and other not in records:
            continue
        left_in, right_in = resident_of.get(record), resident_of.get(other)
        if left_in is None or right_in is None or left_in == right_in:
            continue
        key = (record, right_in)
        if key not in best or pair.match_probability > best[key].match_probability:
            best[key] = pair
    pending = select(ReviewItem).where(ReviewItem.status == "pending")
    existing = {
        (item.source_record_id, item.resident_id): item for item in session.scalars(pending)
    }
    for key, stale in existing.items():
        in_scope = records is None or key[0] in records or stale.other_record_id in records
        if key not in best and in_scope:
            stale.status = "superseded"
            stale.decided_at = now
    for (record, resident_id), pair in best.items():
        found = existing.get((record, resident_id))
        if found is None:
            found = ReviewItem(
                source_record_id=record, resident_id=resident_id, status="pending", created_at=now
            )
            session.add(found)
        item = found
        item.other_record_id = pair.left if pair.left != record else pair.right
        item.match_weight = pair.match_weight
        item.match_probability = pair.match_probability
        item.evidence = evidence_of(pair)
        item.model_id = model_id
    session.flush()
    return len(best)


def _in_doubt(
    pair: ScoredPair,
    records: set[int] | None,
    resident_of: Mapping[int, str],
    sizes: Mapping[str, int],
) -> tuple[int, int]:
    """Which record of a pair is in doubt, and the other: the batch's record (as it arrives),
    else the one in the smaller resident (the odd one out), else the newer (larger id)."""
    left, right = pair.left, pair.right
    if records is not None and (left in records) != (right in records):
        return (left, right) if left in records else (right, left)
    doubt = max((left, right), key=lambda r: (-sizes.get(resident_of.get(r, ""), 0), r))
    return doubt, (right if doubt == left else left)


def supersede_settled(session: Session) -> None:
    """Pending items whose record is now in their resident are settled: superseded."""
    linked = select(ResidentLink.source_record_id).where(
        ResidentLink.source_record_id == ReviewItem.source_record_id,
        ResidentLink.resident_id == ReviewItem.resident_id,
    )
    session.execute(
        update(ReviewItem)
        .where(ReviewItem.status == "pending", linked.exists())
        .values(status="superseded", decided_at=datetime.now(UTC))
    )
