"""A resident sees only their own records: every resident-facing route, tried with another
resident's identifiers in the path, the query and the form, answers with the caller's own data,
a redirect to sign in, or a 404, and never touches the other resident."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.portal.portal_routes import page_routes
from tests.sign_in import form_token, install_test_doubles, sign_in_resident
from townhall.platform.auth.changes import list_changes
from townhall.platform.auth.session_store import live_session_count
from townhall.platform.auth.sign_in_models import SessionKind
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest

ALICE = "alice@example.com"
BOB = "bob@example.com"
IDENTIFIER_NAMES = ("id", "account_id", "resident_id", "email", "account", "session_id")


def _resident_account_ids(database: Database) -> dict[str, str]:
    from townhall.platform.auth.residents import find_resident_member

    changes = list_changes(database, PageRequest(limit=50), target_type="resident_account")
    found = {}
    for change in changes.items:
        member = find_resident_member(database, change.target_id)
        assert member is not None
        found[member.email] = member.id
    return found


def _resident_routes(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(
        (method, route.path)
        for route in page_routes(app)
        if route.path.startswith("/account")
        for method in route.methods
        if method != "HEAD"
    )


def test_the_resident_routes_are_all_found(app: FastAPI) -> None:
    assert {("GET", "/account"), ("POST", "/account/sign-out")} <= set(_resident_routes(app))


def test_no_resident_route_shows_or_touches_another_resident(
    app: FastAPI, client: TestClient, database: Database
) -> None:
    sender, _clock = install_test_doubles(app)
    bob_browser = TestClient(app)
    sign_in_resident(bob_browser, sender, BOB)
    sign_in_resident(client, sender, ALICE)
    ids = _resident_account_ids(database)
    bob = {
        "id": ids[BOB],
        "account_id": ids[BOB],
        "resident_id": ids[BOB],
        "email": BOB,
        "account": ids[BOB],
        "session_id": bob_browser.cookies.get("townhall-session") or "",
    }
    assert set(bob) == set(IDENTIFIER_NAMES)

    for method, path in _resident_routes(app):
        attempts = [
            (path, bob),  # in the query (GET) or the form (POST)
            (f"{path}/{ids[BOB]}", bob),  # in the path
            (f"{path}?account_id={ids[BOB]}&email={BOB}", bob),
        ]
        for url, identifiers in attempts:
            if method == "GET":
                response = client.get(url, params=identifiers, follow_redirects=False)
            else:
                data = {**identifiers, "csrf_token": form_token(client, "/account")}
                if path.startswith("/account/sign-in"):
                    # The sign-in forms' own field is the address to send a code to; give
                    # Alice's, so only the identifiers added beside it are Bob's.
                    data["email"] = ALICE
                response = client.request(method, url, data=data, follow_redirects=False)
            assert response.status_code in {200, 303, 400, 404, 405}, (method, url)
            if response.status_code == 404:
                # A 404 problem quotes the path it was asked for, and says nothing else.
                assert response.json()["title"] == "Not found"
                continue
            assert BOB not in response.text, (method, url)
            assert ids[BOB] not in response.text, (method, url)
            if response.status_code == 200 and path == "/account":
                assert ALICE in response.text
        # Whatever Alice sent, Bob is still signed in.
        assert live_session_count(database, kind=SessionKind.RESIDENT, account_id=ids[BOB]) == 1
        if method == "POST" and path == "/account/sign-out":
            sign_in_resident(client, sender, ALICE)
    assert ALICE in client.get("/account").text
    assert BOB in bob_browser.get("/account").text


@pytest.mark.parametrize("path", ["/account/res_0000000000000000", "/account/1"])
def test_an_account_path_with_an_id_is_not_found(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404
