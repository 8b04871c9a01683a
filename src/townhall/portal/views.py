"""Portal pages (placeholder until the portal base lands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

if TYPE_CHECKING:
    from townhall.app import AppContext


def build_portal(app: FastAPI, context: AppContext) -> None:
    """Mount the portal's pages and static assets on ``app``."""
