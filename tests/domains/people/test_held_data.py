"""What the people domain holds about a resident, for subject access: every id, every record."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.domains.people.residents_world import STAFF, a_record, add_records, placement, rerun
from tests.platform.audit.merged_residents import Merged, merge_two_residents
from townhall.data_uses import all_ids_of, held_data_sources
from townhall.domains.people import residents, sources
from townhall.domains.people.held_data import PeopleRecords
from townhall.domains.people.sync import sync_source
from townhall.platform.audit.held_data import HeldItem
from townhall.platform.db import Database

HOUSING_MAPPING = {
    "record_id": "id",
    "updated_at": {"column": "changed", "format": "%d/%m/%Y %H:%M"},
    "fields": {"first_name": "forename", "last_name": "surname", "phone": "phone"},
    "timezone": "UTC",
}


@pytest.fixture
def merged(database: Database) -> Merged:
    return merge_two_residents(database)


def collect(database: Database, ids: tuple[str, ...]) -> list[HeldItem]:
    with database.read() as session:
        section = PeopleRecords().collect(session, ids)
    assert (section.name, section.service.key) == ("people-records", "people")
    return section.items


def fields_of(item: HeldItem) -> dict[str, object]:
    return {field.name: field.value for field in item.fields}


def labels_of(item: HeldItem) -> dict[str, str]:
    return {field.name: field.label for field in item.fields}


def test_every_id_of_a_merged_resident_leads_to_the_same_ids_the_current_one_first(
    database: Database, merged: Merged
) -> None:
    expected = (merged.survivor, merged.earlier)
    assert all_ids_of(database, merged.survivor) == expected
    assert all_ids_of(database, merged.earlier) == expected
    # An id the people domain never gave out is the only id of its resident.
    assert all_ids_of(database, "res-0042") == ("res-0042",)
    assert all_ids_of(database, "R0000000000") == ("R0000000000",)


def test_a_chain_of_merges_is_followed_both_ways(database: Database, merged: Merged) -> None:
    [housing] = add_records(database, a_record("housing", "H1", first_name="Mair"))
    rerun(database, [])
    third = placement(database)[housing]
    residents.merge(database, third, merged.survivor, actor=STAFF, reason="Mair is Mary")
    expected = (third, *sorted([merged.earlier, merged.survivor]))
    assert all_ids_of(database, merged.earlier) == expected
    assert all_ids_of(database, third) == expected


def test_the_section_lists_each_id_then_each_council_record(
    database: Database, merged: Merged
) -> None:
    items = collect(database, all_ids_of(database, merged.earlier))
    assert [item.subject for item in items] == [
        f"people-resident:{merged.survivor}",
        f"people-resident:{merged.earlier}",
        f"people-source-record:{merged.council_tax}",
        f"people-source-record:{merged.parking}",
    ]
    current, earlier = fields_of(items[0]), fields_of(items[1])
    assert current["status"] == "Current"
    assert earlier["status"] == (f"Merged into {merged.survivor}: the council found both were you")
    # The merged id holds nothing of its own now: its records are the survivor's.
    assert "last_name" not in earlier


def test_the_golden_record_says_where_each_value_came_from_as_people_read_it(
    database: Database, merged: Merged
) -> None:
    [current, *_rest] = collect(database, (merged.survivor, merged.earlier))
    values, labels = fields_of(current), labels_of(current)
    assert (values["first_name"], labels["first_name"]) == ("Mary", "First name")
    assert values["date_of_birth"] == "1980-03-07"
    # Council tax is trusted most: who Mary is comes from it.
    assert values["last_name_taken_from"] == (
        "Council Tax record CT1, as last changed 2024-05-06T00:00:00.000000Z"
    )
    assert labels["last_name_taken_from"] == "Last name: taken from"
    contact = {v for k, v in values.items() if k.startswith("contact_detail_")}
    assert contact == {
        "mary@example.com (held by Council Tax)",
        "maria@example.com (held by Parking)",
    }
    addresses = {v for k, v in values.items() if k.startswith("address_") and k[8:].isdigit()}
    assert addresses == {
        "3 Mortimer Road, London, N1 4LA, UPRN 100021000003 (held by Council Tax)",
        "9 Mare Street, London, E8 1AA (held by Parking)",
    }


def test_each_council_record_gives_its_system_reference_fields_and_times(
    database: Database, merged: Merged
) -> None:
    *_residents, council_tax, parking = collect(database, (merged.survivor, merged.earlier))
    values, labels = fields_of(parking), labels_of(parking)
    assert (values["source_system"], values["reference"]) == ("Parking", "P1")
    assert (values["first_name"], values["email"], values["postcode"]) == (
        "Maria",
        "maria@example.com",
        "E8 1AA",
    )
    assert (labels["email"], labels["reference"]) == ("Email address", "Its reference")
    # Only what the record holds: no empty fields, no raw row.
    assert "uprn" not in values
    assert "phone" not in values
    assert "raw" not in values
    assert values["source_updated_at"] == "2024-05-06T00:00:00.000000Z"
    assert values["earlier_versions"] == "0"
    assert isinstance(values["linked_at"], str)
    assert fields_of(council_tax)["uprn"] == "100021000003"


def test_a_record_synced_twice_says_when_it_came_and_that_its_earlier_version_is_kept(
    database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "housing.csv"

    def extract(phone: str, changed: str) -> None:
        with path.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(
                [
                    ["id", "forename", "surname", "phone", "changed"],
                    ["H7", "Ada", "Obi", phone, changed],
                ]
            )

    extract("07700 900111", "01/01/2025 09:00")
    sources.register_source(
        database, name="housing", label="Housing repairs", connector="csv", trust=2,
        config={"path": str(path), "changed_column": "changed",
                "changed_format": "%d/%m/%Y %H:%M", "mapping": HOUSING_MAPPING},
    )  # fmt: skip
    sync_source(database, "housing", match_addresses=False)
    extract("07700 900222", "02/01/2025 09:00")
    sync_source(database, "housing", match_addresses=False)
    rerun(database, [])
    [resident] = set(placement(database).values())
    *_resident, record = collect(database, all_ids_of(database, resident))
    values = fields_of(record)
    assert (values["source_system"], values["phone"]) == ("Housing repairs", "07700 900222")
    assert values["earlier_versions"] == "1"
    assert isinstance(values["received_at"], str)
    assert values["received_at"].endswith("Z")


def test_the_people_section_is_registered_for_exports_after_the_accounts() -> None:
    assert [source.name for source in held_data_sources()] == [
        "resident-accounts",
        "people-records",
    ]


def test_ids_that_lead_nowhere_hold_nothing(database: Database) -> None:
    assert collect(database, ("R0000000000", "res-0042")) == []
