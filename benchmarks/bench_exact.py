"""Exact enumeration: spinlens (numba, Gray code) vs a plain NumPy vectorised enumeration."""
from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks._harness import benchmark, best_of

try:  # the peer's BLAS gets one thread, like spinlens' kernel (threaded BLAS thrashes on loaded machines)
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    import contextlib

    def threadpool_limits(limits: int | None = None) -> Any:  # type: ignore[misc]
        return contextlib.nullcontext()


def numpy_enumeration(J: np.ndarray, h: np.ndarray, beta: float, chunk_bits: int = 15) -> dict[str, Any]:
    """Reference: all states in binary order, chunk by chunk; energies by matrix products, then
    log-sum-exp over chunks; <s_i> and <s_i s_j> by weighted matrix products (float64)."""
    n = J.shape[0]
    total = 1 << n
    size = min(total, 1 << chunk_bits)
    shifts = np.arange(n, dtype=np.int64)
    amax = -np.inf
    z = 0.0
    e1 = 0.0
    msum = np.zeros(n)
    csum = np.zeros((n, n))
    for start in range(0, total, size):
        k = np.arange(start, start + size, dtype=np.int64)
        S = (1 - 2 * ((k[:, None] >> shifts) & 1)).astype(np.float64)
        E = -0.5 * np.einsum("ki,ki->k", S @ J, S) - S @ h
        a = -beta * E
        cmax = a.max()
        if cmax > amax:
            f = np.exp(amax - cmax) if np.isfinite(amax) else 0.0
            z, e1, msum, csum = z * f, e1 * f, msum * f, csum * f
            amax = cmax
        w = np.exp(a - amax)
        z += w.sum()
        e1 += w @ E
        msum += w @ S
        csum += (S * w[:, None]).T @ S
    return {"log_z": np.log(z) + amax, "energy": e1 / z, "m": msum / z, "corr": csum / z}


@benchmark("exact/enumerate_n20")
def enumerate_n20(quick: bool = False) -> dict[str, Any]:
    from spinlens.exact import enumerate
    from spinlens.spins import sk

    n = 16 if quick else 20
    model = sk(n, h=0.1, rng=0)  # with a field: no flip-symmetry shortcut for spinlens
    beta = 1.0
    enumerate(model, beta)  # compile / load the numba cache
    t_sl, r = best_of(lambda: enumerate(model, beta), repeat=3)
    J, h = model.dense_J(), np.asarray(model.h)
    with threadpool_limits(1):
        t_np, ref = best_of(lambda: numpy_enumeration(J, h, beta), repeat=2 if not quick else 3)
    return {
        "n_spins": n,
        "spinlens_s": t_sl,
        "peer_s": t_np,
        "peer": "NumPy vectorised enumeration (chunked, BLAS)",
        "peer_threads": 1,
        "log_z_abs_diff": float(abs(r.log_z - ref["log_z"])),
        "energy_abs_diff": float(abs(r.energy - ref["energy"])),
        "m_max_abs_diff": float(np.max(np.abs(r.m - ref["m"]))),
        "corr_max_abs_diff": float(np.max(np.abs(r.corr - ref["corr"]))),
        "agree": bool(
            abs(r.log_z - ref["log_z"]) < 1e-9 and np.allclose(r.corr, ref["corr"], atol=1e-10)
        ),
    }


@benchmark("exact/enumerate_n20_zero_field_20_betas")
def enumerate_n20_betas(quick: bool = False) -> dict[str, Any]:
    """A temperature grid in one pass (spinlens) vs one NumPy pass per temperature."""
    from spinlens.exact import enumerate
    from spinlens.spins import sk

    n = 14 if quick else 20
    model = sk(n, rng=1)
    betas = np.linspace(0.1, 2.0, 20)
    enumerate(model, betas[:2])
    t_sl, r = best_of(lambda: enumerate(model, betas), repeat=2)
    J, h = model.dense_J(), np.asarray(model.h)
    with threadpool_limits(1):
        t_np, refs = best_of(lambda: [numpy_enumeration(J, h, float(b)) for b in betas], repeat=1)
    diff = float(max(abs(r.log_z[i] - refs[i]["log_z"]) for i in range(betas.size)))
    return {"n_spins": n, "n_betas": 20, "spinlens_s": t_sl, "peer_s": t_np, "log_z_max_abs_diff": diff,
            "agree": bool(diff < 1e-9)}
