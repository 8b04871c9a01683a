"""The demo borough's residents in a real browser, as `make demo` leaves them: the small borough
built through its source systems' connectors, the model trained on it and every record linked.

Where ``test_people_pages`` drives each decision on a few hand-made records, this test reads what
the real model made: a resident joined from several systems, and a possible match whose evidence
table and match weight chart show the trained model's own comparisons, checked with axe-core.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from tests.browser import LiveServer, assert_accessible, sign_in_staff
from tests.sign_in import PASSWORD, install_test_doubles, make_staff
from townhall.demo import BoroughSize, build_borough
from townhall.domains.people.linkage.training import train
from townhall.domains.people.linking import link_all
from townhall.domains.people.models import ResidentLink
from townhall.platform.auth.sign_in_models import StaffRole
from townhall.platform.db import Database
from townhall.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HACKNEY = "E09000012"
STEWARD = "steward@hackney.gov.uk"


def most_linked_resident(database: Database) -> str:
    """The resident with the most source records: someone every system knows."""
    with database.read() as session:
        resident = session.scalar(
            select(ResidentLink.resident_id)
            .group_by(ResidentLink.resident_id)
            .order_by(func.count().desc(), ResidentLink.resident_id)
            .limit(1)
        )
    assert resident is not None
    return str(resident)


def test_the_linked_demo_borough_is_browsable_and_its_review_queue_shows_the_model_s_evidence(
    page: Page, live_server: LiveServer, database: Database, settings: Settings
) -> None:
    build_borough(
        database, council_code=HACKNEY, size=BoroughSize.SMALL, seed=42, show_progress=False
    )
    train(database)
    result = link_all(database, settings, on_terminal=False)
    assert result.review_items > 0
    install_test_doubles(live_server.app)
    make_staff(database, STEWARD, role=StaffRole.DATA_STEWARD.value)
    sign_in_staff(page, live_server, STEWARD, PASSWORD)

    resident = most_linked_resident(database)
    page.goto(live_server.at(f"/staff/people/residents/{resident}"))
    records = page.get_by_role("table", name="Council records joined to this resident")
    expect(records.locator("tbody tr")).not_to_have_count(1)
    expect(page.get_by_role("table", name=re.compile("Their details"))).to_be_visible()
    assert_accessible(page)

    # Search by the resident's own name, as shown on their page.
    name = page.locator("h1").inner_text()
    page.goto(live_server.at("/staff/people"))
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("table", name="Residents")).to_contain_text(resident)
    assert_accessible(page)

    page.goto(live_server.at("/staff/people/review"))
    queue = page.get_by_role("table", name="Waiting for review")
    expect(queue.locator("tbody tr").first).to_be_visible()
    assert_accessible(page)
    queue.locator("tbody tr").first.get_by_role("link").first.click()
    evidence = page.get_by_role("table", name="Field by field comparison")
    # The trained model's comparisons, by the names staff read.
    for field in ("First name", "Date of birth", "Postcode"):
        expect(evidence).to_contain_text(field)
    expect(page.get_by_role("img", name=re.compile("match weight", re.IGNORECASE))).to_be_visible()
    assert_accessible(page)
