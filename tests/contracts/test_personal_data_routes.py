"""Every personal-data route records its use: a test per route that fails when it does not.

The walk covers the app exactly as ``create_app`` builds it and finds every route declaring
``personal_data(...)``. Each must have a ``Case`` in some ``personal_data_cases_*.py`` beside
this file (each domain keeps its own), and each case must name a route that exists. Every case
is then called for real in a ``World``: it must answer 2xx (or a form's 303) and leave an audit
record with the response's request id, naming the world's resident when the case says the use
is theirs. A route whose recording is removed fails its case.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.contracts.personal_data_world import RESIDENT_EMAIL, Case, World, personal_data_world
from townhall.platform.audit.capture import route_personal_data
from townhall.platform.auth.dependencies import every_route
from townhall.platform.auth.sign_in_models import ResidentAccount, StaffRole

__all__ = ["personal_data_world"]  # the fixture, used by name below

HERE = Path(__file__).parent


def all_cases() -> list[Case]:
    """The ``CASES`` of every ``personal_data_cases_*.py`` module beside this file."""
    cases: list[Case] = []
    for path in sorted(HERE.glob("personal_data_cases_*.py")):
        module = importlib.import_module(f"tests.contracts.{path.stem}")
        cases.extend(module.CASES)
    return cases


CASES = all_cases()


def personal_data_operations(app: FastAPI) -> set[str]:
    """``METHOD path`` of every operation whose route declares personal data."""
    return {
        f"{method} {route.path}"
        for route in every_route(app)
        if route_personal_data(route) is not None
        for method in route.methods
        if method != "HEAD"
    }


def every_operation(app: FastAPI) -> set[str]:
    return {
        f"{method} {route.path}"
        for route in every_route(app)
        for method in getattr(route, "methods", None) or ()
    }


def test_every_personal_data_route_has_a_case(app: FastAPI) -> None:
    declared = personal_data_operations(app)
    covered = {case.label for case in CASES}
    assert sorted(declared - covered) == []
    # The walk finds the routes it should, so the test is not passing over empty ground.
    assert "GET /api/v1/people/source-records/{record_id}" in declared


def test_every_case_names_a_route_that_exists(app: FastAPI) -> None:
    labels = [case.label for case in CASES]
    assert sorted(set(labels) - every_operation(app)) == []
    assert len(labels) == len(set(labels)), "one case per route"


@pytest.mark.parametrize("case", CASES, ids=[case.label for case in CASES])
def test_calling_the_route_records_its_use(case: Case, personal_data_world: World) -> None:
    response = case.call(personal_data_world)

    # A page's form post answers 303 See Other (post, redirect, get) once it has done its work.
    done = 200 <= response.status_code < 300 or (
        case.method == "POST" and response.status_code == 303
    )
    assert done, response.text
    records = personal_data_world.records_for(response)
    assert records, f"{case.label} answered without recording its use"
    if case.resident:
        residents = {record.resident_id for record in records}
        assert personal_data_world.resident_id in residents


def test_the_world_signs_in_staff_and_its_resident(personal_data_world: World) -> None:
    world = personal_data_world
    client = world.client
    assert client.get("/staff", follow_redirects=False).status_code != 200

    world.sign_in_staff(StaffRole.DATA_PROTECTION_OFFICER)
    assert client.get("/staff", follow_redirects=False).status_code == 200
    world.sign_in_staff(StaffRole.HOUSING_OFFICER)  # a second role, a second account
    assert client.get("/staff", follow_redirects=False).status_code == 200

    world.sign_in_resident()
    assert client.get("/account", follow_redirects=False).status_code == 200
    with world.database.read() as session:
        linked = session.scalar(
            select(ResidentAccount.resident_id).where(ResidentAccount.email == RESIDENT_EMAIL)
        )
    assert linked == world.resident_id
