"""The memo of ``stratum run`` / ``stratum.memoize()``: results of estimator
calls by content key, shared by every script of a run (and by later runs
through the disk cache), each computed by one caller at a time.

A value is an opaque payload (the caller's pickle of a fitted estimator or
of an output). A caller asking for a key gets one of

``hit``
    it is stored (with the seconds it took and which client computed it);
``prefix``
    a member of the key's *family* with at least the rounds asked for is
    stored (the caller takes the first rounds of it, ``lower/ensembles``);
``compute``
    nobody has it: the caller computes it and must ``put`` or ``drop`` it;
    until then, others asking for it are told to wait;
``wait``
    another client is computing it: ask again shortly;
``compute-alone``
    another client is computing it but waits, through a chain of waits, for
    this caller: computing it here (without claiming it) breaks the cycle.

Under ``stratum run`` the payloads stay out of this store's process: a
script writes what it computed to the disk cache itself (``put`` with no
payload) and is told the key of an entry to read (``get(read=False)``).

A client is ``(name, thread)``: each thread of a script can own keys.
``release(name)`` gives up what a script owned when it ends, so that its
waiters compute instead.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from .cache import DiskCache, MemoryCache

_FAMILIES = "memo-families"  # disk entry: family key -> {rounds: key}


@dataclass(frozen=True)
class Answer:
    """What ``MemoStore.get`` says (see the module docstring)."""

    status: str
    payload: bytes | None = None
    seconds: float = 0.0  # what computing the payload took
    origin: str | None = None
    # Asked not to read the disk: the key whose entry holds the payload
    # (``payload`` is then None, and ``seconds`` known only for this run's).
    stored: str | None = None


@dataclass
class MemoStats:
    """What the memo served and stored."""

    hits: int = 0
    prefixes: int = 0
    computed: int = 0
    dropped: int = 0
    waits: int = 0
    bytes_stored: int = 0
    origins: dict = field(default_factory=dict)  # key -> client name (this run)


# Payload bytes a memo keeps in memory; past them the least valuable go to a
# spill directory (or only to ``disk``), or are dropped when recomputing them
# is faster than reading them back (``MemoryCache``).
MEMORY_BYTES = 64 << 20


class MemoStore:
    """Payloads by key in memory (within ``memory_bytes``) and, when
    ``disk`` is given, on disk; who is computing what."""

    def __init__(self, memory_bytes: int = MEMORY_BYTES, disk: DiskCache | None = None):
        self.memory = MemoryCache(memory_bytes)
        self.memory.backed_by_disk = disk is not None
        self.disk = disk
        self.lock = threading.Lock()
        self.owners: dict[str, tuple] = {}  # key -> client computing it
        self.waiting: dict[tuple, str] = {}  # client -> key it waits for
        self.families: dict[str, dict[int, str]] = {}
        self.seconds: dict[str, float] = {}  # key -> compute seconds (this run)
        self.stats = MemoStats()

    # -- asking ------------------------------------------------------------------
    def get(
        self,
        client: tuple,
        key: str,
        family: str | None = None,
        rounds: int | None = None,
        read: bool = True,
    ) -> Answer:
        """The answer for ``key`` (see the module docstring); with ``read``
        False, a payload only on disk is not read: the answer names its key
        (the caller reads it, ``stored``)."""
        with self.lock:
            found = self._find(key, read)
            if found is not None:
                self.waiting.pop(client, None)
                self.stats.hits += 1
                return self._answer("hit", key, found)
            if family is not None:
                source = self._larger_member(family, rounds)
                found = None if source is None else self._find(source, read)
                if found is not None:
                    self.waiting.pop(client, None)
                    self.stats.prefixes += 1
                    return self._answer("prefix", source, found)
            owner = self.owners.get(key)
            if owner is None:
                self.waiting.pop(client, None)
                self.owners[key] = client
                return Answer("compute")
            if owner == client or self._waits_for(owner, client):
                self.waiting.pop(client, None)
                return Answer("compute-alone", origin=owner[0])
            self.waiting[client] = key
            self.stats.waits += 1
            return Answer("wait", origin=owner[0])

    def _waits_for(self, start: tuple, client: tuple) -> bool:
        """Whether ``start`` waits, through owners, for ``client``."""
        seen = set()
        current = start
        while current not in seen:
            seen.add(current)
            key = self.waiting.get(current)
            if key is None:
                return False
            current = self.owners.get(key)
            if current is None:
                return False
            if current == client:
                return True
        return False

    # -- answering ---------------------------------------------------------------
    def put(
        self,
        client: tuple,
        key: str,
        payload: bytes | None,
        seconds: float,
        family: str | None = None,
        rounds: int | None = None,
        nbytes: int = 0,
    ) -> None:
        """Store ``payload`` (it took ``seconds`` to compute) and give up the
        claim on ``key``. ``payload`` None: the caller has written it to the
        disk (``nbytes`` of it) as ``_find`` reads it."""
        with self.lock:
            if payload is not None:
                nbytes = len(payload)
                value = (payload, seconds)
                self.memory.put(("memo", key), value, nbytes, cost=seconds)
                if self.disk is not None:
                    self.disk.put(("memo", key), value)
            self.seconds[key] = seconds
            if family is not None and rounds is not None:
                members = self._members(family)
                members[rounds] = key
                if self.disk is not None:
                    self.disk.put((_FAMILIES, family), dict(members))
            self.stats.computed += 1
            self.stats.bytes_stored += nbytes
            self.stats.origins[key] = client[0]
            if self.owners.get(key) == client:
                del self.owners[key]

    def drop(self, client: tuple, key: str) -> None:
        """Give up the claim on ``key`` without a value (the call failed or
        turned out not to be shareable)."""
        with self.lock:
            if self.owners.get(key) == client:
                del self.owners[key]
                self.stats.dropped += 1

    def release(self, name: str) -> None:
        """Give up every claim of client ``name`` (a script that ended)."""
        with self.lock:
            for key, owner in list(self.owners.items()):
                if owner[0] == name:
                    del self.owners[key]
            for client in [c for c in self.waiting if c[0] == name]:
                del self.waiting[client]

    # -- storage -----------------------------------------------------------------
    def _answer(self, status: str, key: str, found: tuple) -> Answer:
        payload, seconds = found
        stored = key if payload is None else None
        return Answer(status, payload, seconds, self._origin(key), stored)

    def _find(self, key: str, read: bool) -> tuple[bytes | None, float] | None:
        """``key``'s (payload, seconds), from memory or disk; None if
        neither has it. Without ``read``, one only on disk is (None, seconds
        if known)."""
        try:
            return self.memory.get(("memo", key))
        except KeyError:
            pass
        if self.disk is None:
            return None
        if not read:
            if not self.disk.has(("memo", key)):
                return None
            return None, self.seconds.get(key, 0.0)
        try:
            value = self.disk.get(("memo", key))
        except KeyError:
            return None
        self.memory.put(("memo", key), value, len(value[0]), cost=value[1])
        return value

    def _members(self, family: str) -> dict[int, str]:
        members = self.families.get(family)
        if members is None:
            members = {}
            if self.disk is not None:
                try:
                    members = dict(self.disk.get((_FAMILIES, family)))
                except KeyError:
                    pass
            self.families[family] = members
        return members

    def _larger_member(self, family: str, rounds: int | None) -> str | None:
        if rounds is None:
            return None
        larger = [r for r in self._members(family) if r > rounds]
        return self._members(family)[min(larger)] if larger else None

    def _origin(self, key: str) -> str:
        return self.stats.origins.get(key, "an earlier run")


@dataclass
class MemoReport:
    """What one client's calls (one script's, or one ``memoize()`` block's)
    got from the memo: ``stratum run --explain`` prints it."""

    reused: Counter = field(default_factory=Counter)  # label -> calls
    prefixes: Counter = field(default_factory=Counter)  # label -> calls
    origins: Counter = field(default_factory=Counter)  # who computed them
    computed: Counter = field(default_factory=Counter)  # label -> calls
    not_shared: Counter = field(default_factory=Counter)  # (label, why) -> calls
    saved_seconds: float = 0.0  # what the reused calls took when computed
    computed_seconds: float = 0.0
    key_seconds: float = 0.0  # computing the calls' keys
    waits: int = 0

    def answered(self, label: str, answer: Answer, key_seconds: float) -> None:
        self.key_seconds += key_seconds
        if answer.status in ("hit", "prefix"):
            self.reused[label] += 1
            if answer.status == "prefix":
                self.prefixes[label] += 1
            self.origins[answer.origin] += 1
            self.saved_seconds += answer.seconds
        elif answer.status == "wait":
            self.waits += 1

    def stored(self, label: str, seconds: float) -> None:
        self.computed[label] += 1
        self.computed_seconds += seconds

    def refused(self, label: str, why: str) -> None:
        self.not_shared[(label, why)] += 1

    def totals(self) -> dict:
        """The report in numbers (and its lines), for JSON."""
        return {
            "reused": sum(self.reused.values()),
            "prefixes": sum(self.prefixes.values()),
            "computed": sum(self.computed.values()),
            "not_shared": sum(self.not_shared.values()),
            "saved_seconds": self.saved_seconds,
            "computed_seconds": self.computed_seconds,
            "key_seconds": self.key_seconds,
            "lines": self.lines(),
        }

    def lines(self) -> list[str]:
        """One line per kind of call and outcome."""
        out = []
        if self.reused:
            origins = ", ".join(f"{n} from {o}" for o, n in self.origins.most_common())
            out.append(
                f"reused {sum(self.reused.values())} call(s) ({origins}) that took "
                f"{self.saved_seconds:.2f}s: {_counts(self.reused)}"
            )
            if self.prefixes:
                out.append(
                    "  of which the first rounds of a larger fit: "
                    + _counts(self.prefixes)
                )
        if self.computed:
            out.append(
                f"computed and stored {sum(self.computed.values())} call(s) in "
                f"{self.computed_seconds:.2f}s: {_counts(self.computed)}"
            )
        for (label, why), n in sorted(self.not_shared.items()):
            out.append(f"not shared: {label} x{n}: {why}")
        if self.waits:
            out.append(
                f"waited {self.waits} time(s) for a fit another script was running"
            )
        out.append(f"content keys took {self.key_seconds:.3f}s")
        return out


def _counts(counter: Counter) -> str:
    return ", ".join(f"{label} x{n}" for label, n in sorted(counter.items()))
