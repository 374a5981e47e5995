"""stratum: fast batched execution of skrub DataOps pipelines.

``import stratum as skrub`` is a drop-in for skrub: every public skrub name is
available here, and skrub's searches and cross-validation run on stratum's
engine (``set_config(engine="skrub")`` switches back). stratum's own API:
:func:`search` (a batch of pipelines in one call, skrub DataOps or
scikit-learn searches), :func:`explain`, :func:`patch_sklearn` /
:func:`unpatch_sklearn`, :func:`memoize` (estimator calls memoized by
content), :func:`set_config` / :func:`get_config` /
:func:`config_context`.

Importing stratum is cheap: skrub (with pandas and scikit-learn) is imported
on the first use of a name that needs it, and skrub's entry points are routed
to stratum's engine as soon as skrub is imported, by whoever imports it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

from . import _skrub_hook
from ._config import config_context, get_config, set_config  # noqa: F401

__version__ = "0.1.0"

# stratum's own names that live in modules importing skrub: name -> module.
_LAZY = {
    "BatchSearch": ".batch_search",
    "explain": ".batch_search",
    "search": ".batch_search",
    "Session": ".session",
    "Client": ".serve.client",
    "StratumFallbackWarning": ".frontend.skrub.dropin",
    "patch_sklearn": ".frontend.sklearn.patch",
    "unpatch_sklearn": ".frontend.sklearn.patch",
    "memoize": ".frontend.sklearn.memoize",
}
_STRATUM_API = sorted([*_LAZY, "config_context", "get_config", "set_config"])
_NOT_FROM_SKRUB = ("get_config", "set_config", "config_context")

_skrub_hook.install_when_imported()


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif name == "__all__":  # stratum's API plus every public skrub name
        skrub = importlib.import_module("skrub")
        value = _STRATUM_API + [n for n in skrub.__all__ if n not in _NOT_FROM_SKRUB]
    elif (
        name.startswith("_") and "skrub" not in sys.modules
    ) or importlib.util.find_spec(f"{__name__}.{name}") is not None:
        # Probes such as __wrapped__ (inspect, pickle) need not import skrub,
        # nor does ``from stratum import <submodule>`` (asked here first,
        # ``_native`` among them, whether it is built or not).
        raise AttributeError(f"module 'stratum' has no attribute {name!r}")
    else:  # skrub's names (the drop-in), submodules and helpers users rely on
        skrub = importlib.import_module("skrub")
        if not hasattr(skrub, name):
            raise AttributeError(
                f"module 'stratum' has no attribute {name!r} (nor has skrub)"
            )
        value = getattr(skrub, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(
        set(globals()) | set(_LAZY) | set(dir(importlib.import_module("skrub")))
    )
