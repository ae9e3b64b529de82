"""LLM calls over the shared HTTP layer: connection settings, the chat wire format and repair loop, reply
validation, and the resume cache. Used by the ``ai.transform`` runtime; no vendor SDK, no Airflow import.
"""
