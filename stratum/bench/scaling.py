"""The scaling curve: ``engines`` timed on smaller versions of a workload,
its scores cross-checked at every size."""

from __future__ import annotations

from pathlib import Path

from . import pipelines as P
from .crosscheck import check_scores
from .engines import run_engine


def scaling_points(config: dict, kind: str) -> list[dict]:
    """Smaller versions of ``config`` for the scaling curve (the full size
    itself comes from the main run): 1/8, 1/4 and 1/2 of the rows (``rows``)
    or of W2's pipelines (``pipelines``), each size once."""
    x_name = "rows" if kind == "rows" else "pipelines"
    points, seen = [], {config[x_name]}
    for fraction in (8, 4, 2):
        c = dict(config)
        if kind == "rows":
            c["rows"] = max(100, config["rows"] // fraction)
        else:
            n_drafts = len(config.get("drafts") or P.W2_DRAFTS)
            c["pipelines"] = max(n_drafts, config["pipelines"] // fraction)
        if c[x_name] not in seen:
            seen.add(c[x_name])
            points.append(c)
    return points


def run_scaling(
    config: dict,
    kind: str,
    main: dict,
    workdir: Path,
    *,
    engines=("skrub", "stratum"),
    timeout=None,
    log=print,
) -> dict:
    """Time ``engines`` on smaller versions of a workload; the main run gives
    the largest point. Scores are cross-checked at every point."""
    x_name = "rows" if kind == "rows" else "pipelines"
    curve = {"workload": config["workload"], "x": x_name, "points": []}
    for c in scaling_points(config, kind):
        log(f"  scaling {config['workload']}: {x_name}={c[x_name]}")
        sub = workdir / f"scale_{c[x_name]}"
        sub.mkdir(parents=True, exist_ok=True)
        results = {e: run_engine(e, c, sub, timeout=timeout) for e in engines}
        problems = check_scores(results)
        curve["points"].append(
            {
                "x": c[x_name],
                "problems": problems,
                **{
                    e: (r["total"] if r["status"] == "ok" else None)
                    for e, r in results.items()
                },
            }
        )
    # The largest point is the main run (its problems are reported there).
    curve["points"].append(
        {
            "x": config[x_name],
            "problems": [],
            **{
                e: (
                    main["results"][e]["total"]
                    if e in main["results"] and main["results"][e]["status"] == "ok"
                    else None
                )
                for e in engines
            },
        }
    )
    return curve
