"""Shared array kernels of the mean-field solvers: validation, batched fixed-point iteration, free energies.

All iterations work on a batch of magnetisation vectors ``M`` of shape ``(b, n)`` (random starts or
temperatures), each row with its own inverse temperature, so one sparse/dense matrix product serves
the whole batch.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import xlogy

from spinlens.spins.model import IsingModel, as_count, as_positive, as_real, as_real_array
from spinlens.spins.model import check_model as _check_model

__all__: list[str] = []

_CHECK = 50
_FEW_ROWS = 8


def blas_threads(n: int) -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS to ``n`` threads inside the block (threadpoolctl comes with scikit-learn, a dependency)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=int(n), user_api="blas")


def single_thread_blas() -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS to one thread inside the block (matrix-vector-bound loops: ARPACK, few-row iterations).

    Matrix-vector products are memory bound, so extra BLAS threads gain little; threaded OpenBLAS
    spin-waits between calls, which on a shared or oversubscribed machine costs 10-20x in CPU time.
    """
    return blas_threads(1)


def check_model(model: Any) -> IsingModel:
    return _check_model(model)


def check_beta(beta: Any, name: str = "beta") -> float:
    return as_positive(beta, f"{name} (inverse temperature)")


def check_iter_args(damping: float, max_iter: int, tol: float) -> tuple[float, int, float]:
    damping = as_real(damping, "damping (0 = no damping)", low=0.0, high=1.0, high_open=True)
    return damping, as_count(max_iter, "max_iter", minimum=1), as_positive(tol, "tol")


def check_starts(n_starts: int, m0: Any) -> tuple[int, bool]:
    """``(rows, single)``: how many solutions to iterate, and whether the caller wants one 1-D ``m`` back.

    A 2-D ``m0`` sets the number of rows (``n_starts`` must be 1 or match it).
    """
    n_starts = as_count(n_starts, "n_starts", minimum=1)
    if m0 is not None and np.ndim(m0) == 2:
        if n_starts not in (1, np.shape(m0)[0]):
            raise ValueError(f"m0 has {np.shape(m0)[0]} rows but n_starts = {n_starts}.")
        return int(np.shape(m0)[0]), False
    return n_starts, n_starts == 1


def check_m(m: Any, n: int, name: str = "m") -> np.ndarray:
    M = as_real_array(m, name, allow_empty=True, finite=False)
    if M.ndim not in (1, 2) or M.shape[-1] != n or M.size == 0:
        raise ValueError(f"{name} must have shape ({n},) or (b, {n}), got {M.shape}.")
    if not np.all(np.isfinite(M)) or np.any(np.abs(M) > 1.0):
        raise ValueError(f"{name} must hold finite magnetisations in [-1, 1].")
    return M


_DEFAULT_ANNEAL_STAGES = 30


def anneal_steps(anneal: Any) -> int:
    """Number of annealing stages from ``anneal`` (``True`` = 30, ``False``/None = 0, or an int >= 0)."""
    if anneal is True:
        return _DEFAULT_ANNEAL_STAGES
    if anneal is False or anneal is None:
        return 0
    try:
        return as_count(anneal, "anneal", minimum=0)
    except ValueError:
        raise ValueError(f"anneal must be a bool or a non-negative number of stages, got {anneal!r}.") from None


def couplings(model: IsingModel) -> tuple[Any, Any]:
    """``(J, J∘J)`` as CSR (sparse models) or dense arrays."""
    J = model.J
    if sp.issparse(J):
        J = sp.csr_matrix(J)
        return J, J.multiply(J).tocsr()
    return J, J * J


def matmul_rows(J: Any, M: np.ndarray) -> np.ndarray:
    """Row-wise ``J @ m`` for every row of ``M`` (J symmetric): ``(b, n) -> (b, n)``."""
    if sp.issparse(J):
        return np.ascontiguousarray(np.asarray(J @ M.T).T)
    return M @ J


def entropy_term(M: np.ndarray) -> np.ndarray:
    r""":math:`\sum_i [\frac{1+m_i}{2}\ln\frac{1+m_i}{2} + \frac{1-m_i}{2}\ln\frac{1-m_i}{2}]` (minus the entropy)."""
    p = 0.5 * (1.0 + M)
    q = 0.5 * (1.0 - M)
    return np.sum(xlogy(p, p) + xlogy(q, q), axis=-1)


