"""The guard against test files named like importable modules."""

import tempfile
from pathlib import Path

from shadowing import shadowing_files

TESTS = Path(__file__).resolve().parent


def test_names_of_stdlib_and_installed_modules_are_flagged():
    with tempfile.TemporaryDirectory() as folder:  # outside pytest's basetemp
        root = Path(folder)
        for name in ("random.py", "sklearn.py", "json.py", "counting.py", "a.py"):
            (root / name).write_text("")
        (root / "pkg" / "numpy").mkdir(parents=True)
        (root / "pkg" / "numpy" / "__init__.py").write_text("")
        (root / "helpers").mkdir()
        (root / "helpers" / "__init__.py").write_text("")
        flagged = {str(p.relative_to(root)) for p in shadowing_files(root)}
    assert flagged == {"random.py", "sklearn.py", "json.py", "pkg/numpy/__init__.py"}


def test_the_suites_own_helper_modules_shadow_nothing():
    assert shadowing_files(TESTS) == []
