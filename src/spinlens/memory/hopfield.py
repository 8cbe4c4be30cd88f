r"""Classical Hopfield networks: learning rules, retrieval dynamics, basins and spurious states.

A Hopfield memory is a *source of couplings*: :func:`hopfield` turns ``P`` patterns
:math:`\xi^\mu \in \{-1,+1\}^N` into an :class:`~spinlens.spins.IsingModel` (a
:class:`HopfieldNetwork`, which also remembers its patterns), so every solver of spinlens works on it.

Learning rules (Hertz, Krogh & Palmer 1991; Storkey 1997; Böttcher & Wheeler, arXiv:2405.10957):

* Hebb: :math:`J_{ij} = \frac1N \sum_\mu \xi_i^\mu \xi_j^\mu`, :math:`J_{ii} = 0`.
* Pseudo-inverse (projection): :math:`J = \frac1N \Xi\, C^{-1} \Xi^\top` with :math:`\Xi` the
  :math:`N\times P` pattern matrix and :math:`C = \Xi^\top\Xi / N`; diagonal removed.
  Every pattern satisfies :math:`J\xi^\mu = \xi^\mu - \mathrm{diag}(J_{\rm full})\,\xi^\mu`, a fixed point when
  :math:`P < N` and the patterns are linearly independent.
* Storkey: incremental :math:`J_{ij} \mathrel{+}= \frac1N(\xi_i\xi_j - \xi_i g_{ji} - g_{ij}\xi_j)` with
  :math:`g_{ij} = \sum_{k\ne i,j} J_{ik}\xi_k` (local field without the i, j terms).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, as_generator, seed_int
from spinlens.results import Result
from spinlens.spins.model import IsingModel, as_count, as_real, as_real_array, as_spins, check_model

__all__ = [
    "HopfieldNetwork",
    "RetrievalResult",
    "BasinResult",
    "SpuriousResult",
    "hopfield",
    "validate_patterns",
    "overlaps",
    "corrupt",
    "retrieve",
    "basins",
    "classify_states",
    "spurious_states",
]

Rule = Literal["hebb", "pseudo-inverse", "storkey"]


def check_rule(rule: str) -> str:
    """``rule`` if it is a learning rule of :func:`hopfield`, else a ValueError naming them."""
    if not isinstance(rule, str) or rule not in get_args(Rule):
        raise ValueError(f"unknown rule {rule!r}; choose 'hebb', 'pseudo-inverse' or 'storkey'.")
    return rule


@dataclass(frozen=True, eq=False)
class HopfieldNetwork(IsingModel):
    """An :class:`IsingModel` built by a Hopfield learning rule; keeps its ``patterns`` ``(P, N)`` int8."""

    patterns: Any = None
    rule: str = "hebb"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_rule(self.rule)
        if self.patterns is not None:
            X = validate_patterns(self.patterns)
            if X.shape[1] != self.n_spins:
                raise ValueError(f"patterns have {X.shape[1]} spins but J is {self.n_spins}x{self.n_spins}.")
            object.__setattr__(self, "patterns", X)

    @property
    def n_patterns(self) -> int:
        return 0 if self.patterns is None else int(self.patterns.shape[0])

    @property
    def alpha(self) -> float:
        """Load :math:`\\alpha = P/N`."""
        return self.n_patterns / self.n_spins

    def __repr__(self) -> str:
        return f"HopfieldNetwork(n_spins={self.n_spins}, n_patterns={self.n_patterns}, rule={self.rule!r})"


def validate_patterns(patterns: Any) -> np.ndarray:
    """Check ``patterns`` is a ``(P, N)`` array of -1/+1 values and return it as int8."""
    if patterns is None or isinstance(patterns, (str, bytes)):
        raise ValueError(f"patterns must be a (n_patterns, n_spins) array of -1/+1, got {patterns!r}.")
    X = np.asarray(patterns)
    if X.dtype.kind == "b":
        raise ValueError("patterns are boolean; pass -1/+1 values, e.g. xi = 2 * x.astype(int) - 1.")
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] < 2:
        raise ValueError(f"patterns must have shape (n_patterns, n_spins) with n_spins >= 2, got {X.shape}.")
    if X.dtype.kind not in "biuf" or not np.all((X == 1) | (X == -1)):
        raise ValueError(
            "patterns must contain only -1 and +1; convert {0,1} images with xi = 2*x - 1 "
            "(binarise grey levels first, e.g. x > 0.5)."
        )
    return X.astype(np.int8)


def hopfield(patterns: Any, rule: Rule = "hebb", h: Any = None) -> HopfieldNetwork:
    r"""Store ``patterns`` ``(P, N)`` (entries ±1) in a Hopfield network with the given learning ``rule``.

    Parameters
    ----------
    patterns : (P, N) array of -1/+1
    rule : "hebb" | "pseudo-inverse" | "storkey"
        See the module docstring for the formulas.
    h : (N,) array, optional
        External fields (default zero).

    Returns
    -------
    HopfieldNetwork
        An :class:`IsingModel` with symmetric ``J`` (zero diagonal) that also keeps the patterns.

    Raises
    ------
    ValueError
        Patterns not ±1; for the pseudo-inverse rule ``P >= N`` or linearly dependent patterns.
    """
    X = validate_patterns(patterns)
    P, N = X.shape
    Xi = X.astype(np.float64)
    if rule == "hebb":
        J = Xi.T @ Xi / N
    elif rule == "pseudo-inverse":
        if P >= N:
            raise ValueError(
                f"the pseudo-inverse rule stores at most N - 1 linearly independent patterns; got P = {P} "
                f">= N = {N}. Use fewer patterns or more spins."
            )
        C = Xi @ Xi.T / N
        if np.linalg.matrix_rank(C) < P:
            raise ValueError("patterns are linearly dependent; the pseudo-inverse rule needs independent patterns.")
        J = Xi.T @ np.linalg.solve(C, Xi) / N
        J = 0.5 * (J + J.T)
    elif rule == "storkey":
        J = np.zeros((N, N))
        for xi in Xi:
            # g_ij = sum_{k != i, j} J_ik xi_k = (J xi)_i - J_ii xi_i - J_ij xi_j  (J_ii = 0)
            f = J @ xi
            G = f[:, None] - J * xi[None, :]
            J = J + (np.outer(xi, xi) - xi[:, None] * G.T - G * xi[None, :]) / N
            np.fill_diagonal(J, 0.0)
        J = 0.5 * (J + J.T)
    else:
        check_rule(rule)
    np.fill_diagonal(J, 0.0)
    return HopfieldNetwork(J, h, patterns=X, rule=rule)


def overlaps(states: Any, patterns: Any) -> np.ndarray:
    r"""Overlaps :math:`m_\mu = \frac1N \sum_i \xi_i^\mu s_i`: ``(P,)`` for one state, ``(b, P)`` for a batch."""
    X = validate_patterns(patterns)
    S = as_spins(states)
    if S.shape[-1] != X.shape[1]:
        raise ValueError(f"states have {S.shape[-1]} spins but the patterns have {X.shape[1]}.")
    return (S.astype(np.float64) @ X.T.astype(np.float64)) / X.shape[1]


def corrupt(patterns: Any, fraction: float, rng: RNGLike = None) -> np.ndarray:
    """Flip exactly ``round(fraction * N)`` randomly chosen spins of each pattern (returns a copy)."""
    X = validate_patterns(patterns).copy()
    fraction = as_real(fraction, "fraction", low=0.0, high=1.0)
    g = as_generator(rng)
    P, N = X.shape
    k = int(round(fraction * N))
    for a in range(P):
        idx = g.choice(N, size=k, replace=False)
        X[a, idx] *= -1
    return X


@dataclass(frozen=True)
class RetrievalResult(Result):
    """Outcome of retrieval dynamics.

    Attributes
    ----------
    state : (n,) or (b, n) int8 final states.
    overlaps : (P,) or (b, P) overlaps m_mu with every stored pattern (at T > 0: averaged over the
        measured sweeps, the second half of the run).
    converged : bool or (b,) bool — reached a fixed point (always False at T > 0).
    n_sweeps : (b,) sweeps used.
    T, mode : the dynamics.
    """

    state: np.ndarray
    overlaps: np.ndarray
    converged: Any
    n_sweeps: np.ndarray
    T: float
    mode: str

    @property
    def best_pattern(self) -> Any:
        """Index of the pattern with the largest ``|m_mu|`` (per state)."""
        return np.argmax(np.abs(self.overlaps), axis=-1)


def _patterns_for(model: IsingModel, patterns: Any) -> np.ndarray:
    X = validate_patterns(patterns)
    if X.shape[1] != model.n_spins:
        raise ValueError(f"patterns have {X.shape[1]} spins but the model has {model.n_spins}.")
    return X


def _model_arrays(model: IsingModel) -> tuple[np.ndarray, np.ndarray]:
    J = np.ascontiguousarray(model.dense_J(), dtype=np.float64)
    return J, np.ascontiguousarray(model.h, dtype=np.float64)


def retrieve(
    model: IsingModel,
    state: Any,
    patterns: Any = None,
    T: float = 0.0,
    mode: Literal["async", "sync"] = "async",
    max_sweeps: int = 200,
    rng: RNGLike = None,
    sampler: Literal["heatbath", "metropolis"] = "heatbath",
) -> RetrievalResult:
    r"""Run retrieval dynamics from ``state`` and measure the overlaps with every stored pattern.

    * ``T = 0, mode="async"``: :math:`s_i \leftarrow \mathrm{sign}(\sum_j J_{ij}s_j + h_i)` one spin at a time
      in random order until no spin changes (energy never increases, so this always converges).
    * ``T = 0, mode="sync"``: all spins at once, :math:`s \leftarrow \mathrm{sign}(Js + h)`; stops at a fixed
      point or a 2-cycle (``converged`` False).
    * ``T > 0``: the Monte Carlo engine (:class:`spinlens.sampling.MetropolisSampler`) samples
      :math:`e^{-H/T}` from ``state``: Glauber heat bath :math:`P(s_i=+1) = 1/(1+e^{-2\phi_i/T})` (default) or
      Metropolis, for ``max_sweeps`` sweeps; overlaps are averaged over the second half.

    Parameters
    ----------
    model : IsingModel (typically from :func:`hopfield`).
    state : (n,) or (b, n) spins ±1, the initial condition(s).
    patterns : (P, n), optional — defaults to the patterns of a :class:`HopfieldNetwork`.
    T : temperature >= 0.
    mode : "async" or "sync" (T = 0 only).
    max_sweeps : sweeps at most (T = 0) or exactly (T > 0).
    rng : seed or Generator.
    sampler : "heatbath" (Glauber) or "metropolis" single-spin updates at T > 0.
    """
    check_model(model)
    S0 = as_spins(state, model.n_spins)
    single = S0.ndim == 1
    S = np.array(np.atleast_2d(S0), dtype=np.int8, order="C")
    if patterns is None:
        patterns = getattr(model, "patterns", None)
        if patterns is None:
            raise ValueError("pass patterns=... (the model does not carry stored patterns).")
    X = validate_patterns(patterns)
    if X.shape[1] != model.n_spins:
        raise ValueError(f"patterns have {X.shape[1]} spins but the model has {model.n_spins}.")
    T = as_real(T, "T (temperature)", low=0.0)
    max_sweeps = as_count(max_sweeps, "max_sweeps", minimum=1)
    if sampler not in ("heatbath", "metropolis"):
        raise ValueError(f"sampler must be 'heatbath' or 'metropolis', got {sampler!r}.")
    if mode not in ("async", "sync"):
        raise ValueError(f"mode must be 'async' or 'sync', got {mode!r}.")
    b = S.shape[0]
    if T == 0.0 and mode == "async":
        from spinlens.memory._kernels import async_zero_t

        J, h = _model_arrays(model)
        sweeps, conv = async_zero_t(J, h, S, int(max_sweeps), seed_int(rng))
        m = overlaps(S, X)
    elif T == 0.0:
        J, h = _model_arrays(model)
        conv = np.zeros(b, dtype=bool)
        sweeps = np.full(b, max_sweeps, dtype=np.int64)
        active = np.ones(b, dtype=bool)
        prev = S.copy()
        for t in range(max_sweeps):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            F = S[idx].astype(np.float64) @ J + h
            new = np.where(F > 0, 1, np.where(F < 0, -1, S[idx])).astype(np.int8)
            fixed = np.all(new == S[idx], axis=1)
            cycle = np.all(new == prev[idx], axis=1) & ~fixed
            prev[idx] = S[idx]
            S[idx] = new
            conv[idx[fixed]] = True
            done = fixed | cycle
            sweeps[idx[done]] = t + 1
            active[idx[done]] = False
        m = overlaps(S, X)
    else:
        if mode != "async":
            raise ValueError("finite-temperature retrieval uses asynchronous (Glauber) updates; use mode='async'.")
        if sampler not in ("heatbath", "metropolis"):
            raise ValueError(f"sampler must be 'heatbath' or 'metropolis', got {sampler!r}.")
        from spinlens.sampling import MetropolisSampler

        n_burn = int(max_sweeps) // 2
        mc = MetropolisSampler(rule=sampler, n_chains=b, n_burn=n_burn, record_states=True, coupling_dtype="float64")
        smp, S = mc.sample(model, 1.0 / T, int(max_sweeps), state=S, rng=rng)
        states = np.asarray(smp.states)  # (b, records, n)
        # time-averaged overlap: mean state over the records, then overlaps (no float copy of the whole record)
        m = states.mean(axis=1, dtype=np.float64) @ X.T.astype(np.float64) / X.shape[1]
        conv = np.zeros(b, dtype=bool)
        sweeps = np.full(b, max_sweeps, dtype=np.int64)
    if single:
        return RetrievalResult(S[0], m[0], bool(conv[0]), sweeps, float(T), mode)
    return RetrievalResult(S, m, conv, sweeps, float(T), mode)


@dataclass(frozen=True)
class BasinResult(Result):
    """Retrieval probability vs initial corruption (fraction of flipped spins).

    ``p_retrieval[k]`` is the fraction of trials whose final overlap with the *target* pattern
    reached ``threshold``; ``mean_overlap[k]`` the mean final overlap with it.
    """

    corruption: np.ndarray
    p_retrieval: np.ndarray
    p_error: np.ndarray
    mean_overlap: np.ndarray
    threshold: float
    n_trials: int

    @property
    def basin_radius(self) -> float:
        """Largest corruption with retrieval probability >= 1/2 (linear interpolation)."""
        p, c = self.p_retrieval, self.corruption
        below = np.flatnonzero(p < 0.5)
        if below.size == 0:
            return float(c[-1])
        k = int(below[0])
        if k == 0:
            return 0.0
        return float(c[k - 1] + (p[k - 1] - 0.5) * (c[k] - c[k - 1]) / (p[k - 1] - p[k]))


def basins(
    model: IsingModel,
    patterns: Any = None,
    corruption: Any = None,
    n_trials: int = 50,
    T: float = 0.0,
    mode: Literal["async", "sync"] = "async",
    threshold: float = 0.9,
    max_sweeps: int = 200,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
) -> BasinResult:
    """Basins of attraction: start ``n_trials`` times from a randomly chosen stored pattern with a fraction
    ``c`` of spins flipped and record how often retrieval (final overlap >= ``threshold``) succeeds."""
    check_model(model)
    n_trials = as_count(n_trials, "n_trials", minimum=1)
    threshold = as_real(threshold, "threshold", low=0.0, high=1.0, low_open=True)
    T = as_real(T, "T (temperature)", low=0.0)
    max_sweeps = as_count(max_sweeps, "max_sweeps", minimum=1)
    if patterns is None:
        patterns = getattr(model, "patterns", None)
        if patterns is None:
            raise ValueError("pass patterns=... (the model does not carry stored patterns).")
    X = _patterns_for(model, patterns)
    if corruption is None:
        cs = np.linspace(0.0, 0.5, 11)
    else:
        cs = as_real_array(corruption, "corruption", ndim=(0, 1)).ravel()
        if np.any((cs < 0) | (cs > 1)):
            raise ValueError(f"corruption fractions must lie in [0, 1], got {cs.tolist()}.")
    g = as_generator(rng)
    p_ret = np.zeros(len(cs))
    mean_m = np.zeros(len(cs))
    for k, c in enumerate(cs):
        targets = g.integers(0, X.shape[0], size=n_trials)
        start = corrupt(X[targets], float(c), g)
        res = retrieve(model, start, X, T=T, mode=mode, max_sweeps=max_sweeps, rng=g)
        mt = res.overlaps[np.arange(n_trials), targets]
        p_ret[k] = np.mean(mt >= threshold)
        mean_m[k] = np.mean(mt)
        notify(progress, k + 1, len(cs))
    err = np.sqrt(np.maximum(p_ret * (1 - p_ret), 1e-12) / n_trials)
    return BasinResult(cs, p_ret, err, mean_m, float(threshold), int(n_trials))


@dataclass(frozen=True)
class SpuriousResult(Result):
    """Attractors reached from random initial states and what they are.

    ``kinds[a]`` is ``"retrieval"`` (one ``|m_mu| >= retrieval_threshold``, sign +), ``"reversed"`` (the
    same with sign -), ``"mixture-k"`` (k >= 2 patterns with ``|m_mu| >= mixture_threshold`` and no
    retrieval), or ``"spin-glass"`` (no large overlap).
    """

    states: np.ndarray
    overlaps: np.ndarray
    kinds: tuple[str, ...]
    counts: dict[str, int]
    energies: np.ndarray


def classify_states(
    states: Any, patterns: Any, retrieval_threshold: float = 0.9, mixture_threshold: float | None = None
) -> tuple[str, ...]:
    r"""Classify states by their overlaps with the patterns (see :class:`SpuriousResult`).

    The mixture threshold defaults to :math:`\max(0.2, 4/\sqrt N)` — well above the
    :math:`1/\sqrt N` overlap of random states and below the 1/2 of symmetric 3-mixtures
    :math:`\mathrm{sign}(\xi^1+\xi^2+\xi^3)`.
    """
    X = validate_patterns(patterns)
    M = np.atleast_2d(overlaps(states, X))
    retrieval_threshold = as_real(retrieval_threshold, "retrieval_threshold", low=0.0, high=1.0, low_open=True)
    thr = (max(0.2, 4.0 / np.sqrt(X.shape[1])) if mixture_threshold is None
           else as_real(mixture_threshold, "mixture_threshold", low=0.0, high=1.0, low_open=True))
    kinds = []
    for m in M:
        a = np.abs(m)
        top = int(np.argmax(a))
        if a[top] >= retrieval_threshold:
            kinds.append("retrieval" if m[top] > 0 else "reversed")
            continue
        k = int(np.sum(a >= thr))
        kinds.append(f"mixture-{k}" if k >= 2 else "spin-glass")
    return tuple(kinds)


def spurious_states(
    model: IsingModel,
    patterns: Any = None,
    n_starts: int = 100,
    max_sweeps: int = 500,
    retrieval_threshold: float = 0.9,
    rng: RNGLike = None,
) -> SpuriousResult:
    """Run T = 0 asynchronous dynamics from ``n_starts`` random states and classify the attractors reached."""
    check_model(model)
    n_starts = as_count(n_starts, "n_starts", minimum=1)
    retrieval_threshold = as_real(retrieval_threshold, "retrieval_threshold", low=0.0, high=1.0, low_open=True)
    if patterns is None:
        patterns = getattr(model, "patterns", None)
        if patterns is None:
            raise ValueError("pass patterns=... (the model does not carry stored patterns).")
    X = _patterns_for(model, patterns)
    g = as_generator(rng)
    start = np.where(g.random((n_starts, model.n_spins)) < 0.5, 1, -1).astype(np.int8)
    res = retrieve(model, start, X, T=0.0, mode="async", max_sweeps=max_sweeps, rng=g)
    kinds = classify_states(res.state, X, retrieval_threshold)
    counts: dict[str, int] = {}
    for k in kinds:
        counts[k] = counts.get(k, 0) + 1
    E = np.asarray(model.energy(res.state)) / model.n_spins
    return SpuriousResult(res.state, res.overlaps, kinds, dict(sorted(counts.items())), E)


def _replace(r: Any, **kw: Any) -> Any:  # pragma: no cover - helper for callers
    return dataclasses.replace(r, **kw)
