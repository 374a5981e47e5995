"""Run skrub's own DataOps test suite with stratum's drop-in active.

The suite ships inside the skrub wheel (``skrub/_data_ops/tests``). It runs
once under ``pytest -p stratum`` (a plugin that only does ``import stratum``,
which routes skrub's searches and cross-validations to stratum's engine);
the tests that fail are then run again on plain skrub. The script fails if a
test fails with stratum but not without it, unless it is listed in ALLOWED
with the reason. Install optuna and plotly first to run the tests that need
them (``.ci/run`` does).

    python .ci/skrub_suite.py [extra pytest arguments]
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# Tests that count side effects stratum deliberately avoids: a step shared by
# several configurations of a search runs once per fold, not once per
# configuration. Their values are skrub's (tests/test_subsampling.py and the
# differential suite check them).
ALLOWED = {
    "test_estimators.py::test_caching[sklearn]": (
        "counts the calls of a step upstream of the model: stratum makes 24 "
        "(each fold's fit shared by the search's configurations), skrub 56"
    ),
    "test_estimators.py::test_caching[optuna]": (
        "the same count with an optuna search inside skrub.cross_validate: the "
        "search runs on skrub, its trials' cross-validations on stratum, which "
        "reuses each inner fold's fitted scaler across trials (20 calls)"
    ),
    "test_subsampling.py::test_subsample[False]": (
        "logs the shape seen by a step at every call: stratum calls it once "
        "per fold and side for both configurations (the same shapes: subsampled "
        "train side, whole test side), in another order"
    ),
    "test_subsampling.py::test_subsample[True]": (
        "the same as test_subsample[False], on DataFrames"
    ),
    "test_subsampling.py::test_should_subsample": (
        "logs should_subsample() at every call: the same values, once per fold "
        "and side instead of once per configuration"
    ),
}

_OUTCOME = re.compile(r"^(FAILED|ERROR) (\S+?)(?: - .*)?$", re.M)


def _suite() -> Path:
    spec = importlib.util.find_spec("skrub")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("skrub is not installed")
    return Path(spec.submodule_search_locations[0]) / "_data_ops" / "tests"


def _pytest(args: list[str], cwd: str) -> tuple[int, set[str], str]:
    """Run pytest; return its exit code, the failing tests and its last line."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider"] + args,
        cwd=cwd,  # not the repository root: the installed stratum is tested
        capture_output=True,
        text=True,
        timeout=1800,
    )
    failing = {
        m.group(2).split("_data_ops/tests/")[-1] for m in _OUTCOME.finditer(done.stdout)
    }
    lines = done.stdout.strip().splitlines()
    return done.returncode, failing, lines[-1] if lines else done.stderr[-2000:]


def main(extra: list[str]) -> int:
    suite = _suite()
    with tempfile.TemporaryDirectory() as cwd:
        code, failing, last = _pytest(["-p", "stratum", str(suite), *extra], cwd)
        print(f"skrub's DataOps suite with stratum: {last}")
        if code not in (0, 1) or "passed" not in last:
            print("the suite did not run (see above)", file=sys.stderr)
            return 1
        plain_failing: set[str] = set()
        if failing:
            nodes = [str(suite / name) for name in sorted(failing)]
            _, plain_failing, plain_last = _pytest(nodes, cwd)
            print(f"the same {len(nodes)} test(s) on plain skrub: {plain_last}")
    for name in sorted(failing & plain_failing):
        print(f"  fails on plain skrub too: {name}")
    ours = failing - plain_failing
    for name in sorted(ours & set(ALLOWED)):
        print(f"  allowed: {name}: {ALLOWED[name]}")
    for name in sorted(set(ALLOWED) - failing):
        print(f"  listed in ALLOWED but passing now: {name}")
    unexpected = sorted(ours - set(ALLOWED))
    for name in unexpected:
        print(f"  FAILS ONLY WITH STRATUM: {name}", file=sys.stderr)
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
