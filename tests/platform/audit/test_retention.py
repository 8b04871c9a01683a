"""Retention of the audit trail: purged by age up to a checkpoint, still verifiable after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.platform.audit.chain_helpers import append, stored, tamper
from townhall.platform.audit import retention as audit_retention
from townhall.platform.audit.checkpoints import sign_checkpoint
from townhall.platform.audit.models import AuditCheckpoint, AuditRecord
from townhall.platform.audit.retention import purge_audit
from townhall.platform.audit.verify import ProblemKind, verify_chain
from townhall.platform.db import Database
from townhall.platform.retention import purge_expired
from townhall.settings import Settings

NOW = datetime.now(UTC)
LONG_AGO = NOW - timedelta(days=400)
PERIOD = timedelta(days=365)


def positions(database: Database) -> tuple[int | None, int | None, int]:
    with database.read() as session:
        first, last, count = session.execute(
            select(func.min(AuditRecord.position), func.max(AuditRecord.position), func.count())
        ).one()
    return first, last, count


def signed(database: Database, settings: Settings) -> int:
    checkpoint = sign_checkpoint(database, settings)
    assert checkpoint is not None
    return checkpoint.position


def test_old_records_are_purged_to_a_checkpoint_and_the_rest_still_verify(
    database: Database, settings: Settings
) -> None:
    append(database, 100, occurred_at=LONG_AGO)
    signed(database, settings)
    append(database, 50, occurred_at=NOW)
    signed(database, settings)

    assert purge_audit(database, older_than=NOW - PERIOD) == 100

    assert positions(database) == (101, 150, 50)
    report = verify_chain(database, settings)
    assert report.intact, report.problems
    assert (report.purged_to, report.first_position, report.checkpoints_checked) == (100, 101, 2)
    # Checkpoints are kept.
    with database.read() as session:
        assert session.scalars(select(AuditCheckpoint.position)).all() == [100, 150]
    assert purge_audit(database, older_than=NOW - PERIOD) == 0


def test_never_past_the_newest_checkpoint_of_old_records(
    database: Database, settings: Settings
) -> None:
    append(database, 60, occurred_at=LONG_AGO)
    signed(database, settings)
    append(database, 40, occurred_at=LONG_AGO)  # old enough, but after the checkpoint

    assert purge_audit(database, older_than=NOW - PERIOD) == 60

    assert positions(database) == (61, 100, 40)
    assert verify_chain(database, settings).intact


def test_never_a_record_younger_than_the_period(database: Database, settings: Settings) -> None:
    append(database, 50, occurred_at=LONG_AGO)
    append(database, 50, occurred_at=NOW)
    # The only checkpoint covers young records too: nothing before it may go.
    signed(database, settings)

    assert purge_audit(database, older_than=NOW - PERIOD) == 0
    assert positions(database) == (1, 100, 100)


def test_a_tamper_after_a_purge_is_still_caught(database: Database, settings: Settings) -> None:
    append(database, 100, occurred_at=LONG_AGO)
    signed(database, settings)
    append(database, 50, occurred_at=NOW)
    purge_audit(database, older_than=NOW - PERIOD)

    tamper(database, "UPDATE audit_records SET purpose = 'Nothing' WHERE position = 120")
    assert [(p.position, p.kind) for p in verify_chain(database, settings).problems] == [
        (120, ProblemKind.EDITED)
    ]
    # Deleting the oldest kept records looks like no purge: there is no checkpoint at 102.
    tamper(database, "DELETE FROM audit_records WHERE position <= 102")
    problems = verify_chain(database, settings).problems
    assert (problems[0].position, problems[0].kind) == (101, ProblemKind.MISSING)


def test_once_every_record_is_purged_the_chain_goes_on_from_the_checkpoint(
    database: Database, settings: Settings
) -> None:
    append(database, 30, occurred_at=LONG_AGO)
    last_hash = stored(database, 30)["hash"]
    signed(database, settings)

    assert purge_audit(database, older_than=NOW - PERIOD) == 30
    assert positions(database) == (None, None, 0)
    report = verify_chain(database, settings)
    assert report.intact
    assert report.purged_to == 30

    append(database, 5)

    assert stored(database, 31)["previous_hash"] == last_hash
    assert verify_chain(database, settings).intact


def test_many_records_are_purged_in_batches(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_retention, "PURGE_BATCH", 7)
    append(database, 30, occurred_at=LONG_AGO)
    signed(database, settings)
    append(database, 1, occurred_at=NOW)

    assert purge_audit(database, older_than=NOW - PERIOD) == 30
    assert positions(database) == (31, 31, 1)


def test_the_platform_purge_includes_the_audit_trail(
    database: Database, settings: Settings
) -> None:
    append(database, 10, occurred_at=LONG_AGO)
    signed(database, settings)

    counts = purge_expired(database, now=NOW, audit_kept_for=PERIOD)

    assert counts[AuditRecord.__tablename__] == 10
    assert positions(database) == (None, None, 0)
