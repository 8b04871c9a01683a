"""``townhall consumers``: what an administrator runs on the instance, and what scripts read."""

from __future__ import annotations

import json

from typer.testing import CliRunner, Result

from townhall.cli import app
from townhall.platform.auth import consumers
from townhall.platform.auth.changes import list_changes
from townhall.platform.auth.scopes import scope_names
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest


def run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(
        app,
        ["consumers", *args],
        env={"TOWNHALL_DATABASE_URL": database_url, "TOWNHALL_ENVIRONMENT": "test"},
        prog_name="townhall",
    )


def _create(database_url: str, *args: str) -> dict[str, str]:
    result = run(database_url, "create", "Parking permits", *args, "--json")
    assert result.exit_code == 0, result.output
    credentials: dict[str, str] = json.loads(result.stdout)
    return credentials


def _only_consumer_id(database: Database) -> str:
    [record] = consumers.list_consumers(database, PageRequest()).items
    return record.id


def test_create_json_prints_exactly_the_client_id_and_secret(
    database_url: str, database: Database
) -> None:
    credentials = _create(
        database_url,
        "--scopes",
        "consumers:read consumers:write",
        "--team",
        "Parking",
        "--contact",
        "parking@example.gov.uk",
        "--purpose",
        "Registers the council's services",
    )
    assert set(credentials) == {"client_id", "client_secret"}
    access = consumers.verify_client_secret(
        database, credentials["client_id"], credentials["client_secret"], environment="test"
    )
    assert access is not None
    assert {grant.scope for grant in access.grants} == {"consumers:read", "consumers:write"}
    assert {grant.purpose for grant in access.grants} == {"Registers the council's services"}
    record = consumers.get_consumer(database, access.consumer_id)
    assert (record.owning_team, record.contact_email) == ("Parking", "parking@example.gov.uk")
    created = list_changes(database, PageRequest(), action="consumer.created").items
    assert [change.actor[:4] for change in created] == ["cli:"]


def test_create_without_json_says_the_secret_is_shown_once(
    database_url: str, database: Database
) -> None:
    result = run(database_url, "create", "Waste", "--kind", "partner")
    assert result.exit_code == 0, result.output
    assert "client_secret: thsec_" in result.stdout
    assert "shown only this once" in result.stdout
    record = consumers.get_consumer(database, _only_consumer_id(database))
    assert (record.kind, record.owning_team) == ("partner", None)


def test_an_unknown_scope_is_one_red_line_and_nothing_is_registered(
    database_url: str, database: Database
) -> None:
    result = run(database_url, "create", "Waste", "--scopes", "bins:empty", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "'bins:empty' is not a scope this instance knows. "
        f"Known scopes: {', '.join(sorted(scope_names()))}."
    ]
    assert consumers.list_consumers(database, PageRequest()).items == []


def test_list_and_show(database_url: str, database: Database) -> None:
    assert "No consumers yet" in run(database_url, "list").stdout
    _create(database_url, "--scopes", "consumers:read", "--purpose", "Reads the register")
    consumer_id = _only_consumer_id(database)

    listed = run(database_url, "list")
    assert listed.exit_code == 0, listed.output
    assert consumer_id in listed.stdout
    assert "Parking permits" in listed.stdout

    shown = run(database_url, "show", consumer_id)
    assert shown.exit_code == 0, shown.output
    assert "consumers:read in test, in force" in shown.stdout
    assert "for: Reads the register" in shown.stdout
    assert "until rotated" in shown.stdout
    assert "thsec_" not in shown.stdout


def test_disable_and_enable(database_url: str, database: Database) -> None:
    _create(database_url)
    consumer_id = _only_consumer_id(database)
    assert run(database_url, "disable", consumer_id).exit_code == 0
    assert not consumers.get_consumer(database, consumer_id).enabled
    assert run(database_url, "enable", consumer_id).exit_code == 0
    assert consumers.get_consumer(database, consumer_id).enabled


def test_rotate_secret_json_gives_a_new_secret_and_the_old_one_overlaps(
    database_url: str, database: Database
) -> None:
    first = _create(database_url)
    consumer_id = _only_consumer_id(database)
    result = run(database_url, "rotate-secret", consumer_id, "--overlap-hours", "1", "--json")
    assert result.exit_code == 0, result.output
    rotated = json.loads(result.stdout)
    assert set(rotated) == {"client_id", "client_secret"}
    assert rotated["client_id"] == first["client_id"]
    for secret in (first["client_secret"], rotated["client_secret"]):
        assert consumers.verify_client_secret(
            database, first["client_id"], secret, environment="test"
        )

    immediate = run(database_url, "rotate-secret", consumer_id, "--overlap-hours", "0")
    assert immediate.exit_code == 0, immediate.output
    assert not consumers.verify_client_secret(
        database, first["client_id"], rotated["client_secret"], environment="test"
    )


def test_grant_and_revoke(database_url: str, database: Database) -> None:
    _create(database_url)
    consumer_id = _only_consumer_id(database)
    granted = run(
        database_url,
        "grant",
        consumer_id,
        "consumers:read",
        "--purpose",
        "Audit",
        "--expires",
        "2099-01-31",
    )
    assert granted.exit_code == 0, granted.output
    assert "until 2099-02-01 00:00 UTC" in granted.stdout
    access = consumers.consumer_access(database, consumer_id, environment="test")
    assert access is not None
    assert [(g.scope, g.purpose) for g in access.grants] == [("consumers:read", "Audit")]

    again = run(database_url, "grant", consumer_id, "consumers:read", "--purpose", "Audit")
    assert again.exit_code == 1
    assert "already holds consumers:read" in again.stderr

    assert run(database_url, "revoke", consumer_id, "consumers:read").exit_code == 0
    access = consumers.consumer_access(database, consumer_id, environment="test")
    assert access is not None
    assert access.grants == ()
    missing = run(database_url, "revoke", consumer_id, "consumers:read")
    assert missing.exit_code == 1
    assert "holds no grant of consumers:read in test" in missing.stderr


def test_an_unknown_consumer_is_one_red_line(database_url: str) -> None:
    for command in (["show"], ["disable"], ["enable"], ["rotate-secret"]):
        result = run(database_url, *command, "con_nobody")
        assert result.exit_code == 1, command
        assert result.stderr.strip() == "There is no consumer con_nobody."


def test_a_grant_needs_a_purpose(database_url: str) -> None:
    result = run(database_url, "grant", "con_x", "consumers:read")
    assert result.exit_code == 2
    assert "--purpose" in result.stderr
