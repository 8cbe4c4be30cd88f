"""Mean-field benchmarks: vectorised pseudo-likelihood and the temperature-vectorised TAP scan.

* ``meanfield/pseudolikelihood_n50`` — inverse Ising, N = 50, M = 50,000 heat-bath samples of a known
  SK model: spinlens (all rows in one preconditioned L-BFGS) vs a plain SciPy L-BFGS per-spin
  pseudo-likelihood (logistic regression of each spin on the others, default tolerances), same data;
  reports both reconstruction errors.
* ``meanfield/tap_scan_100T`` — TAP over 100 temperatures on a 2,000-spin sparse layered model:
  ``tap_scan`` (one (n_T, n) iteration) vs a loop of annealed ``tap`` calls, one per temperature.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize

from benchmarks._harness import benchmark, timeit


def _reference_pl(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain per-spin pseudo-likelihood: SciPy L-BFGS-B on each conditional, default tolerances."""
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
    return 0.5 * (W + W.T), h


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
    est = InverseIsing("pseudolikelihood")
    est.fit(S[:1000])  # warm-up (numba compile)
    t_sl, est = timeit(lambda: InverseIsing("pseudolikelihood").fit(S))
    t_ref, (J_ref, h_ref) = timeit(lambda: _reference_pl(S))
    iu = np.triu_indices(n, 1)

    def rmse(A: np.ndarray) -> float:
        return float(np.sqrt(np.mean((A[iu] - model.J[iu]) ** 2)))

    return {
        "n_spins": n,
        "n_samples": M,
        "spinlens_s": t_sl,
        "peer_s": t_ref,
        "peer": "scipy L-BFGS-B per-spin pseudo-likelihood",
        "J_rmse_spinlens": rmse(est.J_),
        "J_rmse_peer": rmse(J_ref),
        "J_max_diff_spinlens_vs_peer": float(np.max(np.abs(est.J_ - J_ref))),
        "h_rmse_spinlens": float(np.sqrt(np.mean((est.h_ - model.h) ** 2))),
        "h_rmse_peer": float(np.sqrt(np.mean((h_ref - model.h) ** 2))),
        "spinlens_iterations": int(est.n_iter_),
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
    t_vec, res = timeit(lambda: tap_scan(model, betas, rng=0, **kw))
    m0 = np.random.default_rng(0).uniform(-1e-3, 1e-3, model.n_spins)

    def loop() -> np.ndarray:
        return np.stack([tap(model, b, m0=m0, **kw).m for b in betas])

    t_loop, M_loop = timeit(loop)
    return {
        "n_spins": model.n_spins,
        "n_temperatures": n_T,
        "spinlens_s": t_vec,
        "peer_s": t_loop,
        "peer": "per-temperature loop of annealed spinlens.meanfield.tap",
        "max_abs_q_diff": float(np.max(np.abs(res.q - np.mean(M_loop**2, axis=1)))),
        "all_converged": bool(np.all(res.converged)),
    }
