"""The subject access export: each source's section, the uses, and what holds withhold."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.platform.audit.trail import (
    DPO,
    OFFICER,
    OTHER_OFFICER,
    PARKING_APP,
    T0,
    add_account,
    add_use,
)
from townhall.data_uses import held_data_sources
from townhall.platform.audit.holds import HoldRecord, NewHold, make_hold
from townhall.platform.audit.subject_access import export_held_data
from townhall.platform.db import Database

NOW = T0 + timedelta(days=30)


@pytest.fixture
def resident(database: Database) -> str:
    """r1: two accounts and three uses; another resident with one account and one use."""
    add_account(database, "res_a", "grace@example.com", "r1")
    add_account(
        database,
        "res_b",
        "grace.work@example.com",
        "r1",
        oidc_issuer="https://oidc.example.com",
        oidc_subject="subject-secret-ish",
    )
    add_account(database, "res_c", "someone.else@example.com", "r2")
    add_use(database, "r1", OFFICER, hours=0)
    add_use(database, "r1", OTHER_OFFICER, hours=1)
    add_use(database, "r1", PARKING_APP, hours=2)
    add_use(database, "r2", OFFICER, hours=3)
    return "r1"


def test_the_export_holds_the_resident_s_accounts_and_no_one_else_s(
    database: Database, resident: str
) -> None:
    export = export_held_data(database, resident, held_data_sources(), now=NOW)
    [accounts] = export.sections
    assert (accounts.name, accounts.service.key) == ("resident-accounts", "account")
    assert [item.subject for item in accounts.items] == [
        "resident-account:res_a",
        "resident-account:res_b",
    ]
    first = {field.name: field.value for field in accounts.items[0].fields}
    second = {field.name: field.value for field in accounts.items[1].fields}
    assert first == {
        "email": "grace@example.com",
        "verified": True,
        "created_at": "2026-09-01T00:00:00.000000Z",
        "sign_in_provider": "A code sent by email",
    }
    assert second["sign_in_provider"] == "https://oidc.example.com"
    # Never the provider's identifier of the person, nor anything secret.
    assert "subject-secret-ish" not in repr(export)


def test_the_export_holds_every_use_of_the_resident_s_data_newest_first(
    database: Database, resident: str
) -> None:
    export = export_held_data(database, resident, held_data_sources(), now=NOW)
    assert [use.position for use in export.uses] == [3, 2, 1]
    assert not export.holds_nothing
    assert {use.resident_id for use in export.uses} == {"r1"}
    assert (export.withheld_total, export.withheld) == (0, [])


def hold_for_a_month(database: Database, **whose: str) -> HoldRecord:
    new = NewHold(
        resident_id="r1",
        reason="Investigation",
        hidden_until=NOW.date() + timedelta(days=30),
        **whose,
    )
    return make_hold(database, new, DPO, now=NOW)


def test_uses_a_hold_hides_are_withheld_and_counted_by_hold(
    database: Database, resident: str
) -> None:
    by_officer = hold_for_a_month(database, actor_id="stf_2")
    by_app = hold_for_a_month(database, consumer_id="con_parking")
    export = export_held_data(database, resident, held_data_sources(), now=NOW)
    # Shown: the first officer's use. Withheld: the other officer's, the app's, and the two
    # records of making the holds.
    assert [use.position for use in export.uses] == [1]
    assert export.withheld_total == 4
    assert [(item.hold.id, item.records) for item in export.withheld] == [
        (by_officer.id, 2),
        (by_app.id, 2),
    ]
    # Once the holds end, everything is in the export again.
    later = export_held_data(database, resident, held_data_sources(), now=NOW + timedelta(days=31))
    assert [use.position for use in later.uses] == [6, 5, 3, 2, 1]
    assert (later.withheld_total, later.withheld) == (0, [])


def test_a_resident_with_nothing_held_gets_empty_sections(database: Database) -> None:
    export = export_held_data(database, "nobody", held_data_sources(), now=NOW)
    assert [section.items for section in export.sections] == [[]]
    assert export.uses == []
    assert export.holds_nothing
