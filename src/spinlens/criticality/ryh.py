r"""Criticality in the language of Roberts, Yaida & Hanin, *The Principles of Deep Learning Theory* (2021).

Notation: weights :math:`W\sim\mathcal N(0, C_W/n)`, biases :math:`b\sim\mathcal N(0, C_b)`,
:math:`\langle f\rangle_K = \mathbb E_{z\sim\mathcal N(0,K)} f(z)`. For one input the kernel flows as

.. math::

    K^{l+1} = C_b + C_W\langle\sigma^2\rangle_{K^l}, \quad
    \chi_\parallel = C_W\langle\sigma'^2+\sigma\sigma''\rangle_K = C_W\,\partial_K\langle\sigma^2\rangle_K,\quad
    \chi_\perp = C_W\langle\sigma'^2\rangle_K,

and criticality is :math:`\chi_\parallel=\chi_\perp=1` (ch. 5). Universality classes:

* **scale-invariant** (:math:`\sigma(z)=a_+z` for z > 0, :math:`a_-z` otherwise: ReLU, linear, leaky ReLU):
  :math:`C_b=0`, :math:`C_W=1/A_2`, :math:`A_2=(a_+^2+a_-^2)/2`; any :math:`K^*` is a fixed point.
* **K* = 0** (:math:`\sigma(0)=0`, :math:`\sigma_1=\sigma'(0)\ne0`, :math:`a_1<0`: tanh, sin, erf):
  :math:`C_b=0`, :math:`C_W=1/\sigma_1^2`; the kernel decays as :math:`K^l\approx 1/(-a_1 l)` with
  :math:`a_1 = \sigma_3/\sigma_1+\tfrac34(\sigma_2/\sigma_1)^2` (:math:`\sigma_p` = p-th derivative at 0).
* **half-stable** (GELU, SWISH): solve :math:`\langle\sigma\sigma''\rangle_{K^*}=0`,
  :math:`C_W = 1/\langle\sigma'^2\rangle_{K^*}`, :math:`C_b = K^*-C_W\langle\sigma^2\rangle_{K^*}\ge0`.

**Four-point vertex** (ch. 4, single input, all hidden widths n). The connected four-point function of one
pre-activation is :math:`\langle z^4\rangle-3\langle z^2\rangle^2 = 3V^{l}/n + O(1/n^2)`; that is the
normalisation of :math:`V` used here, for which

.. math:: V^{l+1}=\chi_\parallel^2 V^l + C_W^2(\langle\sigma^4\rangle_{K^l}-\langle\sigma^2\rangle_{K^l}^2),
   \qquad V^1=0.

For critical ReLU (:math:`C_W=2`, :math:`\chi_\parallel=1`, :math:`\langle\sigma^4\rangle=3K^2/2`,
:math:`\langle\sigma^2\rangle=K/2`) the source is :math:`4(3/2-1/4)K^2=5K^2`, so
:math:`V^l/K^2 = 5(l-1)` **exactly** (layer 1 is exactly Gaussian). In general at criticality
:math:`V^l/(K^l)^2\approx\nu\,l` with :math:`\nu = 3A_4/A_2^2-1` (scale-invariant; ReLU 5, linear 2) or
:math:`2/3` (K* = 0 class).

The same quartic correction shifts the kernel at order 1/n (Edgeworth expansion of the pre-activation
density with fourth cumulant :math:`3V/n`): :math:`K = K^{(0)} + K^{\{1\}}/n` with

.. math:: K^{\{1\}\,l+1} = \chi_\parallel K^{\{1\}\,l} + \frac{C_W}{8}\frac{V^l}{(K^l)^2}
   \langle\sigma^2\,He_4(z/\sqrt{K^l})\rangle_{K^l},\qquad K^{\{1\}\,1}=0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq

from spinlens.criticality.activations import Activation, get_activation
from spinlens.criticality.signal import (
    N_QUAD,
    _dsecond_moment_dq,
    _gmean,
    _n_quad,
    _nonnegative_array,
    _one_number,
    _second_moment,
)
from spinlens.results import Result
from spinlens.spins.model import as_count, as_positive, as_real

__all__ = ["CriticalInit", "KernelFlow", "critical_init", "chi_parallel_perp", "kernel_recursion",
           "universality_class"]


@dataclass(frozen=True)
class CriticalInit(Result):
    """Critical initialisation (C_b, C_W) and its universality class.

    ``K_star`` is NaN for the scale-invariant class (every K is a fixed point); ``a1`` is defined only
    for the K* = 0 class; ``nu`` is the growth rate of V/K^2 per layer at criticality (NaN: not known
    in closed form, e.g. half-stable)."""

    activation: str
    C_b: float
    C_W: float
    K_star: float
    universality_class: str
    a1: float
    nu: float


@dataclass(frozen=True)
class KernelFlow(Result):
    """Layer-by-layer kernel quantities for l = 1..depth (arrays of shape ``(depth,)``)."""

    activation: str
    C_b: float
    C_W: float
    layers: np.ndarray
    K: np.ndarray
    chi_parallel: np.ndarray
    chi_perp: np.ndarray
    V: np.ndarray
    K1: np.ndarray

    @property
    def V_over_K2(self) -> np.ndarray:
        return self.V / self.K**2


def chi_parallel_perp(activation: Any, K: Any, C_W: float, n_quad: int = N_QUAD) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`(\chi_\parallel, \chi_\perp)` at kernel K (any shape, finite and >= 0; at K = 0 the
    K -> 0+ limits, e.g. :math:`\chi_\perp = C_W\sigma'(0)^2`); one weight variance ``C_W > 0``."""
    act = get_activation(activation)
    K = _nonnegative_array(K, "K (the kernel, a variance)")
    C_W = _C_W(C_W)
    n_quad = _n_quad(n_quad)
    return C_W * _dsecond_moment_dq(act, K, n_quad), C_W * _gmean(lambda u: act.d1(u) ** 2, K, act, n_quad, "chi")


