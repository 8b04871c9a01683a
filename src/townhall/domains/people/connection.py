"""Connecting a resident's account to the council's records of them, by what the council sent them.

A resident signs in with an email address, which proves only that they read it. To see the
council's records of them they prove who they are with three things the council already sent
them: a reference one of its systems gave them (a council tax account number, a tenancy
reference: a source record's ``source_record_id``), their date of birth and their postcode. All
three must belong to one source record; the account is then connected to that record's
resident (the survivor, when it was merged), by ``platform.auth.residents.link_resident``.

A refusal never says which part was wrong, so it cannot be used to learn a stranger's date of
birth or postcode one guess at a time; attempts are limited per account, and each refusal is
kept in the change log. ADR 35 says why these three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from townhall.domains.addresses.text import normalise_postcode
from townhall.domains.people.models import SourcePersonRecord
from townhall.domains.people.residents import resident_of_record, survivor_of
from townhall.errors import NotFound, TooManyRequests, UnprocessableContent
from townhall.platform.auth.residents import (
    ResidentMember,
    link_resident,
    note_connection_refused,
)
from townhall.platform.db import Database
from townhall.platform.logging import get_logger
from townhall.platform.ratelimit import RateLimiter, RateLimitPolicy

# Five tries, then one more every twelve minutes: plenty for typing mistakes, far too few to
# guess a date of birth.
ATTEMPTS = RateLimitPolicy("resident-connection", 5, 3600)
REFUSAL = (
    "Those details do not match the council's records. Check the reference, your date of birth "
    "and your postcode against a letter or bill from the council."
)
MAX_REFERENCE = 64

log = get_logger("townhall.people.connection")


@dataclass(frozen=True)
class Proof:
    """What a resident gives to show which council records are theirs."""

    reference: str
    date_of_birth: date
    postcode: str


def matching_resident(database: Database, proof: Proof) -> str | None:
    """The active resident whose source record carries all three of ``proof``'s details."""
    reference = proof.reference.strip()
    postcode = normalise_postcode(proof.postcode)
    if not reference or len(reference) > MAX_REFERENCE or postcode is None:
        return None
    with database.read() as session:
        candidates = session.execute(
            select(SourcePersonRecord.id, SourcePersonRecord.postcode).where(
                # References are printed in capitals; some people type them in lower case.
                SourcePersonRecord.source_record_id.in_({reference, reference.upper()}),
                SourcePersonRecord.date_of_birth == proof.date_of_birth,
            )
        ).all()
    for record_id, record_postcode in candidates:
        if normalise_postcode(record_postcode) != postcode:
            continue
        resident_id = resident_of_record(database, record_id)
        if resident_id is not None:
            try:
                return survivor_of(database, resident_id)
            except NotFound:
                return None
    return None


def connect_account(
    database: Database, limiter: RateLimiter, account: ResidentMember, proof: Proof
) -> ResidentMember:
    """Connect ``account`` to the resident ``proof`` leads to, or refuse without saying why.

    Raises TooManyRequests (with Retry-After) past the attempts allowed, and UnprocessableContent
    when the details match no record.
    """
    refused = [
        d for d in limiter.check(f"{ATTEMPTS.name}:{account.id}", [ATTEMPTS]) if not d.allowed
    ]
    if refused:
        retry_after = max(1, math.ceil(refused[0].retry_after))
        raise TooManyRequests(
            f"Too many attempts to connect your account. Try again in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )
    resident_id = matching_resident(database, proof)
    if resident_id is None:
        note_connection_refused(database, account.id)
        log.info("resident_connection_refused", account_id=account.id)
        raise UnprocessableContent(REFUSAL)
    if account.resident_id == resident_id:
        return account
    log.info("resident_connected", account_id=account.id)
    return link_resident(database, account.id, resident_id, actor=f"resident_account:{account.id}")
