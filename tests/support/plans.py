"""Reading PostgreSQL's ``EXPLAIN (ANALYZE, FORMAT JSON)`` plans in tests."""

from __future__ import annotations


def rows_read(node: dict, relation: str) -> int:
    """The rows a plan read from ``relation``, plus those any node read and then discarded
    (by a filter or a join filter): how much work a statement did, whatever its plan."""
    own = (node.get("Actual Rows", 0) * node.get("Actual Loops", 1)
           if node.get("Relation Name") == relation else 0)
    return own + node.get("Rows Removed by Filter", 0) + node.get(
        "Rows Removed by Join Filter", 0) + sum(
        rows_read(child, relation) for child in node.get("Plans", []))
