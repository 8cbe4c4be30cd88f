"""Networks at scale: map_network + the TAP-paramagnet stability T_c of CNNs, from 3e4 to 1e6 spins, on one core.

Every measurement runs in a fresh child process (``python -m benchmarks.bench_networks_scale SPEC``) so that

* threads are pinned before numpy/torch load: ``OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = MKL_NUM_THREADS =
  NUMBA_NUM_THREADS = 1`` in the child's environment and ``torch.set_num_threads(1)``;
* the peak memory is the child's own: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (peak resident set size,
  all allocations: numpy/scipy arrays, torch, the interpreter), quoted as ``peak_rss_mb`` and, minus the RSS
  after the imports and the network's construction, as ``peak_rss_delta_mb``;
* times are process CPU seconds (``time.process_time``; robust on a shared machine, and equal to wall time for one
  busy thread) with the wall time next to them.

``tc_s`` = :func:`spinlens.networks.map_network` + :func:`spinlens.networks.phases.analyze` (``n_starts=0``: the
stability curve, its minimum and zeros, the phase). Targets (issue #14, item 5): a LeNet-style CNN on 1x28x28
(~3e4 spins) in <= 30 s; a random CNN with >= 1e6 spins in <= 300 s and <= 6 GB; the growth of time and memory with
the number of couplings (three sizes, log-log least-squares exponent).

Peer (``lenet``, at initialisation and after 30 SGD steps): the stability curve as spinlens computed it before
(ARPACK, k=1, ncv=32, tol=1e-9, warm-started from the last temperature's vector, Brent's method on f' and f), on the
same model in the same child, for ``ratio = peer_s / stability_s`` and the relative differences of ``t_star``,
``t_c`` (the upper zero) and ``t_lower``.

Growth: the wide CNN at sides 64, 128, 256 (6e6 to 9.5e7 couplings; the 256 run is the million benchmark's, reused
when both run in one process), least-squares slopes of log time and log peak-memory increase on log nnz.

Reproduce: ``OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.run -k networks_scale`` (about 15 minutes on one core;
``--quick`` for a smoke test).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks._harness import benchmark

_PIN = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}
_ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------- networks
def lenet(c1: int = 32, c2: int = 32) -> Any:
    """LeNet-style: conv5(1→c1, pad 2) ReLU avgpool2 conv3(c1→c2, pad 1) ReLU avgpool2 Linear(49 c2→128) ReLU
    Linear(128→10). On 1x28x28: 784 + 784 c1 + 196 c2 + 138 spins (32282 for c1 = c2 = 32)."""
    import torch.nn as nn

    return nn.Sequential(nn.Conv2d(1, c1, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2),
                         nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(c2 * 49, 128), nn.ReLU(), nn.Linear(128, 10))


def wide_cnn(side: int, c: int = 8) -> Any:
    """conv3(1→c) ReLU conv3(c→c) ReLU avgpool4 Linear(→10) on 1 x side x side: (2c + 1) side^2 + 10 spins,
    about 2 (9c + 9c^2 + 10c) side^2 couplings (1.11e6 spins, 9.5e7 non-zeros of J for side = 256, c = 8)."""
    import torch.nn as nn

    return nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
                         nn.AvgPool2d(4), nn.Flatten(), nn.Linear(c * (side // 4) ** 2, 10))


def _sgd_steps(net: Any, steps: int, seed: int = 0) -> float:
    """A few plain SGD steps (lr 0.05, batch 64) on MNIST-5000; returns the last batch loss."""
    import torch
    import torch.nn.functional as F

    from spinlens.data import load_mnist5000

    ds = load_mnist5000()
    X = torch.tensor(ds.X, dtype=torch.float32).reshape(-1, 1, 28, 28)
    y = torch.tensor(ds.y, dtype=torch.int64)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    loss = torch.zeros(())
    for _ in range(steps):
        idx = torch.randint(0, len(y), (64,), generator=g)
        opt.zero_grad()
        loss = F.cross_entropy(net(X[idx]), y[idx])
        loss.backward()
        opt.step()
    return float(loss)


# ---------------------------------------------------------------------------------------------- child process
def _child(spec: dict[str, Any]) -> dict[str, Any]:
    import resource
    import time

    import torch

    torch.set_num_threads(1)
    from spinlens.networks import map_network
    from spinlens.networks.phases import analyze

    def rss_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB

    torch.manual_seed(int(spec.get("seed", 0)))
    out: dict[str, Any] = {}
    if spec["net"] == "lenet":
        net = lenet()
        shape: tuple[int, ...] = (1, 1, 28, 28)
        if spec.get("sgd_steps"):
            out["sgd_loss"] = _sgd_steps(net, int(spec["sgd_steps"]))
    else:
        side = int(spec["side"])
        net = wide_cnn(side, int(spec.get("channels", 8)))
        shape = (1, 1, side, side)
    net.eval()
    out["rss_before_mb"] = rss_mb()
    c0, w0 = time.process_time(), time.perf_counter()
    g = map_network(net, shape)
    c1, w1 = time.process_time(), time.perf_counter()
    out["map_wall_s"] = w1 - w0
    out["rss_after_map_mb"] = rss_mb()
    r = analyze(g, n_starts=0, rtol=float(spec.get("rtol", 1e-9)))  # the library default unless given
    c2, w2 = time.process_time(), time.perf_counter()
    out.update(n_spins=g.n_spins, nnz_J=int(g.model.J.nnz), map_s=c1 - c0, stability_s=c2 - c1, tc_s=c2 - c0,
               tc_wall_s=w2 - w0, t_c=r.t_c, phase=r.phase, t_star=r.t_star, f_min_rel=r.f_min_rel,
               lambda_max=r.lambda_max, peak_rss_mb=rss_mb())
    out["peak_rss_delta_mb"] = out["peak_rss_mb"] - out["rss_before_mb"]
    out["t_lower"] = r.t_lower
    if spec.get("peer"):
        out.update(_peer_stability(g.model))
        t_up = r.t_c if r.criterion == "upper zero" else float("nan")
        for key, new in (("t_star", r.t_star), ("t_upper", t_up), ("t_lower", r.t_lower)):
            old = out[f"peer_{key}"]
            out[f"rel_diff_{key}"] = abs(new / old - 1) if old == old and new == new else float("nan")
        out["ratio"] = out["peer_s"] / out["stability_s"]
    return out


def _peer_stability(model: Any) -> dict[str, float]:
    """The previous method on ``model``: CPU seconds and its landmarks (ARPACK warm-started from the last vector,
    the same grid, Brent's method on f' for t_star and on f for the zeros)."""
    import time

    import numpy as np
    import scipy.sparse.linalg as sla
    from scipy.optimize import brentq

    J, d, n = model.csr(), model.coupling_square_sums(), model.n_spins
    c0 = time.process_time()
    lam = float(sla.eigsh(J, k=1, which="LA", tol=1e-8, return_eigenvectors=False)[0])
    state: dict[str, Any] = {"v": None, "cache": {}}

    def ev(T: float) -> tuple[float, float]:
        if T in state["cache"]:
            return state["cache"][T]
        dT = d / T
        op = sla.LinearOperator((n, n), matvec=lambda x: J @ x - dT * x, dtype=np.float64)
        w, V = sla.eigsh(op, k=1, which="LA", v0=state["v"], tol=1e-9, ncv=32, maxiter=20 * n)
        v = V[:, 0]
        state["v"] = v
        state["cache"][T] = (T - float(w[0]), 1.0 - float(v @ (d * v)) / T**2)
        return state["cache"][T]

    t_hi = 1.05 * max(lam, float(np.sqrt(d.max())))
    grid = np.geomspace(t_hi / 20, t_hi, 16)
    fs = np.array([ev(T)[0] for T in grid[::-1]])[::-1]
    i = int(np.argmin(fs))
    t_star = float(grid[i])
    if 0 < i < len(grid) - 1 and ev(grid[i - 1])[1] < 0 < ev(grid[i + 1])[1]:
        t_star = float(brentq(lambda T: ev(T)[1], grid[i - 1], grid[i + 1], xtol=1e-6 * grid[i + 1], maxiter=30))
    t_up = t_lo = float("nan")
    neg = np.nonzero(fs < 0)[0]
    if neg.size and neg.max() < len(grid) - 1:
        t_up = float(brentq(lambda T: ev(T)[0], grid[neg.max()], grid[neg.max() + 1], xtol=1e-7 * grid[neg.max() + 1]))
    if neg.size and neg.min() > 0:
        t_lo = float(brentq(lambda T: ev(T)[0], grid[neg.min() - 1], grid[neg.min()], xtol=1e-7 * grid[neg.min()]))
    return {"peer_s": time.process_time() - c0, "peer_t_star": t_star, "peer_t_upper": t_up, "peer_t_lower": t_lo,
            "peer_f_min": ev(t_star)[0], "peer_lambda_max": lam}


_CACHE: dict[str, dict[str, Any]] = {}


def run_child(spec: dict[str, Any], timeout: float = 3600) -> dict[str, Any]:
    """Run one measurement in a fresh, thread-pinned interpreter; returns its result dict (cached per process)."""
    key = json.dumps(spec, sort_keys=True)
    if key in _CACHE:
        return dict(_CACHE[key])
    env = dict(os.environ, **_PIN)
    env["PYTHONPATH"] = os.pathsep.join([str(_ROOT), str(_ROOT / "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_networks_scale", json.dumps(spec)], env=env,
                          cwd=_ROOT, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"child {spec} failed:\n{proc.stderr[-3000:]}")
    _CACHE[key] = dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    return dict(_CACHE[key])


def _fit(x: list[float], y: list[float]) -> float:
    """Least-squares slope of log y on log x."""
    import numpy as np

    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


# ---------------------------------------------------------------------------------------------- benchmarks
@benchmark("networks_scale/lenet_tc")
def bench_lenet(quick: bool = False) -> dict[str, Any]:
    """LeNet-style CNN, 32282 spins: random init and after 30 SGD steps, each with the previous method as peer."""
    init = run_child({"net": "lenet", "peer": not quick})
    out: dict[str, Any] = {f"init_{k}": v for k, v in init.items()}
    if not quick:
        trained = run_child({"net": "lenet", "sgd_steps": 30, "peer": True})
        out.update({f"sgd30_{k}": v for k, v in trained.items()})
    out["spinlens_s"] = init["stability_s"]
    if "peer_s" in init:
        out["peer_s"] = init["peer_s"]
    out["target_s"] = 30.0
    out["met"] = all(out[k] <= 30.0 for k in ("init_tc_s", "sgd30_tc_s") if k in out)
    return out


@benchmark("networks_scale/million_tc")
def bench_million(quick: bool = False) -> dict[str, Any]:
    """Random wide CNN on 1x256x256: 1.11e6 spins, 9.5e7 non-zeros (the default solver accuracy)."""
    side = 64 if quick else 256
    r = run_child({"net": "wide", "side": side})
    r["spinlens_s"] = r["tc_s"]
    r["target_s"], r["target_rss_mb"] = 300.0, 6144.0
    r["met"] = bool(r["n_spins"] >= 1e6 and r["tc_s"] <= 300 and r["peak_rss_mb"] <= 6144)
    return r


@benchmark("networks_scale/growth")
def bench_growth(quick: bool = False) -> dict[str, Any]:
    """Time and peak memory against the number of couplings: wide CNN at three image sides (x4 couplings each)."""
    sides = (16, 32, 64) if quick else (64, 128, 256)
    rows = [run_child({"net": "wide", "side": s}) for s in sides]
    nnz = [float(r["nnz_J"]) for r in rows]
    out: dict[str, Any] = {"sides": list(sides), "nnz_J": nnz, "n_spins": [r["n_spins"] for r in rows]}
    for key in ("map_s", "stability_s", "tc_s", "peak_rss_delta_mb"):
        out[key] = [r[key] for r in rows]
        out[f"exponent_{key}"] = _fit(nnz, out[key])
    out["phase"] = [r["phase"] for r in rows]
    out["spinlens_s"] = sum(out["tc_s"])
    return out


if __name__ == "__main__":  # child process: one measurement, one JSON line on stdout
    print(json.dumps(_child(json.loads(sys.argv[1])), default=float))
