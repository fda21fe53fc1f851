"""The team CLI (`podium submit`, `status`, `leaderboard`): a client of the HTTP API only.

It imports nothing from the service's internals, so it behaves the same against any Podium
server, local or remote.
"""
