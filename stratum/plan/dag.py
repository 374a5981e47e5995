"""Hash-consing: every configuration of every pipeline inserted node by node."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .node import Node


@dataclass
class Plan:
    """One deduplicated DAG for a whole batch.

    ``nodes`` maps a lineage key to its node; ``users`` maps a key to the
    (pipeline, configuration) pairs whose graph contains it; ``inserted`` counts
    the nodes before deduplication.
    """

    nodes: dict[str, Node] = field(default_factory=dict)
    users: dict[str, set] = field(default_factory=lambda: defaultdict(set))
    roots: dict[tuple, str] = field(default_factory=dict)
    inserted: int = 0
    fallbacks: dict[str, str] = field(default_factory=dict)

    def add(self, node: Node, user: tuple) -> str:
        """Insert ``node`` for ``user`` (pipeline, configuration); return its key."""
        self.inserted += 1
        self.nodes.setdefault(node.key, node)
        self.users[node.key].add(user)
        return node.key

    def set_root(self, user: tuple, key: str) -> None:
        self.roots[user] = key

    def __getitem__(self, key: str) -> Node:
        return self.nodes[key]

    def __len__(self) -> int:
        return len(self.nodes)

    def shared_keys(self) -> list[str]:
        """Keys used by more than one (pipeline, configuration)."""
        return [k for k, u in self.users.items() if len(u) > 1]

    def pipelines_using(self, key: str) -> set[str]:
        return {user[0] for user in self.users.get(key, ())}

    def unseeded_nodes(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.unseeded]

    def identity_nodes(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.identity]
