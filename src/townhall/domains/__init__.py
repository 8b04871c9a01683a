"""The domains. Each owns its tables and is their only writer; others call its service functions."""
