"""Table profiles (column types, cardinalities, missing rates), cached by
content fingerprint: agents profile the same data again and again."""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..plan.fingerprint import fingerprint
from ..plan.hashing import fingerprint_buffer

_READERS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
TOP_VALUES = 5


def column_kind(series: pd.Series) -> str:
    """``bool``, ``numeric``, ``datetime``, ``categorical`` or ``text``."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    values = series.dropna()
    if len(values) and values.map(type).eq(str).all():
        # Few distinct values (relative to the rows) read as categories.
        if values.nunique() <= max(20, int(0.05 * len(values))):
            return "categorical"
        return "text"
    return "categorical" if len(values) else "empty"


def profile_frame(frame: pd.DataFrame) -> dict[str, Any]:
    """Profile a DataFrame: per column its dtype, kind, number of distinct
    values, missing count and rate, and a short summary."""
    columns = []
    n = len(frame)
    for i in range(frame.shape[1]):
        series = frame.iloc[:, i]
        missing = int(series.isna().sum())
        entry: dict[str, Any] = {
            "name": str(frame.columns[i]),
            "dtype": str(series.dtype),
            "kind": column_kind(series),
            "n_unique": int(series.nunique(dropna=True)),
            "missing": missing,
            "missing_rate": missing / n if n else 0.0,
        }
        values = series.dropna()
        if entry["kind"] == "numeric" and len(values):
            numbers = values.astype(float)
            with warnings.catch_warnings():  # infinities: std is NaN, said so
                warnings.simplefilter("ignore", RuntimeWarning)
                entry.update(
                    min=_number(numbers.min()),
                    max=_number(numbers.max()),
                    mean=_number(numbers.mean()),
                    std=_number(numbers.std()) if len(numbers) > 1 else None,
                )
        elif entry["kind"] in ("categorical", "text", "bool") and len(values):
            counts = values.astype(str).value_counts().head(TOP_VALUES)
            entry["top_values"] = [[str(k), int(v)] for k, v in counts.items()]
        columns.append(entry)
    return {"n_rows": n, "n_columns": frame.shape[1], "columns": columns}


def _number(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


class Profiler:
    """Profiles of files and frames, cached by content fingerprint.

    Parameters
    ----------
    cache_dir : str, optional
        Also keep profiles there as JSON (shared by processes and runs).
    max_entries : int
        Profiles kept in memory.
    """

    def __init__(self, cache_dir: str | None = None, max_entries: int = 256):
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self.max_entries = max_entries
        self._memory: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def profile_path(self, path: str | os.PathLike) -> dict[str, Any]:
        """Profile a CSV, TSV or Parquet file (the format from its suffix)."""
        path = Path(path).expanduser()
        if path.is_dir():
            raise IsADirectoryError(
                f"{path} is a directory: give one CSV, TSV or Parquet file in it"
            )
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        fmt = _READERS.get(path.suffix.lower())
        if fmt is None:
            raise ValueError(
                f"cannot profile {path.name}: use a file ending in "
                + ", ".join(sorted(_READERS))
            )
        key = f"file-{fmt}-{_file_fingerprint(path)}"
        return self._cached(key, lambda: profile_frame(_read(path, fmt)), str(path))

    def profile_frame(self, frame: pd.DataFrame) -> dict[str, Any]:
        """Profile an in-memory DataFrame."""
        key = f"frame-{fingerprint(frame)}"
        return self._cached(key, lambda: profile_frame(frame), None)

    def _cached(self, key: str, compute, source: str | None) -> dict[str, Any]:
        with self._lock:
            found = self._memory.get(key)
            if found is not None:
                self._memory.move_to_end(key)
        if found is None and self.cache_dir is not None:
            found = self._read_disk(key)
        cached = found is not None
        if found is None:
            found = compute()
            self._write_disk(key, found)
        with self._lock:
            self.hits += cached
            self.misses += not cached
            self._memory[key] = found
            self._memory.move_to_end(key)
            while len(self._memory) > self.max_entries:
                self._memory.popitem(last=False)
        result = {**found, "fingerprint": key, "cached": cached}
        if source is not None:
            result["path"] = source
        return result

    def _read_disk(self, key: str) -> dict | None:
        target = self.cache_dir / f"{key}.json"
        try:
            return json.loads(target.read_text())
        except (OSError, ValueError):
            return None

    def _write_disk(self, key: str, profile: dict) -> None:
        if self.cache_dir is None:
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_dir / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(profile))
        os.replace(tmp, self.cache_dir / f"{key}.json")


def _file_fingerprint(path: Path) -> str:
    if path.stat().st_size == 0:
        return fingerprint_buffer(np.zeros(0, dtype=np.uint8)).hex()
    data = np.memmap(path, dtype=np.uint8, mode="r")
    try:
        return fingerprint_buffer(data).hex()
    finally:
        del data


def _read(path: Path, fmt: str) -> pd.DataFrame:
    if fmt == "parquet":
        return pd.read_parquet(path)
    try:
        return pd.read_csv(path, sep="\t" if fmt == "tsv" else ",")
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path} is empty: it has no header line, so no columns to profile"
        ) from None
