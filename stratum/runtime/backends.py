"""The executor for a backend name: threads, processes or a Ray cluster."""

from __future__ import annotations

from ..options import ExecutionOptions
from .processes import ProcessScheduler
from .ray_backend import RayScheduler
from .scheduler import Executor, Scheduler


def make_executor(options: ExecutionOptions) -> Executor:
    """The executor ``options.backend`` names, with the options' limits."""
    common = dict(
        n_jobs=options.n_jobs,
        timeout=options.timeout,
        config_timeout=options.config_timeout,
        progress=options.progress,
    )
    if options.backend in ("sequential", "threads"):
        return Scheduler(**common)
    if options.backend == "processes":
        return ProcessScheduler(**common)
    if options.backend == "ray":
        return RayScheduler(
            ray_address=options.ray_address,
            connect_timeout=options.ray_connect_timeout,
            **common,
        )
    raise ValueError(f"Unknown backend {options.backend!r}")
