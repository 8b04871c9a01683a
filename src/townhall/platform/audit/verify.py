"""Verifying the audit chain: every record's hash, every link, every signed checkpoint.

This module owns ``verify_chain``, which ``townhall audit verify`` runs. It walks the records in
position order a page at a time (so memory stays bounded for millions of them) and checks that
each record's hash matches its fields, that it links to the one before, that positions run on
with no gap from the checkpoint the chain was purged to (or the genesis), and that every
checkpoint's signature verifies and its hash is the one recomputed at its position.

A problem is named by its kind and the position where it shows. Only what is needed to tell the
kinds apart is looked up: a record whose hash fits another position was moved there (records
inserted before it, or removed before it and the rest renumbered, or swapped with another), and
one that fits no position was edited. It never writes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import FromClause, func, select
from sqlalchemy.orm import InstrumentedAttribute

from townhall.platform.audit.chain import GENESIS_HASH, record_hash
from townhall.platform.audit.checkpoints import (
    Checkpoint,
    checkpoint_key,
    key_id,
    signature_verifies,
)
from townhall.platform.audit.models import AuditCheckpoint, AuditRecord
from townhall.platform.db import Database, aware
from townhall.platform.progress import BuildProgress
from townhall.settings import Settings

# Records read per read unit: large enough that round trips do not dominate, small enough that
# a page of them is a few megabytes.
PAGE_SIZE = 5000
# Problems listed in a report; the count covers them all. Past it, moved records are no longer
# looked for (each costs a query), so a wholly rewritten chain is still walked quickly.
SHOWN_PROBLEMS = 20
# How far either side of its place a moved record is looked for, beyond the place its link names.
_SEARCH_WINDOW = 8


class ProblemKind(StrEnum):
    """What was done to the chain, as far as the records show it."""

    EDITED = "edited"
    MISSING = "missing"
    INSERTED = "inserted"
    REORDERED = "reordered"
    BAD_SIGNATURE = "bad checkpoint signature"
    CHECKPOINT_MISMATCH = "checkpoint mismatch"


@dataclass(frozen=True)
class Problem:
    """One break in the chain, at the position where it shows."""

    position: int
    kind: ProblemKind
    detail: str


@dataclass(frozen=True)
class VerificationReport:
    """What ``verify_chain`` checked and what it found."""

    records_checked: int
    checkpoints_checked: int
    # The first problems found, in the order of the chain, and how many there were in all.
    problems: tuple[Problem, ...]
    problems_found: int
    first_position: int | None
    last_position: int | None
    # The checkpoint the oldest records were purged to (0: never purged).
    purged_to: int
    newest_checkpoint: Checkpoint | None
    # Records after the newest checkpoint: the chain alone covers them (ADR 27).
    records_after_newest_checkpoint: int

    @property
    def intact(self) -> bool:
        """Whether nothing was found wrong."""
        return self.problems_found == 0


def verify_chain(
    database: Database,
    settings: Settings,
    trusted_keys: Sequence[Ed25519PublicKey] = (),
    *,
    on_progress: BuildProgress | None = None,
) -> VerificationReport:
    """Check the whole chain and its checkpoints; never raises for what it finds.

    What is checked is the chain as it stood when the walk began: records and checkpoints
    added while it runs are left for the next run.
    """
    own = checkpoint_key(database, settings).public_key()
    keys = {key_id(key): key for key in (own, *trusted_keys)}
    with database.read() as session:
        # Checkpoints first: every checkpoint read is then over records the next query sees
        # (unless they were deleted), however many are appended in between.
        signed_to = session.scalar(select(func.max(AuditCheckpoint.position)))
        total, head = session.execute(select(func.count(), func.max(AuditRecord.position))).one()
    walk = _Walk(database, keys, _Checkpoints(database, signed_to))
    if on_progress is not None:
        on_progress.phase("Verifying the audit chain", int(total))
    for page in _pages(database, AuditRecord.__table__, AuditRecord.position, head):
        for row in page:
            walk.record(row)
        if on_progress is not None:
            on_progress.advance(len(page))
    return walk.finish()


def _pages(
    database: Database,
    table: FromClause,
    position: InstrumentedAttribute[int],
    through: int | None,
) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``table`` up to position ``through``, in position order, a page per read."""
    if through is None:
        return
    after: int | None = None
    while True:
        query = select(table).where(position <= through).order_by(position).limit(PAGE_SIZE)
        if after is not None:
            query = query.where(position > after)
        with database.read() as session:
            # On the session's connection: plain rows, without the ORM's loading (a third of
            # the time of a walk).
            result = session.connection().execute(query)
            names = list(result.keys())
            rows = [dict(zip(names, row, strict=True)) for row in result]
        if not rows:
            return
        yield rows
        after = int(rows[-1]["position"])


