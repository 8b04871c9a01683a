"""``townhall staff``: create (password asked for, or from standard input), list, disable."""

from __future__ import annotations

from tests.sign_in import PASSWORD
from typer.testing import CliRunner, Result

from townhall.cli import app
from townhall.platform.auth.changes import list_changes
from townhall.platform.auth.passwords import password_matches
from townhall.platform.auth.staff import list_staff_accounts
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest


def run(database_url: str, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(
        app,
        list(args),
        input=stdin,
        env={"TOWNHALL_DATABASE_URL": database_url},
        prog_name="townhall",
    )


def _create(database_url: str, email: str = "Officer@Hackney.gov.uk") -> Result:
    return run(
        database_url,
        "staff",
        "create",
        email,
        "--name",
        "Ada Officer",
        "--role",
        "housing_officer",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )


def test_create_reads_the_password_from_stdin_and_keeps_only_its_hash(
    database_url: str, database: Database
) -> None:
    result = _create(database_url)
    assert result.exit_code == 0, result.output
    assert "for officer@hackney.gov.uk (Housing officer)" in result.stdout
    assert PASSWORD not in result.output
    [member] = list_staff_accounts(database)
    assert member.email == "officer@hackney.gov.uk"
    with database.read() as session:
        from townhall.platform.auth.sign_in_models import StaffAccount

        stored = session.get(StaffAccount, member.id)
        assert stored is not None
        assert stored.password_hash.startswith("$argon2id$")
        assert password_matches(stored.password_hash, PASSWORD)
    changes = list_changes(database, PageRequest(limit=10), target_type="staff_account")
    [change] = changes.items
    assert change.action == "staff_account.created"
    assert change.actor.startswith("cli:")
    assert change.details == {"role": "housing_officer"}


def test_create_asks_for_the_password_twice(database_url: str, database: Database) -> None:
    result = run(
        database_url,
        "staff",
        "create",
        "dpo@hackney.gov.uk",
        "--name",
        "Data Protection",
        "--role",
        "data_protection_officer",
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output
    assert [m.role.value for m in list_staff_accounts(database)] == ["data_protection_officer"]


def test_create_refuses_a_short_password_a_bad_role_and_a_second_account(
    database_url: str,
) -> None:
    short = run(
        database_url,
        "staff",
        "create",
        "a@hackney.gov.uk",
        "--name",
        "A",
        "--role",
        "developer",
        "--password-stdin",
        stdin="short\n",
    )
    assert short.exit_code == 1
    assert short.stderr.strip() == (
        "The account was not created: --password: Password must be 12 characters or more"
    )
    bad_role = run(
        database_url, "staff", "create", "a@hackney.gov.uk", "--name", "A", "--role", "mayor"
    )
    assert bad_role.exit_code == 2
    assert _create(database_url).exit_code == 0
    again = _create(database_url, "officer@HACKNEY.gov.uk")
    assert again.exit_code == 1
    assert "already exists" in again.stderr


def test_list_shows_every_account_and_its_status(database_url: str) -> None:
    assert "There are no staff accounts" in run(database_url, "staff", "list").stdout
    _create(database_url)
    listed = run(database_url, "staff", "list")
    assert listed.exit_code == 0, listed.output
    assert "officer@hackney.gov.uk" in listed.stdout
    assert "housing_officer" in listed.stdout
    assert "enabled" in listed.stdout


def test_disable_stops_the_account_and_records_it(database_url: str, database: Database) -> None:
    _create(database_url)
    result = run(database_url, "staff", "disable", "officer@hackney.gov.uk")
    assert result.exit_code == 0, result.output
    assert "can no longer sign in" in result.stdout
    assert "disabled" in run(database_url, "staff", "list").stdout
    actions = [
        c.action
        for c in list_changes(database, PageRequest(limit=10), target_type="staff_account").items
    ]
    assert actions == ["staff_account.created", "staff_account.disabled"]
    missing = run(database_url, "staff", "disable", "nobody@hackney.gov.uk")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == (
        "Nothing was disabled: There is no staff account with this email address."
    )
