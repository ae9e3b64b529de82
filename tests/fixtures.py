"""Shared fixtures, registered through ``pytest_plugins`` so each test module can use them without imports."""
