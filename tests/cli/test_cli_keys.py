"""``townhall keys``: what an operator sees of the signing keys, and rotating them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from townhall.cli import app
from townhall.platform.auth.changes import list_changes
from townhall.platform.auth.keys import KeyDecryptionError, instance_signing_keys
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest
from townhall.settings import Settings


def run(database_url: str, *args: str, secret_key: str | None = None) -> Result:
    env = {"TOWNHALL_DATABASE_URL": database_url, "TOWNHALL_ENVIRONMENT": "test"}
    if secret_key is not None:
        env["TOWNHALL_SECRET_KEY"] = secret_key
    return CliRunner().invoke(app, ["keys", *args], env=env, prog_name="townhall")


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_says_when_there_is_no_key_yet(database_url: str) -> None:
    result = run(database_url, "list")
    assert result.exit_code == 0, result.output
    assert "the first is made when the first token is issued" in result.stdout
    assert _json(run(database_url, "list", "--json")) == []


def test_rotate_makes_a_new_key_and_schedules_the_old_one(
    database_url: str, settings: Settings, database: Database
) -> None:
    first = instance_signing_keys(settings, database).signing_key(900)

    rotated = _json(run(database_url, "rotate", "--json"))

    assert rotated["new"]["state"] == "active"
    assert rotated["new"]["algorithm"] == "ES256"
    [old] = rotated["replaced"]
    assert (old["kid"], old["state"]) == (first.kid, "retiring")
    assert old["retire_after"].endswith("Z")
    listed = _json(run(database_url, "list", "--json"))
    assert [(k["kid"], k["state"]) for k in listed] == [
        (rotated["new"]["kid"], "active"),
        (first.kid, "retiring"),
    ]
    # The new key signs from now on, in every process that reads the database.
    assert instance_signing_keys(settings, database).signing_key(900).kid == rotated["new"]["kid"]
    [change] = list_changes(database, PageRequest(), target_type="signing_key").items
    assert change.actor.startswith("cli:")


def test_rotate_tells_a_person_what_happens_to_the_old_key(
    database_url: str, settings: Settings, database: Database
) -> None:
    first = instance_signing_keys(settings, database).signing_key(900)
    result = run(database_url, "rotate")
    assert result.exit_code == 0, result.output
    output = " ".join(result.stdout.split())
    assert "signs from now on" in output
    assert f"{first.kid} verifies the tokens it signed until" in output
    table = run(database_url, "list")
    assert first.kid in table.stdout
    assert "retiring" in table.stdout


def test_retire_now_retires_the_old_key_at_once(
    database_url: str, settings: Settings, database: Database
) -> None:
    first = instance_signing_keys(settings, database).signing_key(900)
    result = run(database_url, "rotate", "--retire-now")
    assert result.exit_code == 0, result.output
    assert "no longer work" in " ".join(result.stdout.split())
    states = {k["kid"]: k["state"] for k in _json(run(database_url, "list", "--json"))}
    assert states[first.kid] == "retired"


def test_keys_made_under_one_secret_key_cannot_be_used_under_another(
    database_url: str,
) -> None:
    _json(run(database_url, "rotate", "--json", secret_key="the-first-secret-key"))
    # Listing needs no private key; rotating replaces the active one without reading it.
    assert len(_json(run(database_url, "list", "--json", secret_key="another-key"))) == 1
    settings = Settings(environment="test", database_url=database_url, secret_key="another-key")
    database = Database(database_url)
    try:
        with pytest.raises(KeyDecryptionError, match="TOWNHALL_SECRET_KEY"):
            instance_signing_keys(settings, database).signing_key(900)
    finally:
        database.dispose()


def test_a_missing_database_is_a_one_line_error(tmp_path: Any) -> None:
    result = run(f"sqlite:///{tmp_path / 'nowhere' / 'missing.db'}", "list")
    assert result.exit_code != 0
    assert "Traceback" not in result.output
