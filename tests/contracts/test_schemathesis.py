"""Property-based contract test: schemathesis over every operation in the OpenAPI document.

For each operation it generates valid and invalid requests and checks every answer: never a
5xx, every status and content type declared, every body matching its schema. It runs on the real
app's every operation, and on the test-only notes resource mounted beside them (its operations
alone), which exercises pagination, ETags and idempotent creates the way domain routers use them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.core.failures import FailureGroup, ServerError
from schemathesis.generation import GenerationMode
from schemathesis.schemas import APIOperation

from tests.platform.http.notes_api import drop_tables, mount_notes
from tests.tokens import TokenIssuer, bearer
from townhall.app import create_app
from townhall.domains.people.golden import name_key
from townhall.platform.auth.scopes import scope_names
from townhall.platform.db import Database
from townhall.platform.http.blank import trimmed
from townhall.settings import Settings

NOTES_PATH = "/api/v1/notes"


@pytest.fixture(params=["townhall", "notes"])
def contract_app(
    request: pytest.FixtureRequest, settings: Settings
) -> Iterator[tuple[FastAPI, str]]:
    """The app, and the paths to check: every one, or the notes test API mounted beside them.

    The notes variant checks only the notes operations: Townhall's own are the other variant's,
    and fuzzing them twice doubled the suite's longest tests for nothing.
    """
    app = create_app(settings)
    if request.param == "notes":
        database = Database(settings.database_url)
        mount_notes(app, database)
        yield app, NOTES_PATH
        drop_tables(database)
        database.dispose()
    else:
        yield app, "/"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_keeps_its_contract(
    contract_app: tuple[FastAPI, str], mode: GenerationMode
) -> None:
    app, paths = contract_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [
        result.ok() for result in schema.get_all_operations() if result.ok().path.startswith(paths)
    ]
    assert operations
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not _has_inputs(operation):
            continue  # nothing to make invalid
        _check_operation(operation, mode)


def _has_inputs(operation: APIOperation) -> bool:
    parameter_sets = (operation.path_parameters, operation.query, operation.headers)
    return any(len(parameters) for parameters in parameter_sets) or len(operation.body) > 0


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_keeps_its_contract_for_a_consumer_holding_every_scope(
    settings: Settings, database: Database, mode: GenerationMode
) -> None:
    # Limits high enough that the fuzzer exercises the operations, not the rate limiter.
    unthrottled = settings.model_copy(
        update={"rate_limit_per_minute": 1_000_000, "quota_per_day": 1_000_000}
    )
    app = create_app(unthrottled)
    # The app stays started while the fuzzer calls it: a stopped app's audit recorder refuses
    # to record, so every personal-data read would rightly answer 503.
    with TestClient(app) as client:
        token = TokenIssuer(client=client, database=database)(sorted(scope_names()))
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        protected = [op for op in operations if op.definition.raw.get("security")]
        assert protected
        for operation in protected:
            if mode is GenerationMode.NEGATIVE and not _has_inputs(operation):
                continue
            _check_operation(operation, mode, headers=bearer(token))


def _check_operation(
    operation: APIOperation, mode: GenerationMode, headers: dict[str, str] | None = None
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        if mode is GenerationMode.POSITIVE and case.headers and "Idempotency-Key" in case.headers:
            # Generated keys repeat across examples with other bodies, which is (rightly) a 422.
            case.headers["Idempotency-Key"] = uuid.uuid4().hex
        if mode is GenerationMode.POSITIVE and case.headers and "If-Match" in case.headers:
            # A made-up ETag is rightly a 412; "*" is the valid value no generator can guess.
            case.headers["If-Match"] = "*"
        if mode is GenerationMode.POSITIVE and case.query:
            # A cursor is opaque: only one the API issued is valid, which no generator can make.
            case.query.pop("cursor", None)
        wait = str((case.query or {}).get("wait", ""))
        if wait.isdigit() and 1 <= int(wait) <= 30:
            # The change feed's long poll holds an empty answer open for up to 30 s by design;
            # 0 is as valid, so the case stays as valid or invalid as it was made.
            case.query["wait"] = 0
        if (
            mode is GenerationMode.POSITIVE
            and isinstance(case.body, dict)
            and "target_url" in case.body
        ):
            # A webhook target must resolve to a public address, which no generator can make.
            case.body["target_url"] = "https://93.184.215.14/townhall/events"
        if mode is GenerationMode.POSITIVE:
            _follow_people_rules(case)
        if mode is GenerationMode.POSITIVE:
            _keep_times_in_order(case.query, "occurred_from", "occurred_to")
            if isinstance(case.body, dict) and "hidden_until" in case.body:
                _make_a_hold_valid(case.body)
        case.call_and_validate(headers=headers)

    check()


def _follow_people_rules(case: schemathesis.Case) -> None:
    """Keep the people API's rules that no schema states in a valid case."""
    if case.path == "/api/v1/people/residents":
        # A search of people needs at least one filter (no listing everyone), and a name
        # searched for needs a letter or a digit once accents and marks are taken off (name_key):
        # rules no schema states.
        query = case.query or {}
        if "q" in query and not name_key(str(query["q"])):
            del query["q"]
        filters = ("q", "date_of_birth", "postcode", "uprn")
        if not any(str(query.get(name, "")).strip() for name in filters):
            query["q"] = "Smith"
        case.query = query
    if case.path == "/api/v1/people/survivorship-rules" and isinstance(case.body, dict):
        # Sources must be registered systems, and a field given one rule: rules no schema
        # states.
        rules = {rule["field"]: {**rule, "sources": []} for rule in case.body.get("rules", [])}
        case.body["rules"] = list(rules.values())
    if isinstance(case.body, dict):
        reason = case.body.get("reason")
        if isinstance(reason, str) and not trimmed(reason):
            # A decision must say why: white space alone is no reason, which a pattern
            # could state only by letting the generator make NUL characters (a 422 too).
            case.body["reason"] = "Checked against the tenancy file"


