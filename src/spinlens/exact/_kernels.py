"""Numba kernels of exact enumeration (Gray-code order, incremental updates, rescaled weights).

The kernels take plain arrays; :mod:`spinlens.exact.enumeration` validates input, splits the state
space into ranges of blocks (for progress reporting) and turns the accumulators into thermodynamics.

Block structure. Spins ``0 .. k-1`` are *low*, the others *high*. Within an aligned block of
``B = 2^k`` consecutive Gray-code steps only low spins flip, so the high spins are constant and the
low spins run through all ``2^k`` patterns exactly once. Per state the kernel therefore does
:math:`O(k)` work (flip, field update of the low spins, one ``exp`` per temperature); everything
involving high spins is done once per block, and low–low sums are collected in a per-pattern weight
table ``T[b, p]`` and reduced once at the end.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["enumerate_blocks", "LOW_BITS"]

#: Number of low spins per block (``2^LOW_BITS`` states per block).
LOW_BITS = 10


@njit(cache=True)
def _gray(k: int) -> int:
    return k ^ (k >> 1)


@njit(cache=True)
def _fields_and_energy(J: np.ndarray, h: np.ndarray, s: np.ndarray, phi: np.ndarray) -> float:
    # phi_i = sum_j J_ij s_j (couplings only); E = -1/2 s.J s - h.s
    n = s.shape[0]
    e = 0.0
    for i in range(n):
        acc = 0.0
        for j in range(n):
            acc += J[i, j] * s[j]
        phi[i] = acc
        e -= 0.5 * s[i] * acc + h[i] * s[i]
    return e


@njit(cache=True)
def enumerate_blocks(
    J: np.ndarray,
    h: np.ndarray,
    n_free: int,
    k: int,
    betas: np.ndarray,
    a_start: int,
    a_stop: int,
    e_ref: np.ndarray,
    z: np.ndarray,
    e1: np.ndarray,
    e2: np.ndarray,
    T: np.ndarray,
    mhigh: np.ndarray,
    C: np.ndarray,
) -> None:
    r"""Accumulate Boltzmann sums over the Gray-code blocks ``a_start <= a < a_stop`` (in place).

    Block ``a`` holds Gray-code steps ``a 2^k .. (a+1) 2^k - 1``. Spins ``0 .. n_free-1`` are
    enumerated; the remaining spins (at most one, for the global flip symmetry at zero field) stay +1.
    With ``w_b(s) = exp(-beta_b (E(s) - e_ref))``:

    * ``z[b] += sum w``, ``e1[b] += sum w E``, ``e2[b] += sum w E^2``;
    * ``T[b, p] += sum w`` over states whose low spins have pattern ``p`` (bit i set: spin i down);
    * ``mhigh[b, j] += sum w s_j`` for high ``j >= k``;
    * ``C[b, i, j] += sum w s_i s_j`` for ``i < j`` with ``j`` high (low–high and high–high pairs).

    ``e_ref[0]`` is the lowest energy seen so far (log-sum-exp with a running maximum of ``-E``):
    when a block contains a lower energy, every accumulator of temperature ``b`` is multiplied by
    ``exp(-beta_b (e_ref_old - e_ref_new)) <= 1`` first, so no weight exceeds one. Each block starts
    from local fields and an energy recomputed from scratch, which bounds the rounding drift of the
    incremental updates ``E -> E + 2 s_i (phi_i + h_i)``, ``phi_j -> phi_j - 2 J_ji s_i``.
    """
    n = J.shape[0]
    nb = betas.shape[0]
    B = 1 << k
    s = np.ones(n)
    phi = np.zeros(n)
    E = np.empty(B)
    pat = np.empty(B, dtype=np.int64)
    mlow = np.empty(k)
    spat = np.empty((B, k))
    for p in range(B):
        for i in range(k):
            spat[p, i] = -1.0 if (p >> i) & 1 else 1.0
    mask = B - 1
    for a in range(a_start, a_stop):
        base = a * B
        g = _gray(base)
        for i in range(n):
            s[i] = -1.0 if (i < n_free and (g >> i) & 1) else 1.0
        e = _fields_and_energy(J, h, s, phi)
        emin = e
        E[0] = e
        pat[0] = g & mask
        for c in range(1, B):
            # Gray code: step c flips the spin at the lowest set bit of c (< k inside a block)
            i = 0
            while (c >> i) & 1 == 0:
                i += 1
            si = s[i]
            e += 2.0 * si * (phi[i] + h[i])
            s[i] = -si
            for j in range(k):
                phi[j] -= 2.0 * J[j, i] * si
            E[c] = e
            pat[c] = _gray(base + c) & mask
            if e < emin:
                emin = e
        if emin < e_ref[0]:
            if np.isfinite(e_ref[0]):
                for b in range(nb):
                    f = np.exp(-betas[b] * (e_ref[0] - emin))
                    z[b] *= f
                    e1[b] *= f
                    e2[b] *= f
                    for p in range(B):
                        T[b, p] *= f
                    for j in range(n):
                        mhigh[b, j] *= f
                        for i in range(n):
                            C[b, i, j] *= f
            e_ref[0] = emin
        er = e_ref[0]
        for b in range(nb):
            beta = betas[b]
            zb = 0.0
            a1 = 0.0
            a2 = 0.0
            for i in range(k):
                mlow[i] = 0.0
            for c in range(B):
                w = np.exp(-beta * (E[c] - er))
                ec = E[c]
                zb += w
                a1 += w * ec
                a2 += w * ec * ec
                p = pat[c]
                T[b, p] += w
                for i in range(k):
                    mlow[i] += w * spat[p, i]
            z[b] += zb
            e1[b] += a1
            e2[b] += a2
            for j in range(k, n):
                sj = s[j]
                mhigh[b, j] += zb * sj
                for i in range(k):
                    C[b, i, j] += mlow[i] * sj
                for i in range(k, j):
                    C[b, i, j] += zb * s[i] * sj
