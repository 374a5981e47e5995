"""Route skrub's entry points to stratum's engine once skrub is imported.

``import stratum`` does not import skrub (a second of pandas and scikit-learn
imports that ``stratum --help`` does not need). If skrub is already imported,
the drop-in is installed now; otherwise a one-shot import hook installs it
right after skrub's own ``__init__`` has run, whoever imports skrub first
(the user, or a stratum module). ``after_import`` does the same for any
module (``stratum run`` patches scikit-learn's searches that way).
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


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds the module ``name`` as usual, then runs ``installs`` after it
    executes, in order."""

    def __init__(self, name: str, install):
        self.name = name
        self.installs = [install]

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # one shot; the lookup below skips it
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_install(module):
            exec_module(module)
            for install in self.installs:
                install()

        spec.loader.exec_module = exec_then_install
        return spec


def after_import(name: str, install) -> None:
    """Call ``install()`` now if the module ``name`` is imported, else right
    after it is (once; after what was asked before for it)."""
    if name in sys.modules:
        install()
        return
    for finder in sys.meta_path:
        if isinstance(finder, _AfterImport) and finder.name == name:
            if install not in finder.installs:
                finder.installs.append(install)
            return
    sys.meta_path.insert(0, _AfterImport(name, install))


def install_when_imported() -> None:
    """Install the drop-in now if skrub is imported, else when it is."""
    after_import("skrub", _install)
