"""Mean-field benchmarks: vectorised pseudo-likelihood and the temperature-vectorised TAP scan.

* ``meanfield/pseudolikelihood_n50`` — inverse Ising, N = 50, M = 50,000 heat-bath samples of a known
  SK model (T = 1.25, random fields): spinlens (all rows in one preconditioned L-BFGS) vs a plain SciPy
  L-BFGS-B per-spin pseudo-likelihood (logistic regression of each spin on the others, default
  tolerances) on the same data. Accuracy check: both reconstruction errors against the true couplings,
  their largest difference and the pseudo-likelihood objective at both solutions (the same optimum to far
  below the sampling error ``same_accuracy``).
* ``meanfield/tap_scan_100T`` — TAP over 100 temperatures on a 2,000-spin sparse (CSR) layered SK model:
  ``tap_scan`` (one (n_T, n) iteration) vs a loop of annealed ``tap`` calls, one per temperature, from the
  same start with the same settings; checks that both give the same q(T).

Times are process CPU seconds (``time.process_time``) with BLAS limited to one thread on both sides, so
that a machine shared with other jobs does not distort the ratio (wall seconds are reported too).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from benchmarks._harness import benchmark, clocks


def _cpu(fn: Any) -> tuple[float, float, Any]:
    """(CPU seconds, wall seconds, result) of one call with single-threaded BLAS."""
    with threadpool_limits(limits=1, user_api="blas"):
        return clocks(fn)


def _reference_pl(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain per-spin pseudo-likelihood: SciPy L-BFGS-B on each conditional, default tolerances.

    Returns the asymmetric estimate ``W`` (row i: the couplings of spin i's conditional) and ``h``.
    """
    M, n = S.shape
    W = np.zeros((n, n))
    h = np.zeros(n)
    for i in range(n):
        X = np.hstack([np.ones((M, 1)), np.delete(S, i, axis=1)])
        y = S[:, i]

        def fg(w: np.ndarray, X: np.ndarray = X, y: np.ndarray = y) -> tuple[float, np.ndarray]:
            phi = X @ w
            f = np.mean(np.logaddexp(phi, -phi) - y * phi)
            g = X.T @ (np.tanh(phi) - y) / M
            return float(f), g

        r = minimize(fg, np.zeros(n), jac=True, method="L-BFGS-B")
        h[i] = r.x[0]
        W[i, np.arange(n) != i] = r.x[1:]
    return W, h


def _pl_objective(S: np.ndarray, W: np.ndarray, h: np.ndarray) -> float:
    """Negative pseudo-log-likelihood per sample, summed over spins."""
    phi = S @ W.T + h
    return float(np.mean(np.sum(np.logaddexp(phi, -phi) - S * phi, axis=1)))


