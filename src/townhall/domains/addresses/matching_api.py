"""The address matching API: ``POST /api/v1/address-matches``.

This module owns the route that matches up to 1,000 messy addresses (free text and an optional
postcode) to UPRNs with the fast matcher, and the shapes of its request and answer. Matching is
a computation, not a resource: nothing is stored, so the answer is 200 with the results, not 201
with a Location (ADR 19). Reading needs ``addresses:read``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from townhall.domains.addresses.matching import lookup
from townhall.domains.addresses.matching.results import Match, MatchInput, MatchOutcome
from townhall.platform.auth.dependencies import require
from townhall.platform.auth.principal import Principal
from townhall.platform.http.blank import trimmed
from townhall.platform.http.dependencies import DatabaseDep
from townhall.platform.http.routing import api_router

MAX_ADDRESSES = 1000
Reader = Annotated[Principal, require("addresses:read")]


class AddressToMatch(BaseModel):
    """One messy address."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        default=None, max_length=100, description="The client's own id, given back as it came."
    )
    text: str = Field(min_length=1, max_length=500, examples=["flat 3, 12 mare st, hackney"])
    postcode: str | None = Field(default=None, max_length=16, examples=["E8 1AA"])

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not trimmed(value):
            msg = "The address text is empty."
            raise ValueError(msg)
        return value


class AddressMatchRequest(BaseModel):
    """Up to 1,000 messy addresses to match."""

    model_config = ConfigDict(extra="forbid")

    addresses: list[AddressToMatch] = Field(min_length=1, max_length=MAX_ADDRESSES)


class MatchedAddress(BaseModel):
    """A gazetteer address a messy one may be."""

    uprn: str = Field(pattern=r"^[0-9]+$", examples=["100021067939"])
    score: float = Field(ge=0, le=1)
    address: str
    reason: str

    @classmethod
    def of(cls, match: Match) -> MatchedAddress:
        return cls(
            uprn=str(match.uprn), score=match.score, address=match.address, reason=match.reason
        )


class AddressMatchResult(BaseModel):
    """The answer for one messy address: the UPRN (null when no match), score, reason."""

    id: str | None
    uprn: str | None = Field(pattern=r"^[0-9]+$")
    score: float = Field(ge=0, le=1)
    verdict: str = Field(description="matched, unsure or no match")
    reason: str
    address: str | None = Field(description="The matched address on one line.")
    runners_up: list[MatchedAddress]

    @classmethod
    def of(cls, outcome: MatchOutcome) -> AddressMatchResult:
        return cls(
            id=outcome.id,
            uprn=str(outcome.uprn) if outcome.uprn is not None else None,
            score=outcome.score,
            verdict=outcome.verdict,
            reason=outcome.reason,
            address=outcome.best.address if outcome.best is not None else None,
            runners_up=[MatchedAddress.of(m) for m in outcome.runners_up],
        )


class AddressMatchResults(BaseModel):
    """One result per address sent, in the same order."""

    results: list[AddressMatchResult]


def build_address_matches_router() -> APIRouter:
    """The route of address matching."""
    router = api_router("/address-matches", tag="addresses")

    @router.post("", status_code=200)
    async def match_addresses(
        *, body: AddressMatchRequest, principal: Reader, database: DatabaseDep
    ) -> AddressMatchResults:
        """Match messy addresses to UPRNs: for each, the best UPRN, a score, why, runners-up.

        A score is near the share of such answers that are right; below 0.9 no UPRN is given,
        and the candidates are listed as runners-up.
        """
        del principal
        inputs = [MatchInput(a.text, a.postcode, a.id) for a in body.addresses]
        outcomes = await run_in_threadpool(lookup.match_addresses, database, inputs)
        return AddressMatchResults(results=[AddressMatchResult.of(o) for o in outcomes])

    return router
