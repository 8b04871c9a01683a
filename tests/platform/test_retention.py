"""Retention deletes what ended more than a day ago, and nothing that still works."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from townhall.app import create_app
from townhall.cli import app as cli
from townhall.platform.auth.sign_in_models import OneTimeCode, PortalSession, SignInAttempt
from townhall.platform.db import Base, Database
from townhall.platform.http.idempotency import IdempotencyRecord
from townhall.platform.retention import purge_expired
from townhall.settings import Settings

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=2)
RECENTLY = NOW - timedelta(hours=2)
LATER = NOW + timedelta(hours=2)


def _session(token: str, *, expires: datetime, revoked: datetime | None = None) -> PortalSession:
    return PortalSession(
        id=token.ljust(64, "0"),
        kind="staff",
        account_id="st_1",
        created_at=LONG_AGO - timedelta(days=1),
        last_seen_at=LONG_AGO,
        expires_at=expires,
        revoked_at=revoked,
        csrf_secret="s" * 64,
    )


def _code(token: str, *, expires: datetime, used: datetime | None = None) -> OneTimeCode:
    return OneTimeCode(
        id=token.ljust(64, "0"),
        email="someone@example.com",
        code_hash="h" * 64,
        created_at=expires - timedelta(minutes=10),
        expires_at=expires,
        attempts=0,
        used_at=used,
    )


def _attempt(when: datetime) -> SignInAttempt:
    return SignInAttempt(
        kind="staff", account_id=None, subject_key="k" * 64, outcome="failed", attempted_at=when
    )


def _key(key: str, *, expires: datetime) -> IdempotencyRecord:
    return IdempotencyRecord(
        principal="consumer:con_1",
        key=key,
        fingerprint="f" * 64,
        created_at=expires - timedelta(hours=24),
        expires_at=expires,
    )


def _arrange(database: Database) -> None:
    with database.write() as session:
        session.add_all(
            [
                _session("a", expires=LONG_AGO),  # ended long ago: goes
                _session("b", expires=LATER, revoked=LONG_AGO),  # signed out long ago: goes
                _session("c", expires=RECENTLY),  # ended today: kept for a day
                _session("d", expires=LATER),  # still working: kept
                _code("a", expires=LONG_AGO),
                _code("b", expires=LATER, used=LONG_AGO),
                _code("c", expires=LATER),
                _attempt(LONG_AGO),
                _attempt(RECENTLY),
                _key("old", expires=RECENTLY),  # an expired key is of no more use at all
                _key("live", expires=LATER),
            ]
        )


def _count(database: Database, model: type[Base]) -> int:
    with database.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_purge_deletes_only_what_ended_more_than_a_day_ago(database: Database) -> None:
    _arrange(database)
    counts = purge_expired(database, now=NOW)
    assert counts == {
        "platform_idempotency_keys": 1,
        "auth_sessions": 2,
        "auth_one_time_codes": 2,
        "auth_sign_in_attempts": 1,
        "event_delivery_attempts": 0,
        "event_deliveries": 0,
        "event_outbox": 0,
        "audit_records": 0,
    }
    assert _count(database, PortalSession) == 2
    assert _count(database, OneTimeCode) == 1
    assert _count(database, SignInAttempt) == 1
    assert _count(database, IdempotencyRecord) == 1
    assert purge_expired(database, now=NOW) == dict.fromkeys(counts, 0)


def test_townhall_db_purge_reports_what_it_deleted(database: Database, settings: Settings) -> None:
    with database.write() as session:
        session.add(_attempt(datetime.now(UTC) - timedelta(days=3)))
    result = CliRunner().invoke(
        cli, ["db", "purge"], env={"TOWNHALL_DATABASE_URL": settings.database_url}
    )
    assert result.exit_code == 0, result.output
    assert "auth_sign_in_attempts: 1 deleted" in result.output
    assert _count(database, SignInAttempt) == 0


def test_a_served_app_starts_and_stops_its_purging_cleanly(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/health/live").status_code == 200
