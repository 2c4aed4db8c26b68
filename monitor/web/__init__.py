"""The web side: triage inbox, JSON API, /healthz and /metrics (see docs/web.md)."""
