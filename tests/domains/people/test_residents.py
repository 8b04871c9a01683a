"""Residents: placing records with stable ids, merge and unlink, search, events and audit."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from tests.domains.people.residents_world import (
    STAFF,
    a_record,
    add_records,
    add_sources,
    batch,
    pair,
    placement,
    rerun,
    residents,
)
from townhall.domains.people import residents as service
from townhall.domains.people.ids import is_resident_id
from townhall.domains.people.models import KeptApart, LinkDecision, Resident
from townhall.errors import Conflict, NotFound, ValidationFailed
from townhall.platform.audit.models import AuditRecord
from townhall.platform.db import Database
from townhall.platform.events.models import OutboxEvent
from townhall.platform.http.pagination import PageRequest


@pytest.fixture
def mary(database: Database) -> list[int]:
    """Three records of Mary O'Neill (two link, one is a review-band match) and one of Tom."""
    add_sources(database)
    return add_records(
        database,
        a_record("council_tax", "CT1", email="mary@example.com"),
        a_record("housing", "H1", first_name="Maria", email="m.oneill@example.com",
                 source_updated_at=datetime(2025, 1, 1, tzinfo=UTC)),
        a_record("parking", "P1", last_name="Oneill"),
        a_record("parking", "P2", first_name="Tom", last_name="Zoë-Smith",
                 date_of_birth=date(1990, 1, 2), postcode="E8 1AA", uprn=None,
                 address_text="9 Mare Street"),
    )  # fmt: skip


def test_a_first_run_makes_one_resident_per_person_with_a_golden_record(
    database: Database, mary: list[int]
) -> None:
    ct, housing, parking, tom = mary
    result = rerun(database, [pair(ct, housing, 0.999), pair(ct, parking, 0.9)])

    placed = placement(database)
    assert placed[ct] == placed[housing] != placed[parking] != placed[tom]
    assert all(is_resident_id(resident) for resident in placed.values())
    assert result.residents == 3
    assert result.review_items == 1
    assert result.decision is not None
    assert result.decision.kind == "rerun"
    view = service.get_resident(database, placed[ct])
    # Names from the most trusted source (council tax), email from the most recent record.
    assert view.golden["first_name"]["value"] == "Mary"
    assert view.golden["first_name"]["source_system"] == "council_tax"
    assert view.golden["email"]["value"] == "m.oneill@example.com"
    assert {detail["value"] for detail in view.contact_details} == {
        "mary@example.com",
        "m.oneill@example.com",
    }
    assert [address["uprn"] for address in view.addresses] == [100021000003]
    assert {record.how for record in view.records} == {"rerun"}
    assert [decision.id for decision in view.decisions] == [result.decision.id]
    with database.read() as session:
        events = [
            name.rsplit(".", 2)[-2] + "." + name.rsplit(".", 1)[-1]
            for name in session.scalars(select(OutboxEvent.type).order_by(OutboxEvent.position))
        ]
        uses = session.execute(
            select(AuditRecord.resident_id, AuditRecord.actor_kind).where(
                AuditRecord.data_kind == "links"
            )
        ).all()
    assert events.count("resident.created") == 3
    assert {resident for resident, _kind in uses} == set(placed.values())
    assert {kind for _resident, kind in uses} == {"system"}


def test_a_rerun_on_the_same_pairs_changes_nothing(database: Database, mary: list[int]) -> None:
    ct, housing, parking, _tom = mary
    pairs = [pair(ct, housing, 0.999), pair(ct, parking, 0.9)]
    rerun(database, pairs)
    before = residents(database), placement(database)

    again = rerun(database, pairs)

    assert again.decision is None
    assert (residents(database), placement(database)) == before


def test_a_rerun_that_joins_residents_keeps_the_older_id_and_the_other_leads_there(
    database: Database, mary: list[int]
) -> None:
    ct, housing, parking, _tom = mary
    rerun(database, [pair(ct, housing, 0.999)])
    first = placement(database)

    rerun(database, [pair(ct, housing, 0.999), pair(housing, parking, 0.995)])

    placed = placement(database)
    assert placed[ct] == placed[parking] == first[ct]
    assert service.survivor_of(database, first[parking]) == first[ct]
    assert service.aliases_of(database, first[ct]) == [first[ct], first[parking]]
    assert residents(database)[first[parking]][:2] == ("merged", first[ct])


def test_the_incremental_linker_places_each_new_record(database: Database, mary: list[int]) -> None:
    ct, housing, parking, tom = mary
    batch(database, [ct, tom], [])
    batch(database, [housing, parking], [pair(ct, housing, 0.999), pair(housing, parking, 0.85)])

    placed = placement(database)
    assert placed[housing] == placed[ct]
    assert len({placed[ct], placed[parking], placed[tom]}) == 3
    view = service.get_resident(database, placed[ct])
    assert {(record.source_record_id, record.how) for record in view.records} == {
        (ct, "alone"),
        (housing, "model"),
    }


