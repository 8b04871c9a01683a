"""Why a build of the synthetic borough refuses to start.

Each message is written for the person who typed the command: the CLI prints it as it is,
without a traceback, so it says what was wrong and what to do instead.
"""

from __future__ import annotations


class DemoBuildRefused(Exception):
    """A build of the synthetic borough could not start; the message says why."""


class UnknownCouncil(DemoBuildRefused):
    """The council code matched no postcode in the ONS Postcode Directory."""


class DatabaseNotEmpty(DemoBuildRefused):
    """The database already holds a gazetteer or person records: two boroughs would mix."""


class InvalidSeed(DemoBuildRefused):
    """The seed cannot be stored with the build (it must fit in 32 bits)."""
