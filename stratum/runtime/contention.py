"""How many cores other processes leave free, to size the libraries' pools.

OpenMP (LightGBM, XGBoost, HistGradientBoosting) splits each parallel region
evenly between its threads and waits, spinning first, for the slowest. When
another process keeps a core busy, the thread sharing that core runs at half
speed or less and every region waits for it, while its siblings spin on the
cores that are left: a 2-thread LightGBM fit next to one busy core ran 20x
slower than alone. So a task starting gets for its per-thread libraries
(OpenMP, stratum's kernels, LightGBM's own count: ``runtime.lightgbm_threads``;
with one worker, BLAS too) no more threads than its share of the cores other
processes leave free, measured from ``/proc/stat`` over the last half second,
this process's own CPU time left out (``Scheduler``). A task whose results
depend on its thread count (pinned, ``lower.threads``) keeps the counts plain
skrub gives it.

Where ``/proc/stat`` cannot be read the machine is taken as quiet.
"""

from __future__ import annotations

import os
import threading
import time

from .._threads import available_cores

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def busy_seconds(cpus: set[int] | None = None) -> float | None:
    """CPU seconds spent busy (not idle, not waiting for I/O) since boot on
    the CPUs ``cpus`` (None: all), steal time included: a hypervisor's
    other guests take the core too."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    busy = 0
    for line in lines:
        name, *fields = line.split() or [""]
        if cpus is None:
            wanted = name == "cpu"  # the machine's total
        else:
            number = name[3:]
            wanted = name[:3] == "cpu" and number.isdigit() and int(number) in cpus
        if not wanted:
            continue
        values = [int(v) for v in fields[:8]]
        busy += sum(values) - values[3] - values[4]  # less idle and iowait
    return busy / _TICKS


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system


class CpuLoad:
    """Cores kept busy by other processes, averaged over at least ``window``
    seconds (the first answer, and the first after ``stale`` seconds without
    a question, waits for ``first`` seconds of data);
    ``free_cores`` is what this process may keep busy without sharing a core
    with them."""

    def __init__(self, window: float = 0.5, first: float = 0.1, stale: float = 5.0):
        self.window = window
        self.first = first
        self.stale = stale
        self.lock = threading.Lock()
        affinity = getattr(os, "sched_getaffinity", None)
        self.cpus = set(affinity(0)) if affinity is not None else None
        self.count = len(self.cpus) if self.cpus else (os.cpu_count() or 1)
        self._last = self._sample()
        self._others: float | None = None

    def _sample(self) -> tuple | None:
        busy = busy_seconds(self.cpus)
        if busy is None:
            return None
        return time.monotonic(), busy, _own_seconds()

    def others(self) -> float:
        """Cores other processes kept busy in the last window (or more)."""
        with self.lock:
            if self._last is None:
                return 0.0
            if time.monotonic() - self._last[0] > self.stale:
                # an average over so long says little about now: start over
                self._last, self._others = self._sample(), None
                if self._last is None:
                    return 0.0
            elapsed = time.monotonic() - self._last[0]
            if self._others is None and elapsed < self.first:
                time.sleep(self.first - elapsed)
                elapsed = self.first
            if self._others is None or elapsed >= self.window:
                sample = self._sample()
                if sample is not None:
                    wall = sample[0] - self._last[0]
                    busy = sample[1] - self._last[1]
                    own = sample[2] - self._last[2]
                    self._others = min(self.count, max(0.0, (busy - own) / wall))
                    self._last = sample
            return self._others or 0.0

    def free_cores(self) -> int:
        """The cores of this process's share that other processes leave
        free (at least one)."""
        free = self.count - round(self.others())
        return max(1, min(available_cores(), free))


_process_load: CpuLoad | None = None
_process_load_lock = threading.Lock()


def process_load() -> CpuLoad:
    """The process's ``CpuLoad``, measuring since its first use."""
    global _process_load
    with _process_load_lock:
        if _process_load is None:
            _process_load = CpuLoad()
        return _process_load