def test_merge_moves_every_record_and_the_merged_id_leads_to_the_survivor(
    database: Database, mary: list[int]
) -> None:
    ct, _housing, parking, _tom = mary
    rerun(database, [])
    placed = placement(database)

    decision = service.merge(database, placed[ct], placed[parking], actor=STAFF, reason="Same NI")

    assert (decision.kind, decision.actor_id) == ("merge", "staff-7")
    assert placement(database)[parking] == placed[ct]
    assert service.survivor_of(database, placed[parking]) == placed[ct]
    assert service.get_resident(database, placed[parking]).merged_into == placed[ct]
    with database.read() as session:
        types = {name.split("townhall.")[-1] for name in session.scalars(select(OutboxEvent.type))}
        staff_uses = session.scalars(
            select(AuditRecord.resident_id).where(AuditRecord.actor_kind == "staff")
        ).all()
    assert {"resident.merged", "resident.updated"} <= types
    assert sorted(staff_uses) == sorted([placed[ct], placed[parking]])
    with pytest.raises(Conflict, match="merged"):
        service.merge(database, placed[ct], placed[parking], actor=STAFF, reason="again")


def test_unlink_gives_the_record_a_resident_of_its_own_and_keeps_it_apart(
    database: Database, mary: list[int]
) -> None:
    ct, housing, _parking, _tom = mary
    rerun(database, [pair(ct, housing, 0.999)])
    before = placement(database)

    decision = service.unlink(database, housing, actor=STAFF, reason="Different person")

    after = placement(database)
    assert after[ct] == before[ct]
    assert after[housing] not in before.values()
    assert decision.changes["kept_apart"]["added"] == [[ct, housing]]
    # No run re-links it, however strong the pair.
    rerun(database, [pair(ct, housing, 0.9999)])
    assert placement(database) == after
    with database.read() as session:
        assert session.get(KeptApart, (ct, housing)) is not None
    with pytest.raises(Conflict, match="only record"):
        service.unlink(database, housing, actor=STAFF, reason="again")


def test_unlink_into_a_named_resident(database: Database, mary: list[int]) -> None:
    ct, housing, parking, _tom = mary
    rerun(database, [pair(ct, housing, 0.999)])
    placed = placement(database)

    service.unlink(database, housing, actor=STAFF, reason="Is Pat", into=placed[parking])

    assert placement(database)[housing] == placed[parking]
    with pytest.raises(NotFound):
        service.unlink(database, 999_999, actor=STAFF, reason="x")


def test_search_matches_any_name_whatever_its_case_accents_or_order(
    database: Database, mary: list[int]
) -> None:
    ct, housing, _parking, tom = mary
    rerun(database, [pair(ct, housing, 0.999)])
    placed = placement(database)

    def ids(**filters: object) -> list[str]:
        page = service.search_residents(database, PageRequest(limit=10), **filters)  # type: ignore[arg-type]
        return [summary.id for summary in page.items]

    assert ids(q="o'neill MARIA") == [placed[ct]]
    assert ids(q="smith zoe") == [placed[tom]]
    assert ids(q="zoë", postcode="e81aa") == [placed[tom]]
    assert set(ids(date_of_birth=date(1980, 3, 7))) == {placed[ct], placement(database)[mary[2]]}
    assert ids(uprn=100021000003, q="mary oneill")
    assert ids(q="nobody") == []
    with pytest.raises(ValidationFailed):
        ids()
    with pytest.raises(ValidationFailed):
        ids(q="'-")


def test_search_finds_names_written_in_any_script(database: Database) -> None:
    add_sources(database)
    anna, li, noor = add_records(
        database,
        a_record("council_tax", "CT7", first_name="Анна", last_name="Петрова"),
        a_record("housing", "H7", first_name="小龍", last_name="李"),
        a_record("parking", "P7", first_name="نور", last_name="الهدى"),
    )
    rerun(database, [])
    placed = placement(database)

    def ids(q: str) -> list[str]:
        return [
            found.id for found in service.search_residents(database, PageRequest(10), q=q).items
        ]

    assert ids("ПЕТРОВА анна") == [placed[anna]]
    assert ids("李") == [placed[li]]
    assert ids("نور") == [placed[noor]]
    assert ids("Anna") == []  # no transliteration: a name is found as it is written


def test_reads_of_unknown_residents_are_not_found(database: Database) -> None:
    with pytest.raises(NotFound):
        service.get_resident(database, "R000000000")
    with pytest.raises(NotFound):
        service.get_resident(database, "not-an-id")
    with pytest.raises(NotFound):
        service.list_links(database, "R000000000")
    assert service.resident_of_record(database, 12345) is None


def test_a_decision_row_holds_every_change(database: Database, mary: list[int]) -> None:
    rerun(database, [])
    with database.read() as session:
        changes = session.scalars(select(LinkDecision.changes)).one()
        residents_count = len(session.scalars(select(Resident.id)).all())
    assert len(changes["links"]) == len(mary) == residents_count
    assert all(change["from"] is None for change in changes["links"])