def _keep_times_in_order(values: dict[str, Any] | None, first: str, last: str) -> None:
    """Swap a window's ends that came out reversed: its order is a rule no schema states."""
    if (
        not values
        or not isinstance(values.get(first), str)
        or not isinstance(values.get(last), str)
    ):
        return
    try:
        reversed_ = datetime.fromisoformat(values[first]) > datetime.fromisoformat(values[last])
    except (TypeError, ValueError):
        return
    if reversed_:
        values[first], values[last] = values[last], values[first]


def _make_a_hold_valid(body: dict[str, Any]) -> None:
    """A hold lasts until a future date at most two years ahead and names whose accesses it
    hides: rules of the calendar and of pairs of fields, which no generator can guess."""
    body["hidden_until"] = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    if not body.get("consumer_id") and not body.get("actor_id"):
        body["actor_id"] = "stf_0123456789abcdef"
    _keep_times_in_order(body, "accessed_from", "accessed_to")


def test_the_contract_test_catches_a_server_error(settings: Settings) -> None:
    app = create_app(settings)
    database = Database(settings.database_url)
    mount_notes(app, database)
    try:
        document = app.openapi()
        # Publish the deliberately failing route so schemathesis calls it.
        document["paths"]["/api/v1/notes-failing"] = {
            "get": {
                "operationId": "notes_fail_unexpectedly",
                "responses": {"200": {"description": "never"}},
            }
        }
        app.openapi_schema = document
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        [operation] = [
            result.ok()
            for result in schema.get_all_operations()
            if result.ok().path == "/api/v1/notes-failing"
        ]
        with pytest.raises(FailureGroup) as caught:
            _check_operation(operation, GenerationMode.POSITIVE)
        assert any(isinstance(e, ServerError) for e in caught.value.exceptions)
    finally:
        drop_tables(database)
        database.dispose()
