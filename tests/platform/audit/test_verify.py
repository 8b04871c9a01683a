"""Tampering with the audit chain through SQL, every way a DBA could, and seeing it caught.

Each test changes the real database directly (the threat is someone with access to it, not to
Townhall) and checks that verification names the kind of change and where it is.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from sqlalchemy import insert, select, text

from tests.platform.audit.chain_helpers import append, stored, tamper
from townhall.platform.audit import verify as verify_module
from townhall.platform.audit.chain import record_hash
from townhall.platform.audit.checkpoints import checkpoint_key, sign_checkpoint
from townhall.platform.audit.models import AuditCheckpoint, AuditRecord
from townhall.platform.audit.retention import purge_audit
from townhall.platform.audit.verify import ProblemKind, VerificationReport, verify_chain
from townhall.platform.db import Database
from townhall.settings import Settings


def found(report: VerificationReport) -> list[tuple[int, ProblemKind]]:
    return [(problem.position, problem.kind) for problem in report.problems]


def chain_with_checkpoint(
    database: Database, settings: Settings, signed: int, after: int = 0
) -> None:
    """``signed`` records under a checkpoint at ``signed``, then ``after`` more unsigned."""
    append(database, signed)
    assert sign_checkpoint(database, settings) is not None
    append(database, after)


def test_an_intact_chain_of_thousands_of_records_passes(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small pages, so records and checkpoints are read across many of them.
    monkeypatch.setattr(verify_module, "PAGE_SIZE", 256)
    for _ in range(3):
        chain_with_checkpoint(database, settings, 1000)
    append(database, 123)

    report = verify_chain(database, settings)

    assert report.intact, report.problems
    assert report.records_checked == 3123
    assert report.checkpoints_checked == 3
    assert (report.first_position, report.last_position, report.purged_to) == (1, 3123, 0)
    assert report.newest_checkpoint is not None
    assert report.newest_checkpoint.position == 3000
    assert report.records_after_newest_checkpoint == 123


def test_an_empty_chain_is_intact(database: Database, settings: Settings) -> None:
    report = verify_chain(database, settings)
    assert report.intact
    assert report.records_checked == report.checkpoints_checked == 0


def test_an_edited_field_is_caught_at_its_record(database: Database, settings: Settings) -> None:
    chain_with_checkpoint(database, settings, 100, after=20)
    tamper(database, "UPDATE audit_records SET purpose = 'Nothing to see' WHERE position = 40")

    report = verify_chain(database, settings)

    assert found(report) == [(40, ProblemKind.EDITED)]
    assert report.problems_found == 1


def test_an_edited_record_after_the_newest_checkpoint_is_caught(
    database: Database, settings: Settings
) -> None:
    chain_with_checkpoint(database, settings, 10, after=10)
    tamper(database, "UPDATE audit_records SET resident_id = 'someone-else' WHERE position = 15")
    assert found(verify_chain(database, settings)) == [(15, ProblemKind.EDITED)]


def test_a_record_deleted_in_the_middle_is_caught(database: Database, settings: Settings) -> None:
    chain_with_checkpoint(database, settings, 100, after=20)
    tamper(database, "DELETE FROM audit_records WHERE position = 50")
    assert found(verify_chain(database, settings)) == [(50, ProblemKind.MISSING)]


def test_the_last_records_before_a_checkpoint_deleted_are_caught(
    database: Database, settings: Settings
) -> None:
    chain_with_checkpoint(database, settings, 100)
    tamper(database, "DELETE FROM audit_records WHERE position >= 97")

    report = verify_chain(database, settings)

    assert found(report) == [(97, ProblemKind.MISSING)]
    assert "records 97 to 100 are missing" in report.problems[0].detail


def test_records_deleted_just_before_a_checkpoint_with_more_after_are_caught(
    database: Database, settings: Settings
) -> None:
    chain_with_checkpoint(database, settings, 100, after=30)
    tamper(database, "DELETE FROM audit_records WHERE position BETWEEN 95 AND 100")
    assert found(verify_chain(database, settings)) == [(95, ProblemKind.MISSING)]


def test_a_deleted_record_with_the_later_ones_renumbered_is_caught(
    database: Database, settings: Settings
) -> None:
    chain_with_checkpoint(database, settings, 100, after=20)
    tamper(
        database,
        "DELETE FROM audit_records WHERE position = 50",
        # Two steps, so no position is held twice mid-statement (PostgreSQL checks each row).
        "UPDATE audit_records SET position = -(position - 1) WHERE position > 50",
        "UPDATE audit_records SET position = -position WHERE position < 0",
    )
    assert found(verify_chain(database, settings))[0] == (50, ProblemKind.MISSING)


def test_the_oldest_records_deleted_without_a_checkpoint_are_caught(
    database: Database, settings: Settings
) -> None:
    chain_with_checkpoint(database, settings, 100)
    tamper(database, "DELETE FROM audit_records WHERE position <= 10")
    assert found(verify_chain(database, settings)) == [(1, ProblemKind.MISSING)]


def test_a_forged_record_inserted_with_the_rest_shifted_is_caught(
    database: Database, settings: Settings
) -> None:
    chain_with_checkpoint(database, settings, 100, after=20)
    forged = stored(database, 50) | {"id": "forged", "purpose": "Made up", "position": 50}
    forged["previous_hash"] = stored(database, 49)["hash"]
    forged["hash"] = record_hash(forged)  # the forger knows the algorithm
    tamper(
        database,
        "UPDATE audit_records SET position = -(position + 1) WHERE position >= 50",
        "UPDATE audit_records SET position = -position WHERE position < 0",
    )
    with database.write() as session:
        session.execute(insert(AuditRecord), [forged])

    report = verify_chain(database, settings)

    assert found(report) == [(50, ProblemKind.INSERTED)]
    assert report.records_checked == 121


@pytest.mark.parametrize(("first", "second"), [(30, 70), (30, 31)])
def test_two_records_swapped_are_caught_as_reordered(
    database: Database, settings: Settings, first: int, second: int
) -> None:
    chain_with_checkpoint(database, settings, 100, after=20)
    tamper(
        database,
        "UPDATE audit_records SET position = -1 WHERE position = :first",
        "UPDATE audit_records SET position = :first WHERE position = :second",
        "UPDATE audit_records SET position = :second WHERE position = -1",
        first=first,
        second=second,
    )

    report = verify_chain(database, settings)

    assert found(report) == [(first, ProblemKind.REORDERED)]
    assert f"belongs at position {second}" in report.problems[0].detail


def rewrite_from(database: Database, position: int, purpose: str) -> None:
    """Change one record and recompute every hash after it, as a DBA who knows the algorithm."""
    with database.read() as session:
        rows = [
            dict(row._mapping)
            for row in session.execute(
                select(AuditRecord.__table__)
                .where(AuditRecord.position >= position)
                .order_by(AuditRecord.position)
            )
        ]
    previous = stored(database, position - 1)["hash"]
    updates: list[dict[str, Any]] = []
    for row in rows:
        if row["position"] == position:
            row["purpose"] = purpose
        row["previous_hash"] = previous
        row["hash"] = previous = record_hash(row)
        updates.append(row)
    with database.write() as session:
        session.execute(
            text(
                "UPDATE audit_records SET purpose = :purpose, previous_hash = :previous_hash, "
                "hash = :hash WHERE position = :position"
            ),
            [
                {name: row[name] for name in ("purpose", "previous_hash", "hash", "position")}
                for row in updates
            ],
        )


def test_a_rewritten_chain_is_caught_by_the_signed_checkpoint(
    database: Database, settings: Settings
) -> None:
    chain_with_checkpoint(database, settings, 50)
    chain_with_checkpoint(database, settings, 50, after=20)
    rewrite_from(database, 70, "Nothing to see")

    report = verify_chain(database, settings)

    # Every record and link is consistent again: only the checkpoint at 100 knows.
    assert found(report) == [(100, ProblemKind.CHECKPOINT_MISMATCH)]
    assert "from 51 to 100" in report.problems[0].detail


def test_a_checkpoint_rewritten_to_match_a_rewritten_chain_is_caught(
    database: Database, settings: Settings
) -> None:
    chain_with_checkpoint(database, settings, 100, after=20)
    rewrite_from(database, 70, "Nothing to see")
    tamper(
        database,
        "UPDATE audit_checkpoints SET hash = :hash WHERE position = 100",
        hash=stored(database, 100)["hash"],
    )
    assert found(verify_chain(database, settings)) == [(100, ProblemKind.BAD_SIGNATURE)]


def test_a_forged_checkpoint_row_is_caught(database: Database, settings: Settings) -> None:
    chain_with_checkpoint(database, settings, 100, after=20)
    # A real signature and key id, copied from the genuine checkpoint to a new position.
    with database.read() as session:
        row = session.execute(select(AuditCheckpoint.__table__)).one()
        genuine = {"key_id": row.key_id, "signature": row.signature, "created_at": row.created_at}
    with database.write() as session:
        session.execute(
            insert(AuditCheckpoint),
            [{**genuine, "position": 120, "hash": stored(database, 120)["hash"]}],
        )

    report = verify_chain(database, settings)

    assert found(report) == [(120, ProblemKind.BAD_SIGNATURE)]
    assert "does not verify" in report.problems[0].detail


def test_a_checkpoint_signed_by_another_key_is_caught(
    database: Database, settings: Settings
) -> None:
    intruder = settings.model_copy(update={"secret_key": SecretStr("the intruder's own key")})
    chain_with_checkpoint(database, settings, 50)
    chain_with_checkpoint(database, intruder, 50)

    report = verify_chain(database, settings)

    assert found(report) == [(100, ProblemKind.BAD_SIGNATURE)]
    assert "neither this instance's nor a trusted one" in report.problems[0].detail


def test_checkpoints_signed_before_a_secret_rotation_verify_with_the_old_public_key(
    database: Database, settings: Settings
) -> None:
    before = settings.model_copy(update={"secret_key": SecretStr("the secret before")})
    after = settings.model_copy(update={"secret_key": SecretStr("the secret after")})
    chain_with_checkpoint(database, before, 50)
    chain_with_checkpoint(database, after, 50)

    assert found(verify_chain(database, after)) == [(50, ProblemKind.BAD_SIGNATURE)]
    old_key = checkpoint_key(database, before).public_key()
    assert verify_chain(database, after, [old_key]).intact
    stranger = Ed25519PrivateKey.generate().public_key()
    assert not verify_chain(database, after, [stranger]).intact


def test_many_problems_are_counted_but_only_the_first_listed(
    database: Database, settings: Settings
) -> None:
    append(database, 200)
    tamper(database, "UPDATE audit_records SET purpose = 'Rewritten' WHERE position > 100")

    report = verify_chain(database, settings)

    assert report.problems_found == 100
    assert len(report.problems) == verify_module.SHOWN_PROBLEMS
    assert report.problems[0].position == 101


def test_a_chain_growing_while_it_is_verified_passes(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_module, "PAGE_SIZE", 50)
    append(database, 500)
    growing = threading.Event()
    errors: list[BaseException] = []

    def grow() -> None:
        try:
            while not growing.is_set():
                append(database, 7)
                sign_checkpoint(database, settings)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    writer = threading.Thread(target=grow)
    writer.start()
    try:
        report = verify_chain(database, settings)
    finally:
        growing.set()
        writer.join()

    assert errors == []
    assert report.intact, report.problems
    assert report.records_checked >= 500


class GrowsAtTheEnd:
    """A progress reporter that, when the last page has been walked, adds and signs records."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database, self.settings = database, settings
        self.total = self.done = 0

    def phase(self, name: str, total: int) -> None:
        self.total = total

    def advance(self, rows: int) -> None:
        self.done += rows
        if self.done == self.total:
            append(self.database, 5)
            assert sign_checkpoint(self.database, self.settings) is not None


def test_what_is_added_after_the_walk_began_is_left_for_the_next_run(
    database: Database, settings: Settings
) -> None:
    chain_with_checkpoint(database, settings, 100, after=10)

    report = verify_chain(database, settings, on_progress=GrowsAtTheEnd(database, settings))

    assert report.intact, report.problems
    assert (report.records_checked, report.checkpoints_checked) == (110, 1)
    assert verify_chain(database, settings).checkpoints_checked == 2


class PurgesAfterTheFirstPage(GrowsAtTheEnd):
    """A progress reporter that runs retention once the walk has begun."""

    def advance(self, rows: int) -> None:
        if not self.done:
            purge_audit(self.database, older_than=datetime.now(UTC))
        self.done += rows


def test_a_purge_while_the_walk_runs_is_not_taken_for_missing_records(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_module, "PAGE_SIZE", 30)
    chain_with_checkpoint(database, settings, 100)
    append(database, 20, occurred_at=datetime.now(UTC) + timedelta(days=1))

    purging = PurgesAfterTheFirstPage(database, settings)

    report = verify_chain(database, settings, on_progress=purging)

    assert report.intact, report.problems
    assert (report.first_position, report.purged_to) == (101, 100)
