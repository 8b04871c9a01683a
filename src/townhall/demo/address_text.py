"""Addresses as people and systems write them, from one tidy postal address.

This module owns the different ways one address is typed into different systems: the formal
one-per-line style, a mainframe's capitals with abbreviations, the number first and the flat
last, "3/12 Foo Road", and lower-case text typed by a resident on a phone. The same home
written two ways is one of the disagreements record linkage has to see through.
"""

from __future__ import annotations

import random
from typing import NamedTuple

_ABBREVIATIONS = {
    "Road": "Rd", "Street": "St", "Avenue": "Ave", "Gardens": "Gdns", "Grove": "Gr",
    "Place": "Pl", "Close": "Cl", "Terrace": "Terr", "Lane": "La", "Crescent": "Cres",
    "Square": "Sq", "House": "Ho", "Court": "Ct", "Mansions": "Mans",
}  # fmt: skip


class PostalAddress(NamedTuple):
    """An address in its parts, as the gazetteer would print it."""

    sao: str | None  # "Flat 3", "Ground Floor Flat"
    building: str | None  # "Farleigh House"
    number: str | None  # "12", "12A", "14-16"
    street: str
    locality: str | None
    town: str
    postcode: str


ADDRESS_STYLES = ("formal", "formal_with_postcode", "upper_short", "number_first", "slash", "typed")


def format_address(address: PostalAddress, style: str, rng: random.Random) -> str:
    """The address written in one of ``ADDRESS_STYLES``."""
    if style not in ADDRESS_STYLES:
        msg = f"unknown address style {style!r}"
        raise ValueError(msg)
    street_line = " ".join(part for part in (address.number, address.street) if part)
    if style == "upper_short":
        words = [address.sao, address.building, _short(street_line), address.town]
        return " ".join(word for word in words if word).upper()
    if style == "number_first":
        words = [address.building, _short(street_line), address.sao]
        return " ".join(word for word in words if word).upper()
    if style == "slash" and address.sao and address.sao.startswith("Flat ") and address.number:
        flat = address.sao.removeprefix("Flat ")
        return f"{flat}/{address.number} {address.street}, {address.town.title()}"
    if style == "typed":
        words = [address.sao, address.building, street_line]
        text = " ".join(word for word in words if word)
        return _short(text).lower() if rng.random() < 0.5 else text.lower()
    lines = [address.sao, address.building, street_line]
    if address.locality and rng.random() < 0.5:
        lines.append(address.locality)
    lines.append(address.town.title())
    if style == "formal_with_postcode":
        lines.append(address.postcode)
    return ", ".join(line for line in lines if line)


def _short(text: str) -> str:
    return " ".join(_ABBREVIATIONS.get(word, word) for word in text.split())
