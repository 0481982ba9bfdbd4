"""Progress lines on the terminal during long waits, past pytest's output capture."""

from __future__ import annotations

import sys
import time

import pytest


class Progress:
    def __init__(self, config: pytest.Config, target: str = "") -> None:
        self.reporter = config.pluginmanager.get_plugin("terminalreporter")
        self.capture = config.pluginmanager.get_plugin("capturemanager")
        if hasattr(config, "workeroutput"):  # an xdist worker: its terminal output goes nowhere; stderr does
            self.reporter = None
        self.prefix = f"{target}: " if target else ""
        self.t0 = time.monotonic()

    def __call__(self, message: str) -> None:
        line = f"[drtests +{time.monotonic() - self.t0:6.1f}s] {self.prefix}{message}"
        if self.reporter is not None and self.capture is not None:
            with self.capture.global_and_fixture_disabled():  # shown live, not as captured output
                self.reporter.ensure_newline()
                self.reporter.write_line(line)
        elif self.capture is not None:
            with self.capture.global_and_fixture_disabled():  # an xdist worker's stderr is the user's
                print(line, file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)
