"""Residents: the source records linked under one stable id, and every change to those links.

This module owns ``people_residents`` and ``people_links``. ``apply`` is the one way links change:
it moves records between residents in one unit of work, with the residents it creates, merges or
empties, the golden record of every resident it touched recomputed (``golden``), the events
(``resident.created``/``updated``/``merged``/``split``), one ``LinkDecision`` holding every change
(``decisions.undo`` reverses it), and an audit use per resident touched. Merge and unlink (staff
actions), review accept/reject, the incremental linker and the full re-run all go through it.
Reads (search, one resident with its records and decisions) are here too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.orm import Session

from townhall.domains.people import golden
from townhall.domains.people.data_uses import LINKS, PEOPLE
from townhall.domains.people.decisions import Decision, decision_of, list_decisions
from townhall.domains.people.events import (
    RESIDENT_CREATED,
    RESIDENT_MERGED,
    RESIDENT_SPLIT,
    RESIDENT_UPDATED,
)
from townhall.domains.people.ids import is_resident_id, new_id
from townhall.domains.people.linkage.results import ordered
from townhall.domains.people.models import (
    KeptApart,
    LinkDecision,
    Resident,
    ResidentLink,
    ReviewItem,
    SourcePersonRecord,
)
from townhall.errors import Conflict, FieldError, NotFound, ValidationFailed
from townhall.platform.audit.uses import Actor, DataUse, record_uses
from townhall.platform.audit.vocabulary import Action
from townhall.platform.db import Database, aware
from townhall.platform.events.outbox import NewEvent, emit_many
from townhall.platform.http.blank import trimmed
from townhall.platform.http.concurrency import Precondition
from townhall.platform.http.pagination import Page, PageRequest, keyset_page

# Why Townhall itself changes links (the model, a re-run), as the audit trail records it.
LINKING = "Linking the council's records of each resident"
# How a link came to be; staff-confirmed ones are kept together by every re-run.
CONFIRMED = ("review", "staff")
# A resident state before it was created (an id is never reused, so "empty" is its only past).
NO_RESIDENT: dict[str, Any] = {"status": "empty", "merged_into": None}
# Ids per IN (...): SQLite allows 32766 parameters a statement.
CHUNK = 5000


@dataclass(frozen=True)
class ResidentSummary:
    """One resident as a search lists them: the golden name, birth date and address."""

    id: str
    first_name: str | None
    last_name: str | None
    date_of_birth: date | None
    postcode: str | None
    uprn: int | None
    source_records: int  # how many source records are linked to it


@dataclass(frozen=True)
class LinkedRecord:
    """A source record linked to a resident: which system's, who it names, how it was linked."""

    source_record_id: int  # the record's id here (/people/source-records/{id})
    source_system: str
    source_system_record_id: str  # its id in the source system
    first_name: str | None
    last_name: str
    date_of_birth: date | None
    postcode: str | None
    source_updated_at: datetime
    # model | review | staff | rerun | alone
    how: str
    match_probability: float | None
    linked_at: datetime
    decision_id: int | None


@dataclass(frozen=True)
class ResidentView:
    """One resident: the golden record, contact details, addresses, records and decisions.

    ``golden`` maps each field to {"value", "source_system", "source_record_id", "record_id",
    "updated_at", "rule"}; ``contact_details`` lists every distinct email and phone
    ({"kind", "value", "sources": [{"source_system", "record_id"}], "last_seen"});
    ``addresses`` every distinct address ({"uprn", "address_text", "postcode", "sources",
    "golden"}). A merged resident has no records; ``merged_into`` says where they went.
    """

    id: str
    status: str  # active | merged | empty
    merged_into: str | None
    version: int  # the ETag's basis: bumped on every change
    created_at: datetime
    updated_at: datetime
    golden: dict[str, Any]
    contact_details: list[dict[str, Any]]
    addresses: list[dict[str, Any]]
    records: list[LinkedRecord]
    # The decisions that touched it, newest first.
    decisions: list[Decision]


# --- applying a change: the one way links move ---------------------------------------------------


