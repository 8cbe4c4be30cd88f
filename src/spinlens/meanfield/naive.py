r"""Naive mean field: the best product distribution (Gibbs variational principle).

For :math:`q(s) = \prod_i \frac{1 + m_i s_i}{2}` the variational free energy is

.. math:: \beta F_{MF}(m) = \sum_i \Big[\tfrac{1+m_i}{2}\ln\tfrac{1+m_i}{2} + \tfrac{1-m_i}{2}\ln\tfrac{1-m_i}{2}\Big]
          - \beta \sum_{i<j} J_{ij} m_i m_j - \beta \sum_i h_i m_i ,

its stationary points solve :math:`m_i = \tanh(\beta h_i + \beta \sum_j J_{ij} m_j)` and
:math:`-\beta F_{MF}(m) \le \ln Z` for every ``m`` (Gibbs/Bogoliubov; Balsubramani, arXiv:2409.18630).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spinlens._rng import RNGLike, as_generator
from spinlens.meanfield import _core
from spinlens.results import Result
from spinlens.spins.model import IsingModel

__all__ = ["MFResult", "naive", "naive_free_energy"]


@dataclass(frozen=True)
class MFResult(Result):
    """Naive mean-field solution.

    Attributes
    ----------
    m : (n,) or (b, n) array — magnetisations (one row per start when ``m0`` had several rows).
    free_energy : float or (b,) array — :math:`F_{MF} = -\\ln Z_{MF}/\\beta` (an upper bound on the true F).
    converged : bool or (b,) bool array — residual below ``tol`` within ``max_iter``.
    residual : float or (b,) array — :math:`\\max_i |m_i - \\tanh(\\beta h_i + \\beta (Jm)_i)|`.
    n_iter : int or (b,) array — iterations used.
    beta : float — inverse temperature.
    """

    m: np.ndarray
    free_energy: Any
    converged: Any
    residual: Any
    n_iter: Any
    beta: float


def naive_free_energy(model: IsingModel, m: Any, beta: float) -> Any:
    r"""Naive mean-field free energy :math:`F_{MF}(m) = \beta F_{MF}(m) / \beta` for ``m`` of shape (n,) or (b, n)."""
    model = _core.check_model(model)
    beta = _core.check_beta(beta)
    M = _core.check_m(m, model.n_spins)
    J, J2 = _core.couplings(model)
    bf = _core.beta_free_energy(J, J2, model.h, M, np.array([beta]), reaction=False) / beta
    return float(bf[0]) if M.ndim == 1 else bf


def naive(
    model: IsingModel,
    beta: float,
    *,
    m0: Any = None,
    n_starts: int = 1,
    damping: float = 0.5,
    max_iter: int = 2000,
    tol: float = 1e-10,
    anneal: bool | int = False,
    rng: RNGLike = None,
) -> MFResult:
    r"""Solve the naive mean-field equations :math:`m_i = \tanh(\beta h_i + \beta \sum_j J_{ij} m_j)`.

    Damped parallel iteration :math:`m \leftarrow \text{damping}\cdot m + (1-\text{damping}) \tanh(\beta(h + Jm))`.

    Parameters
    ----------
    model : IsingModel
    beta : float > 0
    m0 : (n,) or (b, n) array, optional
        Starting point(s); default uniform random starts in (-1, 1)^n drawn from ``rng`` (with ``anneal``:
        a 1e-3 random perturbation of the paramagnet). Several rows are solved together.
    n_starts : number of starts (random unless ``m0`` gives them).
    damping, max_iter, tol : iteration controls (``0 <= damping < 1``).
    anneal : bool or int — anneal in beta from the paramagnet in ``K`` stages (``True`` = 30), as in
        :func:`spinlens.meanfield.tap`.
    rng : seed or Generator for the random starts.

    Returns
    -------
    MFResult with ``m`` of shape (n,) for one start (``m0`` 1-D or None and ``n_starts == 1``), else (b, n).
    """
    model = _core.check_model(model)
    beta = _core.check_beta(beta)
    damping, max_iter, tol = _core.check_iter_args(damping, max_iter, tol)
    n = model.n_spins
    n_rows, single = _core.check_starts(n_starts, m0)
    K = _core.anneal_steps(anneal)
    M0 = _core.initial_state(n, n_rows, m0, as_generator(rng), scale=1e-3 if K else 1.0)
    J, J2 = _core.couplings(model)
    betas = np.full(n_rows, beta)
    out = _core.iterate(J, None, model.h, betas, M0, damping=damping, max_iter=max_iter, tol=tol, anneal_steps=K)
    F = _core.beta_free_energy(J, J2, model.h, out.M, betas, reaction=False) / beta
    if single:
        return MFResult(
            m=out.M[0], free_energy=float(F[0]), converged=bool(out.converged[0]),
            residual=float(out.residual[0]), n_iter=int(out.n_iter[0]), beta=beta,
        )
    return MFResult(m=out.M, free_energy=F, converged=out.converged, residual=out.residual,
                    n_iter=out.n_iter, beta=beta)
