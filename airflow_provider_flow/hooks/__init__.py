"""Airflow connections -> runtime settings (http, fs, llm, object_storage: one resolver module each)."""
