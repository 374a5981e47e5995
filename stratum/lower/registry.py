"""Implementation registry: which estimator classes have a native kernel, and
the choice made for each step of a pipeline.

A kernel subclasses the reference class it replaces (``kernel.reference``),
takes the same parameters and produces the same fitted attributes and
outputs, and says through ``kernel.unsupported(estimator)`` which parameter
values it cannot handle. Selection replaces an estimator whose class is
exactly a registered reference (a user's subclass may override behaviour, so
it is left alone) by the kernel built from the same parameters, wherever it
appears: the step itself or any estimator among its parameters (the
StringEncoder inside a TableVectorizer, the steps of a Pipeline). Anything
else keeps the user's object, and the reason is recorded. Inputs the kernel
cannot handle are detected when it runs: it falls back to the reference code
itself and says so in its ``stratum_impl_`` attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NATIVE = "native"
REFERENCE = "reference"


@dataclass(frozen=True)
class Selection:
    """The implementation chosen for one estimator of a step."""

    path: str  # where in the step, e.g. "TableVectorizer.high_cardinality"
    reference: str  # the user's class
    implementation: str  # NATIVE or REFERENCE
    reason: str | None = None  # why the reference runs

    def __str__(self) -> str:
        if self.implementation == NATIVE:
            return f"{self.path}: native"
        return f"{self.path}: reference ({self.reason})"


class Registry:
    """Kernels by the reference class they replace."""

    def __init__(self, kernels: list[type] = ()):
        self.kernels: dict[type, type] = {}
        for kernel in kernels:
            self.register(kernel)

    def register(self, kernel: type) -> None:
        reference = getattr(kernel, "reference", None)
        if reference is None or not issubclass(kernel, reference):
            raise TypeError(
                f"{kernel.__name__} must subclass the class named by its "
                "`reference` attribute"
            )
        self.kernels[reference] = kernel

    def select(self, estimator: Any) -> tuple[Any, list[Selection]]:
        """``estimator`` with registered classes replaced by their kernels
        (a new object when anything changed; the argument is not modified),
        and the choices made."""
        choices: list[Selection] = []
        return self._select(estimator, type(estimator).__name__, choices), choices

    def _select(self, estimator: Any, path: str, choices: list) -> Any:
        if not hasattr(estimator, "get_params") or isinstance(estimator, type):
            return estimator
        original = estimator
        kernel = self.kernels.get(type(estimator))
        if kernel is not None:
            reason = kernel.unsupported(estimator)
            name = type(estimator).__name__
            if reason is None:
                choices.append(Selection(path, name, NATIVE))
                estimator = kernel(**estimator.get_params(deep=False))
            else:
                choices.append(Selection(path, name, REFERENCE, reason))
        params = estimator.get_params(deep=False)
        changed = {}
        for name, value in params.items():
            new = self._select_param(value, f"{path}.{name}", choices)
            if new is not value:
                changed[name] = new
        if changed:
            if estimator is original:
                estimator = _shallow_copy(estimator)
            estimator.set_params(**changed)
        return estimator

    def _select_param(self, value: Any, path: str, choices: list) -> Any:
        if isinstance(value, list | tuple) and value and _is_named_steps(value):
            new = [
                (step[0], self._select(step[1], f"{path}[{step[0]}]", choices))
                + tuple(step[2:])
                for step in value
            ]
            if all(n[1] is o[1] for n, o in zip(new, value, strict=True)):
                return value
            return type(value)(new)
        return self._select(value, path, choices)


def _is_named_steps(value) -> bool:
    """A Pipeline's ``steps`` / a ColumnTransformer's ``transformers``."""
    return all(
        isinstance(step, tuple) and len(step) >= 2 and isinstance(step[0], str)
        for step in value
    )


def _shallow_copy(estimator: Any) -> Any:
    """A new unfitted estimator with the same parameter objects."""
    return type(estimator)(**estimator.get_params(deep=False))


_default: Registry | None = None


def default_registry() -> Registry:
    """The registry of stratum's own kernels (``stratum.kernels.KERNELS``)."""
    global _default
    if _default is None:
        from .. import kernels

        _default = Registry(getattr(kernels, "KERNELS", []))
    return _default


# Estimators sit in short containers (steps, per-column transformers); long
# ones are data (a vocabulary, categories).
_MAX_CONTAINER = 256


def ran(fitted: Any) -> list[str]:
    """What each kernel inside a fitted step reported (its ``stratum_impl_``):
    "native", or "reference: <reason>" for inputs it handed back."""
    found: list[str] = []
    seen: set[int] = set()

    def visit(obj: Any, depth: int) -> None:
        if depth > 6 or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, dict) and len(obj) <= _MAX_CONTAINER:
            for value in obj.values():
                visit(value, depth + 1)
        elif isinstance(obj, list | tuple) and len(obj) <= _MAX_CONTAINER:
            for value in obj:
                visit(value, depth + 1)
        elif hasattr(obj, "get_params") and not isinstance(obj, type):
            impl = getattr(obj, "stratum_impl_", None)
            if isinstance(impl, str):
                found.append(f"{type(obj).__name__}: {impl}")
            for name, value in vars(obj).items():
                if not name.startswith("__"):
                    visit(value, depth + 1)

    visit(fitted, 0)
    return found


def describe(choices: list[Selection], reports: list[str] = ()) -> str:
    """One line for stats and explain: "native" when every kernel ran
    natively, "reference" when no kernel was involved, otherwise why the
    reference code ran where it did."""
    fallbacks = [str(c) for c in choices if c.implementation == REFERENCE]
    fallbacks += [r for r in dict.fromkeys(reports) if not r.endswith(f": {NATIVE}")]
    # What the kernels report having run is the truth; the plan-time choice
    # only stands in when nothing reported.
    if reports:
        native = any(r.endswith(f": {NATIVE}") for r in reports)
    else:
        native = any(c.implementation == NATIVE for c in choices)
    if not fallbacks:
        return NATIVE if native else REFERENCE
    return ("partly native; " if native else "") + "; ".join(fallbacks)
