"""A few residents, possible matches and decisions for the people pages' tests, made through the
people domain's own services (``load_source_records``, then ``linking.relink`` on scored pairs
written here as the model would give them), never by writing its tables.

Three stories: Grace's housing and council tax records are one resident, with a parking record
the model was unsure of (to accept); Jon's benefits record may be John's housing record (to
reject); Kemi's two records are one resident (one to unlink).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select

from townhall.domains.people import review
from townhall.domains.people.linkage.results import Comparison, ScoredPair, Thresholds
from townhall.domains.people.linking import relink
from townhall.domains.people.models import SourcePersonRecord
from townhall.domains.people.residents import resident_of_record
from townhall.domains.people.schemas import NewSourceRecord
from townhall.domains.people.service import load_source_records
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest

THRESHOLDS = Thresholds(link=0.99, review=0.80)
UPDATED = datetime(2025, 3, 4, 5, 6, tzinfo=UTC)


def person(  # noqa: PLR0917 -- a record per line, read like a row of a table
    system: str, reference: str, first: str, last: str, born: date, postcode: str, **more: str
) -> NewSourceRecord:
    return NewSourceRecord(
        source_system=system, source_record_id=reference, title=None, first_name=first,
        middle_names=None, last_name=last, date_of_birth=born, email=more.get("email"),
        phone=more.get("phone"), national_insurance_number=None,
        address_text=more.get("address"), postcode=postcode, uprn=None, attributes={},
        source_updated_at=UPDATED,
    )  # fmt: skip


GRACE_BORN = date(1971, 4, 2)
RECORDS = {
    "grace_housing": person(
        "housing", "HS1001", "Grace", "Adeyemi", GRACE_BORN, "E8 4RP",
        email="grace@example.org", address="Flat 4, 18 Mare Street, London",
    ),
    "grace_tax": person(
        "council_tax", "CT2001", "Grace", "Adeyemi", GRACE_BORN, "E8 4RP", phone="07700 900456"
    ),
    "grace_parking": person("parking", "PK3001", "Grayce", "Adeyemi", GRACE_BORN, "E8 4RP"),
    "jon_benefits": person("benefits", "BN4001", "Jon", "Okafor", date(1980, 5, 6), "N16 7AB"),
    "john_housing": person("housing", "HS1002", "John", "Okafor", date(1980, 6, 5), "N16 7AB"),
    "kemi_tax": person("council_tax", "CT2002", "Kemi", "Bello", date(1990, 1, 1), "E5 0AA"),
    "kemi_benefits": person("benefits", "BN4002", "Kemi", "Bello", date(1990, 1, 1), "E5 0AA"),
}  # fmt: skip


def comparisons(left: NewSourceRecord, right: NewSourceRecord) -> tuple[Comparison, ...]:
    """Field by field, as the model would weigh them: same is for, different is against."""

    def compare(name: str, label: str, a: object, b: object, weight: float) -> Comparison:
        same = a == b
        return Comparison(
            name,
            label,
            str(a),
            str(b),
            "Exact match" if same else "Different",
            weight if same else -weight,
        )

    return (
        compare("first_name", "First name", left.first_name, right.first_name, 4.5),
        compare("last_name", "Last name", left.last_name, right.last_name, 7.25),
        compare("date_of_birth", "Date of birth", left.date_of_birth, right.date_of_birth, 9.0),
        compare("postcode", "Postcode", left.postcode, right.postcode, 5.5),
        Comparison("email", "Email address", left.email, right.email, "Missing", 0.0),
    )


@dataclass(frozen=True)
class PeopleData:
    """The ids the tests need: records, residents and the two possible matches."""

    records: dict[str, int]
    grace: str
    jon: str
    john: str
    kemi: str
    accept_item: int  # Grace's parking record: same person
    reject_item: int  # Jon and John: different people


def pair(ids: dict[str, int], a: str, b: str, probability: float) -> ScoredPair:
    left, right = sorted((a, b), key=ids.__getitem__)
    shown = comparisons(RECORDS[left], RECORDS[right])
    prior = -12.0
    return ScoredPair(
        left=ids[left],
        right=ids[right],
        match_weight=prior + sum(c.weight for c in shown),
        match_probability=probability,
        comparisons=shown,
        prior_weight=prior,
    )


def build_people(database: Database) -> PeopleData:
    """Load the records, place them as the model's pairs say, and find what the tests need."""
    load_source_records(database, list(RECORDS.values()))
    references = {record.source_record_id: key for key, record in RECORDS.items()}
    with database.read() as session:
        rows = session.execute(
            select(SourcePersonRecord.source_record_id, SourcePersonRecord.id).where(
                SourcePersonRecord.source_record_id.in_(references)
            )
        )
        ids = {references[reference]: record_id for reference, record_id in rows}
    pairs = [
        pair(ids, "grace_housing", "grace_tax", 0.9995),
        pair(ids, "kemi_tax", "kemi_benefits", 0.998),
        pair(ids, "grace_tax", "grace_parking", 0.93),
        pair(ids, "jon_benefits", "john_housing", 0.84),
    ]
    with database.write() as session:
        relink(session, pairs, thresholds=THRESHOLDS, model_id=None)
    pending = review.list_review_items(database, PageRequest(50)).items
    by_record = {item.source_record_id: item.id for item in pending}

    def resident(key: str) -> str:
        found = resident_of_record(database, ids[key])
        assert found is not None
        return found

    return PeopleData(
        records=ids,
        grace=resident("grace_housing"),
        jon=resident("jon_benefits"),
        john=resident("john_housing"),
        kemi=resident("kemi_tax"),
        accept_item=by_record[max(ids["grace_tax"], ids["grace_parking"])],
        reject_item=by_record[max(ids["jon_benefits"], ids["john_housing"])],
    )
