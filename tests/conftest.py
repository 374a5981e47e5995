"""Make the test session import the *installed* ``stratum`` when it has to.

``python -m pytest`` puts the current directory first on ``sys.path``, so run
from the repository root ``import stratum`` finds the source tree, which has
no compiled ``stratum._native`` after a plain ``pip install ".[test]"`` (the
extension only exists in site-packages). In that case the repo root is taken
off ``sys.path`` so the tests exercise what was installed, native kernels
included. A source tree that already holds the extension (``maturin develop``,
editable installs) is left alone, and so is a checkout with nothing installed
(it then runs on the pure-Python fallbacks). The report header says which.

Also:

* Native thread pools are pinned to one thread *before* numpy / scikit-learn /
  LightGBM / XGBoost are imported: with several OpenMP runtimes loaded and a
  busy machine, spinning OpenMP workers make HistGradientBoosting fits on tiny
  data ~100x slower, and one thread keeps both engines' runs comparable.
  Export ``OMP_NUM_THREADS`` yourself to override.
* The tests directory is put on ``sys.path`` so that the helper modules
  ``pipelines`` and ``harness`` can be imported (tests/ is not a package and
  pytest runs with ``--import-mode=importlib``).
* No test may leave a file under pytest's temporary directory whose name
  shadows a standard-library or installed module (``random.py`` next to a
  script run with ``python`` breaks scikit-learn's imports in it).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ.setdefault(_var, "1")

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


_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

import pytest  # noqa: E402  (after the sys.path setup above)

try:  # libraries imported before this file (by plugins) ignore the env vars
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
    pass
else:
    threadpool_limits(int(os.environ["OMP_NUM_THREADS"]))

try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "stratum",
        max_examples=10,
        deadline=None,
        derandomize=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
        print_blob=True,
    )
    settings.register_profile(
        "stratum-explore",
        max_examples=50,
        deadline=None,
        derandomize=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
        print_blob=True,
    )
    settings.load_profile(os.environ.get("STRATUM_HYPOTHESIS_PROFILE", "stratum"))
except ImportError:  # pragma: no cover
    pass


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "stratum_only: needs stratum's own API "
        "(skipped with STRATUM_TEST_SELF_CHECK=1)",
    )
    for line in (
        "ignore::sklearn.exceptions.ConvergenceWarning",
        "ignore:X does not have valid feature names:UserWarning",
        "ignore:The total space of parameters:UserWarning",
    ):
        config.addinivalue_line("filterwarnings", line)


def pytest_collection_modifyitems(config, items):
    import harness

    if not harness.SELF_CHECK:
        return
    skip = pytest.mark.skip(reason="STRATUM_TEST_SELF_CHECK=1: stratum API not used")
    for item in items:
        if "stratum_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_stratum_session():
    """Each test starts with an empty stratum session: results of earlier tests
    are not reused (tests that check reuse open their own sessions)."""
    import stratum

    with stratum.Session():
        yield


_reported_shadowing: set = set()


@pytest.fixture(autouse=True)
def _no_shadowing_files(tmp_path_factory):
    """Fail the test after which a file shadowing a module name exists."""
    from shadowing import shadowing_files

    yield
    found = set(shadowing_files(tmp_path_factory.getbasetemp())) - _reported_shadowing
    if found:
        _reported_shadowing.update(found)
        pytest.fail(
            "test files shadow importable modules (rename them): "
            + ", ".join(map(str, sorted(found)))
        )
