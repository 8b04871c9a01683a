"""Record linkage: scoring pairs of source records with a Splink model trained on our data."""
