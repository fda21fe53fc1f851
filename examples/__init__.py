"""Reference submissions and helpers for teams (not part of the installed package)."""