def _samples(n: int, M: int, seed: int = 0) -> tuple[Any, np.ndarray]:
    from spinlens.meanfield._kernels import gibbs_sweeps
    from spinlens.spins import sk

    g = np.random.default_rng(seed)
    model = sk(n, J=0.8, rng=g)
    model = model.with_field(g.normal(0.0, 0.2, n))
    n_chains = 500
    chains = np.where(g.random((n_chains, n)) < 0.5, 1, -1).astype(np.int8)
    J = np.ascontiguousarray(model.J)
    gibbs_sweeps(chains, J, model.h, 200, 1)
    out = []
    for k in range(M // n_chains):
        gibbs_sweeps(chains, J, model.h, 5, 2 + k)
        out.append(chains.astype(np.float64))
    return model, np.vstack(out)


@benchmark("meanfield/pseudolikelihood_n50")
def pseudolikelihood_n50(quick: bool = False) -> dict[str, Any]:
    from spinlens.meanfield import InverseIsing

    n, M = (50, 10_000) if quick else (50, 50_000)
    model, S = _samples(n, M)
    InverseIsing("pseudolikelihood").fit(S[:1000])  # warm-up (numba compile)
    t_sl, w_sl, est = _cpu(lambda: InverseIsing("pseudolikelihood").fit(S))
    t_ref, w_ref, (W_ref, h_ref) = _cpu(lambda: _reference_pl(S))
    J_ref = 0.5 * (W_ref + W_ref.T)
    iu = np.triu_indices(n, 1)

    def rmse(A: np.ndarray) -> float:
        return float(np.sqrt(np.mean((A[iu] - model.J[iu]) ** 2)))

    f_sl, f_ref = _pl_objective(S, est.W_, est.h_), _pl_objective(S, W_ref, h_ref)
    e_sl, e_ref = rmse(est.J_), rmse(J_ref)
    max_diff = float(np.max(np.abs(est.J_ - J_ref)))
    return {
        "n_spins": n,
        "n_samples": M,
        "spinlens_s": t_sl,
        "peer_s": t_ref,
        "spinlens_wall_s": w_sl,
        "peer_wall_s": w_ref,
        "clock": "process CPU seconds, BLAS 1 thread both sides",
        "peer": "scipy L-BFGS-B per-spin pseudo-likelihood (default tolerances)",
        "J_rmse_spinlens": e_sl,
        "J_rmse_peer": e_ref,
        "J_max_diff_spinlens_vs_peer": max_diff,
        "h_rmse_spinlens": float(np.sqrt(np.mean((est.h_ - model.h) ** 2))),
        "h_rmse_peer": float(np.sqrt(np.mean((h_ref - model.h) ** 2))),
        "pl_objective_spinlens": f_sl,
        "pl_objective_peer": f_ref,
        # same accuracy: same reconstruction error (1 %), solutions 10x closer than the sampling error
        "same_accuracy": bool(abs(e_sl - e_ref) <= 0.01 * e_ref and max_diff <= 0.1 * e_ref),
        "spinlens_iterations": int(est.n_iter_),
        "spinlens_converged": bool(est.converged_),
    }


@benchmark("meanfield/tap_scan_100T")
def tap_scan_100T(quick: bool = False) -> dict[str, Any]:
    from spinlens.meanfield import tap, tap_scan
    from spinlens.spins import layered_sk

    widths = [100] * 5 if quick else [400] * 5
    model = layered_sk(widths, C=1.0, rng=0)
    n_T = 20 if quick else 100
    T = np.linspace(0.5, 3.0, n_T)
    betas = 1.0 / T
    kw = {"tol": 1e-8, "max_iter": 2000, "anneal": 30}
    m0 = np.random.default_rng(0).uniform(-1e-3, 1e-3, model.n_spins)
    t_vec, w_vec, res = _cpu(lambda: tap_scan(model, betas, m0=m0, **kw))

    def loop() -> list[Any]:
        return [tap(model, b, m0=m0, **kw) for b in betas]

    t_loop, w_loop, rs = _cpu(loop)
    q_loop = np.array([np.mean(r.m**2) for r in rs])
    conv_loop = np.array([r.converged for r in rs])
    return {
        "n_spins": model.n_spins,
        "sparse": bool(model.is_sparse),
        "nnz": int(model.J.nnz) if model.is_sparse else model.n_spins**2,
        "n_temperatures": n_T,
        "spinlens_s": t_vec,
        "peer_s": t_loop,
        "spinlens_wall_s": w_vec,
        "peer_wall_s": w_loop,
        "clock": "process CPU seconds",
        "peer": "per-temperature loop of annealed spinlens.meanfield.tap (same start, same settings)",
        "max_abs_q_diff": float(np.max(np.abs(res.q - q_loop))),
        "n_converged_scan": int(np.sum(res.converged)),
        "n_converged_loop": int(np.sum(conv_loop)),
        "row_iterations_scan": int(np.sum(res.n_iter)),
        "row_iterations_loop": int(np.sum([r.n_iter for r in rs])),
    }
