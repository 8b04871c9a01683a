"""Stable resident ids: "R" and nine random Crockford base32 characters, never reused.

This module owns the shape of a resident id and making new ones. An id is random (it says
nothing about the person, the order residents were found, or how many there are) and is never
given out twice: a resident's row is kept for ever, merged or emptied, so a new id is checked
against every id ever given and a collision (one in 35 trillion per draw) is drawn again.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Container

# Crockford's base32: digits and capitals without I, L, O and U, so an id read aloud or copied
# by hand cannot be misread.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 9
PATTERN = re.compile(rf"^R[{ALPHABET}]{{{LENGTH}}}$")
_ATTEMPTS = 20


def random_id() -> str:
    """A fresh candidate id (not yet checked against the ids given out)."""
    return "R" + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def is_resident_id(text: str) -> bool:
    """Whether ``text`` has the shape of a resident id."""
    return PATTERN.match(text) is not None


def new_id(taken: Container[str], draw: Callable[[], str] = random_id) -> str:
    """An id not in ``taken`` (every id given out so far, and any drawn in this unit of work)."""
    for _ in range(_ATTEMPTS):
        candidate = draw()
        if candidate not in taken:
            return candidate
    msg = "no unused resident id after repeated draws: the id source is broken"
    raise RuntimeError(msg)
