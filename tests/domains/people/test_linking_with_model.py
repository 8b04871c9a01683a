"""Linking end to end with a trained Splink model: records come in through a CSV connector, the
full run links them, a re-run keeps every id, a new row in the extract is placed as its event
arrives, and that placement can be undone.

The other linking tests give ``relink`` and ``link_batch`` hand-written pairs; this one checks that
the pieces fit with the real scorer (training takes a few seconds, so the story is one test).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select

from tests.domains.people.linkage.test_scoring import person_records
from townhall.domains.people import decisions, sources
from townhall.domains.people.linkage.training import train
from townhall.domains.people.linking import PeopleLinker, link_all, system_actor
from townhall.domains.people.models import ResidentLink, SourcePersonRecord
from townhall.domains.people.schemas import NewSourceRecord
from townhall.domains.people.sync import sync_source
from townhall.platform.db import Database
from townhall.platform.events.readers import run_reader
from townhall.settings import Settings

HEADER = ["ref", "first", "last", "dob", "postcode", "uprn", "email", "phone", "changed"]
MAPPING = {
    "record_id": "ref",
    "updated_at": {"column": "changed", "format": "%Y-%m-%d"},
    "fields": {
        "first_name": "first",
        "last_name": "last",
        "date_of_birth": {"column": "dob", "format": "%Y-%m-%d"},
        "postcode": "postcode",
        "uprn": "uprn",
        "email": "email",
        "phone": "phone",
    },
    "timezone": "UTC",
}


def row(record: NewSourceRecord, changed: str = "2025-01-02") -> list[str]:
    def text(value: object) -> str:
        return "" if value is None else str(value)

    return [
        record.source_record_id, text(record.first_name), text(record.last_name),
        text(record.date_of_birth), text(record.postcode), text(record.uprn),
        text(record.email), text(record.phone), changed,
    ]  # fmt: skip


def write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])


def residents_by_reference(database: Database) -> dict[str, str]:
    with database.read() as session:
        rows = session.execute(
            select(SourcePersonRecord.source_record_id, ResidentLink.resident_id).join(
                ResidentLink, ResidentLink.source_record_id == SourcePersonRecord.id
            )
        )
        return {str(reference): str(resident) for reference, resident in rows}


def test_link_rerun_then_place_a_new_row_as_it_arrives_and_undo_it(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    people = person_records(90, seed=11)
    extract = tmp_path / "council_tax.csv"
    write(extract, [row(record) for record in people])
    sources.register_source(
        database, name="council_tax", label="Council tax", connector="csv", trust=2,
        config={"path": str(extract), "changed_column": "changed",
                "changed_format": "%Y-%m-%d", "mapping": MAPPING},
    )  # fmt: skip
    sync_source(database, "council_tax")
    train(database)

    first = link_all(database, settings, on_terminal=False)
    placed = residents_by_reference(database)
    assert len(placed) == len(people)
    by_person: dict[str, set[str]] = defaultdict(set)
    for reference, resident in placed.items():
        by_person[reference.split("-")[0]].add(resident)
    # Copies 0 and 1 of each person agree on name, date of birth and postcode.
    for number in range(90):
        person = f"P{number:05d}"
        assert placed[f"{person}-0"] == placed[f"{person}-1"], person
    assert first.residents <= len(people)

    again = link_all(database, settings, on_terminal=False)
    assert residents_by_reference(database) == placed
    assert again.decision is None or not again.decision.changes.get("links")

    # A new row for person 7 arrives in the next extract: the linker places it as its
    # person-record.created event arrives, without a full run.
    newcomer = people[[r.source_record_id for r in people].index("P00007-0")]._replace(
        source_record_id="P00007-9", email=None, phone=None
    )
    write(extract, [row(record) for record in people] + [row(newcomer, "2025-02-01")])
    sync_source(database, "council_tax")
    linker = PeopleLinker(settings)
    try:
        while run_reader(database, linker, owner="test", lease_seconds=30, start_at=0):
            pass
    finally:
        linker.close()
    now = residents_by_reference(database)
    assert now["P00007-9"] == placed["P00007-0"]
    assert {k: v for k, v in now.items() if k != "P00007-9"} == placed

    # The linker's decision is undone like any other: the record leaves the resident.
    with database.read() as session:
        decision_id = session.scalar(
            select(ResidentLink.decision_id)
            .join(SourcePersonRecord, ResidentLink.source_record_id == SourcePersonRecord.id)
            .where(SourcePersonRecord.source_record_id == "P00007-9")
        )
    assert decision_id is not None
    assert decisions.get_decision(database, decision_id).kind == "link"
    undone = decisions.undo(database, decision_id, actor=system_actor(), reason="A test")
    assert undone.reverses_id == decision_id
    assert residents_by_reference(database).get("P00007-9") != placed["P00007-0"]
