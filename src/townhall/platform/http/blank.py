"""What a blank string is, as the published JSON Schema sees it.

A field that must not be blank is checked here, so the OpenAPI document and the check agree: a
string of only white space in JSON Schema's sense (ECMAScript's ``\\s``) is blank, and nothing
else is. Python's ``str.strip`` also strips the separators U+001C to U+001F and U+0085, which a
client reading the schema cannot know are "white space".
"""

from __future__ import annotations

JSON_SCHEMA_SPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def trimmed(text: str) -> str:
    """``text`` without white space at either end; empty when it was blank."""
    return text.strip(JSON_SCHEMA_SPACE)
