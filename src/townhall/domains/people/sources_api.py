"""The people domain's source systems over the API: what each holds and how its syncs went."""

from __future__ import annotations

from fastapi import APIRouter

from townhall.platform.http.routing import api_router


def build_sources_router() -> APIRouter:
    """The ``/api/v1/people/sources`` operations."""
    return api_router("/people/sources", tag="people")
