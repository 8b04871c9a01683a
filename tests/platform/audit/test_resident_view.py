"""The resident's view of the audit trail: whose records, which are hidden, and the words used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import update

from tests.platform.audit.resident_uses import (
    OTHER_RESIDENT,
    RESIDENT,
    add_hold,
    add_hold_with_record,
    add_use,
    consumer,
    occurred_at,
    resident,
    staff,
)
from tests.platform.auth.factories import register_consumer
from tests.sign_in import make_staff
from townhall.domains.people.data_uses import PEOPLE, SOURCE_RECORD
from townhall.errors import ValidationFailed
from townhall.platform.audit import resident_view
from townhall.platform.audit.resident_view import ResidentViewer, london_time
from townhall.platform.audit.uses import Actor
from townhall.platform.audit.vocabulary import (
    DATA_PROTECTION,
    EVERYTHING_HELD,
    Action,
    ActorKind,
    Service,
)
from townhall.platform.auth.models import Consumer
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest

ACCOUNT_ID = "res_grace"
VIEWER = ResidentViewer(ACCOUNT_ID, (RESIDENT,))


def shown(
    database: Database,
    *,
    viewer: ResidentViewer = VIEWER,
    service: Service | None = None,
    show_staff_names: bool = False,
) -> list[resident_view.DataUseEntry]:
    """Every entry the viewer is shown, newest first (one page holds them all)."""
    page = resident_view.list_data_uses(
        database,
        viewer,
        PageRequest(200),
        now=datetime.now(UTC),
        service=service,
        show_staff_names=show_staff_names,
    )
    assert page.next_position is None
    return page.items


def positions(database: Database, **options: Any) -> list[int]:
    return [entry.position for entry in shown(database, **options)]


def test_a_resident_sees_uses_of_their_data_by_others_newest_first(database: Database) -> None:
    first = add_use(database, staff())
    add_use(database, staff(), OTHER_RESIDENT)
    add_use(database, staff(), None)
    second = add_use(database, consumer("con_parking"))
    own = add_use(database, resident(ACCOUNT_ID))
    # Another account matched to the same resident is someone else: its uses are listed.
    other_account = add_use(database, resident("res_someone_else"))
    assert own not in positions(database)
    assert positions(database) == [other_account, second, first]


def test_another_resident_never_sees_them(database: Database) -> None:
    add_use(database, staff())
    theirs = add_use(database, staff(), OTHER_RESIDENT)
    other = ResidentViewer("res_omar", (OTHER_RESIDENT,))
    assert positions(database, viewer=other) == [theirs]
    assert [s.service.key for s in resident_view.summarise_data_uses(
        database, other, now=datetime.now(UTC)
    )] == ["account"]  # fmt: skip


def test_an_active_hold_hides_the_accesses_it_names_and_its_own_record(
    database: Database,
) -> None:
    by_officer = add_use(database, staff("stf_suspect"))
    by_other_officer = add_use(database, staff("stf_other"))
    by_app = add_use(database, consumer("con_parking"))
    _hold, hold_record = add_hold_with_record(database, actor_id="stf_suspect")
    assert hold_record not in positions(database)
    assert positions(database) == [by_app, by_other_officer]
    assert by_officer not in positions(database)


def test_a_hold_on_a_consumer_hides_only_that_consumers_accesses(database: Database) -> None:
    by_parking = add_use(database, consumer("con_parking"))
    by_housing = add_use(database, consumer("con_housing"))
    add_hold_with_record(database, consumer_id="con_parking")
    assert positions(database) == [by_housing]
    assert by_parking not in positions(database)


def test_a_hold_naming_both_hides_only_what_both_did(database: Database) -> None:
    both = add_use(database, Actor(ActorKind.STAFF, "x", id="stf_a", consumer_id="con_a"))
    staff_only = add_use(database, staff("stf_a"))
    add_hold_with_record(database, actor_id="stf_a", consumer_id="con_a")
    assert staff_only in positions(database)
    assert both not in positions(database)


def test_a_hold_hides_only_its_window(database: Database) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    before = add_use(database, staff(), occurred_at=start - timedelta(seconds=1))
    at_start = add_use(database, staff(), occurred_at=start)
    inside = add_use(database, staff(), occurred_at=start + timedelta(days=1))
    at_end = add_use(database, staff(), occurred_at=start + timedelta(days=2))
    add_hold_with_record(
        database,
        actor_id="stf_housing",
        accessed_from=start,
        accessed_to=start + timedelta(days=2),
    )
    assert positions(database) == [at_end, before]
    assert at_start not in positions(database)
    assert inside not in positions(database)


def test_a_hold_hides_nothing_of_another_resident(database: Database) -> None:
    theirs = add_use(database, staff(), OTHER_RESIDENT)
    add_hold_with_record(database, actor_id="stf_housing")
    other = ResidentViewer("res_omar", (OTHER_RESIDENT,))
    assert positions(database, viewer=other) == [theirs]


@pytest.mark.parametrize(
    "ended", [{"hidden_for": timedelta(seconds=-1)}, {"lifted": True}], ids=["expired", "lifted"]
)
def test_an_expired_or_lifted_hold_shows_everything_again(
    database: Database, ended: dict[str, object]
) -> None:
    hidden = add_use(database, staff())
    _hold, hold_record = add_hold_with_record(database, actor_id="stf_housing", **ended)
    assert positions(database) == [hold_record, hidden]
    [hid, _viewed] = shown(database)
    assert hid.description == (
        "The council's data protection officer hid part of the record of who used your data "
        "from you during an investigation"
    )


def test_a_hold_also_hides_its_record_when_it_names_someone_else(database: Database) -> None:
    # The record of making a hold is hidden by position, whoever made it.
    made_hold = add_use(database, staff("stf_dpo", "data_protection_officer"), action=Action.HID)
    add_hold(database, made_hold, consumer_id="con_parking")
    assert made_hold not in positions(database)


def test_the_hidden_records_are_hidden_from_the_summary_too(database: Database) -> None:
    add_use(database, staff("stf_suspect"))
    kept = add_use(database, staff("stf_other"), service=PEOPLE, data_kind=SOURCE_RECORD)
    add_hold_with_record(database, actor_id="stf_suspect")
    summary = resident_view.summarise_data_uses(database, VIEWER, now=datetime.now(UTC))
    assert [(item.service.key, item.uses) for item in summary] == [("people", 1)]
    assert summary[0].most_recent == occurred_at(database, kept)


def test_staff_are_named_by_role_unless_the_council_shows_names(database: Database) -> None:
    member = make_staff(database, "sam@hackney.gov.uk", role="housing_officer", name="Sam Patel")
    add_use(database, staff(member.id, "housing_officer"))
    [by_role] = shown(database)
    assert by_role.actor == "A housing officer"
    assert by_role.description == "A housing officer looked at your account details"
    assert "Sam Patel" not in by_role.description
    [by_name] = shown(database, show_staff_names=True)
    assert by_name.description == "Sam Patel (housing officer) looked at your account details"


def test_a_staff_name_falls_back_to_the_role_when_the_account_is_gone(database: Database) -> None:
    add_use(database, staff("stf_long_gone", "administrator"))
    [entry] = shown(database, show_staff_names=True)
    assert entry.actor == "An administrator"


def test_the_words_for_each_kind_of_actor(database: Database) -> None:
    parking = register_consumer(database, name="Parking permits").consumer
    partner = register_consumer(database, name="Citizens Advice").consumer
    with database.write() as session:
        session.execute(update(Consumer).where(Consumer.id == partner.id).values(kind="partner"))
    add_use(database, consumer(parking.id), service=PEOPLE, data_kind=SOURCE_RECORD)
    add_use(database, consumer(partner.id), action=Action.SEARCHED)
    add_use(
        database,
        staff("stf_dpo", "data_protection_officer"),
        action=Action.EXPORTED,
        service=DATA_PROTECTION,
        data_kind=EVERYTHING_HELD,
    )
    add_use(database, Actor.system("Keeping records up to date"), action=Action.CHANGED)
    add_use(database, consumer("con_deleted"))
    add_use(database, Actor(ActorKind.STAFF, "x", id="stf_x"))
    assert [entry.description for entry in reversed(shown(database))] == [
        "The Parking permits app (a council service) looked at a council system's record of "
        "you (name, date of birth, contact details and address)",
        "The Citizens Advice app (another organisation working with the council) found your "
        "account details in a search",
        "The council's data protection officer exported everything the council holds about you",
        "Townhall (automatically) changed your account details",
        "An application no longer connected to the council's records looked at your account "
        "details",
        "A member of staff looked at your account details",
    ]
    newest = shown(database)[0]
    assert newest.purpose == "x"
    assert newest.service.name == "Your council account"
    assert newest.data_kind.phrase == "your account details"


def test_pages_follow_one_another_newest_first_with_a_way_back(database: Database) -> None:
    made = [add_use(database, staff()) for _ in range(7)]
    add_use(database, staff(), OTHER_RESIDENT)
    now = datetime.now(UTC)
    pages: list[list[int]] = []
    starts: list[tuple[int] | None] = [None]
    after = None
    while True:
        page = resident_view.list_data_uses(database, VIEWER, PageRequest(3, after), now=now)
        pages.append([entry.position for entry in page.items])
        if page.next_position is None:
            break
        after = page.next_position
        starts.append((int(after[0]),))  # type: ignore[arg-type]
    assert pages == [made[6:3:-1], made[3:0:-1], made[:1]]
    # From each page after the first, the way back leads to where the page before began.
    for number in range(1, len(pages)):
        start = starts[number]
        assert start is not None
        back = resident_view.previous_position(database, VIEWER, start[0], 3, now=now)
        assert back == starts[number - 1]


def test_one_service_at_a_time(database: Database) -> None:
    account_use = add_use(database, staff())
    people_use = add_use(database, staff(), service=PEOPLE, data_kind=SOURCE_RECORD)
    assert positions(database, service=PEOPLE) == [people_use]
    assert account_use in positions(database)
    assert resident_view.known_service("people") == PEOPLE
    with pytest.raises(ValidationFailed) as refused:
        resident_view.known_service("nonsense")
    assert refused.value.errors[0].field == "query.service"


def test_the_summary_counts_each_services_uses_most_recent_first(database: Database) -> None:
    early = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    add_use(database, staff(), occurred_at=early)
    add_use(database, staff(), occurred_at=early + timedelta(hours=1))
    add_use(database, staff(), service=PEOPLE, data_kind=SOURCE_RECORD, occurred_at=early)
    add_use(database, staff(), OTHER_RESIDENT, occurred_at=early + timedelta(days=1))
    add_use(database, resident(ACCOUNT_ID), occurred_at=early + timedelta(days=1))
    summary = resident_view.summarise_data_uses(database, VIEWER, now=datetime.now(UTC))
    assert [(item.service.key, item.uses, item.most_recent) for item in summary] == [
        ("account", 2, early + timedelta(hours=1)),
        ("people", 1, early),
    ]


@pytest.mark.parametrize(
    ("moment", "words"),
    [
        (datetime(2026, 11, 22, 9, 30, tzinfo=UTC), "22 November 2026 at 9:30am"),
        # British Summer Time: an hour ahead of UTC.
        (datetime(2026, 7, 1, 13, 5, tzinfo=UTC), "1 July 2026 at 2:05pm"),
        (datetime(2026, 7, 1, 11, 0, tzinfo=UTC), "1 July 2026 at midday"),
        (datetime(2026, 1, 3, 0, 0, tzinfo=UTC), "3 January 2026 at midnight"),
        (datetime(2026, 3, 29, 23, 45, tzinfo=UTC), "30 March 2026 at 12:45am"),
    ],
)
def test_times_are_written_the_gov_uk_way_in_uk_time(moment: datetime, words: str) -> None:
    assert london_time(moment) == words


def test_a_hold_is_judged_the_same_whatever_the_time_zone_of_now(database: Database) -> None:
    add_use(database, staff())
    add_hold_with_record(database, actor_id="stf_housing", hidden_for=timedelta(hours=2))
    # Five hours ahead of UTC on the wall clock, the same instant: the hold still holds.
    now = datetime.now(UTC).astimezone(timezone(timedelta(hours=5)))
    page = resident_view.list_data_uses(database, VIEWER, PageRequest(10), now=now)
    assert page.items == []


# An id merged into RESIDENT: the same person, found to be so after some uses were recorded.
EARLIER = "resident-grace-before"
MERGED = ResidentViewer(ACCOUNT_ID, (RESIDENT, EARLIER))


def test_a_merged_resident_sees_the_uses_under_every_id_they_have_had(
    database: Database,
) -> None:
    before = add_use(database, staff(), EARLIER)
    after = add_use(database, consumer("con_parking"))
    add_use(database, staff(), OTHER_RESIDENT)
    add_use(database, resident(ACCOUNT_ID), EARLIER)
    assert positions(database, viewer=MERGED) == [after, before]
    summary = resident_view.summarise_data_uses(database, MERGED, now=datetime.now(UTC))
    assert sorted((s.service.key, s.uses) for s in summary) == [("account", 2)]
    # Each id alone is what it always was.
    assert positions(database) == [after]
    assert positions(database, viewer=ResidentViewer(ACCOUNT_ID, (EARLIER,))) == [before]


def test_a_hold_on_an_earlier_id_still_hides_what_it_names_after_the_merge(
    database: Database,
) -> None:
    by_suspect = add_use(database, staff("stf_suspect"), EARLIER)
    by_other = add_use(database, staff("stf_other"), EARLIER)
    later_by_suspect = add_use(database, staff("stf_suspect"))
    add_hold_with_record(database, resident_id=EARLIER, actor_id="stf_suspect")
    assert positions(database, viewer=MERGED) == [by_other]
    assert {by_suspect, later_by_suspect}.isdisjoint(positions(database, viewer=MERGED))


def test_a_hold_on_the_current_id_hides_what_it_names_under_earlier_ids(
    database: Database,
) -> None:
    by_suspect = add_use(database, staff("stf_suspect"), EARLIER)
    by_other = add_use(database, staff("stf_other"), EARLIER)
    add_hold_with_record(database, actor_id="stf_suspect")
    assert positions(database, viewer=MERGED) == [by_other]
    assert by_suspect not in positions(database, viewer=MERGED)


def test_a_hold_on_a_merged_resident_hides_nothing_of_another(database: Database) -> None:
    theirs = add_use(database, staff("stf_suspect"), OTHER_RESIDENT)
    add_hold_with_record(database, resident_id=EARLIER, actor_id="stf_suspect")
    other = ResidentViewer("res_omar", (OTHER_RESIDENT,))
    assert positions(database, viewer=other) == [theirs]


def test_pages_of_a_merged_resident_s_uses_go_back_and_forth_across_ids(
    database: Database,
) -> None:
    made = [add_use(database, staff(), (RESIDENT, EARLIER)[n % 2]) for n in range(5)]
    now = datetime.now(UTC)
    first = resident_view.list_data_uses(database, MERGED, PageRequest(2), now=now)
    assert [entry.position for entry in first.items] == made[:2:-1]
    assert first.next_position is not None
    second = resident_view.list_data_uses(
        database, MERGED, PageRequest(2, first.next_position), now=now
    )
    assert [entry.position for entry in second.items] == made[2:0:-1]
    after = first.next_position[0]
    assert isinstance(after, int)
    assert resident_view.previous_position(database, MERGED, after, 2, now=now) is None
