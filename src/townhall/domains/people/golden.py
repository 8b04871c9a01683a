"""The golden record: each field of a resident chosen among its source records by a rule.

This module owns survivorship (``people_survivorship_rules``) and computing a resident's golden
record, contact details and addresses from its linked records. A rule per field says how its
value is chosen: ``most_trusted`` (the first source in the rule's list with a value, then
sources by their trust, then the most recent) or ``most_recent`` (the latest
``source_updated_at`` with a value, ties by trust). Fields with no row in the table use the
defaults here. Every chosen value says where it came from, so a person can see why.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from townhall.domains.people.events import RESIDENT_UPDATED
from townhall.domains.people.models import (
    PeopleSource,
    Resident,
    ResidentLink,
    SourcePersonRecord,
    SurvivorshipRule,
)
from townhall.errors import FieldError, ValidationFailed
from townhall.platform.db import Database, aware
from townhall.platform.events.outbox import NewEvent, emit_many

MOST_TRUSTED = "most_trusted"
MOST_RECENT = "most_recent"
RULES = (MOST_TRUSTED, MOST_RECENT)

# The golden record's fields, in the order a page shows them, and each one's default rule:
# who a person is comes from the system trusted most; how to reach them from the latest news.
DEFAULT_RULES: dict[str, str] = {
    "title": MOST_TRUSTED,
    "first_name": MOST_TRUSTED,
    "middle_names": MOST_TRUSTED,
    "last_name": MOST_TRUSTED,
    "date_of_birth": MOST_TRUSTED,
    "national_insurance_number": MOST_TRUSTED,
    "email": MOST_RECENT,
    "phone": MOST_RECENT,
    # The address text, its postcode and UPRN are chosen together, from one record.
    "address": MOST_RECENT,
}
FIELDS = tuple(DEFAULT_RULES)
# A golden record's values as a person reads their names, in the order pages and answers list them.
FIELD_LABELS = {
    "title": "Title",
    "first_name": "First name",
    "middle_names": "Middle names",
    "last_name": "Last name",
    "date_of_birth": "Date of birth",
    "email": "Email address",
    "phone": "Phone number",
    "national_insurance_number": "National Insurance number",
    "address_text": "Address",
    "postcode": "Postcode",
    "uprn": "Unique property reference number (UPRN)",
}


@dataclass(frozen=True)
class Rule:
    """How one field is chosen, and (for most_trusted) the sources in order of trust."""

    field: str
    rule: str
    sources: tuple[str, ...] = ()
    updated_at: datetime | None = None  # None: the default in code, never changed
    updated_by: str | None = None


def name_key(*names: str | None) -> str:
    """Names as search compares them: case folded, no accents or apostrophes, words by spaces.

    "O'Neill-Smith" is "oneill smith"; "Zoë" is "zoe". Letters of every script are kept
    ("Анна Петрова" is "анна петрова"), since a borough's residents write their names in many;
    a query and the names it is compared with pass through the same steps.
    """
    text = " ".join(name for name in names if name)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = re.sub("['\u2019`]", "", text.casefold())
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


# --- rules -----------------------------------------------------------------------------------


def rules(session: Session) -> dict[str, Rule]:
    """Every field's rule: the table's, or the default in code for a field it has no row for."""
    found = {
        row.field: Rule(
            row.field, row.rule, tuple(row.sources), aware(row.updated_at), row.updated_by
        )
        for row in session.scalars(select(SurvivorshipRule))
    }
    return {name: found.get(name, Rule(name, DEFAULT_RULES[name])) for name in FIELDS}


def list_rules(database: Database) -> list[Rule]:
    """Every field's rule, in the golden record's order."""
    with database.read() as session:
        return list(rules(session).values())


def validate_rules(changes: Sequence[Rule], known_sources: Iterable[str]) -> None:
    """ValidationFailed naming each unknown field, rule or source in ``changes``."""
    known = set(known_sources)
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, change in enumerate(changes):
        where = f"body.rules.{index}"
        if change.field not in DEFAULT_RULES:
            errors.append(
                FieldError(f"{where}.field", f"Unknown field; one of {', '.join(FIELDS)}")
            )
        if change.field in seen:
            errors.append(FieldError(f"{where}.field", "The field is given twice"))
        seen.add(change.field)
        if change.rule not in RULES:
            errors.append(FieldError(f"{where}.rule", f"Unknown rule; one of {', '.join(RULES)}"))
        for name in change.sources:
            if name not in known:
                errors.append(FieldError(f"{where}.sources", f"Unknown source system {name!r}"))
    if errors:
        raise ValidationFailed(errors)


def set_rules(session: Session, changes: Sequence[Rule], *, updated_by: str) -> None:
    """Replace the rules of the fields in ``changes`` (in the caller's unit of work).

    Golden records are not recomputed here: call ``recompute_all`` after the commit.
    """
    validate_rules(changes, session.scalars(select(PeopleSource.name)))
    now = datetime.now(UTC)
    fields = [change.field for change in changes]
    session.execute(delete(SurvivorshipRule).where(SurvivorshipRule.field.in_(fields)))
    for change in changes:
        session.add(
            SurvivorshipRule(
                field=change.field,
                rule=change.rule,
                sources=list(change.sources),
                updated_at=now,
                updated_by=updated_by,
            )
        )


def trust_of(session: Session) -> dict[str, int]:
    """Each source system's trust (1 is the most trusted)."""
    rows = session.execute(select(PeopleSource.name, PeopleSource.trust))
    return dict(rows.all())


# --- computing ---------------------------------------------------------------------------------

_UNTRUSTED = 1_000_000


def _value(record: SourcePersonRecord, name: str) -> Any:
    if name == "address":
        return record.address_text if (record.address_text or uprn_of(record)) else None
    return getattr(record, name)


def uprn_of(record: SourcePersonRecord) -> int | None:
    """The record's UPRN: as its source gave it, else as address matching found it."""
    return record.uprn if record.uprn is not None else record.matched_uprn


def _stamp(moment: datetime) -> float:
    return aware(moment).timestamp()


def choose(
    records: Sequence[SourcePersonRecord], rule: Rule, trust: Mapping[str, int]
) -> SourcePersonRecord | None:
    """The record whose value of ``rule.field`` survives (None when no record has one)."""
    having = [record for record in records if _value(record, rule.field) not in (None, "")]
    if not having:
        return None
    listed = {name: index for index, name in enumerate(rule.sources)}

    def trusted(record: SourcePersonRecord) -> tuple[int, int]:
        return (
            listed.get(record.source_system, len(listed)),
            trust.get(record.source_system, _UNTRUSTED),
        )

    if rule.rule == MOST_TRUSTED:
        return min(having, key=lambda r: (*trusted(r), -_stamp(r.source_updated_at), r.id))
    return min(having, key=lambda r: (-_stamp(r.source_updated_at), *trusted(r), r.id))


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


@dataclass(frozen=True)
class Golden:
    """A resident's golden record with its searchable columns."""

    record: dict[str, Any]  # {"fields", "contact_details", "addresses"}: stored as ``golden``
    first_name: str | None
    last_name: str | None
    name_key: str | None
    date_of_birth: date | None
    postcode: str | None
    uprn: int | None


def compute(
    records: Sequence[SourcePersonRecord],
    rules_by_field: Mapping[str, Rule],
    trust: Mapping[str, int],
) -> Golden:
    """The golden record of a resident holding ``records``."""
    fields: dict[str, Any] = {}
    chosen: dict[str, SourcePersonRecord] = {}
    for name in FIELDS:
        rule = rules_by_field[name]
        winner = choose(records, rule, trust)
        if winner is None:
            continue
        chosen[name] = winner
        entry = {
            "value": _jsonable(_value(winner, name)),
            "source_system": winner.source_system,
            "source_record_id": winner.source_record_id,
            "record_id": winner.id,
            "updated_at": aware(winner.source_updated_at).isoformat(),
            "rule": rule.rule,
        }
        if name == "address":
            entry["postcode"] = winner.postcode
            entry["uprn"] = uprn_of(winner)
        fields[name] = entry
    address = chosen.get("address")
    names = sorted(
        {
            key
            for record in records
            for key in name_key(record.first_name, record.middle_names, record.last_name).split()
        }
    )
    key = " ".join(names)[:220] or None
    first = chosen.get("first_name")
    last = chosen.get("last_name")
    born = chosen.get("date_of_birth")
    return Golden(
        record={
            "fields": fields,
            "contact_details": contact_details(records),
            "addresses": addresses(records, address),
        },
        first_name=first.first_name if first else None,
        last_name=last.last_name if last else None,
        name_key=key,
        date_of_birth=born.date_of_birth if born else None,
        postcode=address.postcode if address else None,
        uprn=uprn_of(address) if address else None,
    )


def contact_details(records: Iterable[SourcePersonRecord]) -> list[dict[str, Any]]:
    """Every distinct email and phone, with the records holding it and when last seen."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: r.id):
        for kind in ("email", "phone"):
            value = getattr(record, kind)
            if not value:
                continue
            key = (kind, value.strip().lower() if kind == "email" else re.sub(r"\D", "", value))
            seen = aware(record.source_updated_at).isoformat()
            entry = found.setdefault(
                key, {"kind": kind, "value": value, "sources": [], "last_seen": seen}
            )
            entry["sources"].append({"source_system": record.source_system, "record_id": record.id})
            entry["last_seen"] = max(entry["last_seen"], seen)
    return sorted(
        found.values(), key=lambda entry: (entry["kind"], entry["last_seen"]), reverse=False
    )


def addresses(
    records: Iterable[SourcePersonRecord], golden: SourcePersonRecord | None
) -> list[dict[str, Any]]:
    """Every distinct address (by UPRN, else by its text), the golden one marked."""
    found: dict[str, dict[str, Any]] = {}
    golden_key = _address_key(golden) if golden is not None else None
    for record in sorted(records, key=lambda r: r.id):
        key = _address_key(record)
        if key is None:
            continue
        entry = found.setdefault(
            key,
            {
                "uprn": uprn_of(record),
                "address_text": record.address_text,
                "postcode": record.postcode,
                "sources": [],
                "golden": key == golden_key,
            },
        )
        entry["sources"].append({"source_system": record.source_system, "record_id": record.id})
    return sorted(found.values(), key=lambda entry: (not entry["golden"], str(entry["uprn"])))


def _address_key(record: SourcePersonRecord) -> str | None:
    uprn = uprn_of(record)
    if uprn is not None:
        return f"uprn:{uprn}"
    if record.address_text:
        return "text:" + name_key(record.address_text)
    return None


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The golden record's field names whose value or source changed (for events: no values)."""
    old = before.get("fields", {})
    new = after.get("fields", {})
    names = [name for name in FIELDS if old.get(name) != new.get(name)]
    for part in ("contact_details", "addresses"):
        if before.get(part) != after.get(part):
            names.append(part)
    return names


# --- keeping residents' golden records up to date ---------------------------------------------


def refresh(session: Session, residents: Sequence[Resident], now: datetime) -> list[str]:
    """Recompute the golden record of each resident from its records; return those changed.

    A resident without records (merged, empty) has an empty golden record. Each one changed
    gets a new version (its ETag).
    """
    rules_by_field = rules(session)
    trust = trust_of(session)
    by_resident: dict[str, list[SourcePersonRecord]] = defaultdict(list)
    ids = [resident.id for resident in residents]
    for start in range(0, len(ids), 2000):
        rows = session.execute(
            select(ResidentLink.resident_id, SourcePersonRecord)
            .join(SourcePersonRecord, SourcePersonRecord.id == ResidentLink.source_record_id)
            .where(ResidentLink.resident_id.in_(ids[start : start + 2000]))
        )
        for resident_id, source in rows:
            by_resident[resident_id].append(source)
    changed = []
    for resident in residents:
        records = by_resident.get(resident.id, [])
        computed = compute(records, rules_by_field, trust) if records else None
        record = computed.record if computed else {}
        columns = (
            (
                computed.first_name,
                computed.last_name,
                computed.name_key,
                computed.date_of_birth,
                computed.postcode,
                computed.uprn,
            )
            if computed
            else (None,) * 6
        )
        old_columns = (
            resident.first_name,
            resident.last_name,
            resident.name_key,
            resident.date_of_birth,
            resident.postcode,
            resident.uprn,
        )
        if record == (resident.golden or {}) and columns == old_columns and resident.version:
            continue
        resident.golden = record
        (
            resident.first_name,
            resident.last_name,
            resident.name_key,
            resident.date_of_birth,
            resident.postcode,
            resident.uprn,
        ) = columns
        resident.version = (resident.version or 0) + 1
        resident.updated_at = now
        changed.append(resident.id)
    return changed


def recompute_all(
    database: Database,
    *,
    batch: int = 1000,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Recompute every active resident's golden record, a batch per unit of work.

    After a rule changes. Each resident whose golden record changed gets a new version and a
    ``resident.updated`` event naming the fields that changed. Returns how many changed.
    ``on_progress(done, total)`` follows the batches.
    """
    with database.read() as session:
        ids = list(
            session.scalars(
                select(Resident.id).where(Resident.status == "active").order_by(Resident.id)
            )
        )
    changed = 0
    for start in range(0, len(ids), batch):
        with database.write() as session:
            rows = list(
                session.scalars(select(Resident).where(Resident.id.in_(ids[start : start + batch])))
            )
            before = {row.id: dict(row.golden or {}) for row in rows}
            done = refresh(session, rows, datetime.now(UTC))
            by_id = {row.id: row for row in rows}
            held: dict[str, list[int]] = defaultdict(list)
            for resident_id, record_id in session.execute(
                select(ResidentLink.resident_id, ResidentLink.source_record_id)
                .where(ResidentLink.resident_id.in_(done))
                .order_by(ResidentLink.source_record_id)
            ):
                held[resident_id].append(int(record_id))
            emit_many(
                session,
                [
                    NewEvent(
                        RESIDENT_UPDATED,
                        resident_id,
                        {
                            "resident_id": resident_id,
                            "decision_id": None,
                            "source_record_ids": held[resident_id],
                            "changed_fields": changed_fields(
                                before[resident_id], by_id[resident_id].golden
                            ),
                        },
                    )
                    for resident_id in done
                ],
            )
            changed += len(done)
        if on_progress is not None:
            on_progress(min(start + batch, len(ids)), len(ids))
    return changed
