"""What machine a benchmark ran on: CPU, memory, platform, library versions,
stratum's revision and the engines' thread settings."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from .engines import THREAD_ENV, n_parallel


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    versions = {}
    for name in ("skrub", "sklearn", "pandas", "numpy", "lightgbm", "xgboost"):
        try:
            versions[name] = __import__(name).__version__
        except (ImportError, AttributeError):  # pragma: no cover - optional
            versions[name] = None
    return {
        "stratum_revision": _revision(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_bytes": mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "threads": THREAD_ENV,
        "parallel_processes": n_parallel(),
    }


def _revision() -> str | None:
    """``git describe --always --dirty`` of the stratum source tree, if any."""
    import subprocess

    import stratum

    root = Path(stratum.__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        out = None
    if out is not None and out.returncode == 0 and out.stdout.strip():
        return out.stdout.strip()
    # An exported snapshot of the tree (no .git) may say where it came from.
    marker = root / "REVISION"
    return marker.read_text().strip() if marker.is_file() else None
