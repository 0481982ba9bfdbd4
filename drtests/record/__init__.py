"""The drill record (phases, checks, steps, typed results) and the one writer of evidence.json."""
