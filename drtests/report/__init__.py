"""Evidence: evidence.json (validated against evidence.schema.json) and report.html (Jinja2)."""
