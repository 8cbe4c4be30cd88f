"""Networks: T_c of a network's spin model — warm-started sparse stability curve vs a dense eigenvalue grid.

Peer: the straightforward approach, dense ``numpy.linalg.eigvalsh`` of ``T I + D/T - J`` on a uniform grid of
temperatures (grid spacing sets its accuracy). spinlens: :func:`spinlens.networks.phases.stability_curve`
(sparse ``eigsh`` warm-started from the previous critical mode, Brent refinement of the tangency / zero).
"""
from __future__ import annotations

import numpy as np

from benchmarks._harness import benchmark, timeit


def _network(widths: list[int], trained_spike: bool, seed: int = 0) -> list[np.ndarray]:
    g = np.random.default_rng(seed)
    Ws = [g.uniform(-1, 1, size=(widths[l + 1], widths[l])) / np.sqrt(widths[l]) for l in range(len(widths) - 1)]
    if trained_spike:  # a learned rank-one direction per layer, like a few hundred SGD steps
        for l, W in enumerate(Ws):
            u, v = g.normal(size=W.shape[0]), g.normal(size=W.shape[1])
            Ws[l] = W + 3.0 * np.outer(u, v) / np.sqrt(W.size)
    return Ws


def _dense_grid_tc(model, temperatures: np.ndarray) -> tuple[float, str]:
    J = model.dense_J()
    d = model.coupling_square_sums()
    f = np.array([np.linalg.eigvalsh(T * np.eye(len(d)) + np.diag(d / T) - J)[0] for T in temperatures])
    neg = np.nonzero(f < 0)[0]
    if neg.size:
        return float(temperatures[neg.max() + 1]), "upper zero"
    return float(temperatures[np.argmin(f)]), "tangency"


@benchmark("networks/stability_tc")
def bench_stability_tc(quick: bool = False) -> dict:
    from spinlens.networks import to_spins
    from spinlens.networks.phases import stability_curve

    widths = [196, 64, 64, 10] if quick else [784, 256, 256, 10]
    out: dict = {"widths": widths}
    t_sl = t_peer = 0.0
    for label, spike in (("init", False), ("trained", True)):
        model = to_spins(_network(widths, spike)).model
        ts, curve = timeit(lambda m=model: stability_curve(m))
        tc = curve.t_upper if np.isfinite(curve.t_upper) else curve.t_star
        grid = np.linspace(0.05, 1.05 * curve.lambda_max, 40 if quick else 60)
        tp, (tc_peer, crit) = timeit(lambda m=model, g=grid: _dense_grid_tc(m, g))
        out[f"{label}_tc_spinlens"] = tc
        out[f"{label}_tc_peer_grid"] = tc_peer
        out[f"{label}_peer_grid_step"] = float(grid[1] - grid[0])
        out[f"{label}_criterion"] = crit
        t_sl += ts
        t_peer += tp
    out["spinlens_s"] = t_sl
    out["peer_s"] = t_peer
    return out
