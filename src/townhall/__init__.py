"""Townhall: a council's core records through consistent, secured, documented APIs and events."""

__version__ = "0.1.0"
