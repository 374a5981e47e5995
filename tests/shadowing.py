"""Find Python files whose names shadow an importable module.

A test that writes ``random.py`` next to a script it runs with ``python``
breaks every import of the standard library's ``random`` in that script (and
in scikit-learn, which imports it). ``conftest.py`` fails any test after which
such a file exists under pytest's temporary directory.
"""

from __future__ import annotations

import importlib.metadata
import sys
from functools import cache
from pathlib import Path


@cache
def taken_names() -> frozenset[str]:
    """Top-level names of the standard library and of every installed package."""
    installed = importlib.metadata.packages_distributions()
    return frozenset(sys.stdlib_module_names) | frozenset(installed)


def shadowing_files(root: Path) -> list[Path]:
    """Modules (``name.py``) and packages (``name/__init__.py``) under ``root``
    whose name is a standard-library or installed top-level module's."""
    names = taken_names()
    found = [p for p in root.rglob("*.py") if p.stem in names]
    found += [p for p in root.rglob("__init__.py") if p.parent.name in names]
    return sorted(found)
