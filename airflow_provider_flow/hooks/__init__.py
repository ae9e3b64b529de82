"""Airflow connections -> runtime settings."""
