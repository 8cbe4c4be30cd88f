r"""Dense associative memories: Krotov–Hopfield polynomial/exponential energies and modern (softmax) Hopfield.

* Krotov & Hopfield, NeurIPS 2016 (arXiv:1606.01164): :math:`E(s) = -\sum_\mu F(\xi^\mu\cdot s)` with
  :math:`F(x) = x^n` (``energy="poly"``; n = 2 is the classical Hebbian Hopfield network up to a constant)
  or :math:`F(x) = e^{x}` (``energy="exp"``, Demircigil et al. 2017). The update of spin i is

  .. math:: s_i \leftarrow \mathrm{sign}\sum_\mu \big[F(\xi_i^\mu + x_\mu^{(i)}) - F(-\xi_i^\mu + x_\mu^{(i)})\big],
     \qquad x_\mu^{(i)} = \sum_{j\ne i}\xi_j^\mu s_j .

  Capacity without errors grows as :math:`P_{\max} \approx N^{n-1} / (c_n \ln N)`, :math:`c_n = 2(2n-3)!!`.
* Ramsauer et al., *Hopfield Networks is All You Need* (ICLR 2021): energy
  :math:`E(\xi) = -\beta^{-1}\ln\sum_\mu e^{\beta\, x^\mu\cdot\xi} + \tfrac12\xi\cdot\xi + \text{const}` and the update
  :math:`\xi \leftarrow X^\top \mathrm{softmax}(\beta X\xi)`, which retrieves a well-separated pattern in one step with
  exponentially small error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.special import logsumexp, softmax

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, as_generator
from spinlens.memory.hopfield import validate_patterns
from spinlens.results import Result
from spinlens.spins.model import as_count, as_real, as_real_array, as_spins

__all__ = [
    "DenseAssociativeMemory",
    "ModernHopfield",
    "DenseCapacityResult",
    "dense_capacity",
    "predicted_capacity",
]


class DenseAssociativeMemory:
    """Krotov–Hopfield dense associative memory with ``F(x) = x**n`` or ``exp(x)``.

    Parameters
    ----------
    patterns : (P, N) array of ±1.
    n : int >= 2, the interaction order for ``energy="poly"``.
    energy : "poly" | "exp".
    """

    def __init__(self, patterns: Any, n: int = 3, energy: Literal["poly", "exp"] = "poly") -> None:
        self.patterns = validate_patterns(patterns)
        if not isinstance(energy, str) or energy not in ("poly", "exp"):
            raise ValueError(f"energy must be 'poly' or 'exp', got {energy!r}.")
        self.n = as_count(n, "n (interaction order)", minimum=2) if energy == "poly" else as_count(n, "n")
        self.energy_kind = energy
        self._X = self.patterns.astype(np.float64)

    @property
    def n_spins(self) -> int:
        return int(self.patterns.shape[1])

    def _F(self, x: np.ndarray) -> np.ndarray:
        return np.exp(x) if self.energy_kind == "exp" else x**self.n

    def energy(self, s: Any) -> np.ndarray | float:
        r""":math:`E(s) = -\sum_\mu F(\xi^\mu\cdot s)` for ``(N,)`` or ``(b, N)`` states."""
        S = as_spins(s, self.n_spins).astype(np.float64)
        x = np.atleast_2d(S) @ self._X.T
        if self.energy_kind == "exp":
            e = -np.exp(logsumexp(x, axis=1))
        else:
            e = -np.sum(x**self.n, axis=1)
        return float(e[0]) if S.ndim == 1 else e

    def _drive(self, S: np.ndarray) -> np.ndarray:
        # (b, N): sum_mu F(x_mu^(i) + xi_i) - F(x_mu^(i) - xi_i), sign-correct for both F
        X = self._X
        x = S @ X.T  # (b, P)
        rest = x[:, None, :] - X.T[None, :, :] * S[:, :, None]  # (b, N, P): x without spin i
        plus = rest + X.T[None, :, :]
        minus = rest - X.T[None, :, :]
        if self.energy_kind == "exp":
            a, b = logsumexp(plus, axis=2), logsumexp(minus, axis=2)
            return a - b
        return np.sum(plus**self.n - minus**self.n, axis=2)

    def update(
        self, s: Any, mode: Literal["sync", "async"] = "sync", n_steps: int = 1, rng: RNGLike = None
    ) -> np.ndarray:
        """Apply ``n_steps`` updates: ``"sync"`` updates every spin at once from the same state (the one-step
        retrieval of Krotov & Hopfield), ``"async"`` one spin at a time in random order (a sweep per step)."""
        S0 = as_spins(s, self.n_spins)
        S = np.atleast_2d(S0).astype(np.float64)
        n_steps = as_count(n_steps, "n_steps", minimum=0)
        if mode == "sync":
            for _ in range(n_steps):
                d = self._drive(S)
                S = np.where(d > 0, 1.0, np.where(d < 0, -1.0, S))
        elif mode == "async":
            g = as_generator(rng)
            X = self._X
            for _ in range(n_steps):
                for i in g.permutation(self.n_spins):
                    x = S @ X.T
                    rest = x - X[:, i][None, :] * S[:, i : i + 1]
                    if self.energy_kind == "exp":
                        d = logsumexp(rest + X[:, i], axis=1) - logsumexp(rest - X[:, i], axis=1)
                    else:
                        d = np.sum((rest + X[:, i]) ** self.n - (rest - X[:, i]) ** self.n, axis=1)
                    S[:, i] = np.where(d > 0, 1.0, np.where(d < 0, -1.0, S[:, i]))
        else:
            raise ValueError(f"mode must be 'sync' or 'async', got {mode!r}.")
        out = S.astype(np.int8)
        return out[0] if S0.ndim == 1 else out

    def stable_fraction(self) -> tuple[float, float]:
        """(fraction of patterns left unchanged by one update, fraction of bits flipped by it)."""
        new = self.update(self.patterns, mode="sync")
        wrong = new != self.patterns
        return float(np.mean(~np.any(wrong, axis=1))), float(np.mean(wrong))


class ModernHopfield:
    r"""Modern (continuous) Hopfield network of Ramsauer et al.:
    :math:`\xi \leftarrow X^\top\mathrm{softmax}(\beta X\xi)`.

    Parameters
    ----------
    patterns : (P, N) real array (±1 patterns or any real vectors).
    beta : inverse temperature > 0.
    """

    def __init__(self, patterns: Any, beta: float = 1.0) -> None:
        self.patterns = as_real_array(patterns, "patterns (a finite (P, N) array)", ndim=2)
        self.beta = as_real(beta, "beta")
        if not self.beta > 0:
            raise ValueError(f"beta must be positive, got {beta}.")

    def _query(self, xi: Any) -> np.ndarray:
        N = self.patterns.shape[1]
        V = np.atleast_2d(as_real_array(xi, "xi (the query state)", ndim=(1, 2)))
        if V.shape[1] != N:
            raise ValueError(f"xi (the query state) has {V.shape[1]} entries but the patterns have {N}.")
        return V

    def energy(self, xi: Any) -> np.ndarray | float:
        r"""Energy
        :math:`E = -\beta^{-1}\ln\sum_\mu e^{\beta x^\mu\cdot\xi} + \tfrac12\xi\cdot\xi`
        :math:`+ \beta^{-1}\ln P + \tfrac12 M^2`.
        """
        V = self._query(xi)
        M = np.max(np.linalg.norm(self.patterns, axis=1))
        e = (-logsumexp(self.beta * V @ self.patterns.T, axis=1) / self.beta + 0.5 * np.sum(V * V, axis=1)
             + np.log(len(self.patterns)) / self.beta + 0.5 * M**2)
        return float(e[0]) if np.ndim(xi) == 1 else e

    def attention(self, xi: Any) -> np.ndarray:
        """The softmax weights ``softmax(beta X xi)`` over stored patterns, ``(P,)`` or ``(b, P)``."""
        V = self._query(xi)
        p = softmax(self.beta * V @ self.patterns.T, axis=1)
        return p[0] if np.ndim(xi) == 1 else p

    def update(self, xi: Any, n_steps: int = 1, binary: bool = False) -> np.ndarray:
        """``n_steps`` softmax updates; ``binary=True`` takes the sign afterwards (±1 patterns)."""
        V = self._query(xi)
        for _ in range(as_count(n_steps, "n_steps", minimum=0)):
            V = softmax(self.beta * V @ self.patterns.T, axis=1) @ self.patterns
        if binary:
            V = np.where(V >= 0, 1, -1).astype(np.int8)
        return V[0] if np.ndim(xi) == 1 else V


def predicted_capacity(n: int, n_spins: int) -> float:
    r"""Krotov–Hopfield error-free capacity :math:`N^{n-1}/(2(2n-3)!!\,\ln N)`."""
    n = as_count(n, "n (interaction order)", minimum=2)
    n_spins = as_count(n_spins, "n_spins", minimum=2)
    dfact = math.prod(range(2 * n - 3, 0, -2)) if n >= 2 else 1
    return n_spins ** (n - 1) / (2.0 * dfact * math.log(n_spins))


@dataclass(frozen=True)
class DenseCapacityResult(Result):
    """Measured error-free capacities ``p_max[k]`` at order ``orders[k]`` and size ``n_spins``, with predictions."""

    orders: np.ndarray
    n_spins: int
    p_max: np.ndarray
    predicted: np.ndarray
    n_trials: int


def _stable_prob(n: int, N: int, P: int, n_trials: int, g: np.random.Generator) -> float:
    ok = 0.0
    for _ in range(n_trials):
        X = np.where(g.random((P, N)) < 0.5, 1, -1).astype(np.int8)
        frac, _ = DenseAssociativeMemory(X, n=n).stable_fraction()
        ok += frac
    return ok / n_trials


def dense_capacity(
    orders: Any = (2, 3, 4),
    n_spins: int = 30,
    n_trials: int = 4,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
) -> DenseCapacityResult:
    """Error-free capacity of ``F(x) = x**n`` memories: the largest P at which at least half of the stored
    patterns are fixed points of the one-step update, found by bisection on P for each order n."""
    if isinstance(orders, (str, bytes)) or not hasattr(orders, "__iter__"):
        raise ValueError(f"orders must be a list of interaction orders >= 2, got {orders!r}.")
    ns = np.asarray([as_count(n, "orders (interaction order)", minimum=2) for n in orders], dtype=np.int64)
    if ns.size == 0:
        raise ValueError("orders is empty; pass interaction orders >= 2, e.g. (2, 3, 4).")
    n_spins = as_count(n_spins, "n_spins", minimum=2)
    n_trials = as_count(n_trials, "n_trials", minimum=1)
    g = as_generator(rng)
    pm = np.zeros(len(ns))
    for k, n in enumerate(ns):
        lo, hi = 1, 2
        while _stable_prob(int(n), n_spins, hi, n_trials, g) >= 0.5 and hi < 10**6:
            lo, hi = hi, hi * 2
        while hi - lo > max(1, lo // 50):
            mid = (lo + hi) // 2
            if _stable_prob(int(n), n_spins, mid, n_trials, g) >= 0.5:
                lo = mid
            else:
                hi = mid
        pm[k] = lo
        notify(progress, k + 1, len(ns))
    pred = np.array([predicted_capacity(int(n), n_spins) for n in ns])
    return DenseCapacityResult(ns, int(n_spins), pm, pred, int(n_trials))
