r"""Thouless–Anderson–Palmer (TAP) equations: second-order Plefka expansion of the Gibbs free energy.

.. math:: m_i = \tanh\Big(\beta h_i + \beta \sum_j J_{ij} m_j - \beta^2 m_i \sum_j J_{ij}^2 (1 - m_j^2)\Big)

.. math:: \beta F_{TAP}(m) = \sum_i \Big[\tfrac{1+m_i}{2}\ln\tfrac{1+m_i}{2} + \tfrac{1-m_i}{2}\ln\tfrac{1-m_i}{2}\Big]
   - \beta\sum_{i<j} J_{ij} m_i m_j - \beta \sum_i h_i m_i - \tfrac{\beta^2}{2}\sum_{i<j} J_{ij}^2 (1-m_i^2)(1-m_j^2)

(Thouless, Anderson & Palmer 1977; Plefka 1982). Plain iteration is unstable in glassy phases, so the solver
damps and, by default, uses the AMP time indexing of Bolthausen (2014): the Onsager reaction term multiplies
the *previous* iterate, :math:`m^{t+1} = \tanh(\beta h + \beta J m^t - \beta^2 m^{t-1} \odot J^{\circ 2}(1-(m^t)^2))`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spinlens._rng import RNGLike, as_generator
from spinlens.meanfield import _core
from spinlens.results import Result
from spinlens.spins.model import IsingModel

__all__ = ["TAPResult", "TAPScanResult", "tap", "tap_free_energy", "tap_scan"]


@dataclass(frozen=True)
class TAPResult(Result):
    """TAP solution(s) at one temperature.

    Attributes
    ----------
    m : (n,) array for one start, (n_starts, n) for several.
    free_energy : float or (n_starts,) — :math:`F_{TAP}(m) = -\\ln Z_{TAP}/\\beta`.
    converged : bool or (n_starts,) bool array.
    residual : float or (n_starts,) — :math:`\\max_i |m_i - \\mathrm{rhs}_i(m)|` of the TAP equations.
    n_iter : int or (n_starts,) — iterations used (annealing stages included).
    beta : float.
    """

    m: np.ndarray
    free_energy: Any
    converged: Any
    residual: Any
    n_iter: Any
    beta: float

    @property
    def q(self) -> Any:
        """Edwards–Anderson self-overlap :math:`q = \\frac1n\\sum_i m_i^2` per start."""
        return np.mean(np.asarray(self.m) ** 2, axis=-1)


@dataclass(frozen=True)
class TAPScanResult(Result):
    """TAP solutions over a temperature grid (one row per temperature).

    Attributes
    ----------
    betas, temperatures : (n_T,) arrays.
    m : (n_T, n) magnetisations; q : (n_T,) :math:`\\frac1n \\sum_i m_i^2`.
    free_energy : (n_T,) :math:`F_{TAP}`; converged, residual, n_iter : (n_T,).
    """

    betas: np.ndarray
    temperatures: np.ndarray
    m: np.ndarray
    q: np.ndarray
    free_energy: np.ndarray
    converged: np.ndarray
    residual: np.ndarray
    n_iter: np.ndarray


def tap_free_energy(model: IsingModel, m: Any, beta: Any) -> Any:
    r"""TAP free energy :math:`F_{TAP}(m)` (see the module docstring) for ``m`` of shape (n,) or (b, n).

    ``beta`` is a scalar or one value per row of ``m``. Returns a float for one ``m``, else ``(b,)``.
    At the paramagnet (``m = 0``, ``h = 0``) it equals :math:`-[n\ln 2 + \frac{\beta^2}{2}\sum_{i<j}J_{ij}^2]/\beta`,
    the exact annealed SK value :math:`-\beta f = \ln 2 + \beta^2/4`.
    """
    model = _core.check_model(model)
    M = _core.check_m(m, model.n_spins)
    if isinstance(beta, (str, bytes)) or beta is None:
        _core.check_beta(beta)
    b = np.atleast_1d(_core.as_real_array(beta, "beta", ndim=(0, 1), finite=False))
    for x in b:
        _core.check_beta(x)
    rows = 1 if M.ndim == 1 else M.shape[0]
    if b.size not in (1, rows):
        raise ValueError(f"beta must be a scalar or have one value per row of m ({rows}), got {b.size}.")
    b = np.broadcast_to(b, (rows,))
    J, J2 = _core.couplings(model)
    F = _core.beta_free_energy(J, J2, model.h, M, b, reaction=True) / b
    return float(F[0]) if M.ndim == 1 else F




def tap(
    model: IsingModel,
    beta: float,
    *,
    m0: Any = None,
    n_starts: int = 1,
    damping: float = 0.5,
    max_iter: int = 2000,
    tol: float = 1e-10,
    anneal: bool | int = False,
    amp: bool = True,
    rng: RNGLike = None,
) -> TAPResult:
    r"""Solve the TAP equations from one or many starts (all starts iterate together as one array).

    Parameters
    ----------
    model : IsingModel (dense or sparse couplings).
    beta : float > 0.
    m0 : (n,) or (n_starts, n) array, optional
        Starting magnetisations. Default: uniform random in (-1, 1)^n per start, or, with ``anneal``,
        a small random perturbation (scale 1e-3) of the paramagnet.
    n_starts : number of starts (random unless ``m0`` gives them).
    damping : ``m <- damping * m + (1 - damping) * update``, in [0, 1).
    max_iter, tol : iteration budget at the target beta and residual tolerance.
    anneal : bool or int
        Anneal in beta from the paramagnet: ``K`` stages (``True`` = 30) at
        :math:`\beta_k = \beta k/K`, each warm-started from the previous one.
    amp : use the AMP/Bolthausen time indexing (reaction term with the previous iterate).
    rng : seed or Generator for the random starts.

    Returns
    -------
    TAPResult with ``m`` of shape (n,) when ``n_starts == 1`` (and ``m0`` is 1-D or None), else (n_starts, n).
    """
    model = _core.check_model(model)
    beta = _core.check_beta(beta)
    damping, max_iter, tol = _core.check_iter_args(damping, max_iter, tol)
    n_starts, single = _core.check_starts(n_starts, m0)
    K = _core.anneal_steps(anneal)
    g = as_generator(rng)
    M0 = _core.initial_state(model.n_spins, n_starts, m0, g, scale=1e-3 if K else 1.0)
    J, J2 = _core.couplings(model)
    betas = np.full(n_starts, beta)
    out = _core.iterate(J, J2, model.h, betas, M0, damping=damping, max_iter=max_iter, tol=tol,
                        amp=amp, anneal_steps=K)
    F = _core.beta_free_energy(J, J2, model.h, out.M, betas, reaction=True) / beta
    if single:
        return TAPResult(m=out.M[0], free_energy=float(F[0]), converged=bool(out.converged[0]),
                         residual=float(out.residual[0]), n_iter=int(out.n_iter[0]), beta=beta)
    return TAPResult(m=out.M, free_energy=F, converged=out.converged, residual=out.residual,
                     n_iter=out.n_iter, beta=beta)


def tap_scan(
    model: IsingModel,
    betas: Any,
    *,
    m0: Any = None,
    damping: float = 0.5,
    max_iter: int = 2000,
    tol: float = 1e-10,
    anneal: bool | int = True,
    amp: bool = True,
    rng: RNGLike = None,
) -> TAPScanResult:
    r"""TAP over a grid of inverse temperatures, all solved at once as one ``(n_T, n)`` array iteration.

    Every row anneals from the high-temperature paramagnet along the shared schedule
    :math:`\beta_k = \beta_{\max} k/K` (capped at its own beta), so the whole grid costs one annealing run
    with a multi-column matrix product instead of ``n_T`` runs (see ``benchmarks/bench_meanfield.py``).

    Parameters
    ----------
    model : IsingModel.
    betas : (n_T,) positive inverse temperatures (any order).
    m0 : (n,) or (n_T, n) starting point; default a 1e-3 random perturbation of the paramagnet
        (the same perturbation for every temperature) so that h = 0 symmetry can break.
    anneal : bool or number of stages (default True = 30).
    damping, max_iter, tol, amp, rng : as in :func:`tap`.
    """
    model = _core.check_model(model)
    if isinstance(betas, (str, bytes)) or betas is None:
        raise ValueError(f"betas must be a non-empty 1-D array of positive numbers, got {betas!r}.")
    b = np.atleast_1d(_core.as_real_array(betas, "betas", allow_empty=True, finite=False))
    if b.ndim != 1 or b.size == 0:
        raise ValueError(f"betas must be a non-empty 1-D array, got shape {b.shape}.")
    for x in b:
        _core.check_beta(x, "every beta")
    damping, max_iter, tol = _core.check_iter_args(damping, max_iter, tol)
    K = _core.anneal_steps(anneal)
    n = model.n_spins
    g = as_generator(rng)
    if m0 is None:
        M0 = np.broadcast_to(g.uniform(-1e-3, 1e-3, size=n), (b.size, n)).copy()
    else:
        M0 = _core.initial_state(n, b.size, m0, g)
    J, J2 = _core.couplings(model)
    out = _core.iterate(J, J2, model.h, b, M0, damping=damping, max_iter=max_iter, tol=tol,
                        amp=amp, anneal_steps=K)
    F = _core.beta_free_energy(J, J2, model.h, out.M, b, reaction=True) / b
    return TAPScanResult(betas=b, temperatures=1.0 / b, m=out.M, q=np.mean(out.M**2, axis=1),
                         free_energy=F, converged=out.converged, residual=out.residual, n_iter=out.n_iter)
