"""Airflow operators: one base adapter, one small typed subclass per runtime."""
