"""Sessions: what earlier batches computed, reused by later ones.

An agent searches in rounds; the second round re-runs most of the first round's
work with one change. A ``Session`` keeps the results of its batches (values
and fitted estimators, by lineage key) within a memory budget, and optionally on
disk (``cache_dir``, shared by processes and runs), so a later batch computes
only what is new. ``stratum.search`` and the skrub drop-in use the current
session: the innermost ``with Session():`` block, else a default session.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from typing import Any

from ._config import current_config
from ._sizes import parse_bytes
from .runtime.cache import DiskCache, MemoryCache, Reuse


class Session:
    """Reuse across batches.

    Parameters
    ----------
    memory_budget : int or str, optional
        Bytes of earlier results kept in memory. By default, the results no
        running batch holds fit in the room the largest batch's working set
        leaves (its peak minus what the running batch holds), so that keeping
        them never raises the process's peak; the rest is written to a
        private spill directory (a quarter of the free disk space at most)
        when recomputing it would take longer than reading it back, and
        dropped otherwise.
    cache_dir : str, optional
        Also keep results on disk there (default: ``STRATUM_CACHE_DIR`` or the
        ``cache_dir`` option; none when unset).
    disk_budget : int or str, optional
        Size cap of the disk cache; least recently used entries go first.
    """

    def __init__(self, memory_budget=None, cache_dir=None, disk_budget=None):
        budget = parse_bytes(memory_budget) if memory_budget else None
        self.memory = MemoryCache(budget, spill_budget=_spill_budget())
        config = current_config()  # stratum's own options (no skrub import)
        cache_dir = cache_dir or config["cache_dir"]
        disk_max = parse_bytes(disk_budget or config["cache_disk_budget"])
        self.disk = DiskCache(cache_dir, disk_max) if cache_dir else None
        self.memory.backed_by_disk = self.disk is not None
        self._token = None

    def reuse(self, reusable) -> Reuse:
        """The view a batch's store uses, with the batch's reusability test."""
        return Reuse(self.memory, self.disk, reusable)

    def info(self) -> dict[str, Any]:
        info = {
            "memory_entries": len(self.memory.entries),
            "memory_bytes": self.memory.bytes,
            "memory_budget": self.memory.budget,
            "memory_room": self.memory.peak,
            "spilled_bytes": self.memory.spilled_bytes,
            "memory": self.memory.stats.as_dict(),
        }
        if self.disk is not None:
            entries = self.disk.entries()
            info.update(
                cache_dir=self.disk.path,
                disk_entries=len(entries),
                disk_bytes=sum(size for _, size, _ in entries),
                disk=self.disk.stats.as_dict(),
            )
        return info

    def clear(self) -> None:
        """Forget everything, in memory and on disk."""
        self.memory.clear()
        if self.disk is not None:
            self.disk.clear()

    def __enter__(self) -> "Session":
        _stack().append(self)
        return self

    def __exit__(self, *exc) -> None:
        _stack().remove(self)

    def __repr__(self) -> str:
        where = f", cache_dir={self.disk.path!r}" if self.disk else ""
        return f"<Session: {len(self.memory.entries)} results in memory{where}>"


def _spill_budget() -> int:
    """A quarter of the free space where spill directories go."""
    try:
        return shutil.disk_usage(tempfile.gettempdir()).free // 4
    except OSError:
        return 0


_local = threading.local()
_default: Session | None = None
_default_lock = threading.Lock()


def _stack() -> list:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def current_session() -> Session | None:
    """The session batches reuse from, or None when reuse is disabled."""
    global _default
    if not current_config()["reuse"]:
        return None
    if _stack():
        return _stack()[-1]
    with _default_lock:
        if _default is None:
            _default = Session()
        return _default


def reset_default_session() -> None:
    """Drop the default session (a new one starts on the next batch)."""
    global _default
    with _default_lock:
        _default = None


__all__ = ["Session", "current_session", "reset_default_session"]
