"""Calendar feeds and .ics downloads."""
