"""``townhall db``: upgrade, current, downgrade, revision, and the committed HEAD file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from townhall.cli import app
from townhall.platform.migrations import MIGRATIONS_DIR, head_revision


def run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(
        app, list(args), env={"TOWNHALL_DATABASE_URL": database_url}, prog_name="townhall"
    )


def test_upgrade_on_an_empty_database_then_current_shows_the_head(
    empty_database_url: str,
) -> None:
    upgraded = run(empty_database_url, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"from nothing to {head_revision()}" in upgraded.stdout

    current = run(empty_database_url, "db", "current", "--check")
    assert current.exit_code == 0, current.output
    assert current.stdout.strip() == f"{head_revision()} (head)"


def test_upgrade_again_has_nothing_to_do(database_url: str) -> None:
    result = run(database_url, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "already at" in result.stdout


def test_current_on_an_empty_database_says_what_to_run(empty_database_url: str) -> None:
    shown = run(empty_database_url, "db", "current")
    assert shown.exit_code == 0
    assert "No schema yet" in shown.stdout
    assert "townhall db upgrade" in shown.stdout

    checked = run(empty_database_url, "db", "current", "--check")
    assert checked.exit_code == 1


def test_downgrade_to_base_empties_the_schema(empty_database_url: str) -> None:
    assert run(empty_database_url, "db", "upgrade").exit_code == 0
    result = run(empty_database_url, "db", "downgrade", "base")
    assert result.exit_code == 0, result.output
    assert f"from {head_revision()} to nothing" in result.stdout
    assert "No schema yet" in run(empty_database_url, "db", "current").stdout


def test_an_unknown_revision_is_a_one_line_error(empty_database_url: str) -> None:
    result = run(empty_database_url, "db", "upgrade", "9999")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Migration failed: Can't locate revision identified by '9999'"
    ]


def test_a_database_that_cannot_be_opened_is_a_one_line_error(tmp_path: Path) -> None:
    result = run(f"sqlite:///{tmp_path / 'missing' / 'townhall.db'}", "db", "upgrade")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Could not use the database at sqlite:///")


def test_invalid_settings_name_the_variable(empty_database_url: str) -> None:
    result = CliRunner().invoke(
        app,
        ["db", "current"],
        env={"TOWNHALL_DATABASE_URL": empty_database_url, "TOWNHALL_COUNCIL_CODE": "Hackney"},
    )
    assert result.exit_code == 1
    assert "TOWNHALL_COUNCIL_CODE: must be a GSS code" in result.stderr


def test_the_head_file_holds_the_newest_revision() -> None:
    committed = (MIGRATIONS_DIR / "HEAD").read_text(encoding="utf-8").strip()
    assert committed == head_revision(), (
        "src/townhall/migrations/HEAD must hold the newest revision: write revisions with "
        "`townhall db revision -m ...`, which updates it"
    )


@pytest.fixture
def migrations_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the package's migrations that `db revision` writes into instead."""
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr("townhall.cli.db.MIGRATIONS_DIR", copy)
    return copy


def _next_revision() -> str:
    return f"{int(head_revision()) + 1:04d}"


def test_revision_writes_the_next_number_and_updates_head(migrations_copy: Path) -> None:
    result = CliRunner().invoke(app, ["db", "revision", "-m", "Add nothing yet"])

    assert result.exit_code == 0, result.output
    written = migrations_copy / "versions" / f"{_next_revision()}_add_nothing_yet.py"
    assert written.exists(), sorted(p.name for p in (migrations_copy / "versions").iterdir())
    source = written.read_text(encoding="utf-8")
    assert f'revision: str = "{_next_revision()}"' in source
    assert f'down_revision: str | None = "{head_revision()}"' in source
    # The models and the migrations agree, so there is nothing to upgrade.
    assert "op." not in source
    assert (migrations_copy / "HEAD").read_text(encoding="utf-8") == f"{_next_revision()}\n"


def test_revision_autogenerates_what_the_migrations_lack(migrations_copy: Path) -> None:
    for revision in (migrations_copy / "versions").glob("*.py"):
        revision.unlink()

    result = CliRunner().invoke(app, ["db", "revision", "-m", "initial"])

    assert result.exit_code == 0, result.output
    source = (migrations_copy / "versions" / "0001_initial.py").read_text(encoding="utf-8")
    assert "down_revision: str | None = None" in source
    assert 'op.create_table(\n        "address_properties"' in source
    assert (migrations_copy / "HEAD").read_text(encoding="utf-8") == "0001\n"


def test_an_empty_revision_needs_no_database(migrations_copy: Path) -> None:
    result = CliRunner().invoke(app, ["db", "revision", "--empty", "-m", "by hand"])

    assert result.exit_code == 0, result.output
    assert (migrations_copy / "versions" / f"{_next_revision()}_by_hand.py").exists()
    assert (migrations_copy / "HEAD").read_text(encoding="utf-8") == f"{_next_revision()}\n"
