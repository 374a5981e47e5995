"""Make the test session import the *installed* ``stratum`` when it has to.

``python -m pytest`` puts the current directory first on ``sys.path``, so run
from the repository root ``import stratum`` finds the source tree, which has
no compiled ``stratum._native`` after a plain ``pip install ".[test]"`` (the
extension only exists in site-packages). In that case the repo root is taken
off ``sys.path`` so the tests exercise what was installed, native kernels
included. A source tree that already holds the extension (``maturin develop``,
editable installs) is left alone, and so is a checkout with nothing installed
(it then runs on the pure-Python fallbacks). The report header says which.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def _is_root(entry: str) -> bool:
    try:
        return Path(entry or os.getcwd()).resolve() == _ROOT
    except OSError:
        return False


def _prefer_installed_package() -> None:
    if "stratum" in sys.modules or any((_ROOT / "stratum").glob("_native.*")):
        return
    saved = list(sys.path)
    sys.path[:] = [p for p in saved if not _is_root(p)]
    if len(sys.path) == len(saved):
        return
    importlib.invalidate_caches()
    if importlib.util.find_spec("stratum") is None:  # not installed
        sys.path[:] = saved


_prefer_installed_package()


def pytest_report_header(config):
    import stratum
    from stratum.plan import hashing

    where = Path(stratum.__file__).resolve().parent
    return f"stratum: {where} (fingerprint backend: {hashing.backend()})"
