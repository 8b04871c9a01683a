"""Every service and kind of personal data this instance records uses of, from every domain.

The audit trail stores keys; pages and exports phrase them with this vocabulary. A domain that
starts using personal data adds its ``SERVICES`` and ``DATA_KINDS`` here, and a place that
holds data about residents adds its ``HeldDataSource`` to ``held_data_sources``, so subject access
exports include it.
"""

from __future__ import annotations

from functools import cache

from townhall.domains.people import data_uses as people
from townhall.platform.audit.held_data import HeldDataSource, ResidentAccounts
from townhall.platform.audit.vocabulary import PLATFORM_DATA_KINDS, PLATFORM_SERVICES, Vocabulary


@cache
def vocabulary() -> Vocabulary:
    """The services and kinds of data of the platform and of every domain."""
    return Vocabulary.of(
        (*PLATFORM_SERVICES, *people.SERVICES),
        (*PLATFORM_DATA_KINDS, *people.DATA_KINDS),
    )


def held_data_sources() -> tuple[HeldDataSource, ...]:
    """Every place that holds data about residents, in the order exports show them.

    The people domain's source records name no resident yet (issue 7 links them); its source
    joins this list when they do.
    """
    return (ResidentAccounts(),)
