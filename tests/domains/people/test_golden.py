"""The golden record: survivorship rules per field, changeable, and their defaults."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.domains.people.residents_world import (
    a_record,
    add_records,
    add_sources,
    pair,
    placement,
    rerun,
)
from townhall.domains.people import golden
from townhall.domains.people import residents as service
from townhall.errors import ValidationFailed
from townhall.platform.db import Database

OLD = datetime(2023, 1, 1, tzinfo=UTC)
NEW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def linked(database: Database) -> str:
    add_sources(database)
    ct, housing, parking = add_records(
        database,
        a_record("council_tax", "CT1", first_name="Mary", phone="020 7946 0000",
                 source_updated_at=OLD, uprn=None, address_text="Flat 1, 3 Mortimer Rd"),
        a_record("housing", "H1", first_name="Maria", phone="07700 900123",
                 source_updated_at=NEW, uprn=100021000009, address_text="9 Ball's Pond Road",
                 postcode="N1 4AB"),
        a_record("parking", "P1", first_name="Molly", phone="020 7946 0000", email="m@x.org",
                 source_updated_at=OLD),
    )  # fmt: skip
    rerun(database, [pair(ct, housing, 0.999), pair(ct, parking, 0.999)])
    return placement(database)[ct]


def test_defaults_take_who_from_the_most_trusted_and_contact_from_the_most_recent(
    database: Database, linked: str
) -> None:
    view = service.get_resident(database, linked)

    assert view.golden["first_name"]["value"] == "Mary"
    assert view.golden["first_name"]["rule"] == "most_trusted"
    assert view.golden["phone"]["value"] == "07700 900123"
    assert view.golden["phone"]["source_system"] == "housing"
    assert view.golden["address"]["uprn"] == 100021000009
    assert view.golden["email"]["source_system"] == "parking"
    phones = [detail for detail in view.contact_details if detail["kind"] == "phone"]
    assert [len(detail["sources"]) for detail in phones] == [2, 1]
    assert [(a["uprn"], a["golden"]) for a in view.addresses] == [
        (100021000009, True),
        (100021000003, False),
        (None, False),
    ]


def test_changing_a_rule_and_recomputing_changes_the_golden_record(
    database: Database, linked: str
) -> None:
    with database.write() as session:
        golden.set_rules(
            session,
            [golden.Rule("first_name", golden.MOST_TRUSTED, ("parking", "housing"))],
            updated_by="staff-7",
        )
    changed = golden.recompute_all(database)

    assert changed == 1
    view = service.get_resident(database, linked)
    assert view.golden["first_name"]["value"] == "Molly"
    rules = {rule.field: rule for rule in golden.list_rules(database)}
    assert rules["first_name"].sources == ("parking", "housing")
    assert rules["first_name"].updated_by == "staff-7"
    assert rules["last_name"].updated_at is None
    assert golden.recompute_all(database) == 0


def test_unknown_fields_rules_and_sources_are_refused(database: Database, linked: str) -> None:
    with database.write() as session, pytest.raises(ValidationFailed) as refused:
        golden.set_rules(
            session,
            [
                golden.Rule("shoe_size", golden.MOST_RECENT),
                golden.Rule("email", "loudest"),
                golden.Rule("phone", golden.MOST_TRUSTED, ("library",)),
            ],
            updated_by="staff-7",
        )
    assert [error.field for error in refused.value.errors] == [
        "body.rules.0.field",
        "body.rules.1.rule",
        "body.rules.2.sources",
    ]


def test_name_keys_ignore_case_accents_and_punctuation() -> None:
    assert golden.name_key("O'Neill-Smith") == "oneill smith"
    assert golden.name_key("Zoë", None, "DE LA CRUZ") == "zoe de la cruz"
