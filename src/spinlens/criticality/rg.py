r"""Renormalization group along depth: spinlens's own reconstruction of the decimation of D. Lee, H.-S. Lee & J. Yi,
*Dynamic neuron approach to deep neural networks: Decoupling neurons for renormalization group analysis*,
arXiv:2410.00396. The paper's ensemble (neurons of every layer and data point beside W and b, beta > 0) is
:mod:`spinlens.criticality.dynamic`; this module keeps the weights fixed, one data point, and samples neurons at
beta = 0 only. The mean-field RG below (the b = 2 decimation as T -> T∘T, the coupling flow and its exponents) is
derived here from the signal-propagation maps, not taken from the paper.

**Dynamic-neuron energy.** Neurons :math:`h^{(m)}` become variables tied to each layer's output by a
coupling :math:`\lambda`:

.. math:: H_\lambda(h) = \beta\,\lVert y-h^{(M)}\rVert^2 + \frac\lambda2\sum_{m=0}^{M-1}
   \lVert h^{(m+1)}-\phi(W^m h^{(m)}+b^m)\rVert^2 ,

so only adjacent layers interact; as :math:`\lambda\to\infty` the Gibbs measure
:math:`\propto e^{-H_\lambda}` concentrates on the forward pass (the network). With equal widths and
identical priors on :math:`(W^m, b^m)` the bulk is invariant under :math:`m\to m+1`, so integrating out
every other layer is a renormalization-group step with scale factor b = 2.

**Mean-field RG.** At infinite width the layer acts on the pair statistics through the map
:math:`T:(q,c)\mapsto(q',c')` (:mod:`spinlens.criticality.signal`). Decimating every other layer
replaces :math:`T` by :math:`T\circ T`: fixed points are kept, every linearised eigenvalue is squared
(:math:`\chi\to\chi^2`) and every depth scale halves (:math:`\xi\to\xi/2`).

**Flow of the couplings.** :func:`rg_step` finds the single-layer couplings :math:`(\sigma_w'^2,\sigma_b'^2)`
whose map has the same fixed point :math:`q^*` and the squared slope :math:`\chi_1'=\chi_1^2` (the eigenvalue
that decides order vs chaos), in closed form:
:math:`\sigma_w'^2 = \chi_1^2/\mathbb E[\phi'(\sqrt{q^*}z)^2]`,
:math:`\sigma_b'^2 = q^* - \sigma_w'^2\,\mathbb E[\phi(\sqrt{q^*}z)^2]`.
Every point of the critical line :math:`\chi_1=1` is a fixed point of this flow; its linearisation has a
marginal eigenvalue 1 (along the line) and a relevant eigenvalue :math:`\lambda_r = 2` across it, giving the
correlation-length exponent :math:`\nu=\ln b/\ln\lambda_r = 1` (mean field): :math:`\xi_c\sim|\chi_1-1|^{-\nu}`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq

from spinlens._rng import RNGLike, as_generator
from spinlens.criticality.activations import get_activation
from spinlens.criticality.signal import (
    _SB,
    _SW,
    N_QUAD_2D,
    _dphi2,
    _evaluate,
    _n_quad,
    _nonnegative_array,
    _one_number,
    _positive_array,
    _q0,
    _scalar_sigmas,
    _second_moment,
    correlation_map,
    critical_sigma_w2,
    fixed_point,
    length_map,
)
from spinlens.results import Result
from spinlens.spins.model import as_count, as_positive, as_real, as_real_array

__all__ = [
    "Decimation",
    "RGFlow",
    "ExponentFit",
    "dynamic_neuron_energy",
    "sample_dynamic_neurons",
    "decimate",
    "rg_step",
    "rg_flow",
    "rg_eigenvalues",
    "correlation_length_exponent",
]


def _network(weights: Any, biases: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights ``W^m`` (2-D, ``(n_{m+1}, n_m)``) and biases ``b^m`` (``(n_{m+1},)``) of a chain of layers."""
    if not isinstance(weights, (list, tuple)) or not weights:
        raise ValueError(f"weights must be a non-empty list of 2-D arrays W^m of shape (n_(m+1), n_m), got "
                         f"{type(weights).__name__}{' (empty)' if isinstance(weights, (list, tuple)) else ''}.")
    if not isinstance(biases, (list, tuple)) or len(biases) != len(weights):
        got = len(biases) if isinstance(biases, (list, tuple)) else type(biases).__name__
        raise ValueError(f"need one bias vector per weight matrix: len(weights) = {len(weights)}, biases: {got}.")
    Ws = [as_real_array(W, f"weights[{m}]", ndim=2) for m, W in enumerate(weights)]
    for m in range(1, len(Ws)):
        if Ws[m].shape[1] != Ws[m - 1].shape[0]:
            raise ValueError(f"weights[{m}] has shape {Ws[m].shape} but weights[{m - 1}] gives "
                             f"{Ws[m - 1].shape[0]} neurons; W^m must have shape (n_(m+1), n_m).")
    bs = [as_real_array(b, f"biases[{m}]", shape=(W.shape[0],)) for m, (W, b) in enumerate(zip(Ws, biases,
                                                                                                strict=True))]
    return Ws, bs