def _C_W(value: Any) -> float:
    _one_number(value, "C_W (the weight variance)", "")
    return as_positive(value, "C_W (the weight variance)")


class _NoCriticalInit(ValueError):
    """The activation has no critical initialisation (the answer "none" of :func:`universality_class`)."""


def _taylor_at_zero(act: Activation) -> tuple[float, float, float, float]:
    """sigma_0..sigma_3: value and first three derivatives at 0 (third by central differences of d2)."""
    x = np.array([0.0])
    s0, s1, s2 = (float(f(x)[0]) for f in (act.fn, act.d1, act.d2))
    h = 1e-4
    s3 = float((act.d2(np.array([h])) - act.d2(np.array([-h])))[0] / (2 * h))
    return s0, s1, s2, s3


def _is_scale_invariant(act: Activation) -> bool:
    x = np.linspace(-3.0, 3.0, 13)
    fx = act.fn(x)
    if not np.all(np.isfinite(fx)) or np.allclose(fx, 0.0):
        return False
    return all(np.allclose(act.fn(lam * x), lam * fx, rtol=1e-9, atol=1e-12) for lam in (0.37, 2.0, 5.0))


def universality_class(activation: Any) -> str:
    """``"scale-invariant"``, ``"K*=0"``, ``"half-stable"`` or ``"none"`` (no critical initialisation)."""
    act = get_activation(activation)  # an unknown name is an error, not the class "none"
    try:
        return critical_init(act).universality_class
    except _NoCriticalInit:
        return "none"


N_QUAD_INIT = 200  # half-stable K* can be large (SWISH: 14.3); 100 nodes leave C_b off by 2e-3 there


