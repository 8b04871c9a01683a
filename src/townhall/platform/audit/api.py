"""The data protection officer's API: search the audit trail, export, hold (being built)."""

from __future__ import annotations

from fastapi import APIRouter


def build_audit_router() -> APIRouter:
    """The ``/api/v1/audit`` operations."""
    return APIRouter(prefix="/api/v1/audit", tags=["audit"])
