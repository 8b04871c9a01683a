"""The subject access export: everything held about a resident, and every use of it.

This module owns assembling the export a data protection officer gives a resident who asks
(UK GDPR article 15): each registered ``HeldDataSource``'s section, then the audit records about
the resident, newest first. Records an active hold hides from the resident are left out, since
an investigation may be exempt from disclosure; the export says how many were withheld and by
which hold, for the officer (the resident's copy is theirs to decide).

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

    resident_id: str
    generated_at: datetime
    sections: list[HeldSection]
    uses: list[FoundRecord]
    # Records left out because a hold hides them (a record two holds hide counts once here).
    withheld_total: int
    withheld: list[Withheld]

    @property
    def holds_nothing(self) -> bool:
        """Whether nothing at all is held about the resident, not even a withheld use."""
        empty = all(not section.items for section in self.sections)
        return empty and not self.uses and not self.withheld_total


def export_held_data(
    database: Database,
    resident_id: str,
    sources: Sequence[HeldDataSource],
    *,
    now: datetime,
) -> SubjectAccessExport:
    """The export of ``resident_id``'s data from ``sources`` and the audit trail, at ``now``."""
    hidden = hidden_by_hold(now)
    about = AuditRecord.resident_id == resident_id
    with database.read() as session:
        sections = [source.collect(session, resident_id) for source in sources]
        shown = session.scalars(
            select(AuditRecord).where(about, ~hidden).order_by(AuditRecord.position.desc())
        )
        uses = [found_record(record) for record in shown]
        withheld_total = _count(session, about, hidden)
        withheld = [
            Withheld(hold, _count(session, about, _by_one(hidden, hold.id)))
            for hold in holds_on(session, resident_id)
            if hold.active(now)
        ]
    return SubjectAccessExport(
        resident_id=resident_id,
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
