r"""Mean-field signal propagation through deep random networks (Poole et al. 2016; Schoenholz et al. 2017).

A fully connected network with weights :math:`W_{ij}\sim\mathcal N(0,\sigma_w^2/N)` and biases
:math:`b_i\sim\mathcal N(0,\sigma_b^2)` propagates the squared length :math:`q` of the pre-activations and
the correlation :math:`c` between two inputs by deterministic maps at infinite width:

.. math::

    q^{l+1} = \sigma_w^2\,\mathbb E_z[\phi(\sqrt{q^l} z)^2] + \sigma_b^2, \qquad
    c^{l+1} = \frac{\sigma_w^2\,\mathbb E[\phi(u_1)\phi(u_2)] + \sigma_b^2}{q^{l+1}},

with :math:`u_1=\sqrt q z_1`, :math:`u_2=\sqrt q (c z_1+\sqrt{1-c^2} z_2)`, :math:`z_i` standard normal.
At the fixed point :math:`(q^*, c^*)`:

* :math:`\chi_1 = \sigma_w^2\,\mathbb E[\phi'(\sqrt{q^*}z)^2]`; ordered phase :math:`\chi_1<1` (c* = 1
  stable), chaotic phase :math:`\chi_1>1` (c* < 1); the critical line is :math:`\chi_1=1`.
* :math:`\xi_q^{-1} = -\ln\chi_\parallel`, :math:`\chi_\parallel = \chi_1+\sigma_w^2\mathbb E[\phi''\phi]
  = \partial q^{l+1}/\partial q^l` (computed as :math:`\sigma_w^2\mathbb E[z\,\phi\phi'(\sqrt q z)]/\sqrt q`
  by Stein's lemma, which needs no second derivative and is exact for kinked activations).
* :math:`\xi_c^{-1} = -\ln[\sigma_w^2\,\mathbb E(\phi'(u_1)\phi'(u_2))]` at :math:`c^*`; it diverges at
  :math:`\chi_1=1` with :math:`\xi_c|\chi_1-1|\to1`. Trainable depth is about :math:`6\xi_c`.

Expectations use probabilists' Gauss–Hermite quadrature (weights normalised to sum to one): one
dimension for the length map, a product rule in two dimensions for the correlation map.
Closed forms for ``erf`` and ``relu`` (:func:`erf_maps`, :func:`relu_maps`) serve as checks.

:func:`phase_diagram` is vectorised over the whole :math:`(\sigma_w^2,\sigma_b^2)` grid: the length-map
root is bracketed from one shared table of :math:`\mathbb E[\phi(\sqrt q z)^2]` (it does not depend on the
σ's) and polished by safeguarded Newton steps; in the chaotic phase the correlation map is the Mehler
(Hermite) series :math:`\mathbb E[\phi(u_1)\phi(u_2)] = \sum_k a_k(q)^2 c^k` with
:math:`a_k(q)=\mathbb E[\phi(\sqrt q z)\,He_k(z)]/\sqrt{k!}`, a polynomial whose root is found for every grid
point at once.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq

from spinlens.criticality.activations import Activation, get_activation
from spinlens.results import Result
from spinlens.spins.model import as_count, as_positive, as_real, as_real_array

__all__ = [
    "DepthScaleCut",
    "FixedPoint",
    "PhaseDiagram",
    "length_map",
    "correlation_map",
    "chi_1",
    "fixed_point",
    "critical_sigma_w2",
    "critical_line",
    "phase_diagram",
    "depth_scale_cut",
    "iterate_maps",
    "erf_maps",
    "relu_maps",
    "gauss_hermite",
]

N_QUAD = 100  # 1-D nodes (even: ReLU's kink at 0 falls between nodes, so E[relu'^2] = 1/2 exactly)
N_QUAD_2D = 128  # nodes per dimension for the correlation map (sharp phi' at large q needs many)
N_MEHLER = 80  # Hermite terms of the Mehler series in the vectorised phase diagram
_Q_TABLE = np.concatenate([[0.0], np.logspace(-10.0, 8.0, 361)])
_Q_MAX = float(_Q_TABLE[-1])


@functools.lru_cache(maxsize=16)
def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Probabilists' Gauss–Hermite nodes and weights normalised so that :math:`\sum_i w_i f(z_i) \approx
    \mathbb E_{z\sim\mathcal N(0,1)} f(z)` (exact for polynomials of degree :math:`\le 2n-1`)."""
    z, w = np.polynomial.hermite_e.hermegauss(int(n))
    w = w / w.sum()
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


def _check_finite(values: np.ndarray, act: Activation, what: str) -> None:
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"activation {act.name!r} returned NaN or inf on the Gauss–Hermite quadrature grid ({what}); "
            "it must be finite for all real inputs of the size reached (|x| up to ~14 sqrt(q)). "
            "Clip or rescale the activation."
        )


# ------------------------------------------------------------------------------------- validation
# The public functions check their arguments here, once, before any quadrature: a bad value is a
# ValueError that names the argument, never a NaN, a silently broadcast array or a numpy error.
_SW = "sigma_w2 (the weight variance sigma_w^2)"
_SB = "sigma_b2 (the bias variance sigma_b^2)"


def _one_number(value: Any, name: str, grid_hint: str) -> None:
    if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim > 0):
        raise ValueError(f"{name} must be one number, got {type(value).__name__} of length {len(value)}"
                         f"{'; ' + grid_hint if grid_hint else ''}.")


def _scalar_sigmas(sigma_w2: Any, sigma_b2: Any, grid_hint: str = "use phase_diagram for grids"
                   ) -> tuple[float, float]:
    """One weight variance > 0 and one bias variance >= 0, as floats (bools, NaN, inf, lists refused)."""
    _one_number(sigma_w2, _SW, grid_hint)
    _one_number(sigma_b2, _SB, grid_hint)
    return as_positive(sigma_w2, _SW), as_real(sigma_b2, _SB, low=0.0)


