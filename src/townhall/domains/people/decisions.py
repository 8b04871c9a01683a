"""Link decisions: reading them, and undoing one (which is itself a decision).

This module owns ``people_decisions`` as history: every change to links (the model's, a
reviewer's, a member of staff's, a re-run's) is written by ``residents.apply`` as one decision
holding each link and resident state before and after. ``undo`` applies the inverse when nothing
it changed has moved since, and refuses (409) naming what moved otherwise; undoing an undo redoes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from townhall.platform.audit.uses import Actor
from townhall.platform.db import Database
from townhall.platform.http.pagination import Page, PageRequest


@dataclass(frozen=True)
class Decision:
    """One change to links: what moved, by whom, why, and whether it was undone."""

    id: int
    # link | accept | reject | merge | unlink | rerun | undo
    kind: str
    actor_kind: str  # staff | consumer | system
    actor_id: str | None  # the staff account or consumer id; None for Townhall itself
    reason: str | None
    created_at: datetime
    # {"links": [{"source_record_id", "from", "to"}], "residents": [{"id", "before", "after"}],
    #  "kept_apart": {"added": [[a, b]], "removed": [[a, b]]}}; "from"/"to" are link states
    # ({"resident_id", "how", "match_probability", "decision_id"}, or None: no link).
    changes: dict[str, Any]
    reverses_id: int | None  # the decision this one undid
    reversed_by_id: int | None  # the decision that undid this one, if any

    @property
    def resident_ids(self) -> list[str]:
        """Every resident this decision touched (links moved from or to, or status changed)."""
        raise NotImplementedError

    @property
    def undone(self) -> bool:
        """Whether a later decision undid this one."""
        return self.reversed_by_id is not None


def get_decision(database: Database, decision_id: int) -> Decision:
    """One decision; NotFound when there is none with ``decision_id``."""
    raise NotImplementedError


def list_decisions(
    database: Database, page: PageRequest, *, resident_id: str | None = None
) -> Page[Decision]:
    """Decisions newest first; only those that touched ``resident_id`` when given."""
    raise NotImplementedError


def undo(database: Database, decision_id: int, *, actor: Actor, reason: str) -> Decision:
    """Undo a decision: put back every link, resident and kept-apart pair it changed.

    Returns the new decision (kind ``undo``, ``reverses_id`` the undone one). Undoing an undo
    redoes the original. Raises NotFound for no such decision, and Conflict (409) when the
    decision was already undone or anything it changed has changed since (the detail names
    which records and residents moved, and by which decision).
    """
    raise NotImplementedError
