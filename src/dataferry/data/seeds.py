"""Fresh random seeds for samples and splits, without numpy (the pipeline layer uses it)."""

from __future__ import annotations

import random


def new_seed() -> int:
    """A fresh random seed, recorded in the definition so the dataset stays reproducible."""
    return random.SystemRandom().randint(0, 2**32 - 1)
