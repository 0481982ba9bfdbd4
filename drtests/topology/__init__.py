"""The graph side of a drill: export/import commands (commands), probes of the running node
(probes), and the comparison of a restored graph with its source (proof)."""
