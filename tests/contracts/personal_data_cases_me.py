"""The resident's own personal-data routes (their account, how their data is used), as the
contract test calls them: signed in as the world's resident, whose account names its resident."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.contracts.personal_data_world import Case, World


def as_resident(path: str) -> Callable[[World], httpx.Response]:
    """A call of ``path`` by the world's resident, signed in to the portal."""

    def call(world: World) -> httpx.Response:
        world.sign_in_resident()
        return world.client.get(path, follow_redirects=False)

    return call


CASES = [
    Case("GET", "/account", as_resident("/account")),
    Case("GET", "/account/data-uses", as_resident("/account/data-uses")),
    Case("GET", "/api/v1/me/data-uses", as_resident("/api/v1/me/data-uses")),
    Case("GET", "/api/v1/me/data-uses/summary", as_resident("/api/v1/me/data-uses/summary")),
]
