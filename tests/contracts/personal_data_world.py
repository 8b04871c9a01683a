"""The world every personal-data route's contract case is called in, and the shape of a case.

Each domain lists its personal-data routes in ``tests/contracts/personal_data_cases_<name>.py``
as ``CASES``: one ``Case`` per route, saying how to call it successfully in a ``World``. The
contract test (``test_personal_data_routes.py``) checks that every route declaring personal data
has a case, and that calling it leaves an audit record carrying the response's request id.

The world holds one resident (linked from a people source record, with a resident account linked
to it), a second resident (another record the model was unsure of: a pending review item), the
run's decision, real tokens for any scopes, and sign-in for staff of any role and for the
resident, all on the normal test app and database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.sign_in import RecordingSender, install_test_doubles, make_staff, sign_in_resident
from tests.sign_in import sign_in_staff as sign_in_staff_with_form
from tests.tokens import TokenIssuer, bearer
from townhall.domains.people.linkage.results import ScoredPair, Thresholds
from townhall.domains.people.linking import relink
from townhall.domains.people.models import ResidentLink, ReviewItem, SourcePersonRecord
from townhall.domains.people.schemas import NewSourceRecord
from townhall.domains.people.service import load_source_records
from townhall.platform.audit.models import AuditRecord
from townhall.platform.auth.sign_in_models import ResidentAccount, StaffAccount, StaffRole
from townhall.platform.db import Database

RESIDENT_EMAIL = "resident.world@example.com"
SOURCE_RECORD = NewSourceRecord(
    source_system="housing", source_record_id="HS0000042", title="Ms", first_name="Grace",
    middle_names=None, last_name="Adeyemi", date_of_birth=date(1971, 4, 2),
    email=RESIDENT_EMAIL, phone="07700 900456", national_insurance_number="QQ 65 43 21 A",
    address_text="Flat 4, 18 Mare Street, London", postcode="E8 4RP", uprn=100021000042,
    attributes={"tenancy_reference": "T-000042"},
    source_updated_at=datetime(2025, 1, 2, 3, 4, tzinfo=UTC),
)  # fmt: skip
# Another system's record, which the model thought may be Grace (the review queue's item).
OTHER_RECORD = SOURCE_RECORD._replace(
    source_system="council_tax", source_record_id="CT0000042", first_name="Grace A",
    email=None, attributes={},
)  # fmt: skip


@dataclass
class World:
    """A resident, their source record, and ways to call the app as anyone."""

    app: FastAPI
    client: TestClient
    database: Database
    issue_token: TokenIssuer
    sender: RecordingSender
    resident_id: str
    source_record_id: int
    other_resident_id: str
    other_record_id: int
    review_item_id: int
    decision_id: int

    def token_headers(self, *scopes: str) -> dict[str, str]:
        """Headers carrying a real token of a new consumer holding ``scopes``."""
        return bearer(self.issue_token(scopes))

    def sign_in_staff(self, role: StaffRole) -> None:
        """Make the client's session a member of staff with ``role`` (one account per role)."""
        email = f"{role.value}.world@hackney.gov.uk"
        with self.database.read() as session:
            exists = session.scalar(select(StaffAccount.id).where(StaffAccount.email == email))
        if exists is None:
            make_staff(self.database, email, role=role.value, name=f"World {role.label}")
        self.client.cookies.clear()
        sign_in_staff_with_form(self.client, email)

    def sign_in_resident(self) -> None:
        """Make the client's session the world's resident (whose account names ``resident_id``)."""
        self.client.cookies.clear()
        sign_in_resident(self.client, self.sender, RESIDENT_EMAIL)
        with self.database.write() as session:
            session.execute(
                update(ResidentAccount)
                .where(ResidentAccount.email == RESIDENT_EMAIL)
                .values(resident_id=self.resident_id)
            )

    def records_for(self, response: httpx.Response) -> list[Any]:
        """The audit records made while serving ``response`` (by its request id)."""
        header = self.app.state.townhall.settings.request_id_header
        request_id = response.headers[header]
        with self.database.read() as session:
            # Rows, not instances: they stay readable once the unit of work has ended.
            return list(
                session.execute(
                    select(AuditRecord.__table__)
                    .where(AuditRecord.request_id == request_id)
                    .order_by(AuditRecord.position)
                )
            )


@dataclass(frozen=True)
class Case:
    """How to call one personal-data route successfully in a ``World``.

    ``path`` is the route's path template exactly as FastAPI has it; ``resident`` says whether
    the use recorded must name ``world.resident_id``.
    """

    method: str
    path: str
    call: Callable[[World], httpx.Response]
    resident: bool = True

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@pytest.fixture
def personal_data_world(
    app: FastAPI, client: TestClient, database: Database, issue_token: TokenIssuer
) -> World:
    """A ``World`` on the test app: its resident exists as an account linked to a resident id."""
    sender, _clock = install_test_doubles(app)
    load_source_records(database, [SOURCE_RECORD, OTHER_RECORD])
    with database.read() as session:
        ids = dict(
            session.execute(
                select(SourcePersonRecord.source_record_id, SourcePersonRecord.id)
            ).all()
        )
    source_record_id = ids[SOURCE_RECORD.source_record_id]
    other_record_id = ids[OTHER_RECORD.source_record_id]
    left, right = sorted((source_record_id, other_record_id))
    with database.write() as session:
        run = relink(
            session,
            [ScoredPair(left, right, match_weight=2.5, match_probability=0.85)],
            thresholds=Thresholds(link=0.99, review=0.80),
            model_id=None,
        )
        links = dict(
            session.execute(select(ResidentLink.source_record_id, ResidentLink.resident_id)).all()
        )
        review_item_id = session.scalar(select(ReviewItem.id))
    assert run.decision is not None
    assert review_item_id is not None
    world = World(
        app=app,
        client=client,
        database=database,
        issue_token=issue_token,
        sender=sender,
        resident_id=links[source_record_id],
        source_record_id=source_record_id,
        other_resident_id=links[other_record_id],
        other_record_id=other_record_id,
        review_item_id=review_item_id,
        decision_id=run.decision.id,
    )
    # The account exists (and is linked) before any case runs; the client ends signed out.
    world.sign_in_resident()
    client.cookies.clear()
    return world
