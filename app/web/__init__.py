"""Server-rendered pages: competitions, leaderboards, login, a team's submissions.

Jinja2 templates with autoescaping, one stylesheet and one small script served by the app itself
(no CDN, no external fonts). Pages authenticate with the `podium_token` cookie set by `/login`;
the JSON API keeps its bearer tokens and never reads that cookie.
"""
