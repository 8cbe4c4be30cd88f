"""Numba kernels of exact enumeration (Gray-code order, incremental local fields, rescaled weights).

The kernels take plain arrays; :mod:`spinlens.exact.enumeration` validates input, splits the state
space into blocks (for progress reporting) and turns the accumulators into thermodynamics.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["enumerate_block", "CHUNK"]

#: States processed per inner chunk: energies, spins and spin products of a chunk are buffered, then
#: weighted for every temperature and added to the accumulators.
CHUNK = 512


@njit(cache=True)
def _gray(k: int) -> int:
    return k ^ (k >> 1)


@njit(cache=True)
def _state_from_code(code: int, n: int, s: np.ndarray) -> None:
    # bit i set <=> spin i is down
    for i in range(n):
        s[i] = -1.0 if (code >> i) & 1 else 1.0


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
def enumerate_block(
    J: np.ndarray,
    h: np.ndarray,
    n_free: int,
    betas: np.ndarray,
    k_start: int,
    k_stop: int,
    e_ref: np.ndarray,
    z: np.ndarray,
    e1: np.ndarray,
    e2: np.ndarray,
    m: np.ndarray,
    pairs: np.ndarray,
) -> None:
    r"""Accumulate Boltzmann sums over Gray-code states ``k_start <= k < k_stop`` (in place).

    Spins ``0 .. n_free-1`` are enumerated; the remaining spins (at most one, used for the
    global spin-flip symmetry at zero field) stay +1. With ``w_b(s) = exp(-beta_b (E(s) - e_ref))``
    the accumulators receive

    ``z[b] += sum w``, ``e1[b] += sum w E``, ``e2[b] += sum w E^2``, ``m[b, i] += sum w s_i`` and
    ``pairs[b, p] += sum w s_i s_j`` over the pairs ``p = (i < j)`` in row-major order.

    ``e_ref[0]`` is the lowest energy seen so far (a running maximum of ``-E``, i.e. log-sum-exp
    with a moving reference): when a lower energy appears, every accumulator of temperature ``b``
    is multiplied by ``exp(-beta_b (e_ref_old - e_ref_new)) <= 1``, so no weight ever exceeds one.
    Each chunk starts from local fields and an energy recomputed from scratch, which bounds the
    rounding drift of the incremental updates ``E -> E + 2 s_i phi_i``, ``phi_j -> phi_j - 2 J_ji s_i``.
    """
    n = J.shape[0]
    nb = betas.shape[0]
    npairs = n * (n - 1) // 2
    s = np.ones(n)
    phi = np.zeros(n)
    S = np.empty((CHUNK, n))
    P = np.empty((CHUNK, npairs))
    E = np.empty(CHUNK)
    W = np.empty((nb, CHUNK))
    k = k_start
    while k < k_stop:
        cnt = int(min(CHUNK, k_stop - k))
        _state_from_code(_gray(k), n_free, s)
        for i in range(n_free, n):
            s[i] = 1.0
        e = _fields_and_energy(J, h, s, phi)
        emin = e
        for c in range(cnt):
            if c > 0:
                # Gray code: step k flips the spin at the lowest set bit of k
                kk = k + c
                i = 0
                while (kk >> i) & 1 == 0:
                    i += 1
                si = s[i]
                e += 2.0 * si * (phi[i] + h[i])
                s[i] = -si
                for j in range(n):
                    phi[j] -= 2.0 * J[j, i] * si
            E[c] = e
            if e < emin:
                emin = e
            for i in range(n):
                S[c, i] = s[i]
            p = 0
            for i in range(n):
                si = s[i]
                for j in range(i + 1, n):
                    P[c, p] = si * s[j]
                    p += 1
        # move the reference energy down if needed (rescale what was accumulated so far)
        if emin < e_ref[0]:
            for b in range(nb):
                if np.isfinite(e_ref[0]):
                    f = np.exp(-betas[b] * (e_ref[0] - emin))
                    z[b] *= f
                    e1[b] *= f
                    e2[b] *= f
                    for i in range(n):
                        m[b, i] *= f
                    for q in range(npairs):
                        pairs[b, q] *= f
            e_ref[0] = emin
        for b in range(nb):
            zb = 0.0
            a1 = 0.0
            a2 = 0.0
            for c in range(cnt):
                w = np.exp(-betas[b] * (E[c] - e_ref[0]))
                W[b, c] = w
                zb += w
                a1 += w * E[c]
                a2 += w * E[c] * E[c]
            z[b] += zb
            e1[b] += a1
            e2[b] += a2
        # explicit loops, not np.dot: threaded BLAS on these small products is slow under load
        for b in range(nb):
            mb = m[b]
            pb = pairs[b]
            for c in range(cnt):
                w = W[b, c]
                Sc = S[c]
                Pc = P[c]
                for i in range(n):
                    mb[i] += w * Sc[i]
                for q in range(npairs):
                    pb[q] += w * Pc[q]
        k += cnt