def beta_free_energy(
    J: Any, J2: Any, h: np.ndarray, M: np.ndarray, betas: np.ndarray, reaction: bool
) -> np.ndarray:
    r"""Row-wise :math:`\beta F` (naive: ``reaction=False``; TAP/Plefka second order: ``reaction=True``)."""
    M2 = np.atleast_2d(M)
    JM = matmul_rows(J, M2)
    bf = entropy_term(M2) - betas * (0.5 * np.einsum("bi,bi->b", M2, JM) + M2 @ h)
    if reaction:
        V = 1.0 - M2 * M2
        bf = bf - 0.25 * betas**2 * np.einsum("bi,bi->b", V, matmul_rows(J2, V))
    return bf


@dataclass
class IterOut:
    M: np.ndarray
    converged: np.ndarray
    residual: np.ndarray
    n_iter: np.ndarray


def _few_rows_one_blas_thread(fn: Callable[..., IterOut]) -> Callable[..., IterOut]:
    """Run ``fn(J, J2, h, betas, M0, ...)`` with one BLAS thread when ``M0`` has few rows (matrix-vector
    bound: extra threads gain little and spin-wait; see :func:`single_thread_blas`)."""

    @functools.wraps(fn)
    def run(J: Any, J2: Any | None, h: np.ndarray, betas: np.ndarray, M0: np.ndarray, **kw: Any) -> IterOut:
        with single_thread_blas() if M0.shape[0] <= _FEW_ROWS else contextlib.nullcontext():
            return fn(J, J2, h, betas, M0, **kw)

    return run