def dynamic_neuron_energy(
    h: Sequence[np.ndarray],
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    activation: Any,
    lam: float,
    beta: float = 0.0,
    y: np.ndarray | None = None,
) -> float:
    r""":math:`H_\lambda` above for neuron values ``h = [h^(0), ..., h^(M)]`` (h^(0) the input), weights
    ``W^m`` of shape ``(n_{m+1}, n_m)`` and biases ``b^m``, coupling ``lam > 0``, ``beta >= 0``. Zero (for
    beta = 0) exactly on the forward pass."""
    act = get_activation(activation)
    Ws, bs = _network(weights, biases)
    lam = as_positive(lam, "lam (the coupling of each layer to its forward pass)")
    beta = as_real(beta, "beta", low=0.0)
    widths = [Ws[0].shape[1]] + [W.shape[0] for W in Ws]
    if not isinstance(h, (list, tuple)) or len(h) != len(Ws) + 1:
        got = len(h) if isinstance(h, (list, tuple)) else type(h).__name__
        raise ValueError(f"h must be a list of len(weights) + 1 = {len(Ws) + 1} neuron vectors h^(0..M), got {got}.")
    hs = [as_real_array(v, f"h[{m}]", shape=(n,)) for m, (v, n) in enumerate(zip(h, widths, strict=True))]
    E = 0.0
    for m, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        r = hs[m + 1] - act.fn(W @ hs[m] + b)
        E += 0.5 * lam * float(r @ r)
    if beta:
        if y is None:
            raise ValueError("beta > 0 needs the target y.")
        d = as_real_array(y, "y", shape=(widths[-1],)) - hs[-1]
        E += beta * float(d @ d)
    return E


def sample_dynamic_neurons(
    x: np.ndarray,
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    activation: Any,
    lam: float,
    rng: RNGLike = None,
) -> list[np.ndarray]:
    r"""Exact sample of the neurons from the Gibbs measure :math:`\propto e^{-H_\lambda}` at :math:`\beta=0`
    with :math:`h^{(0)}=x` clamped.

    At :math:`\beta = 0` the measure is a Markov chain along depth (only adjacent layers interact):
    :math:`h^{(m+1)}\mid h^{(m)}\sim\mathcal N(\phi(W^m h^{(m)}+b^m), \lambda^{-1} I)`, so ancestral sampling
    is exact. Consequences checked in the tests: equipartition :math:`\langle H_\lambda\rangle = \tfrac12
    \sum_{m\ge1} n_m` for every :math:`\lambda`; :math:`h\to` the forward pass as :math:`\lambda\to\infty`
    (deviation :math:`\propto\lambda^{-1/2}`); at large width the pre-activation length obeys the length map
    with the bias variance shifted, :math:`\sigma_b^2\to\sigma_b^2+\sigma_w^2/\lambda` (each neuron carries
    extra variance :math:`1/\lambda`)."""
    act = get_activation(activation)
    Ws, bs = _network(weights, biases)
    _one_number(lam, "lam", "")
    lam = as_positive(lam, "lam (lam -> inf recovers the network)")
    g = as_generator(rng)
    h = [as_real_array(x, "x (the clamped input h^(0))", shape=(Ws[0].shape[1],))]
    for W, b in zip(Ws, bs, strict=True):
        mean = act.fn(W @ h[-1] + b)
        h.append(mean + g.standard_normal(mean.shape) / np.sqrt(lam))
    return h


