"""The resident's pages about their council records, as the contract test calls them.

Connecting an account on ``/account/connect`` names the resident it connects to (one of
``tests.portal.people_data``'s, made through the people domain's services), not the world's.
"""

from __future__ import annotations

import httpx

from tests.contracts.personal_data_world import Case, World
from tests.portal.people_data import GRACE_BORN, build_people
from tests.sign_in import form_token


def connect(world: World) -> httpx.Response:
    build_people(world.database)
    world.sign_in_resident()
    answers = {
        "reference": "HS1001",
        "date-of-birth-day": str(GRACE_BORN.day),
        "date-of-birth-month": str(GRACE_BORN.month),
        "date-of-birth-year": str(GRACE_BORN.year),
        "postcode": "E8 4RP",
        "csrf_token": form_token(world.client, "/account/connect"),
    }
    return world.client.post("/account/connect", data=answers, follow_redirects=False)


CASES = [Case("POST", "/account/connect", connect, resident=False)]
