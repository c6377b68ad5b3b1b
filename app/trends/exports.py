"""Trends pages (exports)."""
