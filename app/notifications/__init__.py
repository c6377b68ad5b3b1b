"""Notifications: e-mail (and later in-app notices), sent in the recipient's language."""
