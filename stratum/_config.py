"""Global configuration: ``set_config``, ``get_config``, ``config_context``.

Every option can also be set through an environment variable ``STRATUM_<NAME>``
(read once, at import time).
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

_ENGINES = ("stratum", "skrub")
_BACKENDS = ("sequential",)


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off")


def _defaults() -> dict[str, Any]:
    return {
        "engine": os.environ.get("STRATUM_ENGINE", "stratum").strip().lower(),
        "backend": os.environ.get("STRATUM_BACKEND", "sequential").strip().lower(),
        "native": _env_bool("STRATUM_NATIVE", True),
        "verbose": _env_bool("STRATUM_VERBOSE", False),
    }


_global_config = _defaults()
_local = threading.local()


def _current() -> dict[str, Any]:
    cfg = getattr(_local, "config", None)
    if cfg is None:
        cfg = _local.config = dict(_global_config)
    return cfg


def _check(name: str, value: Any) -> Any:
    if name == "engine" and value not in _ENGINES:
        raise ValueError(f"engine must be one of {_ENGINES}, got {value!r}")
    if name == "backend" and value not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {value!r}")
    if name in ("native", "verbose") and not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value


def get_config() -> dict[str, Any]:
    """Return a copy of the current stratum configuration.

    Returns
    -------
    dict
        ``engine`` ("stratum" or "skrub"), ``backend``, ``native``, ``verbose``.
    """
    return dict(_current())


def set_config(**options: Any) -> None:
    """Set stratum options for the current thread (and as the new default).

    Parameters
    ----------
    engine : {"stratum", "skrub"}
        Which engine runs ``make_grid_search``, ``make_randomized_search`` and
        ``cross_validate``. ``"skrub"`` restores plain skrub behaviour.
    backend : {"sequential"}
        The executor used by the stratum engine.
    native : bool
        Use the Rust kernels when they are available.
    verbose : bool
        Print what the engine does.
    """
    cfg = _current()
    for name, value in options.items():
        if name not in cfg:
            raise TypeError(f"Unknown stratum option {name!r}; known: {sorted(cfg)}")
        cfg[name] = _check(name, value)
        _global_config[name] = value


@contextlib.contextmanager
def config_context(**options: Any):
    """Temporarily change stratum options (see :func:`set_config`)."""
    cfg = _current()
    old = dict(cfg)
    for name, value in options.items():
        if name not in cfg:
            raise TypeError(f"Unknown stratum option {name!r}; known: {sorted(cfg)}")
        cfg[name] = _check(name, value)
    try:
        yield
    finally:
        cfg.clear()
        cfg.update(old)


for _name, _value in _global_config.items():
    _check(_name, _value)
