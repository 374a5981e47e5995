"""What the benchmarks share: the best of a few timed runs, one run's wall
and CPU time, a kernel timed with a thread budget of 1 and of 2 and checked
against its reference (``kernels_*.py``), and the Markdown table they print.

Imported by those scripts as ``timing`` (run as ``python benchmarks/...``,
their own folder is first on ``sys.path``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

from stratum._threads import thread_budget_scope

THREADS = (1, 2)


class Timing(NamedTuple):
    seconds: float  # best wall-clock time
    cpu_seconds: float  # best process CPU time
    out: Any  # what the last run returned


def timed(run: Callable[[], Any]) -> tuple[Any, float, float]:
    """``run()``'s value, wall-clock seconds and process CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = run()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def best_time(make: Callable[[], Any], run: Callable[[Any], Any], repeat: int):
    """Best wall-clock and process CPU time of ``repeat`` runs of
    ``run(make())``; only ``run`` is timed (``make`` gives a fresh estimator)."""
    best, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        est = make()
        start, start_cpu = time.perf_counter(), time.process_time()
        out = run(est)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
        best = min(best, time.perf_counter() - start)
    return Timing(best, best_cpu, out)


def time_native(
    make: Callable[[], Any],
    run: Callable[[Any], Any],
    repeat: int,
    reference_out,
    same: Callable[[Any, Any], bool],
    mismatch: str,
) -> dict[int, Timing]:
    """``best_time`` of the kernel with a thread budget of 1 and of 2, each
    output checked ``same(out, reference_out)`` before its time is reported
    (``AssertionError(mismatch)`` otherwise)."""
    timings = {}
    for threads in THREADS:
        with thread_budget_scope(threads):
            timing = best_time(make, run, repeat)
        if not same(timing.out, reference_out):
            raise AssertionError(mismatch)
        timings[threads] = timing
    return timings


def print_header(header: str) -> None:
    """A Markdown table's header, ``header`` its cells separated by ``|``:
    the first column left-aligned, the others (numbers) right-aligned."""
    print(f"| {header} |")
    print("|---|" + "---:|" * header.count("|"))


def speedup_row(label: str, rows: int, reference: Timing, native: dict) -> str:
    """``| label | rows | reference s | 1 thread s | speedup | 2 threads s |
    speedup |`` (wall clock)."""
    ref, one, two = reference.seconds, native[1].seconds, native[2].seconds
    return (
        f"| {label} | {rows:,} | {ref:.4f} | {one:.4f} | "
        f"{ref / one:.1f}x | {two:.4f} | {ref / two:.1f}x |"
    )


def timing_fields(reference: Timing, native: dict) -> dict:
    """A result row's times: ``reference_s``, ``reference_cpu_s``, and
    ``native_{threads}t_s`` and ``native_{threads}t_cpu_s`` per thread count."""
    fields = {
        "reference_s": reference.seconds,
        "reference_cpu_s": reference.cpu_seconds,
    }
    for threads, timing in native.items():
        fields[f"native_{threads}t_s"] = timing.seconds
        fields[f"native_{threads}t_cpu_s"] = timing.cpu_seconds
    return fields


def ratio_cells(row: dict, seconds: str, ratio: str) -> str:
    """The cells ``reference s | 1 thread s | ratio | CPU-time ratio |
    2 threads s | ratio |`` of a row with ``timing_fields``, kernel seconds and
    ratios in the formats ``seconds`` and ``ratio``."""
    ref, ref_cpu = row["reference_s"], row["reference_cpu_s"]
    one, two = row["native_1t_s"], row["native_2t_s"]
    return (
        f"{ref:.3f} | {one:{seconds}} | {ref / one:{ratio}}x "
        f"| {ref_cpu / row['native_1t_cpu_s']:{ratio}}x "
        f"| {two:{seconds}} | {ref / two:{ratio}}x |"
    )
