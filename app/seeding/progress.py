"""A tiny progress bar on stderr (a bar on a terminal, one line per step otherwise)."""
from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts work done towards `total` and redraws at most ten times a second."""

    WIDTH = 30

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label, self.total, self.done = label, max(total, 0), 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = self._last_draw = time.perf_counter()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def advance(self, amount: int = 1) -> None:
        """Record `amount` more units done."""
        self.done += amount
        now = time.perf_counter()
        if self.tty and now - self._last_draw >= 0.1:
            self._last_draw = now
            self._draw(end="")

    def close(self) -> None:
        """Draw the final state on its own line."""
        self._draw(end="\n")

    def _draw(self, end: str) -> None:
        fraction = min(self.done / self.total, 1.0) if self.total else 1.0
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        elapsed = time.perf_counter() - self.started
        prefix = "\r" if self.tty else ""
        self.stream.write(f"{prefix}{self.label:<14} [{bar}] {self.done:>9,}/{self.total:,} "
                          f"{elapsed:6.1f}s{end}")
        self.stream.flush()
