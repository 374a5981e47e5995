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

from .sizes import nbytes

_MAGIC = b"STRATUM1"


def _versions() -> str:
    import numpy
    import pandas
    import sklearn
    import skrub

    return "|".join(
        [
            sys.version.split()[0],
            numpy.__version__,
            pandas.__version__,
            sklearn.__version__,
            skrub.__version__,
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

    def as_dict(self) -> dict:
        return dict(vars(self))


@dataclass
class _Entry:
    value: Any
    nbytes: int
    cost: float
    used: float


class MemoryCache:
    """Values of earlier batches, within ``budget`` bytes."""

    def __init__(self, budget: int):
        self.budget = budget
        self.entries: dict[tuple, _Entry] = {}
        self.bytes = 0
        self.stats = CacheStats()
        self.lock = threading.Lock()

    def get(self, key: tuple) -> Any:
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                self.stats.misses += 1
                raise KeyError(key)
            entry.used = time.monotonic()
            self.stats.hits += 1
            return entry.value

    def put(self, key: tuple, value: Any, nbytes: int, cost: float) -> None:
        if nbytes > self.budget:
            return
        with self.lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.bytes -= old.nbytes
                cost = max(cost, old.cost)
            self.entries[key] = _Entry(value, nbytes, cost, time.monotonic())
            self.bytes += nbytes
            self._evict()

    def _evict(self) -> None:
        if self.bytes <= self.budget:
            return
        ranked = sorted(
            self.entries.items(),
            key=lambda kv: (kv[1].cost / max(kv[1].nbytes, 1), kv[1].used),
        )
        for key, entry in ranked:
            if self.bytes <= self.budget:
                break
            del self.entries[key]
            self.bytes -= entry.nbytes
            self.stats.evicted += 1

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.bytes = 0


class DiskCache:
    """Values on local disk, shared by processes, within ``max_bytes``."""

    def __init__(self, path: str | os.PathLike, max_bytes: int | None = None):
        self.path = os.path.abspath(os.fspath(path))
        os.makedirs(self.path, exist_ok=True)
        self.max_bytes = max_bytes
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
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            self.stats.misses += 1
            raise KeyError(key) from None
        payload = self._verify(data)
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
        self.stats.bytes_read += len(data)
        return value

    def put(self, key: tuple, value: Any) -> None:
        buffer = io.BytesIO()
        try:
            joblib.dump(value, buffer)
        except Exception:
            self.stats.unpicklable += 1
            return
        payload = buffer.getvalue()
        digest = hashlib.blake2b(payload, digest_size=32).digest()
        data = _MAGIC + len(payload).to_bytes(8, "little") + digest + payload
        path = self.file_for(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError:
            _remove(tmp)
            return
        self.stats.bytes_written += len(data)
        if self.max_bytes is not None:
            self.trim(self.max_bytes)

    @staticmethod
    def _verify(data: bytes) -> bytes | None:
        head = len(_MAGIC) + 8 + 32
        if len(data) < head or not data.startswith(_MAGIC):
            return None
        size = int.from_bytes(data[len(_MAGIC) : len(_MAGIC) + 8], "little")
        digest = data[len(_MAGIC) + 8 : head]
        payload = data[head:]
        if len(payload) != size:
            return None
        if hashlib.blake2b(payload, digest_size=32).digest() != digest:
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
    """

    def __init__(self, memory: MemoryCache | None, disk: DiskCache | None, reusable):
        self.memory = memory
        self.disk = disk
        self.reusable = reusable

    def lookup(self, key: tuple) -> tuple[bool, Any]:
        if not self.reusable(key):
            return False, None
        if self.memory is not None:
            try:
                return True, self.memory.get(key)
            except KeyError:
                pass
        if self.disk is not None:
            try:
                value = self.disk.get(key)
            except KeyError:
                return False, None
            if self.memory is not None:
                self.memory.put(key, value, nbytes(value), cost=1.0)
            return True, value
        return False, None

    def offer(self, key: tuple, value: Any, size: int) -> None:
        if not self.reusable(key):
            return
        if self.memory is not None:
            self.memory.put(key, value, size, cost=0.0)
        if self.disk is not None:
            self.disk.put(key, value)

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
                entry.cost = max(entry.cost, seconds)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
