"""Lower a compiled plan into tasks: one per (node, fold, side, mode).

Cross-validation becomes, for every (pipeline, configuration, fold), the tasks
that fit the pipeline on the fold's training rows and the tasks that transform
its test rows up to the final estimator; the final estimator's predictions and
the scores run in one ``score`` task per (pipeline, configuration, fold, side),
because which method a scorer calls (``predict``, ``predict_proba``, ...) is
only known when it runs. Tasks are hash-consed by key, so work shared between
configurations and pipelines is one task.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..plan import Node, Plan
from .binning import BinShare
from .contexts import EXACT, Split, is_fit_mode, level, state_key, task_key
from .ensembles import Prefix
from .registry import Registry, describe
from .ridge import GramShare
from .threads import inline_pinning, node_pinning


@dataclass
class Task:
    """A unit of work: ``fn(store)`` computes the value stored under ``key``.

    Its inputs and outputs are explicit, so that it can run against any store
    holding its inputs (a worker process's, a remote node's): ``fn`` reads the
    values of ``deps`` and the extra keys ``reads`` (the fitted state the
    dependencies wrote) from the store it is given, and puts its value under
    ``key`` and the extra keys ``writes`` (a fit of a stateful step also
    stores the fitted state). Anything else it needs is computed inline.

    ``threads`` says why the task is *pinned* (``lower.threads``: one of its
    steps computes different bits with another thread count), or is None: a
    pinned task runs with the library threads of the caller, whatever
    ``n_jobs`` is.

    ``soft`` lists dependencies the task only waits for: another fit of its
    family whose work it takes when it can (``Lowering.share_families``). If
    one of them failed, the task does the work itself instead of failing.
    """

    key: tuple
    fn: Callable[[Any], Any]
    deps: tuple = ()
    kind: str = "node"  # "node" or "score"
    label: str = ""
    split: Split | None = None
    users: set = field(default_factory=set)
    reads: tuple = ()
    writes: tuple = ()
    threads: str | None = None
    soft: tuple = ()

    @property
    def inputs(self) -> tuple:
        """Every key ``fn`` reads: its dependencies' values and ``reads``."""
        return tuple(dict.fromkeys(self.deps + self.reads))

    @property
    def outputs(self) -> tuple:
        """Every key ``fn`` puts: ``key`` and ``writes``."""
        return (self.key, *self.writes)


# The frontend's node evaluation: run_node(store, node, split, mode,
# running_apply) -> value.
NodeRunner = Callable[[Any, Node, Split, str, bool], Any]


