"""stratum: fast batched execution of skrub DataOps pipelines.

``import stratum as skrub`` is a drop-in for skrub: every public skrub name is
available here, and skrub's searches and cross-validation run on stratum's
engine (``set_config(engine="skrub")`` switches back). stratum's own API:
:func:`search` (a batch of pipelines in one call), :func:`explain`,
:func:`set_config` / :func:`get_config` / :func:`config_context`.
"""

from __future__ import annotations

import skrub as _skrub
from skrub import *  # noqa: F403  (the drop-in: every public skrub name)

from ._config import config_context, get_config, set_config  # noqa: F401
from .frontend.dropin import StratumFallbackWarning  # noqa: F401
from .frontend.dropin import install as _install
from .search import BatchSearch, explain, search  # noqa: F401
from .session import Session  # noqa: F401

__version__ = "0.1.0"

_install()

_STRATUM_API = [
    "BatchSearch",
    "Client",
    "Session",
    "StratumFallbackWarning",
    "config_context",
    "explain",
    "get_config",
    "search",
    "set_config",
]
_SKRUB_API = [
    n for n in _skrub.__all__ if n not in ("get_config", "set_config", "config_context")
]
__all__ = _STRATUM_API + _SKRUB_API


def __getattr__(name: str):
    if name == "Client":  # the serve client; imported on first use
        from .serve.client import Client

        return Client
    # Anything else skrub exposes (submodules, private helpers users rely on).
    return getattr(_skrub, name)


def __dir__():
    return sorted(set(globals()) | set(dir(_skrub)))
