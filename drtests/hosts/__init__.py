"""Hosts a drill works on: the target and disposable restore hosts (testinfra), their services and log files."""
