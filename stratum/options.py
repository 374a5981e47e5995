"""``ExecutionOptions``: how one batch runs, decided once and passed down.

Built by :meth:`ExecutionOptions.resolve` from the current configuration
(``stratum.set_config``) and the call's own arguments; every layer below the
caller reads this object, never the global configuration. Values are
resolved when the options are built: ``n_jobs`` is a count of worker slots
(``-1`` became the available cores), ``memory_budget`` a number of bytes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ._config import check_option, current_config
from ._sizes import default_budget, parse_bytes
from ._threads import effective_n_jobs


@dataclass(frozen=True)
class ExecutionOptions:
    """How a batch runs (see :func:`stratum.set_config` for each option).

    Attributes
    ----------
    backend : {"threads", "sequential", "processes", "ray"}
    ray_address : str or None
    ray_connect_timeout : float
    n_jobs : int
        Tasks run at once, at least 1 (1 with ``backend="sequential"``; with
        ``backend="ray"``, 1 for all cores: as many as the cluster has CPUs).
    timeout, config_timeout : float or None
        Seconds for the whole batch, seconds of task time per configuration.
    progress : bool
    memory_budget : int
        Bytes the batch's intermediates may hold before spilling.
    native : bool
        Whether steps may run on stratum's native kernels.
    model_sharing : bool
        Whether work is shared inside model fits (ensemble prefixes,
        a ridge model's X^T X across alpha values).
    """

    backend: str = "threads"
    ray_address: str | None = None
    ray_connect_timeout: float = 60.0
    n_jobs: int = 1
    timeout: float | None = None
    config_timeout: float | None = None
    progress: bool = False
    memory_budget: int = 8 * 2**30
    native: bool = True
    model_sharing: bool = True

    @classmethod
    def resolve(cls, **overrides: Any) -> ExecutionOptions:
        """The current configuration, with the non-None ``overrides``."""
        config = current_config()
        values = {f.name: config[f.name] for f in dataclasses.fields(cls)}
        for name, value in overrides.items():
            if name not in values:
                raise TypeError(f"{name!r} is not an execution option")
            if value is not None:
                values[name] = check_option(name, value)
        if values["backend"] == "sequential":
            values["n_jobs"] = 1
        if values["backend"] == "ray" and (values["n_jobs"] or 1) < 0:
            values["n_jobs"] = 1  # as many tasks in flight as the cluster has CPUs
        values["n_jobs"] = effective_n_jobs(values["n_jobs"])
        budget = values["memory_budget"]
        values["memory_budget"] = parse_bytes(budget) if budget else default_budget()
        return cls(**values)

    def replace(self, **changes: Any) -> ExecutionOptions:
        """A copy with ``changes`` (already resolved values)."""
        return dataclasses.replace(self, **changes)


__all__ = ["ExecutionOptions"]
