"""``townhall audit``: verify (exit codes, table and JSON), checkpoint, public-key, purge."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.platform.audit.chain_helpers import append, tamper
from typer.testing import CliRunner, Result

from townhall.cli import app
from townhall.platform.db import Database

SECRET = "the council's secret key"


def run(database_url: str, *args: str, secret_key: str = SECRET, **env: str) -> Result:
    environment = {
        "TOWNHALL_DATABASE_URL": database_url,
        "TOWNHALL_ENVIRONMENT": "test",
        "TOWNHALL_SECRET_KEY": secret_key,
        **env,
    }
    return CliRunner().invoke(app, ["audit", *args], env=environment, prog_name="townhall")


def words(text: str) -> str:
    """``text`` without the table's borders, its words one space apart."""
    return " ".join(re.sub(r"[^\w().,:' -]", " ", text).split())


def as_json(result: Result, exit_code: int = 0) -> Any:
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


def test_verify_says_an_intact_chain_is_intact(database_url: str, database: Database) -> None:
    append(database, 40)
    assert as_json(run(database_url, "checkpoint", "--json"))["position"] == 40
    append(database, 2)

    result = run(database_url, "verify")

    assert result.exit_code == 0, result.output
    output = words(result.stdout)
    assert "Records checked 42" in output
    assert "Records after it (chain only) 2" in output
    assert "The audit chain is intact." in output
    report = as_json(run(database_url, "verify", "--json"))
    assert report["intact"] is True
    assert report["newest_checkpoint"]["position"] == 40
    assert report["records_after_newest_checkpoint"] == 2


def test_verify_exits_1_and_names_the_break(database_url: str, database: Database) -> None:
    append(database, 40)
    run(database_url, "checkpoint")
    tamper(database, "DELETE FROM audit_records WHERE position = 12")

    report = as_json(run(database_url, "verify", "--json"), exit_code=1)

    assert report["intact"] is False
    assert report["problems"][0] == {
        "position": 12,
        "kind": "missing",
        "detail": "record 12 is missing",
    }
    table = run(database_url, "verify")
    assert table.exit_code == 1
    assert "1 problem Position Kind Detail 12 missing record 12 is missing" in words(table.stdout)
    assert "The audit chain is NOT intact." in words(table.stdout)


def test_checkpoint_signs_only_when_there_is_something_new(
    database_url: str, database: Database
) -> None:
    result = run(database_url, "checkpoint")
    assert result.exit_code == 0, result.output
    assert "nothing to sign" in result.stdout
    append(database, 3)
    signed = run(database_url, "checkpoint")
    assert "Signed checkpoint at position 3" in signed.stdout
    assert as_json(run(database_url, "checkpoint", "--json")) is None


def test_public_key_is_the_one_that_signs(database_url: str, database: Database) -> None:
    append(database, 3)
    signed = as_json(run(database_url, "checkpoint", "--json"))
    published = as_json(run(database_url, "public-key", "--json"))
    assert published["key_id"] == signed["key_id"]
    plain = run(database_url, "public-key")
    assert plain.stdout.strip() == published["public_key"]


def test_checkpoints_from_before_a_key_change_verify_with_the_trusted_key(
    database_url: str, database: Database
) -> None:
    append(database, 5)
    run(database_url, "checkpoint", secret_key="the old secret")
    old_key = run(database_url, "public-key", secret_key="the old secret").stdout.strip()

    untrusted = as_json(run(database_url, "verify", "--json"), exit_code=1)
    assert untrusted["problems"][0]["kind"] == "bad checkpoint signature"
    trusted = run(database_url, "verify", "--json", "--trusted-key", old_key)
    assert as_json(trusted)["intact"] is True


def test_a_trusted_key_that_is_not_a_key_is_refused(database_url: str) -> None:
    result = run(database_url, "verify", "--trusted-key", "AAAA")
    assert result.exit_code == 1
    assert "--trusted-key" in result.stderr
    assert "not an Ed25519 public key" in result.stderr


def test_purge_deletes_records_past_the_retention_period(
    database_url: str, database: Database
) -> None:
    append(database, 8, occurred_at=datetime.now(UTC) - timedelta(days=40))
    run(database_url, "checkpoint")
    append(database, 2)

    result = run(database_url, "purge", TOWNHALL_AUDIT_RETENTION_DAYS="30")

    assert result.exit_code == 0, result.output
    assert "audit_records: 8 deleted" in result.stdout
    assert as_json(run(database_url, "verify", "--json"))["purged_to"] == 8
