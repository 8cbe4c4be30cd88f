r"""Hessian of the TAP free energy and the stability of the paramagnet.

Hessian of :math:`\beta F_{TAP}` (see :mod:`spinlens.meanfield.tap`) at a general ``m``:

.. math:: A_{ij} = \delta_{ij}\Big[\frac{1}{1-m_i^2} + \beta^2 \sum_k J_{ik}^2 (1-m_k^2)\Big]
                   - \beta J_{ij} - 2\beta^2 J_{ij}^2 m_i m_j \quad (i \ne j),

at the paramagnet (``m = 0``): :math:`A = I + \beta^2 D - \beta J`, :math:`D = \mathrm{diag}(d_i)`,
:math:`d_i = \sum_k J_{ik}^2`. The paramagnet is locally stable while
:math:`f(T) = T\,\lambda_{\min}(A) = \lambda_{\min}(T I + D/T - J) > 0`; for SK
:math:`f(T) = (\sqrt T - 1/\sqrt T)^2` touches zero at :math:`T = 1` (glass), an outlier eigenvalue of J
makes ``f < 0`` on an interval (hidden order). See SCIENCE.md ("Transition from the TAP paramagnet").
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from spinlens.meanfield import _core
from spinlens.spins.model import IsingModel, as_count, as_real, as_real_array

__all__ = ["lowest_eigenpairs", "paramagnet_hessian", "paramagnet_stability", "tap_hessian"]

log = logging.getLogger(__name__)

_DENSE_MAX = 1500  # below this size dense eigh is fast and exact


def paramagnet_hessian(model: IsingModel, beta: float) -> Any:
    r""":math:`A_{ij} = \delta_{ij}(1 + \beta^2 d_i) - \beta J_{ij}`, :math:`d_i=\sum_k J_{ik}^2`.

    Returns a CSR matrix when the model is sparse, else a dense (n, n) array.
    """
    model = _core.check_model(model)
    beta = _core.check_beta(beta)
    d = model.coupling_square_sums()
    diag = 1.0 + beta**2 * d
    if model.is_sparse:
        return (sp.diags(diag) - beta * model.csr()).tocsr()
    A = -beta * model.J
    A[np.diag_indices_from(A)] += diag
    return A


def tap_hessian(model: IsingModel, m: Any, beta: float) -> Any:
    r"""Hessian of :math:`\beta F_{TAP}` at ``m`` (formula in the module docstring); sparse when J is sparse.

    Raises ``ValueError`` when some :math:`|m_i| = 1` (the entropy term diverges there).
    """
    model = _core.check_model(model)
    beta = _core.check_beta(beta)
    mv = _core.check_m(m, model.n_spins)
    if mv.ndim != 1:
        raise ValueError(f"m must be one magnetisation vector of shape ({model.n_spins},).")
    if np.any(np.abs(mv) >= 1.0):
        raise ValueError("tap_hessian needs |m_i| < 1 for every spin (the entropy Hessian 1/(1-m^2) diverges).")
    J, J2 = _core.couplings(model)
    v = 1.0 - mv * mv
    diag = 1.0 / v + beta**2 * (J2 @ v)
    if sp.issparse(J):
        Dm = sp.diags(mv)
        A = sp.diags(diag) - beta * J - 2.0 * beta**2 * (Dm @ J2 @ Dm)
        return sp.csr_matrix(A)
    A = -beta * J - 2.0 * beta**2 * J2 * np.outer(mv, mv)
    A[np.diag_indices_from(A)] += diag
    return A


def lowest_eigenpairs(A: Any, k: int = 1, *, tol: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest eigenvalues (ascending) and eigenvectors ``(n, k)`` of a symmetric matrix.

    Dense matrices up to 1500 rows use LAPACK ``eigh`` (subset by index); sparse or larger ones use ARPACK
    ``eigsh(which='SA')``.
    """
    if not sp.issparse(A):
        A = as_real_array(A, "A (the matrix)", ndim=2)
    elif A.dtype.kind not in "biuf" or not np.all(np.isfinite(A.data)):
        raise ValueError("A (the matrix) must hold finite real numbers.")
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise ValueError(f"A must be a square matrix, got shape {A.shape}.")
    n = A.shape[0]
    scale = max(1.0, float(abs(A).max()))
    if float(abs(A - A.T).max()) > 1e-10 * scale:
        raise ValueError("A (the matrix) must be symmetric; symmetrise it, e.g. (A + A.T) / 2.")
    k = as_count(k, "k", minimum=1)
    tol = as_real(tol, "tol", low=0.0)
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and n = {n}, got {k}.")
    if not sp.issparse(A) and (n <= _DENSE_MAX or k >= n - 1):
        w, V = sla.eigh(np.asarray(A), subset_by_index=[0, k - 1])
        return w, V
    if sp.issparse(A) and (n <= 64 or k >= n - 1):
        w, V = sla.eigh(A.toarray(), subset_by_index=[0, k - 1])
        return w, V
    with _core.single_thread_blas():
        w, V = spla.eigsh(A, k=k, which="SA", tol=tol)
    order = np.argsort(w)
    return w[order], V[:, order]


