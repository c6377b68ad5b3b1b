"""Portfolios, attendance certificates, group timelines and attendance statistics."""
