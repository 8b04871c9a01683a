"""What the people domain holds about a resident, for subject access exports.

This module owns the people domain's ``HeldDataSource`` (``platform.audit.held_data``), which
``townhall.data_uses.held_data_sources`` registers. Asked about a resident's ids (the id they have
now, then every id merged into it), it lists:

* each resident id: whether it is the current one or was merged, and for the current one the
  joined-up (golden) record, each value with the council system and record it was taken from,
  then every contact detail and address the systems hold, with which systems hold each;
* each council system's record linked to the resident: the system, its reference, the fields
  mapped from it, when the system last changed it, when Townhall received it and joined it.

Values are given as people read them (field names as ``golden.FIELD_LABELS`` words them); a
source record's raw row is not repeated, its mapped fields say what it holds. It only reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townhall.domains.people.api import subject_of as record_subject
from townhall.domains.people.data_uses import PEOPLE
from townhall.domains.people.golden import FIELD_LABELS, FIELDS
from townhall.domains.people.models import (
    PeopleSource,
    Resident,
    ResidentLink,
    SourcePersonRecord,
    SourceRecordVersion,
)
from townhall.domains.people.residents_api import subject_of as resident_subject
from townhall.platform.audit.chain import canonical_time
from townhall.platform.audit.held_data import FieldValue, HeldField, HeldItem, HeldSection

# A source record's mapped fields, in the order the golden record lists them.
RECORD_FIELDS = tuple(FIELD_LABELS)
_KINDS = {"email": "Email address", "phone": "Phone number"}


def label_of(name: str) -> str:
    """A field's name as a person reads it: "Last name", "Address"."""
    return FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


def _text(value: Any) -> FieldValue:
    """A value as the export gives it: times in UTC, dates as ``YYYY-MM-DD``, others as text."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, datetime):
        return canonical_time(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class PeopleRecords:
    """The joined-up record of the resident and each council system's record linked to it."""

    name = "people-records"
    title = "Your records in the council's systems"
    service = PEOPLE

    def collect(self, session: Session, resident_ids: Sequence[str]) -> HeldSection:
        """The resident's ids, golden record, contact details, addresses and source records."""
        systems = {
            str(name): str(label)
            for name, label in session.execute(select(PeopleSource.name, PeopleSource.label))
        }
        rows = {
            row.id: row
            for row in session.scalars(select(Resident).where(Resident.id.in_(resident_ids)))
        }
        items = [
            HeldItem(resident_subject(id_), _resident_fields(rows[id_], systems))
            for id_ in resident_ids
            if id_ in rows
        ]
        linked = list(
            session.execute(
                select(ResidentLink, SourcePersonRecord)
                .join(SourcePersonRecord, SourcePersonRecord.id == ResidentLink.source_record_id)
                .where(ResidentLink.resident_id.in_(resident_ids))
                .order_by(ResidentLink.linked_at, ResidentLink.source_record_id)
            )
        )
        earlier = _earlier_versions(session, [record.id for _link, record in linked])
        items += [
            HeldItem(
                record_subject(record.id),
                _record_fields(link, record, systems, earlier.get(record.id, 0)),
            )
            for link, record in linked
        ]
        return HeldSection(self.name, self.title, self.service, items)


def _stored_time(entry: Mapping[str, Any]) -> FieldValue:
    """A time the golden record stored as ISO text, written as the export writes times."""
    stored = entry.get("updated_at")
    try:
        return _text(datetime.fromisoformat(str(stored)))
    except ValueError:
        return _text(stored)


def _system(systems: Mapping[str, str], key: Any) -> str:
    """A council system by the name people know it by (its key when it has no label)."""
    return systems.get(str(key), str(key))


def _held_by(systems: Mapping[str, str], sources: Iterable[Mapping[str, Any]]) -> str:
    names = dict.fromkeys(_system(systems, source.get("source_system")) for source in sources)
    return ", ".join(names)


def _resident_fields(row: Resident, systems: Mapping[str, str]) -> list[HeldField]:
    """One resident id: what became of it, then its golden record while it is current."""
    if row.status == "merged" and row.merged_into:
        status = f"Merged into {row.merged_into}: the council found both were you"
    elif row.status == "empty":
        status = "No longer holds any record: its records were moved to another"
    else:
        status = "Current"
    fields = [
        HeldField("status", "This reference", status),
        HeldField("created_at", "Created", _text(row.created_at)),
    ]
    stored = row.golden or {}
    golden: dict[str, Any] = dict(stored.get("fields", {}))
    order = [name for name in FIELDS if name in golden]
    order += sorted(name for name in golden if name not in FIELDS)
    for name in order:
        entry = golden[name]
        label = label_of(name)
        fields.append(HeldField(name, label, _text(entry.get("value"))))
        if name == "address":
            fields.append(HeldField("address_postcode", "Postcode", _text(entry.get("postcode"))))
            if entry.get("uprn") is not None:
                fields.append(HeldField("address_uprn", label_of("uprn"), _text(entry["uprn"])))
        fields.append(
            HeldField(
                f"{name}_taken_from",
                f"{label}: taken from",
                f"{_system(systems, entry.get('source_system'))} record "
                f"{entry.get('source_record_id')}, as last changed {_stored_time(entry)}",
            )
        )
    for number, item in enumerate(stored.get("contact_details", []), start=1):
        kind = str(item.get("kind"))
        fields.append(
            HeldField(
                f"contact_detail_{number}",
                _KINDS.get(kind, label_of(kind)),
                f"{item.get('value')} (held by {_held_by(systems, item.get('sources', []))})",
            )
        )
    for number, item in enumerate(stored.get("addresses", []), start=1):
        parts = [str(item[key]) for key in ("address_text", "postcode") if item.get(key)]
        if item.get("uprn") is not None:
            parts.append(f"UPRN {item['uprn']}")
        fields.append(
            HeldField(
                f"address_{number}",
                "Address held",
                f"{', '.join(parts)} (held by {_held_by(systems, item.get('sources', []))})",
            )
        )
    return fields


def _record_fields(
    link: ResidentLink, record: SourcePersonRecord, systems: Mapping[str, str], earlier: int
) -> list[HeldField]:
    """One council system's record: which system, its reference, what it says, and when."""
    fields = [
        HeldField("source_system", "Council system", _system(systems, record.source_system)),
        HeldField("reference", "Its reference", record.source_record_id),
    ]
    fields += [
        HeldField(name, label_of(name), _text(getattr(record, name)))
        for name in RECORD_FIELDS
        if getattr(record, name) not in (None, "")
    ]
    if record.matched_uprn is not None:
        fields.append(
            HeldField("matched_uprn", "UPRN found from the address", _text(record.matched_uprn))
        )
    fields += [
        HeldField(f"attributes.{key}", label_of(key), _text(value))
        for key, value in sorted((record.attributes or {}).items())
    ]
    fields += [
        HeldField(
            "source_updated_at", "Last changed in that system", _text(record.source_updated_at)
        ),
        HeldField("received_at", "Received by the council's records", _text(record.received_at)),
        HeldField("linked_at", "Joined to your record", _text(link.linked_at)),
        HeldField("earlier_versions", "Earlier versions kept", str(earlier)),
    ]
    return fields


def _earlier_versions(session: Session, record_ids: Sequence[int]) -> dict[int, int]:
    """How many earlier versions of each record are kept."""
    if not record_ids:
        return {}
    counts = session.execute(
        select(SourceRecordVersion.record_id, func.count())
        .where(SourceRecordVersion.record_id.in_(record_ids))
        .group_by(SourceRecordVersion.record_id)
    )
    return {int(record_id): int(count) for record_id, count in counts}
