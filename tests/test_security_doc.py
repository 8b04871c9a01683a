"""docs/security.md names real tests: renaming or deleting one fails here, not silently there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = re.compile(r"`([a-z_/]+\.py)::(test_[a-z0-9_]+)`")
OWASP_ITEMS = [f"API{number}" for number in range(1, 11)]


def test_every_test_the_threat_model_names_exists() -> None:
    text = (ROOT / "docs" / "security.md").read_text()
    references = set(REFERENCE.findall(text))
    assert references
    missing = []
    for path, name in sorted(references):
        source = ROOT / "tests" / path
        defined = source.exists() and re.search(
            rf"^(async )?def {name}\(", source.read_text(), re.MULTILINE
        )
        if not defined:
            missing.append(f"{path}::{name}")
    assert missing == []


def test_every_owasp_api_top_10_item_has_a_row() -> None:
    text = (ROOT / "docs" / "security.md").read_text()
    rows = re.findall(r"^\| \*\*(API\d+) ", text, re.MULTILINE)
    assert rows == OWASP_ITEMS
