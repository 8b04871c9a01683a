"""The signed-in resident's own API: how their data is used (being built)."""

from __future__ import annotations

from fastapi import APIRouter


def build_me_router() -> APIRouter:
    """The ``/api/v1/me`` operations."""
    return APIRouter(prefix="/api/v1/me", tags=["me"])
