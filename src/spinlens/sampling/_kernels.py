r"""numba kernels of the Monte Carlo engine (pure functions of arrays and integer seeds).

Conventions: spins are ``int8`` in {-1, +1}; :math:`H = -\tfrac12 s^\top J s - h^\top s`; the energy change of
flipping spin ``i`` is :math:`\Delta E_i = 2 s_i \phi_i` with the local field :math:`\phi_i = \sum_j J_{ij} s_j + h_i`.
Random numbers come from xoshiro256** (Blackman & Vigna 2018) seeded through splitmix64, so every kernel is a
deterministic function of its integer seeds. Records are taken after sweep ``t`` (0-based) when
``t >= n_burn`` and ``(t - n_burn + 1) % thin == 0``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

# ---------------------------------------------------------------------------------------------- RNG
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)
_TWO53 = 1.0 / 9007199254740992.0
HALF53 = np.uint64(1 << 52)


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, inline="always")
def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def xo_seed(seed):
    """xoshiro256** state (4 uint64) from an integer seed via splitmix64."""
    s = np.empty(4, np.uint64)
    x = np.uint64(seed)
    for i in range(4):
        x = x + _GOLDEN
        s[i] = _mix64(x)
    if s[0] == 0 and s[1] == 0 and s[2] == 0 and s[3] == 0:  # pragma: no cover - astronomically unlikely
        s[0] = _ONE
    return s


@njit(cache=True, inline="always")
def xo_next(s):
    """Next 64 random bits of xoshiro256** (updates ``s`` in place)."""
    s0 = s[0]
    s1 = s[1]
    s2 = s[2]
    s3 = s[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3
    return result


@njit(cache=True, inline="always")
def xo_step(s0, s1, s2, s3):
    """xoshiro256** on a state held in four locals (stays in registers): ``(bits, s0, s1, s2, s3)``."""
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, s0, s1, s2, s3


@njit(cache=True, inline="always")
def xo_uniform(s):
    """Uniform double in [0, 1) with 53 random bits."""
    return float(xo_next(s) >> np.uint64(11)) * _TWO53


@njit(cache=True, inline="always")
def hash_uniform(seed, a, b):
    """Counter-based uniform in [0, 1) from ``(seed, a, b)`` (for order-independent parallel updates)."""
    z = np.uint64(seed) ^ (np.uint64(a) * _GOLDEN)
    z = _mix64(z + np.uint64(b) * _MIX2 + _GOLDEN)
    z = _mix64(z)
    return float(z >> np.uint64(11)) * _TWO53


def _record_now(t, n_burn, thin):  # documented helper (python twin of the inline test below)
    return t >= n_burn and (t - n_burn + 1) % thin == 0


# ------------------------------------------------------------------- single-spin Metropolis / heat bath
@njit(cache=True, inline="always")
def _single_spin_decision(dE, beta, heatbath, x0, x1, x2, x3):
    """Flip decision for energy change ``dE``: ``(flip, x0, x1, x2, x3)`` (the RNG state stays in registers).

    Metropolis accepts with :math:`\\min(1, e^{-\\beta\\Delta E})` except that zero-energy flips are accepted
    with probability 1/2 (still symmetric, so detailed balance holds): with deterministic zero-energy flips,
    sequential and checkerboard sweeps are not ergodic (e.g. striped states of a periodic lattice cycle
    forever). Heat bath accepts with :math:`1/(1 + e^{\\beta\\Delta E})`.
    """
    if dE < 0.0 and not heatbath:
        return True, x0, x1, x2, x3
    Ru, x0, x1, x2, x3 = xo_step(x0, x1, x2, x3)
    u = float(Ru >> np.uint64(11)) * _TWO53
    if heatbath:
        x = beta * dE
        flip = u * (1.0 + np.exp(x)) < 1.0 if x < 700.0 else False
    else:
        flip = u < (0.5 if dE == 0.0 else np.exp(-beta * dE))
    return flip, x0, x1, x2, x3


@njit(cache=True)
def single_spin_csr(indptr, indices, data, h, states, phis, energies, mags, betas, n_sweeps, n_burn, thin,
                    heatbath, seeds, E_out, M_out, S_out, record_states):
    """Sequential-sweep Metropolis (``heatbath=False``) or heat-bath updates on CSR couplings.

    Decisions as in :func:`_single_spin_decision`. Local fields ``phis`` (chains, n), ``energies`` and ``mags``
    (chains,) are kept up to date incrementally and must be consistent with ``states`` on entry. Returns
    accepted flips per chain.
    """
    n_chains, n = states.shape
    acc = np.zeros(n_chains, np.int64)
    for c in range(n_chains):
        rs = xo_seed(seeds[c])
        x0 = rs[0]
        x1 = rs[1]
        x2 = rs[2]
        x3 = rs[3]
        s = states[c]
        phi = phis[c]
        beta = betas[c]
        E = energies[c]
        M = mags[c]
        rec = 0
        a = 0
        for t in range(n_sweeps):
            for i in range(n):
                si = s[i]
                dE = 2.0 * si * phi[i]
                flip, x0, x1, x2, x3 = _single_spin_decision(dE, beta, heatbath, x0, x1, x2, x3)
                if flip:
                    s[i] = -si
                    E += dE
                    M -= 2 * si
                    a += 1
                    two_s = 2.0 * si
                    for k in range(indptr[i], indptr[i + 1]):
                        phi[indices[k]] -= two_s * data[k]
            if t >= n_burn and (t - n_burn + 1) % thin == 0:
                E_out[c, rec] = E
                M_out[c, rec] = M
                if record_states:
                    S_out[c, rec, :] = s
                rec += 1
        energies[c] = E
        mags[c] = M
        acc[c] = a
    return acc


def _twice(x):  # pragma: no cover - replaced by the overload below inside numba code
    return 2 * x


@overload(_twice, inline="always")
def _twice_impl(x):
    """``2x`` in the form that vectorises best: a float multiply, or an integer add (typed int64 by numba; the
    fields it updates stay within int32 by the caller's row-sum bound)."""
    if isinstance(x, types.Float):
        return lambda x: 2.0 * x
    return lambda x: x + x


@njit(cache=True)
def single_spin_dense(D, scale, h, states, P, energies, mags, betas, n_sweeps, n_burn, thin, heatbath, seeds,
                      E_out, M_out, S_out, record_states):
    """Dense-J twin of :func:`single_spin_csr`: contiguous row updates of the local fields.

    The local field is :math:`\\phi_i = h_i + \\text{scale}\\,P_i` with :math:`P = D s` kept up to date: a flip of
    spin ``i`` adds :math:`-2 s_i D_{i\\cdot}` to ``P`` (one row read per accepted flip, so large models are
    bound by memory bandwidth and the width of ``D`` sets the speed).

    - float ``D`` (float64 or float32 couplings): ``scale = 1``, ``h = 0`` and ``P`` (float64) holds
      :math:`\\phi` itself;
    - integer ``D`` (fixed point, :math:`J \\approx \\text{scale}\\,D`): ``P`` is int32 and exact (integer
      sums do not drift); the caller guarantees :math:`\\max_i \\sum_j |D_{ij}| < 2^{31}`.
    """
    n_chains, n = states.shape
    acc = np.zeros(n_chains, np.int64)
    for c in range(n_chains):
        rs = xo_seed(seeds[c])
        x0 = rs[0]
        x1 = rs[1]
        x2 = rs[2]
        x3 = rs[3]
        s = states[c]
        p = P[c]
        beta = betas[c]
        E = energies[c]
        M = mags[c]
        rec = 0
        a = 0
        for t in range(n_sweeps):
            for i in range(n):
                si = s[i]
                dE = 2.0 * si * (h[i] + scale * p[i])
                flip, x0, x1, x2, x3 = _single_spin_decision(dE, beta, heatbath, x0, x1, x2, x3)
                if flip:
                    s[i] = -si
                    E += dE
                    M -= 2 * si
                    a += 1
                    Di = D[i]
                    if si > 0:  # two sign-specialised loops: no multiply in the memory-bound inner loop
                        for j in range(n):
                            p[j] -= _twice(Di[j])
                    else:
                        for j in range(n):
                            p[j] += _twice(Di[j])
            if t >= n_burn and (t - n_burn + 1) % thin == 0:
                E_out[c, rec] = E
                M_out[c, rec] = M
                if record_states:
                    S_out[c, rec, :] = s
                rec += 1
        energies[c] = E
        mags[c] = M
        acc[c] = a
    return acc


@njit(cache=True)
def fixed_point_fields(D, states):
    """Exact integer local fields :math:`P_{ci} = \\sum_j D_{ij} s_{cj}` (int32; the caller bounds the row sums)."""
    n_chains, n = states.shape
    P = np.empty((n_chains, n), np.int32)
    for c in range(n_chains):
        s = states[c]
        for i in range(n):
            Di = D[i]
            acc = 0
            for j in range(n):
                acc += Di[j] * s[j]
            P[c, i] = acc
    return P


@njit(cache=True)
def quench_csr(indptr, indices, data, h, states, phis, energies, mags, max_sweeps):
    """Zero-temperature greedy descent: flip every spin with ``dE < 0`` until none is left (or ``max_sweeps``)."""
    n_chains, n = states.shape
    for c in range(n_chains):
        s = states[c]
        phi = phis[c]
        for _ in range(max_sweeps):
            changed = False
            for i in range(n):
                si = s[i]
                dE = 2.0 * si * phi[i]
                if dE < -1e-12:
                    s[i] = -si
                    energies[c] += dE
                    mags[c] -= 2 * si
                    changed = True
                    for k in range(indptr[i], indptr[i + 1]):
                        phi[indices[k]] -= 2.0 * si * data[k]
            if not changed:
                break


# ---------------------------------------------------------------------------------------------- energy
@njit(cache=True)
def energy_csr(indptr, indices, data, h, s):
    """:math:`H(s) = -\\tfrac12 s^\\top J s - h^\\top s` for one int8 state."""
    n = s.shape[0]
    e = 0.0
    for i in range(n):
        acc = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            acc += data[k] * s[indices[k]]
        e -= 0.5 * s[i] * acc + h[i] * s[i]
    return e


# ------------------------------------------------------------------------------ checkerboard (colouring)
@njit(cache=True)
def greedy_colouring(indptr, indices):
    """Greedy graph colouring: sites of one colour share no coupling (a checkerboard for bipartite lattices)."""
    n = indptr.shape[0] - 1
    col = -np.ones(n, np.int64)
    used = np.zeros(n + 1, np.int64)
    for i in range(n):
        stamp = i + 1
        for k in range(indptr[i], indptr[i + 1]):
            cj = col[indices[k]]
            if cj >= 0:
                used[cj] = stamp
        c = 0
        while used[c] == stamp:
            c += 1
        col[i] = c
    return col


def _checkerboard_sweeps(indptr, indices, data, h, classes, class_ptr, states, beta, n_sweeps, n_burn, thin,
                        heatbath, seed, sweep0, E_out, M_out, S_out, record_states):
    """Colour-class (checkerboard) updates: all sites of one colour are updated at once (``prange``).

    Sites of one colour are not coupled, so their simultaneous Metropolis/heat-bath updates equal sequential ones.
    Uniforms come from a counter-based hash of ``(seed, sweep, chain * n + site)``: results do not depend on the
    number of threads. Returns accepted flips per chain.
    """
    n_chains, n = states.shape
    n_col = class_ptr.shape[0] - 1
    acc = np.zeros(n_chains, np.int64)
    for c in range(n_chains):
        s = states[c]
        rec = 0
        for t in range(n_sweeps):
            for col in range(n_col):
                lo = class_ptr[col]
                hi = class_ptr[col + 1]
                flips = np.zeros(hi - lo, np.int64)
                for q in prange(hi - lo):
                    i = classes[lo + q]
                    f = h[i]
                    for k in range(indptr[i], indptr[i + 1]):
                        f += data[k] * s[indices[k]]
                    dE = 2.0 * s[i] * f
                    u = hash_uniform(seed, sweep0 + t, c * n + i)
                    if heatbath:
                        x = beta * dE
                        flip = u * (1.0 + np.exp(x)) < 1.0 if x < 700.0 else False
                    elif dE < 0.0:
                        flip = True
                    else:
                        flip = u < (0.5 if dE == 0.0 else np.exp(-beta * dE))
                    if flip:
                        s[i] = -s[i]
                        flips[q] = 1
                acc[c] += flips.sum()
            if t >= n_burn and (t - n_burn + 1) % thin == 0:
                E_out[c, rec] = energy_csr(indptr, indices, data, h, s)
                M_out[c, rec] = s.astype(np.int64).sum()
                if record_states:
                    S_out[c, rec, :] = s
                rec += 1
    return acc


checkerboard_sweeps = njit(cache=True, parallel=True)(_checkerboard_sweeps)
checkerboard_sweeps_serial = njit(cache=True)(_checkerboard_sweeps)


# ------------------------------------------------------------------------------------------- clusters
@njit(cache=True)
def wolff_sweeps(indptr, indices, data, h, states, beta, n_sweeps, n_burn, thin, seeds, E_out, M_out, S_out,
                 record_states, clusters_per_sweep):
    """Wolff single-cluster updates for ferromagnetic couplings; one "sweep" grows ``clusters_per_sweep`` clusters.

    The number of clusters per sweep must be fixed in advance: stopping a sweep when the flipped sizes add up
    to ``n`` would make the measurement time depend on the state and bias the averages. ``clusters_per_sweep
    <= 0`` uses that adaptive rule anyway (only for pilot runs that measure the mean cluster size).

    A bond to an aligned neighbour joins with :math:`p_{ij} = 1 - e^{-2\\beta J_{ij}}` (Wolff 1989). With fields the
    grown cluster is flipped with probability :math:`\\min(1, e^{-\\beta\\Delta E_h})`,
    :math:`\\Delta E_h = 2\\sum_{i\\in C} h_i s_i`, which keeps detailed balance. Returns
    ``(clusters grown, spins flipped, spins in grown clusters)`` summed over chains.
    """
    n_chains, n = states.shape
    padd = 1.0 - np.exp(-2.0 * beta * data)
    stamp = np.zeros(n, np.int64)
    stack = np.empty(n, np.int64)
    out = np.zeros(3, np.int64)
    cur = 0
    for c in range(n_chains):
        rs = xo_seed(seeds[c])
        s = states[c]
        rec = 0
        for t in range(n_sweeps):
            done = 0
            n_done = 0
            while (clusters_per_sweep > 0 and n_done < clusters_per_sweep) or (clusters_per_sweep <= 0 and done < n):
                n_done += 1
                cur += 1
                i0 = int(xo_next(rs) % np.uint64(n))
                sig = s[i0]
                stamp[i0] = cur
                stack[0] = i0
                top = 1
                size = 0
                # the stack array doubles as the member list: members are stack[0:size_total]
                while size < top:
                    i = stack[size]
                    size += 1
                    for k in range(indptr[i], indptr[i + 1]):
                        j = indices[k]
                        if stamp[j] != cur and s[j] == sig and padd[k] > 0.0:
                            if xo_uniform(rs) < padd[k]:
                                stamp[j] = cur
                                stack[top] = j
                                top += 1
                dEh = 0.0
                for q in range(size):
                    dEh += h[stack[q]]
                dEh *= 2.0 * sig
                ok = True
                if dEh > 0.0:
                    ok = xo_uniform(rs) < np.exp(-beta * dEh)
                if ok:
                    for q in range(size):
                        s[stack[q]] = -sig
                    out[1] += size
                out[0] += 1
                out[2] += size
                done += size
            if t >= n_burn and (t - n_burn + 1) % thin == 0:
                E_out[c, rec] = energy_csr(indptr, indices, data, h, s)
                M_out[c, rec] = s.astype(np.int64).sum()
                if record_states:
                    S_out[c, rec, :] = s
                rec += 1
    return out


@njit(cache=True)
def _find(parent, i):
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@njit(cache=True)
def swendsen_wang_sweeps(indptr, indices, data, h, states, beta, n_sweeps, n_burn, thin, seeds, E_out, M_out,
                         S_out, record_states):
    """Swendsen–Wang sweeps for ferromagnetic couplings (Swendsen & Wang 1987).

    Every aligned bond is activated with :math:`1 - e^{-2\\beta J_{ij}}`; each connected cluster then takes its
    orientation by heat bath in its field energy: it flips with probability :math:`1/(1 + e^{\\beta\\Delta E_h})`,
    :math:`\\Delta E_h = 2\\sum_{i\\in C} h_i s_i` (probability 1/2 without fields). Returns the number of clusters.
    """
    n_chains, n = states.shape
    padd = 1.0 - np.exp(-2.0 * beta * data)
    parent = np.empty(n, np.int64)
    hsum = np.empty(n, np.float64)
    flipc = np.empty(n, np.int8)
    n_clusters = 0
    for c in range(n_chains):
        rs = xo_seed(seeds[c])
        s = states[c]
        rec = 0
        for t in range(n_sweeps):
            for i in range(n):
                parent[i] = i
                hsum[i] = 0.0
            for i in range(n):
                for k in range(indptr[i], indptr[i + 1]):
                    j = indices[k]
                    if j > i and s[j] == s[i] and padd[k] > 0.0:
                        if xo_uniform(rs) < padd[k]:
                            ri = _find(parent, i)
                            rj = _find(parent, j)
                            if ri != rj:
                                parent[rj] = ri
            for i in range(n):
                r = _find(parent, i)
                hsum[r] += h[i] * s[i]
            for i in range(n):
                if parent[i] == i:
                    n_clusters += 1
                    x = beta * 2.0 * hsum[i]
                    flipc[i] = 1 if (x < 700.0 and xo_uniform(rs) * (1.0 + np.exp(x)) < 1.0) else 0
            for i in range(n):
                if flipc[parent[i]] == 1:
                    s[i] = -s[i]
            if t >= n_burn and (t - n_burn + 1) % thin == 0:
                E_out[c, rec] = energy_csr(indptr, indices, data, h, s)
                M_out[c, rec] = s.astype(np.int64).sum()
                if record_states:
                    S_out[c, rec, :] = s
                rec += 1
    return n_clusters


# ----------------------------------------------------------------------------- multi-spin coding (MSC)
@njit(cache=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, inline="always")
def _shift_prev(w, nb, mask):
    # value at bit b taken from bit b-1 (cyclic within nb bits): rotate left by one
    if nb == 1:
        return w
    return ((w << _ONE) | (w >> np.uint64(nb - 1))) & mask


@njit(cache=True, inline="always")
def _shift_next(w, nb, mask):
    # value at bit b taken from bit b+1 (cyclic within nb bits): rotate right by one
    if nb == 1:
        return w
    return ((w >> _ONE) | (w << np.uint64(nb - 1))) & mask


@njit(cache=True, inline="always")
def _accept_bits(rs, u0, u1, u2, P0, P1, P2):
    """Bitwise comparison ``U < P_k`` of an independent 53-bit uniform per bit, for the bits in ``u_k``.

    Bits of the random words are read MSB first; a bit stays undecided while it equals the threshold's bit
    (expected ~log2(64) + 2 words for 64 spins). Returns the mask of bits whose uniform is below its threshold.
    """
    res = _ZERO
    for pos in range(52, -1, -1):
        if (u0 | u1 | u2) == _ZERO:
            break
        R = xo_next(rs)
        sh = np.uint64(pos)
        if (P0 >> sh) & _ONE:
            res |= u0 & ~R
            u0 &= R
        else:
            u0 &= ~R
        if (P1 >> sh) & _ONE:
            res |= u1 & ~R
            u1 &= R
        else:
            u1 &= ~R
        if (P2 >> sh) & _ONE:
            res |= u2 & ~R
            u2 &= R
        else:
            u2 &= ~R
    return res


@njit(cache=True, inline="always")
def _accept_bits_t(s0, s1, s2, s3, u0, u1, u2, P0, P1, P2):
    """:func:`_accept_bits` with the RNG state in locals; returns ``(mask, s0, s1, s2, s3)``."""
    res = _ZERO
    for pos in range(52, -1, -1):
        if (u0 | u1 | u2) == _ZERO:
            break
        R, s0, s1, s2, s3 = xo_step(s0, s1, s2, s3)
        sh = np.uint64(pos)
        if (P0 >> sh) & _ONE:
            res |= u0 & ~R
            u0 &= R
        else:
            u0 &= ~R
        if (P1 >> sh) & _ONE:
            res |= u1 & ~R
            u1 &= R
        else:
            u1 &= ~R
        if (P2 >> sh) & _ONE:
            res |= u2 & ~R
            u2 &= R
        else:
            u2 &= ~R
    return res, s0, s1, s2, s3


@njit(cache=True, inline="always")
def _count_add(c0, c1, c2, x):
    t = c0 & x
    c0 ^= x
    t2 = c1 & t
    c1 ^= t
    c2 |= t2
    return c0, c1, c2


@njit(cache=True, inline="always")
def _class_masks(c0, c1, c2, z):
    """From the bit-sliced count ``a`` of unsatisfied bonds: masks (a > z/2, a == z/2, a==0, a==1, a==2).

    ``a > z/2`` lowers the energy (always flip); ``a == z/2`` is a zero-energy flip, accepted with probability
    1/2 (see :func:`single_spin_csr` for why); ``a < z/2`` flips with ``exp(-beta dE)``.
    """
    n0 = ~c0
    n1 = ~c1
    n2 = ~c2
    if z == 4:
        return (c0 & c1) | c2, n0 & c1 & n2, n0 & n1 & n2, c0 & n1 & n2, _ZERO
    return c2, c0 & c1 & n2, n0 & n1 & n2, c0 & n1 & n2, n0 & c1 & n2


@njit(cache=True)
def msc_sublattice_sweeps(B, W, nbr_rows, row_par, nb, antiferro, P, n_sweeps, n_burn, thin, seed, E_out, M_out,
                          z, j_abs):
    """Multi-spin coded Metropolis on a periodic hypercubic lattice, sublattice packing, one lattice.

    ``B`` and ``W`` (rows, words) hold the two checkerboard sublattices: row ``r`` is a line along the last axis
    (``par = row_par[r]``), black site ``j`` of the row sits at ``x = 2j + par`` and white site ``j`` at
    ``x = 2j + 1 - par``; site ``j = b * n_words + k`` is bit ``b`` of word ``k`` (``nb`` bits used). All
    neighbours of a word of one sublattice are whole words (or one-bit rotations) of the other, so 64 spins are
    updated with bit operations: a bit-sliced counter gives the number ``a`` of unsatisfied bonds, sites with
    ``a > z/2`` flip, ``a = z/2`` (zero energy change) with probability 1/2, the rest flip when their own
    53-bit uniform is below ``P[a] = exp(-2 beta |J| (z - 2a))`` (independent randomness per spin).
    Bit 1 means spin +1. Records energy and magnetisation (totals).
    """
    rs = xo_seed(seed)
    x0 = rs[0]
    x1 = rs[1]
    x2 = rs[2]
    x3 = rs[3]
    R, nw = B.shape
    nrn = nbr_rows.shape[1]
    mask = _ALL if nb == 64 else ((_ONE << np.uint64(nb)) - _ONE)
    P0 = P[0]
    P1 = P[1]
    P2 = P[2]
    af = _ALL if antiferro else _ZERO
    rec = 0
    flips = 0
    for t in range(n_sweeps):
        for sub in range(2):
            X = B if sub == 0 else W
            Y = W if sub == 0 else B
            for r in range(R):
                direction = 1 if (row_par[r] ^ sub) == 1 else -1
                Yr = Y[r]
                Ya = Y[nbr_rows[r, 0]]
                Yb = Y[nbr_rows[r, 1]]
                Yc = Y[nbr_rows[r, 2]] if nrn == 4 else Ya
                Yd = Y[nbr_rows[r, 3]] if nrn == 4 else Ya
                Xr = X[r]
                for ks in range(nw):
                    k = np.uintp(ks)  # unsigned: no negative-index wrap-around checks
                    s = Xr[k]
                    sa = s ^ af  # antiferromagnet: unsatisfied bonds are the aligned ones
                    if direction == 1:
                        nxt = Yr[k + np.uintp(1)] if ks + 1 < nw else _shift_next(Yr[np.uintp(0)], nb, mask)
                    else:
                        nxt = Yr[k - np.uintp(1)] if ks > 0 else _shift_prev(Yr[np.uintp(nw - 1)], nb, mask)
                    c0 = sa ^ Ya[k]
                    c1 = _ZERO
                    c2 = _ZERO
                    c0, c1, c2 = _count_add(c0, c1, c2, sa ^ Yb[k])
                    c0, c1, c2 = _count_add(c0, c1, c2, sa ^ Yr[k])
                    c0, c1, c2 = _count_add(c0, c1, c2, sa ^ nxt)
                    if nrn == 4:
                        c0, c1, c2 = _count_add(c0, c1, c2, sa ^ Yc[k])
                        c0, c1, c2 = _count_add(c0, c1, c2, sa ^ Yd[k])
                    always, half, m0, m1, m2 = _class_masks(c0, c1, c2, z)
                    if half != _ZERO:
                        Rh, x0, x1, x2, x3 = xo_step(x0, x1, x2, x3)
                        always |= half & Rh
                    rb, x0, x1, x2, x3 = _accept_bits_t(x0, x1, x2, x3, m0 & mask, m1 & mask, m2 & mask, P0, P1, P2)
                    acc = (always | rb) & mask
                    Xr[k] = s ^ acc
                    flips += _popcount(acc)
        if t >= n_burn and (t - n_burn + 1) % thin == 0:
            E_out[rec], M_out[rec] = msc_sublattice_observables(B, W, nbr_rows, row_par, nb, antiferro, j_abs)
            rec += 1
    return flips


@njit(cache=True)
def msc_sublattice_observables(B, W, nbr_rows, row_par, nb, antiferro, j_abs):
    """Energy and magnetisation (totals) of a sublattice-packed lattice (every bond touches one black site)."""
    R, nw = B.shape
    nrn = nbr_rows.shape[1]
    mask = _ALL if nb == 64 else ((_ONE << np.uint64(nb)) - _ONE)
    ones = 0
    bad = 0
    for r in range(R):
        direction = 1 if row_par[r] == 1 else -1
        Wr = W[r]
        for k in range(nw):
            s = B[r, k]
            ones += _popcount(s & mask) + _popcount(W[r, k] & mask)
            for q in range(nrn):
                bad += _popcount((s ^ W[nbr_rows[r, q], k]) & mask)
            bad += _popcount((s ^ Wr[k]) & mask)
            if direction == 1:
                nxt = Wr[k + 1] if k + 1 < nw else _shift_next(Wr[0], nb, mask)
            else:
                nxt = Wr[k - 1] if k > 0 else _shift_prev(Wr[nw - 1], nb, mask)
            bad += _popcount((s ^ nxt) & mask)
    n_sites = 2 * R * nw * nb
    n_bonds = (nrn + 2) * (n_sites // 2)
    # energy = -J sum s_i s_j = -J (n_bonds - 2 bad); antiferro J<0: -J(...) = |J| (n_bonds - 2 bad)
    if antiferro:
        E = j_abs * (n_bonds - 2 * bad)
    else:
        E = -j_abs * (n_bonds - 2 * bad)
    return float(E), 2 * ones - n_sites


@njit(cache=True, inline="always")
def _bitcount_add(cnt, x):
    carry = x
    for k in range(cnt.shape[0]):
        if carry == _ZERO:
            break
        tmp = cnt[k] & carry
        cnt[k] ^= carry
        carry = tmp


@njit(cache=True)
def _bitcount_unpack(cnt, out):
    for b in range(64):
        v = 0
        for k in range(cnt.shape[0]):
            v += int((cnt[k] >> np.uint64(b)) & _ONE) << k
        out[b] = v


@njit(cache=True)
def msc_replica_observables(S, nbr_fwd, Lx, cnt_bad, cnt_up, bad, up):
    """Per-replica unsatisfied-bond and up-spin counts of a replica-packed lattice (bit-sliced counters)."""
    R = S.shape[0] // Lx
    nf = nbr_fwd.shape[1]
    cnt_bad[:] = _ZERO
    cnt_up[:] = _ZERO
    for r in range(R):
        base = r * Lx
        for x in range(Lx):
            s = S[base + x]
            _bitcount_add(cnt_up, s)
            xr = x + 1 if x + 1 < Lx else 0
            _bitcount_add(cnt_bad, s ^ S[base + xr])
            for q in range(nf):
                _bitcount_add(cnt_bad, s ^ S[nbr_fwd[r, q] * Lx + x])
    _bitcount_unpack(cnt_bad, bad)
    _bitcount_unpack(cnt_up, up)


@njit(cache=True)
def msc_replica_sweeps(S, nbr_rows, Lx, antiferro, P, shared, n_sweeps, n_burn, thin, seed, bad_out, up_out, z):
    """64 replicas of one lattice per uint64 word (bit ``b`` of ``S[site]`` is replica ``b``, 1 = spin +1).

    Sequential (typewriter) single-spin Metropolis, each replica a valid Markov chain. ``shared=True`` draws one
    uniform per site and sweep for all 64 replicas (fast, but the replicas are correlated: replicas that reach
    the same configuration stay identical from then on); ``shared=False`` gives every replica its own uniforms
    (bitwise comparison, :func:`_accept_bits`): statistically independent chains. Records per-replica counts of
    unsatisfied bonds and up spins into ``bad_out`` / ``up_out`` (records, 64).
    """
    rs = xo_seed(seed)
    x0 = rs[0]
    x1 = rs[1]
    x2 = rs[2]
    x3 = rs[3]
    n_sites = S.shape[0]
    R = n_sites // Lx
    nrn = nbr_rows.shape[1]
    nf = nrn // 2
    nbr_fwd = np.ascontiguousarray(nbr_rows[:, :nf])
    P0 = P[0]
    P1 = P[1]
    P2 = P[2]
    cnt_bad = np.zeros(48, np.uint64)
    cnt_up = np.zeros(48, np.uint64)
    af = _ALL if antiferro else _ZERO
    rec = 0
    for t in range(n_sweeps):
        for r in range(R):
            base = r * Lx
            ba = nbr_rows[r, 0] * Lx
            bb = nbr_rows[r, 1] * Lx
            bc = nbr_rows[r, 2] * Lx if nrn == 4 else ba
            bd = nbr_rows[r, 3] * Lx if nrn == 4 else ba
            for xs in range(Lx):
                # unsigned indices: no negative-index wrap-around checks in the inner loop
                x = np.uintp(xs)
                i = np.uintp(base) + x
                s = S[i]
                sa = s ^ af  # antiferromagnet: unsatisfied bonds are the aligned ones
                xl = np.uintp(base + (xs - 1 if xs > 0 else Lx - 1))
                xr = np.uintp(base + (xs + 1 if xs + 1 < Lx else 0))
                c0 = sa ^ S[xl]
                c1 = _ZERO
                c2 = _ZERO
                c0, c1, c2 = _count_add(c0, c1, c2, sa ^ S[xr])
                c0, c1, c2 = _count_add(c0, c1, c2, sa ^ S[np.uintp(ba) + x])
                c0, c1, c2 = _count_add(c0, c1, c2, sa ^ S[np.uintp(bb) + x])
                if nrn == 4:
                    c0, c1, c2 = _count_add(c0, c1, c2, sa ^ S[np.uintp(bc) + x])
                    c0, c1, c2 = _count_add(c0, c1, c2, sa ^ S[np.uintp(bd) + x])
                always, half, m0, m1, m2 = _class_masks(c0, c1, c2, z)
                if shared:
                    Ru, x0, x1, x2, x3 = xo_step(x0, x1, x2, x3)
                    u = Ru >> np.uint64(11)  # 53-bit integer uniform, compared with the integer thresholds
                    acc = (always | (half & (_ZERO - np.uint64(u < HALF53))) | (m2 & (_ZERO - np.uint64(u < P2)))
                           | (m1 & (_ZERO - np.uint64(u < P1))) | (m0 & (_ZERO - np.uint64(u < P0))))
                else:
                    if half != _ZERO:
                        Rh, x0, x1, x2, x3 = xo_step(x0, x1, x2, x3)
                        always |= half & Rh
                    rb, x0, x1, x2, x3 = _accept_bits_t(x0, x1, x2, x3, m0, m1, m2, P0, P1, P2)
                    acc = always | rb
                S[i] = s ^ acc
        if t >= n_burn and (t - n_burn + 1) % thin == 0:
            msc_replica_observables(S, nbr_fwd, Lx, cnt_bad, cnt_up, bad_out[rec], up_out[rec])
            rec += 1