def _positive_array(value: Any, name: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """A non-empty finite real array with every entry > 0."""
    A = as_real_array(value, name, ndim=ndim)
    if np.any(A <= 0):
        raise ValueError(f"{name} must be > 0 everywhere, got {A.min():g}.")
    return A


def _nonnegative_array(value: Any, name: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """A non-empty finite real array with every entry >= 0."""
    A = as_real_array(value, name, ndim=ndim)
    if np.any(A < 0):
        raise ValueError(f"{name} must be >= 0 everywhere, got {A.min():g}.")
    return A


def _correlations(value: Any, name: str = "c") -> np.ndarray:
    """Correlations in [-1, 1] (any shape; 1e-12 of round-off tolerated and clipped)."""
    C = as_real_array(value, f"{name} (a correlation)")
    if np.any(np.abs(C) > 1 + 1e-12):
        raise ValueError(f"{name} (a correlation) must lie in [-1, 1], got {C.flat[np.argmax(np.abs(C))]:g}.")
    return np.clip(C, -1.0, 1.0)


def _n_quad(value: Any, name: str = "n_quad") -> int:
    return as_count(value, f"{name} (Gauss–Hermite nodes)", minimum=2)


def _q0(value: Any) -> float:
    return as_positive(value, "q0 (the starting squared length, > 0: q = 0 is no signal)")


def _gmean(f: Any, q: np.ndarray, act: Activation, n: int, what: str) -> np.ndarray:
    """E[f(sqrt(q) z)] for an array of q (broadcast over a trailing node axis)."""
    z, w = gauss_hermite(n)
    vals = f(np.sqrt(np.maximum(q, 0.0))[..., None] * z)
    _check_finite(vals, act, what)
    return vals @ w


def _second_moment(act: Activation, q: np.ndarray, n: int = N_QUAD) -> np.ndarray:
    if act.moments is not None:
        return act.moments(np.asarray(q, dtype=np.float64))[0]
    return _gmean(lambda u: act.fn(u) ** 2, q, act, n, "length map")


def _dphi2(act: Activation, q: np.ndarray, n: int = N_QUAD) -> np.ndarray:
    if act.moments is not None:
        return act.moments(np.asarray(q, dtype=np.float64))[1]
    # the q -> 0+ limit at q = 0 (relu: 1/2, not relu'(0)^2 = 1/4)
    return _gmean(lambda u: act.d1(u) ** 2, np.maximum(q, 1e-300), act, n, "derivative")


def _dsecond_moment_dq(act: Activation, q: np.ndarray, n: int = N_QUAD) -> np.ndarray:
    r"""d/dq E[phi(sqrt q z)^2] = E[z phi phi'(sqrt q z)]/sqrt q (Stein); E[phi'^2+phi phi''] at q = 0."""
    if act.moments is not None:
        return act.moments(np.asarray(q, dtype=np.float64))[2]
    z, w = gauss_hermite(n)
    q = np.asarray(q, dtype=np.float64)
    sq = np.sqrt(np.maximum(q, 0.0))[..., None]
    u = sq * z
    small = (sq[..., 0] < 1e-7)
    safe = np.where(small[..., None], 1.0, sq)
    vals = (act.fn(u) * act.d1(u) * z) / safe
    _check_finite(vals, act, "derivative of the length map")
    out = np.asarray(vals @ w)
    if np.any(small):
        zero = np.zeros(1)
        at0 = float((act.d1(zero) ** 2 + act.fn(zero) * act.d2(zero))[0])
        out = np.where(small, at0, out)
    return out


# ---------------------------------------------------------------------------------------------- maps
def length_map(
    activation: Any, q: Any, sigma_w2: float, sigma_b2: float, n_quad: int = N_QUAD
) -> np.ndarray:
    r"""The length map :math:`q \mapsto \sigma_w^2\,\mathbb E_z[\phi(\sqrt q z)^2] + \sigma_b^2`.

    ``q`` : any shape, finite and >= 0 (q = 0, the zero input, maps to :math:`\sigma_w^2\phi(0)^2+\sigma_b^2`);
    ``sigma_w2 > 0`` and ``sigma_b2 >= 0`` are single numbers."""
    act = get_activation(activation)
    sw, sb = _scalar_sigmas(sigma_w2, sigma_b2, "")
    q = _nonnegative_array(q, "q (squared length per neuron)")
    return sw * _second_moment(act, q, _n_quad(n_quad)) + sb


def _pair_expectation(f: Any, g: Any, q: np.ndarray, c: np.ndarray, act: Activation, n: int) -> np.ndarray:
    z, w = gauss_hermite(n)
    q, c = np.broadcast_arrays(np.asarray(q, float), np.asarray(c, float))
    sq = np.sqrt(q)[..., None, None]
    cc = c[..., None, None]
    s = np.sqrt(np.clip(1.0 - cc * cc, 0.0, None))
    z1, z2 = z[:, None], z[None, :]
    u1 = sq * z1
    u2 = sq * (cc * z1 + s * z2)
    vals = f(u1) * g(u2)
    _check_finite(vals, act, "correlation map")
    return np.einsum("...ij,i,j->...", vals, w, w)


def correlation_map(
    activation: Any, q: Any, c: Any, sigma_w2: float, sigma_b2: float, n_quad: int = N_QUAD_2D
) -> np.ndarray:
    r"""The correlation map for two inputs of equal length :math:`q`:
    :math:`c \mapsto [\sigma_w^2\,\mathbb E\phi(u_1)\phi(u_2) + \sigma_b^2]/q'` with :math:`q'` the image of q
    under the length map (so that at :math:`q = q^*` it is Poole et al.'s c-map). 2-D Gauss–Hermite.

    ``q > 0`` and ``c`` in [-1, 1] broadcast (any shapes); ``sigma_w2 > 0`` and ``sigma_b2 >= 0`` are single
    numbers."""
    act = get_activation(activation)
    sw, sb = _scalar_sigmas(sigma_w2, sigma_b2, "")
    q = _positive_array(q, "q (squared length per neuron; q = 0 has no correlation)")
    c = _correlations(c)
    n_quad = _n_quad(n_quad)
    if act.pair_kernel is not None:  # closed form (sign: quadrature cannot resolve the jump)
        num = sw * act.pair_kernel(q, c) + sb
    else:
        num = sw * _pair_expectation(act.fn, act.fn, q, c, act, n_quad) + sb
    # same nodes for the normaliser, so that c = 1 maps exactly to 1 (needed near the critical line)
    return num / (sw * _second_moment(act, q, n_quad) + sb)


def _closed_form_args(q: Any, c: Any, sigma_w2: Any, sigma_b2: Any) -> tuple[np.ndarray, ...]:
    out = (_positive_array(q, "q (squared length per neuron; q = 0 has no correlation)"), _correlations(c),
           _positive_array(sigma_w2, _SW), _nonnegative_array(sigma_b2, _SB))
    try:
        np.broadcast_shapes(*(a.shape for a in out))
    except ValueError:
        raise ValueError("q, c, sigma_w2 and sigma_b2 must broadcast together, got shapes "
                         f"{[a.shape for a in out]}.") from None
    return out


def erf_maps(q: Any, c: Any, sigma_w2: Any, sigma_b2: Any) -> tuple[np.ndarray, np.ndarray]:
    r"""Closed forms for :math:`\phi=\mathrm{erf}`: :math:`q' = \sigma_w^2 (2/\pi)\arcsin(2q/(1+2q)) + \sigma_b^2`,
    :math:`c' = [\sigma_w^2 (2/\pi)\arcsin(2qc/(1+2q)) + \sigma_b^2]/q'` (Williams 1997).

    Elementwise: ``q > 0``, ``c`` in [-1, 1], ``sigma_w2 > 0``, ``sigma_b2 >= 0`` broadcast together."""
    q, c, sigma_w2, sigma_b2 = _closed_form_args(q, c, sigma_w2, sigma_b2)
    qn = sigma_w2 * (2 / np.pi) * np.arcsin(2 * q / (1 + 2 * q)) + sigma_b2
    cn = (sigma_w2 * (2 / np.pi) * np.arcsin(2 * q * c / (1 + 2 * q)) + sigma_b2) / qn
    return qn, cn


def relu_maps(q: Any, c: Any, sigma_w2: Any, sigma_b2: Any) -> tuple[np.ndarray, np.ndarray]:
    r"""Closed forms for ReLU (arc-cosine kernel, Cho & Saul 2009): :math:`q' = \sigma_w^2 q/2 + \sigma_b^2`,
    :math:`c' = [\sigma_w^2 \tfrac{q}{2\pi}(\sin\theta + (\pi-\theta)\cos\theta) + \sigma_b^2]/q'`,
    :math:`\theta=\arccos c`. Elementwise, arguments as in :func:`erf_maps`."""
    q, c, sigma_w2, sigma_b2 = _closed_form_args(q, c, sigma_w2, sigma_b2)
    th = np.arccos(c)
    qn = sigma_w2 * q / 2 + sigma_b2
    cn = (sigma_w2 * q / (2 * np.pi) * (np.sin(th) + (np.pi - th) * np.cos(th)) + sigma_b2) / qn
    return qn, cn


def iterate_maps(
    activation: Any, sigma_w2: float, sigma_b2: float, q0: float, c0: float, depth: int, n_quad: int = N_QUAD
) -> tuple[np.ndarray, np.ndarray]:
    r"""Iterate the length and correlation maps ``depth`` times from the first-layer values
    :math:`(q^1, c^1)` (pass :math:`q^1=\sigma_w^2 q_\text{in}+\sigma_b^2` for a network input of
    squared length per unit :math:`q_\text{in}`). Returns arrays :math:`q^l, c^l`, shape ``(depth,)``, l = 1..depth.
    The correlation map here uses the two (equal) lengths of the current layer."""
    act = get_activation(activation)
    sigma_w2, sigma_b2 = _scalar_sigmas(sigma_w2, sigma_b2, "")
    q = as_positive(q0, "q0 (the first-layer squared length)")
    c = as_real(c0, "c0 (the first-layer correlation)", low=-1.0, high=1.0)
    depth = as_count(depth, "depth", minimum=1)
    n_quad = _n_quad(n_quad)
    qs, cs = np.empty(depth), np.empty(depth)
    for i in range(depth):
        qs[i], cs[i] = q, c
        if i + 1 < depth:
            c = float(correlation_map(act, q, c, sigma_w2, sigma_b2))
            q = float(length_map(act, q, sigma_w2, sigma_b2, n_quad))
    return qs, cs


# ---------------------------------------------------------------------------------------- q* solver
def _solve_q_star(act: Activation, sw: np.ndarray, sb: np.ndarray, q0: float, n: int = N_QUAD) -> np.ndarray:
    """Vectorised fixed point of the length map reached by iterating from q0 (inf when q diverges)."""
    sw, sb = np.broadcast_arrays(sw, sb)
    shape = sw.shape
    sw, sb = sw.ravel(), sb.ravel()
    V = _second_moment(act, _Q_TABLE, n)
    F = sw[:, None] * V[None, :] + sb[:, None] - _Q_TABLE[None, :]
    F0 = sw * float(_second_moment(act, np.array(q0), n)) + sb - q0
    out = np.full(sw.shape, np.nan)
    lo = np.zeros_like(sw)
    hi = np.zeros_like(sw)
    tol0 = 1e-12 * max(1.0, q0)
    at_q0 = np.abs(F0) <= tol0
    out[at_q0] = q0
    above = _Q_TABLE[None, :] > q0
    below = _Q_TABLE[None, :] < q0
    # root above q0: first table index above q0 with F <= 0
    up = (F0 > tol0)
    cand = above & (F <= 0)
    has = cand.any(axis=1)
    j = np.argmax(cand, axis=1)
    div = up & ~has
    out[div] = np.inf
    m = up & has
    lo[m] = np.maximum(_Q_TABLE[np.maximum(j[m] - 1, 0)], q0)
    hi[m] = _Q_TABLE[j[m]]
    # root below q0: last table index below q0 with F >= 0 (F(0) >= 0 always)
    dn = (F0 < -tol0)
    cand = below & (F >= 0)
    jl = cand.shape[1] - 1 - np.argmax(cand[:, ::-1], axis=1)
    lo[dn] = _Q_TABLE[jl[dn]]
    hi[dn] = np.minimum(_Q_TABLE[np.minimum(jl[dn] + 1, len(_Q_TABLE) - 1)], q0)
    todo = np.flatnonzero(np.isnan(out))
    if todo.size:
        out[todo] = _polish(act, sw[todo], sb[todo], lo[todo], hi[todo], n)
    return out.reshape(shape)


def _moment_and_slope(act: Activation, q: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """E[phi(sqrt q z)^2] and its q-derivative (Stein) from one evaluation of phi and phi' (q > 0)."""
    if act.moments is not None:
        m = act.moments(q)
        return m[0], m[2]
    z, w = gauss_hermite(n)
    sq = np.sqrt(q)[:, None]
    f = act.fn(sq * z)
    g = f * act.d1(sq * z)
    _check_finite(g, act, "length map")
    small = sq[:, 0] < 1e-7
    dV = (g @ (w * z)) / np.where(small, 1.0, sq[:, 0])
    if np.any(small):
        dV = np.where(small, _dsecond_moment_dq(act, q, n), dV)
    return (f * f) @ w, dV


def _polish(act: Activation, sw: np.ndarray, sb: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    """Safeguarded Newton on F(q) = sw V(q) + sb - q inside brackets with F(lo) >= 0 >= F(hi)."""
    Flo = sw * _second_moment(act, lo, n) + sb - lo
    Fhi = sw * _second_moment(act, hi, n) + sb - hi
    denom = Flo - Fhi
    x = np.where(denom > 0, lo + (hi - lo) * Flo / np.where(denom > 0, denom, 1.0), 0.5 * (lo + hi))
    active = np.ones(x.shape, bool)
    for _ in range(60):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        xi = x[idx]
        V, dV = _moment_and_slope(act, xi, n)
        F = sw[idx] * V + sb[idx] - xi
        dF = sw[idx] * dV - 1.0
        pos = F >= 0
        lo[idx] = np.where(pos, xi, lo[idx])
        hi[idx] = np.where(pos, hi[idx], xi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = xi - F / dF
        bad = ~np.isfinite(step) | (step <= lo[idx]) | (step >= hi[idx])
        root = np.abs(F) <= 1e-14 * xi  # relative: q* may be tiny
        # at an exact root (F = 0: the secant start is exact for linear maps, relu) keep it; the bracket
        # update has set lo = xi there, which would otherwise reject the step and bisect away from the root
        new = np.where(root, xi, np.where(bad, 0.5 * (lo[idx] + hi[idx]), step))
        done = root | (np.abs(new - xi) <= 1e-12 * xi)
        x[idx] = new
        active[idx[done]] = False
    return x


# ------------------------------------------------------------------------------------- fixed point
@dataclass(frozen=True)
class FixedPoint(Result):
    r"""Fixed point of the mean-field maps and its depth scales.

    ``q_star`` is ``inf`` when the length map diverges (unbounded activation in its divergent phase); then
    ``chi_1`` is its large-q limit and the depth scales are NaN. ``chi_c`` is the slope of the correlation map
    at ``c_star`` (equals ``chi_1`` in the ordered phase). ``phase`` is ``ordered``, ``chaotic``, ``critical``
    (|chi_1 - 1| < 1e-12) or ``divergent``.
    """

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float
    c_star: float
    chi_1: float
    chi_parallel: float
    chi_c: float
    xi_q: float
    xi_c: float
    phase: str


def _kinked(act: Activation) -> bool:
    """True when phi' jumps somewhere on [-6, 6] (relu, hard-tanh, sign, kinked callables)."""
    x = np.linspace(-6.0, 6.0, 4801)
    d = np.abs(np.diff(act.d1(x)))
    return bool(np.max(d) > 0.05)


def _xi(chi: float | np.ndarray) -> Any:
    chi = np.asarray(chi, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((chi > 0) & (chi < 1), -1.0 / np.log(np.where(chi > 0, chi, 1.0)),
                       np.where(chi == 0, 0.0, np.inf))
    return out


def _chi1_at(act: Activation, sw: np.ndarray, q: np.ndarray, n: int = N_QUAD) -> np.ndarray:
    if act.chi1_infinite:
        return np.full(np.shape(q), np.inf)
    qe = np.where(np.isfinite(q), q, _Q_MAX)
    return sw * _dphi2(act, qe, n)


def chi_1(activation: Any, sigma_w2: float, sigma_b2: float, q0: float = 1.0) -> float:
    r""":math:`\chi_1 = \sigma_w^2\,\mathbb E[\phi'(\sqrt{q^*}z)^2]` at the length-map fixed point."""
    return fixed_point(activation, sigma_w2, sigma_b2, q0=q0).chi_1


def fixed_point(
    activation: Any,
    sigma_w2: float,
    sigma_b2: float,
    q0: float = 1.0,
    n_quad: int = N_QUAD,
    n_quad_2d: int = N_QUAD_2D,
) -> FixedPoint:
    r"""Fixed point :math:`(q^*, c^*)`, :math:`\chi_1`, :math:`\chi_\parallel`, :math:`\xi_q`, :math:`\xi_c`.

    Parameters
    ----------
    activation : a name (``"tanh"``, ``"erf"``, ``"relu"``, ...) or an elementwise NumPy/torch callable.
    sigma_w2, sigma_b2 : weight variance :math:`\sigma_w^2 > 0` and bias variance :math:`\sigma_b^2 \ge 0`.
    q0 : the length (> 0) the iteration starts from; ``q*`` is the fixed point reached from it (relevant only
        when the length map has several, e.g. ``q = 0`` and ``q > 0`` for tanh at :math:`\sigma_b=0`).
    n_quad, n_quad_2d : Gauss–Hermite nodes (>= 2) of the 1-D and 2-D (per dimension) quadratures.

    Notes
    -----
    :math:`\xi_q = -1/\ln\chi_\parallel`, :math:`\xi_c = -1/\ln\chi_c` with :math:`\chi_c = \sigma_w^2
    \mathbb E[\phi'(u_1)\phi'(u_2)]` at :math:`c^*` (Schoenholz et al. 2017, eqs. 7–9). In the chaotic phase
    :math:`c^*<1` solves :math:`c = \mathcal C(c)` (Brent's method on the 2-D quadrature).
    """
    act = get_activation(activation)
    sw, sb = _scalar_sigmas(sigma_w2, sigma_b2)
    q0 = _q0(q0)
    n_quad, n_quad_2d = _n_quad(n_quad), _n_quad(n_quad_2d, "n_quad_2d")
    sw_a, sb_a = np.asarray(sw), np.asarray(sb)
    q = float(_solve_q_star(act, sw_a, sb_a, q0, n_quad))
    chi1 = float(_chi1_at(act, sw_a, np.asarray(q), n_quad))
    if not np.isfinite(q):
        return FixedPoint(act.name, sw, sb, q, float("nan"), chi1, float("nan"), float("nan"),
                          float("nan"), float("nan"), "divergent")
    chi_par = float(sw * _dsecond_moment_dq(act, np.asarray(q), n_quad))
    xi_q = float(_xi(chi_par))
    if chi1 < 1.0 - 1e-12 or q == 0.0:
        phase = "ordered" if chi1 < 1.0 - 1e-12 else "critical"
        c_star, chi_c = 1.0, chi1
    elif chi1 <= 1.0 + 1e-12:
        phase, c_star, chi_c = "critical", 1.0, chi1
    else:
        phase = "chaotic"

        if act.pair_kernel is None and _kinked(act):
            # product Gauss–Hermite cannot resolve kinks (c* off by ~2% for hard-tanh): Mehler series with
            # Hermite coefficients from the dense trapezoid rule, as in phase_diagram, with more terms
            b2 = _mehler_coefficients(act, np.array([q]), n_quad, 4 * N_MEHLER, n_dense=40001, dense=True)
            cs, slope = _mehler_c_star(b2, np.array([sw]), np.array([sb]))
            c_star, chi_c = float(cs[0]), float(slope[0])
        else:
            c_star = _c_star_brent(act, q, sw, sb, n_quad_2d)
            if act.chi1_infinite:  # slope of the closed-form map whose root is c*
                d = 1e-6
                cp, cm = min(c_star + d, 1.0), max(c_star - d, -1.0)
                chi_c = float((correlation_map(act, q, cp, sw, sb, n_quad_2d)
                               - correlation_map(act, q, cm, sw, sb, n_quad_2d)) / (cp - cm))
            else:
                chi_c = float(sw * _pair_expectation(act.d1, act.d1, np.asarray(q), np.asarray(c_star), act,
                                                     n_quad_2d))
    xi_c = float(_xi(chi_c)) if phase != "critical" else float("inf")
    return FixedPoint(act.name, sw, sb, q, c_star, chi1, chi_par, chi_c, xi_q, xi_c, phase)


def _c_star_brent(act: Activation, q: float, sw: float, sb: float, n_quad_2d: int) -> float:
    """Chaotic-phase root of C(c) = c below 1 by Brent's method on the 2-D quadrature (or closed form)."""

    def h(c: float) -> float:
        # (C(c) - c)/(1 - c): removes the trivial root c = 1; h(1-) = 1 - chi_1 < 0 <= h(0)
        return (float(correlation_map(act, q, c, sw, sb, n_quad_2d)) - c) / (1.0 - c)

    h0 = h(0.0)
    if h0 <= 0.0:
        return 0.0 if h0 == 0.0 else float(brentq(h, -1.0 + 1e-9, 0.0, xtol=1e-15))
    # upper bracket: h(1-) = 1 - chi_1 < 0 analytically; step away from c = 1 until the quadrature shows it
    hi = next((1.0 - d for d in (1e-9, 1e-7, 1e-5, 1e-3, 1e-2, 0.05, 0.1, 0.2, 0.4, 0.7) if h(1.0 - d) < 0.0),
              None)
    if hi is None:
        raise ValueError(f"could not bracket the chaotic fixed point c* for {act.name!r} at sigma_w2={sw}, "
                         f"sigma_b2={sb}; use phase_diagram (Mehler series) instead.")
    return float(brentq(h, 0.0, hi, xtol=1e-15, rtol=1e-15))


# --------------------------------------------------------------------------------- critical line
def critical_line(
    activation: Any, sigma_b2: Any, q0: float = 1.0, sigma_w2_max: float = 1e3, n_quad: int = N_QUAD
) -> np.ndarray:
    r"""Critical :math:`\sigma_w^2` (where :math:`\chi_1 = 1`) for each :math:`\sigma_b^2` in an array;
    vectorised Illinois regula falsi after a bracketing scan; NaN where no crossing below ``sigma_w2_max``."""
    act = get_activation(activation)
    sb = np.atleast_1d(_nonnegative_array(sigma_b2, _SB, ndim=(0, 1)))
    q0 = _q0(q0)
    sigma_w2_max = as_real(sigma_w2_max, "sigma_w2_max", low=1e-3, low_open=True)
    n_quad = _n_quad(n_quad)
    if act.chi1_infinite:
        return np.full(sb.shape, np.nan)
    out = np.full(sb.shape, np.nan)
    zero = np.zeros(1)
    if abs(float(act.fn(zero)[0])) < 1e-300:
        # sigma_b2 = 0 and phi(0) = 0: q = 0 is a fixed point and chi_1 = 1 - O(eps^2) on the q* > 0 branch,
        # so the line is defined by continuity (sigma_b2 -> 0): the point where q = 0 loses stability.
        at0 = sb == 0.0
        out[at0] = 1.0 / float(_dphi2(act, np.array(1e-14), n_quad))
    else:
        at0 = np.zeros(sb.shape, bool)
    grid = np.logspace(-3.0, np.log10(sigma_w2_max), 64)
    SW, SB = np.meshgrid(grid, sb)
    Q = _solve_q_star(act, SW, SB, q0, n_quad)
    X = _chi1_at(act, SW, Q, n_quad) - 1.0
    cross = X >= 0
    has = cross.any(axis=1) & ~cross[:, 0] & ~at0
    j = np.argmax(cross, axis=1)
    idx = np.flatnonzero(has)
    jj = j[idx]
    lo, hi, sbi = grid[jj - 1], grid[jj], sb[idx]
    Xlo, Xhi = X[idx, jj - 1], X[idx, jj]  # Xlo < 0 <= Xhi
    x = hi.copy()
    last = np.zeros(idx.shape, np.int8)  # side replaced last time (+1 hi, -1 lo), for the Illinois rule
    act_ = np.arange(idx.size)
    for _ in range(100):  # Illinois regula falsi: superlinear, never leaves the bracket
        if act_.size == 0:
            break
        a, b, Xa, Xb = lo[act_], hi[act_], Xlo[act_], Xhi[act_]
        xs = (a * Xb - b * Xa) / (Xb - Xa)
        xs = np.where(np.isfinite(xs) & (xs > a) & (xs < b), xs, 0.5 * (a + b))
        Xs = _chi1_at(act, xs, _solve_q_star(act, xs, sbi[act_], q0, n_quad), n_quad) - 1.0
        x[act_] = xs
        pos = Xs >= 0
        hi[act_], Xhi[act_] = np.where(pos, xs, b), np.where(pos, Xs, Xb)
        lo[act_], Xlo[act_] = np.where(pos, a, xs), np.where(pos, Xa, Xs)
        Xlo[act_] = np.where(pos & (last[act_] == 1), 0.5 * Xlo[act_], Xlo[act_])
        Xhi[act_] = np.where(~pos & (last[act_] == -1), 0.5 * Xhi[act_], Xhi[act_])
        last[act_] = np.where(pos, 1, -1)
        done = (np.abs(Xs) <= 1e-15) | (hi[act_] - lo[act_] <= 1e-13 * hi[act_])
        act_ = act_[~done]
    out[idx] = x
    return out


def critical_sigma_w2(activation: Any, sigma_b2: float = 0.0, q0: float = 1.0) -> float:
    r"""The weight variance on the order-to-chaos line, :math:`\chi_1(\sigma_w^2, \sigma_b^2) = 1`.

    Raises ``ValueError`` when :math:`\chi_1 < 1` for every :math:`\sigma_w^2 \le 10^3` (or for ``sign``,
    which is chaotic everywhere)."""
    act = get_activation(activation)
    _one_number(sigma_b2, _SB, "use critical_line for several")
    sigma_b2 = as_real(sigma_b2, _SB, low=0.0)
    q0 = _q0(q0)
    if act.chi1_infinite:
        raise ValueError(f"activation {act.name!r} has chi_1 = inf (discontinuous): it is chaotic for every sigma_w2.")
    val = float(critical_line(act, np.array([sigma_b2]), q0=q0)[0])
    if not np.isfinite(val):
        raise ValueError(f"no order-to-chaos transition found for {act.name!r} at sigma_b2={sigma_b2} "
                         "with sigma_w2 in (1e-3, 1e3].")
    return val


# --------------------------------------------------------------------------------- phase diagram
@dataclass(frozen=True)
class PhaseDiagram(Result):
    r"""Order/chaos phase diagram on a grid; 2-D arrays are indexed ``[i_b, i_w]`` (rows: sigma_b2).

    ``critical`` holds the critical :math:`\sigma_w^2` for each row's :math:`\sigma_b^2` (NaN: none)."""

    activation: str
    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    q_star: np.ndarray
    c_star: np.ndarray
    chi_1: np.ndarray
    chi_parallel: np.ndarray
    chi_c: np.ndarray
    xi_q: np.ndarray
    xi_c: np.ndarray
    critical: np.ndarray


@functools.lru_cache(maxsize=4)
def dense_rule(n: int, half_width: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """Trapezoid rule for E_z[f(z)] on [-12, 12]: O(h^2) for kinked f, where Gauss–Hermite stalls."""
    z = np.linspace(-half_width, half_width, n)
    w = np.exp(-0.5 * z * z)
    w /= w.sum()
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


@functools.lru_cache(maxsize=8)
def _hermite_table(n: int, K: int, dense: bool = False) -> np.ndarray:
    """w_i * He_k(z_i)/sqrt(k!) at the nodes, shape (n, K) (``dense``: the n-point trapezoid rule); cached,
    read-only."""
    z, w = dense_rule(n) if dense else gauss_hermite(n)
    n = len(z)
    H = np.empty((n, K))
    H[:, 0] = 1.0
    if K > 1:
        H[:, 1] = z
    for k in range(1, K - 1):
        H[:, k + 1] = (z * H[:, k] - math.sqrt(k) * H[:, k - 1]) / math.sqrt(k + 1)
    H *= w[:, None]
    H.setflags(write=False)
    return H


def _mehler_coefficients(act: Activation, q: np.ndarray, n_quad: int, K: int, n_dense: int = 4801,
                         dense: bool | None = None) -> np.ndarray:
    r"""Squared normalised Hermite coefficients :math:`a_k(q)^2`, k < K, shape ``(len(q), K)``.

    Gauss–Hermite nodes for smooth activations, the n_dense-point trapezoid rule for kinked ones (error
    ~0.2/n_dense^2: hard-tanh c* to 1e-5 with 4801 points). Parseval,
    :math:`\sum_k a_k^2=\mathbb E\phi^2`: the truncated tail (slow for kinked or discontinuous phi, e.g.
    sign: :math:`a_k^2\sim k^{-3/2}`) goes into the last coefficient, so that C(1) = 1 stays exact while C(c)
    at c* < 1 is off only by tail * c^(K-1). ``dense``: whether ``act`` is kinked, when the caller knows."""
    dense = _kinked(act) if dense is None else dense
    z = dense_rule(n_dense)[0] if dense else gauss_hermite(n_quad)[0]
    vals = act.fn(np.sqrt(q)[:, None] * z)
    _check_finite(vals, act, "correlation map")
    b = vals @ _hermite_table(n_dense if dense else n_quad, K, dense)
    b2 = b * b
    b2[:, -1] += np.maximum(_second_moment(act, q, n_quad) - b2.sum(axis=1), 0.0)
    return b2


def _mehler_c_star(b2: np.ndarray, sw: np.ndarray, sb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chaotic-phase c* and slope from P(c) = (sw sum_k b2_k c^k + sb)/(sw sum b2_k + sb)."""
    K = b2.shape[1]
    norm = sw * b2.sum(axis=1) + sb
    p = sw[:, None] * b2 / norm[:, None]
    p[:, 0] += sb / norm
    p[:, 1] -= 1.0  # P(c) - c, sum of coefficients is 0
    r = np.cumsum(p, axis=1)[:, :-1]  # (P(c) - c) = (1 - c) * sum_j r_j c^j
    G = len(sw)
    lo, hi, x = np.zeros(G), np.ones(G), np.full(G, 0.5)
    active = np.arange(G)
    for _ in range(100):
        if active.size == 0:
            break
        ra, xa = r[active], x[active]
        h = np.zeros(active.size)
        dh = np.zeros(active.size)
        for j in range(ra.shape[1] - 1, -1, -1):  # Horner for h and h'
            dh = dh * xa + h
            h = h * xa + ra[:, j]
        pos = h >= 0
        lo[active] = np.where(pos, xa, lo[active])
        hi[active] = np.where(pos, hi[active], xa)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = xa - h / dh
        bad = ~np.isfinite(step) | (step <= lo[active]) | (step >= hi[active])
        new = np.where(bad, 0.5 * (lo[active] + hi[active]), step)
        x[active] = new
        active = active[np.abs(new - xa) > 1e-15]
    kk = np.arange(1, K)
    slope = sw * (b2[:, 1:] * kk * x[:, None] ** (kk - 1)).sum(axis=1) / norm
    return x, slope


def _evaluate(
    act: Activation, sw: np.ndarray, sb: np.ndarray, q0: float = 1.0, n_quad: int = N_QUAD,
    n_mehler: int = N_MEHLER,
) -> tuple[np.ndarray, ...]:
    """Vectorised fixed-point quantities for flat arrays (q*, c*, chi_1, chi_par, chi_c, xi_q, xi_c)."""
    q = _solve_q_star(act, sw, sb, q0, n_quad)
    fin = np.isfinite(q)
    chi1 = _chi1_at(act, sw, q, n_quad)
    chi_par = np.full(q.shape, np.nan)
    chi_par[fin] = sw[fin] * _dsecond_moment_dq(act, q[fin], n_quad)
    c_star = np.where(fin, 1.0, np.nan)
    chi_c = np.where(fin, chi1, np.nan)
    chaos = fin & (chi1 > 1.0 + 1e-12) & (q > 0)
    if np.any(chaos) and act.pair_kernel is not None:  # closed-form kernel (sign): vectorised bisection
        qc, swc, sbc = q[chaos], sw[chaos], sb[chaos]
        norm = swc * _second_moment(act, qc, n_quad) + sbc

        def cmap(c: np.ndarray) -> np.ndarray:
            return (swc * act.pair_kernel(qc, c) + sbc) / norm  # type: ignore[misc]

        lo, hi = np.zeros(qc.shape), np.full(qc.shape, 1.0 - 1e-12)
        for _ in range(60):  # h = C(c) - c is convex (arcsin), h(0) >= 0 = h(1): > 0 below c*, < 0 above
            mid = 0.5 * (lo + hi)
            pos = cmap(mid) - mid > 0
            lo, hi = np.where(pos, mid, lo), np.where(pos, hi, mid)
        cs = 0.5 * (lo + hi)
        d = 1e-7
        c_star[chaos] = cs
        chi_c[chaos] = (cmap(np.minimum(cs + d, 1.0)) - cmap(cs - d)) / (np.minimum(cs + d, 1.0) - (cs - d))
    elif np.any(chaos):
        b2 = _mehler_coefficients(act, q[chaos], n_quad, n_mehler)
        cs, slope = _mehler_c_star(b2, sw[chaos], sb[chaos])
        c_star[chaos] = cs
        chi_c[chaos] = slope
    xi_c = np.where(fin, _xi(chi_c), np.nan)
    xi_c = np.where(fin & (np.abs(chi1 - 1.0) <= 1e-12), np.inf, xi_c)
    xi_q = np.where(fin, _xi(chi_par), np.nan)
    return q, c_star, chi1, chi_par, chi_c, xi_q, xi_c


def phase_diagram(
    activation: Any,
    sigma_w2_grid: Any,
    sigma_b2_grid: Any,
    q0: float = 1.0,
    n_quad: int = N_QUAD,
    n_mehler: int = N_MEHLER,
) -> PhaseDiagram:
    r"""Vectorised order/chaos phase diagram over a :math:`(\sigma_w^2, \sigma_b^2)` grid.

    Returns :class:`PhaseDiagram` with arrays of shape ``(len(sigma_b2_grid), len(sigma_w2_grid))``:
    :math:`q^*`, :math:`c^*`, :math:`\chi_1`, :math:`\chi_\parallel`, the correlation-map slope
    :math:`\chi_c`, :math:`\xi_q = -1/\ln\chi_\parallel` and :math:`\xi_c = -1/\ln\chi_c` (inf on the
    critical line, NaN where q diverges). The same definitions as :func:`fixed_point`; the chaotic-phase
    correlation map is the Mehler series truncated at ``n_mehler`` terms (see the module notes), which
    agrees with the 2-D quadrature of :func:`fixed_point` to ~1e-8 for smooth activations.
    """
    act = get_activation(activation)
    sw1 = np.atleast_1d(_positive_array(sigma_w2_grid, "sigma_w2_grid (weight variances sigma_w^2)", ndim=(0, 1)))
    sb1 = np.atleast_1d(_nonnegative_array(sigma_b2_grid, "sigma_b2_grid (bias variances sigma_b^2)", ndim=(0, 1)))
    q0, n_quad = _q0(q0), _n_quad(n_quad)
    n_mehler = as_count(n_mehler, "n_mehler (terms of the Mehler series)", minimum=2)
    SW, SB = np.meshgrid(sw1, sb1)
    q, c_star, chi1, chi_par, chi_c, xi_q, xi_c = _evaluate(act, SW.ravel(), SB.ravel(), q0, n_quad, n_mehler)
    crit = critical_line(act, sb1, q0=q0, n_quad=n_quad) if not act.chi1_infinite else np.full(sb1.shape, np.nan)
    shp = SW.shape
    return PhaseDiagram(
        act.name, sw1, sb1, q.reshape(shp), c_star.reshape(shp), chi1.reshape(shp), chi_par.reshape(shp),
        chi_c.reshape(shp), xi_q.reshape(shp), xi_c.reshape(shp), crit,
    )


# ------------------------------------------------------------------------------------ one-row cut
@dataclass(frozen=True)
class DepthScaleCut(Result):
    r"""The fixed-point quantities along :math:`\sigma_w^2` at one exact :math:`\sigma_b^2` (a 1-D cut of the
    phase diagram). Arrays have shape ``(len(sigma_w2),)``; ``critical`` is the critical :math:`\sigma_w^2`
    at ``sigma_b2`` (NaN: no transition for :math:`\sigma_w^2 \le 10^3`, or :math:`\chi_1=\infty`)."""

    activation: str
    sigma_b2: float
    critical: float
    sigma_w2: np.ndarray
    q_star: np.ndarray
    c_star: np.ndarray
    chi_1: np.ndarray
    chi_parallel: np.ndarray
    chi_c: np.ndarray
    xi_q: np.ndarray
    xi_c: np.ndarray


def depth_scale_cut(
    activation: Any,
    sigma_w2: Any,
    sigma_b2: float,
    q0: float = 1.0,
    n_quad: int = N_QUAD,
    n_mehler: int = N_MEHLER,
) -> DepthScaleCut:
    r"""Depth scales :math:`\xi_q, \xi_c` (and :math:`q^*, c^*, \chi_1, \chi_\parallel, \chi_c`) across the
    order-to-chaos transition at exactly the bias variance ``sigma_b2``, for every weight variance in
    ``sigma_w2``.

    The same definitions and solvers as :func:`phase_diagram` (a single row of it, evaluated at the given
    :math:`\sigma_b^2` rather than read off a grid), plus the critical :math:`\sigma_w^2` of
    :func:`critical_line` at that :math:`\sigma_b^2`. Cost: one vectorised fixed-point solve over
    ``len(sigma_w2)`` points.

    Parameters
    ----------
    activation : a name or an elementwise callable.
    sigma_w2 : 1-D array of weight variances :math:`\sigma_w^2 > 0`.
    sigma_b2 : one bias variance :math:`\sigma_b^2 \ge 0`.
    """
    act = get_activation(activation)
    sw1 = np.atleast_1d(_positive_array(sigma_w2, "sigma_w2 (weight variances sigma_w^2)", ndim=(0, 1)))
    _one_number(sigma_b2, _SB, "depth_scale_cut takes one sigma_b2; use phase_diagram for a grid of bias variances")
    sb = as_real(sigma_b2, _SB, low=0.0)
    q0, n_quad = _q0(q0), _n_quad(n_quad)
    n_mehler = as_count(n_mehler, "n_mehler (terms of the Mehler series)", minimum=2)
    q, c_star, chi1, chi_par, chi_c, xi_q, xi_c = _evaluate(act, sw1, np.full(sw1.shape, sb), q0, n_quad,
                                                             n_mehler)
    crit = float("nan") if act.chi1_infinite else float(critical_line(act, np.array([sb]), q0=q0,
                                                                        n_quad=n_quad)[0])
    return DepthScaleCut(act.name, sb, crit, sw1, q, c_star, chi1, chi_par, chi_c, xi_q, xi_c)
