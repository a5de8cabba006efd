"""Reciprocal rank fusion: one ranking from several, by rank alone.

BM25 scores and cosine similarities are on scales that cannot be compared, and
neither can scores from two bases; ranks can. Each list gives an item
``1 / (k + rank)``; the sums order the result (Cormack et al., 2009, k = 60).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

__all__ = ["reciprocal_rank_fusion"]

_K = TypeVar("_K", bound=Hashable)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[_K]], *, k: int = 60) -> list[_K]:
    """The items of ``rankings`` (best first in each) in fused order, best first.

    Ties keep the order in which items were first met, so fusing one list returns it.
    """
    scores: dict[_K, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = {item: index for index, item in enumerate(scores)}
    return sorted(scores, key=lambda item: (-scores[item], order[item]))
