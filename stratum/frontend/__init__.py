"""Frontends: one translator per library, the only readers of its internals.

Each turns what a user wrote into plan nodes, evaluates one node when the
runtime asks, and builds that library's own result objects; the driver
(``stratum.driver``) does everything in between.
"""
