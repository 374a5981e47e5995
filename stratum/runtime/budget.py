"""One CPU budget for task parallelism and the libraries' own threads.

With ``n_jobs`` worker threads on ``cores`` cores, each worker lets BLAS and
OpenMP (scikit-learn, LightGBM, XGBoost) use ``cores // n_jobs`` threads, so
there are never more busy threads than cores. OpenMP's thread count is a
per-thread setting, hence the limit is applied in each worker when it starts;
the BLAS's own thread pool (OpenBLAS on pthreads, MKL, BLIS) is the process's,
set by the thread that runs the scheduler.

A *pinned* task (``Task.threads``: a step whose results depend on its thread
count) runs instead with ``LibraryThreads``: the counts the caller's thread
had when the run started, those plain skrub and ``n_jobs=1`` give every step.
"""

from __future__ import annotations

import contextlib
import os
import threading

from threadpoolctl import ThreadpoolController, threadpool_limits

from .._threads import (
    available_cores,
    set_thread_budget,
    thread_budget,
    thread_budget_scope,
)


def threads_per_worker(n_jobs: int) -> int:
    return max(1, available_cores() // max(1, n_jobs))


def _openmp_limit() -> int | None:
    """``OMP_NUM_THREADS`` as the user set it (its first level), if any."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def library_threads(n_threads: int) -> int:
    """The BLAS/OpenMP threads of a worker given ``n_threads`` cores: never
    more than the user's ``OMP_NUM_THREADS``."""
    limit = _openmp_limit()
    return n_threads if limit is None else min(n_threads, limit)


def limit_library_threads(n_threads: int, scoped: bool = False):
    """Limit BLAS/OpenMP threads (and no more than ``OMP_NUM_THREADS``), and
    stratum's kernels, of the calling thread to ``n_threads``.

    With ``scoped=True``, return a context manager restoring the previous
    limits on exit.
    """
    if scoped:
        return _scoped_limits(n_threads)
    set_thread_budget(n_threads)
    threadpool_limits(limits=library_threads(n_threads))
    return None


@contextlib.contextmanager
def _scoped_limits(n_threads: int):
    with thread_budget_scope(n_threads):
        if n_threads >= available_cores():
            yield
        else:
            with threadpool_limits(limits=library_threads(n_threads)):
                yield


def _per_thread(library) -> bool:
    """Whether a library's thread count belongs to the calling thread (OpenMP,
    and OpenBLAS built on OpenMP) rather than to the process (OpenBLAS's own
    pthreads pool, MKL, BLIS)."""
    return (
        library.user_api == "openmp"
        or getattr(library, "threading_layer", None) == "openmp"
    )


_worker = threading.local()


def limit_worker_thread(n_threads: int) -> None:
    """A worker thread's own share: stratum's kernels and the per-thread
    libraries (OpenMP) get ``n_threads`` (no more than ``OMP_NUM_THREADS``).
    The process's BLAS pool is left to the scheduler's thread, which limited
    it for the whole run (a worker thread starting while a pinned task runs
    must not take the pinned task's BLAS threads away)."""
    set_thread_budget(n_threads)
    limit = library_threads(n_threads)
    for library in ThreadpoolController().lib_controllers:
        if _per_thread(library):
            library.set_num_threads(limit)
    _worker.n_threads = n_threads


def worker_threads(n_threads: int) -> None:
    """``limit_worker_thread``, unless the calling thread has that share
    already (finding the libraries takes milliseconds)."""
    if getattr(_worker, "n_threads", None) != n_threads:
        limit_worker_thread(n_threads)


class LibraryThreads:
    """The thread counts a thread's libraries (BLAS, OpenMP, through
    threadpoolctl) have, to give them back to pinned tasks.

    Taken in the thread that calls ``Scheduler.run``, before the run limits
    anything: the counts plain skrub (and ``n_jobs=1``) gives every step.
    stratum's kernels give the same bits with any thread count; in a pinned
    task they get as many threads as its libraries (no more than the
    caller's budget for them). Picklable (a worker process applies the counts
    to its own libraries, found by path).
    """

    def __init__(self):
        libraries = ThreadpoolController().lib_controllers
        self.counts = {
            lib.filepath: count
            for lib in libraries
            if isinstance(count := lib.num_threads, int)
        }
        self.kernels = thread_budget()
        self._libraries = libraries

    def __getstate__(self) -> dict:
        return {"counts": self.counts, "kernels": self.kernels}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _libraries=None)

    @property
    def threads(self) -> int:
        """The most threads a pinned task may keep busy."""
        return max(self.counts.values(), default=self.kernels)

    def apply(self, per_thread: bool | None = None) -> list:
        """Give the libraries these counts: those whose count is the calling
        thread's (``per_thread=True``), the process's (False), or all (None).
        Returns what ``restore`` needs to undo it."""
        if self._libraries is None:  # unpickled: this process's libraries
            self._libraries = ThreadpoolController().lib_controllers
        previous = []
        for library in self._libraries:
            count = self.counts.get(library.filepath)
            if count is None or per_thread not in (None, _per_thread(library)):
                continue
            current = library.num_threads
            if current != count:
                library.set_num_threads(count)
                previous.append((library, current))
        return previous

    @contextlib.contextmanager
    def scope(self, per_thread: bool | None = None):
        """These counts in the calling thread (see ``apply``), and stratum's
        kernels' budget unless only the process's libraries are set."""
        previous = self.apply(per_thread)
        try:
            if per_thread is False:
                yield
            else:
                with thread_budget_scope(min(self.kernels, self.threads)):
                    yield
        finally:
            restore(previous)


def restore(previous: list) -> None:
    """Undo ``LibraryThreads.apply``."""
    for library, count in reversed(previous):
        library.set_num_threads(count)
