"""Fixtures every command's tests share."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """Put back the root logger after each test.

    Commands that build or import (demo, addresses import and match) configure Townhall's
    logging on the stream the test runner lends them, which is closed once the command ends;
    a handler left on it would fail every later test that logs.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
