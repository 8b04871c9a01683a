"""The database: engine, units of work, and every difference between SQLite and PostgreSQL.

This module owns how Townhall talks to its store. Services open a unit of work with
``db.read()`` or ``db.write()``; nothing else creates sessions. It must not know any domain.

SQLite (the embedded default) runs in WAL mode with one writer: ``write()`` takes a
process-wide lock and starts the transaction with ``BEGIN IMMEDIATE``, so writers queue instead of
failing with "database is locked" half-way through, and readers never block. PostgreSQL
(psycopg 3, the ``postgres`` extra, imported only when a ``postgresql`` URL is used) runs every
unit of work in its own transaction at READ COMMITTED.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from townhall.errors import ServiceUnavailable, UnprocessableContent

# Named constraints make Alembic migrations identical on both dialects and reversible.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every table model. Each domain declares its tables in its own ``models.py``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def aware(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives back the naive UTC it was given)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# Key of the advisory lock that orders the transactions writing to an append-only log (the
# event outbox, the audit trail): "townhall" in ASCII, as a bigint, so no other application's
# lock is likely to collide with it. One key for both logs, so a transaction writing to both
# takes one lock and two such transactions can never wait on each other in a cycle.
COMMIT_ORDER_LOCK_KEY = 0x746F776E68616C6C


def order_commits(session: Session) -> None:
    """Make ``session``'s transaction commit in turn with every other one that calls this.

    On PostgreSQL it takes a transaction-level advisory lock, held until commit or rollback, so
    what such transactions append (positions in the outbox, links of the audit chain) follows the
    order they commit in. SQLite has one writer, which already does that. Taking it twice in one
    transaction is harmless.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": COMMIT_ORDER_LOCK_KEY}
        )


def normalise_url(url: str) -> URL:
    """Parse a database URL, choosing psycopg 3 for PostgreSQL and pysqlite for SQLite."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+pysqlite")
    return parsed


def _missing_driver_message(url: URL) -> str:
    return (
        f"The database URL uses {url.drivername!r} but its driver is not installed. "
        "Install Townhall with the PostgreSQL extra: pip install 'townhall[postgres]'."
    )


def build_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """Create an engine configured for Townhall's conventions on either dialect."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            parsed,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
        )
        _configure_sqlite(engine)
        _refuse_nul_characters(engine)
        return engine
    try:
        engine = create_engine(
            parsed,
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            # Statement parameters are personal data: keep them out of error messages and logs.
            hide_parameters=True,
        )
    except ModuleNotFoundError as exc:  # psycopg is an optional extra
        raise RuntimeError(_missing_driver_message(parsed)) from exc
    _refuse_nul_characters(engine)
    return engine


def _refuse_nul_characters(engine: Engine) -> None:
    """Refuse text holding U+0000 before it reaches the database, on both dialects.

    PostgreSQL cannot store it (the driver raises, which would surface as a 500) and SQLite
    would store what PostgreSQL could then not take: whatever input let it through, it is a
    422 here, with nothing written.
    """

    @event.listens_for(engine, "before_cursor_execute")
    def _check(
        _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        if _holds_nul(parameters):
            raise UnprocessableContent(
                "A text value contains the NUL character (U+0000), which cannot be stored."
            )


def _holds_nul(parameters: Any) -> bool:
    """Whether any text among ``parameters`` holds U+0000, however the driver nests them.

    Parameters come as one row (a tuple or a dict), as many rows (``executemany``), or as one
    flat tuple of every row's values (SQLAlchemy's "insertmanyvalues" batches), so this walks
    whatever it is given rather than assuming a shape.
    """
    pending = [parameters]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list | tuple):
            pending.extend(value)
    return False


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, and transactions that Townhall begins itself (DEFERRED or IMMEDIATE)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself, instead of pysqlite's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One database: the engine, and the only way to open a unit of work on it."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.engine = build_engine(url, pool_size=pool_size, echo=echo)
        self.dialect = self.engine.dialect.name
        self.is_sqlite = self.dialect == "sqlite"
        self._write_lock = threading.Lock()
        self._writing = threading.local()
        # On PostgreSQL a read unit is a READ ONLY transaction (psycopg starts it with
        # BEGIN READ ONLY: no extra round trip), so it can end with COMMIT (see ``read``).
        read_engine = (
            self.engine
            if self.is_sqlite
            else self.engine.execution_options(postgresql_readonly=True)
        )
        self._readers = sessionmaker(read_engine, expire_on_commit=False, autoflush=False)
        write_engine = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.is_sqlite
            else self.engine
        )
        self._writers = sessionmaker(write_engine, expire_on_commit=False, autoflush=True)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A unit of work that only reads: nothing it does is ever kept.

        On SQLite it is rolled back at the end, whatever happens. On PostgreSQL the database
        itself refuses any write in it (a READ ONLY transaction), and a unit that ends well
        ends with COMMIT, not ROLLBACK: psycopg forgets every prepared statement of a
        connection on ROLLBACK, so rolling back every read kept each query from ever being
        prepared and PostgreSQL planned it afresh every time (ADR 20).
        """
        with self._readers() as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise
            if self.is_sqlite:
                session.rollback()
            else:
                session.commit()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work that writes: committed when the block ends, rolled back on any error."""
        if getattr(self._writing, "active", False):
            # A second writer in the same thread would wait for the first forever on SQLite.
            msg = "a write unit of work is already open in this thread: pass its session down"
            raise RuntimeError(msg)
        lock = self._write_lock if self.is_sqlite else None
        if lock is not None:
            lock.acquire()
        self._writing.active = True
        try:
            with self._writers() as session, session.begin():
                yield session
        finally:
            self._writing.active = False
            if lock is not None:
                lock.release()

    def ping(self) -> float:
        """Round-trip a trivial query; return its latency in seconds or raise ServiceUnavailable."""
        started = time.perf_counter()
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            raise ServiceUnavailable("The database did not answer.") from exc
        return time.perf_counter() - started

    def dispose(self) -> None:
        """Close every pooled connection (at shutdown, and between tests)."""
        self.engine.dispose()
