"""Every service and kind of personal data this instance records uses of, from every domain.

The audit trail stores keys; pages and exports phrase them with this vocabulary. A domain that
starts using personal data adds its ``SERVICES`` and ``DATA_KINDS`` here, and a place that
holds data about residents adds its ``HeldDataSource`` to ``held_data_sources``, so subject access
exports include it.

It is also where the audit trail learns which resident ids are one person (``all_ids_of``):
the people domain merges residents, and the audit trail, which knows no domain, keeps each use
under the id the resident had when it happened. The resident's view and the subject access
export take the ids from here, so a merge never hides a use from the person it was about.
"""

from __future__ import annotations

from functools import cache

from townhall.domains.people import data_uses as people
from townhall.domains.people import residents
from townhall.domains.people.held_data import PeopleRecords
from townhall.errors import NotFound
from townhall.platform.audit.held_data import HeldDataSource, ResidentAccounts
from townhall.platform.audit.vocabulary import PLATFORM_DATA_KINDS, PLATFORM_SERVICES, Vocabulary
from townhall.platform.db import Database


@cache
def vocabulary() -> Vocabulary:
    """The services and kinds of data of the platform and of every domain."""
    return Vocabulary.of(
        (*PLATFORM_SERVICES, *people.SERVICES),
        (*PLATFORM_DATA_KINDS, *people.DATA_KINDS),
    )


def held_data_sources() -> tuple[HeldDataSource, ...]:
    """Every place that holds data about residents, in the order exports show them.

    The accounts residents sign in with, then the people domain's joined-up record and each
    council system's record linked to it.
    """
    return (ResidentAccounts(), PeopleRecords())


def all_ids_of(database: Database, resident_id: str) -> tuple[str, ...]:
    """Every id of the person ``resident_id`` names: the id they have now, then earlier ones.

    The id they have now is the resident ``resident_id`` leads to through merges (itself when it
    was never merged); the earlier ones are every id merged into that one. An id the people
    domain does not know (an account matched by other means, a test's) is the only one.
    """
    try:
        current = residents.survivor_of(database, resident_id)
    except NotFound:
        return (resident_id,)
    return tuple(residents.aliases_of(database, current))