def paramagnet_stability(model: IsingModel, temperatures: Any, k: int = 1, *, tol: float = 1e-5) -> np.ndarray:
    r""":math:`f(T) = \lambda_{\min}(T I + D/T - J) = T\,\lambda_{\min}(A(\beta = 1/T))` on a temperature grid.

    Parameters
    ----------
    model : IsingModel (dense or sparse).
    temperatures : (n_T,) positive temperatures.
    k : number of lowest eigenvalues per temperature.
    tol : residual tolerance :math:`\|M x - \theta x\| / \max(1, \max_i d_i)` of accepted eigenpairs
        (eigenvalue error about ``tol**2 / gap``).

    Returns
    -------
    (n_T,) array for ``k == 1``, else (n_T, k) (ascending in each row).

    Notes
    -----
    Uniform ``d_i = d`` (lattices, regular graphs) reduces to one eigenproblem of J:
    :math:`f(T) = T + d/T - \lambda_{\max}(J)`. Small dense models use ``eigh`` per temperature.
    Larger models use an adaptive reduced basis: eigenvectors from a few ARPACK anchor temperatures
    span a small subspace in which every other temperature is a tiny Rayleigh–Ritz problem, accepted
    only when its residual passes ``tol`` (else that temperature becomes a new anchor).
    """
    model = _core.check_model(model)
    if isinstance(temperatures, (str, bytes)) or temperatures is None:
        raise ValueError(f"temperatures must be a non-empty 1-D array of positive numbers, got {temperatures!r}.")
    T = np.atleast_1d(as_real_array(temperatures, "temperatures", allow_empty=True, finite=False))
    if T.ndim != 1 or T.size == 0 or not np.all(np.isfinite(T)) or np.any(T <= 0):
        raise ValueError("temperatures must be a non-empty 1-D array of finite positive numbers.")
    n = model.n_spins
    k = as_count(k, "k", minimum=1)
    tol = as_real(tol, "tol", low=0.0, low_open=True)
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and n_spins = {n}, got {k}.")
    d = model.coupling_square_sums()
    J = model.J
    out = np.empty((T.size, k))
    if np.ptp(d) <= 1e-12 * max(1.0, float(np.max(np.abs(d)))):
        lam = _top_eigvals(J, k)  # descending: largest eigenvalues of J
        out[:] = T[:, None] + d[0] / T[:, None] - lam[None, :]
        return out[:, 0] if k == 1 else out
    if n <= 300:
        Jd = model.dense_J()
        for t_i, t in enumerate(T):
            Mt = -np.array(Jd)
            Mt[np.diag_indices_from(Mt)] += d / t
            out[t_i] = t + sla.eigh(Mt, eigvals_only=True, subset_by_index=[0, k - 1])
        return out[:, 0] if k == 1 else out
    Jop = model.csr() if model.is_sparse else np.asarray(J)
    with _core.single_thread_blas():  # ARPACK matrix-vector products and tiny Rayleigh-Ritz problems
        out[:] = _reduced_basis_scan(Jop, d, T, k, tol)
    return out[:, 0] if k == 1 else out


