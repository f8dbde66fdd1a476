"""Whole patients to train / validation / test by a seeded hash of the pseudonym: the
same patients land on the same side in every run with the same seed, whatever the
order they arrive in, and no patient is on two sides."""

from __future__ import annotations

import hashlib
import math


def ranked(keys, seed: int) -> list[str]:
    """The distinct keys in a seeded, stable pseudo-random order."""

    def score(key: str) -> int:
        return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:12], 16)

    return sorted(set(keys), key=score)


def share_count(share: float, total: int) -> int:
    """How many of ``total`` patients a share holds (at least one; half rounds up)."""
    return max(1, math.floor(share * total + 0.5))


def assign(keys, held_out_share: float, seed: int) -> dict[str, str]:
    """``held_out_share`` of the patients each to ``test`` and ``validation``, the rest to
    ``train``."""
    order = ranked(keys, seed)
    count = share_count(held_out_share, len(order))
    out = {k: "test" for k in order[:count]}
    out.update({k: "validation" for k in order[count : 2 * count]})
    out.update({k: "train" for k in order[2 * count :]})
    return out
