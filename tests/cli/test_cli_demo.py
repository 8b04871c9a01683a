"""``townhall demo``: migrate, build the borough once, serve it with the council asked for."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

demo_package = pytest.importorskip("townhall.demo")
if not hasattr(demo_package, "build_borough"):
    pytest.skip("townhall.demo is not written yet", allow_module_level=True)

from sqlalchemy import func, select  # noqa: E402
from tests.sign_in import sign_in_staff  # noqa: E402

from townhall.app import create_app  # noqa: E402
from townhall.cli import app  # noqa: E402 - only once the demo package is known to be there
from townhall.demo import (  # noqa: E402
    BoroughSize,
    BuildReport,
    DatabaseNotEmpty,
    UnknownCouncil,
    borough_is_built,
)
from townhall.domains.people.models import Resident, ResidentLink, SourcePersonRecord  # noqa: E402
from townhall.platform.auth.staff import list_staff_accounts  # noqa: E402
from townhall.platform.db import Database  # noqa: E402
from townhall.platform.migrations import head_revision  # noqa: E402
from townhall.settings import Settings  # noqa: E402


def run_demo(database_url: str, *args: str, **env: str) -> Result:
    return CliRunner().invoke(
        app,
        ["demo", *args],
        env={"TOWNHALL_DATABASE_URL": database_url, **env},
        prog_name="townhall",
    )


@dataclass
class Recorder:
    """Stands in for the builder and the server, remembering how they were called."""

    built: list[dict[str, Any]] = field(default_factory=list)
    served: list[dict[str, Any]] = field(default_factory=list)
    refusal: Exception | None = None

    def build_borough(self, _database: Database, **options: Any) -> BuildReport:
        if self.refusal is not None:
            raise self.refusal
        self.built.append(options)
        return BuildReport(
            council_code=options["council_code"],
            size=options["size"],
            seed=options["seed"],
            seconds=0.5,
            row_counts={"address_properties": 400, "people_source_records": 1000},
        )

    def run_server(self, settings: Settings, **options: Any) -> None:
        self.served.append({"settings": settings, **options})


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recording = Recorder()
    monkeypatch.setattr("townhall.cli.demo.build_borough", recording.build_borough)
    monkeypatch.setattr("townhall.cli.demo.run_server", recording.run_server)
    return recording


def test_demo_migrates_builds_and_serves_the_council_asked_for(
    empty_database_url: str, recorder: Recorder
) -> None:
    result = run_demo(
        empty_database_url,
        *("--council", "E09000033", "--size", "small", "--seed", "7"),
        *("--port", "9000", "--workers", "2"),
    )

    assert result.exit_code == 0, result.output
    assert f"from nothing to {head_revision()}" in result.stdout
    assert recorder.built == [
        {"council_code": "E09000033", "size": BoroughSize.SMALL, "seed": 7, "show_progress": None}
    ]
    assert "Synthetic borough E09000033" in result.stdout
    assert "1,400" in result.stdout  # the total row
    assert "2,800 rows/s" in result.stdout
    (served,) = recorder.served
    assert served["settings"].council_code == "E09000033"
    assert (served["host"], served["port"], served["workers"]) == ("127.0.0.1", 9000, 2)


def test_demo_defaults_to_the_council_in_the_settings(
    empty_database_url: str, recorder: Recorder
) -> None:
    result = run_demo(empty_database_url, "--build-only", TOWNHALL_COUNCIL_CODE="E09000001")

    assert result.exit_code == 0, result.output
    assert recorder.built == [
        {
            "council_code": "E09000001",
            "size": BoroughSize.BOROUGH,
            "seed": 42,
            "show_progress": None,
        }
    ]
    assert recorder.served == []


def test_a_council_without_postcodes_is_a_usage_error(
    empty_database_url: str, recorder: Recorder
) -> None:
    recorder.refusal = UnknownCouncil("No postcodes found for council code 'E09999999'.")

    result = run_demo(empty_database_url, "--council", "E09999999", "--build-only")

    assert result.exit_code == 2
    assert "Invalid value for '--council': No postcodes found" in result.stderr
    assert "Traceback" not in result.output


def test_a_refused_build_is_a_one_line_error(empty_database_url: str, recorder: Recorder) -> None:
    recorder.refusal = DatabaseNotEmpty("The database already holds person records.")

    result = run_demo(empty_database_url, "--build-only")

    assert result.exit_code == 1
    assert result.stderr.strip() == "The database already holds person records."


@pytest.mark.slow
def test_demo_builds_a_small_borough_once(empty_database_url: str) -> None:
    first = run_demo(empty_database_url, "--build-only", "--size", "small")

    assert first.exit_code == 0, first.output
    assert "Synthetic borough E09000012 (small size, seed 42)" in first.stdout
    assert "rows/s" in first.stdout
    linked = re.search(r"Linked ([\d,]+) source records into ([\d,]+) residents", first.stdout)
    assert linked is not None, first.stdout
    database = Database(empty_database_url)
    try:
        assert borough_is_built(database)
        with database.read() as session:
            records = session.scalar(select(func.count()).select_from(SourcePersonRecord))
            placed = session.scalar(select(func.count()).select_from(ResidentLink))
            residents = session.scalar(
                select(func.count()).select_from(Resident).where(Resident.status == "active")
            )
    finally:
        database.dispose()
    # Every record is some resident's, and the people in several systems are joined.
    assert placed == records == int(linked[1].replace(",", ""))
    assert residents == int(linked[2].replace(",", ""))
    assert residents is not None
    assert records is not None
    assert residents < records

    second = run_demo(empty_database_url, "--build-only", "--size", "small")

    assert second.exit_code == 0, second.output
    assert "already holds the synthetic borough E09000012 (small size, seed 42)" in second.stdout
    assert "rows/s" not in second.stdout


def test_a_built_demo_prints_staff_accounts_that_sign_in_once(
    empty_database_url: str, recorder: Recorder
) -> None:
    first = run_demo(empty_database_url, "--build-only")

    assert first.exit_code == 0, first.output
    printed = dict(
        re.findall(
            r"with (demo\.\w+@hackney\.example) and the password (\S+) \(",
            first.stdout.replace("\n", " "),
        )
    )
    assert set(printed) == {"demo.officer@hackney.example", "demo.steward@hackney.example"}
    database = Database(empty_database_url)
    try:
        roles = {member.email: member.role.value for member in list_staff_accounts(database)}
    finally:
        database.dispose()
    assert roles == {
        "demo.officer@hackney.example": "housing_officer",
        "demo.steward@hackney.example": "data_steward",
    }
    app = create_app(Settings(environment="test", database_url=empty_database_url))
    with TestClient(app) as client:
        sign_in_staff(
            client, "demo.steward@hackney.example", printed["demo.steward@hackney.example"]
        )
        assert "Demo Steward" in client.get("/staff").text
        assert client.get("/staff/people/review").status_code == 200

    # The stand-in builder builds again; the accounts are kept, and no password is printed.
    second = run_demo(empty_database_url, "--build-only")
    assert second.exit_code == 0, second.output
    for email, password in printed.items():
        assert f"The staff account {email} already exists" in second.stdout
        assert password not in second.stdout
