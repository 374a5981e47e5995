"""Run child processes, measuring wall time and peak memory (stdlib only).

Each child is reaped with ``os.wait4``, which returns its own resource usage:
``ru_maxrss`` is the child's peak resident set size (including its own reaped
children's). When several children run at once (or a child starts workers,
like joblib's), the peak of the machine is the sum of what runs together, so a
sampler also adds up the resident sets of the whole process tree every
``SAMPLE_SECONDS`` (from ``/proc``, where there is one). The tree's sum
counts each process's proportional set size where the kernel gives it (a page
shared by forked processes counts once in all, not once per process): the
memory the tree takes from the machine. The reported peak is the larger of
the two: exact for one process, a sampled lower bound for several.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..runtime.contention import busy_seconds as machine_busy_seconds

SAMPLE_SECONDS = 0.2
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# ru_maxrss is in kilobytes on Linux, bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024


@dataclass
class Job:
    """One command to run: argv, and files for its stdout and stderr."""

    argv: list
    stdout: Path
    stderr: Path
    tag: object = None


@dataclass
class Done:
    job: Job
    returncode: int | None
    start: float
    end: float
    maxrss: int  # bytes
    timed_out: bool = False
    cpu_seconds: float = 0.0  # user + system, the child and its reaped children

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def output(self) -> str:
        return self.job.stdout.read_text(errors="replace")

    def errors(self) -> str:
        return self.job.stderr.read_text(errors="replace")


@dataclass
class RunReport:
    done: list = field(default_factory=list)
    seconds: float = 0.0
    peak_rss: int = 0  # bytes
    timed_out: bool = False
    cpu_seconds: float = 0.0  # used by the jobs (user + system)
    machine_busy_seconds: float | None = None  # used by every process meanwhile

    @property
    def other_cores(self) -> float | None:
        """Cores kept busy by other processes meanwhile, on average: how
        contended the machine was (0 on an idle machine)."""
        if self.machine_busy_seconds is None or self.seconds <= 0:
            return None
        return max(0.0, self.machine_busy_seconds - self.cpu_seconds) / self.seconds


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may contain spaces and parentheses.
        ppid = int(stat[stat.rfind(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def _resident(pid: int) -> int:
    """A process's proportional set size (its resident set, shared pages
    divided among the processes sharing them), else its resident set."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(roots) -> int:
    """Memory of the processes ``roots`` and all their descendants (their
    proportional set sizes, see ``_resident``)."""
    if not os.path.isdir("/proc"):
        return 0
    children = _children_map()
    total, stack, seen = 0, list(roots), set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        stack.extend(children.get(pid, ()))
        total += _resident(pid)
    return total


def run_jobs(
    jobs: list[Job],
    *,
    parallel: int = 1,
    env: dict | None = None,
    timeout: float | None = None,
) -> RunReport:
    """Run ``jobs``, at most ``parallel`` at a time, in order of the list.

    Stops launching and kills what runs once ``timeout`` seconds have passed
    since the first launch (the report then says ``timed_out``).
    """
    report = RunReport()
    pending = list(jobs)
    running: dict[int, tuple[subprocess.Popen, Job, float]] = {}
    busy_start = machine_busy_seconds()
    start = time.perf_counter()
    next_sample = start
    try:
        while pending or running:
            now = time.perf_counter()
            if timeout is not None and now - start > timeout:
                report.timed_out = True
                pending.clear()
                for pid, (proc, job, t0) in running.items():
                    _kill(proc)
            while pending and len(running) < parallel and not report.timed_out:
                job = pending.pop(0)
                with open(job.stdout, "wb") as out, open(job.stderr, "wb") as err:
                    proc = subprocess.Popen(
                        job.argv,
                        stdout=out,
                        stderr=err,
                        env=env,
                        start_new_session=True,
                    )
                running[proc.pid] = (proc, job, time.perf_counter())
            for pid in list(running):
                got, status, usage = os.wait4(pid, os.WNOHANG)
                if got == 0:
                    continue
                end = time.perf_counter()
                proc, job, t0 = running.pop(pid)
                proc.returncode = os.waitstatus_to_exitcode(status)
                cpu = usage.ru_utime + usage.ru_stime
                report.cpu_seconds += cpu
                report.done.append(
                    Done(
                        job,
                        proc.returncode,
                        t0 - start,
                        end - start,
                        usage.ru_maxrss * _MAXRSS_UNIT,
                        report.timed_out,
                        cpu,
                    )
                )
                report.peak_rss = max(report.peak_rss, usage.ru_maxrss * _MAXRSS_UNIT)
            if running and time.perf_counter() >= next_sample:
                report.peak_rss = max(report.peak_rss, tree_rss(running))
                next_sample = time.perf_counter() + SAMPLE_SECONDS
            if running:
                time.sleep(0.01)
    finally:
        for proc, _, _ in running.values():
            _kill(proc)
            proc.wait()
    report.seconds = time.perf_counter() - start
    busy_end = machine_busy_seconds()
    if busy_start is not None and busy_end is not None:
        report.machine_busy_seconds = busy_end - busy_start
    return report


def _kill(proc: subprocess.Popen) -> None:
    """Kill the child and everything it started (its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
