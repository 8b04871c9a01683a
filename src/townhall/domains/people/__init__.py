"""The people domain: person records as each source system holds them (linkage comes later)."""
