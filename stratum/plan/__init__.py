"""Logical plan: lineage-keyed nodes, hash-consing, explain."""

from .dag import Plan
from .node import Flags, Node, Rounds

__all__ = ["Flags", "Node", "Plan", "Rounds"]
