"""Where a drill's commands run: a testinfra host, its services and its log files."""
