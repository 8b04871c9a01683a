"""Connectors: how Townhall reads a source system's records of people (CSV drops, SQL tables)."""
