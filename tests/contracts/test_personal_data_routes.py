"""Every personal-data route records its use: a test per route that fails when it does not.

The walk covers the app exactly as ``create_app`` builds it and finds every route declaring
``personal_data(...)``. Each must have a ``Case`` in some ``personal_data_cases_*.py`` beside
this file (each domain keeps its own), and each case must name a route that exists. Every case
is then called for real in a ``World``: it must answer 2xx (or a form's 303) and leave an audit
record with the response's request id, naming the world's resident when the case says the use
is theirs. A route whose recording is removed fails its case, and a case whose route no
longer declares personal data fails too.

A route that reads personal data without declaring it is caught by watching the database:
tables holding residents' personal data say so in their ``info`` (``personal_data``), and every
GET route that declares nothing is called (with a token holding every scope, and as a member of
staff) while an engine listener notes which personal tables each request's statements read.
Such a read fails the test. It finds what the world's data makes reachable: a route that 404s
for the world's ids reads nothing here.
"""

from __future__ import annotations

import importlib
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event, select

from tests.contracts.personal_data_world import RESIDENT_EMAIL, Case, World, personal_data_world
from townhall.platform.audit.capture import route_personal_data
from townhall.platform.audit.uses import current_request_id
from townhall.platform.auth.dependencies import every_route
from townhall.platform.auth.scopes import scope_names
from townhall.platform.auth.sign_in_models import ResidentAccount, StaffRole
from townhall.platform.migrations import load_models

__all__ = ["personal_data_world"]  # the fixture, used by name below

HERE = Path(__file__).parent
PEOPLE_ROUTE = "/api/v1/people/source-records/{record_id}"


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
    assert f"GET {PEOPLE_ROUTE}" in declared


def test_every_case_names_a_route_declaring_personal_data(app: FastAPI) -> None:
    labels = [case.label for case in CASES]
    assert sorted(set(labels) - every_operation(app)) == []
    assert sorted(set(labels) - personal_data_operations(app)) == []
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


PERSONAL_TABLES = frozenset(
    table.name for table in load_models().sorted_tables if table.info.get("personal_data")
)
PATH_PARAMETER = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
READS = re.compile(r"^\s*(SELECT|WITH)\b", re.IGNORECASE)


class PersonalReads:
    """Which personal tables each request's statements read, by request id.

    Statements run for a request carry its id in the logging context (copied into the worker
    threads that run its queries); the recorder's thread and background tasks carry none.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.by_request: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._patterns = {name: re.compile(rf"\b{name}\b") for name in PERSONAL_TABLES}

    def __enter__(self) -> PersonalReads:
        event.listen(self.engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._note)

    def _note(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        request_id = current_request_id()
        if request_id is None or not READS.match(statement):
            return
        tables = {name for name, pattern in self._patterns.items() if pattern.search(statement)}
        if tables:
            with self._lock:
                self.by_request.setdefault(request_id, set()).update(tables)

    def of(self, world: World, response: httpx.Response) -> set[str]:
        header = world.app.state.townhall.settings.request_id_header
        with self._lock:
            return set(self.by_request.get(response.headers[header], set()))


def undeclared_get_routes(app: FastAPI) -> list[str]:
    """Paths of the GET routes that declare no personal data."""
    return sorted(
        {
            route.path
            for route in every_route(app)
            if "GET" in (getattr(route, "methods", None) or ())
            and route_personal_data(route) is None
        }
    )


def url_in(world: World, path: str) -> str:
    """``path`` with its parameters filled from the world (its resident, its record), else 1."""
    known = {"record_id": str(world.source_record_id), "resident_id": world.resident_id}
    return PATH_PARAMETER.sub(lambda found: known.get(found[1], "1"), path)


def test_no_route_reads_personal_data_without_declaring_it(personal_data_world: World) -> None:
    world = personal_data_world
    assert {"people_source_records", "auth_resident_accounts"} <= PERSONAL_TABLES
    every_scope = world.token_headers(*scope_names())
    undeclared = undeclared_get_routes(world.app)
    found: dict[str, set[str]] = {}
    with PersonalReads(world.app.state.townhall.database.engine) as reads:
        # The watch sees a declared route's read, so it is not looking at nothing.
        declared = world.client.get(url_in(world, PEOPLE_ROUTE), headers=every_scope)
        assert declared.status_code == 200
        assert "people_source_records" in reads.of(world, declared)

        for path in undeclared:
            response = world.client.get(
                url_in(world, path), headers=every_scope, follow_redirects=False
            )
            if tables := reads.of(world, response):
                found[f"{path} (token)"] = tables
        world.sign_in_staff(StaffRole.DATA_PROTECTION_OFFICER)
        for path in undeclared:
            response = world.client.get(url_in(world, path), follow_redirects=False)
            if tables := reads.of(world, response):
                found[f"{path} (staff)"] = tables
    assert found == {}, "routes reading personal data must declare it with personal_data()"
