"""The benchmark's plot: time per engine per workload, and a scaling curve.

matplotlib is optional (not a dependency of stratum): ``--plot`` needs it.
"""

from __future__ import annotations

ENGINE_COLORS = {
    "base": "#999999",
    "base_par": "#666666",
    "skrub": "#1f77b4",
    "skrub_par": "#6baed6",
    "stratum": "#d62728",
    "stratum_par": "#ff9896",
}


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            "`stratum bench --plot` needs matplotlib: pip install matplotlib"
        ) from error
    return plt


def plot_report(report: dict, path) -> None:
    """Write ``path`` (PNG, or any format matplotlib infers from the suffix)."""
    plt = _pyplot()
    scaling = report.get("scaling")
    n_panels = 1 + bool(scaling)
    fig, axes = plt.subplots(1, n_panels, figsize=(6.5 * n_panels, 4.2), squeeze=False)
    ax = axes[0][0]
    workloads = report["workloads"]
    engines = [
        e
        for e in ENGINE_COLORS
        if any(e == row["engine"] for w in workloads for row in w["rows"])
    ]
    width = 0.8 / max(1, len(engines))
    for j, engine in enumerate(engines):
        xs, heights = [], []
        for i, w in enumerate(workloads):
            row = next((r for r in w["rows"] if r["engine"] == engine), None)
            if row is None or row["total"] is None:
                continue
            xs.append(i + (j - (len(engines) - 1) / 2) * width)
            heights.append(row["total"])
        ax.bar(xs, heights, width, label=engine, color=ENGINE_COLORS[engine])
    for i, w in enumerate(workloads):
        row = next((r for r in w["rows"] if r["engine"] == "stratum"), None)
        if row is not None and row.get("reuse_bound") is not None:
            j = engines.index("stratum")
            x = i + (j - (len(engines) - 1) / 2) * width
            ax.hlines(
                row["reuse_bound"],
                x - width / 2,
                x + width / 2,
                colors="black",
                linestyles="dashed",
            )
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels(
        [f"{w['workload']}\n{w['config']['rows']:,} rows" for w in workloads]
    )
    ax.set_ylabel("wall time (s)")
    ax.set_yscale("log")
    ax.set_title("time per engine (dashed: stratum's reuse bound)")
    ax.legend(fontsize=8)
    if scaling:
        ax = axes[0][1]
        points = scaling["points"]
        for engine in ("skrub", "stratum"):
            xs = [p["x"] for p in points if p.get(engine) is not None]
            ys = [p[engine] for p in points if p.get(engine) is not None]
            if xs:
                ax.plot(xs, ys, marker="o", label=engine, color=ENGINE_COLORS[engine])
        ax.set_xlabel(f"{scaling['x']} ({scaling['workload']})")
        ax.set_ylabel("wall time (s)")
        ax.set_title(f"scaling: {scaling['workload']} over {scaling['x']}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
