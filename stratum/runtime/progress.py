"""A one-line progress display for batches that take more than a moment."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

_listeners: list[Callable[[dict], None]] = []
_listeners_lock = threading.Lock()


def subscribe(listener: Callable[[dict], None]) -> Callable[[], None]:
    """Call ``listener(state)`` after every finished task of every batch.

    ``state`` holds ``tasks_done``, ``tasks``, ``configurations_done``,
    ``configurations`` and ``failed``. Returns a function that unsubscribes.
    """
    with _listeners_lock:
        _listeners.append(listener)

    def unsubscribe() -> None:
        with _listeners_lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return unsubscribe


class Progress:
    """Tasks done / total, configurations finished, failures and memory in
    use, on stderr.

    On a terminal, one line redrawn in place, from ``delay`` seconds on (short
    batches print nothing). Elsewhere (a redirected or captured stderr), a
    plain line every ``interval`` seconds, so that a long run written to a log
    still shows it is going on, and a last one when the batch ends.
    """

    def __init__(
        self,
        total: int,
        enabled: bool = True,
        delay: float = 2.0,
        stream=None,
        configurations: int = 0,
        interval: float = 10.0,
    ):
        self.total = total
        self.configurations = configurations
        self.configurations_done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = getattr(self.stream, "isatty", lambda: False)()
        self.enabled = enabled
        self.delay = delay if self.terminal else max(delay, interval)
        self.interval = 0.1 if self.terminal else interval
        self.start = time.monotonic()
        self.done = 0
        self.failed = 0
        self.shown = False
        self.last = 0.0

    def update(self, status: str, bytes_in_use: int = 0, finished: int = 0) -> None:
        self.done += 1
        self.configurations_done += finished
        if status not in ("ok",):
            self.failed += 1
        if _listeners:
            state = {
                "tasks_done": self.done,
                "tasks": self.total,
                "configurations_done": self.configurations_done,
                "configurations": self.configurations,
                "failed": self.failed,
            }
            for listener in list(_listeners):
                listener(state)
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < self.delay or (
            now - self.last < self.interval and self.done < self.total
        ):
            return
        self.last = now
        self.shown = True
        self._write(now, bytes_in_use)

    def _write(self, now: float, bytes_in_use: int) -> None:
        configs = (
            f"{self.configurations_done}/{self.configurations} configurations, "
            if self.configurations
            else ""
        )
        counts = (
            f"{self.done}/{self.total} tasks, {configs}{self.failed} failed, "
            f"{bytes_in_use / 2**20:,.0f} MiB in use, {now - self.start:,.0f}s"
        )
        if self.terminal:
            width = 30
            filled = int(width * self.done / max(1, self.total))
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(f"\r[stratum] [{bar}] {counts}")
        else:
            self.stream.write(f"[stratum] {counts}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.shown and self.terminal:
            self.stream.write("\n")
            self.stream.flush()
