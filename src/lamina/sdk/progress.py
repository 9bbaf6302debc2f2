"""What ``lamina.evaluate`` prints: a progress bar while it runs (redrawn in place on a
terminal, a line at each tenth otherwise) and a summary table at the end."""

from __future__ import annotations

import threading
from typing import TextIO

WIDTH = 30


class Progress:
    def __init__(self, total: int, out: TextIO) -> None:
        self.total = total
        self.done = 0
        self.out = out
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._shown = -1

    def advance(self) -> None:
        with self._lock:
            self.done += 1
            self._show()

    def _show(self) -> None:
        total = max(self.total, 1)
        if self.tty:
            filled = WIDTH * self.done // total
            bar = "#" * filled + "." * (WIDTH - filled)
            self.out.write(f"\r[{bar}] {self.done}/{self.total}")
        else:
            tenth = 10 * self.done // total
            if tenth == self._shown:
                return
            self._shown = tenth
            self.out.write(f"{self.done}/{self.total} items done\n")
        self.out.flush()

    def close(self) -> None:
        if self.tty:
            self.out.write("\n")
            self.out.flush()


def summary(name: str, averages: dict[str, float], items: int, errors: int, url: str) -> str:
    """The run's table: each score's average, then the items, the errors and the link."""
    rows = [(score, f"{value:.3f}") for score, value in averages.items()]
    rows += [("items", str(items)), ("errors", str(errors))]
    width = max([len("score"), *(len(row[0]) for row in rows)])
    lines = [f"Experiment {name!r}", f"{'score':<{width}}  average", "-" * (width + 9)]
    lines += [f"{left:<{width}}  {right}" for left, right in rows]
    lines.append(f"See it at {url}")
    return "\n".join(lines)
