"""The HTTP conventions of API-STANDARDS.md as building blocks every router uses."""
