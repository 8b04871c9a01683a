"""The people API (being built)."""

from __future__ import annotations

from fastapi import APIRouter


def build_people_router() -> APIRouter:
    """The ``/api/v1/people`` operations."""
    return APIRouter(prefix="/api/v1/people", tags=["people"])
