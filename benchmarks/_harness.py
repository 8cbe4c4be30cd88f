"""Benchmark registry: a benchmark runs spinlens and a peer on the same input in one process.

Write a module ``benchmarks/bench_<area>.py`` with functions decorated by :func:`benchmark`.
Each returns a dict that at least holds ``spinlens_s`` and ``peer_s`` (seconds for the same work)
and may add accuracy figures; the runner adds ``ratio = peer_s / spinlens_s`` (speed-up) and writes
``benchmarks/results/<name>.json``. Quote ratios, not seconds: machines here are noisy.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["benchmark", "REGISTRY", "timeit", "best_of", "clocks"]

REGISTRY: dict[str, Callable[..., dict[str, Any]]] = {}


def benchmark(name: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Register a benchmark under ``name`` (``area/what``)."""

    def deco(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        if name in REGISTRY:
            raise ValueError(f"benchmark {name!r} registered twice")
        REGISTRY[name] = fn
        return fn

    return deco


def timeit(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall time of one call and its return value."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def clocks(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(process CPU seconds, wall seconds, return value) of one call.

    CPU seconds are robust on a shared machine (other jobs inflate wall time) and charge a side for every thread
    it keeps busy, so benchmarks that quote them pin both sides to the same thread count.
    """
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - c0, time.perf_counter() - w0, out


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Best wall time over ``repeat`` calls (after the first, which is kept as warm-up if repeat > 1)."""
    best, out = float("inf"), None
    for _ in range(max(1, repeat)):
        t, out = timeit(fn)
        best = min(best, t)
    return best, out