def critical_init(activation: Any, n_quad: int = N_QUAD_INIT) -> CriticalInit:
    r"""The critical initialisation :math:`(C_b, C_W)` with :math:`\chi_\parallel = \chi_\perp = 1` (RYH ch. 5).

    GELU: :math:`(C_b, C_W) = (0.17292239, 1.98305826)`, :math:`K^*=3.5615528`; SWISH: (0.55514865,
    1.98800389), :math:`K^*=14.320318` with 200-node Gauss–Hermite (GELU stable to 1e-10 against 250 nodes,
    SWISH to ~5e-6: its large :math:`K^*` spreads the nodes thinly over the curved region of the activation).

    Raises ``ValueError`` when the activation has none (e.g. sigmoid, whose only solution needs
    :math:`C_b < 0`)."""
    act = get_activation(activation)
    n_quad = _n_quad(n_quad)
    if act.chi1_infinite:
        raise _NoCriticalInit(f"activation {act.name!r} is discontinuous: chi_perp is infinite, "
                              "no critical initialisation.")
    if _is_scale_invariant(act):
        ap, am = float(act.fn(np.array([1.0]))[0]), -float(act.fn(np.array([-1.0]))[0])
        A2, A4 = (ap**2 + am**2) / 2, (ap**4 + am**4) / 2
        return CriticalInit(act.name, 0.0, 1.0 / A2, float("nan"), "scale-invariant", float("nan"), 3 * A4 / A2**2 - 1)
    s0, s1, s2, s3 = _taylor_at_zero(act)
    if abs(s0) < 1e-12 and abs(s1) > 1e-12:
        a1 = s3 / s1 + 0.75 * (s2 / s1) ** 2
        if a1 < 0:
            return CriticalInit(act.name, 0.0, 1.0 / s1**2, 0.0, "K*=0", a1, 2.0 / 3.0)
    # half-stable: <sigma sigma''>_K = 0 with C_b >= 0
    def g(K: float) -> float:
        return float(_gmean(lambda u: act.fn(u) * act.d2(u), np.asarray(K), act, n_quad, "critical init"))

    Ks = np.logspace(-4, 3, 300)
    gs = np.array([g(k) for k in Ks])
    for i in np.flatnonzero(np.sign(gs[:-1]) * np.sign(gs[1:]) < 0):
        K = float(brentq(g, Ks[i], Ks[i + 1], xtol=1e-15, rtol=1e-14))
        C_W = 1.0 / float(_gmean(lambda u: act.d1(u) ** 2, np.asarray(K), act, n_quad, "critical init"))
        C_b = K - C_W * float(_second_moment(act, np.asarray(K), n_quad))
        if C_b >= -1e-12:
            return CriticalInit(act.name, max(C_b, 0.0), C_W, K, "half-stable", float("nan"), float("nan"))
    raise _NoCriticalInit(
        f"activation {act.name!r} has no critical initialisation with C_b >= 0 "
        "(not scale-invariant, not in the K*=0 class, no half-stable point)."
    )


def kernel_recursion(
    activation: Any, C_b: float, C_W: float, K1: float, depth: int, n_quad: int = N_QUAD
) -> KernelFlow:
    r"""Iterate the kernel, :math:`\chi_\parallel`, :math:`\chi_\perp`, the four-point vertex V and the 1/n
    kernel correction from layer 1 (:math:`K^1` = ``K1``, :math:`V^1 = 0`, :math:`K^{\{1\}1}=0`) to ``depth``.
    Formulas in the module docstring."""
    act = get_activation(activation)
    _one_number(C_b, "C_b (the bias variance)", "")
    C_b = as_real(C_b, "C_b (the bias variance)", low=0.0)
    C_W = _C_W(C_W)
    _one_number(K1, "K1 (the first-layer kernel)", "")
    K1 = as_positive(K1, "K1 (the first-layer kernel)")
    L = as_count(depth, "depth", minimum=1)
    n_quad = _n_quad(n_quad)
    K, cp, cperp, V, Kc = (np.zeros(L) for _ in range(5))
    K[0] = K1
    for i in range(L):
        k = np.asarray(K[i])
        s2 = float(_second_moment(act, k, n_quad))
        s4 = float(_gmean(lambda u: act.fn(u) ** 4, k, act, n_quad, "vertex"))
        cpar, cper = chi_parallel_perp(act, k, C_W, n_quad)
        cp[i], cperp[i] = float(cpar), float(cper)
        if i + 1 < L:
            K[i + 1] = C_b + C_W * s2
            V[i + 1] = cp[i] ** 2 * V[i] + C_W**2 * (s4 - s2**2)
            Ki = float(K[i])
            he4 = float(_gmean(lambda u, Ki=Ki: act.fn(u) ** 2 * (u**4 - 6 * u**2 * Ki + 3 * Ki**2), k, act,
                               n_quad, "kernel correction")) / Ki**2
            Kc[i + 1] = cp[i] * Kc[i] + C_W / 8.0 * V[i] / K[i] ** 2 * he4
    return KernelFlow(act.name, float(C_b), float(C_W), np.arange(1, L + 1), K, cp, cperp, V, Kc)
