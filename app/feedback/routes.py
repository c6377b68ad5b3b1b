"""Feedback pages: rounds for members, leaders and coordinators."""
