"""A workload's results summed up per engine: stage and total times, peak
memory, CPU time, speedups over the baselines, stratum's reuse bound."""

from __future__ import annotations

from .crosscheck import REFERENCE


def _n_configs(scores: dict) -> int:
    return sum(len(v) for v in scores.values())


def summarize(config: dict, results: dict) -> dict:
    """Per engine: stage and total times, peak memory, speedups, reuse bound."""

    def total(engine):
        r = results.get(engine)
        if r is None or r["status"] not in ("ok", "timeout"):
            return None, False
        return r["total"], r["status"] == "timeout"

    rows = []
    for engine, r in results.items():
        row = {
            "engine": engine,
            "status": r["status"],
            "total": r.get("total"),
            "peak_rss": r.get("peak_rss"),
            "cpu_seconds": r.get("cpu_seconds"),
            "other_cores": r.get("other_cores"),
            "stages": {s["name"]: s["seconds"] for s in r.get("stages", [])},
        }
        for base in ("base", "base_par", "skrub"):
            t_base, lower = total(base)
            if t_base is None or r["status"] != "ok":
                row[f"vs_{base}"] = None
                continue
            row[f"vs_{base}"] = t_base / r["total"]
            row[f"vs_{base}_is_lower_bound"] = lower
        bounds = [s.get("reuse_bound") for s in r.get("stages", [])]
        if bounds and all(b is not None for b in bounds):
            row["reuse_bound"] = float(sum(bounds))
            row["reuse_bound_stages"] = {
                s["name"]: s["reuse_bound"] for s in r["stages"]
            }
        if r.get("stages") and r["stages"][0].get("scripts") is not None:
            scripts = [x for s in r["stages"] for x in s["scripts"]]
            row["scripts"] = len(scripts)
            row["script_overhead"] = float(
                sum(x["wall"] - x["search_seconds"] for x in scripts)
            )
            row["script_search"] = float(sum(x["search_seconds"] for x in scripts))
        rows.append(row)
    ref = results.get(REFERENCE) or next(iter(results.values()))
    stages = [
        {
            "name": s["name"],
            "pipelines": len(s["scores"]),
            "configurations": _n_configs(s["scores"]),
        }
        for s in ref.get("stages", [])
    ]
    return {
        "workload": config["workload"],
        "config": config,
        "stages": stages,
        "rows": rows,
    }
