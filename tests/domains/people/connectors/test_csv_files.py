"""The CSV connector: one file or a folder of drops, read by a changed column or append only."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from townhall.domains.people.connectors.base import Batch, SourceUnreadable
from townhall.domains.people.connectors.csv_files import CsvConnector, CsvSettings

MAPPING = {"record_id": "id", "fields": {"last_name": "surname"}, "timezone": "UTC"}


def write(path: Path, rows: list[list[str]], **dialect: Any) -> None:
    encoding = dialect.pop("encoding", "utf-8")
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, **dialect).writerows(rows)


def connector(path: Path, **settings: Any) -> CsvConnector:
    return CsvConnector(
        CsvSettings.model_validate({"path": str(path), "mapping": MAPPING, **settings})
    )


def ids(batches: list[Batch]) -> list[str]:
    return [row.values["id"] for batch in batches for row in batch.rows]


def test_by_changed_column_the_oldest_change_comes_first_and_the_position_resumes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "housing.csv"
    write(path, [["id", "surname", "changed"], ["A", "Ray", "02/01/2025 10:00"],
                 ["B", "Lee", "01/01/2025 09:00"], ["C", "Kaur", "02/01/2025 10:00"]])  # fmt: skip
    reader = connector(
        path, changed_column="changed", changed_format="%d/%m/%Y %H:%M", batch_rows=2
    )

    batches = list(reader.read(None))

    assert ids(batches) == ["B", "A", "C"]
    assert [row.position for row in batches[0].rows] == ["housing.csv:2", "housing.csv:1"]
    assert batches[-1].position == "changed:2025-01-02T10:00:00+00:00"
    # Inclusive: a row added later with the same time as the last one read is not missed.
    write(path, [["id", "surname", "changed"], ["A", "Ray", "02/01/2025 10:00"],
                 ["D", "Ng", "02/01/2025 10:00"], ["E", "Oak", "03/01/2025 08:00"],
                 ["B", "Lee", "01/01/2025 09:00"]])  # fmt: skip
    assert ids(list(reader.read(batches[-1].position))) == ["A", "D", "E"]


def test_append_only_drops_are_read_by_file_name_then_row(tmp_path: Path) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    write(drops / "ctax_20250330.csv", [["id", "surname"], ["A", "Ray"], ["B", "Lee"]])
    write(drops / "notes.txt", [["not", "a drop"]])
    reader = connector(drops, batch_rows=10)

    first = list(reader.read(None))
    assert ids(first) == ["A", "B"]
    assert first[-1].position == "file:ctax_20250330.csv:2"

    # The night's file grew, and the next night's arrived.
    write(
        drops / "ctax_20250330.csv", [["id", "surname"], ["A", "Ray"], ["B", "Lee"], ["C", "Kaur"]]
    )
    write(drops / "ctax_20250331.csv", [["id", "surname"], ["D", "Ng"]])
    assert ids(list(reader.read(first[-1].position))) == ["C", "D"]


def test_encoding_dialect_and_a_byte_order_mark_are_settings(tmp_path: Path) -> None:
    path = tmp_path / "care.csv"
    write(path, [["id", "surname"], ["1", "Zoë"]], delimiter=";", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    [batch] = list(connector(path, delimiter=";").read(None))

    assert batch.rows[0].values == {"id": "1", "surname": "Zoë"}


@pytest.mark.parametrize(
    ("settings", "since", "message"),
    [
        ({}, "changed:2025-01-01", "is not a position of an append-only CSV source"),
        ({"changed_column": "c"}, "file:a.csv:3", "is not a position of a CSV source read by"),
    ],
)
def test_a_position_it_did_not_make_is_refused(
    tmp_path: Path, settings: dict[str, str], since: str, message: str
) -> None:
    path = tmp_path / "a.csv"
    write(path, [["id", "surname", "c"]])
    with pytest.raises(SourceUnreadable, match=message):
        list(connector(path, **settings).read(since))


def test_a_missing_folder_and_a_wrong_encoding_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceUnreadable, match="There is no file or folder"):
        list(connector(tmp_path / "nowhere").read(None))
    path = tmp_path / "latin.csv"
    path.write_bytes("id,surname\n1,Zo\xeb\n".encode("latin-1"))
    with pytest.raises(SourceUnreadable, match="cannot be read as utf-8-sig CSV"):
        list(connector(path).read(None))
    [batch] = list(connector(path, encoding="cp1252").read(None))
    assert batch.rows[0].values["surname"] == "Zoë"


def test_an_unknown_encoding_is_refused_in_the_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a text encoding"):
        CsvSettings.model_validate(
            {"path": str(tmp_path), "encoding": "klingon", "mapping": MAPPING}
        )
