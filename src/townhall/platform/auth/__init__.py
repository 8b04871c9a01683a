"""Access control: consumers and their credentials and grants, tokens, scopes, sign-in.

Each module owns one part: ``models`` the tables of consumers, secrets, grants and the change
log; ``consumers`` the service that manages them; ``changes`` the administrative change log;
``scopes`` the registry of scopes a grant may name; ``admin_api`` the HTTP face of all that.
"""
