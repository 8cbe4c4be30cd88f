"""Explicit randomness (DESIGN convention 1).

Every stochastic function in spinlens takes ``rng`` (an int seed, a
:class:`numpy.random.Generator`, or ``None``) and converts it here. Library code
never touches global random state.
"""
from __future__ import annotations

from typing import Union

import numpy as np

RNGLike = Union[int, np.integer, np.random.Generator, np.random.SeedSequence, None]

__all__ = ["RNGLike", "as_generator", "spawn", "seed_int", "torch_generator"]


def as_generator(rng: RNGLike = None) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` for ``rng``.

    ``None`` gives fresh OS entropy, an int or SeedSequence a reproducible
    generator, and a Generator is returned unchanged (shared, not copied).
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer, np.random.SeedSequence)):
        if isinstance(rng, (int, np.integer)) and int(rng) < 0:
            raise ValueError(f"rng seed must be a non-negative integer, got {rng}")
        return np.random.default_rng(rng)
    raise TypeError(
        f"rng must be an int seed, a numpy Generator, a SeedSequence or None; got {type(rng).__name__}"
    )


def spawn(rng: RNGLike, k: int) -> list[np.random.Generator]:
    """``k`` statistically independent child generators (one per chain/replica)."""
    return list(as_generator(rng).spawn(int(k)))


def seed_int(rng: RNGLike) -> int:
    """Draw a 63-bit integer seed from ``rng`` (for numba kernels, torch, workers)."""
    return int(as_generator(rng).integers(0, 2**63 - 1))


def torch_generator(rng: RNGLike, device: str | None = None):  # pragma: no cover - thin
    """A ``torch.Generator`` seeded from ``rng``."""
    import torch

    g = torch.Generator(device=device or "cpu")
    g.manual_seed(seed_int(rng))
    return g
