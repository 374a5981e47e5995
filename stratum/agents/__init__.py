"""``stratum run``: unmodified agent scripts, their searches batched.

:func:`run_scripts` runs scripts that ``import skrub``, each in its own
process; their searches and cross-validations are evaluated together in
stratum batches by the calling process (see ``runner.py``).
"""

from .runner import BatchInfo, ScriptResult, explain, run_scripts, summary

__all__ = ["BatchInfo", "ScriptResult", "explain", "run_scripts", "summary"]
