"""How council systems get people wrong: the disagreements record linkage must see through.

This module owns the small, realistic ways one person's details differ between systems: a
nickname for a first name (William/Bill), a typing slip (two letters swapped, one dropped, one
hit on the key next to it), a date of birth with day and month swapped, a postcode mistyped
(O for 0, a lost space). Which record gets which slip, and how often, is decided by each
system's profile in ``source_systems``.
"""

from __future__ import annotations

import random
from datetime import date

NICKNAMES: dict[str, tuple[str, ...]] = {
    "William": ("Bill", "Will", "Billy"), "Robert": ("Bob", "Rob", "Bobby"),
    "Elizabeth": ("Liz", "Beth", "Lizzie"), "Margaret": ("Maggie", "Peggy"),
    "Richard": ("Rick", "Rich", "Dick"), "James": ("Jim", "Jimmy", "Jamie"),
    "Thomas": ("Tom", "Tommy"), "Michael": ("Mike", "Mick"), "Christopher": ("Chris",),
    "Jonathan": ("Jon",), "Anthony": ("Tony",), "Daniel": ("Dan", "Danny"), "David": ("Dave",),
    "Stephen": ("Steve",), "Steven": ("Steve",), "Andrew": ("Andy", "Drew"),
    "Matthew": ("Matt",), "Joseph": ("Joe",), "Samuel": ("Sam",), "Benjamin": ("Ben",),
    "Alexander": ("Alex",), "Nicholas": ("Nick",), "Edward": ("Ed", "Ted", "Eddie"),
    "Charles": ("Charlie",), "Peter": ("Pete",), "Patrick": ("Pat", "Paddy"),
    "Timothy": ("Tim",), "Kenneth": ("Ken",), "Ronald": ("Ron",), "Gerald": ("Gerry",),
    "Frederick": ("Fred",), "Harold": ("Harry",), "Henry": ("Harry",), "John": ("Jack",),
    "Katherine": ("Kate", "Kathy"), "Catherine": ("Cathy", "Kate"), "Jennifer": ("Jenny",),
    "Rebecca": ("Becky", "Becca"), "Victoria": ("Vicky",), "Samantha": ("Sam",),
    "Jessica": ("Jess",), "Susan": ("Sue",), "Deborah": ("Debbie",), "Patricia": ("Pat",),
    "Christine": ("Chris",), "Alexandra": ("Alex",), "Nicola": ("Nicky",),
    "Jacqueline": ("Jackie",), "Kimberley": ("Kim",), "Abigail": ("Abby",),
    "Eleanor": ("Ellie",), "Charlotte": ("Lottie",), "Josephine": ("Jo",), "Joanne": ("Jo",),
    "Amanda": ("Mandy",), "Pamela": ("Pam",), "Gillian": ("Gill",), "Stephanie": ("Steph",),
    "Lawrence": ("Larry",), "Leonard": ("Len",), "Terence": ("Terry",), "Raymond": ("Ray",),
    "Philip": ("Phil",), "Gregory": ("Greg",), "Douglas": ("Doug",), "Oliver": ("Ollie",),
    "Frances": ("Fran",), "Zachary": ("Zak",), "Joshua": ("Josh",), "Nathan": ("Nat",),
}  # fmt: skip

# Neighbouring keys on a UK keyboard: a finger that slips hits one of these.
_NEARBY_KEYS = {
    "a": "qsz", "b": "vn", "c": "xv", "d": "sfe", "e": "wrd", "f": "dgr", "g": "fht",
    "h": "gjy", "i": "uok", "j": "hku", "k": "jli", "l": "ko", "m": "n", "n": "bm",
    "o": "ipl", "p": "o", "q": "wa", "r": "etf", "s": "adw", "t": "ryg", "u": "yij",
    "v": "cb", "w": "qes", "x": "zc", "y": "tuh", "z": "xa",
}  # fmt: skip

# Characters people mistake for one another when copying a postcode.
_LOOK_ALIKE = {"0": "O", "O": "0", "1": "I", "I": "1", "5": "S", "S": "5", "8": "B", "B": "8"}


def nickname(first_name: str, rng: random.Random) -> str | None:
    """A familiar form of the name ("Bill" for "William"), or None when it has none."""
    forms = NICKNAMES.get(first_name)
    return rng.choice(forms) if forms else None


def misspell(text: str, rng: random.Random) -> str:
    """The text with one typing slip: two letters swapped, one dropped, or one mis-hit."""
    letters = [index for index, char in enumerate(text) if char.isalpha()]
    if len(letters) < 3:
        return text
    # The first letter is rarely wrong: people check it, and it is what is sorted on.
    position = rng.choice(letters[1:])
    slip = rng.choice(("swap", "drop", "mis-hit"))
    if slip == "swap" and position + 1 < len(text) and text[position + 1] != text[position]:
        return text[:position] + text[position + 1] + text[position] + text[position + 2 :]
    if slip == "drop":
        return text[:position] + text[position + 1 :]
    original = text[position]
    replacement = rng.choice(_NEARBY_KEYS.get(original.lower(), "e"))
    if original.isupper():
        replacement = replacement.upper()
    return text[:position] + replacement + text[position + 1 :]


def swap_day_and_month(born: date) -> date | None:
    """The date read the American way round, or None where that is not a different date."""
    if born.day > 12 or born.day == born.month:
        return None
    return born.replace(month=born.day, day=born.month)


def mistype_postcode(postcode: str, rng: random.Random) -> str:
    """The postcode with one look-alike character swapped (O for 0), or its space lost."""
    candidates = [index for index, char in enumerate(postcode) if char in _LOOK_ALIKE]
    if not candidates or rng.random() < 0.4:
        return postcode.replace(" ", "")
    index = rng.choice(candidates)
    return postcode[:index] + _LOOK_ALIKE[postcode[index]] + postcode[index + 1 :]