@dataclass(frozen=True)
class Decimation(Result):
    r"""Fixed points and slopes of the one-layer map T and of the decimated map T∘T (found independently)."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float
    c_star: float
    q_star_decimated: float
    c_star_decimated: float
    slope_q: float
    slope_c: float
    slope_q_decimated: float
    slope_c_decimated: float
    xi_q: float
    xi_c: float
    xi_q_decimated: float
    xi_c_decimated: float


def decimate(activation: Any, sigma_w2: float, sigma_b2: float, n_quad_2d: int = N_QUAD_2D) -> Decimation:
    r"""Integrate out every other layer: find the fixed point of :math:`T\circ T` *from scratch* (iteration
    for q, Brent's method for c) and its slopes by central differences of the composed map, and compare
    with T's. Expect equal fixed points, slopes squared, depth scales halved."""
    act = get_activation(activation)
    sigma_w2, sigma_b2 = _scalar_sigmas(sigma_w2, sigma_b2)
    n_quad_2d = _n_quad(n_quad_2d, "n_quad_2d")
    fp = fixed_point(act, sigma_w2, sigma_b2, n_quad_2d=n_quad_2d)
    if not np.isfinite(fp.q_star) or fp.q_star == 0.0:
        raise ValueError("decimation needs a finite, non-zero length fixed point q* (choose sigma_b2 > 0 or a "
                         "bounded activation in its convergent phase).")

    def T2q(q: float) -> float:
        return float(length_map(act, length_map(act, q, sigma_w2, sigma_b2), sigma_w2, sigma_b2))

    # q* of T∘T: solve T2(q) = q on a bracket around the one-layer guess-free range
    qs = np.logspace(-6, 6, 200)
    g = np.array([T2q(q) - q for q in qs])
    cross = np.flatnonzero(np.sign(g[:-1]) != np.sign(g[1:]))
    if cross.size == 0:
        raise ValueError(f"the two-layer length map of {act.name!r} at sigma_w2={sigma_w2:g}, sigma_b2={sigma_b2:g} "
                         "has no fixed point in q in [1e-6, 1e6]; decimation needs one.")
    i = int(cross[0])
    q2 = float(brentq(lambda q: T2q(q) - q, qs[i], qs[i + 1], xtol=1e-15, rtol=1e-15))
    d = 1e-5 * q2
    sq2 = (T2q(q2 + d) - T2q(q2 - d)) / (2 * d)

    def C2(c: float) -> float:
        c1 = float(correlation_map(act, q2, c, sigma_w2, sigma_b2, n_quad_2d))
        return float(correlation_map(act, q2, min(c1, 1.0), sigma_w2, sigma_b2, n_quad_2d))

    if fp.phase == "chaotic":
        c2 = float(brentq(lambda c: (C2(c) - c) / (1 - c), 0.0, 1 - 1e-9, xtol=1e-15, rtol=1e-15)) \
            if (C2(0.0) > 0) else 0.0
        dc = 1e-5
        sc2 = (C2(min(c2 + dc, 1.0)) - C2(c2 - dc)) / (min(c2 + dc, 1.0) - (c2 - dc))
    else:
        c2 = 1.0
        dc = 1e-6
        sc2 = (1.0 - C2(1 - dc)) / dc  # one-sided slope at c = 1
    def xi(s: float) -> float:
        return float(-1.0 / np.log(s)) if 0 < s < 1 else float("inf")

    return Decimation(
        act.name, float(sigma_w2), float(sigma_b2), fp.q_star, fp.c_star, q2, c2,
        fp.chi_parallel, fp.chi_c, float(sq2), float(sc2), fp.xi_q, fp.xi_c, xi(sq2), xi(sc2),
    )


def rg_step(activation: Any, sigma_w2: Any, sigma_b2: Any, q0: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    r"""One RG step (b = 2) on the couplings, vectorised: keep :math:`q^*`, square :math:`\chi_1` (module notes).
    :math:`\sigma_b'^2` may come out negative: the flow has left the physical region (reported, not clipped).
    NaN where the length map diverges (no finite :math:`q^*`, e.g. ReLU at :math:`\sigma_w^2\ge2`)."""
    act = get_activation(activation)
    sw, sb = _positive_array(sigma_w2, _SW), _nonnegative_array(sigma_b2, _SB)
    try:
        sw, sb = np.broadcast_arrays(np.atleast_1d(sw), np.atleast_1d(sb))
    except ValueError:
        raise ValueError(f"sigma_w2 and sigma_b2 must broadcast together, got shapes {sw.shape} and {sb.shape}."
                         ) from None
    q, _, chi1, *_ = _evaluate(act, sw.ravel(), sb.ravel(), _q0(q0))
    fin = np.isfinite(q)
    sw_new = np.full(q.shape, np.nan)
    sb_new = np.full(q.shape, np.nan)
    sw_new[fin] = chi1[fin] ** 2 / _dphi2(act, q[fin])
    sb_new[fin] = q[fin] - sw_new[fin] * _second_moment(act, q[fin])
    return sw_new.reshape(sw.shape), sb_new.reshape(sw.shape)


@dataclass(frozen=True)
class RGFlow(Result):
    """An RG trajectory: couplings, chi_1, q* and xi_c after each step (index 0 = start)."""

    activation: str
    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    chi_1: np.ndarray
    q_star: np.ndarray
    xi_c: np.ndarray


def rg_flow(activation: Any, sigma_w2: float, sigma_b2: float, n_steps: int = 6) -> RGFlow:
    """Iterate :func:`rg_step` ``n_steps >= 1`` times from one point; stops early when sigma_b2 turns negative or
    q* diverges."""
    act = get_activation(activation)
    sw0, sb0 = _scalar_sigmas(sigma_w2, sigma_b2, "rg_step maps many points one step")
    n_steps = as_count(n_steps, "n_steps", minimum=1)
    sw, sb = [sw0], [sb0]
    chis, qs, xis = [], [], []
    for k in range(n_steps + 1):
        q, _, chi1, _, _, _, xic = _evaluate(act, np.array([sw[-1]]), np.array([sb[-1]]))
        chis.append(float(chi1[0]))
        qs.append(float(q[0]))
        xis.append(float(xic[0]))
        if k == n_steps or not np.isfinite(q[0]):
            break
        a, b = rg_step(act, sw[-1], sb[-1])
        if not (float(b[0]) >= 0 and float(a[0]) > 0):
            break
        sw.append(float(a[0]))
        sb.append(float(b[0]))
    n = len(chis)
    return RGFlow(act.name, np.array(sw[:n]), np.array(sb[:n]), np.array(chis), np.array(qs), np.array(xis))


def rg_eigenvalues(activation: Any, sigma_b2: float, h: float = 1e-5) -> tuple[np.ndarray, float, float]:
    r"""Eigenvalues of the linearised RG step at the critical point :math:`(\sigma_{w,c}^2(\sigma_b^2),
    \sigma_b^2)` (central differences with relative step ``h`` in (0, 0.1]; ``sigma_b2 > 0``). Returns
    ``(eigenvalues, lambda_relevant, nu)`` with :math:`\nu=\ln 2/\ln\lambda_r`; expect eigenvalues {1, 2}
    and :math:`\nu = 1`."""
    act = get_activation(activation)
    _one_number(sigma_b2, _SB, "")
    sigma_b2 = as_positive(sigma_b2, "sigma_b2 (rg_eigenvalues needs sigma_b2 > 0: a finite q* on the critical line)")
    h = as_real(h, "h (the relative central-difference step)", low=0.0, high=0.1, low_open=True)
    if h * max(1.0, sigma_b2) >= sigma_b2:
        raise ValueError(f"h = {h:g} steps sigma_b2 = {sigma_b2:g} below 0; use h < {sigma_b2 / max(1.0, sigma_b2):g}.")
    swc = critical_sigma_w2(act, sigma_b2)
    if not np.isfinite(fixed_point(act, swc, sigma_b2).q_star):
        raise ValueError(f"the length map of {act.name!r} diverges on its critical line at sigma_b2={sigma_b2} "
                         "(scale-invariant class: q grows linearly), so the RG step has no fixed point there.")
    J = np.zeros((2, 2))
    x0 = np.array([swc, sigma_b2])
    for j in range(2):
        e = np.zeros(2)
        e[j] = h * max(1.0, x0[j])
        p = np.array([a[0] for a in rg_step(act, *(x0 + e))])
        m = np.array([a[0] for a in rg_step(act, *(x0 - e))])
        J[:, j] = (p - m) / (2 * e[j])
    ev = np.sort(np.linalg.eigvals(J).real)
    lam_r = float(ev[-1])
    return ev, lam_r, float(np.log(2.0) / np.log(lam_r))


@dataclass(frozen=True)
class ExponentFit(Result):
    r"""Fit of :math:`\xi_c\sim|\chi_1-1|^{-\nu}` and the data-collapse arrays.

    ``x = chi_1 - 1``, ``y = xi_c |chi_1 - 1|^nu_rg`` (collapse onto one curve, ``y -> 1`` as x -> 0; the
    mean-field 1 in place of ``nu_rg`` where the critical line has no finite q*, e.g. relu) and
    ``series`` (the sigma_b2 each point belongs to)."""

    activation: str
    nu: float
    nu_error: float
    nu_rg: float
    x: np.ndarray
    y: np.ndarray
    series: np.ndarray
    sigma_b2: np.ndarray


def correlation_length_exponent(
    activation: Any, sigma_b2: Sequence[float] = (0.01, 0.05, 0.2), eps: Any = None
) -> ExponentFit:
    r"""Measure :math:`\nu` from :math:`\xi_c` on both sides of the critical line at
    :math:`\sigma_w^2 = \sigma_{w,c}^2(1\pm\epsilon)` for several :math:`\sigma_b^2`; least squares of
    :math:`\ln\xi_c` on :math:`\ln|\chi_1-1|`, and :math:`\nu_{RG}` from :func:`rg_eigenvalues`.

    ``sigma_b2``: one or more bias variances >= 0; ``eps``: relative offsets in (0, 1) (default 10 values,
    log-spaced in [1e-5, 10^-2.5])."""
    act = get_activation(activation)
    eps = np.logspace(-5, -2.5, 10) if eps is None else _positive_array(eps, "eps (relative distances to the "
                                                                             "critical line)", ndim=1)
    if np.any(eps >= 1):
        raise ValueError(f"eps (relative distances to the critical line) must be < 1, got {eps.max():g}.")
    sbs = np.atleast_1d(_nonnegative_array(sigma_b2, _SB, ndim=(0, 1)))
    SW, SB, S = [], [], []
    for sbv in sbs:
        swc = critical_sigma_w2(act, float(sbv))
        for sign in (-1, 1):
            SW.append(swc * (1 + sign * eps))
            SB.append(np.full(eps.shape, sbv))
            S.append(np.full(eps.shape, sbv))
    sw, sb = np.concatenate(SW), np.concatenate(SB)
    _, _, chi1, _, _, _, xic = _evaluate(act, sw, sb)
    x = chi1 - 1.0
    ok = np.isfinite(xic) & (np.abs(x) > 0)
    A = np.vstack([np.log(np.abs(x[ok])), np.ones(ok.sum())]).T
    coef, res, *_ = np.linalg.lstsq(A, np.log(xic[ok]), rcond=None)
    nu = float(-coef[0])
    resid = np.log(xic[ok]) - A @ coef
    err = float(np.sqrt(resid @ resid / max(1, ok.sum() - 2) / np.sum((A[:, 0] - A[:, 0].mean()) ** 2)))
    try:
        nu_rg = rg_eigenvalues(act, float(sbs[sbs > 0][0]))[2] if np.any(sbs > 0) else float("nan")
    except ValueError:  # no finite q* on the critical line (relu, linear): nu from the fit alone
        nu_rg = float("nan")
    y = xic * np.abs(x) ** (nu_rg if np.isfinite(nu_rg) else 1.0)  # mean-field nu = 1 without an RG point
    return ExponentFit(act.name, nu, err, nu_rg, x, y, np.concatenate(S), sbs)
