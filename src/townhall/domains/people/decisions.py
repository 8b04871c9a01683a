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

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from townhall.domains.people.models import (
    KeptApart,
    LinkDecision,
    Resident,
    ResidentLink,
    ReviewItem,
)
from townhall.errors import Conflict, NotFound
from townhall.platform.audit.uses import Actor
from townhall.platform.db import Database, aware
from townhall.platform.http.pagination import Page, PageRequest, keyset_page


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
        return touched_by(self.changes)

    @property
    def record_ids(self) -> list[int]:
        """Every source record it moved, or kept apart from another or stopped keeping apart."""
        found = {change["source_record_id"] for change in self.changes.get("links", [])}
        apart = self.changes.get("kept_apart", {})
        for pair in (*apart.get("added", []), *apart.get("removed", [])):
            found.update(pair)
        return sorted(found)

    @property
    def undone(self) -> bool:
        """Whether a later decision undid this one."""
        return self.reversed_by_id is not None


def touched_by(changes: dict[str, Any]) -> list[str]:
    """The residents a decision's ``changes`` touched, sorted."""
    found: set[str] = {change["id"] for change in changes.get("residents", [])}
    for change in changes.get("links", []):
        for state in (change["from"], change["to"]):
            if state is not None:
                found.add(state["resident_id"])
    return sorted(found)


def decision_of(row: LinkDecision) -> Decision:
    """The service's shape of a decision row."""
    return Decision(
        id=row.id,
        kind=row.kind,
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        reason=row.reason,
        created_at=aware(row.created_at),
        changes=dict(row.changes),
        reverses_id=row.reverses_id,
        reversed_by_id=row.reversed_by_id,
    )


def get_decision(database: Database, decision_id: int) -> Decision:
    """One decision; NotFound when there is none with ``decision_id``."""
    with database.read() as session:
        row = session.get(LinkDecision, decision_id)
        if row is None:
            raise NotFound(f"There is no link decision {decision_id}.")
        return decision_of(row)


def list_decisions(
    database: Database, page: PageRequest, *, resident_id: str | None = None
) -> Page[Decision]:
    """Decisions newest first; only those that touched ``resident_id`` when given."""
    statement = select(LinkDecision)
    if resident_id is not None:
        # The changes are JSON; a resident id is unique and quoted, so a text match finds the
        # decisions naming it (ids never occur inside one another: fixed length, one prefix).
        statement = statement.where(cast(LinkDecision.changes, String).like(f'%"{resident_id}"%'))
    with database.read() as session:
        found = keyset_page(
            session,
            statement,
            [LinkDecision.id.expression],
            page,
            lambda row: [row[0].id],
            descending=True,
        )
        items = [decision_of(row[0]) for row in found.items]
    return Page(items=items, next_position=found.next_position)


def undo(database: Database, decision_id: int, *, actor: Actor, reason: str) -> Decision:
    """Undo a decision: put back every link, resident and kept-apart pair it changed.

    Returns the new decision (kind ``undo``, ``reverses_id`` the undone one). Undoing an undo
    redoes the original. Raises NotFound for no such decision, and Conflict (409) when the
    decision was already undone or anything it changed has changed since (the detail names
    which records and residents moved, and by which decision).
    """
    # Imported here: residents imports this module for the Decision shape.
    from townhall.domains.people.residents import Plan, apply, required_reason  # noqa: PLC0415

    reason = required_reason(reason)
    with database.write() as session:
        row = session.get(LinkDecision, decision_id)
        if row is None:
            raise NotFound(f"There is no link decision {decision_id}.")
        if row.reversed_by_id is not None:
            raise Conflict(
                f"Decision {decision_id} was already undone by decision {row.reversed_by_id}."
            )
        changes = row.changes
        moved = changed_since(session, changes)
        if moved:
            raise Conflict(
                f"Decision {decision_id} cannot be undone: "
                + "; ".join(moved[:10])
                + ("; and more" if len(moved) > 10 else "")
                + ". Undo the later decisions first, newest first."
            )
        kept = changes.get("kept_apart", {})
        plan = Plan(
            links={change["source_record_id"]: change["from"] for change in changes["links"]},
            residents={change["id"]: change["before"] for change in changes["residents"]},
            kept_apart_added={(a, b) for a, b in kept.get("removed", [])},
            kept_apart_removed={(a, b) for a, b in kept.get("added", [])},
            review_items={item["id"]: item["before"] for item in changes.get("review_items", [])},
        )
        done = apply(
            session, plan, kind="undo", actor=actor, reason=reason.strip(), reverses_id=row.id
        )
        if done is None:
            raise Conflict(f"Decision {decision_id} changed nothing that could be undone.")
        row.reversed_by_id = done.id
        session.flush()
        return decision_of(done)


def changed_since(session: Session, changes: dict[str, Any]) -> list[str]:
    """What a decision's ``changes`` left that is no longer as it left it, in words."""
    moved: list[str] = []
    for change in changes.get("links", []):
        record_id = change["source_record_id"]
        link = session.get(ResidentLink, record_id)
        now = (
            None
            if link is None
            else {
                "resident_id": link.resident_id,
                "how": link.how,
                "match_probability": link.match_probability,
                "decision_id": link.decision_id,
            }
        )
        if now != change["to"]:
            where = (
                "is linked to no resident"
                if link is None
                else (f"is now in {link.resident_id} (decision {link.decision_id})")
            )
            moved.append(f"source record {record_id} {where}")
    for change in changes.get("residents", []):
        resident = session.get(Resident, change["id"])
        state = (
            None
            if resident is None
            else {"status": resident.status, "merged_into": resident.merged_into}
        )
        if state != change["after"]:
            status = "missing" if resident is None else resident.status
            moved.append(f"resident {change['id']} is now {status}")
    kept = changes.get("kept_apart", {})
    for left, right in kept.get("added", []):
        if session.get(KeptApart, (left, right)) is None:
            moved.append(f"records {left} and {right} are no longer kept apart")
    for left, right in kept.get("removed", []):
        if session.get(KeptApart, (left, right)) is not None:
            moved.append(f"records {left} and {right} are kept apart again")
    for item in changes.get("review_items", []):
        found = session.get(ReviewItem, item["id"])
        if found is not None and found.status != item["after"]:
            moved.append(f"review item {item['id']} is now {found.status}")
    return moved
