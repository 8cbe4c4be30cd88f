"""Hessian operators of a loss: Hessian-vector products, Lanczos eigenpairs, traces and spectral densities.

Everything is matrix-free: the Hessian ``H = d^2 L / d theta^2`` of the mean loss over the data is only
touched through Hessian-vector products (Pearlmutter 1994), computed either by double backward
(``grad(<grad L, v>)``, default; for tensor data the gradient graph is built once and reused) or by
forward-over-reverse (``torch.func.jvp`` of ``torch.func.grad``). Several vectors are multiplied in one
batched call (``is_grads_batched`` / ``vmap``).

* :func:`hessian_eigs` — Lanczos with full reorthogonalisation; signed top-k / bottom-k (most negative)
  eigenpairs.
* :func:`hessian_trace` — Hutchinson (Rademacher probes) and Hutch++ (Meyer, Musco, Musco & Woodruff 2021)
  with a standard error.
* :func:`spectral_density` — stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017; Ghorbani, Krishnan &
  Xiao 2019) with Gaussian broadening.
* :func:`curvature_fd` — forward-only finite differences ``(L(θ+εu) + L(θ−εu) − 2L(θ))/ε² = uᵀHu + O(ε²)``.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, as_generator
from spinlens.landscape._problem import LossFn, Problem
from spinlens.results import Estimate, Result
from spinlens.spins.model import _describe, as_count, as_positive, as_real_array

__all__ = [
    "HessianOperator",
    "HessianEigs",
    "HessianTrace",
    "SpectralDensity",
    "CurvatureFD",
    "hessian_eigs",
    "hessian_trace",
    "spectral_density",
    "curvature_fd",
    "lanczos",
]

_BACKENDS = ("double_backward", "forward_over_reverse")


class HessianOperator:
    """The Hessian of ``loss_fn(model(inputs), targets)`` (mean over ``data``) as a linear operator.

    Parameters
    ----------
    model, loss_fn, data : see :class:`spinlens.landscape._problem.Problem`; ``data`` is
        ``(inputs, targets)`` or a DataLoader.
    params : restrict to these parameter names or prefixes (per-layer Hessian); ``None`` = all trainable.
    backend : ``"double_backward"`` (default) or ``"forward_over_reverse"``.
    dtype : e.g. ``torch.float64`` for accurate spectra (model and data are cast, the module is untouched).
    device : default CUDA when available, else CPU.

    ``matvec(v)`` takes ``v`` of shape (N,) or (k, N) and returns ``H v`` of the same shape.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        data: Any,
        params: Sequence[str] | str | None = None,
        backend: str = "double_backward",
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        if backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}.")
        self.problem = Problem(model, loss_fn, data, params=params, dtype=dtype, device=device)
        self.backend = backend
        self.n_matvec = 0
        self._grad_graph: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def n_params(self) -> int:
        return self.problem.n_params

    @property
    def theta0(self) -> torch.Tensor:
        return self.problem.theta0

    @property
    def dtype(self) -> torch.dtype:
        return self.problem.dtype

    @property
    def device(self) -> torch.device:
        return self.problem.device

    def loss(self, theta: torch.Tensor | None = None) -> float:
        with torch.no_grad():
            return float(self.problem.loss(self.theta0 if theta is None else theta))

    def gradient(self) -> torch.Tensor:
        theta = self.theta0.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(self.problem.loss(theta), theta)
        return g.detach()

    # ------------------------------------------------------------------ products
    def _db_single_batch(self, V: torch.Tensor) -> torch.Tensor:
        if self._grad_graph is None:
            theta = self.theta0.detach().clone().requires_grad_(True)
            (g,) = torch.autograd.grad(self.problem.batch_loss(theta, 0), theta, create_graph=True)
            self._grad_graph = (theta, g)
        theta, g = self._grad_graph
        if V.shape[0] == 1 or V.device.type == "cpu":
            # on the CPU a loop of single products beats vmapped backward (measured ~2x)
            return torch.stack([torch.autograd.grad(g, theta, v, retain_graph=True)[0] for v in V])
        try:
            (hv,) = torch.autograd.grad(g, theta, V, retain_graph=True, is_grads_batched=True)
            return hv
        except RuntimeError:  # an op without a batching rule: fall back to a loop
            return torch.stack([torch.autograd.grad(g, theta, v, retain_graph=True)[0] for v in V])

    def _db_batches(self, V: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(V)
        for b, w in enumerate(self.problem.weights):
            theta = self.theta0.detach().clone().requires_grad_(True)
            (g,) = torch.autograd.grad(self.problem.batch_loss(theta, b), theta, create_graph=True)
            for i in range(V.shape[0]):
                (hv,) = torch.autograd.grad(g, theta, V[i], retain_graph=i < V.shape[0] - 1)
                out[i] += w * hv
        return out

    def _for(self, V: torch.Tensor) -> torch.Tensor:
        from torch.func import grad, jvp, vmap

        theta = self.theta0.detach()
        out = torch.zeros_like(V)
        for b, w in enumerate(self.problem.weights):
            f = lambda t, b=b: self.problem.batch_loss(t, b)  # noqa: E731
            hvp = lambda v, f=f: jvp(grad(f), (theta,), (v,))[1]  # noqa: E731
            out += w * (vmap(hvp)(V) if V.shape[0] > 1 else hvp(V[0])[None])
        return out

    def matvec(self, v: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``H v`` for ``v`` of shape (N,) or a batch (k, N)."""
        V = torch.as_tensor(v, dtype=self.dtype, device=self.device)
        single = V.ndim == 1
        V = V.reshape(1, -1) if single else V
        if V.shape[1] != self.n_params:
            raise ValueError(f"vector has {V.shape[1]} entries, the operator acts on {self.n_params}.")
        if self.backend == "forward_over_reverse":
            out = self._for(V)
        elif len(self.problem.batches) == 1:
            out = self._db_single_batch(V)
        else:
            out = self._db_batches(V)
        self.n_matvec += V.shape[0]
        out = out.detach()
        return out[0] if single else out

    __matmul__ = matvec


def _as_operator(
    model: nn.Module | HessianOperator, loss_fn: LossFn | None, data: Any, **kw: Any
) -> HessianOperator:
    if isinstance(model, HessianOperator):
        return model
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module or a HessianOperator, got {type(model).__name__} "
                        f"({_describe(model)}).")
    if loss_fn is None or data is None:
        raise ValueError("loss_fn and data are required unless a HessianOperator is passed as the model.")
    return HessianOperator(model, loss_fn, data, **kw)


# ---------------------------------------------------------------------- Lanczos
def lanczos(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    v0: torch.Tensor,
    n_steps: int,
    store_basis: bool = True,
    check: Callable[[np.ndarray, np.ndarray, int], bool] | None = None,
    check_every: int = 5,
) -> tuple[np.ndarray, np.ndarray, torch.Tensor | None]:
    """Lanczos tridiagonalisation with full reorthogonalisation, for one or a batch of start vectors.

    For start vectors ``v0`` of shape (N,) or (b, N) run ``m = n_steps`` steps of
    ``beta_{j} q_{j+1} = H q_j - alpha_j q_j - beta_{j-1} q_{j-1}`` with ``alpha_j = q_jᵀ H q_j``, each new
    vector re-orthogonalised against all previous ones by classical Gram–Schmidt, repeated once when the pass
    shrank the vector below 1/√2 of its norm (the DGKS criterion; "twice is enough").
    Returns ``alpha`` (b, m), ``beta`` (b, m) (the last entry is the residual norm ``beta_m``) and the basis
    ``Q`` (b, m, N) (or ``None``). ``check(alpha, beta, j)`` may stop early (single vector only).
    A breakdown (``beta ≈ 0``: an invariant subspace) restarts with a random orthogonal vector and a zero
    coupling, so the run continues to the full space.
    """
    if not callable(matvec):
        raise TypeError(f"matvec must be callable as matvec(v) -> H v, got {type(matvec).__name__}.")
    if not isinstance(v0, torch.Tensor):
        raise TypeError(f"v0 must be a torch.Tensor of shape (N,) or (b, N), got {type(v0).__name__} "
                        f"({_describe(v0)}); wrap an array with torch.as_tensor.")
    if v0.ndim not in (1, 2) or v0.numel() == 0 or not v0.is_floating_point():
        raise ValueError(f"v0 must be a non-empty floating-point tensor of shape (N,) or (b, N), got shape "
                         f"{tuple(v0.shape)} and dtype {v0.dtype}.")
    if not bool(torch.isfinite(v0).all()):
        raise ValueError("v0 contains NaN or inf; the start vectors must be finite.")
    n_steps = as_count(n_steps, "n_steps", minimum=1)
    check_every = as_count(check_every, "check_every", minimum=1)
    single = v0.ndim == 1
    V = v0.reshape(1, -1) if single else v0
    if bool((torch.linalg.vector_norm(V, dim=1) == 0).any()):
        raise ValueError("v0 is (or holds) a zero vector; Lanczos needs non-zero start vectors.")
    b, n = V.shape
    m = int(min(n_steps, n))
    Q = torch.zeros(b, m, n, dtype=V.dtype, device=V.device)
    alpha = np.zeros((b, m))
    beta = np.zeros((b, m))
    q = V / torch.linalg.vector_norm(V, dim=1, keepdim=True)
    gen = torch.Generator(device="cpu").manual_seed(12345)
    j_done = m
    for j in range(m):
        Q[:, j] = q
        w = matvec(q if not single else q[0]).reshape(b, n)
        a = (w * q).sum(1)
        alpha[:, j] = a.double().cpu().numpy()
        w = w - a[:, None] * q
        if j > 0:
            w = w - torch.as_tensor(beta[:, j - 1], dtype=w.dtype, device=w.device)[:, None] * Q[:, j - 1]
        # classical Gram–Schmidt against the whole basis; a second pass only where the first removed a large
        # part of w (Daniel–Gragg–Kaufman–Stewart criterion ||w_new|| < ||w_old||/√2; "twice is enough")
        for _ in range(2):
            n_before = torch.linalg.vector_norm(w, dim=1)
            coeff = torch.einsum("bjn,bn->bj", Q[:, : j + 1], w)
            w = w - torch.einsum("bjn,bj->bn", Q[:, : j + 1], coeff)
            nb = torch.linalg.vector_norm(w, dim=1)
            if not bool((nb < n_before * 0.7071067811865476).any()):
                break
        beta[:, j] = nb.double().cpu().numpy()
        if check is not None and (j + 1) % check_every == 0 and check(alpha[0, : j + 1], beta[0, : j + 1], j + 1):
            j_done = j + 1
            break
        if j + 1 == m:
            break
        scale = float(np.max(np.abs(alpha[:, : j + 1]))) + 1e-300
        small = (beta[:, j] <= 1e-12 * scale)
        if small.any():
            r = torch.randn(b, n, generator=gen, dtype=torch.float64).to(w.device, w.dtype)
            for _ in range(2):
                coeff = torch.einsum("bjn,bn->bj", Q[:, : j + 1], r)
                r = r - torch.einsum("bjn,bj->bn", Q[:, : j + 1], coeff)
            idx = torch.as_tensor(small, device=w.device)
            w = torch.where(idx[:, None], r, w)
            beta[small, j] = 0.0
            nb = torch.linalg.vector_norm(w, dim=1)
        q = w / nb[:, None]
    Qo = Q[:, :j_done] if store_basis else None
    return alpha[:, :j_done], beta[:, :j_done], Qo


def _tridiag_eigh(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.linalg import eigh_tridiagonal

    m = len(alpha)
    if m == 1:
        return alpha.copy(), np.ones((1, 1))
    return eigh_tridiagonal(alpha, beta[: m - 1])


# ---------------------------------------------------------------------- results
@dataclasses.dataclass(frozen=True)
class HessianEigs(Result):
    """Signed extreme eigenpairs of a Hessian.

    ``eigenvalues`` (k,) in decreasing order for ``which="top"``, increasing (most negative first) for
    ``"bottom"``, and top-k followed by bottom-k for ``"both"``; ``eigenvectors`` (k, N) unit rows in the
    order of the flat parameter vector; ``residuals`` ``||H v − λ v||``; ``n_matvec`` Hessian-vector products.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    residuals: np.ndarray
    which: str
    n_matvec: int
    n_params: int
    ritz_values: np.ndarray


@dataclasses.dataclass(frozen=True)
class HessianTrace(Result):
    """``trace`` (an :class:`Estimate` with its standard error), the per-probe ``samples`` and the method."""

    trace: Estimate
    method: str
    n_matvec: int
    n_params: int
    samples: np.ndarray
    deflated_part: float

    @property
    def mean_eigenvalue(self) -> float:
        return self.trace.mean / self.n_params


@dataclasses.dataclass(frozen=True)
class SpectralDensity(Result):
    """SLQ estimate of the eigenvalue density on ``grid``: ``density`` integrates to about 1.

    ``nodes`` and ``weights`` (n_vectors, m) are the Gauss quadrature rules (Ritz values and squared first
    components), ``sigma`` the Gaussian broadening width.
    """

    grid: np.ndarray
    density: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    sigma: float
    n_matvec: int
    n_params: int

    def moment(self, p: int) -> float:
        """``(1/N) tr H^p`` estimated from the quadrature rule."""
        return float(np.mean(np.sum(self.weights * self.nodes**p, axis=1)))


@dataclasses.dataclass(frozen=True)
class CurvatureFD(Result):
    """Forward-only curvatures ``κ_u = uᵀHu`` along random unit directions and the trace ``N·mean(κ)``."""

    curvatures: np.ndarray
    mean_curvature: Estimate
    trace: Estimate
    eps: float
    n_params: int


# ---------------------------------------------------------------------- public functions
def _op_kw(params: Any, backend: str, dtype: Any, device: Any) -> dict[str, Any]:
    return {"params": params, "backend": backend, "dtype": dtype, "device": device}


def hessian_eigs(
    model: nn.Module | HessianOperator,
    loss_fn: LossFn | None = None,
    data: Any = None,
    k: int = 1,
    which: str = "top",
    *,
    tol: float = 1e-6,
    max_iter: int | None = None,
    params: Sequence[str] | str | None = None,
    backend: str = "double_backward",
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
) -> HessianEigs:
    """Signed extreme eigenpairs of the loss Hessian by Lanczos with full reorthogonalisation.

    ``which="top"`` gives the k largest (most positive) eigenvalues, ``"bottom"`` the k most negative
    (smallest signed, *not* smallest in magnitude — unlike power iteration, which finds max |λ|),
    ``"both"`` both ends from one Krylov space. The Krylov space grows until every wanted Ritz pair
    ``(θ_i, y_i = Q s_i)`` has residual ``||H y_i − θ_i y_i|| = β_m |s_{m,i}| <= tol · max|θ|``
    (Paige 1971), or ``max_iter`` (default ``min(N, max(60, 10k))``) steps were taken.

    Parameters
    ----------
    model : an ``nn.Module`` (with ``loss_fn`` and ``data``) or a prepared :class:`HessianOperator`.
    loss_fn : ``loss_fn(output, target)`` returning a scalar.
    data : ``(inputs, targets)`` or a DataLoader.
    k : eigenpairs per end.
    params, backend, dtype, device : see :class:`HessianOperator`.
    rng : seed of the Lanczos start vector.
    """
    if which not in ("top", "bottom", "both"):
        raise ValueError(f"which must be 'top', 'bottom' or 'both', got {which!r}.")
    k = as_count(k, "k", minimum=1)
    tol = as_positive(tol, "tol")
    if max_iter is not None:
        max_iter = as_count(max_iter, "max_iter", minimum=1)
    op = _as_operator(model, loss_fn, data, **_op_kw(params, backend, dtype, device))
    n = op.n_params
    if not 1 <= k <= n:
        raise ValueError(f"k must lie in [1, {n}] (the number of parameters), got {k}.")
    m_max = int(min(n, max_iter if max_iter is not None else max(60, 10 * k)))
    if which == "both":
        m_max = max(m_max, min(n, 2 * k))
    g = as_generator(rng)
    v0 = torch.as_tensor(g.standard_normal(n), dtype=op.dtype, device=op.device)
    start = op.n_matvec

    def wanted(theta: np.ndarray) -> np.ndarray:
        order = np.arange(len(theta))
        kk = min(k, len(theta))
        if which == "top":
            return order[::-1][:kk]
        if which == "bottom":
            return order[:kk]
        return np.unique(np.concatenate([order[::-1][:kk], order[:kk]]))

    def check(alpha: np.ndarray, beta: np.ndarray, j: int) -> bool:
        notify(progress, j, m_max)
        if j < (2 * k if which == "both" else k) + 2:
            return False
        theta, S = _tridiag_eigh(alpha, beta)
        res = beta[-1] * np.abs(S[-1, wanted(theta)])
        return bool(np.all(res <= tol * max(np.max(np.abs(theta)), 1e-300)))

    # the convergence check (a tridiagonal eigenproblem of size j) costs far less than one product: every step
    alpha, beta, Q = lanczos(op.matvec, v0, m_max, check=check, check_every=1)
    assert Q is not None
    theta, S = _tridiag_eigh(alpha[0], beta[0])
    idx = wanted(theta)
    if which == "top":
        idx = idx[np.argsort(-theta[idx])]
    elif which == "bottom":
        idx = idx[np.argsort(theta[idx])]
    else:
        kk = min(k, len(theta))
        idx = np.concatenate([np.arange(len(theta))[::-1][:kk], np.arange(len(theta))[:kk]])
    Sm = torch.as_tensor(S[:, idx], dtype=op.dtype, device=op.device)
    vecs = (Sm.T @ Q[0]).detach()
    vecs = vecs / torch.linalg.vector_norm(vecs, dim=1, keepdim=True)
    res = beta[0, -1] * np.abs(S[-1, idx])
    notify(progress, m_max, m_max)
    return HessianEigs(
        eigenvalues=theta[idx].copy(),
        eigenvectors=vecs.cpu().double().numpy(),
        residuals=res,
        which=which,
        n_matvec=op.n_matvec - start,
        n_params=n,
        ritz_values=theta,
    )


def _probes(g: np.random.Generator, k: int, n: int, kind: str, op: HessianOperator) -> torch.Tensor:
    if kind == "rademacher":
        z = g.integers(0, 2, size=(k, n)).astype(np.float64) * 2.0 - 1.0
    elif kind == "gaussian":
        z = g.standard_normal((k, n))
    else:
        raise ValueError(f"probe must be 'rademacher' or 'gaussian', got {kind!r}.")
    return torch.as_tensor(z, dtype=op.dtype, device=op.device)


def hessian_trace(
    model: nn.Module | HessianOperator,
    loss_fn: LossFn | None = None,
    data: Any = None,
    *,
    method: str = "hutch++",
    n_matvec: int = 99,
    rtol: float | None = None,
    max_matvec: int = 1000,
    batch_size: int = 16,
    probe: str = "rademacher",
    params: Sequence[str] | str | None = None,
    backend: str = "double_backward",
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
) -> HessianTrace:
    """Stochastic trace of the loss Hessian with a standard error.

    Hutchinson (1990): ``tr H ≈ (1/n) Σ_i z_iᵀ H z_i`` with Rademacher ``z``; the error is the standard
    error of the mean of the samples. Hutch++ (Meyer et al. 2021): with ``s = n_matvec // 3``, sketch
    ``Q = orth(H S)`` from ``s`` probes, then ``tr H = tr(QᵀHQ) + tr((I−QQᵀ)H(I−QQᵀ))``, the second term by
    Hutchinson on deflated probes ``(I−QQᵀ)g``; its standard error is the error of the estimate (the sketch
    part is exact given Q). With ``rtol`` set, probes are added in batches until the standard error is at
    most ``rtol·|trace|`` (or ``max_matvec`` products were used).
    """
    if method not in ("hutchinson", "hutch++"):
        raise ValueError(f"method must be 'hutchinson' or 'hutch++', got {method!r}.")
    least = 3 if method == "hutch++" else 2
    try:
        n_matvec = as_count(n_matvec, "n_matvec", minimum=least)
    except ValueError as exc:
        raise ValueError(f"{exc} ({method} needs at least {least} products for a trace with an error bar)") from None
    if rtol is not None:
        rtol = as_positive(rtol, "rtol")
    max_matvec = as_count(max_matvec, "max_matvec", minimum=least)
    batch_size = as_count(batch_size, "batch_size", minimum=1)
    if probe not in ("rademacher", "gaussian"):
        raise ValueError(f"probe must be 'rademacher' or 'gaussian', got {probe!r}.")
    op = _as_operator(model, loss_fn, data, **_op_kw(params, backend, dtype, device))
    n = op.n_params
    g = as_generator(rng)
    start = op.n_matvec
    exact_part = 0.0
    Qb: torch.Tensor | None = None
    if method == "hutch++":
        s = max(1, min(n_matvec // 3, n))
        HS = torch.cat([op.matvec(_probes(g, min(batch_size, s - i), n, probe, op)) for i in range(0, s, batch_size)])
        Qb, _ = torch.linalg.qr(HS.T)
        Qb = Qb.T  # (s, n) orthonormal rows
        HQ = torch.cat([op.matvec(Qb[i : i + batch_size]) for i in range(0, s, batch_size)])
        exact_part = float((HQ * Qb).sum().double())
        n_probe = n_matvec - 2 * s
    else:
        n_probe = n_matvec
    samples: list[float] = []
    target = max_matvec if rtol is not None else n_probe
    while True:
        want = min(batch_size, max(target - len(samples), 0)) if rtol is None else batch_size
        if want <= 0:
            break
        Z = _probes(g, want, n, probe, op)
        if Qb is not None:
            Z = Z - (Z @ Qb.T) @ Qb
        HZ = op.matvec(Z)
        samples.extend((HZ * Z).sum(1).double().cpu().numpy().tolist())
        notify(progress, len(samples), target)
        if rtol is not None and len(samples) >= 4:
            arr = np.asarray(samples)
            se = arr.std(ddof=1) / math.sqrt(len(arr))
            if se <= rtol * abs(exact_part + arr.mean()) or op.n_matvec - start >= max_matvec:
                break
        elif rtol is not None and op.n_matvec - start >= max_matvec:
            break
    arr = np.asarray(samples)
    se = float(arr.std(ddof=1) / math.sqrt(len(arr))) if len(arr) > 1 else float("inf")
    est = Estimate(mean=exact_part + float(arr.mean()), error=se, tau_int=0.5, n_eff=float(len(arr)))
    return HessianTrace(
        trace=est,
        method=method,
        n_matvec=op.n_matvec - start,
        n_params=n,
        samples=arr,
        deflated_part=exact_part,
    )


def spectral_density(
    model: nn.Module | HessianOperator,
    loss_fn: LossFn | None = None,
    data: Any = None,
    *,
    n_steps: int = 60,
    n_vectors: int = 4,
    sigma: float | None = None,
    grid: np.ndarray | int = 512,
    params: Sequence[str] | str | None = None,
    backend: str = "double_backward",
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
) -> SpectralDensity:
    """Eigenvalue density of the Hessian by stochastic Lanczos quadrature with Gaussian broadening.

    For unit random (Rademacher/√N) start vectors ``v_l``, ``m = n_steps`` Lanczos steps give the
    tridiagonal ``T_l = S diag(θ) Sᵀ``; the Gauss rule ``{θ_j, τ_j = S_{1j}²}`` matches ``v_lᵀ f(H) v_l``
    for polynomials up to degree ``2m − 1``. The density is
    ``ρ(t) = (1/n_v) Σ_l Σ_j τ_{lj} exp(−(t−θ_{lj})²/(2σ²)) / (σ√(2π))`` (Ghorbani et al. 2019). The
    ``n_vectors`` runs go in lock-step, so their Hessian-vector products are batched.
    ``sigma`` defaults to 1% of the spectral width.
    """
    n_steps = as_count(n_steps, "n_steps", minimum=1)
    n_vectors = as_count(n_vectors, "n_vectors", minimum=1)
    if sigma is not None:
        sigma = as_positive(sigma, "sigma")
    grid_points: np.ndarray | None = None
    if isinstance(grid, (int, np.integer)) and not isinstance(grid, bool):
        n_grid = as_count(grid, "grid (number of points)", minimum=2)
    else:
        grid_points = as_real_array(grid, "grid", ndim=1)
        n_grid = grid_points.size
    op = _as_operator(model, loss_fn, data, **_op_kw(params, backend, dtype, device))
    n = op.n_params
    g = as_generator(rng)
    start = op.n_matvec
    V = _probes(g, n_vectors, n, "rademacher", op)
    calls = [0]

    def mv(x: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        notify(progress, calls[0], min(n_steps, n))
        return op.matvec(x)

    alpha, beta, _ = lanczos(mv, V, n_steps, store_basis=False)
    t, dens, nodes, weights, sig = slq_density(alpha, beta, sigma, grid_points if grid_points is not None else n_grid)
    return SpectralDensity(
        grid=t, density=dens, nodes=nodes, weights=weights, sigma=sig, n_matvec=op.n_matvec - start, n_params=n
    )


def slq_density(alpha: np.ndarray, beta: np.ndarray, sigma: float | None, grid: np.ndarray | int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    r"""The stochastic-Lanczos-quadrature density from Lanczos coefficients ``alpha``, ``beta`` (b, m) of ``b``
    unit start vectors: Gauss rules :math:`\{\theta_{lj}, \tau_{lj}\}` (Ritz values, squared first components of
    the eigenvectors of each tridiagonal :math:`T_l`) broadened by Gaussians of width ``sigma`` (default 1% of
    the spectral width), :math:`\rho(t) = \frac{1}{b}\sum_{l,j}\tau_{lj}\,\mathcal N(t;\theta_{lj},\sigma^2)`,
    on ``grid`` (points, or their number spanning the nodes ± 5 sigma). Returns ``(grid, density, nodes,
    weights, sigma)``."""
    nodes = np.zeros_like(alpha)
    weights = np.zeros_like(alpha)
    for i in range(alpha.shape[0]):
        th, S = _tridiag_eigh(alpha[i], beta[i])
        nodes[i], weights[i] = th, S[0] ** 2
    lo, hi = float(nodes.min()), float(nodes.max())
    width = max(hi - lo, 1e-12 * max(abs(lo), abs(hi), 1.0))
    sig = float(sigma) if sigma is not None else 0.01 * width
    t = np.linspace(lo - 5 * sig, hi + 5 * sig, int(grid)) if np.ndim(grid) == 0 else np.asarray(grid, float)
    dens = np.zeros_like(t)
    for i in range(nodes.shape[0]):
        z = (t[:, None] - nodes[i][None, :]) / sig
        dens += (np.exp(-0.5 * z**2) * weights[i][None, :]).sum(1)
    dens /= nodes.shape[0] * sig * math.sqrt(2 * math.pi)
    return t, dens, nodes, weights, sig


def curvature_fd(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    *,
    n_directions: int = 64,
    eps: float = 1e-2,
    params: Sequence[str] | str | None = None,
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = None,
    chunk_size: int | None = None,
    rng: RNGLike = None,
) -> CurvatureFD:
    """Forward-only curvature along random unit directions (no gradients at all).

    ``κ_u = (L(θ+εu) + L(θ−εu) − 2L(θ)) / ε² = uᵀHu + O(ε²)`` for ``u`` uniform on the unit sphere.
    ``E[κ_u] = tr H / N`` and ``Var κ_u = 2 Var(λ)/(N+2)`` (Böttcher & Wheeler 2022), so
    ``N · mean(κ)`` estimates the trace with standard error ``N · std(κ)/√n``. Loss evaluations are batched
    with ``vmap`` (see :func:`spinlens.landscape.surface.evaluate_losses`). Float64 by default, since the
    difference quotient loses ``log10(1/ε²)`` digits.
    """
    from spinlens.landscape.surface import evaluate_losses

    n_directions = as_count(n_directions, "n_directions", minimum=2)
    eps = as_positive(eps, "eps")
    if chunk_size is not None:
        chunk_size = as_count(chunk_size, "chunk_size", minimum=1)
    prob = Problem(model, loss_fn, data, params=params, dtype=dtype, device=device)
    n = prob.n_params
    g = as_generator(rng)
    U = g.standard_normal((n_directions, n))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    Ut = torch.as_tensor(U, dtype=prob.dtype, device=prob.device)
    coords = torch.cat([torch.eye(n_directions), -torch.eye(n_directions)]).to(prob.device, prob.dtype) * eps
    vals = evaluate_losses(prob, coords, Ut, chunk_size=chunk_size)
    l0 = float(prob.loss(prob.theta0).detach())
    kap = (vals[:n_directions] + vals[n_directions:] - 2 * l0) / eps**2
    m = float(kap.mean())
    se = float(kap.std(ddof=1) / math.sqrt(n_directions))
    return CurvatureFD(
        curvatures=kap,
        mean_curvature=Estimate(m, se, 0.5, float(n_directions)),
        trace=Estimate(n * m, n * se, 0.5, float(n_directions)),
        eps=float(eps),
        n_params=n,
    )
