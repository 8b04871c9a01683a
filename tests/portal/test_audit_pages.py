"""The data protection officer's pages over HTTP: who may see them, search, report, holds."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from tests.platform.audit.merged_residents import merge_two_residents
from tests.platform.audit.trail import OFFICER, add_account, add_use, three_uses
from tests.sign_in import form_token, install_test_doubles, make_staff, sign_in_staff
from townhall.platform.audit.models import AuditHold, AuditRecord
from townhall.platform.auth.sign_in_models import StaffRole
from townhall.platform.db import Database

DPO_EMAIL = "dpo@hackney.gov.uk"
_NEXT = re.compile(r'<a class="govuk-link govuk-pagination__link" href="([^"]+)" rel="next">')


@pytest.fixture
def trail(database: Database) -> Database:
    return three_uses(database)


@pytest.fixture
def officer(app: FastAPI, client: TestClient, trail: Database) -> TestClient:
    """The client, signed in as a data protection officer."""
    install_test_doubles(app)
    make_staff(trail, DPO_EMAIL, role=StaffRole.DATA_PROTECTION_OFFICER.value, name="Dee Pio")
    sign_in_staff(client, DPO_EMAIL)
    return client


def recorded(database: Database, response: Response) -> list[AuditRecord]:
    with database.read() as session:
        found = list(
            session.scalars(
                select(AuditRecord)
                .where(AuditRecord.request_id == response.headers["X-Request-ID"])
                .order_by(AuditRecord.position)
            )
        )
        session.expunge_all()
        return found


def shown_positions(response: Response) -> list[int]:
    return [int(n) for n in re.findall(r"Record (\d+):", response.text)]


def test_the_staff_home_links_the_officer_to_the_tools(officer: TestClient) -> None:
    assert 'href="/staff/audit"' in officer.get("/staff").text


@pytest.mark.parametrize(
    "path",
    ["/staff/audit", "/staff/audit/holds", "/staff/audit/holds/new", "/staff/audit/residents/r1"],
)
def test_other_staff_get_the_forbidden_page(
    app: FastAPI, client: TestClient, database: Database, path: str
) -> None:
    install_test_doubles(app)
    make_staff(database, role=StaffRole.HOUSING_OFFICER.value)
    sign_in_staff(client)
    response = client.get(path)
    assert response.status_code == 403
    assert "You cannot see this page" in response.text
    assert 'href="/staff/audit"' not in client.get("/staff").text


def test_someone_not_signed_in_is_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/staff/audit", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/sign-in"


def test_the_search_page_starts_with_the_form_only(officer: TestClient, trail: Database) -> None:
    response = officer.get("/staff/audit")
    assert response.status_code == 200
    assert 'id="results"' not in response.text
    assert recorded(trail, response) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"resident_id": "r1"}, [2, 1]),
        ({"consumer_id": "con_parking"}, [2]),
        ({"actor_id": "stf_2"}, [3]),
        ({"action": "viewed", "service": "account"}, [3, 2, 1]),
        ({"occurred_from": "2026-10-01", "occurred_to": "2026-10-31"}, [3, 2, 1]),
        ({"occurred_to": "2026-09-30"}, []),
        ({"resident_id": "nobody"}, []),
    ],
)
def test_each_filter(
    officer: TestClient, trail: Database, query: dict[str, str], expected: list[int]
) -> None:
    response = officer.get("/staff/audit", params=query)
    assert response.status_code == 200
    assert shown_positions(response) == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"action": "peeked"}, "action"),
        ({"service": "astrology"}, "service"),
        ({"resident_id": "two words"}, "resident_id"),
        ({"occurred_from": "1 Nov"}, "occurred_from"),
        ({"occurred_to": "2026-02-30"}, "occurred_to"),
        ({"occurred_from": "2026-10-03", "occurred_to": "2026-10-02"}, "occurred_to"),
    ],
)
def test_a_bad_field_is_shown_on_the_form(
    officer: TestClient, trail: Database, query: dict[str, str], field: str
) -> None:
    response = officer.get("/staff/audit", params=query)
    assert response.status_code == 400
    assert "There is a problem" in response.text
    assert f'href="#{field}"' in response.text
    assert recorded(trail, response) == []


def test_every_field_is_shown_and_each_resident_is_recorded_once(
    officer: TestClient, trail: Database
) -> None:
    response = officer.get("/staff/audit", params={"action": "viewed"})
    with trail.read() as session:
        first = session.get(AuditRecord, 1)
        assert first is not None
        text = html.unescape(response.text)
        for value in (first.hash, first.previous_hash, first.id, first.purpose):
            assert value in text
    uses = recorded(trail, response)
    assert sorted(use.resident_id or "" for use in uses) == ["r1", "r2"]
    for use in uses:
        assert (use.action, use.service, use.data_kind, use.actor_kind, use.actor_role) == (
            "viewed",
            "data-protection",
            "data-uses",
            "staff",
            "data_protection_officer",
        )


def test_results_come_a_page_at_a_time(officer: TestClient, trail: Database) -> None:
    for hours in range(30):
        add_use(trail, "r3", OFFICER, hours=100 + hours)
    first = officer.get("/staff/audit", params={"resident_id": "r3"})
    assert len(shown_positions(first)) == 25
    link = _NEXT.search(first.text)
    assert link is not None
    second = officer.get(html.unescape(link.group(1)))
    assert len(shown_positions(second)) == 5
    assert set(shown_positions(first)).isdisjoint(shown_positions(second))
    edited = html.unescape(link.group(1)).replace("resident_id=r3", "resident_id=r1")
    restarted = officer.get(edited)
    assert "this is the first page" in restarted.text


def test_the_report_shows_what_is_held_and_is_recorded_as_an_export(
    officer: TestClient, trail: Database
) -> None:
    add_account(trail, "res_a", "grace@example.com", "r1")
    response = officer.get("/staff/audit/residents/r1")
    assert response.status_code == 200
    assert "grace@example.com" in response.text
    assert "Accounts you sign in with" in response.text
    assert "Issuing permits" in response.text  # the app's use, with its purpose
    assert 'href="/static/portal/audit.css"' in response.text
    [use] = recorded(trail, response)
    assert (use.action, use.data_kind, use.resident_id) == ("exported", "everything-held", "r1")
    assert officer.get("/staff/audit/residents/two%20words").status_code == 404


def test_the_report_of_a_merged_resident_covers_every_id_and_their_council_records(
    officer: TestClient, trail: Database
) -> None:
    mary = merge_two_residents(trail)
    add_account(trail, "res_m", "mary@example.com", mary.earlier)
    before = add_use(trail, mary.earlier, OFFICER)
    # The earlier id leads to the report at the id Mary has now, recording nothing on the way.
    moved = officer.get(f"/staff/audit/residents/{mary.earlier}", follow_redirects=False)
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/staff/audit/residents/{mary.survivor}"
    assert recorded(trail, moved) == []
    response = officer.get(moved.headers["location"])
    assert response.status_code == 200
    text = " ".join(response.text.split())
    assert f"Everything held about resident {mary.survivor}" in text
    assert f"the same person as {mary.survivor}" in text
    assert f"this resident {mary.earlier} was" in text
    assert "mary@example.com" in text  # the account connected before the merge
    assert "Your records in the council&#39;s systems" in text
    assert "Council Tax record CT1" in text  # where the golden record's values came from
    assert f"{before}, about {mary.earlier}" in text
    [use] = recorded(trail, response)
    assert (use.action, use.resident_id) == ("exported", mary.survivor)


def hold_form(**changes: str) -> dict[str, str]:
    form = {
        "resident_id": "r1",
        "consumer_id": "con_parking",
        "actor_id": "",
        "accessed_from": "",
        "accessed_to": "",
        "hidden_until": (datetime.now(UTC).date() + timedelta(days=30)).isoformat(),
        "reason": "Investigation 117",
    }
    form.update(changes)
    return form


def test_a_hold_is_made_withheld_from_the_report_and_lifted(
    officer: TestClient, trail: Database
) -> None:
    token = form_token(officer, "/staff/audit/holds/new?resident_id=r1")
    made = officer.post(
        "/staff/audit/holds", data={**hold_form(), "csrf_token": token}, follow_redirects=False
    )
    assert made.status_code == 303, made.text
    with trail.read() as session:
        hold = session.scalars(select(AuditHold)).one()
        hold_id, position = hold.id, hold.record_position
    [use] = recorded(trail, made)
    assert (use.action, use.position, use.actor_role) == (
        "hid",
        position,
        "data_protection_officer",
    )

    holds = officer.get(made.headers["location"])
    assert f"Hold {hold_id} made" in holds.text
    assert "Investigation 117" in holds.text
    search = officer.get("/staff/audit", params={"resident_id": "r1"})
    assert search.text.count("Hidden by a hold") == 2  # the app's use and the hold's record
    report = officer.get("/staff/audit/residents/r1")
    assert "2 uses are left out of this report" in report.text

    lifted = officer.post(
        f"/staff/audit/holds/{hold_id}/lift",
        data={"csrf_token": form_token(officer, "/staff/audit/holds")},
        follow_redirects=False,
    )
    assert lifted.status_code == 303
    assert [use.action for use in recorded(trail, lifted)] == ["lifted"]
    again = officer.post(
        f"/staff/audit/holds/{hold_id}/lift",
        data={"csrf_token": form_token(officer, "/staff/audit/holds")},
    )
    assert again.status_code == 409
    assert "left out of this report" not in officer.get("/staff/audit/residents/r1").text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"resident_id": ""}, "resident_id"),
        ({"resident_id": "two words"}, "resident_id"),
        ({"consumer_id": ""}, "consumer_id"),
        ({"hidden_until": ""}, "hidden_until"),
        ({"hidden_until": "2020-01-01"}, "hidden_until"),
        ({"hidden_until": "2999-01-01"}, "hidden_until"),
        ({"reason": "  "}, "reason"),
        ({"accessed_from": "2026-10-05", "accessed_to": "2026-10-01"}, "accessed_to"),
        ({"accessed_from": "yesterday"}, "accessed_from"),
    ],
)
def test_a_hold_that_may_not_be_made_is_shown_on_the_form(
    officer: TestClient, trail: Database, changes: dict[str, str], field: str
) -> None:
    token = form_token(officer, "/staff/audit/holds/new")
    response = officer.post(
        "/staff/audit/holds", data={**hold_form(**changes), "csrf_token": token}
    )
    assert response.status_code == 400
    assert f'href="#{field}"' in response.text
    with trail.read() as session:
        assert session.scalars(select(AuditHold)).first() is None
