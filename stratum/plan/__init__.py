"""Logical plan: lineage-keyed nodes, hash-consing, explain."""

from .dag import Plan
from .node import Family, Flags, Node

__all__ = ["Family", "Flags", "Node", "Plan"]
