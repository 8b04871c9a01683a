"""``townhall addresses match``: each row back with its match; a bad file is one red line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from townhall.cli import app
from townhall.demo import BoroughSize, build_borough
from townhall.domains.addresses.matching import MemoryGazetteer
from townhall.domains.addresses.matching.gazetteer import GazetteerAddress
from townhall.platform.db import Database


def run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(
        app,
        ["addresses", "match", *args],
        env={"TOWNHALL_DATABASE_URL": database_url},
        prog_name="townhall",
    )


@pytest.fixture
def borough(database: Database) -> Database:
    build_borough(
        database, council_code="E09000012", size=BoroughSize.SMALL, seed=42, show_progress=False
    )
    return database


def _houses(database: Database) -> list[GazetteerAddress]:
    snapshot = MemoryGazetteer.load(database)
    return sorted(
        (
            a
            for group in snapshot.by_usrn.values()
            for a in group
            if a.logical_status == 1 and a.pao_number and not a.sao_number and not a.building_words
        ),
        key=lambda a: a.uprn,
    )


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("method", ["fast", "splink"])
def test_every_row_comes_back_with_its_match(
    database_url: str, borough: Database, tmp_path: Path, method: str
) -> None:
    house = _houses(borough)[0]
    street_line = house.single_line.rsplit(", ", 1)[0]
    source = _write(
        tmp_path / "in.csv",
        [
            ["ref", "where", "pc", "note"],
            ["r1", street_line.lower(), house.postcode, "keep me"],
            ["r2", "the moon, sea of tranquillity", "", ""],
        ],
    )
    target = tmp_path / "out.csv"
    result = run(
        database_url, str(source), str(target), "--method", method, "--text-column", "where",
        "--postcode-column", "pc", "--id-column", "ref",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = _read(target)
    assert list(rows[0]) == [
        "ref", "where", "pc", "note", "uprn", "score", "verdict", "reason", "matched_address",
        "method",
    ]  # fmt: skip
    assert [r["ref"] for r in rows] == ["r1", "r2"]
    assert rows[0]["note"] == "keep me"
    assert rows[0]["uprn"] == str(house.uprn)
    assert rows[0]["verdict"] == "matched"
    assert rows[0]["matched_address"] == house.single_line
    assert rows[0]["method"] == method
    assert float(rows[0]["score"]) >= 0.9
    assert rows[1]["uprn"] == ""
    assert rows[1]["verdict"] == "no match"
    assert f"Address matching ({method})" in result.stdout
    assert "2 addresses in" in result.stdout


def test_the_default_columns_are_address_postcode_and_id(
    database_url: str, borough: Database, tmp_path: Path
) -> None:
    houses = _houses(borough)[:3]
    source = _write(
        tmp_path / "in.csv",
        [["address", "postcode"], *([h.single_line, ""] for h in houses)],
    )
    result = run(database_url, str(source), str(tmp_path / "out.csv"))
    assert result.exit_code == 0, result.output
    rows = _read(tmp_path / "out.csv")
    assert [r["uprn"] for r in rows] == [str(h.uprn) for h in houses]
    # The default method is best: the fast matcher is sure of these, so it answers them all.
    assert {r["method"] for r in rows} == {"fast"}
    assert "Address matching (best)" in result.stdout


@pytest.mark.parametrize(
    ("content", "arguments", "message"),
    [
        (b"", (), "is empty: it needs a header row"),
        (b"address,postcode\r\n", (), "has a header but no addresses"),
        (b"street,postcode\r\n1 Mare St,E8 1AA\r\n", (), "The file has no column 'address'"),
        (
            b"address\r\n1 Mare St\r\n",
            ("--postcode-column", "pc"),
            "no column 'pc' (choose another with --postcode-column)",
        ),
        (b"address\r\n1 Mare St \xff\xfe\r\n", (), "is not UTF-8 text"),
        (b"address,uprn\r\n1 Mare St,1\r\n", (), "already has the column uprn"),
    ],
)
def test_a_file_that_cannot_be_matched_is_one_red_line(
    database_url: str,
    tmp_path: Path,
    content: bytes,
    arguments: tuple[str, ...],
    message: str,
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    result = run(database_url, str(source), str(tmp_path / "out.csv"), *arguments)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.csv").exists()


def test_a_missing_input_or_unwritable_output_is_one_red_line(
    database_url: str, tmp_path: Path
) -> None:
    result = run(database_url, str(tmp_path / "absent.csv"), str(tmp_path / "out.csv"))
    assert result.exit_code == 1
    assert "absent.csv cannot be read" in result.stderr
    source = _write(tmp_path / "in.csv", [["address"], ["1 Mare Street"]])
    result = run(database_url, str(source), str(tmp_path / "no" / "such" / "out.csv"))
    assert result.exit_code == 1
    assert "out.csv cannot be written" in result.stderr
