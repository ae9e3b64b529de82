"""HTTP: settings from a connection, the one client (retries, deadlines, redirects, error mapping), pagination.

Shared by every runtime that talks HTTP, so a 429 or a stalled server behaves the same for a source, a sink and
an LLM call. No Airflow import: ``hooks/http.py`` turns a connection into :class:`.settings.HttpSettings`.
"""
