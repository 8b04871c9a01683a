"""The subject access export: everything held about a resident, and every use of it.

This module owns assembling the export a data protection officer gives a resident who asks
(UK GDPR article 15): each registered ``HeldDataSource``'s section, then the audit records about
the resident, newest first. Records an active hold hides from the resident are left out, since
an investigation may be exempt from disclosure; the export says how many were withheld and by
which hold, for the officer (the resident's copy is theirs to decide).

A resident may have had several ids (two residents merged are one person): the caller passes
every one (``townhall.data_uses.all_ids_of``), the id they have now first, and the export
covers the data and uses under each, and says which ids it covers. A hold on any of the ids
withholds the uses it names under every one of them, as the resident's own view hides them.

It only reads. Making the export is itself a use (``exported``, everything held), which the
caller records before answering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Exists, func, select
from sqlalchemy.orm import Session

from townhall.platform.audit.held_data import HeldDataSource, HeldSection
from townhall.platform.audit.holds import HoldRecord, holds_on
from townhall.platform.audit.models import AuditHold, AuditRecord
from townhall.platform.audit.resident_view import hidden_by_hold
from townhall.platform.audit.search import FoundRecord, found_record
from townhall.platform.db import Database


@dataclass(frozen=True)
class Withheld:
    """The records one active hold keeps out of the export."""

    hold: HoldRecord
    records: int


@dataclass(frozen=True)
class SubjectAccessExport:
    """Everything held about one resident, at ``generated_at``."""

    # Every id the export covers: the id the resident has now, then those merged into it.
    resident_ids: tuple[str, ...]
    generated_at: datetime
    sections: list[HeldSection]
    uses: list[FoundRecord]
    # Records left out because a hold hides them (a record two holds hide counts once here).
    withheld_total: int
    withheld: list[Withheld]

    @property
    def resident_id(self) -> str:
        """The id the resident has now."""
        return self.resident_ids[0]

    @property
    def earlier_ids(self) -> tuple[str, ...]:
        """The ids merged into the resident's, whose data and uses the export covers too."""
        return self.resident_ids[1:]

    @property
    def holds_nothing(self) -> bool:
        """Whether nothing at all is held about the resident, not even a withheld use."""
        empty = all(not section.items for section in self.sections)
        return empty and not self.uses and not self.withheld_total


def export_held_data(
    database: Database,
    resident_ids: Sequence[str],
    sources: Sequence[HeldDataSource],
    *,
    now: datetime,
) -> SubjectAccessExport:
    """The export of the data of the resident known by ``resident_ids`` (the id they have now
    first) from ``sources`` and the audit trail, at ``now``."""
    ids = tuple(dict.fromkeys(resident_ids))
    if not ids:
        raise ValueError("An export is about at least one resident id.")
    hidden = hidden_by_hold(now, ids)
    about = AuditRecord.resident_id.in_(ids)
    with database.read() as session:
        sections = [source.collect(session, ids) for source in sources]
        shown = session.scalars(
            select(AuditRecord).where(about, ~hidden).order_by(AuditRecord.position.desc())
        )
        uses = [found_record(record) for record in shown]
        withheld_total = _count(session, about, hidden)
        withheld = [
            Withheld(hold, _count(session, about, _by_one(hidden, hold.id)))
            for hold in holds_on(session, ids)
            if hold.active(now)
        ]
    return SubjectAccessExport(
        resident_ids=ids,
        generated_at=now,
        sections=sections,
        uses=uses,
        withheld_total=withheld_total,
        withheld=withheld,
    )


def _by_one(hidden: ColumnElement[bool], hold_id: str) -> Exists:
    """The hold rule narrowed to one hold: the records ``hold_id`` alone hides."""
    assert isinstance(hidden, Exists)
    return hidden.where(AuditHold.id == hold_id)


def _count(session: Session, *conditions: ColumnElement[bool]) -> int:
    return int(
        session.scalar(select(func.count()).select_from(AuditRecord).where(*conditions)) or 0
    )
