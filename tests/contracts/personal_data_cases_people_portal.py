"""The people pages' and the resident's ``/api/v1/me`` personal-data routes, as the contract
test calls them.

The staff pages sign in as a data steward over the people of ``tests.portal.people_data`` (made
through the people domain's services in each case): their uses name those residents, not the
world's, so those cases do not ask for the world's resident. ``/api/v1/me`` is called as the
world's resident; connecting the account names the resident it connects to.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.contracts.personal_data_world import Case, World
from tests.portal.people_data import GRACE_BORN, PeopleData, build_people
from tests.sign_in import form_token
from townhall.platform.auth.sign_in_models import StaffRole

Call = Callable[[World], httpx.Response]


def as_steward(world: World) -> PeopleData:
    people = build_people(world.database)
    world.sign_in_staff(StaffRole.DATA_STEWARD)
    return people


def post(world: World, page: str, action: str, reason: str) -> httpx.Response:
    token = form_token(world.client, page)
    return world.client.post(
        action, data={"reason": reason, "csrf_token": token}, follow_redirects=False
    )


def search(world: World) -> httpx.Response:
    as_steward(world)
    return world.client.get("/staff/people", params={"q": "Adeyemi"})


def resident_page(world: World) -> httpx.Response:
    people = as_steward(world)
    return world.client.get(f"/staff/people/residents/{people.grace}")


def unlink(world: World) -> httpx.Response:
    people = as_steward(world)
    page = f"/staff/people/residents/{people.kemi}"
    record = people.records["kemi_benefits"]
    return post(world, page, f"{page}/records/{record}/unlink", "Contract case")


def queue(world: World) -> httpx.Response:
    as_steward(world)
    return world.client.get("/staff/people/review")


def evidence(world: World) -> httpx.Response:
    people = as_steward(world)
    return world.client.get(f"/staff/people/review/{people.accept_item}")


def decide(verb: str) -> Call:
    def call(world: World) -> httpx.Response:
        people = as_steward(world)
        item = people.accept_item if verb == "accept" else people.reject_item
        page = f"/staff/people/review/{item}"
        return post(world, page, f"{page}/{verb}", "Contract case")

    return call


def accepted(world: World) -> str:
    made = decide("accept")(world)
    assert made.status_code == 303, made.text
    return made.headers["location"]


def decision_page(world: World) -> httpx.Response:
    return world.client.get(accepted(world))


def undo(world: World) -> httpx.Response:
    page = accepted(world)
    return post(world, page, f"{page}/undo", "Contract case")


def me(world: World) -> httpx.Response:
    world.sign_in_resident()
    return world.client.get("/api/v1/me")


def connect(world: World) -> httpx.Response:
    build_people(world.database)
    world.sign_in_resident()
    proof = {"reference": "HS1001", "date_of_birth": GRACE_BORN.isoformat(), "postcode": "E8 4RP"}
    return world.client.post("/api/v1/me/resident-connection", json=proof)


CASES = [
    Case("GET", "/staff/people", search, resident=False),
    Case("GET", "/staff/people/residents/{resident_id}", resident_page, resident=False),
    Case(
        "POST",
        "/staff/people/residents/{resident_id}/records/{record_id}/unlink",
        unlink,
        resident=False,
    ),
    Case("GET", "/staff/people/review", queue, resident=False),
    Case("GET", "/staff/people/review/{item_id}", evidence, resident=False),
    Case("POST", "/staff/people/review/{item_id}/accept", decide("accept"), resident=False),
    Case("POST", "/staff/people/review/{item_id}/reject", decide("reject"), resident=False),
    Case("GET", "/staff/people/decisions/{decision_id}", decision_page, resident=False),
    Case("POST", "/staff/people/decisions/{decision_id}/undo", undo, resident=False),
    Case("GET", "/api/v1/me", me),
    Case("POST", "/api/v1/me/resident-connection", connect, resident=False),
]
