"""The drill's own pages, refreshed as it finishes: history, index, freshness, metrics."""