@_few_rows_one_blas_thread
def iterate(
    J: Any,
    J2: Any | None,
    h: np.ndarray,
    betas: np.ndarray,
    M0: np.ndarray,
    *,
    damping: float,
    max_iter: int,
    tol: float,
    amp: bool = False,
    anneal_steps: int = 0,
    stage_iter: int = 30,
) -> IterOut:
    r"""Damped parallel fixed-point iteration for a batch of rows.

    Naive mean field (``J2 is None``): :math:`m \leftarrow \tanh(\beta h + \beta J m)`.
    TAP: :math:`m^{t+1} = \tanh(\beta h + \beta J m^t - \beta^2 m^{s} \odot (J^{\circ 2} (1 - (m^t)^2)))`,
    with :math:`s = t - 1` (AMP / Bolthausen time indexing, ``amp=True``) or :math:`s = t`.
    The damped step is :math:`m \leftarrow \text{damping}\, m^t + (1-\text{damping})\, m^{t+1}`.

    A row whose update keeps reversing direction while its residual fails to halve over 50 iterations
    gets its damping raised,
    :math:`d \leftarrow 1 - (1 - d)/2` (at most 0.99): this removes the period-2 oscillations of the
    parallel update in strongly coupled or glassy models.

    Annealing (``anneal_steps = K > 0``): every row follows the shared schedule
    :math:`\beta_k = \beta_{\max} k / K` (capped at its own target), ``stage_iter`` iterations per stage,
    starting from the high-temperature paramagnet (rows whose state decayed below half the size of their
    initial perturbation are re-seeded with it at each new stage, so that symmetry can break);
    rows then iterate at their target until converged.
    The residual is :math:`\max_i |m_i - \mathrm{rhs}_i(m)|` of the exact (non-AMP) equations at the target beta.
    """
    b, n = M0.shape
    M = M0.copy()
    M_prev = M.copy()
    targets = np.asarray(betas, dtype=np.float64).reshape(b)
    active = np.ones(b, dtype=bool)
    converged = np.zeros(b, dtype=bool)
    residual = np.full(b, np.inf)
    n_iter = np.zeros(b, dtype=np.int64)
    bmax = float(np.max(targets))
    seed_size = np.max(np.abs(M0), axis=1) if n else np.zeros(b)
    dmp = np.full(b, damping)
    res_ref = np.full(b, np.inf)
    since_check = np.zeros(b, dtype=np.int64)
    osc = np.zeros(b, dtype=np.int64)
    prev_delta = np.zeros_like(M)
    stage = 1 if anneal_steps > 0 else 0
    in_stage = 0
    total = max_iter + (anneal_steps * stage_iter if anneal_steps > 0 else 0)
    for _ in range(total):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        Ma = M[idx]
        if stage:
            cur = np.minimum(targets[idx], bmax * stage / anneal_steps)
        else:
            cur = targets[idx]
        bcol = cur[:, None]
        field = bcol * (h + matmul_rows(J, Ma))
        if J2 is not None:
            R = bcol**2 * matmul_rows(J2, 1.0 - Ma * Ma)
            exact = np.tanh(field - R * Ma)
            new = np.tanh(field - R * M_prev[idx]) if amp else exact
        else:
            exact = np.tanh(field)
            new = exact
        res = np.max(np.abs(exact - Ma), axis=1) if n else np.zeros(idx.size)
        at_target = cur >= targets[idx]
        residual[idx] = np.where(at_target, res, np.inf)
        done = at_target & (res < tol)
        n_iter[idx] += 1
        # adaptive damping: a row at its target whose update keeps reversing direction (period-2 oscillation
        # of the parallel update) without its residual halving over `_CHECK` iterations gets more damping
        delta = new - Ma
        osc[idx] += np.einsum("bi,bi->b", delta, prev_delta[idx]) < 0.0
        prev_delta[idx] = delta
        since_check[idx] += 1
        chk = idx[(since_check[idx] >= _CHECK) & at_target]
        if chk.size:
            bad = (residual[chk] >= 0.5 * res_ref[chk]) & (osc[chk] > _CHECK // 2)
            dmp[chk[bad]] = np.minimum(0.99, 1.0 - 0.5 * (1.0 - dmp[chk[bad]]))
            res_ref[chk] = residual[chk]
            since_check[chk] = 0
            osc[chk] = 0
        dcol = dmp[idx][:, None]
        upd = dcol * Ma + (1.0 - dcol) * new
        M_prev[idx] = Ma
        # rows that are done keep their (converged) state
        keep = ~done
        M[idx[keep]] = upd[keep]
        converged[idx[done]] = True
        active[idx[done]] = False
        if stage:
            in_stage += 1
            if in_stage >= stage_iter or np.all(res[keep] < max(tol, 1e-6)):
                stage += 1
                in_stage = 0
                # keep the symmetry-breaking seed alive: rows that decayed onto the paramagnet restart
                # from their initial perturbation at the next (colder) stage
                act = np.flatnonzero(active & (bmax * stage / max(anneal_steps, 1) < targets))
                small = act[np.max(np.abs(M[act]), axis=1) < 0.5 * seed_size[act]]
                M[small] = M0[small]
                M_prev[small] = M0[small]
                if stage >= anneal_steps:
                    stage = 0  # schedule finished: every row is at its target
    # final residual of rows that ran out of iterations (and so were never frozen)
    left = np.flatnonzero(active)
    if left.size:
        residual[left] = _residual(J, J2, h, targets[left], M[left])
    return IterOut(M=M, converged=converged, residual=residual, n_iter=n_iter)


def _residual(J: Any, J2: Any | None, h: np.ndarray, betas: np.ndarray, M: np.ndarray) -> np.ndarray:
    bcol = betas[:, None]
    field = bcol * (h + matmul_rows(J, M))
    if J2 is not None:
        field = field - bcol**2 * matmul_rows(J2, 1.0 - M * M) * M
    return np.max(np.abs(np.tanh(field) - M), axis=1) if M.shape[1] else np.zeros(M.shape[0])


def initial_state(
    n: int, n_rows: int, m0: Any, rng: np.random.Generator, scale: float = 1.0
) -> np.ndarray:
    """Starting magnetisations: ``m0`` broadcast to ``(n_rows, n)`` or uniform random in ``(-scale, scale)``."""
    if m0 is None:
        return rng.uniform(-scale, scale, size=(n_rows, n))
    M = check_m(m0, n, "m0")
    if M.ndim == 1:
        return np.broadcast_to(M, (n_rows, n)).copy()
    if M.shape[0] != n_rows:
        raise ValueError(f"m0 has {M.shape[0]} rows but {n_rows} starts were asked for.")
    return M
