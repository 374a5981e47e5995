"""Reuse across batches: a bounded in-memory cache and an on-disk cache, both
keyed by task key (lineage key + fold + side + mode).

Only values of reusable nodes are offered (no identity-keyed objects, no
unseeded randomness upstream). The memory cache evicts the entries of least
value first: recompute cost per byte, least recently used first among equals.
The disk cache writes atomically (temporary file + rename), stores a checksum
with every entry and discards, never returns, an entry that does not verify; its
keys include the versions of the libraries that computed the values.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import joblib

from . import heap
from .sizes import nbytes
from .spill import SpillDir, Spilled

_MAGIC = b"STRATUM1"
_HEAD = len(_MAGIC) + 8 + 32  # magic, payload size, payload digest


def _versions() -> str:
    import importlib.metadata

    import numpy
    import pandas
    import sklearn

    return "|".join(
        [
            sys.version.split()[0],
            numpy.__version__,
            pandas.__version__,
            sklearn.__version__,
            importlib.metadata.version("skrub"),  # (without importing it)
            "stratum-0.1",
        ]
    )


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    corrupt: int = 0
    evicted: int = 0
    unpicklable: int = 0
    spilled: int = 0  # entries moved from memory to the spill directory
    spill_hits: int = 0  # lookups answered from there

    def as_dict(self) -> dict:
        return dict(vars(self))


@dataclass
class _Entry:
    value: Any  # the value, or a ``Spilled`` one on disk
    nbytes: int
    cost: float | None  # seconds to compute it; None: not measured
    used: float


# A value is worth writing to disk rather than recomputing when computing it
# took longer than writing and reading it back (at about this many bytes per
# second, both ways).
SPILL_BYTES_PER_SECOND = 200 * 2**20
# Without a budget, what only the session holds may always take this much
# memory, whatever the batches' peak.
MIN_ROOM = 32 * 2**20


def _value_per_byte(entry: _Entry) -> float:
    """Recompute seconds per byte; a cost never measured (a value a family of
    fits shares, such as a fold's bins) counts as the most valuable."""
    if entry.cost is None:
        return float("inf")
    return entry.cost / max(entry.nbytes, 1)


class MemoryCache:
    """Values of earlier batches.

    With a ``budget``, at most that many bytes stay in memory. Without one,
    what only the cache holds (values no running batch holds any more) fits in
    the room the largest batch's working set leaves: its peak minus what the
    running batch holds now (``fit``), and never less than ``min_room`` (below
    that, writing small values to disk one by one costs more time than their
    memory is worth). Either way, the least valuable entries
    (recompute seconds per byte, least recently used first) leave memory
    first: to a private spill directory when recomputing them would take
    longer than reading them back (within ``spill_budget`` bytes of disk),
    dropped otherwise, or when a disk cache has them (``backed_by_disk``).
    """

    def __init__(
        self,
        budget: int | None = None,
        spill_budget: int | None = None,
        min_room: int | None = None,
    ):
        self.budget = budget
        self.spill_budget = spill_budget
        self.min_room = MIN_ROOM if min_room is None else min_room
        self.entries: dict[tuple, _Entry] = {}
        self.bytes = 0  # in memory
        self.spilled_bytes = 0
        self.only: dict[tuple, int] = {}  # in memory, held by no batch: bytes
        self.only_bytes = 0
        self.peak = 0  # the largest working set of a batch so far
        self.stats = CacheStats()
        self.lock = threading.RLock()
        self.spill_dir: SpillDir | None = None
        self.backed_by_disk = False  # a disk cache has every entry too

    def get(self, key: tuple) -> Any:
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                self.stats.misses += 1
                raise KeyError(key)
            entry.used = time.monotonic()
            self.stats.hits += 1
            self._hold(key)
            value = entry.value
        if isinstance(value, Spilled):
            try:
                value = SpillDir.read(value)
            except (OSError, EOFError, ValueError):  # dropped meanwhile
                raise KeyError(key) from None
            self.stats.spill_hits += 1
        return value

    def put(self, key: tuple, value: Any, nbytes: int, cost: float | None) -> None:
        """Keep ``value``, held by the batch that offers it (``cost``: the
        seconds it took, None when not measured yet)."""
        if self.budget is not None and nbytes > self.budget:
            return
        with self.lock:
            old = self._forget(key)
            if old is not None and old.cost is not None:
                cost = max(cost or 0.0, old.cost)
            self.entries[key] = _Entry(value, nbytes, cost, time.monotonic())
            self.bytes += nbytes
            if self.budget is not None:
                self._evict(self.bytes - self.budget, list(self.entries))

    def release(self, key: tuple) -> None:
        """The batch that held ``key`` dropped it: only the cache holds it."""
        with self.lock:
            entry = self.entries.get(key)
            if entry is None or key in self.only or isinstance(entry.value, Spilled):
                return
            self.only[key] = entry.nbytes
            self.only_bytes += entry.nbytes

    def fit(self, in_use: int, peak: int, limit: int | None = None) -> None:
        """Without a budget: keep what only the cache holds within the room
        under the largest working set (``peak``, the running batch's so far
        included; no more than the batch's ``limit``) left by what the
        running batch holds (``in_use``)."""
        with self.lock:
            self.peak = max(self.peak, peak, in_use)
            if self.budget is None:
                top = self.peak if limit is None else min(self.peak, limit)
                over = self.only_bytes - max(self.min_room, top - in_use)
                if over > 0:
                    self._evict(over, list(self.only))

    def shed(self, nbytes: int) -> int:
        """Move at least ``nbytes`` of what only the cache holds out of
        memory (fewer if it holds less); the bytes moved."""
        with self.lock:
            before = self.bytes
            self._evict(min(nbytes, self.only_bytes), list(self.only))
            return before - self.bytes

    def _hold(self, key: tuple) -> None:
        size = self.only.pop(key, None)
        if size is not None:
            self.only_bytes -= size

    def _forget(self, key: tuple) -> _Entry | None:
        entry = self.entries.pop(key, None)
        if entry is None:
            return None
        self._hold(key)
        if isinstance(entry.value, Spilled):
            self.spilled_bytes -= entry.value.nbytes
            _remove(entry.value.path)
        else:
            self.bytes -= entry.nbytes
        return entry

    def _evict(self, over: int, keys: list) -> None:
        """Move at least ``over`` bytes of ``keys``' entries out of memory,
        least valuable first."""
        if over <= 0:
            return
        entries = self.entries
        ranked = sorted(
            (
                k
                for k in keys
                if k in entries and not isinstance(entries[k].value, Spilled)
            ),
            key=lambda k: (_value_per_byte(entries[k]), entries[k].used),
        )
        for key in ranked:
            if over <= 0:
                break
            entry = entries[key]
            over -= entry.nbytes
            self.stats.evicted += 1
            if self.backed_by_disk or not self._spill(key, entry):
                self._forget(key)
        heap.trim()

    def _spill(self, key: tuple, entry: _Entry) -> bool:
        """Write ``entry`` to the spill directory, if that is worth it (or
        its cost was never measured: a value shared by a family of fits)."""
        if (
            entry.cost is not None
            and entry.cost * SPILL_BYTES_PER_SECOND < 2 * entry.nbytes
        ):
            return False  # faster computed again than written and read back
        if self.spill_dir is None:
            self.spill_dir = SpillDir()
        try:
            spilled = self.spill_dir.write(entry.value, entry.nbytes)
        except Exception:  # unpicklable, or no room on disk
            return False
        self._hold(key)
        self.bytes -= entry.nbytes
        entry.value = Spilled(spilled.path, os.path.getsize(spilled.path))
        self.spilled_bytes += entry.value.nbytes
        self.stats.spilled += 1
        if self.spill_budget is not None and self.spilled_bytes > self.spill_budget:
            on_disk = sorted(
                (k for k, e in self.entries.items() if isinstance(e.value, Spilled)),
                key=lambda k: self.entries[k].used,
            )
            for k in on_disk:
                if self.spilled_bytes <= self.spill_budget:
                    break
                self._forget(k)
        return key in self.entries

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.only.clear()
            self.bytes = self.only_bytes = self.spilled_bytes = 0
            if self.spill_dir is not None:
                self.spill_dir.close()
                self.spill_dir = None


class _Digesting:
    """A file being written, with the size and digest of what went in."""

    def __init__(self, file):
        self.file = file
        self.size = 0
        self.hash = hashlib.blake2b(digest_size=32)

    def write(self, data) -> int:
        self.hash.update(data)
        self.size += memoryview(data).nbytes
        return self.file.write(data)

    def tell(self) -> int:  # joblib aligns arrays by it
        return self.size

    def digest(self) -> bytes:
        return self.hash.digest()


class DiskCache:
    """Values on local disk, shared by processes, within ``max_bytes``.

    An entry is a head (magic, payload size, payload digest) and joblib's
    pickle of the value; a torn or damaged entry is found out on reading and
    counts as missing.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        max_bytes: int | None = None,
        durable: bool = True,
    ):
        self.path = os.path.abspath(os.fspath(path))
        os.makedirs(self.path, exist_ok=True)
        self.max_bytes = max_bytes
        self.durable = durable  # written to the device before it is visible
        self.versions = _versions()
        self.stats = CacheStats()

    def file_for(self, key: tuple) -> str:
        name = hashlib.blake2b(
            (repr(key) + "|" + self.versions).encode(), digest_size=20
        ).hexdigest()
        return os.path.join(self.path, name[:2], name + ".joblib")

    def get(self, key: tuple) -> Any:
        path = self.file_for(key)
        try:
            payload = self.read_payload(path)
        except OSError:
            self.stats.misses += 1
            raise KeyError(key) from None
        if payload is None:
            self.stats.corrupt += 1
            self.stats.misses += 1
            _remove(path)
            raise KeyError(key)
        try:
            value = joblib.load(io.BytesIO(payload))
        except Exception:
            self.stats.corrupt += 1
            self.stats.misses += 1
            _remove(path)
            raise KeyError(key) from None
        try:
            os.utime(path)
        except OSError:
            pass
        self.stats.hits += 1
        self.stats.bytes_read += _HEAD + len(payload)
        return value

    def put(self, key: tuple, value: Any) -> bool:
        """Write ``value`` (joblib's pickle, streamed to the file); whether
        it was written (not when it cannot be pickled, or the disk is full)."""
        path = self.file_for(key)
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(bytes(_HEAD))  # the head, once the payload is written
                payload = _Digesting(f)
                joblib.dump(value, payload)
                f.seek(0)
                f.write(_MAGIC + payload.size.to_bytes(8, "little") + payload.digest())
                if self.durable:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except Exception as error:
            _remove(tmp)
            if not isinstance(error, OSError):
                self.stats.unpicklable += 1
            return False
        self.stats.bytes_written += _HEAD + payload.size
        if self.max_bytes is not None:
            self.trim(self.max_bytes)
        return True

    def has(self, key: tuple) -> bool:
        """Whether an entry for ``key`` is on disk (not read, not verified)."""
        return os.path.exists(self.file_for(key))

    @staticmethod
    def read_payload(path: str) -> bytes | None:
        """The entry's payload, if it is whole and intact (OSError when the
        file cannot be read)."""
        with open(path, "rb") as f:
            head = f.read(_HEAD)
            payload = f.read()
        if len(head) < _HEAD or not head.startswith(_MAGIC):
            return None
        size = int.from_bytes(head[len(_MAGIC) : len(_MAGIC) + 8], "little")
        if len(payload) != size:
            return None
        if hashlib.blake2b(payload, digest_size=32).digest() != head[-32:]:
            return None
        return payload

    def entries(self) -> list[tuple[str, int, float]]:
        out = []
        for root, _, files in os.walk(self.path):
            for name in files:
                if name.endswith(".joblib"):
                    full = os.path.join(root, name)
                    try:
                        st = os.stat(full)
                    except OSError:
                        continue
                    out.append((full, st.st_size, st.st_mtime))
        return out

    def size(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def trim(self, max_bytes: int) -> None:
        """Remove least recently used entries until the cache fits."""
        entries = sorted(self.entries(), key=lambda e: e[2])
        total = sum(size for _, size, _ in entries)
        for path, size, _ in entries:
            if total <= max_bytes:
                break
            _remove(path)
            total -= size
            self.stats.evicted += 1

    def clear(self) -> None:
        for path, _, _ in self.entries():
            _remove(path)


class Reuse:
    """What a batch's store asks of the caches of earlier batches.

    ``reusable(key)`` says whether a key may be read from or written to the
    caches (the frontend knows: lineage-keyed, seeded, hashable by content).
    The store tells it what it releases and how much it holds, so that the
    memory cache keeps what only it holds within the room the batches leave.
    """

    def __init__(self, memory: MemoryCache | None, disk: DiskCache | None, reusable):
        self.memory = memory
        self.disk = disk
        self.reusable = reusable
        self.held: set = set()  # keys this batch's store took or gave

    def lookup(self, key: tuple) -> tuple[bool, Any]:
        if not self.reusable(key):
            return False, None
        if self.memory is not None:
            try:
                value = self.memory.get(key)
            except KeyError:
                pass
            else:
                self.held.add(key)
                return True, value
        if self.disk is not None:
            try:
                value = self.disk.get(key)
            except KeyError:
                return False, None
            if self.memory is not None:
                self.memory.put(key, value, nbytes(value), cost=1.0)
                self.held.add(key)
            return True, value
        return False, None

    def offer(self, key: tuple, value: Any, size: int) -> None:
        if not self.reusable(key):
            return
        if self.memory is not None:
            self.memory.put(key, value, size, cost=None)
            self.held.add(key)
        if self.disk is not None:
            self.disk.put(key, value)

    def released(self, key: tuple) -> None:
        """The batch's store dropped ``key``."""
        if self.memory is not None and key in self.held:
            self.held.discard(key)
            self.memory.release(key)

    def fit(self, in_use: int, peak: int, limit: int | None = None) -> None:
        """The batch's store holds ``in_use`` bytes (``peak`` at most so far,
        within its budget ``limit``)."""
        if self.memory is not None:
            self.memory.fit(in_use, peak, limit)

    def shed(self, nbytes: int) -> int:
        """Free memory the batch does not need: ``MemoryCache.shed``."""
        return 0 if self.memory is None else self.memory.shed(nbytes)

    def close(self, peak: int, limit: int | None = None) -> None:
        """The batch ended: what it held is held by the cache alone."""
        for key in list(self.held):
            self.released(key)
        self.fit(0, peak, limit)

    def cost(self, key: tuple, seconds: float) -> None:
        """Record what computing ``key`` took; a fit's fitted state (stored
        under the same node and fold) costs as much as the fit."""
        if self.memory is None:
            return
        keys = [key]
        if len(key) == 4 and key[2] in ("train", None):
            keys.append((key[0], key[1], "state", None))
        for k in keys:
            entry = self.memory.entries.get(k)
            if entry is not None:
                entry.cost = max(entry.cost or 0.0, seconds)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
