"""The exit codes every drtests command shares."""

USAGE_ERROR = 2  # a usage or config error: nothing was touched
INFRASTRUCTURE_ERROR = 3  # the target, Elasticsearch or Docker unreachable before anything was checked
