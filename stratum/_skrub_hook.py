"""Route skrub's entry points to stratum's engine once skrub is imported.

``import stratum`` does not import skrub (a second of pandas and scikit-learn
imports that ``stratum --help`` does not need). If skrub is already imported,
the drop-in is installed now; otherwise a one-shot import hook installs it
right after skrub's own ``__init__`` has run, whoever imports skrub first
(the user, or a stratum module).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys


def _install() -> None:
    # Importing the drop-in installs it. When that import is what imported
    # skrub, this finds it half-done, and it installs itself when it ends.
    importlib.import_module("stratum.frontend.skrub.dropin")


class _AfterSkrubImport(importlib.abc.MetaPathFinder):
    """Finds skrub as usual, then runs :func:`_install` after it executes."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "skrub":
            return None
        sys.meta_path.remove(self)  # one shot; the lookup below skips it
        spec = importlib.util.find_spec("skrub")
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_install(module):
            exec_module(module)
            _install()

        spec.loader.exec_module = exec_then_install
        return spec


def install_when_imported() -> None:
    """Install the drop-in now if skrub is imported, else when it is."""
    if "skrub" in sys.modules:
        _install()
    elif not any(isinstance(f, _AfterSkrubImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterSkrubImport())