class Lowering:
    """Accumulates the hash-consed task graph of a batch.

    ``registry`` is the implementation choice for the batch: the native
    kernels that the estimators of its steps are replaced by where their
    parameters allow (None: always the user's objects).
    """

    def __init__(
        self,
        plan: Plan,
        run_node: NodeRunner,
        registry: Registry | None,
        model_sharing: bool = True,
    ):
        self.plan = plan
        self.run_node = run_node
        self.registry = registry
        self.model_sharing = model_sharing
        self.tasks: dict[tuple, Task] = {}
        # fit task key -> what its fit takes from (or gives to) its family:
        # the rounds of a larger ensemble, a ridge model's Gram, a booster's bins
        self.shared: dict[tuple, Prefix | GramShare | BinShare] = {}
        # what a family's first fit writes for the others (a Gram, bins) ->
        # that fit's task key
        self.providers: dict[tuple, tuple] = {}

    def _task(self, node: Node, split: Split, mode: str, r: bool, user) -> tuple:
        tk = task_key(node, split, mode, r)
        task = self.tasks.get(tk)
        if task is None:
            writes = ()
            if node.flags.stateful and is_fit_mode(mode):
                writes = (state_key(node, split),)
            task = Task(
                key=tk,
                fn=functools.partial(
                    self.run_node,
                    node=node,
                    split=split,
                    mode=mode,
                    running_apply=r,
                ),
                kind="node",
                label=node.label,
                split=split if node.flags.dep_xy else None,
                writes=writes,
                threads=node_pinning(self.plan, node),
            )
            self.tasks[tk] = task
        task.users.add(user)
        return tk

    def evaluation(
        self,
        root: str,
        split: Split,
        mode: str,
        user,
        *,
        skip_exact: bool = False,
        inline: list | None = None,
    ) -> list[tuple]:
        """Add the tasks that evaluate ``root`` in ``mode`` on ``split``.

        With ``skip_exact``, nodes whose value depends on the exact mode are left
        to the caller (they run inside its task; they are appended to
        ``inline`` if given); their inputs are still added.
        Returns the keys of the tasks added for the top-level nodes.
        """
        fit = is_fit_mode(mode)
        done: dict[tuple[str, bool], tuple | None] = {}
        tops: list[tuple] = []

        def visit(key: str, r: bool) -> tuple | None:
            if (key, r) in done:
                return done[(key, r)]
            node = self.plan[key]
            fetched = (node.flags.is_x or node.flags.is_y) and split.side != "full"
            deps: list[tuple] = []
            if not fetched:
                child_r = r or node.flags.is_apply
                for dep in node.fit_deps if fit else node.apply_deps:
                    dk = visit(dep, child_r)
                    if dk is not None:
                        deps.append(dk)
                # A dynamic node (if_else/match) fits its chosen branch inline
                # when fitting: applying it needs that fit done first.
                if (node.flags.stateful or node.flags.dynamic) and not fit:
                    deps.append(self._task(node, split.train(), "fit", r, user))
            if fetched or (skip_exact and level(node, r) == EXACT):
                done[(key, r)] = None
                tops.extend(deps)
                if not fetched and inline is not None:
                    inline.append(node)
                return None
            tk = self._task(node, split, mode, r, user)
            task = self.tasks[tk]
            task.deps = tuple(dict.fromkeys(task.deps + tuple(deps)))
            task.reads = self.reads_of(task.deps)
            done[(key, r)] = tk
            return tk

        top = visit(root, False)
        if top is not None:
            tops.append(top)
        return list(dict.fromkeys(tops))

    def reads_of(self, deps: tuple) -> tuple:
        """The extra keys a task with these dependencies reads: what they
        write besides their value (the fitted state of stateful steps)."""
        tasks = self.tasks
        return tuple(
            dict.fromkeys(k for d in deps if d in tasks for k in tasks[d].writes)
        )

    def inline_threads(self, nodes: Iterable[Node]) -> str | None:
        """``Task.threads`` for a task computing ``nodes`` inline (those an
        ``evaluation`` with ``skip_exact`` left to it)."""
        return inline_pinning(self.plan, nodes)

    def add(self, task: Task) -> tuple:
        existing = self.tasks.get(task.key)
        if existing is not None:
            existing.users |= task.users
            return existing.key
        self.tasks[task.key] = task
        return task.key

    def share_families(self) -> int:
        """Let fits of the same family on the same rows share work (see
        ``plan.node.Family``): the fit of an ensemble step whose family has a
        larger member takes its rounds from that fit (``lower.ensembles``);
        the fits of a ridge family solve their ``alpha`` from the ``X^T X``
        that its first lowered fit computes and writes (``lower.ridge``); the
        fits of a binning family that still fit take the bins that its first
        lowered fit builds and writes (``lower.binning``).
        Call once every task is lowered; returns the number of fits
        rewritten. Fits lowered later (a refit) fit directly."""
        if not self.model_sharing:
            return 0
        largest: dict[str, Node] = {}
        for node in self.plan.nodes.values():
            family = node.family
            if family is None or family.key is None or family.kind != "rounds":
                continue
            best = largest.get(family.key)
            if best is None or family.value > best.family.value:
                largest[family.key] = node
        members: dict[tuple, list[tuple]] = {}  # (family, fold, ...) -> fits
        for key in self._fits(lambda node: node.family):
            family = self.plan.nodes[key[0]].family
            members.setdefault((family.key, *key[1:]), []).append(key)
        rewritten = 0
        for (_, *rest), keys in members.items():
            for key in keys:
                node = self.plan.nodes[key[0]]
                if node.family.kind == "rounds":
                    rewritten += self._share_rounds(key, node, largest)
            gram = [k for k in keys if self.plan.nodes[k[0]].family.kind == "gram"]
            if len(gram) > 1:
                rewritten += self._share_gram(gram)
        # What still fits (not a prefix) shares its bins with its binning family.
        binning: dict[tuple, list[tuple]] = {}
        for key in self._fits(lambda node: node.binning):
            family = self.plan.nodes[key[0]].binning
            binning.setdefault((family.key, *key[1:]), []).append(key)
        for keys in binning.values():
            if len(keys) > 1:
                rewritten += self._share_bins(keys)
        return rewritten

    def _fits(self, family_of) -> list[tuple]:
        """The keys of the fit tasks, not yet sharing, of nodes with a
        family (``family_of(node)``) that can share."""
        keys = []
        for key, task in self.tasks.items():
            node = self.plan.nodes.get(key[0])
            if node is None or key in self.shared or task.kind != "node":
                continue
            family = family_of(node)
            if family is None or family.key is None:
                continue
            if is_fit_mode(key[3] or ""):
                keys.append(key)
        return keys

    def _share_rounds(self, key: tuple, node: Node, largest: dict) -> int:
        source = largest[node.family.key]
        source_key = (source.key, *key[1:])
        if source is node or source_key not in self.tasks:
            return 0
        task = self.tasks[key]
        task.deps = tuple(dict.fromkeys((*task.deps, source_key)))
        task.soft = tuple(dict.fromkeys((*task.soft, source_key)))
        task.reads = self.reads_of(task.deps)
        self.shared[key] = Prefix(
            source_state=state_key(source, Split(key[1], "train")),
            source_label=source.label,
            param=node.family.param,
            rounds=node.family.value,
            source_rounds=source.family.value,
        )
        return 1

    def _share_gram(self, keys: list[tuple]) -> int:
        """The first fit of ``keys`` (one ridge family, one fold) writes the
        family's Gram; the others depend on it and read it."""
        source = self.plan.nodes[keys[0][0]]
        gram_key = (source.family.key, keys[0][1], "gram", None)

        def share(key: tuple, provider: bool) -> GramShare:
            alpha = self.plan.nodes[key[0]].family.value
            return GramShare(gram_key, provider, source.label, alpha)

        return self._share_provided(keys, gram_key, share)

    def _share_bins(self, keys: list[tuple]) -> int:
        """The first fit of ``keys`` (one binning family, one fold) writes the
        family's binned data; the others depend on it and read it."""
        source = self.plan.nodes[keys[0][0]]
        bins_key = (source.binning.key, keys[0][1], "bins", None)

        def share(key: tuple, provider: bool) -> BinShare:
            return BinShare(bins_key, provider, source.label, len(keys))

        return self._share_provided(keys, bins_key, share)

    def _share_provided(self, keys: list[tuple], written: tuple, share) -> int:
        """The first task of ``keys`` writes ``written``; the others depend on
        it and read it. ``share(key, provider)`` says what each fit takes."""
        provider = self.tasks[keys[0]]
        provider.writes = tuple(dict.fromkeys((*provider.writes, written)))
        self.providers[written] = provider.key
        for key in keys:
            is_provider = key == keys[0]
            if not is_provider:
                task = self.tasks[key]
                reads = self.reads_of(task.deps)
                task.deps = tuple(dict.fromkeys((*task.deps, provider.key)))
                task.soft = tuple(dict.fromkeys((*task.soft, provider.key)))
                task.reads = tuple(dict.fromkeys((*reads, written)))
            self.shared[key] = share(key, is_provider)
        return len(keys)

    def planned(self, estimators: Iterable[tuple[str, Any]]) -> dict[str, str]:
        """Per step label, the implementations selection picks for the
        (label, estimator) pairs given (what runs may still differ by input)."""
        planned: dict[str, list[str]] = {}
        for label, estimator in estimators:
            if self.registry is None:
                choice = "reference (native kernels disabled)"
            else:
                choice = describe(self.registry.select(estimator)[1])
            planned.setdefault(label, [])
            if choice not in planned[label]:
                planned[label].append(choice)
        return {label: " | ".join(c) for label, c in planned.items()}
