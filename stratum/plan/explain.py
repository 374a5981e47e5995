"""Text and Graphviz views of a compiled batch: what was merged, what is shared."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any


def explain_plan(
    plan,
    tasks: dict,
    pipelines: Iterable[dict],
    stats=None,
    memory: dict | None = None,
    planned: dict[str, str] | None = None,
    shared_fits: dict | None = None,
) -> str:
    """Describe a compiled plan.

    ``pipelines`` holds one dict per pipeline: ``name``, ``configurations``,
    ``folds``, ``status`` ("stratum", "skrub: <reason>", "error: <message>").
    ``planned`` maps estimator steps to the implementation selection would
    choose (shown before anything ran; afterwards ``stats`` say what ran).
    ``shared_fits`` maps the fit tasks that take work from another fit of their
    family (an ensemble's rounds, a ridge model's Gram) to what they take
    (None: model sharing is off).
    """
    pipelines = list(pipelines)
    n_configs = sum(p["configurations"] for p in pipelines)
    lines = [
        f"stratum plan: {len(pipelines)} pipeline(s), {n_configs} configuration(s)",
        "",
        "logical plan (lineage-keyed, hash-consed):",
        f"  nodes before deduplication: {plan.inserted}",
        f"  nodes after deduplication:  {len(plan)}",
    ]
    if len(plan):
        lines.append(f"  deduplication factor:       {plan.inserted / len(plan):.1f}x")
    shared = plan.shared_keys()
    cross = [k for k in shared if len(plan.pipelines_using(k)) > 1]
    lines += [
        f"  shared by several configurations: {len(shared)}",
        f"  shared by several pipelines:      {len(cross)}",
        "",
    ]
    node_tasks = [t for t in tasks.values() if t.kind == "node"]
    score_tasks = [t for t in tasks.values() if t.kind == "score"]
    requested = sum(len(t.users) for t in node_tasks)
    per_fold = Counter(
        t.split.number if t.split is not None else None for t in node_tasks
    )
    lines += [
        "physical plan (tasks = node x fold x side x mode):",
        f"  node tasks: {len(node_tasks)} (requested by configurations: {requested})",
        f"  shared tasks (needed by >1 configuration): "
        f"{sum(1 for t in node_tasks if len(t.users) > 1)}",
        f"  score tasks: {len(score_tasks)}",
    ]
    fit_tasks = [
        t
        for t in node_tasks
        if t.label.startswith("<Apply")
        and t.key[2] == "train"
        and "fit" in (t.key[3] or "")
    ]
    if fit_tasks:
        fit_requested = sum(len(t.users) for t in fit_tasks)
        lines.append(
            f"  estimator fits on folds: {len(fit_tasks)} "
            f"(without sharing: {fit_requested})"
        )
    folds = sorted(k for k in per_fold if k is not None)
    if folds:
        lines.append(
            "  tasks per fold: " + ", ".join(f"{k}: {per_fold[k]}" for k in folds)
        )
    if per_fold.get(None):
        lines.append(f"  tasks independent of the folds: {per_fold[None]}")
    lines += ["", "pipelines:"]
    for p in pipelines:
        lines.append(
            f"  - {p['name']}: {p['configurations']} configuration(s), "
            f"{p['folds']} fold(s), evaluated by {p['status']}"
        )
    unseeded = plan.unseeded_nodes()
    if unseeded:
        lines += [
            "",
            "unseeded randomness (random_state=None): one draw is shared by every "
            "configuration using the step and is never reused across batches:",
        ]
        for node in unseeded[:10]:
            lines.append(f"  - {node.label}: {', '.join(node.unseeded[:3])}")
    identity = plan.identity_nodes()
    if identity:
        lines += [
            "",
            f"{len(identity)} node(s) keyed by object identity (objects stratum "
            "cannot hash by content); shared only within this batch.",
        ]
    sharing = _sharing_summary(plan, shared_fits)
    if sharing:
        lines += ["", *sharing]
    pinned = _pinned_summary(tasks)
    if pinned:
        lines += ["", pinned]
    if planned:
        lines += ["", "implementations (estimator steps, planned):"]
        lines += [f"  {label}: {impl}" for label, impl in sorted(planned.items())]
    if stats:
        lines += ["", _time_summary(stats)]
        impl = _implementation_summary(stats)
        if impl:
            lines += ["", impl]
    if stats and memory and memory.get("schedules"):
        lines += ["", _schedule_summary(stats, memory["schedules"])]
    if memory:
        lines += [
            "",
            f"memory: peak {memory['peak'] / 2**20:,.1f} MiB held by the store "
            f"(budget {memory['budget'] / 2**20:,.0f} MiB), "
            f"{memory['released']} intermediate(s) released after their last use, "
            f"{memory['spilled']} spilled to disk, {memory['hits']} memoized lookup(s)",
        ]
        if "cache" in memory:
            c = memory["cache"]
            lines.append(
                f"reuse across batches: {memory['reused']} result(s) taken from "
                f"earlier batches (session memory: {c['hits']} hit(s), "
                f"{c['misses']} miss(es), {c['evicted']} evicted)"
            )
        if "disk" in memory:
            d = memory["disk"]
            lines.append(
                f"disk cache: {d['hits']} hit(s), {d['misses']} miss(es), "
                f"{d['bytes_read'] / 2**20:,.1f} MiB read, "
                f"{d['bytes_written'] / 2**20:,.1f} MiB written, "
                f"{d['corrupt']} corrupt entr(y/ies) discarded"
            )
    return "\n".join(lines)


def _sharing_summary(plan, shared: dict | None) -> list[str]:
    """Which fits take work from another fit of their family (an ensemble's
    first rounds, a ridge model's Gram, a booster's bins), and which steps
    cannot (and why)."""
    families = [
        (n.label, f)
        for n in plan.nodes.values()
        for f in (n.family, n.binning)
        if f is not None
    ]
    if not families:
        return []
    if shared is None:
        return ["model sharing: off (set_config(model_sharing=False))"]
    lines = []
    prefixes = [s for s in shared.values() if hasattr(s, "source_state")]
    grams = [s for s in shared.values() if hasattr(s, "gram_key")]
    bins = [s for s in shared.values() if hasattr(s, "bins_key")]
    if prefixes:
        sources = {p.source_state for p in prefixes}
        lines.append(
            f"model sharing: {len(prefixes)} ensemble fit(s) take their first "
            f"rounds from {len(sources)} larger fit(s) of the same family"
        )
        by_step: dict[tuple, set] = {}
        for prefix in prefixes:
            step = (prefix.source_label, prefix.param, prefix.source_rounds)
            by_step.setdefault(step, set()).add(prefix.rounds)
        for (label, param, n), rounds in sorted(by_step.items()):
            smaller = ", ".join(str(k) for k in sorted(rounds))
            lines.append(f"  {label}: {param} {smaller} from the fit with {n}")
    if grams:
        keys = {g.gram_key for g in grams}
        lines.append(
            f"model sharing: {len(grams)} ridge fit(s) solve their alpha from "
            f"{len(keys)} shared X^T X (one per family and fold)"
        )
        alphas: dict[str, set] = {}
        for gram in grams:
            alphas.setdefault(gram.source_label, set()).add(gram.alpha)
        for label, values in sorted(alphas.items()):
            listed = ", ".join(str(a) for a in sorted(values))
            lines.append(f"  {label}: alpha {listed}")
    if bins:
        takers = [b for b in bins if not b.provider]
        built = {b.bins_key for b in bins}
        lines.append(
            f"model sharing: {len(takers)} booster fit(s) take the binned data "
            f"that {len(built)} other fit(s) build (one per binning family and fold)"
        )
        for label, n in sorted(Counter(b.source_label for b in takers).items()):
            lines.append(f"  {label}: {n} fit(s) take its bins")
    blocked = sorted({(label, f.blocked) for label, f in families if f.blocked})
    if blocked:
        lines.append("steps fitted in full (sharing would not be exact):")
        lines += [f"  {label}: {why}" for label, why in blocked]
    return lines


def _pinned_summary(tasks: dict) -> str:
    """Which steps run with the caller's library threads whatever ``n_jobs``
    is, and why (``Task.threads``)."""
    counts: Counter = Counter()
    for t in tasks.values():
        if t.threads is not None:
            counts[(t.label if t.kind == "node" else "score tasks", t.threads)] += 1
    if not counts:
        return ""
    lines = [
        "pinned steps (their results depend on their thread count: they run "
        "with the library threads of the caller, as in plain skrub, whatever "
        "n_jobs is):"
    ]
    for (label, why), n in sorted(counts.items()):
        lines.append(f"  {label}: {why} ({n} task(s))")
    return "\n".join(lines)


def _schedule_summary(stats, schedules: list[dict]) -> str:
    """How the executor ran: workers, library threads, busy time per thread."""
    wall = sum(s["wall"] for s in schedules)
    n_jobs = max(s["n_jobs"] for s in schedules)
    busy: Counter = Counter()
    for s in stats:
        if s.how == "scheduled":  # a thread, or a worker process / Ray worker
            where = getattr(s, "placement", "local")
            busy[s.thread if where == "local" else where] += s.seconds
    total = sum(busy.values())
    pinned = sum(s.get("pinned_tasks", 0) for s in schedules)
    threads = f"{schedules[-1]['library_threads']} library thread(s) per task"
    if pinned:
        threads += (
            f", {schedules[-1]['pinned_threads']} for each of the {pinned} "
            "pinned task(s)"
        )
    lines = [
        f"schedule: {sum(s['tasks'] for s in schedules)} task(s) "
        f"on {n_jobs} worker(s), {threads}, "
        f"critical path first; executor wall time {wall:.2f}s",
    ]
    contended = sum(s.get("contended_tasks", 0) for s in schedules)
    if contended:
        lines.append(
            f"  {contended} task(s) started with fewer library threads: other "
            "processes kept cores busy (their results do not depend on it)"
        )
    if wall > 0 and n_jobs > 1:
        # a pinned task holding several slots keeps them all busy
        held = sum(s.get("slot_seconds", 0.0) for s in schedules) or total
        lines.append(f"  parallel efficiency: {held / (wall * n_jobs):.0%}")
    for thread, seconds in sorted(busy.items()):
        lines.append(f"  {thread}: busy {seconds:.2f}s")
    return "\n".join(lines)


def _implementation_summary(stats) -> str:
    """Which implementation computed each estimator step, and why the
    reference code ran where a native kernel exists."""
    counts: Counter = Counter()
    for s in stats:
        if s.implementation:
            counts[(s.label, s.implementation)] += 1
    if not counts:
        return ""
    lines = ["implementations (estimator steps):"]
    for (label, impl), n in sorted(counts.items()):
        lines.append(f"  {label}: {impl} ({n} task(s))")
    return "\n".join(lines)


def _time_summary(stats) -> str:
    by_label: Counter = Counter()
    counts: Counter = Counter()
    for s in stats:
        by_label[s.label] += s.seconds
        counts[s.label] += 1
    total = sum(by_label.values())
    threads = len({s.thread for s in stats})
    lines = [
        f"where time went (heavy hitters; total task time {total:.2f}s "
        f"on {threads} thread(s)):"
    ]
    for label, seconds in by_label.most_common(8):
        lines.append(f"  {seconds:8.3f}s  {counts[label]:4d} task(s)  {label}")
    return "\n".join(lines)


def plan_to_dot(plan: Any) -> str:
    """Graphviz DOT text of the plan; nodes used by several configurations are
    filled, their label says by how many."""
    lines = [
        "digraph stratum_plan {",
        "  rankdir=TB;",
        "  node [shape=box, fontsize=10];",
    ]
    for key, node in plan.nodes.items():
        users = len(plan.users.get(key, ()))
        label = node.label.replace('"', "'")
        style = ', style=filled, fillcolor="#cde4ff"' if users > 1 else ""
        lines.append(f'  "{key[:12]}" [label="{label}\\nused by {users}"{style}];')
    for key, node in plan.nodes.items():
        for dep in node.inputs:
            lines.append(f'  "{dep[:12]}" -> "{key[:12]}";')
    lines.append("}")
    return "\n".join(lines)
