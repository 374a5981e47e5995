"""Global configuration: ``set_config``, ``get_config``, ``config_context``.

Every option can also be set through an environment variable ``STRATUM_<NAME>``
(read once, at import time).
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

from ._sizes import parse_bytes

_ENGINES = ("stratum", "skrub")
_BACKENDS = ("threads", "sequential", "processes", "ray")


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _env_float(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw and raw.lower() != "none" else None


def _defaults() -> dict[str, Any]:
    return {
        "engine": os.environ.get("STRATUM_ENGINE", "stratum").strip().lower(),
        "backend": os.environ.get("STRATUM_BACKEND", "threads").strip().lower(),
        "ray_address": os.environ.get("STRATUM_RAY_ADDRESS") or None,
        "ray_connect_timeout": _env_float("STRATUM_RAY_CONNECT_TIMEOUT") or 60.0,
        "n_jobs": _env_int("STRATUM_N_JOBS", -1),
        "timeout": _env_float("STRATUM_TIMEOUT"),
        "config_timeout": _env_float("STRATUM_CONFIG_TIMEOUT"),
        "progress": _env_bool("STRATUM_PROGRESS", True),
        "memory_budget": os.environ.get("STRATUM_MEMORY_BUDGET") or None,
        "reuse": _env_bool("STRATUM_REUSE", True),
        "cache_dir": os.environ.get("STRATUM_CACHE_DIR") or None,
        "cache_disk_budget": os.environ.get("STRATUM_CACHE_DISK_BUDGET") or None,
        "native": _env_bool("STRATUM_NATIVE", True),
        "model_sharing": _env_bool("STRATUM_MODEL_SHARING", True),
        "verbose": _env_bool("STRATUM_VERBOSE", False),
    }


_global_config = _defaults()
_local = threading.local()


def current_config() -> dict[str, Any]:
    cfg = getattr(_local, "config", None)
    if cfg is None:
        cfg = _local.config = dict(_global_config)
    return cfg


def check_option(name: str, value: Any) -> Any:
    if name == "engine" and value not in _ENGINES:
        raise ValueError(f"engine must be one of {_ENGINES}, got {value!r}")
    if name == "backend" and value not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {value!r}")
    if name in (
        "native",
        "model_sharing",
        "verbose",
        "progress",
        "reuse",
    ) and not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    if name == "n_jobs" and (value == 0 or not isinstance(value, (int, type(None)))):
        raise ValueError(f"n_jobs must be a non-zero int or None, got {value!r}")
    if name in ("memory_budget", "cache_disk_budget"):
        parse_bytes(value)
    if (
        name in ("timeout", "config_timeout", "ray_connect_timeout")
        and value is not None
        and value <= 0
    ):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return value


def _split(options: dict[str, Any]) -> tuple[dict, dict]:
    """Separate stratum's options from skrub's (forwarded to skrub)."""
    ours = {k: v for k, v in options.items() if k in _global_config}
    theirs = {k: v for k, v in options.items() if k not in _global_config}
    if theirs:
        import skrub

        unknown = set(theirs) - set(skrub.get_config())
        if unknown:
            raise TypeError(
                f"Unknown option(s) {sorted(unknown)}; stratum options: "
                f"{sorted(_global_config)}, skrub options: {sorted(skrub.get_config())}"
            )
    return ours, theirs


def get_config() -> dict[str, Any]:
    """Return the current configuration: skrub's options plus stratum's.

    Returns
    -------
    dict
        skrub's options, plus ``engine`` ("stratum" or "skrub"), ``backend``,
        ``native`` and ``verbose``.
    """
    import skrub

    return {**skrub.get_config(), **current_config()}


def set_config(**options: Any) -> None:
    """Set stratum options for the current thread (and as the new default).

    Options that are not stratum's are forwarded to ``skrub.set_config``.

    Parameters
    ----------
    engine : {"stratum", "skrub"}
        Which engine runs ``make_grid_search``, ``make_randomized_search`` and
        ``cross_validate``. ``"skrub"`` restores plain skrub behaviour.
    backend : {"threads", "sequential", "processes", "ray"}
        The executor used by the stratum engine ("sequential" ignores n_jobs;
        "processes" runs tasks in ``n_jobs`` worker processes; "ray" on a Ray
        cluster, see ``ray_address``).
    ray_address : str or None
        With ``backend="ray"``: the cluster to connect to ("auto": the one
        ``ray start`` last started on this machine, "host:port",
        "ray://host:port"); None: the one this process is connected to, else
        a new local Ray of its own (never another process's cluster: neither
        the address file a cluster leaves behind nor ``RAY_ADDRESS`` is
        followed).
    ray_connect_timeout : float
        Seconds to connect to (or start) Ray before failing with an error
        naming the address (default 60).
    n_jobs : int or None
        Tasks run at once by ``stratum.search``, ``stratum run`` and ``stratum
        serve`` (scikit-learn's convention; the default -1: all cores). The
        libraries' own threads (BLAS, OpenMP) share the same cores; steps
        whose results depend on their thread count keep plain skrub's, so
        results do not depend on ``n_jobs``. The skrub drop-in uses each
        search's own ``n_jobs`` (None: 1), as skrub does.
    timeout : float or None
        Seconds for a whole batch; what has not started by then fails.
    config_timeout : float or None
        Seconds of task time per configuration; past it the configuration is
        marked timed out and its remaining tasks are skipped.
    progress : bool
        Show a progress line on a terminal for batches longer than 2 seconds.
    memory_budget : int, str or None
        Bytes ("4GB", "512MiB") the intermediates of a batch may hold in memory;
        past it the largest are spilled to local disk and read back when needed
        (same results). None: half of the memory available when a batch starts.
    reuse : bool
        Reuse results of earlier batches of the current :class:`Session`.
    cache_dir : str or None
        Keep reusable results on disk there too, across processes and runs.
    cache_disk_budget : int, str or None
        Size cap of that disk cache.
    native : bool
        Use the Rust kernels when they are available.
    model_sharing : bool
        Share work inside model fits: configurations of a boosted model or a
        forest that differ only in their number of rounds (``n_estimators``,
        ``max_iter``) are fitted once, at the largest, and the others take its
        first rounds; configurations of a ``Ridge``/``RidgeClassifier`` that
        differ only in ``alpha`` compute the centred ``X^T X`` once per fold
        and each solve their own ``alpha`` from it (the same model as a direct
        fit, bit for bit).
    verbose : bool
        Print what the engine does.
    """
    ours, theirs = _split(options)
    if theirs:
        import skrub

        skrub.set_config(**theirs)
    cfg = current_config()
    for name, value in ours.items():
        cfg[name] = check_option(name, value)
        _global_config[name] = value


@contextlib.contextmanager
def config_context(**options: Any):
    """Temporarily change options (stratum's and skrub's, see :func:`set_config`)."""
    import skrub

    ours, theirs = _split(options)
    cfg = current_config()
    old = dict(cfg)
    for name, value in ours.items():
        cfg[name] = check_option(name, value)
    try:
        with skrub.config_context(**theirs):
            yield
    finally:
        cfg.clear()
        cfg.update(old)


for _name, _value in _global_config.items():
    check_option(_name, _value)
