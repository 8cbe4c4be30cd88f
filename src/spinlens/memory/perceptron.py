r"""Perceptrons and McCulloch–Pitts threshold units: the perceptron rule, Cover's counting and Gardner's capacity.

**McCulloch–Pitts unit** (W. S. McCulloch & W. Pitts, *A logical calculus of the ideas immanent in nervous
activity*, Bull. Math. Biophys. 5, 115-133 (1943)): binary inputs :math:`x_i\in\{0,1\}`, output
:math:`y = \Theta(\sum_i w_i x_i - \theta)` (1 when the weighted sum reaches the threshold, else 0), and absolute
inhibition: any active inhibitory input forces :math:`y = 0`.

**Perceptron rule** (F. Rosenblatt, *The perceptron: a probabilistic model for information storage and
organization in the brain*, Psychol. Rev. 65(6), 386-408 (1958)). For patterns :math:`\xi^\mu\in\mathbb R^N` with
labels :math:`y^\mu=\pm1`, a pattern with :math:`y^\mu(w\cdot\xi^\mu + b)\le 0` is an error and triggers
:math:`w\leftarrow w + \eta\,y^\mu\xi^\mu` (:math:`b\leftarrow b+\eta\,y^\mu` with a bias). Convergence theorem
(A. B. J. Novikoff, *On convergence proofs on perceptrons*, Symp. Math. Theory of Automata 12, 615-622 (1962)):
from :math:`w = 0`, if a unit vector :math:`w^*` separates the patterns with margin
:math:`\gamma = \min_\mu y^\mu w^*\cdot\xi^\mu > 0`, the rule makes at most :math:`(R/\gamma)^2` updates,
:math:`R = \max_\mu\lVert\xi^\mu\rVert`, for any :math:`\eta > 0`. On a set that no hyperplane separates it never
stops; :class:`Perceptron` then reports ``converged_ = False`` after ``max_epochs``.

**Cover's function counting theorem** (T. M. Cover, *Geometrical and statistical properties of systems of linear
inequalities with applications in pattern recognition*, IEEE Trans. Electron. Comput. EC-14(3), 326-334 (1965)):
``P`` points in general position in :math:`\mathbb R^N` have

.. math:: C(P, N) = 2\sum_{k=0}^{N-1}\binom{P-1}{k}

dichotomies separable by a hyperplane through the origin, so a random labelling is separable with probability
:math:`C(P,N)/2^P = \Pr[\mathrm{Bin}(P-1,\tfrac12)\le N-1]`.

**Critical number of patterns** (spinlens's own restatement of Cover's count). Store random patterns with random
labels one at a time and let :math:`P^*` be the largest ``P`` whose first ``P`` patterns are separable (a subset of
a separable set is separable, so this is well defined and found by bisection). Then
:math:`\Pr(P^*\ge P) = C(P,N)/2^P = \Pr(T_N\ge P)` with :math:`T_N` the trial of the ``N``-th success in fair coin
flips, so :math:`P^*` is negative-binomial: :math:`\Pr(P^* = P) = \binom{P-1}{N-1}2^{-P}`,
:math:`E[P^*] = 2N`, :math:`\mathrm{Var}[P^*] = 2N`. The finite-size capacity :math:`\alpha_c(N) = E[P^*]/N` is
therefore exactly 2 at every ``N`` for points in general position, each trial contributing a spread
:math:`\sqrt{2/N}`. Random :math:`\pm1` patterns are not in general position (two patterns can coincide or be
opposite, with probability :math:`\propto P^2 2^{-N}`), which lowers :math:`\alpha_c(N)` at small ``N``
(:math:`\approx 1.73` at ``N = 10``) and is invisible above ``N = 20`` within the error bars.

**Gardner's capacity** (E. Gardner, *The space of interactions in neural network models*, J. Phys. A 21, 257-270
(1988); E. Gardner & B. Derrida, *Optimal storage properties of neural network models*, J. Phys. A 21, 271-284
(1988)): at stability margin :math:`\kappa`,

.. math:: \alpha_c(\kappa) = \Big[\int_{-\kappa}^{\infty} Dt\,(t+\kappa)^2\Big]^{-1}
          = \big[(1+\kappa^2)\Phi(\kappa) + \kappa\,\varphi(\kappa)\big]^{-1},\qquad \alpha_c(0) = 2 .

**Exact feasibility.** Separability of :math:`\{(\xi^\mu, y^\mu)\}` is the linear program "find ``w`` with
:math:`y^\mu\,w\cdot\xi^\mu\ge 1` for all :math:`\mu`" (strict separation rescaled to margin 1), solved by SciPy's
``linprog`` (HiGHS): feasible means separable, and a returned ``w`` is checked against the constraints.
:func:`perceptron_capacity` measures :math:`P^*` for many trials at several ``N`` (about
:math:`\log_2(4N)` LPs per trial) and extrapolates :math:`\alpha_c(N) = \alpha_c + a N^{-1}` (weighted least squares,
:func:`spinlens.memory.extrapolate_alpha_c`) to :math:`N\to\infty`.

This module sits in :mod:`spinlens.memory`: a perceptron's storage capacity is the same question as a Hopfield
network's (Gardner computed it for one row of couplings of such a network), and it shares the capacity
extrapolation, result and sweep conventions of :mod:`spinlens.memory.capacity`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from spinlens._progress import ProgressCallback
from spinlens._rng import RNGLike, as_generator, seed_int
from spinlens.memory.capacity import extrapolate_alpha_c
from spinlens.results import Estimate, Result
from spinlens.spins.model import as_count, as_positive, as_real, as_real_array
from spinlens.sweeps import Unit, run_sweep_with

__all__ = [
    "GARDNER_ALPHA_C",
    "Perceptron",
    "PerceptronCapacityResult",
    "cover_chi2_pvalue",
    "cover_count",
    "cover_fraction",
    "critical_pattern_number",
    "gardner_capacity",
    "is_linearly_separable",
    "mcculloch_pitts",
    "perceptron_capacity",
    "perceptron_capacity_figure",
    "separable_fraction",
    "separating_weights",
]

#: Gardner's capacity of the perceptron at zero margin (and Cover's 2N).
GARDNER_ALPHA_C = 2.0

PatternKind = Literal["binary", "gaussian"]
_KINDS = ("binary", "gaussian")


# ============================================================================ McCulloch-Pitts units
def mcculloch_pitts(inputs: Any, weights: Any, threshold: float = 0.0, inhibitory: Any = None) -> np.ndarray:
    r"""McCulloch–Pitts unit: :math:`y = \Theta(\sum_i w_i x_i - \theta)` on binary inputs, with absolute inhibition.

    Parameters
    ----------
    inputs : (n,) or (batch, n) array of 0/1 values.
    weights : (n,) real weights (the excitatory synapses; inhibitory inputs may carry any weight, it is unused).
    threshold : :math:`\theta`, finite.
    inhibitory : optional (n,) boolean mask of inhibitory inputs: one active inhibitory input sets y = 0.

    Returns
    -------
    (batch,) or scalar-shaped int8 array of outputs in {0, 1}. Cost O(batch n).
    """
    w = as_real_array(weights, "weights", ndim=1)
    x = as_real_array(inputs, "inputs (0/1 values)", ndim=(1, 2))
    if x.shape[-1] != w.size:
        raise ValueError(f"inputs have {x.shape[-1]} entries per row but weights has {w.size}.")
    if not np.all((x == 0) | (x == 1)):
        raise ValueError("inputs of a McCulloch-Pitts unit must be 0 or 1.")
    theta = as_real(threshold, "threshold")
    out = (x @ w >= theta)
    if inhibitory is not None:
        mask = np.asarray(inhibitory)
        if mask.dtype.kind != "b" or mask.shape != (w.size,):
            raise ValueError(f"inhibitory must be a boolean mask of shape ({w.size},), got "
                             f"{mask.dtype} of shape {mask.shape}.")
        out = out & ~np.any(x[..., mask] > 0, axis=-1)
    return out.astype(np.int8)


# ============================================================================ validation
def _patterns_labels(patterns: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    X = as_real_array(patterns, "patterns (a (P, N) array)", ndim=2)
    y = as_real_array(labels, "labels (one +1/-1 label per pattern)", ndim=1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"labels must have one entry per pattern: {X.shape[0]} patterns, {y.shape[0]} labels.")
    if not np.all(np.abs(y) == 1):
        raise ValueError("labels must be +1 or -1; convert 0/1 labels with y = 2*t - 1.")
    return X, y


def _check_kind(patterns: Any) -> str:
    if not isinstance(patterns, str) or patterns not in _KINDS:
        raise ValueError(f"patterns must be one of {_KINDS} (random +-1 or standard normal entries), "
                         f"got {patterns!r}.")
    return patterns


# ============================================================================ the perceptron rule
class Perceptron:
    r"""Rosenblatt's perceptron trained by the perceptron rule (module notes), scikit-learn style.

    Parameters
    ----------
    learning_rate : :math:`\eta > 0` (from w = 0 it only rescales w: the sequence of updates does not depend on it).
    max_epochs : passes over the patterns before giving up (>= 1).
    bias : learn a bias b (the hyperplane need not pass through the origin).
    shuffle : visit the patterns in a fresh random order each epoch (``rng``); otherwise in the given order.
    rng : seed or Generator for the order.

    Attributes (after :meth:`fit`)
    ------------------------------
    w_ : (N,) weights; b_ : bias (0 without ``bias``).
    converged_ : True when an epoch made no error (the set is separated), False after ``max_epochs``.
    n_epochs_ : epochs run; n_updates_ : weight updates made; errors_ : (n_epochs_,) errors per epoch.
    message_ : what happened, in words.

    Cost: O(max_epochs P N).
    """

    def __init__(self, learning_rate: float = 1.0, max_epochs: int = 1000, bias: bool = False, shuffle: bool = True,
                 rng: RNGLike = None) -> None:
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.bias = bias
        self.shuffle = shuffle
        self.rng = rng

    def fit(self, patterns: Any, labels: Any) -> Perceptron:
        """Run the perceptron rule on ``patterns`` (P, N) with ``labels`` (P,) in {-1, +1}; returns ``self``."""
        X, y = _patterns_labels(patterns, labels)
        eta = as_positive(self.learning_rate, "learning_rate")
        max_epochs = as_count(self.max_epochs, "max_epochs", minimum=1)
        if not isinstance(self.bias, (bool, np.bool_)) or not isinstance(self.shuffle, (bool, np.bool_)):
            raise ValueError("bias and shuffle must be True or False.")
        g = as_generator(self.rng)
        P, N = X.shape
        w = np.zeros(N)
        b = 0.0
        errors: list[int] = []
        updates = 0
        converged = False
        for _ in range(max_epochs):
            order = g.permutation(P) if self.shuffle else range(P)
            n_err = 0
            for mu in order:
                if y[mu] * (X[mu] @ w + b) <= 0.0:
                    w += eta * y[mu] * X[mu]
                    if self.bias:
                        b += eta * y[mu]
                    n_err += 1
            updates += n_err
            errors.append(n_err)
            if n_err == 0:
                converged = True
                break
        self.w_, self.b_ = w, float(b)
        self.converged_ = converged
        self.n_epochs_ = len(errors)
        self.n_updates_ = updates
        self.errors_ = np.asarray(errors, dtype=np.int64)
        self.message_ = (f"separated all {P} patterns after {updates} updates in {len(errors)} epochs" if converged
                         else f"did not converge: {errors[-1]} of {P} patterns still misclassified after "
                              f"max_epochs={max_epochs} ({updates} updates); the set may not be linearly "
                              "separable (check with is_linearly_separable) or needs more epochs")
        return self

    def _check_fitted(self, X: Any) -> np.ndarray:
        if not hasattr(self, "w_"):
            raise ValueError("this Perceptron is not fitted yet; call fit(patterns, labels) first.")
        A = as_real_array(X, "patterns", ndim=(1, 2))
        if A.shape[-1] != self.w_.size:
            raise ValueError(f"patterns have {A.shape[-1]} inputs but the perceptron was fitted on {self.w_.size}.")
        return A

    def decision_function(self, patterns: Any) -> np.ndarray:
        r""":math:`w\cdot\xi + b` for each pattern."""
        A = self._check_fitted(patterns)
        return A @ self.w_ + self.b_

    def predict(self, patterns: Any) -> np.ndarray:
        """Labels sign(w.xi + b) in {-1, +1} (a pattern on the hyperplane counts as -1, as in the rule)."""
        return np.where(self.decision_function(patterns) > 0, 1, -1).astype(np.int8)


# ============================================================================ exact separability
def _lp_weights(X: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    r"""A ``w`` with :math:`y^\mu w\cdot\xi^\mu \ge 1` for all :math:`\mu` (HiGHS), or None when none exists.

    The primal feasibility problem is tried with HiGHS's default, dual-simplex and interior-point solvers; a
    returned ``w`` is checked against the constraints. Should HiGHS leave the status undecided (it can on
    degenerate sets at the edge of separability) the alternative of Gordan's theorem decides: no strict separator
    exists iff :math:`\sum_\mu \lambda_\mu y^\mu\xi^\mu = 0` has a solution :math:`\lambda\ge0`,
    :math:`\sum_\mu\lambda_\mu = 1`.
    """
    from scipy.optimize import linprog

    P, N = X.shape
    if P == 0:
        return np.zeros(N)
    A = -(y[:, None] * X)
    scale = float(np.max(np.abs(X))) or 1.0
    for method in ("highs", "highs-ds", "highs-ipm"):
        res = linprog(np.zeros(N), A_ub=A, b_ub=-np.ones(P), bounds=[(None, None)] * N, method=method)
        if res.status == 2:
            return None
        if res.status == 0 and res.x is not None:
            w = np.asarray(res.x, dtype=np.float64)
            if np.min(y * (X @ w)) > 0.5:  # HiGHS feasibility tolerance is ~1e-7 of the margin 1
                return w
    alt = linprog(np.zeros(P), A_eq=np.vstack([A.T, np.ones((1, P))]), b_eq=np.concatenate([np.zeros(N), [1.0]]),
                  bounds=[(0, None)] * P, method="highs")
    if alt.status == 0 and alt.x is not None:
        lam = np.clip(np.asarray(alt.x), 0.0, None)
        if float(np.max(np.abs(A.T @ lam))) <= 1e-7 * scale * max(1.0, float(lam.sum())):
            return None
    raise RuntimeError(f"linprog could not decide separability of {P} patterns in {N} dimensions "
                       f"(status {res.status}: {res.message}).")


def separating_weights(patterns: Any, labels: Any, bias: bool = False) -> tuple[np.ndarray, float] | None:
    r"""Weights ``(w, b)`` with :math:`y^\mu(w\cdot\xi^\mu + b)\ge 1` for every pattern (exact LP feasibility),
    or None when no hyperplane separates the labels (``bias=False``: through the origin, ``b = 0``).

    Cost: one linear program with P constraints and N (+1) free variables (HiGHS).
    """
    X, y = _patterns_labels(patterns, labels)
    if not isinstance(bias, (bool, np.bool_)):
        raise ValueError(f"bias must be True or False, got {bias!r}.")
    Xa = np.hstack([X, np.ones((X.shape[0], 1))]) if bias else X
    w = _lp_weights(Xa, y)
    if w is None:
        return None
    return (w[:-1].copy(), float(w[-1])) if bias else (w, 0.0)


def is_linearly_separable(patterns: Any, labels: Any, bias: bool = False) -> bool:
    """True when a hyperplane (through the origin unless ``bias``) separates the labels: exact LP feasibility."""
    return separating_weights(patterns, labels, bias=bias) is not None


# ============================================================================ Cover and Gardner
def cover_count(n_patterns: int, n_inputs: int) -> int:
    r"""Cover's count :math:`C(P, N) = 2\sum_{k=0}^{N-1}\binom{P-1}{k}` of the dichotomies of ``P >= 1`` points in
    general position in :math:`\mathbb R^N` (``N >= 1``) separable by a hyperplane through the origin (exact
    integer; :math:`2^P` for :math:`P\le N`)."""
    P = as_count(n_patterns, "n_patterns (P)", minimum=1)
    N = as_count(n_inputs, "n_inputs (N)", minimum=1)
    return 2 * sum(math.comb(P - 1, k) for k in range(min(N, P)))


def cover_fraction(n_patterns: Any, n_inputs: int) -> Any:
    r"""Fraction :math:`C(P, N)/2^P = \Pr[\mathrm{Bin}(P-1, \tfrac12)\le N-1]` of separable dichotomies.

    ``n_patterns``: one ``P >= 1`` or a 1-D array of them (vectorised); returns a float or an array.
    """
    from scipy.stats import binom

    N = as_count(n_inputs, "n_inputs (N)", minimum=1)
    if isinstance(n_patterns, (int, np.integer, float, np.floating, bool, np.bool_)) or (
            isinstance(n_patterns, np.ndarray) and n_patterns.ndim == 0):
        P = np.array([as_count(n_patterns, "n_patterns (P)", minimum=1)])
        scalar = True
    else:
        A = as_real_array(n_patterns, "n_patterns (P)", ndim=1)
        if np.any(A < 1) or np.any(A != np.round(A)):
            raise ValueError("n_patterns must be integers P >= 1.")
        P, scalar = A.astype(np.int64), False
    f = binom.cdf(N - 1, P - 1, 0.5)
    f = np.where(P <= N, 1.0, f)
    return float(f[0]) if scalar else f


def gardner_capacity(kappa: float = 0.0) -> float:
    r"""Gardner's capacity :math:`\alpha_c(\kappa) = [(1+\kappa^2)\Phi(\kappa) + \kappa\varphi(\kappa)]^{-1}` at
    stability margin :math:`\kappa` (finite; 2 at :math:`\kappa = 0`)."""
    from scipy.stats import norm

    k = as_real(kappa, "kappa (the stability margin)")
    return float(1.0 / ((1.0 + k * k) * norm.cdf(k) + k * norm.pdf(k)))


def _draw(g: np.random.Generator, P: int, N: int, kind: str) -> np.ndarray:
    if kind == "binary":
        return np.where(g.random((P, N)) < 0.5, 1.0, -1.0)
    return g.standard_normal((P, N))


def _critical_number(X: np.ndarray, y: np.ndarray) -> int:
    """Largest P whose first P rows are separable (X holds enough rows: row count itself is not separable)."""
    lo, hi = 0, X.shape[0]  # separable(lo) holds, separable(hi) fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _lp_weights(X[:mid], y[:mid]) is not None:
            lo = mid
        else:
            hi = mid
    return lo


def critical_pattern_number(n_inputs: int, patterns: PatternKind = "binary", rng: RNGLike = None) -> int:
    r""":math:`P^*` of one trial: the number of random patterns (random labels) stored before the first set that no
    hyperplane through the origin separates (module notes; Cover: :math:`E P^* = 2N`).

    Bisection over nested prefixes of a pool of :math:`4N + 16` patterns (doubled while it is still separable):
    about :math:`\log_2(4N)` exact LPs.
    """
    N = as_count(n_inputs, "n_inputs (N)", minimum=1)
    kind = _check_kind(patterns)
    g = as_generator(rng)
    size = 4 * N + 16
    X, y = _draw(g, size, N, kind), np.where(g.random(size) < 0.5, 1.0, -1.0)
    while _lp_weights(X, y) is not None:  # rare: the pool is separable, grow it
        X = np.vstack([X, _draw(g, size, N, kind)])
        y = np.concatenate([y, np.where(g.random(size) < 0.5, 1.0, -1.0)])
        size = X.shape[0]
    return _critical_number(X, y)


def separable_fraction(n_patterns: int, n_inputs: int, n_trials: int = 100, patterns: PatternKind = "binary",
                       rng: RNGLike = None) -> Estimate:
    r"""Fraction of ``n_trials`` independent sets of ``P`` random patterns with random labels that a hyperplane
    through the origin separates (exact LP each), with its binomial error :math:`\sqrt{f(1-f)/n}`
    (compare :func:`cover_fraction`). Cost: ``n_trials`` LPs of size P x N."""
    P = as_count(n_patterns, "n_patterns (P)", minimum=1)
    N = as_count(n_inputs, "n_inputs (N)", minimum=1)
    n = as_count(n_trials, "n_trials", minimum=1)
    kind = _check_kind(patterns)
    g = as_generator(rng)
    hits = 0
    for _ in range(n):
        X = _draw(g, P, N, kind)
        y = np.where(g.random(P) < 0.5, 1.0, -1.0)
        hits += _lp_weights(X, y) is not None
    f = hits / n
    return Estimate(float(f), float(np.sqrt(f * (1 - f) / n)), n_eff=float(n))


# ============================================================================ capacity experiment
@dataclass(frozen=True)
class PerceptronCapacityResult(Result):
    r"""Critical numbers of patterns :math:`P^*` over trials and sizes, Cover's curves and the extrapolated capacity.

    Attributes
    ----------
    n_inputs : (k,) sizes N.
    p_star : (k, n_trials) critical numbers of patterns of each trial.
    alpha_c_n, alpha_c_n_error : (k,) :math:`\alpha_c(N) = \langle P^*\rangle/N` and its standard error.
    alpha_c : Estimate — the extrapolation :math:`\alpha_c(N) = \alpha_c + a N^{-\text{exponent}}` to N -> inf.
    slope : the coefficient a.
    chi2_pvalue : (k,) p-value of the chi-square test of the P* histogram against Cover's negative-binomial law
        (bins pooled to expected counts >= 5); small values mean the patterns are not in general position.
    alphas : (a,) loads for the separable-fraction curves; fraction, fraction_error : (k, a) measured fraction
        :math:`\Pr(P^*\ge\mathrm{round}(\alpha N))` and its binomial error; cover : (k, a) Cover's exact fraction.
    patterns : "binary" (random +-1) or "gaussian"; n_trials; exponent; notes.
    """

    n_inputs: np.ndarray
    p_star: np.ndarray
    alpha_c_n: np.ndarray
    alpha_c_n_error: np.ndarray
    alpha_c: Estimate
    slope: float
    chi2_pvalue: np.ndarray
    alphas: np.ndarray
    fraction: np.ndarray
    fraction_error: np.ndarray
    cover: np.ndarray
    patterns: str
    n_trials: int
    exponent: float = 1.0
    gardner: float = GARDNER_ALPHA_C
    notes: tuple[str, ...] = ()


def cover_chi2_pvalue(p_star: Any, n_inputs: int) -> float:
    r"""p-value of Pearson's chi-square test of observed :math:`P^*` values against Cover's law
    :math:`\Pr(P^*=P)=\binom{P-1}{N-1}2^{-P}` (:math:`P\ge N`); bins are pooled from both tails until every
    expected count is at least 5 (NaN when fewer than two bins remain)."""
    from scipy.stats import chi2, nbinom

    N = as_count(n_inputs, "n_inputs (N)", minimum=1)
    raw = as_real_array(p_star, "p_star (critical numbers of patterns, one per trial)", ndim=1)
    if np.any(raw != np.round(raw)) or np.any(raw < 0):
        raise ValueError("p_star must hold non-negative integers (numbers of patterns).")
    v = raw.astype(np.int64)
    n = v.size
    # P* - N is the number of failures before the N-th success: nbinom(N, 1/2)
    lo_q, hi_q = int(nbinom.ppf(1e-9, N, 0.5)), int(nbinom.ppf(1 - 1e-9, N, 0.5))
    ks = np.arange(lo_q, hi_q + 1)
    exp = n * nbinom.pmf(ks, N, 0.5)
    obs = np.array([np.sum(v - N == k) for k in ks], dtype=np.float64)
    exp[0] += n * nbinom.cdf(lo_q - 1, N, 0.5)
    obs[0] += np.sum(v - N < lo_q)
    exp[-1] += n * nbinom.sf(hi_q, N, 0.5)
    obs[-1] += np.sum(v - N > hi_q)
    bins_e: list[float] = []
    bins_o: list[float] = []
    acc_e = acc_o = 0.0
    for e, o in zip(exp, obs, strict=True):
        acc_e += e
        acc_o += o
        if acc_e >= 5.0:
            bins_e.append(acc_e)
            bins_o.append(acc_o)
            acc_e = acc_o = 0.0
    if acc_e > 0 and bins_e:
        bins_e[-1] += acc_e
        bins_o[-1] += acc_o
    if len(bins_e) < 2:
        return float("nan")
    E, O = np.array(bins_e), np.array(bins_o)
    stat = float(np.sum((O - E) ** 2 / E))
    return float(chi2.sf(stat, len(E) - 1))


def capacity_block(config: Mapping[str, Any], key: str, params: Mapping[str, Any], seed: int) -> np.ndarray:
    """P* of ``params["n"]`` trials at size ``params["N"]``: a unit of :func:`perceptron_capacity`."""
    g = as_generator(seed)
    return np.array([critical_pattern_number(int(params["N"]), config["patterns"], g)
                     for _ in range(int(params["n"]))], dtype=np.int64)


def perceptron_capacity(
    n_inputs: Sequence[int] = (20, 40, 60, 80, 100),
    n_trials: int = 100,
    patterns: PatternKind = "binary",
    alphas: Any = None,
    exponent: float = 1.0,
    block: int = 25,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
    sweep: Mapping[str, Any] | None = None,
) -> PerceptronCapacityResult:
    r"""Gardner's capacity measured by exact LP feasibility at several sizes, with a finite-size extrapolation.

    For each size N, ``n_trials`` independent trials measure :math:`P^*` (:func:`critical_pattern_number`);
    :math:`\alpha_c(N) = \langle P^*\rangle / N` with its standard error, the separable fraction
    :math:`\Pr(P^*\ge P)` on the loads ``alphas`` beside Cover's exact :math:`C(P,N)/2^P`, and a chi-square test of
    the :math:`P^*` histogram against Cover's law. The capacities are extrapolated by weighted least squares of
    :math:`\alpha_c(N) = \alpha_c + a N^{-\text{exponent}}` (default exponent 1, spinlens's choice: in general
    position there is no finite-size correction at all; for :math:`\pm1` patterns it is exponentially small above
    N = 20) to compare with Gardner's :math:`\alpha_c = 2`.

    Parameters
    ----------
    n_inputs : three or more distinct sizes N >= 2.
    n_trials : trials per size (>= 2).
    patterns : "binary" (random +-1 entries, the default) or "gaussian".
    alphas : loads P/N for the fraction curves (default 1.0, 1.05, ..., 3.0).
    block : trials per unit of work (progress and resumption granularity of the sweep).
    sweep : runner options of :func:`spinlens.sweeps.run_sweep_with` (``run_dir``, ``executor``, ``n_workers``,
        ``scheduler``); serial in memory by default. Each unit's seed depends on the base seed and its key only.

    Cost: about ``n_trials`` x :math:`\log_2(4N)` LPs of size :math:`2N\times N` per size (N = 100: ~0.15 s per trial).
    """
    if isinstance(n_inputs, (str, bytes)) or not np.iterable(n_inputs):
        raise ValueError(f"n_inputs must be a list of sizes N (e.g. [20, 40, 60]), got {n_inputs!r}.")
    Ns = np.asarray([as_count(n, "n_inputs (each size N)", minimum=2) for n in n_inputs], dtype=np.int64)
    if np.unique(Ns).size != Ns.size or Ns.size < 3:
        raise ValueError(f"n_inputs must hold at least 3 distinct sizes N for the finite-size extrapolation, got "
                         f"{Ns.tolist()}; e.g. 20,40,60,80,100.")
    Ns = np.sort(Ns)
    n_trials = as_count(n_trials, "n_trials", minimum=2)
    kind = _check_kind(patterns)
    exponent = as_positive(exponent, "exponent")
    block = as_count(block, "block (trials per unit of work)", minimum=1)
    A = np.round(np.arange(1.0, 3.0001, 0.05), 4) if alphas is None else as_real_array(alphas, "alphas", ndim=1)
    if np.any(A <= 0):
        raise ValueError(f"alphas must be positive loads P/N, got {A.tolist()[:10]}.")
    A = np.unique(A)
    units = []
    for N in Ns:
        for j, start in enumerate(range(0, n_trials, block)):
            units.append(Unit(f"N={int(N)},block={j}", {"N": int(N), "n": min(block, n_trials - start)}))
    out = run_sweep_with(sweep, capacity_block, units, config={"patterns": kind, "n_trials": n_trials,
                                                               "block": block},
                         seed=seed_int(rng), progress=progress)
    ps = np.array([np.concatenate([np.asarray(out[u.key], dtype=np.int64) for u in units if u.params["N"] == N])
                   for N in Ns])
    acn = ps.mean(axis=1) / Ns
    acn_err = ps.std(axis=1, ddof=1) / Ns / np.sqrt(n_trials)
    pv = np.array([cover_chi2_pvalue(ps[i], int(N)) for i, N in enumerate(Ns)])
    Pgrid = np.maximum(1, np.round(A[None, :] * Ns[:, None]).astype(np.int64))
    frac = np.array([[np.mean(ps[i] >= P) for P in Pgrid[i]] for i in range(Ns.size)])
    ferr = np.sqrt(frac * (1 - frac) / n_trials)
    cov = np.array([cover_fraction(Pgrid[i], int(N)) for i, N in enumerate(Ns)])
    notes: list[str] = []
    bad = [int(N) for N, p in zip(Ns, pv, strict=True) if np.isfinite(p) and p < 1e-3]
    if bad:
        notes.append(f"the P* histogram departs from Cover's law (chi-square p < 1e-3) at N = {bad}: random "
                     f"{kind} patterns there are not in general position (coinciding or opposite patterns); "
                     "use larger N or patterns='gaussian'.")
    est, slope = extrapolate_alpha_c(Ns, acn, np.maximum(acn_err, 1e-12), exponent=exponent)
    return PerceptronCapacityResult(Ns, ps, acn, acn_err, est, float(slope), pv, A, frac, ferr, cov, kind,
                                    int(n_trials), float(exponent), GARDNER_ALPHA_C, tuple(notes))


def perceptron_capacity_figure(result: PerceptronCapacityResult) -> Any:
    r"""Two panels: measured separable fraction vs :math:`\alpha = P/N` with Cover's exact curves; and
    :math:`\alpha_c(N)` vs :math:`N^{-\text{exponent}}` with the extrapolation and Gardner's 2."""
    from spinlens.report import new_figure

    if not isinstance(result, PerceptronCapacityResult):
        raise TypeError(f"result must be the PerceptronCapacityResult of perceptron_capacity(), got "
                        f"{type(result).__name__}.")
    fig, (ax1, ax2) = new_figure(1, 2, size=(10, 3.8))
    for i, N in enumerate(result.n_inputs):
        col = f"C{i % 10}"
        ax1.errorbar(result.alphas, result.fraction[i], yerr=result.fraction_error[i], fmt="o", ms=3, capsize=2,
                     color=col, label=f"N = {N} (LP)")
        ax1.plot(result.alphas, result.cover[i], "-", color=col, lw=1)
    ax1.plot([], [], "k-", lw=1, label=r"Cover $C(P,N)/2^P$")
    ax1.axvline(result.gardner, color="k", ls="--", lw=1, label=r"Gardner $\alpha_c = 2$")
    ax1.set(xlabel=r"load $\alpha = P/N$", ylabel="fraction separable",
            title=f"perceptron capacity ({result.patterns} patterns)")
    ax1.legend(frameon=False, fontsize=8)
    ax1.grid(alpha=0.3)
    x = result.n_inputs.astype(float) ** -result.exponent
    ax2.errorbar(x, result.alpha_c_n, yerr=result.alpha_c_n_error, fmt="o", capsize=2,
                 label=r"$\alpha_c(N) = \langle P^*\rangle/N$")
    xx = np.linspace(0, x.max() * 1.1, 50)
    ax2.plot(xx, result.alpha_c.mean + result.slope * xx, "C1-",
             label=rf"fit: $\alpha_c$ = {result.alpha_c.mean:.3f} ± {result.alpha_c.error:.3f}")
    ax2.errorbar([0.0], [result.alpha_c.mean], yerr=[result.alpha_c.error], fmt="s", color="C1", capsize=3, ms=5,
                 clip_on=False)
    ax2.axhline(result.gardner, color="k", ls="--", lw=1, label="Gardner 2")
    ax2.set(xlabel=rf"$N^{{-{result.exponent:g}}}$", ylabel=r"$\alpha_c(N)$", title="finite-size extrapolation")
    ax2.set_xlim(0, x.max() * 1.1)
    ax2.legend(frameon=False, fontsize=8)
    ax2.grid(alpha=0.3)
    return fig
