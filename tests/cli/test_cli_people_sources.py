"""``townhall people sources`` and ``townhall people sync``: an operator's commands."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner, Result

from townhall.cli import app
from townhall.domains.people import sources
from townhall.platform.db import Database

MAPPING = {"record_id": "id", "fields": {"last_name": "surname"}, "timezone": "UTC"}


def run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(
        app,
        ["people", *args],
        env={"TOWNHALL_DATABASE_URL": database_url, "TOWNHALL_ENVIRONMENT": "test"},
        prog_name="townhall",
    )


def extract(tmp_path: Path) -> Path:
    path = tmp_path / "parking.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["id", "surname"], ["PK1", "Patel"], ["PK2", "Lee"]])
    return path


def test_a_source_is_added_from_a_toml_file_synced_and_shown(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    config = tmp_path / "parking.toml"
    config.write_text(
        'name = "parking"\nlabel = "Parking permits"\nconnector = "csv"\ntrust = 5\n'
        f'[settings]\npath = "{extract(tmp_path)}"\n'
        '[settings.mapping]\nrecord_id = "id"\ntimezone = "UTC"\n'
        '[settings.mapping.fields]\nlast_name = "surname"\n',
        encoding="utf-8",
    )

    added = run(database_url, "sources", "add", str(config), "--trust", "4")
    assert added.exit_code == 0, added.output
    assert sources.get_source(database, "parking").trust == 4

    synced = run(database_url, "sync", "parking")
    assert synced.exit_code == 0, synced.output
    assert "parking" in synced.stdout
    [sync] = sources.list_syncs(database, "parking", sources.PageRequest()).items
    assert (sync.status, sync.added) == ("finished", 2)

    listed = run(database_url, "sources", "list")
    assert listed.exit_code == 0, listed.output
    assert "parking" in listed.stdout
    assert "finished" in listed.stdout
    shown = run(database_url, "sources", "show", "parking")
    assert shown.exit_code == 0, shown.output
    assert "file:parking.csv:2" in shown.stdout


def test_a_bad_setting_is_one_line_naming_it(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    config = tmp_path / "housing.json"
    config.write_text(
        json.dumps({"name": "housing", "label": "Housing", "connector": "csv", "trust": 3,
                    "settings": {"path": str(tmp_path), "delimiter": ";;", "mapping": MAPPING}}),
        encoding="utf-8",
    )  # fmt: skip

    result = run(database_url, "sources", "add", str(config))

    assert result.exit_code == 1
    assert "config.delimiter" in result.stderr
    assert "Traceback" not in result.output
    assert sources.all_sources(database) == []


def test_sync_needs_names_or_all_and_an_unknown_name_is_refused(database_url: str) -> None:
    neither = run(database_url, "sync")
    assert neither.exit_code == 1
    assert "Name the sources to sync, or give --all" in neither.stderr
    unknown = run(database_url, "sync", "parking")
    assert unknown.exit_code == 1
    assert "There is no source named parking." in unknown.stderr


def test_a_source_that_cannot_be_read_fails_its_sync_with_the_reason(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    sources.register_source(
        database, name="parking", label="Parking", connector="csv", trust=5,
        config={"path": str(tmp_path / "gone"), "mapping": MAPPING},
    )  # fmt: skip

    result = run(database_url, "sync", "--all")

    assert result.exit_code == 1
    assert "failed: There is no file or folder" in result.stderr