@dataclass
class Plan:
    """What a decision changes: links to set, resident states to force, kept-apart pairs.

    ``links`` maps a record to its new link state ({"resident_id", "how",
    "match_probability"}, plus "decision_id" when an undo restores an exact earlier state) or
    None to remove its link. A touched resident's status follows from its records (active when
    it has some, else empty) unless ``merged`` names where it went or ``residents`` (undo) gives
    the exact state. ``review_items`` maps an item id to its new status.
    """

    links: dict[int, dict[str, Any] | None] = field(default_factory=dict)
    merged: dict[str, str] = field(default_factory=dict)
    residents: dict[str, dict[str, Any]] = field(default_factory=dict)
    kept_apart_added: set[tuple[int, int]] = field(default_factory=set)
    kept_apart_removed: set[tuple[int, int]] = field(default_factory=set)
    review_items: dict[int, str] = field(default_factory=dict)
    # Residents the decision is about though none of their links moved (a rejection): the
    # audit trail records the use under their ids too.
    about: set[str] = field(default_factory=set)
    # Residents whose records changed though none moved: their golden records are recomputed.
    refresh: set[str] = field(default_factory=set)


def link_state(resident_id: str, how: str, probability: float | None = None) -> dict[str, Any]:
    """A link's state in a plan: the resident, how it was linked, the model's probability."""
    return {"resident_id": resident_id, "how": how, "match_probability": probability}


def actor_fields(actor: Actor) -> tuple[str, str | None]:
    """The decision's actor kind and id: a staff or resident account, a consumer, or Townhall."""
    return actor.kind.value, actor.id or actor.consumer_id


class TakenIds(Container[str]):
    """Every resident id ever given out, asked of the database, plus ids drawn in this unit."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.drawn: set[str] = set()

    def __contains__(self, candidate: object) -> bool:
        if candidate in self.drawn:
            return True
        return self.session.get(Resident, candidate) is not None

    def draw(self) -> str:
        """A new id, not given out before."""
        fresh = new_id(self)
        self.drawn.add(fresh)
        return fresh


def apply(
    session: Session,
    plan: Plan,
    *,
    kind: str,
    actor: Actor,
    reason: str | None,
    reverses_id: int | None = None,
) -> LinkDecision | None:
    """Carry out ``plan`` in ``session``'s unit of work as one decision of ``kind``.

    Links are written, residents created, merged or emptied, golden records recomputed for
    every resident touched, events emitted and one audit use per resident touched recorded.
    Returns the decision, or None when the plan changes nothing (no decision is written).
    """
    now = datetime.now(UTC)
    exact = kind == "undo"
    current = _links_of(session, plan.links)
    link_changes: list[dict[str, Any]] = []
    for record_id in sorted(plan.links):
        before = current.get(record_id)
        after = plan.links[record_id]
        if _same_place(before, after, exact=exact):
            continue
        link_changes.append({"source_record_id": record_id, "from": before, "to": after})
    kept_added = sorted(plan.kept_apart_added - _kept_apart_among(session, plan.kept_apart_added))
    kept_removed = sorted(_kept_apart_among(session, plan.kept_apart_removed))
    review_changes = _review_changes(session, plan.review_items)

    touched: set[str] = set(plan.merged) | set(plan.residents) | plan.refresh
    for change in link_changes:
        for state in (change["from"], change["to"]):
            if state is not None:
                touched.add(state["resident_id"])
    if not (link_changes or kept_added or kept_removed or review_changes or touched):
        return None

    decision = LinkDecision(
        kind=kind,
        actor_kind=actor_fields(actor)[0],
        actor_id=actor_fields(actor)[1],
        reason=reason,
        created_at=now,
        changes={},
        reverses_id=reverses_id,
    )
    session.add(decision)
    session.flush()
    for change in link_changes:
        if change["to"] is not None and not exact:
            change["to"] = {**change["to"], "decision_id": decision.id}
    _write_links(session, link_changes, now)

    rows, held, golden_before, resident_changes = _place_residents(session, plan, touched, now)
    session.flush()
    _write_kept_apart(session, kept_added, kept_removed, decision.id, now)
    _write_review_items(session, review_changes, decision.id, actor, now)

    refreshed = golden.refresh(session, [rows[resident_id] for resident_id in sorted(touched)], now)
    # A resident whose records changed is a new representation even when its golden record is
    # not: a new version, so its ETag changes and a stale If-Match is refused.
    for resident_id in sorted(touched - set(refreshed)):
        rows[resident_id].version = (rows[resident_id].version or 0) + 1
        rows[resident_id].updated_at = now
    decision.changes = {
        "links": link_changes,
        "residents": resident_changes,
        "kept_apart": {
            "added": [list(pair) for pair in kept_added],
            "removed": [list(pair) for pair in kept_removed],
        },
        "review_items": review_changes,
    }
    emit_many(
        session,
        _events(
            decision.id,
            link_changes,
            resident_changes,
            rows=rows,
            records_of=held,
            golden_before=golden_before,
        ),
    )
    uses = [
        DataUse(
            actor=actor,
            action=Action.CHANGED,
            service=PEOPLE,
            data_kind=LINKS,
            resident_id=resident_id,
            subject=f"people-decision:{decision.id}",
            details={"decision": decision.id, "kind": kind},
        )
        for resident_id in sorted(touched | plan.about)
    ]
    record_uses(session, uses)
    session.flush()
    return decision


def _place_residents(
    session: Session, plan: Plan, touched: set[str], now: datetime
) -> tuple[
    dict[str, Resident], dict[str, list[int]], dict[str, dict[str, Any]], list[dict[str, Any]]
]:
    """Each touched resident's new status (after its links moved), and what it was before."""
    rows = {row.id: row for row in residents_by_id(session, touched)}
    held = records_of(session, touched)
    resident_changes: list[dict[str, Any]] = []
    golden_before: dict[str, dict[str, Any]] = {}
    for resident_id in sorted(touched):
        row = rows.get(resident_id)
        if row is None:
            row = rows[resident_id] = Resident(
                id=resident_id, status="empty", created_at=now, updated_at=now, version=0, golden={}
            )
            session.add(row)
        before = {"status": row.status, "merged_into": row.merged_into}
        golden_before[resident_id] = row.golden or {}
        if resident_id in plan.residents:
            after = dict(plan.residents[resident_id])
        elif resident_id in plan.merged:
            after = {"status": "merged", "merged_into": plan.merged[resident_id]}
        elif held.get(resident_id):
            after = {"status": "active", "merged_into": None}
        else:
            after = dict(NO_RESIDENT)
        if after != before:
            resident_changes.append({"id": resident_id, "before": before, "after": after})
            row.status, row.merged_into = after["status"], after["merged_into"]
    return rows, held, golden_before, resident_changes


