"""What the next gate fit takes from an export (``labels.csv`` / ``labels.json`` rows of
``core.export``): images in scope by the model's verdict, images a reader marked "in scope after all",
and never images still out of scope (they would teach the gate that CT slices are radiographs)."""

from __future__ import annotations

from typing import Iterable, Mapping

from core.scope.verdict import OUT_OF_SCOPE


def gate_rows(rows: Iterable[Mapping[str, str]]) -> list[Mapping[str, str]]:
    """The export rows whose images belong to the in-scope training set of the content gate."""
    return [r for r in rows if (r.get("scope") or "") != OUT_OF_SCOPE or (r.get("scope_marked_by") or "")]
