"""Monitor: what :class:`spinlens.monitor.PhaseMonitor` adds to the wall time of a training run (issue 16, item 2).

Peer: the training loop alone. spinlens: the same loop (same seeds, same minibatches) calling ``mon.step(net, t)``
after every step, with the monitor's defaults (a log schedule of 20 checkpoints incl. step 0, the phases analysis of
``spinlens phases`` in a worker process at idle priority). Both run in this process, in alternating rounds (plain,
monitored, plain, ...), with the training pinned to one torch thread; each side keeps its best round, and the
paired per-round ratios are reported too.

``spinlens_s`` / ``peer_s`` are the wall time of the training loop (to the return of the last ``step``): what the
monitor costs the training run. The analyses are not done by then; ``close_s`` is the extra wall time ``close()``
waits in the last round for the ones left and for the report (``total_s``: loop + close); in the other rounds the
worker is stopped after the loop. ``overhead = spinlens_s / peer_s - 1`` (target <= 10%), with the median of the
paired rounds, the training process's CPU time (``cpu_overhead``: its own threads, not the worker's; robust where
other jobs share the machine) and the seconds spent inside ``mon.step`` (``in_step_s``). The machine here has 2
cores shared with other jobs: the worker needs a core besides the training's, so on a busy machine the wall-time
overhead is mostly that contention (quote the ratios, and the load average recorded with them).

Networks: the flagship MLP 784-256-256-10 on MNIST-5000 (SGD lr 0.05, momentum 0.9, batch 128, 2000 steps as
``spinlens phases``), and the built-in LeNet-style CNN (``spinlens.networks.cnn``, channels 16, 32, the same 2000
steps; its first-step mapping takes about 2 s, and each of its analyses longer than the whole run's training of the
MLP, so close() is not waited for there).
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._harness import benchmark


def _batches(n: int, steps: int, batch_size: int, seed: int) -> list[Any]:
    """Minibatch indices per step: epochs are permutations drawn from (seed, epoch), as spinlens.networks.train."""
    import torch

    per_epoch = max(1, n // batch_size)
    out = []
    for step in range(steps):
        epoch, j = divmod(step, per_epoch)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        out.append(torch.as_tensor(perm[j * batch_size:(j + 1) * batch_size]))
    return out


def _run(build: Any, X: Any, y: Any, batches: list[Any], out: Path | None, monitor_kw: dict[str, Any],
         wait: bool = True) -> dict[str, float]:
    """Train a fresh network; with ``out``, monitored. Returns the loop's wall and process-CPU seconds, the seconds
    spent inside ``mon.step`` (the training thread's own cost) and the wait in ``close`` (0 when ``wait`` is False:
    the worker is stopped after the loop, its analyses do not matter for the training's time)."""
    import torch
    import torch.nn.functional as F

    from spinlens.monitor import PhaseMonitor

    net = build()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    mon = PhaseMonitor(out, total_steps=len(batches), **monitor_kw) if out is not None else None
    inside = 0.0
    c0, t0 = time.process_time(), time.perf_counter()
    if mon is not None:
        a = time.perf_counter()
        mon.step(net, 0)
        inside += time.perf_counter() - a
    for t, idx in enumerate(batches, start=1):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(X[idx]), y[idx]).backward()
        opt.step()
        if mon is not None:
            a = time.perf_counter()
            mon.step(net, t)
            inside += time.perf_counter() - a
    train_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    close_s = 0.0
    if mon is not None:
        t1 = time.perf_counter()
        mon.close(wait=wait, report=wait)
        close_s = time.perf_counter() - t1 if wait else 0.0
    return {"train_s": train_s, "cpu_s": cpu_s, "step_s": inside, "close_s": close_s}


