"""``townhall addresses import`` and ``export``: the summary, rejected rows, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from townhall.cli import app
from townhall.demo import BoroughSize, build_borough
from townhall.domains.addresses import search_index
from townhall.domains.addresses.models import AddressRecord
from townhall.domains.addresses.service import count_gazetteer
from townhall.platform.db import Database


def run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(
        app, list(args), env={"TOWNHALL_DATABASE_URL": database_url}, prog_name="townhall"
    )


@pytest.fixture
def borough(database: Database) -> Database:
    build_borough(database, council_code="E09000012", size=BoroughSize.SMALL, seed=42)
    return database


@pytest.mark.parametrize("file_format", ["dtf", "csv"])
def test_export_then_import_into_an_empty_database(
    borough: Database, database_url: str, tmp_path: Path, file_format: str
) -> None:
    path = tmp_path / f"gazetteer.{file_format}"
    exported = run(database_url, "addresses", "export", str(path), "--format", file_format)
    assert exported.exit_code == 0, exported.output
    assert "Wrote 414 addresses of 400 properties" in exported.stdout

    again = run(database_url, "addresses", "import", str(path))

    assert again.exit_code == 0, again.output
    assert "Gazetteer import" in again.stdout
    assert "No rows were rejected." in again.stdout
    assert "414" in again.stdout  # the unchanged addresses
    assert count_gazetteer(borough).addresses == 414


def test_rejected_rows_are_listed_and_the_import_still_succeeds(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.dtf"
    path.write_text(
        "10,Townhall,5360,2025-07-01,1,2025-07-01,10:00:00,7.3,F\r\n"
        "11,I,1,20400001,1,5360,2,2020-01-01,,,1,2020-01-01,2020-01-01,2020-01-01,,"
        "533000,184000,533300,184100,10\r\n"
        "15,I,2,20400001,Mortimer Road,Dalston,LONDON,HACKNEY,ENG\r\n"
        "21,I,3,12X,1,2,2020-01-01,RD04,,533100,184050,1,5360,2020-01-01,,2020-01-01,"
        "2020-01-01,,,,,,\r\n"
        "99,0,5,2025-07-01,10:00:00\r\n",
        encoding="utf-8",
    )

    result = run(database_url, "addresses", "import", str(path), "--format", "dtf")

    assert result.exit_code == 0, result.output
    assert "1 row rejected" in result.stdout
    assert "'12X' is not a UPRN" in result.stdout
    assert count_gazetteer(database).streets == 1


def test_a_file_that_cannot_be_read_fails_with_one_line(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(2000))

    result = run(database_url, "addresses", "import", str(path))

    assert result.exit_code == 1
    assert "neither an NLPG DTF 7.3 file nor a Townhall plain CSV" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    missing = run(database_url, "addresses", "import", str(tmp_path / "missing.dtf"))
    assert missing.exit_code == 1
    assert "cannot be read" in missing.stderr


def test_the_search_index_is_current_when_an_import_ends(
    borough: Database, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "gazetteer.dtf"
    assert run(database_url, "addresses", "export", str(path)).exit_code == 0
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("15,"))
    descriptor = lines[at].split(",")
    descriptor[4] = "Quillfeather Road"
    lines[at] = ",".join(descriptor)
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")

    result = run(database_url, "addresses", "import", str(path))

    assert result.exit_code == 0, result.output
    with borough.read() as session:
        match = search_index.match_text(session, "quillfeather road")
        on_street = session.scalars(
            select(AddressRecord.lpi_key).where(AddressRecord.usrn == int(descriptor[3]))
        ).all()
    assert match.lpi_keys is not None
    assert set(match.lpi_keys) == set(on_street) != set()