class _Checkpoints:
    """The checkpoints in position order, read a page at a time as the walk reaches them."""

    def __init__(self, database: Database, through: int | None) -> None:
        self._pages = _pages(database, AuditCheckpoint.__table__, AuditCheckpoint.position, through)
        self._waiting: deque[dict[str, Any]] = deque()

    def through(self, position: int | None) -> Iterator[Checkpoint]:
        """The checkpoints not yet taken up to ``position`` (all of them for ``None``)."""
        while True:
            if not self._waiting:
                page = next(self._pages, None)
                if page is None:
                    return
                self._waiting.extend(page)
            if position is not None and self._waiting[0]["position"] > position:
                return
            row = self._waiting.popleft()
            yield Checkpoint(
                position=int(row["position"]),
                hash=row["hash"],
                created_at=aware(row["created_at"]),
                key_id=row["key_id"],
                signature=row["signature"],
            )


@dataclass
class _Walk:
    """The state of one walk along the chain."""

    database: Database
    keys: dict[str, Ed25519PublicKey]
    checkpoints: _Checkpoints
    problems: list[Problem] = field(default_factory=list)
    problems_found: int = 0
    records_checked: int = 0
    checkpoints_checked: int = 0
    first_position: int | None = None
    last_position: int | None = None
    purged_to: int = 0
    newest_checkpoint: Checkpoint | None = None
    # The stored hash the next record must link to (None: not checkable, after a gap).
    previous_hash: str | None = None
    # Whether the record before is out of place (so the next one's broken link is not news).
    previous_out_of_place: bool = False
    # How far the records being walked have been moved from the positions they were hashed at.
    offset: int = 0
    # Positions whose record was found earlier in the chain (one side of a reported swap).
    moved_away: set[int] = field(default_factory=set)
    last_problem_at: int = -1
    last_checkpoint_at: int = -1
    _looked_up: tuple[str, int | None] | None = None

    def record(self, row: dict[str, Any]) -> None:
        """Check the next record of the walk."""
        position = int(row["position"])
        if self.first_position is None:
            self._start(position)
        elif position != self.expected:
            passed = self._checkpoints_through(position - 1, recomputed=None)
            purged_to = self._purged_meanwhile(position, passed)
            if purged_to is not None:
                # Retention ran while the walk did: the chain now starts here, from the
                # checkpoint it was purged to, as if the walk had begun after the purge.
                self.first_position, self.purged_to = position, purged_to.position
                self.previous_hash = purged_to.hash
            else:
                self._flag(
                    self.expected, ProblemKind.MISSING, _missing(self.expected, position - 1)
                )
                self.previous_hash = None
        recomputed = record_hash(row)
        self.previous_out_of_place = self._judge(row, position, recomputed)
        self._checkpoints_through(position, recomputed=recomputed)
        self.previous_hash = row["hash"]
        self.last_position = position
        self.records_checked += 1

    @property
    def expected(self) -> int:
        return (self.last_position or 0) + 1

    def finish(self) -> VerificationReport:
        """The report, once every record has been walked."""
        signed_beyond = list(self.checkpoints.through(None))
        for checkpoint in signed_beyond:
            self._check_signature(checkpoint)
        if self.first_position is None:
            # No records: every one was purged up to the newest checkpoint (or none was written).
            self.purged_to = signed_beyond[-1].position if signed_beyond else 0
        elif signed_beyond:
            end = signed_beyond[-1].position
            self._flag(self.expected, ProblemKind.MISSING, _missing(self.expected, end))
        newest = self.newest_checkpoint
        last = self.last_position or 0
        return VerificationReport(
            records_checked=self.records_checked,
            checkpoints_checked=self.checkpoints_checked,
            problems=tuple(self.problems),
            problems_found=self.problems_found,
            first_position=self.first_position,
            last_position=self.last_position,
            purged_to=self.purged_to,
            newest_checkpoint=newest,
            records_after_newest_checkpoint=(
                self.records_checked if newest is None else max(0, last - newest.position)
            ),
        )

    def _start(self, position: int) -> None:
        """Find what the first record links to: the genesis, or the checkpoint purged to."""
        self.first_position = position
        purged: Checkpoint | None = None
        for checkpoint in self.checkpoints.through(position - 1):
            self._check_signature(checkpoint)
            purged = checkpoint
            self.last_checkpoint_at = checkpoint.position
        if position == 1:
            self.previous_hash = GENESIS_HASH
        elif purged is not None and purged.position == position - 1:
            self.previous_hash = purged.hash
            self.purged_to = purged.position
        else:
            start = purged.position + 1 if purged is not None else 1
            self._flag(
                start,
                ProblemKind.MISSING,
                _missing(start, position - 1) + f" (no checkpoint at {position - 1} to purge to)",
            )
            self.previous_hash = None

    def _judge(self, row: dict[str, Any], position: int, recomputed: str) -> bool:
        """Flag what is wrong with the record at ``position``; whether it is out of place."""
        hashed_at = self._hashed_at(row, position, recomputed)
        if hashed_at is None:
            self._flag(
                position,
                ProblemKind.EDITED,
                f"record {position} was changed: its hash does not match its fields",
            )
            return True
        if hashed_at not in (position, position - self.offset):
            return self._moved(row, position, hashed_at)
        self.offset = position - hashed_at
        if self.previous_hash is None or row["previous_hash"] == self.previous_hash:
            return False
        if not self.previous_out_of_place:
            changed = position - 1 if position - 1 >= (self.first_position or 1) else position
            self._flag(
                changed,
                ProblemKind.EDITED,
                f"record {position} does not link to the record before it: record {changed} "
                "was changed and its hash recomputed",
            )
        return True

    def _moved(self, row: dict[str, Any], position: int, hashed_at: int) -> bool:
        """Flag a record found at ``position`` that was hashed at ``hashed_at``."""
        self.offset = position - hashed_at
        if hashed_at > position:
            if self._position_of(row["previous_hash"]) is not None:
                self.moved_away.add(hashed_at)
                self._flag(
                    position,
                    ProblemKind.REORDERED,
                    f"record {position} belongs at position {hashed_at}",
                )
            else:
                self._flag(
                    position,
                    ProblemKind.MISSING,
                    f"{hashed_at - position} record(s) from {position} were removed and the "
                    "later ones renumbered",
                )
        elif position not in self.moved_away:
            self._flag(
                hashed_at,
                ProblemKind.INSERTED,
                f"{position - hashed_at} record(s) were inserted at {hashed_at}: "
                f"record {position} was at {hashed_at}",
            )
        return True

    def _hashed_at(self, row: dict[str, Any], position: int, recomputed: str) -> int | None:
        """The position the record's stored hash was computed at, if any near or linked."""
        stored = str(row["hash"])
        if recomputed == stored:
            return position

        def fits(candidate: int) -> bool:
            return record_hash({**row, "position": candidate}) == stored

        if self.offset and fits(position - self.offset):
            return position - self.offset
        if self.problems_found >= SHOWN_PROBLEMS:
            return None
        linked = self._position_of(row["previous_hash"])
        candidates = [] if linked is None else [linked + 1]
        candidates += range(position - _SEARCH_WINDOW, position + _SEARCH_WINDOW + 1)
        return next((c for c in candidates if c != position and fits(c)), None)

    def _position_of(self, chain_hash: str) -> int | None:
        """Where a record (or checkpoint) with this hash is now, if anywhere."""
        if chain_hash == GENESIS_HASH:
            return 0
        if self._looked_up is not None and self._looked_up[0] == chain_hash:
            return self._looked_up[1]
        with self.database.read() as session:
            found = session.scalar(
                select(AuditRecord.position).where(AuditRecord.hash == chain_hash).limit(1)
            )
            if found is None:
                found = session.scalar(
                    select(AuditCheckpoint.position)
                    .where(AuditCheckpoint.hash == chain_hash)
                    .limit(1)
                )
        self._looked_up = (chain_hash, found)
        return found

    def _purged_meanwhile(self, position: int, passed: Checkpoint | None) -> Checkpoint | None:
        """``passed``, if the records before ``position`` were purged to it during the walk."""
        if passed is None or passed.position != position - 1:
            return None
        with self.database.read() as session:
            oldest = session.scalar(select(func.min(AuditRecord.position)))
        return passed if oldest == position else None

    def _checkpoints_through(self, position: int, *, recomputed: str | None) -> Checkpoint | None:
        """Check the checkpoints up to ``position``; the one at it against ``recomputed``.

        Returns the last one taken, if any.
        """
        checkpoint: Checkpoint | None = None
        for checkpoint in self.checkpoints.through(position):
            self._check_signature(checkpoint)
            # A problem since the checkpoint before already explains a mismatch here.
            if (
                checkpoint.position == position
                and recomputed is not None
                and checkpoint.hash != recomputed
                and self.last_problem_at <= self.last_checkpoint_at
            ):
                self._flag(
                    position,
                    ProblemKind.CHECKPOINT_MISMATCH,
                    f"the chain up to {position} is not the one signed at "
                    f"{checkpoint.created_at:%Y-%m-%d %H:%M:%SZ}: a record from "
                    f"{max(self.last_checkpoint_at, 0) + 1} to {position} was rewritten and "
                    "every later hash recomputed",
                )
            self.last_checkpoint_at = checkpoint.position
        return checkpoint

    def _check_signature(self, checkpoint: Checkpoint) -> None:
        self.checkpoints_checked += 1
        self.newest_checkpoint = checkpoint
        key = self.keys.get(checkpoint.key_id)
        if key is None:
            self._flag(
                checkpoint.position,
                ProblemKind.BAD_SIGNATURE,
                f"checkpoint {checkpoint.position} was signed by key {checkpoint.key_id}, which "
                "is neither this instance's nor a trusted one",
            )
        elif not signature_verifies(checkpoint, key):
            self._flag(
                checkpoint.position,
                ProblemKind.BAD_SIGNATURE,
                f"the signature of checkpoint {checkpoint.position} does not verify",
            )

    def _flag(self, position: int, kind: ProblemKind, detail: str) -> None:
        self.problems_found += 1
        self.last_problem_at = max(self.last_problem_at, position)
        if len(self.problems) < SHOWN_PROBLEMS:
            self.problems.append(Problem(position=position, kind=kind, detail=detail))


def _missing(first: int, last: int) -> str:
    if first == last:
        return f"record {first} is missing"
    return f"records {first} to {last} are missing"
