"""Numba kernels of Hopfield retrieval dynamics (zero-temperature asynchronous and Glauber heat bath).

Both kernels keep the local fields :math:`\\phi_i = \\sum_j J_{ij} s_j + h_i` and update them
incrementally when a spin flips (cost O(N) per flip, O(1) per rejected update). They take plain arrays
and an integer seed; :mod:`spinlens.memory.hopfield` validates input and wraps them.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["async_zero_t", "glauber"]


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


@njit(cache=True)
def glauber(
    J: np.ndarray,
    h: np.ndarray,
    S: np.ndarray,
    beta: float,
    n_sweeps: int,
    n_burn: int,
    patterns: np.ndarray,
    seed: int,
) -> np.ndarray:
    """Heat-bath (Glauber) dynamics at inverse temperature ``beta`` in random sequential order, in place.

    ``P(s_i = +1) = 1 / (1 + exp(-2 beta phi_i))``. Returns the overlaps ``m_mu = xi^mu . s / N``
    averaged over the sweeps after ``n_burn`` (shape ``(b, P)``; ``patterns`` is int8 ``(P, n)``).
    """
    np.random.seed(seed)  # noqa: NPY002 (numba's per-thread generator)
    b, n = S.shape
    P = patterns.shape[0]
    msum = np.zeros((b, P))
    phi = np.empty(n)
    n_meas = 0
    for a in range(b):
        for i in range(n):
            acc = h[i]
            for j in range(n):
                acc += J[i, j] * S[a, j]
            phi[i] = acc
        n_meas = 0
        for t in range(n_sweeps):
            order = np.random.permutation(n)  # noqa: NPY002
            for q in range(n):
                i = order[q]
                x = 2.0 * beta * phi[i]
                if x > 40.0:
                    new = 1
                elif x < -40.0:
                    new = -1
                else:
                    new = 1 if np.random.random() < 1.0 / (1.0 + np.exp(-x)) else -1  # noqa: NPY002
                if new != S[a, i]:
                    S[a, i] = new
                    d = 2.0 * new
                    for j in range(n):
                        phi[j] += d * J[i, j]
            if t >= n_burn:
                n_meas += 1
                for mu in range(P):
                    acc = 0.0
                    for j in range(n):
                        acc += patterns[mu, j] * S[a, j]
                    msum[a, mu] += acc / n
    if n_meas > 0:
        msum /= n_meas
    return msum
