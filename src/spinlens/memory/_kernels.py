"""Numba kernel of zero-temperature asynchronous Hopfield retrieval (finite T runs through
:mod:`spinlens.sampling`).

The kernel keeps the local fields :math:`\\phi_i = \\sum_j J_{ij} s_j + h_i` and updates them
incrementally when a spin flips (cost O(N) per flip, O(1) per rejected update). It takes plain arrays
and an integer seed; :mod:`spinlens.memory.hopfield` validates input and wraps them.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["async_zero_t"]


@njit(cache=True)
def async_zero_t(
    J: np.ndarray, h: np.ndarray, S: np.ndarray, max_sweeps: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Asynchronous T = 0 dynamics ``s_i <- sign(phi_i)`` (ties keep ``s_i``) in random order, in place.

    ``S`` is an int8 ``(b, n)`` batch; returns the sweeps used and whether each state is a fixed point.
    """
    np.random.seed(seed)  # noqa: NPY002 (numba's per-thread generator)
    b, n = S.shape
    sweeps = np.zeros(b, dtype=np.int64)
    converged = np.zeros(b, dtype=np.bool_)
    phi = np.empty(n)
    for a in range(b):
        for i in range(n):
            acc = h[i]
            for j in range(n):
                acc += J[i, j] * S[a, j]
            phi[i] = acc
        for t in range(max_sweeps):
            order = np.random.permutation(n)  # noqa: NPY002
            flips = 0
            for q in range(n):
                i = order[q]
                si = S[a, i]
                if phi[i] * si < 0.0:
                    new = -si
                    S[a, i] = new
                    d = 2.0 * new
                    for j in range(n):
                        phi[j] += d * J[i, j]
                    flips += 1
            sweeps[a] = t + 1
            if flips == 0:
                converged[a] = True
                break
    return sweeps, converged
