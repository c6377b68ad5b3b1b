"""Trends pages (group_routes)."""
