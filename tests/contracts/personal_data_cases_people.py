"""The people domain's personal-data routes, as the contract test calls them."""

from __future__ import annotations

import httpx

from tests.contracts.personal_data_world import Case, World


def read_source_record(world: World) -> httpx.Response:
    return world.client.get(
        f"/api/v1/people/source-records/{world.source_record_id}",
        headers=world.token_headers("people:read"),
    )


CASES = [
    # Not yet about a resident: source records are linked into residents in issue 7, when this
    # case becomes resident=True.
    Case("GET", "/api/v1/people/source-records/{record_id}", read_source_record, resident=False),
]
