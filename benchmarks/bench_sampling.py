"""Monte Carlo engine benchmarks: spin flips per nanosecond against NumPy references, one core.

Run: ``.venv/bin/python -m benchmarks.run -k sampling/`` (``--quick`` for a smoke test).

numba runs with one thread; times are process CPU seconds (``time.process_time``), so that a machine shared
with other jobs does not inflate them (both spinlens and the NumPy peer are measured the same way; set
``OPENBLAS_NUM_THREADS=1`` for a strict one-core NumPy figure).
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from benchmarks._harness import benchmark

BETA_C = 0.5 * math.log(1.0 + math.sqrt(2.0))
_clock = time.process_time


_BLAS_LIMIT: Any = None


def _one_thread() -> None:
    """One core for every side: numba threads and BLAS threads (idle OpenBLAS threads spin after a call and
    would be billed to process CPU time, doubling the apparent cost of whatever follows a matrix product)."""
    global _BLAS_LIMIT
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(1)
    if _BLAS_LIMIT is None:
        _BLAS_LIMIT = threadpool_limits(limits=1)


def numpy_checkerboard(s: np.ndarray, beta: float, n_sweeps: int, rng: np.random.Generator) -> np.ndarray:
    """Vectorised NumPy checkerboard Metropolis on a periodic 2D lattice (the peer)."""
    L = s.shape[0]
    par = (np.add.outer(np.arange(L), np.arange(L)) % 2).astype(bool)
    for _ in range(n_sweeps):
        for colour in (False, True):
            nb = np.roll(s, 1, 0) + np.roll(s, -1, 0) + np.roll(s, 1, 1) + np.roll(s, -1, 1)
            dE = 2.0 * s * nb
            acc = (dE <= 0) | (rng.random(s.shape) < np.exp(-beta * dE))
            flip = acc & (par == colour)
            s[flip] *= -1
    return s


def numpy_metropolis_dense(J: np.ndarray, s: np.ndarray, beta: float, n_sweeps: int,
                           rng: np.random.Generator) -> np.ndarray:
    """Straightforward NumPy single-spin Metropolis (the local field recomputed by a dot product)."""
    n = s.size
    sf = s.astype(np.float64)
    for _ in range(n_sweeps):
        u = rng.random(n)
        for i in range(n):
            dE = 2.0 * sf[i] * (J[i] @ sf)
            if dE <= 0 or u[i] < math.exp(-beta * dE):
                sf[i] = -sf[i]
    return sf


def _per_sweep(run: Any, sweeps: int) -> float:
    """Seconds per sweep with the fixed per-call cost (packing, set-up) subtracted: (t(1+k) - t(1)) / k."""
    t0 = _clock()
    run(1)
    t1 = _clock() - t0
    t0 = _clock()
    run(1 + sweeps)
    tk = _clock() - t0
    return max(tk - t1, 1e-9) / sweeps


@benchmark("sampling/multispin_2d_L1024")
def bench_multispin(quick: bool = False) -> dict[str, Any]:
    """One L=1024 lattice near beta_c: multi-spin coding (independent randomness) vs NumPy checkerboard."""
    from spinlens.sampling import MultiSpinSampler, _kernels
    from spinlens.sampling import samplers as S
    from spinlens.spins.lattice import square_lattice

    _one_thread()
    L = 256 if quick else 1024
    model = square_lattice(L)
    n = model.n_spins
    rng = np.random.default_rng(0)
    s0 = (2 * rng.integers(0, 2, size=n) - 1).astype(np.int8)
    ms = MultiSpinSampler(n_chains=1, thin=10**9)
    ms.sample(model, BETA_C, 1, state=s0, rng=1)  # compile
    sweeps = 20 if quick else 200
    B, W, nb = S.pack_sublattices(s0, (L, L))
    nbr, par = S._lattice_rows((L, L))
    P = S._thresholds(BETA_C, 1.0, 4)
    E, M = np.zeros(0), np.zeros(0, dtype=np.int64)
    t_ms = _per_sweep(lambda k: _kernels.msc_sublattice_sweeps(B, W, nbr, par, nb, False, P, k, k, 1, 3, E, M, 4,
                                                               1.0), sweeps)
    peer_sweeps = 2 if quick else 5
    s = s0.reshape(L, L).astype(np.int64)
    t0 = _clock()
    numpy_checkerboard(s, BETA_C, peer_sweeps, rng)
    t_np = (_clock() - t0) / peer_sweeps
    return {"spinlens_s": t_ms, "peer_s": t_np, "flips_per_ns": n / t_ms * 1e-9,
            "peer_flips_per_ns": n / t_np * 1e-9, "L": L, "note": "seconds per sweep (kernel only)"}


def _replicas(random: str, quick: bool) -> dict[str, Any]:
    from spinlens.sampling import MultiSpinReplicaSampler, _kernels
    from spinlens.sampling import samplers as S
    from spinlens.spins.lattice import square_lattice

    _one_thread()
    L = 256 if quick else 1024
    model = square_lattice(L)
    n = model.n_spins
    rng = np.random.default_rng(0)
    state = (2 * rng.integers(0, 2, size=(64, n)) - 1).astype(np.int8)
    MultiSpinReplicaSampler(n_chains=64, random=random).sample(model, BETA_C, 4, state=state, rng=1)  # compile
    # time the sweeps themselves (packing 64 x 10^6 spins in and out of words is a one-off per call)
    words = S.pack_replicas(state)[0]
    nbr, _ = S._lattice_rows((L, L))
    P = S._thresholds(BETA_C, 1.0, 4)
    empty = np.zeros((0, 64), dtype=np.int64)
    sweeps = 5 if quick else 30
    t_ms = _per_sweep(lambda k: _kernels.msc_replica_sweeps(words, nbr, L, False, P, random == "shared", k, k, 1,
                                                            7, empty, empty, 4), sweeps)
    s = (2 * rng.integers(0, 2, size=(L, L)) - 1).astype(np.int64)
    peer_sweeps = 2 if quick else 3
    t0 = _clock()
    numpy_checkerboard(s, BETA_C, peer_sweeps, rng)
    t_np = (_clock() - t0) / peer_sweeps * 64  # 64 lattices
    return {"spinlens_s": t_ms, "peer_s": t_np, "flips_per_ns": 64 * n / t_ms * 1e-9, "L": L, "random": random,
            "note": "seconds per sweep of 64 replicas (kernel only; packing excluded)"}


@benchmark("sampling/replicas64_shared_L1024")
def bench_replicas_shared(quick: bool = False) -> dict[str, Any]:
    """64 replicas per word, one shared uniform per site and sweep (correlated replicas)."""
    return _replicas("shared", quick)


@benchmark("sampling/replicas64_independent_L1024")
def bench_replicas_independent(quick: bool = False) -> dict[str, Any]:
    """64 replicas per word, independent uniforms per replica (independent chains)."""
    return _replicas("independent", quick)


@benchmark("sampling/sk_dense_N2000")
def bench_sk_dense(quick: bool = False) -> dict[str, Any]:
    """Dense SK, N=2000, T=1: numba Metropolis with incremental local fields vs straightforward NumPy.

    One row of J is read per accepted flip, so the speed is set by the storage of J (``coupling_dtype``):
    int16 / int32 fixed point (exact integer fields), float32, float64. ``spinlens_s`` is int16, the fastest;
    every storage is reported with its ratio and the bound on how far it moves the energy of any state.
    """
    from spinlens.sampling import MetropolisSampler
    from spinlens.sampling.samplers import coupling_error
    from spinlens.spins.sk import sk

    _one_thread()
    N = 500 if quick else 2000
    model = sk(N, rng=0)
    rng = np.random.default_rng(0)
    s0 = (2 * rng.integers(0, 2, size=N) - 1).astype(np.int8)
    sweeps = 20 if quick else 100
    peer_sweeps = 1 if quick else 2
    rounds = 1 if quick else 5
    storages = ("int16", "int32", "float32", "float64")
    out: dict[str, Any] = {"N": N, "sweeps_per_call": sweeps, "rounds": rounds}
    samplers, states = {}, {}
    for storage in storages:
        smp = MetropolisSampler(n_chains=1, thin=10**9, coupling_dtype=storage)
        # equilibrate a little so the acceptance is representative (and compile)
        _, states[storage] = smp.sample(model, 1.0, 50, state=s0, rng=2)
        samplers[storage] = smp
        out[f"energy_bound_per_spin_{storage}"] = coupling_error(model, storage)[1] / N
    J = np.ascontiguousarray(model.J)
    # the L3 cache is shared with other machines' jobs, so the memory-bound rows vary from moment to moment:
    # the sides take turns in every round and each keeps its best round
    times: dict[str, list[float]] = {k: [] for k in (*storages, "peer")}
    for rep in range(rounds):
        for storage in storages:
            t0 = _clock()
            res, _ = samplers[storage].sample(model, 1.0, sweeps, state=states[storage], rng=3 + rep)
            times[storage].append((_clock() - t0) / sweeps)
            out[f"acceptance_{storage}"] = res.acceptance
        t0 = _clock()
        numpy_metropolis_dense(J, states["float64"][0].copy(), 1.0, peer_sweeps, rng)
        times["peer"].append((_clock() - t0) / peer_sweeps)
    per_sweep = {k: float(np.min(times[k])) for k in storages}
    t_np = float(np.min(times["peer"]))
    out["median_ratio_int16"] = float(np.median(np.array(times["peer"]) / np.array(times["int16"])))
    for storage, t in per_sweep.items():
        out[f"spinlens_{storage}_s"] = t
        out[f"ratio_{storage}"] = t_np / t
    out.update(spinlens_s=per_sweep["int16"], peer_s=t_np, flips_per_ns=N / per_sweep["int16"] * 1e-9,
               note=f"seconds per sweep (whole {sweeps}-sweep calls, best of {rounds} interleaved rounds); spinlens_s "
                    "is int16 couplings "
                    "(16-bit fixed point, the fastest; not the default); ratio_int32 is the default above "
                    "n = 1024; ratio_float64 keeps J exact")
    return out


@benchmark("sampling/decorrelated_samples_Tc")
def bench_wolff_vs_metropolis(quick: bool = False) -> dict[str, Any]:
    """Decorrelated samples (of |m|) per CPU-second at T_c, L=64: Metropolis (peer) vs Wolff (spinlens)."""
    from spinlens.sampling import MetropolisSampler, WolffSampler, stats
    from spinlens.spins.lattice import square_lattice

    _one_thread()
    L = 32 if quick else 64
    model = square_lattice(L)
    sweeps = 2000 if quick else 20000
    out = {}
    for name, smp in (("metropolis", MetropolisSampler(n_chains=1)), ("wolff", WolffSampler(n_chains=1))):
        _, st = smp.sample(model, BETA_C, 500, rng=0)
        t0 = _clock()
        res, _ = smp.sample(model, BETA_C, sweeps, state=st, rng=1)
        dt = _clock() - t0
        tau = stats.tau_int(np.abs(res.magnetization))
        out[name] = {"seconds": dt, "tau_int": tau, "per_cpu_s": sweeps / (2 * tau) / dt}
    return {"spinlens_s": 1.0 / out["wolff"]["per_cpu_s"], "peer_s": 1.0 / out["metropolis"]["per_cpu_s"],
            "wolff_samples_per_s": out["wolff"]["per_cpu_s"],
            "metropolis_samples_per_s": out["metropolis"]["per_cpu_s"],
            "wolff_tau_int": out["wolff"]["tau_int"], "metropolis_tau_int": out["metropolis"]["tau_int"], "L": L,
            "note": "seconds per decorrelated sample"}
