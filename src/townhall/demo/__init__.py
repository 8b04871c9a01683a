"""The synthetic borough: a realistic, deterministic council built from real postcodes."""