def chunks(values: Iterable[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    """``values`` sorted, in lists of at most ``size`` (SQLite limits a statement's parameters)."""
    ordered_values = sorted(values)
    for start in range(0, len(ordered_values), size):
        yield ordered_values[start : start + size]


def residents_by_id(session: Session, ids: Iterable[str]) -> list[Resident]:
    """The resident rows with these ids (those that exist)."""
    found: list[Resident] = []
    for chunk in chunks(ids):
        found.extend(session.scalars(select(Resident).where(Resident.id.in_(chunk))))
    return found


def _same_place(
    before: dict[str, Any] | None, after: dict[str, Any] | None, *, exact: bool
) -> bool:
    if before is None or after is None:
        return before is after
    if exact:
        return before == after
    return bool(before["resident_id"] == after["resident_id"])


def _links_of(session: Session, record_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    ids = sorted(record_ids)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for link in session.scalars(
            select(ResidentLink).where(ResidentLink.source_record_id.in_(chunk))
        ):
            found[link.source_record_id] = {
                "resident_id": link.resident_id,
                "how": link.how,
                "match_probability": link.match_probability,
                "decision_id": link.decision_id,
            }
    return found


def _write_links(session: Session, changes: Sequence[dict[str, Any]], now: datetime) -> None:
    # Residents first: a link's resident must exist before the link names it.
    needed = {change["to"]["resident_id"] for change in changes if change["to"] is not None}
    existing = {row.id for row in residents_by_id(session, needed)}
    for resident_id in sorted(needed - existing):
        session.add(
            Resident(
                id=resident_id, status="empty", created_at=now, updated_at=now, version=0, golden={}
            )
        )
    session.flush()
    ids = [change["source_record_id"] for change in changes]
    links: dict[int, ResidentLink] = {}
    for chunk in chunks(ids):
        for found in session.scalars(
            select(ResidentLink).where(ResidentLink.source_record_id.in_(chunk))
        ):
            links[found.source_record_id] = found
    for change in changes:
        record_id, after = change["source_record_id"], change["to"]
        existing_link = links.get(record_id)
        if after is None:
            if existing_link is not None:
                session.delete(existing_link)
            continue
        link = existing_link or ResidentLink(source_record_id=record_id)
        if existing_link is None:
            session.add(link)
        link.resident_id = after["resident_id"]
        link.how = after["how"]
        link.match_probability = after["match_probability"]
        link.decision_id = after["decision_id"]
        link.linked_at = now
    session.flush()


def _kept_apart_among(session: Session, pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    if not pairs:
        return set()
    wanted = sorted(pairs)
    found: set[tuple[int, int]] = set()
    for start in range(0, len(wanted), 2000):
        chunk = wanted[start : start + 2000]
        rows = session.execute(
            select(KeptApart.left_record_id, KeptApart.right_record_id).where(
                tuple_(KeptApart.left_record_id, KeptApart.right_record_id).in_(chunk)
            )
        )
        found.update((int(left), int(right)) for left, right in rows)
    return found


def _write_kept_apart(
    session: Session,
    added: Sequence[tuple[int, int]],
    removed: Sequence[tuple[int, int]],
    decision_id: int,
    now: datetime,
) -> None:
    for left, right in removed:
        session.execute(
            delete(KeptApart).where(
                KeptApart.left_record_id == left, KeptApart.right_record_id == right
            )
        )
    for left, right in added:
        session.add(
            KeptApart(
                left_record_id=left, right_record_id=right, decision_id=decision_id, created_at=now
            )
        )


def _review_changes(session: Session, statuses: Mapping[int, str]) -> list[dict[str, Any]]:
    if not statuses:
        return []
    changes = []
    for item in session.scalars(select(ReviewItem).where(ReviewItem.id.in_(list(statuses)))):
        if item.status != statuses[item.id]:
            changes.append(
                {
                    "id": item.id,
                    "before": item.status,
                    "after": statuses[item.id],
                    "resident_id": item.resident_id,
                    "source_record_id": item.source_record_id,
                }
            )
    return sorted(changes, key=lambda change: int(change["id"]))


def _write_review_items(
    session: Session,
    changes: Sequence[dict[str, Any]],
    decision_id: int,
    actor: Actor,
    now: datetime,
) -> None:
    for change in changes:
        item = session.get(ReviewItem, change["id"])
        if item is None:
            continue
        item.status = change["after"]
        if change["after"] == "pending":
            item.decided_at = item.decided_by = item.decision_id = None
        else:
            item.decided_at = now
            item.decided_by = actor_fields(actor)[1]
            item.decision_id = decision_id


def records_of(session: Session, resident_ids: Iterable[str]) -> dict[str, list[int]]:
    """Each resident's linked record ids, sorted."""
    found: dict[str, list[int]] = defaultdict(list)
    ids = sorted(resident_ids)
    for start in range(0, len(ids), 5000):
        rows = session.execute(
            select(ResidentLink.resident_id, ResidentLink.source_record_id)
            .where(ResidentLink.resident_id.in_(ids[start : start + 5000]))
            .order_by(ResidentLink.source_record_id)
        )
        for resident_id, record_id in rows:
            found[resident_id].append(int(record_id))
    return found


def _events(
    decision_id: int,
    link_changes: Sequence[dict[str, Any]],
    resident_changes: Sequence[dict[str, Any]],
    *,
    rows: Mapping[str, Resident],
    records_of: Mapping[str, list[int]],
    golden_before: Mapping[str, dict[str, Any]],
) -> list[NewEvent]:
    """The events of a decision: created, merged, split, and updated for the rest it touched."""
    events: list[NewEvent] = []
    created = {
        change["id"]
        for change in resident_changes
        if change["after"]["status"] == "active" and change["before"]["status"] == "empty"
    }
    merged: dict[str, list[str]] = defaultdict(list)
    for change in resident_changes:
        if change["after"]["status"] == "merged":
            merged[change["after"]["merged_into"]].append(change["id"])
    moved: dict[tuple[str, str], list[int]] = defaultdict(list)
    for change in link_changes:
        if change["from"] is not None and change["to"] is not None:
            moved[(change["from"]["resident_id"], change["to"]["resident_id"])].append(
                change["source_record_id"]
            )

    def changed(resident_id: str) -> dict[str, Any]:
        return {
            "resident_id": resident_id,
            "decision_id": decision_id,
            "source_record_ids": records_of.get(resident_id, []),
            "changed_fields": golden.changed_fields(
                golden_before.get(resident_id, {}), rows[resident_id].golden or {}
            ),
        }

    for resident_id in sorted(created):
        events.append(NewEvent(RESIDENT_CREATED, resident_id, changed(resident_id)))
    for survivor, ids in sorted(merged.items()):
        data = {"resident_id": survivor, "merged_ids": sorted(ids), "decision_id": decision_id}
        events.append(NewEvent(RESIDENT_MERGED, survivor, data))
    for (source, target), records in sorted(moved.items()):
        if rows[source].status == "active":
            data = {
                "resident_id": source,
                "new_resident_id": target,
                "source_record_ids": records,
                "decision_id": decision_id,
            }
            events.append(NewEvent(RESIDENT_SPLIT, source, data))
    for resident_id in sorted(rows):
        if resident_id not in created and rows[resident_id].status == "active":
            events.append(NewEvent(RESIDENT_UPDATED, resident_id, changed(resident_id)))
    return events


# --- staff actions -------------------------------------------------------------------------------


def resident_etag(resident_id: str, version: int) -> str:
    """A resident's ETag: its id and its version, which every change to it bumps."""
    return f'"{resident_id}-{version}"'


def active_resident(
    session: Session, resident_id: str, precondition: Precondition | None = None
) -> Resident:
    """The resident, when it is active; NotFound or Conflict (merged, empty) otherwise.

    With ``precondition`` (the caller's If-Match) the row is locked for the unit of work and a
    version the caller did not name is a PreconditionFailed.
    """
    row = session.get(Resident, resident_id, with_for_update=precondition is not None)
    if row is None:
        raise NotFound(f"There is no resident {resident_id}.")
    if row.status != "active":
        survivor = f" (merged into {row.merged_into})" if row.merged_into else ""
        raise Conflict(f"The resident {resident_id} is {row.status}{survivor}.")
    if precondition is not None:
        precondition.check(resident_etag(row.id, row.version))
    return row


def kept_apart_between(
    session: Session, left: Iterable[int], right: Iterable[int]
) -> list[tuple[int, int]]:
    """The kept-apart pairs with one record in ``left`` and the other in ``right``."""
    wanted = {ordered(a, b) for a in left for b in right if a != b}
    return sorted(_kept_apart_among(session, wanted))


def required_reason(reason: str) -> str:
    """A decision's reason, trimmed; a 422 when it is blank (every decision says why)."""
    if not trimmed(reason):
        raise ValidationFailed([FieldError("body.reason", "Say why (a reason is required)")])
    return trimmed(reason)


def merge(
    database: Database,
    resident_id: str,
    other_resident_id: str,
    *,
    actor: Actor,
    reason: str,
    precondition: Precondition | None = None,
) -> Decision:
    """Move every record of ``other_resident_id`` into ``resident_id`` (how = staff).

    The other resident becomes ``merged`` into this one. A decision, undoable. NotFound for an
    unknown id; Conflict when either is not active, they are the same, or a pair of their
    records is kept apart; PreconditionFailed when ``precondition`` (If-Match) does not name
    ``resident_id``'s current ETag.
    """
    reason = required_reason(reason)
    with database.write() as session:
        active_resident(session, resident_id, precondition)
        active_resident(session, other_resident_id)
        if resident_id == other_resident_id:
            raise Conflict(f"A resident cannot be merged with itself ({resident_id}).")
        records = records_of(session, [resident_id, other_resident_id])
        apart = kept_apart_between(
            session, records.get(resident_id, []), records.get(other_resident_id, [])
        )
        if apart:
            pairs = ", ".join(f"{left} and {right}" for left, right in apart[:5])
            raise Conflict(f"Records kept apart by an earlier decision would be joined: {pairs}.")
        plan = Plan(merged={other_resident_id: resident_id})
        for record_id in records.get(other_resident_id, []):
            plan.links[record_id] = link_state(resident_id, "staff")
        decision = apply(session, plan, kind="merge", actor=actor, reason=reason)
        assert decision is not None  # a merge always moves records
        return decision_of(decision)


def unlink(
    database: Database,
    source_record_id: int,
    *,
    actor: Actor,
    reason: str,
    into: str | None = None,
    precondition: Precondition | None = None,
) -> Decision:
    """Take a record out of its resident: into a new resident of its own, or ``into`` another.

    The record is kept apart from every record of the resident it left, so no run re-links it.
    A decision, undoable. NotFound for an unknown record or resident; Conflict when the record
    is its resident's only record and ``into`` is None, or ``into`` is not active;
    PreconditionFailed when ``precondition`` (If-Match) does not name the current ETag of the
    resident the record leaves (an ETag names its resident, so one read of another never does).
    """
    reason = required_reason(reason)
    with database.write() as session:
        link = session.get(ResidentLink, source_record_id)
        if link is None:
            raise NotFound(f"The source record {source_record_id} is not linked to a resident.")
        left = link.resident_id
        if precondition is not None:
            active_resident(session, left, precondition)
        others = [r for r in records_of(session, [left]).get(left, []) if r != source_record_id]
        if into is None:
            if not others:
                raise Conflict(
                    f"The source record {source_record_id} is already the only record of {left}."
                )
            target = TakenIds(session).draw()
        else:
            if into == left:
                raise Conflict(f"The source record {source_record_id} is already in {into}.")
            active_resident(session, into)
            target = into
            apart = kept_apart_between(
                session, [source_record_id], records_of(session, [into]).get(into, [])
            )
            if apart:
                raise Conflict(
                    f"The source record {source_record_id} is kept apart from a record of {into}."
                )
        plan = Plan(
            links={source_record_id: link_state(target, "staff")},
            kept_apart_added={ordered(source_record_id, other) for other in others},
        )
        decision = apply(session, plan, kind="unlink", actor=actor, reason=reason)
        assert decision is not None  # the record always moves
        return decision_of(decision)


# --- reads ---------------------------------------------------------------------------------------


def search_residents(
    database: Database,
    page: PageRequest,
    *,
    q: str | None = None,
    date_of_birth: date | None = None,
    postcode: str | None = None,
    uprn: int | None = None,
) -> Page[ResidentSummary]:
    """Active residents matching every filter given, by id.

    ``q`` matches any name of any linked record, whatever the case, accents or order of words
    ("o'neill mary" finds Mary O'Neill). At least one filter is required (ValidationFailed).
    """
    words = golden.name_key(q).split() if q else []
    if q is not None and not words:
        raise ValidationFailed([FieldError("query.q", "Give at least one letter or digit")])
    if not (words or date_of_birth or postcode or uprn is not None):
        raise ValidationFailed(
            [FieldError("query", "Give at least one of q, date_of_birth, postcode or uprn")]
        )
    count = (
        select(func.count())
        .where(ResidentLink.resident_id == Resident.id)
        .correlate(Resident)
        .scalar_subquery()
    )
    statement = select(Resident, count).where(Resident.status == "active")
    padded = " " + func.coalesce(Resident.name_key, "")
    for word in words:
        # A word of the query matches the start of any word of any name the resident has.
        statement = statement.where(padded.like(f"% {_escape(word)}%", escape="\\"))
    if date_of_birth is not None:
        statement = statement.where(Resident.date_of_birth == date_of_birth)
    if postcode is not None:
        statement = statement.where(
            func.replace(func.upper(Resident.postcode), " ", "")
            == postcode.upper().replace(" ", "")
        )
    if uprn is not None:
        statement = statement.where(Resident.uprn == uprn)
    with database.read() as session:
        found = keyset_page(
            session, statement, [Resident.id.expression], page, lambda row: [row[0].id]
        )
        items = [_summary(row[0], int(row[1])) for row in found.items]
    return Page(items=items, next_position=found.next_position)


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _summary(row: Resident, records: int) -> ResidentSummary:
    return ResidentSummary(
        id=row.id,
        first_name=row.first_name,
        last_name=row.last_name,
        date_of_birth=row.date_of_birth,
        postcode=row.postcode,
        uprn=row.uprn,
        source_records=records,
    )


def _known_id(resident_id: str) -> str:
    if not is_resident_id(resident_id):
        raise NotFound(f"There is no resident {resident_id}.")
    return resident_id


def get_resident(database: Database, resident_id: str) -> ResidentView:
    """One resident, merged or not (a merged one says ``merged_into``); NotFound if none."""
    _known_id(resident_id)
    with database.read() as session:
        row = session.get(Resident, resident_id)
        if row is None:
            raise NotFound(f"There is no resident {resident_id}.")
        records = _linked_records(session, resident_id)
        stored = row.golden or {}
        view = ResidentView(
            id=row.id,
            status=row.status,
            merged_into=row.merged_into,
            version=row.version,
            created_at=aware(row.created_at),
            updated_at=aware(row.updated_at),
            golden=dict(stored.get("fields", {})),
            contact_details=list(stored.get("contact_details", [])),
            addresses=list(stored.get("addresses", [])),
            records=records,
            decisions=[],
        )
    history = list_decisions(database, PageRequest(limit=50), resident_id=resident_id)
    return ResidentView(**{**view.__dict__, "decisions": history.items})


def survivor_of(database: Database, resident_id: str) -> str:
    """The active resident an id leads to (itself when active), following merges; NotFound."""
    _known_id(resident_id)
    with database.read() as session:
        seen: set[str] = set()
        current = resident_id
        while True:
            row = session.get(Resident, current)
            if row is None:
                raise NotFound(f"There is no resident {resident_id}.")
            if row.status != "merged" or row.merged_into is None or current in seen:
                return current
            seen.add(current)
            current = row.merged_into


def resident_of_record(database: Database, source_record_id: int) -> str | None:
    """The resident a source record is linked to now (None before it is linked)."""
    with database.read() as session:
        return session.scalar(
            select(ResidentLink.resident_id).where(
                ResidentLink.source_record_id == source_record_id
            )
        )


def list_links(database: Database, resident_id: str) -> list[LinkedRecord]:
    """The source records linked to a resident, oldest link first; NotFound if no resident."""
    _known_id(resident_id)
    with database.read() as session:
        if session.get(Resident, resident_id) is None:
            raise NotFound(f"There is no resident {resident_id}.")
        return _linked_records(session, resident_id)


def _linked_records(session: Session, resident_id: str) -> list[LinkedRecord]:
    rows = session.execute(
        select(ResidentLink, SourcePersonRecord)
        .join(SourcePersonRecord, SourcePersonRecord.id == ResidentLink.source_record_id)
        .where(ResidentLink.resident_id == resident_id)
        .order_by(ResidentLink.linked_at, ResidentLink.source_record_id)
    )
    return [
        LinkedRecord(
            source_record_id=record.id,
            source_system=record.source_system,
            source_system_record_id=record.source_record_id,
            first_name=record.first_name,
            last_name=record.last_name,
            date_of_birth=record.date_of_birth,
            postcode=record.postcode,
            source_updated_at=aware(record.source_updated_at),
            how=link.how,
            match_probability=link.match_probability,
            linked_at=aware(link.linked_at),
            decision_id=link.decision_id,
        )
        for link, record in rows
    ]


def aliases_of(database: Database, resident_id: str) -> list[str]:
    """``resident_id`` and every id merged into it, directly or through others.

    A resident's view of the uses of their data follows these: uses recorded under an id later
    merged into theirs are theirs too.
    """
    with database.read() as session:
        return aliases_in(session, resident_id)


def aliases_in(session: Session, resident_id: str) -> list[str]:
    """``aliases_of`` in the caller's unit of work."""
    found = [resident_id]
    frontier = [resident_id]
    while frontier:
        merged = list(
            session.scalars(
                select(Resident.id).where(
                    Resident.merged_into.in_(frontier), Resident.status == "merged"
                )
            )
        )
        frontier = [alias for alias in merged if alias not in found]
        found.extend(frontier)
    return [found[0], *sorted(found[1:])]
