"""The scores' cross-check: for each stage, pipeline and configuration,
every engine's mean test score must equal the reference engine's (plain
skrub's; rtol 1e-9). ``stratum bench`` raises :class:`ScoreMismatch` when they
differ or an engine fails (after the tables are printed and the results
written); an engine over its time budget is a timeout, not a failure.
"""

from __future__ import annotations

import numpy as np

REFERENCE = "skrub"
RTOL = 1e-9


class ScoreMismatch(AssertionError):
    """Engines disagree on a score (or a workload pipeline failed)."""


def check_scores(results: dict) -> list[str]:
    """Compare every engine's scores with the reference engine's.

    Returns the list of problems (empty when everything agrees): a
    configuration whose score differs (rtol 1e-9, NaN only equal to NaN),
    pipelines that differ between engines (W1's stage 2 is chosen by each
    engine from its own stage 1), reported pipeline errors, and reference
    scores that are not finite (a workload pipeline failed).
    """
    problems = [
        f"{e} failed: {r['error']}"
        for e, r in results.items()
        if r["status"] == "error"
    ]
    ok = {e: r for e, r in results.items() if r["status"] == "ok"}
    if not ok:
        return problems
    ref_name = REFERENCE if REFERENCE in ok else next(iter(ok))
    ref = ok[ref_name]
    for stage in ref["stages"]:
        for name, values in stage["scores"].items():
            if not np.all(np.isfinite(values)):
                problems.append(
                    f"{ref_name}, {stage['name']}, {name!r}: "
                    f"non-finite scores {values} (a configuration failed)"
                )
    for engine, res in results.items():
        for stage in res.get("stages", []):
            for error in stage.get("errors", []):
                problems.append(f"{engine}, {stage['name']}: {error}")
        if engine == ref_name or not res.get("stages"):
            continue
        for ours, theirs in zip(res["stages"], ref["stages"]):
            where = f"{engine} vs {ref_name}, {ours['name']}"
            for name, text in ours.get("outputs", {}).items():
                if text != theirs.get("outputs", {}).get(name):
                    problems.append(f"{where}, {name!r}: printed output differs")
            if list(ours["scores"]) != list(theirs["scores"]):
                problems.append(
                    f"{where}: different pipelines "
                    f"{list(ours['scores'])} != {list(theirs['scores'])}"
                )
                continue
            for name, values in ours["scores"].items():
                expected = theirs["scores"][name]
                if len(values) != len(expected):
                    problems.append(
                        f"{where}, {name!r}: {len(values)} configurations "
                        f"!= {len(expected)}"
                    )
                    continue
                a, b = np.asarray(values, float), np.asarray(expected, float)
                bad = ~np.isclose(a, b, rtol=RTOL, atol=0.0, equal_nan=True)
                for i in np.flatnonzero(bad):
                    params = theirs.get("params", {}).get(name, [None] * len(b))[i]
                    problems.append(
                        f"{where}, {name!r} configuration {i} {params}: "
                        f"{a[i]!r} != {b[i]!r}"
                    )
    return problems
