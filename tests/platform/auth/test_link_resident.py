"""Matching a resident account to the council's resident: the change log records each match."""

from __future__ import annotations

import pytest

from tests.sign_in import START
from townhall.errors import NotFound
from townhall.platform.auth.changes import list_changes
from townhall.platform.auth.residents import find_resident_member, link_resident
from townhall.platform.auth.sign_in_models import ResidentAccount
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest


def _account(database: Database) -> str:
    with database.write() as session:
        session.add(
            ResidentAccount(
                id="res_0123456789abcdef",
                email="grace@example.com",
                verified_at=START,
                resident_id=None,
                created_at=START,
            )
        )
    return "res_0123456789abcdef"


def test_linking_and_unlinking_are_recorded(database: Database) -> None:
    account_id = _account(database)
    linked = link_resident(database, account_id, "resident-grace", actor="cli:test")
    assert linked.resident_id == "resident-grace"
    member = find_resident_member(database, account_id)
    assert member is not None
    assert member.resident_id == "resident-grace"
    assert link_resident(database, account_id, None, actor="cli:test").resident_id is None
    changes = list_changes(database, PageRequest(), target_id=account_id).items
    assert [(c.action, c.actor, c.details) for c in changes] == [
        ("resident_account.linked", "cli:test", {"resident_id": "resident-grace"}),
        ("resident_account.unlinked", "cli:test", {"resident_id": None}),
    ]


def test_an_unknown_account_is_not_found(database: Database) -> None:
    with pytest.raises(NotFound):
        link_resident(database, "res_missing", "resident-grace", actor="cli:test")
