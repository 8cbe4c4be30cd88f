"""Criticality: vectorised phase diagram against a per-point loop of ``fixed_point`` (same grid, same maps).

The loop is timed on a sub-grid and scaled per point (a full 200x200 loop takes minutes); accuracy is
the largest deviation of q*, chi_1 and xi_c between the two on that sub-grid. CPU seconds of the vectorised
call are reported too (``spinlens_cpu_s``; torch/NumPy threads would add up, but these paths are single-threaded
NumPy), and of a kinked activation (hard-tanh, dense-rule Mehler coefficients).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks._harness import benchmark, clocks, timeit


@benchmark("criticality/phase_diagram")
def phase_diagram_vs_loop(quick: bool = False) -> dict[str, Any]:
    from spinlens.criticality import fixed_point, phase_diagram

    n = 40 if quick else 200
    sws = np.linspace(0.5, 4.0, n)
    sbs = np.linspace(0.0, 0.5, n)
    # best wall and best CPU seconds of the same calls (the machine may be shared: wall time inflated)
    runs = [clocks(lambda: phase_diagram("tanh", sws, sbs)) for _ in range(1 if quick else 2)]
    cpu_vec, t_vec, pd = min(r[0] for r in runs), min(r[1] for r in runs), runs[-1][2]
    # kinked: dense-rule Mehler coefficients (the slow path)
    cpu_kinked, _, _ = clocks(lambda: phase_diagram("hard-tanh", sws, sbs))
    sub = np.arange(0, n, max(1, n // 6))
    pts = [(i, j) for i in sub for j in sub]
    t_loop, fps = timeit(lambda: [fixed_point("tanh", sws[j], sbs[i]) for i, j in pts])
    per_point = t_loop / len(pts)
    ref = np.array([[fp.q_star, fp.chi_1, fp.xi_c] for fp in fps])
    vec = np.array([[pd.q_star[i, j], pd.chi_1[i, j], pd.xi_c[i, j]] for i, j in pts])
    fin = np.isfinite(ref[:, 2]) & np.isfinite(vec[:, 2])
    dq = float(np.max(np.abs(ref[:, 0] - vec[:, 0])))
    dchi = float(np.max(np.abs(ref[:, 1] - vec[:, 1])))
    dxi = float(np.max(np.abs(ref[fin, 2] - vec[fin, 2]) / ref[fin, 2]))
    return {
        "grid": f"{n}x{n}",
        "spinlens_s": t_vec,
        "peer_s": per_point * n * n,
        "peer": f"per-point loop of fixed_point (extrapolated from {len(pts)} points)",
        "max_abs_dq": dq,
        "max_abs_dchi1": dchi,
        "max_rel_dxi_c": dxi,
        "spinlens_cpu_s": cpu_vec,
        "hard_tanh_cpu_s": cpu_kinked,
    }
