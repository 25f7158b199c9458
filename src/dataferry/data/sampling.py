"""Deterministic per-row random draws: a function of (seed, purpose, row position) only.

Because a row's draw does not depend on how rows are chunked, on the process or on the
machine, the same seed selects the same rows everywhere, and the two halves of a split
(``draw < p`` and ``draw >= p``) are disjoint and together are the whole input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
# a different stream per purpose, so sample(seed=42) and random_split(seed=42) are
# independent draws even when chained
_SALTS = {"sample": 0x5A17_0001, "split": 0x5A17_0002}


def _mix_scalar(z: int) -> int:
    z = (z + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def draws(seed: int, purpose: str, start: int, count: int) -> NDArray[np.float64]:
    """Uniform draws in [0, 1) for row positions ``start .. start+count-1`` (splitmix64)."""
    key = np.uint64(_mix_scalar((seed & _MASK) ^ _SALTS[purpose]))
    z = np.arange(start, start + count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = z * np.uint64(_GOLDEN) + key
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