def _compare(name: str, build: Any, steps: int, rounds: int, monitor_kw: dict[str, Any],
             wait_last: bool = True) -> dict[str, Any]:
    import torch

    from spinlens.data import load_dataset

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ds = load_dataset("mnist5000")
        X = torch.as_tensor(ds.X, dtype=torch.float32)
        y = torch.as_tensor(ds.y, dtype=torch.long)
        batches = _batches(len(X), steps, 128, seed=0)
        plain: list[dict[str, float]] = []
        mon: list[dict[str, float]] = []
        load = []
        with tempfile.TemporaryDirectory(prefix="spinlens-bench-monitor-") as tmp:
            for r in range(rounds):
                plain.append(_run(build, X, y, batches, None, {}))
                mon.append(_run(build, X, y, batches, Path(tmp) / f"run{r}", monitor_kw,
                                wait=wait_last and r == rounds - 1))
                load.append(os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"))
    finally:
        torch.set_num_threads(old)
    wall_p, wall_m = np.array([r["train_s"] for r in plain]), np.array([r["train_s"] for r in mon])
    cpu_p, cpu_m = np.array([r["cpu_s"] for r in plain]), np.array([r["cpu_s"] for r in mon])
    peer_s, spinlens_s = float(wall_p.min()), float(wall_m.min())
    return {
        "network": name, "steps": steps, "rounds": rounds, "cpus": os.cpu_count(),
        "load_average_1min": [round(x, 2) for x in load],
        "peer_s": peer_s, "spinlens_s": spinlens_s,
        "overhead": spinlens_s / peer_s - 1.0,
        "median_paired_overhead": float(np.median(wall_m / wall_p) - 1.0),
        "cpu_overhead": float(cpu_m.min() / cpu_p.min() - 1.0),
        "in_step_s": float(np.median([r["step_s"] for r in mon])),
        "in_step_fraction": float(np.median([r["step_s"] for r in mon]) / peer_s),
        "plain_rounds_s": wall_p.round(3).tolist(), "monitored_rounds_s": wall_m.round(3).tolist(),
        "close_s": mon[-1]["close_s"] if wait_last else None,
        "total_s": float(mon[-1]["train_s"] + mon[-1]["close_s"]) if wait_last else None,
        "note": "spinlens_s/peer_s: best training-loop wall time with/without PhaseMonitor (default schedule, worker "
                "process) over alternating rounds; cpu_overhead: the training process's CPU seconds (its threads, not "
                "the worker's); in_step_s: time inside mon.step (the training thread's own cost); close_s: the last "
                "round's wait for the analyses left and the report",
    }


@benchmark("monitor/overhead_mlp")
def bench_overhead_mlp(quick: bool = False) -> dict[str, Any]:
    from spinlens.networks import mlp

    steps = 300 if quick else 2000
    return _compare("mlp 784-256-256-10", lambda: mlp((784, 256, 256, 10), rng=0), steps, 1 if quick else 5,
                    {"n_points": 8 if quick else 20})


@benchmark("monitor/overhead_cnn")
def bench_overhead_cnn(quick: bool = False) -> dict[str, Any]:
    """The LeNet-style CNN (19738 spins on 1x28x28): its first-step mapping (the check that refuses unsupported
    networks) costs seconds, and one checkpoint's analysis about half a minute on one core, so close() is not waited
    for here (``analysis_s``: one checkpoint's mapping + phases analysis, measured once, without the null model)."""
    import torch

    from spinlens.networks import cnn, spin_graph
    from spinlens.networks.phases import analyze

    steps = 60 if quick else 2000
    out = _compare("cnn 1x28x28 c16-c32", lambda: cnn((1, 28, 28), (16, 32), 10, rng=0), steps, 1 if quick else 2,
                   {"n_points": 6 if quick else 20, "input_shape": (784,)}, wait_last=False)
    if not quick:
        old = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            t0 = time.perf_counter()
            analyze(spin_graph(cnn((1, 28, 28), (16, 32), 10, rng=0).eval(), (1, 784)), n_starts=0)
            out["analysis_s"] = time.perf_counter() - t0
        finally:
            torch.set_num_threads(old)
    return out
