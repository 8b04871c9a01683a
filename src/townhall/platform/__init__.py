"""Platform building blocks shared by every domain: database, HTTP conventions, logging, metrics."""