def _reduced_basis_scan(J: Any, d: np.ndarray, T: np.ndarray, k: int, tol: float) -> np.ndarray:
    r"""Lowest ``k`` eigenvalues of :math:`M(T) = D/T - J` over a grid, by an adaptive reduced basis.

    A basis ``V`` collects the lowest eigenvectors found at a few anchor temperatures. At each
    temperature the Rayleigh–Ritz problem :math:`V^\top M(T) V = (V^\top D V)/T - V^\top J V`
    (tiny) gives Ritz pairs; they are accepted when every residual :math:`\|M x - \theta x\|` is below
    ``tol`` (eigenvalue error :math:`\lesssim` tol^2 / gap), otherwise ARPACK solves that temperature,
    warm-started from the Ritz vector, and its eigenvectors join the basis.
    """
    n = d.size
    n_vec = min(n - 1, k + 10)
    out = np.empty((T.size, k))
    V = np.zeros((n, 0))
    VDV = np.zeros((0, 0))
    VJV = np.zeros((0, 0))
    scale = max(1.0, float(np.max(np.abs(d))))

    def matmat(X: np.ndarray, t: float) -> np.ndarray:
        return (d / t)[:, None] * X - np.asarray(J @ X)

    for t_i in np.argsort(T)[::-1]:
        t = float(T[t_i])
        v0 = None
        if V.shape[1] >= k:
            w, Y = sla.eigh(VDV / t - VJV)
            X = V @ Y[:, :k]
            R = matmat(X, t) - X * w[:k]
            xn = np.linalg.norm(X, axis=0)
            if np.all(np.abs(xn - 1.0) < 1e-6) and np.all(np.linalg.norm(R, axis=0) <= tol * scale):
                out[t_i] = t + w[:k]
                continue
            v0 = X[:, 0]
        Mt = spla.LinearOperator((n, n), matvec=lambda x, t=t: matmat(x[:, None], t)[:, 0],
                                 matmat=lambda X, t=t: matmat(X, t), dtype=np.float64)
        w_a, X_a = spla.eigsh(Mt, k=n_vec, which="SA", tol=1e-12, v0=v0)
        srt = np.argsort(w_a)
        out[t_i] = t + w_a[srt][:k]
        log.debug("paramagnet_stability: ARPACK anchor at T=%g (basis %d)", t, V.shape[1])
        # grow the basis with the new eigenvectors (orthogonalised against it)
        Xn = X_a[:, srt]
        if V.shape[1]:
            for _ in range(2):  # Gram-Schmidt twice keeps the basis orthonormal to working precision
                Xn = Xn - V @ (V.T @ Xn)
        Q, Rq = np.linalg.qr(Xn)
        keep = np.abs(np.diag(Rq)) > 1e-6
        Q = Q[:, keep]
        if V.shape[1] and Q.shape[1]:
            Q = Q - V @ (V.T @ Q)
            Q, _ = np.linalg.qr(Q)
        Q = Q[:, keep]
        V = np.hstack([V, Q])
        VDV = V.T @ (d[:, None] * V)
        JV = np.asarray(J @ V)
        VJV = 0.5 * (V.T @ JV + (V.T @ JV).T)
    return out


def _top_eigvals(J: Any, k: int) -> np.ndarray:
    n = J.shape[0]
    if not sp.issparse(J) and n <= _DENSE_MAX or n <= 64:
        A = J.toarray() if sp.issparse(J) else J
        return sla.eigh(A, eigvals_only=True, subset_by_index=[n - k, n - 1])[::-1]
    with _core.single_thread_blas():
        w = spla.eigsh(J, k=k, which="LA", return_eigenvectors=False)
    return np.sort(w)[::-1]
