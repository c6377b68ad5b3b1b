"""Schedule pages: series, single meetings, leaders, holiday exceptions, my meetings."""
