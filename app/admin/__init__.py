"""Administering a running server over its API: teams, members, tokens and competitions."""
