"""The subject access export: each source's section, the uses, and what holds withhold."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.platform.audit.merged_residents import merge_two_residents
from tests.platform.audit.trail import (
    DPO,
    OFFICER,
    OTHER_OFFICER,
    PARKING_APP,
    T0,
    add_account,
    add_use,
)
from townhall.data_uses import all_ids_of, held_data_sources
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
    export = export_held_data(database, [resident], held_data_sources(), now=NOW)
    accounts, people = export.sections
    assert (people.name, people.items) == ("people-records", [])
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
    export = export_held_data(database, [resident], held_data_sources(), now=NOW)
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
    export = export_held_data(database, [resident], held_data_sources(), now=NOW)
    # Shown: the first officer's use. Withheld: the other officer's, the app's, and the two
    # records of making the holds.
    assert [use.position for use in export.uses] == [1]
    assert export.withheld_total == 4
    assert [(item.hold.id, item.records) for item in export.withheld] == [
        (by_officer.id, 2),
        (by_app.id, 2),
    ]
    # Once the holds end, everything is in the export again.
    later = export_held_data(
        database, [resident], held_data_sources(), now=NOW + timedelta(days=31)
    )
    assert [use.position for use in later.uses] == [6, 5, 3, 2, 1]
    assert (later.withheld_total, later.withheld) == (0, [])


def test_a_resident_with_nothing_held_gets_empty_sections(database: Database) -> None:
    export = export_held_data(database, ["nobody"], held_data_sources(), now=NOW)
    assert [section.items for section in export.sections] == [[], []]
    assert export.uses == []
    assert export.holds_nothing


def test_an_export_of_a_merged_resident_covers_every_id_it_has_had(database: Database) -> None:
    mary = merge_two_residents(database)
    # Connected to the parking resident before the merge: still Mary's account.
    add_account(database, "res_m", "mary@example.com", mary.earlier)
    add_account(database, "res_x", "someone.else@example.com", "r2")
    before = add_use(database, mary.earlier, OFFICER, hours=0)
    after = add_use(database, mary.survivor, PARKING_APP, hours=1)
    add_use(database, "r2", OFFICER, hours=2)
    for asked in (mary.survivor, mary.earlier):
        export = export_held_data(
            database, all_ids_of(database, asked), held_data_sources(), now=NOW
        )
        assert export.resident_ids == (mary.survivor, mary.earlier)
        assert (export.resident_id, export.earlier_ids) == (mary.survivor, (mary.earlier,))
        accounts, people = export.sections
        assert [item.subject for item in accounts.items] == ["resident-account:res_m"]
        assert [item.subject for item in people.items] == [
            f"people-resident:{mary.survivor}",
            f"people-resident:{mary.earlier}",
            f"people-source-record:{mary.council_tax}",
            f"people-source-record:{mary.parking}",
        ]
        shown = [use.position for use in export.uses]
        assert {before, after} <= set(shown)
        assert shown == sorted(shown, reverse=True)
        assert {use.resident_id for use in export.uses} == {mary.survivor, mary.earlier}


def test_a_hold_on_an_earlier_id_withholds_from_the_merged_resident_s_export(
    database: Database,
) -> None:
    mary = merge_two_residents(database)
    by_officer = add_use(database, mary.earlier, OFFICER)
    later_by_officer = add_use(database, mary.survivor, OFFICER, hours=1)
    by_app = add_use(database, mary.survivor, PARKING_APP, hours=2)
    new = NewHold(
        resident_id=mary.earlier,
        reason="Investigation",
        hidden_until=NOW.date() + timedelta(days=30),
        actor_id="stf_1",
    )
    hold = make_hold(database, new, DPO, now=NOW)
    export = export_held_data(
        database, all_ids_of(database, mary.survivor), held_data_sources(), now=NOW
    )
    shown = [use.position for use in export.uses]
    assert by_app in shown
    assert {by_officer, later_by_officer, hold.record_position}.isdisjoint(shown)
    # The officer's two uses, one under each id, and the record of making the hold.
    assert export.withheld_total == 3
    assert [(item.hold.id, item.records) for item in export.withheld] == [(hold.id, 3)]
