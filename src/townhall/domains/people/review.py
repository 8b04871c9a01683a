"""The review queue: pairs the model was unsure of, for a person to accept or reject.

This module owns ``people_review_items``. A review-band pair between records in different
residents becomes one item per (record, resident), keeping the best pair as the evidence; an
item a later run or decision settles becomes ``superseded``. Accepting links the record into the
resident (a decision, ``how = review``); rejecting keeps the record apart from every record of
the resident (a decision). Both are undone with ``decisions.undo``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from townhall.domains.people.decisions import Decision
from townhall.domains.people.linkage.results import Comparison
from townhall.platform.audit.uses import Actor
from townhall.platform.db import Database
from townhall.platform.http.pagination import Page, PageRequest

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


def list_review_items(
    database: Database, page: PageRequest, *, status: str = "pending"
) -> Page[ReviewItemView]:
    """Review items with ``status``, most probable match first (then by id)."""
    raise NotImplementedError


def get_review_item(database: Database, item_id: int) -> ReviewItemView:
    """One review item; NotFound when there is none with ``item_id``."""
    raise NotImplementedError


def accept(database: Database, item_id: int, *, actor: Actor, reason: str) -> Decision:
    """Link the item's record into its resident (how = review): a decision, undoable.

    NotFound for no such item; Conflict when it is no longer pending.
    """
    raise NotImplementedError


def reject(database: Database, item_id: int, *, actor: Actor, reason: str) -> Decision:
    """Keep the item's record apart from every record of its resident: a decision, undoable.

    NotFound for no such item; Conflict when it is no longer pending.
    """
    raise NotImplementedError
