"""The exceptions a drill reports to its user, each carrying a message that names the fix."""


class DrillError(Exception):
    """A drill step failed; the message is what the user reads."""


class ConfigError(DrillError):
    """A drill config is wrong. Raised before anything on the target is touched."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        super().__init__(f"{source}: {key}: {problem}" if key else f"{source}: {problem}")


class WaitTimeout(DrillError):
    """A wait for a condition expired; the message says what was awaited."""


class Unreachable(DrillError):
    """The drill could not reach a part it needs (target host, Elasticsearch, Docker engine):
    an infrastructure problem, not a finding about the backup (exit code 3)."""
