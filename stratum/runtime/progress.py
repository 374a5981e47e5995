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

    Silent unless ``enabled`` and stderr is a terminal; nothing is shown for
    the first ``delay`` seconds, so short batches print nothing.
    """

    def __init__(
        self,
        total: int,
        enabled: bool = True,
        delay: float = 2.0,
        stream=None,
        configurations: int = 0,
    ):
        self.total = total
        self.configurations = configurations
        self.configurations_done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and getattr(self.stream, "isatty", lambda: False)()
        self.delay = delay
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
            now - self.last < 0.1 and self.done < self.total
        ):
            return
        self.last = now
        self.shown = True
        width = 30
        filled = int(width * self.done / max(1, self.total))
        bar = "#" * filled + "-" * (width - filled)
        configs = (
            f"{self.configurations_done}/{self.configurations} configurations, "
            if self.configurations
            else ""
        )
        self.stream.write(
            f"\r[stratum] [{bar}] {self.done}/{self.total} tasks, {configs}"
            f"{self.failed} failed, {bytes_in_use / 2**20:,.0f} MiB in use, "
            f"{now - self.start:,.0f}s"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
