"""The results as text: a workload's one-line description and its table
(aligned columns for the terminal, or Markdown), and a whole ``--json``
report as Markdown (for RESULTS.md)."""

from __future__ import annotations

from .crosscheck import RTOL


def _fmt_seconds(value) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _fmt_bytes(value) -> str:
    return "—" if not value else f"{value / 2**20:,.0f} MiB"


def _fmt_speedup(row, base) -> str:
    value = row.get(f"vs_{base}")
    if value is None:
        return "—"
    return (">" if row.get(f"vs_{base}_is_lower_bound") else "") + f"{value:.2f}x"


def describe(summary: dict) -> str:
    c = summary["config"]
    if c.get("unit") == "script":  # W5: scripts with their own KFold loops
        n = summary["stages"][0]["pipelines"] if summary["stages"] else 0
        return (
            f"{c['workload']} — {c['title']}: {c['rows']:,} rows, {n} scripts "
            f"(pandas, scikit-learn, LightGBM; {c['cv']}-fold KFold loops), "
            "printed output compared byte for byte"
        )
    stages = " + ".join(
        f"{s['pipelines']} pipeline{'s' * (s['pipelines'] != 1)} "
        f"({s['configurations']} config.)"
        for s in summary["stages"]
    )
    return (
        f"{c['workload']} — {c['title']}: {c['rows']:,} rows, {stages}, "
        f"{c['cv']}-fold CV, {c['scoring']}"
    )


def format_table(summary: dict, markdown: bool = False) -> str:
    stage_names = [s["name"] for s in summary["stages"]]
    show_stages = len(stage_names) > 1
    header = ["engine"]
    if show_stages:
        header += [f"{n} (s)" for n in stage_names]
    header += [
        "total (s)",
        "peak RSS",
        "vs base",
        "vs base_par",
        "vs skrub",
        "reuse bound (s)",
        "CPU (s)",
        "others (cores)",
    ]
    lines = []
    for row in summary["rows"]:
        cells = [
            row["engine"] + ("" if row["status"] == "ok" else f" ({row['status']})")
        ]
        if show_stages:
            cells += [_fmt_seconds(row["stages"].get(n)) for n in stage_names]
        total = row["total"]
        cells += [
            ("≥" if row["status"] == "timeout" else "") + _fmt_seconds(total),
            _fmt_bytes(row["peak_rss"]),
            _fmt_speedup(row, "base"),
            _fmt_speedup(row, "base_par"),
            _fmt_speedup(row, "skrub"),
        ]
        if "reuse_bound" in row:
            parts = row["reuse_bound_stages"]
            detail = (
                " (" + " + ".join(f"{v:,.1f}" for v in parts.values()) + ")"
                if show_stages
                else ""
            )
            cells.append(_fmt_seconds(row["reuse_bound"]) + detail)
        else:
            cells.append("—")
        cells.append(_fmt_seconds(row.get("cpu_seconds")))
        other = row.get("other_cores")
        cells.append("—" if other is None else f"{other:.2f}")
        lines.append(cells)
    if markdown:
        out = [
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
        ]
        out += ["| " + " | ".join(cells) + " |" for cells in lines]
        return "\n".join(out)
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(header)]

    def fmt(cells):
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        )

    return "\n".join(
        [fmt(header), fmt(["-" * w for w in widths])] + [fmt(c) for c in lines]
    )


def markdown_report(report: dict) -> str:
    """The tables of a ``--json`` report, as Markdown (for RESULTS.md)."""
    m = report["machine"]
    lines = [
        f"- command: `{report.get('command')}`",
        f"- started: {report['started']}, {report['seconds']:,.0f} s in all",
        f"- machine: {m['cpu']}, {m['cpus']} CPUs, "
        f"{(m['memory_bytes'] or 0) / 2**30:.1f} GiB RAM, {m['platform']}, "
        f"Python {m['python']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- stratum revision: {m.get('stratum_revision')}",
        "- threads: "
        + ", ".join(f"{k}={v}" for k, v in m["threads"].items())
        + f"; parallel engines: {m['parallel_processes']} processes",
        "",
    ]
    for summary in report["workloads"]:
        lines += [f"### {describe(summary)}", "", format_table(summary, True), ""]
        if summary["problems"]:
            lines += ["**Scores differ:**", ""]
            lines += [f"- {p}" for p in summary["problems"]] + [""]
        else:
            lines += [f"Scores: all engines agree (rtol {RTOL:g}).", ""]
    curve = report.get("scaling")
    if curve:
        engines = [k for k in curve["points"][0] if k not in ("x", "problems")]
        lines += [
            f"### Scaling: {curve['workload']} over {curve['x']}",
            "",
            f"| {curve['x']} | "
            + " | ".join(f"{e} (s)" for e in engines)
            + " | speedup |",
            "|---|" + "---|" * len(engines) + "---|",
        ]
        for p in curve["points"]:
            ratio = (
                f"{p['skrub'] / p['stratum']:.2f}x"
                if p.get("skrub") and p.get("stratum")
                else "—"
            )
            cells = [_fmt_seconds(p.get(e)) for e in engines]
            lines.append(f"| {p['x']:,} | " + " | ".join(cells) + f" | {ratio} |")
        lines.append("")
    return "\n".join(lines)
