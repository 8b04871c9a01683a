"""Writing data uses into the chain: in the caller's unit of work, linked, in commit order."""

from __future__ import annotations

import itertools
import threading
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from townhall.platform.audit.chain import GENESIS_HASH, record_hash
from townhall.platform.audit.models import AuditRecord
from townhall.platform.audit.recorder import UseRecorder
from townhall.platform.audit.uses import Actor, DataUse, record_uses
from townhall.platform.audit.vocabulary import ACCOUNT, ACCOUNT_DETAILS, Action, ActorKind
from townhall.platform.db import Database


def use(resident_id: str = "r1", **details: object) -> DataUse:
    return DataUse(
        actor=Actor(kind=ActorKind.CONSUMER, purpose="Checking permits", consumer_id="c1"),
        action=Action.VIEWED,
        service=ACCOUNT,
        data_kind=ACCOUNT_DETAILS,
        resident_id=resident_id,
        details=details,
    )


def records(database: Database) -> list[SimpleNamespace]:
    """Every record, as plain values (a read unit expires what it loaded when it ends)."""
    with database.read() as session:
        rows = session.execute(select(AuditRecord.__table__).order_by(AuditRecord.position))
        return [SimpleNamespace(**row._asdict()) for row in rows]


def fields(record: SimpleNamespace) -> dict[str, object]:
    return vars(record)


def test_uses_are_linked_from_the_genesis_in_order(database: Database) -> None:
    with database.write() as session:
        assert record_uses(session, [use("a"), use("b")]) == [1, 2]
    with database.write() as session:
        assert record_uses(session, [use("c")]) == [3]
    found = records(database)
    assert [record.resident_id for record in found] == ["a", "b", "c"]
    assert found[0].previous_hash == GENESIS_HASH
    for before, after in itertools.pairwise(found):
        assert after.previous_hash == before.hash
    for record in found:
        assert record_hash(fields(record)) == record.hash


def test_a_rolled_back_change_records_no_use(database: Database) -> None:
    def change_then_fail() -> None:
        with database.write() as session:
            record_uses(session, [use()])
            raise RuntimeError

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert records(database) == []


def test_details_never_hold_personal_data(database: Database) -> None:
    with pytest.raises(ValueError, match="email"), database.write() as session:
        record_uses(session, [use(email="someone@example.com")])


def test_the_recorder_commits_every_use_once_from_many_threads(database: Database) -> None:
    recorder = UseRecorder(database)
    errors: list[BaseException] = []

    def reader(n: int) -> None:
        try:
            for i in range(25):
                recorder.record_now([use(f"{n}-{i}")])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    assert errors == []
    found = records(database)
    assert len(found) == 200
    expected = {f"{n}-{i}" for n in range(8) for i in range(25)}
    assert {record.resident_id for record in found} == expected
    assert [record.position for record in found] == list(range(1, 201))
    # Group commit: fewer units of work than uses.
    assert recorder.batches < 200


def test_a_closed_recorder_refuses_rather_than_drops(database: Database) -> None:
    from townhall.errors import DataUseNotRecorded

    recorder = UseRecorder(database)
    recorder.close()
    with pytest.raises(DataUseNotRecorded):
        recorder.record_now([use()])
