"""Fresh random seeds for samples and splits, without numpy (the pipeline layer uses it)."""

from __future__ import annotations

import os


def new_seed() -> int:
    """A fresh random seed, recorded in the definition so the dataset stays reproducible."""
    # what SystemRandom().randint(0, 2**32 - 1) returns, without importing random
    return int.from_bytes(os.urandom(4), "big")
