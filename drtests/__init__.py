"""drtests: disaster-recovery drills for StackState, as a pytest plugin."""

__version__ = "0.1.0"
