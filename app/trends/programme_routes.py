"""Trends pages (programme_routes)."""
