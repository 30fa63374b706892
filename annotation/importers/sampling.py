"""Seeded sampling across communities and categories (LIMA: temperature 3 for Stack Exchange, category-first for wikiHow)."""

from __future__ import annotations

import heapq
import random
from typing import Generic, Hashable, Iterable, Sequence, TypeVar

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


def temperature_weights(sizes: dict[str, int], temperature: float) -> dict[str, float]:
    """p(community) ∝ n^(1/T): T=1 samples in proportion to size, larger T flattens toward uniform."""
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return {name: float(size) ** (1.0 / temperature) for name, size in sizes.items() if size > 0}


def sample_across_communities(
    pools: dict[str, Sequence[T]], sizes: dict[str, int], k: int, *, temperature: float, rng: random.Random
) -> list[tuple[str, T]]:
    """Draw k items: each draw picks a community with p ∝ size^(1/T) among those with items left,
    then takes that community's next item in pool order (LIMA takes the highest-scoring first)."""
    weights = temperature_weights({name: sizes.get(name, 0) for name in sorted(pools) if pools[name]}, temperature)
    taken = {name: 0 for name in weights}
    chosen: list[tuple[str, T]] = []
    while len(chosen) < k and weights:
        names = list(weights)
        name = rng.choices(names, weights=[weights[n] for n in names])[0]
        chosen.append((name, pools[name][taken[name]]))
        taken[name] += 1
        if taken[name] >= len(pools[name]):
            del weights[name]
    return chosen


def category_first_sample(pools: dict[str, Sequence[T]], k: int, *, rng: random.Random) -> list[tuple[str, T]]:
    """Draw k items: a category uniformly among those with items left, then its next item (pools are pre-shuffled)."""
    remaining = {name: list(items) for name, items in sorted(pools.items()) if items}
    chosen: list[tuple[str, T]] = []
    while len(chosen) < k and remaining:
        name = rng.choice(sorted(remaining))
        chosen.append((name, remaining[name].pop(0)))
        if not remaining[name]:
            del remaining[name]
    return chosen


class Reservoir(Generic[T]):
    """A uniform random sample of at most `size` items from a stream of unknown length (Algorithm R)."""

    def __init__(self, size: int, rng: random.Random):
        self.size = size
        self.items: list[T] = []
        self.seen = 0
        self._rng = rng

    def offer(self, item: T) -> T | None:
        """Add an item; returns the item that fell out of the sample (or None)."""
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
            return None
        slot = self._rng.randrange(self.seen)
        if slot < self.size:
            dropped, self.items[slot] = self.items[slot], item
            return dropped
        return item


class TopK(Generic[K]):
    """The k highest-scoring keys of a stream, with their payloads; memory stays at k entries.

    Ties keep the earlier key (lower position in the dump), so results do not depend on hash order.
    """

    def __init__(self, k: int):
        self.k = k
        self._heap: list[tuple[int, int, K]] = []
        self.payloads: dict[K, list] = {}
        self._order = 0

    def __contains__(self, key: K) -> bool:
        return key in self.payloads

    def __len__(self) -> int:
        return len(self.payloads)

    def offer(self, key: K, score: int, payload: list) -> K | None | bool:
        """Keep the key if it ranks in the top k. Returns the evicted key, None if nothing was evicted,
        or False if the new key itself did not make it."""
        self._order += 1
        entry = (score, -self._order, key)
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, entry)
            self.payloads[key] = payload
            return None
        if entry <= self._heap[0]:
            return False
        _, _, evicted = heapq.heapreplace(self._heap, entry)
        del self.payloads[evicted]
        self.payloads[key] = payload
        return evicted

    def ranked(self) -> list[tuple[K, int, list]]:
        """(key, score, payload), best first."""
        return [(key, score, self.payloads[key]) for score, _, key in sorted(self._heap, reverse=True)]


def shuffled(items: Iterable[T], rng: random.Random) -> list[T]:
    result = list(items)
    rng.shuffle(result)
    return result
