"""pytest entry point (pytest11: drtests)."""
