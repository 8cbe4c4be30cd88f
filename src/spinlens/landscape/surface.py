"""Loss along lines and planes, and linear interpolation between solutions (mode connectivity).

The loss at many parameter points ``θ0 + Σ_r c_r d_r`` is evaluated in batches: the stacked parameter
sets go through :func:`torch.func.functional_call` under :func:`torch.func.vmap`, ``chunk_size`` points at
a time (chosen from the activation size so a chunk fits in about ``memory_mb``).

For MLPs (``nn.Sequential`` starting, after optional ``nn.Flatten``, with ``nn.Linear``) the first layer
is handled exactly and far faster: its pre-activations are affine in the coordinates,
``X W1(c)ᵀ + b1(c) = (X W1ᵀ + b1) + Σ_r c_r (X D_rᵀ + δ_r)``, so the ``r + 1`` products with the data
matrix are computed once and every grid point costs only the rest of the network.

Mode connectivity: :func:`interpolate` evaluates ``L((1−t)θ_A + tθ_B)`` and the barrier in both usual
definitions (Frankle et al. 2020; Entezari et al. 2022), after optional weight matching of hidden units
(Ainsworth, Hayase & Srinivasa 2023, *Git Re-Basin*: coordinate descent over layers, each a linear
assignment problem solved with the Hungarian algorithm).
"""
from __future__ import annotations

import copy
import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, as_generator
from spinlens.landscape._problem import LossFn, Problem, check_module
from spinlens.landscape.directions import _trajectory_rows, flat_parameters, random_direction, user_direction
from spinlens.results import Result
from spinlens.spins.model import _describe, as_count, as_positive, as_real, as_real_array

__all__ = [
    "Surface1D",
    "Surface2D",
    "Interpolation",
    "evaluate_losses",
    "surface_1d",
    "surface_2d",
    "interpolate",
    "weight_matching",
]


# ---------------------------------------------------------------------- batched evaluation
_ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.GELU, nn.Sigmoid, nn.SiLU, nn.ELU, nn.LeakyReLU, nn.Softplus)


def _mlp_split(model: nn.Module) -> tuple[nn.Module | None, str, nn.Module] | None:
    """``(prefix, key of first Linear, rest)`` when the fast first-layer path applies, else ``None``."""
    if not isinstance(model, nn.Sequential):
        return None
    items = list(model._modules.items())
    i = 0
    while i < len(items) and isinstance(items[i][1], nn.Flatten):
        i += 1
    if i >= len(items) - 1 or not isinstance(items[i][1], nn.Linear):
        return None
    prefix = model[:i] if i > 0 else None
    return prefix, items[i][0], model[i + 1 :]


def _per_point_elements(prob: Problem) -> int:
    """Number of activation elements one forward pass produces on the largest batch (memory estimate)."""
    x = max((b[0] for b in prob.batches), key=lambda t: t.shape[0])
    total = [int(x.numel())]

    def hook(_m: nn.Module, _i: Any, out: Any) -> None:
        if isinstance(out, torch.Tensor):
            total[0] += int(out.numel())

    handles = [m.register_forward_hook(hook) for m in prob.model.modules() if m is not prob.model]
    try:
        with torch.no_grad():
            prob.forward(prob.theta0, x)
    finally:
        for h in handles:
            h.remove()
    return max(total[0], 1)


def evaluate_losses(
    prob: Problem,
    coords: torch.Tensor,
    directions: torch.Tensor,
    origin: torch.Tensor | None = None,
    chunk_size: int | None = None,
    memory_mb: float = 256.0,
    fast: bool | None = None,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Mean loss at ``origin + coords @ directions`` for every row of ``coords``.

    Parameters
    ----------
    prob : the prepared problem (model, loss, data).
    coords : (P, r) coordinates; directions : (r, N) flat directions; origin : (N,), default ``prob.theta0``.
    chunk_size : points per vmapped batch; default from ``memory_mb`` and the activation size.
    fast : use the MLP first-layer factorisation (default: whenever the model qualifies).

    Returns the losses (P,) as float64.
    """
    if not isinstance(prob, Problem):
        raise TypeError(f"prob must be a prepared Problem (spinlens.landscape._problem.Problem), got "
                        f"{type(prob).__name__} ({_describe(prob)}).")
    if chunk_size is not None:
        chunk_size = as_count(chunk_size, "chunk_size", minimum=1)
    memory_mb = as_positive(memory_mb, "memory_mb")
    origin = prob.theta0 if origin is None else torch.as_tensor(origin, dtype=prob.dtype, device=prob.device)
    if origin.shape != (prob.n_params,):
        raise ValueError(f"origin must have shape ({prob.n_params},), got {tuple(origin.shape)}.")
    coords = torch.as_tensor(coords, dtype=prob.dtype, device=prob.device)
    directions = torch.as_tensor(directions, dtype=prob.dtype, device=prob.device)
    if coords.ndim != 2 or directions.ndim != 2 or coords.shape[1] != directions.shape[0]:
        raise ValueError(
            f"coords (P, r) and directions (r, N) disagree: {tuple(coords.shape)}, {tuple(directions.shape)}."
        )
    if directions.shape[1] != prob.n_params:
        raise ValueError(f"directions have {directions.shape[1]} entries, the model {prob.n_params} parameters.")
    split = _mlp_split(prob.model) if fast is not False else None
    elt = torch.finfo(prob.dtype).bits // 8
    n_pts = coords.shape[0]
    out = np.zeros(n_pts)
    with torch.no_grad():
        if split is None:
            per = _per_point_elements(prob) * 3 * elt
            cs = chunk_size or int(max(1, min(n_pts, memory_mb * 2**20 // per)))
            for b, w in enumerate(prob.weights):
                f = lambda t, b=b: prob.batch_loss(t, b)  # noqa: E731
                vf = vmap(f)
                for s in range(0, n_pts, cs):
                    thetas = origin[None, :] + coords[s : s + cs] @ directions
                    out[s : s + cs] += w * vf(thetas).double().cpu().numpy()
                    notify(progress, min(s + cs, n_pts) + b * n_pts, n_pts * len(prob.weights))
        else:
            _fast_eval(prob, split, coords, directions, origin, out, chunk_size, memory_mb, progress)
    return out


def _fast_eval(
    prob: Problem,
    split: tuple[nn.Module | None, str, nn.Module],
    coords: torch.Tensor,
    directions: torch.Tensor,
    origin: torch.Tensor,
    out: np.ndarray,
    chunk_size: int | None,
    memory_mb: float,
    progress: ProgressCallback | None,
) -> None:
    prefix, key, rest = split
    base = prob.full_params(origin)
    dirs = [prob.unflatten(directions[r]) for r in range(directions.shape[0])]
    wname, bname = f"{key}.weight", f"{key}.bias"
    rest_names = [n for n in base if n.split(".", 1)[0] in rest._modules]
    # stacked directions for the rest: name -> (r, *shape) (zeros for parameters not varied)
    rest_dirs = {
        n: torch.stack([d[n] if n in d else torch.zeros_like(base[n]) for d in dirs]) for n in rest_names
    }
    varied = [n for n in rest_names if n in dirs[0]]
    first_act = None
    items = list(rest._modules.items())
    if len(items) > 1 and isinstance(items[0][1], _ELEMENTWISE):
        # keep the original keys so parameter names still match
        first_act, rest = items[0][1], nn.Sequential(OrderedDict(items[1:]))  # type: ignore[arg-type]
    elt = torch.finfo(prob.dtype).bits // 8
    n_pts, r = coords.shape
    for b, w in enumerate(prob.weights):
        x, y = prob.batches[b]
        xf = prefix(x) if prefix is not None else x
        p0 = xf @ base[wname].T
        if bname in base:
            p0 = p0 + base[bname]
        pdir = []
        for d in dirs:
            p = xf @ d[wname].T if wname in d else torch.zeros_like(p0)
            if bname in d:
                p = p + d[bname]
            pdir.append(p)
        P = torch.stack(pdir)  # (r, n, h)
        per = p0.numel() * 4 * elt
        cs = chunk_size or int(max(1, min(n_pts, memory_mb * 2**20 // per)))

        def rest_loss(params: dict[str, torch.Tensor], h: torch.Tensor, y: torch.Tensor = y) -> torch.Tensor:
            return prob.loss_fn(functional_call(rest, params, (h,)), y).reshape(())

        vrest = vmap(rest_loss, in_dims=({n: (0 if n in varied else None) for n in rest_names}, 0))
        # one buffer for the pre-activations of every chunk: a fresh tensor of this size per chunk comes back
        # from the OS as new pages, and faulting them in cost more than the products themselves (measured 8x)
        buf = torch.empty(min(cs, n_pts), p0.numel(), dtype=p0.dtype, device=p0.device)
        for s in range(0, n_pts, cs):
            C = coords[s : s + cs]
            # one fused pass: (c, n*h) = p0 + C @ P
            pre = torch.addmm(p0.reshape(1, -1), C, P.reshape(r, -1), out=buf[: C.shape[0]]).view(C.shape[0],
                                                                                                  *p0.shape)
            if first_act is not None:
                pre = torch.relu_(pre) if isinstance(first_act, nn.ReLU) else first_act(pre)
            params = {
                n: (base[n][None] + torch.einsum("cr,r...->c...", C, rest_dirs[n])) if n in varied else base[n]
                for n in rest_names
            }
            out[s : s + cs] += w * vrest(params, pre).double().cpu().numpy()
            notify(progress, min(s + cs, n_pts) + b * n_pts, n_pts * len(prob.weights))


# ---------------------------------------------------------------------- results
@dataclasses.dataclass(frozen=True)
class Surface1D(Result):
    """``loss[i] = L(θ0 + alphas[i] d)``; ``loss0 = L(θ0)``; ``direction`` (N,)."""

    alphas: np.ndarray
    loss: np.ndarray
    loss0: float
    direction: np.ndarray
    kind: str


@dataclasses.dataclass(frozen=True)
class Surface2D(Result):
    """``loss[i, j] = L(θ0 + alphas[i] d1 + betas[j] d2)``; ``directions`` (2, N); ``kind`` of plane.

    ``curvatures`` holds the eigenvalues belonging to Hessian directions (else empty); ``trajectory`` the
    (T, 2) coordinates of a projected path, when one was given.
    """

    alphas: np.ndarray
    betas: np.ndarray
    loss: np.ndarray
    loss0: float
    directions: np.ndarray
    kind: str
    curvatures: np.ndarray
    trajectory: np.ndarray


def _directions_for(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    spec: Any,
    n: int,
    bias: str,
    params: Any,
    rng: RNGLike,
    dtype: torch.dtype | None,
    device: Any,
) -> tuple[np.ndarray, str, np.ndarray]:
    g = as_generator(rng)
    if spec is None or (isinstance(spec, str) and spec in ("random", "filter")):
        D = np.stack([random_direction(model, "filter", bias=bias, params=params, rng=g) for _ in range(n)])
        return D, "random (filter-normalised)", np.zeros(0)
    if isinstance(spec, str) and spec == "unit":
        D = np.stack([random_direction(model, "unit", params=params, rng=g) for _ in range(n)])
        return D, "random (unit)", np.zeros(0)
    if isinstance(spec, str) and spec == "hessian":
        from spinlens.landscape.hessian import hessian_eigs

        res = hessian_eigs(model, loss_fn, data, k=1, which="both", params=params, dtype=dtype, device=device, rng=g)
        return res.eigenvectors[:n], "hessian (max, min curvature)", res.eigenvalues[:n]
    if isinstance(spec, str):
        raise ValueError(f"directions must be 'random', 'unit', 'hessian' or explicit vectors, got {spec!r}.")
    items = [spec] if n == 1 and not (isinstance(spec, (list, tuple)) and len(spec) == 1) else list(spec)
    if isinstance(spec, np.ndarray) and spec.ndim == 2:
        items = list(spec)
    if len(items) != n:
        raise ValueError(f"expected {n} direction(s), got {len(items)}.")
    return np.stack([user_direction(model, d, params=params) for d in items]), "user", np.zeros(0)


def _span(span: Any, n: int) -> tuple[float, ...]:
    """``span`` as ``n`` finite numbers, increasing within each ``(lo, hi)`` pair."""
    if isinstance(span, (str, bytes)) or not isinstance(span, (Sequence, np.ndarray)) or len(span) not in (2, n):
        want = "(lo, hi)" + (" or (alo, ahi, blo, bhi)" if n == 4 else "")
        raise ValueError(f"span must be {want}, got {_describe(span)}.")
    sp = tuple(as_real(v, f"span[{i}]") for i, v in enumerate(span))
    if len(sp) == 2 and n == 4:
        sp = (*sp, *sp)
    for lo, hi in zip(sp[::2], sp[1::2], strict=True):
        if not lo < hi:
            raise ValueError(f"span must be increasing (lo < hi), got {tuple(span)}; e.g. span=(-1.0, 1.0).")
    return sp


def _axis(values: Any, name: str) -> np.ndarray:
    a = as_real_array(values, name, ndim=1)
    if a.size < 2:
        raise ValueError(f"{name} needs at least 2 points, got {a.size}.")
    return a


def surface_1d(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    direction: Any = "random",
    *,
    span: tuple[float, float] = (-1.0, 1.0),
    n_points: int = 51,
    alphas: np.ndarray | None = None,
    bias: str = "ignore",
    params: Sequence[str] | str | None = None,
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
    chunk_size: int | None = None,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
) -> Surface1D:
    """Loss along a line ``L(θ0 + α d)`` for ``α`` on a grid over ``span`` (or the given ``alphas``).

    ``direction``: ``"random"`` (filter-normalised Gaussian), ``"unit"``, ``"hessian"`` (top eigenvector)
    or a user vector / ``{name: tensor}``.
    """
    if alphas is None:
        lo, hi = _span(span, 2)
        a = np.linspace(lo, hi, as_count(n_points, "n_points", minimum=2))
    else:
        a = _axis(alphas, "alphas")
    if chunk_size is not None:
        chunk_size = as_count(chunk_size, "chunk_size", minimum=1)
    prob = Problem(model, loss_fn, data, params=params, dtype=dtype, device=device)
    D, kind, _ = _directions_for(model, loss_fn, data, direction, 1, bias, params, rng, dtype, device)
    coords = torch.as_tensor(a[:, None])
    vals = evaluate_losses(prob, coords, torch.as_tensor(D), chunk_size=chunk_size, progress=progress)
    return Surface1D(alphas=a, loss=vals, loss0=float(prob.loss(prob.theta0)), direction=D[0], kind=kind)


def surface_2d(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    directions: Any = "random",
    *,
    span: tuple[float, float] | tuple[float, float, float, float] = (-1.0, 1.0),
    n_points: int | tuple[int, int] = 41,
    alphas: np.ndarray | None = None,
    betas: np.ndarray | None = None,
    trajectory: Sequence[Any] | np.ndarray | None = None,
    bias: str = "ignore",
    params: Sequence[str] | str | None = None,
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
    chunk_size: int | None = None,
    fast: bool | None = None,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
) -> Surface2D:
    """Loss on a plane ``L(θ0 + α d1 + β d2)`` over a grid.

    Parameters
    ----------
    directions : ``"random"`` (two filter-normalised Gaussians, Li et al. 2018), ``"unit"``,
        ``"hessian"`` (eigenvectors of the largest and most negative eigenvalue; Böttcher & Wheeler 2022),
        or two user vectors (e.g. from :func:`spinlens.landscape.pca_directions`).
    span : ``(lo, hi)`` for both axes or ``(alo, ahi, blo, bhi)``; n_points : per axis or ``(na, nb)``.
    alphas, betas : explicit coordinates instead of ``span``/``n_points``.
    trajectory : flat parameter vectors (T, N) or models, projected on the plane (least squares).
    fast : the MLP first-layer factorisation (default: when the model qualifies).
    """
    if alphas is None or betas is None:
        sp = _span(span, 4)
        if isinstance(n_points, (tuple, list)):
            if len(n_points) != 2:
                raise ValueError(f"n_points must be one count or a pair (na, nb), got {n_points!r}.")
            na, nb = (as_count(v, f"n_points[{i}]", minimum=2) for i, v in enumerate(n_points))
        else:
            na = nb = as_count(n_points, "n_points", minimum=2)
    a = np.linspace(sp[0], sp[1], na) if alphas is None else _axis(alphas, "alphas")
    b = np.linspace(sp[2], sp[3], nb) if betas is None else _axis(betas, "betas")
    if chunk_size is not None:
        chunk_size = as_count(chunk_size, "chunk_size", minimum=1)
    prob = Problem(model, loss_fn, data, params=params, dtype=dtype, device=device)
    D, kind, curv = _directions_for(model, loss_fn, data, directions, 2, bias, params, rng, dtype, device)
    A, B = np.meshgrid(a, b, indexing="ij")
    coords = torch.as_tensor(np.stack([A.ravel(), B.ravel()], axis=1))
    vals = evaluate_losses(prob, coords, torch.as_tensor(D), chunk_size=chunk_size, fast=fast, progress=progress)
    traj = np.zeros((0, 2))
    if trajectory is not None:
        if isinstance(trajectory, Sequence) and any(isinstance(t, nn.Module) for t in trajectory):
            trajectory = [flat_parameters(t, params) if isinstance(t, nn.Module) else t for t in trajectory]
        T = _trajectory_rows(trajectory)
        if T.shape[1] != prob.n_params:
            raise ValueError(f"trajectory points have {T.shape[1]} entries, the plane's model {prob.n_params} "
                             "parameters.")
        M = T - prob.theta0.double().cpu().numpy()
        traj = np.linalg.lstsq(D.T, M.T, rcond=None)[0].T
    return Surface2D(
        alphas=a,
        betas=b,
        loss=vals.reshape(len(a), len(b)),
        loss0=float(prob.loss(prob.theta0)),
        directions=D,
        kind=kind,
        curvatures=np.asarray(curv, dtype=float),
        trajectory=traj,
    )


# ---------------------------------------------------------------------- weight matching
def _linear_chain(model: nn.Module, name: str = "model") -> list[str]:
    check_module(model, name)
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"{name} is a {type(model).__name__}; weight matching supports nn.Sequential MLPs (Linear "
                         "layers with elementwise activations).")
    keys = []
    for k, m in model._modules.items():
        if isinstance(m, nn.Linear):
            keys.append(k)
        elif any(True for _ in m.parameters()) or any(True for _ in m.buffers()):
            raise ValueError(f"{name}: weight matching cannot permute through layer {k} ({type(m).__name__}).")
    if len(keys) < 2:
        raise ValueError(f"{name}: weight matching needs at least two Linear layers (one hidden layer).")
    return keys


def weight_matching(
    model_a: nn.Module, model_b: nn.Module, max_iter: int = 50, rng: RNGLike = 0
) -> tuple[nn.Module, list[np.ndarray]]:
    """Permute the hidden units of ``model_b`` to match ``model_a`` (weight matching, Git Re-Basin).

    For hidden layer ``l`` with permutation ``P_l`` the objective ``Σ_l <W_l^A, P_l W_l^B P_{l−1}ᵀ>_F
    (+ biases)`` is maximised by coordinate descent: each step solves, for one layer, the linear assignment
    problem with similarity ``C = W_l^A (W_l^B P_{l−1}ᵀ)ᵀ + b^A b^Bᵀ + W_{l+1}^Aᵀ (P_{l+1} W_{l+1}^B)``
    (Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`). Returns a permuted copy of
    ``model_b`` (same function) and the permutations (``perm[i]`` = unit of B placed at position i).
    """
    from scipy.optimize import linear_sum_assignment

    max_iter = as_count(max_iter, "max_iter", minimum=1)
    keys = _linear_chain(model_a, "model_a")
    if _linear_chain(model_b, "model_b") != keys:
        raise ValueError("model_a and model_b must have the same architecture.")
    lin_a = [_lin(model_a, k) for k in keys]
    lin_b = [_lin(model_b, k) for k in keys]
    Wa = [m.weight.detach().double().cpu().numpy() for m in lin_a]
    Wb = [m.weight.detach().double().cpu().numpy() for m in lin_b]
    ba = [_bias(m) for m in lin_a]
    bb = [_bias(m) for m in lin_b]
    for x, y in zip(Wa, Wb, strict=False):
        if x.shape != y.shape:
            raise ValueError(f"model_a and model_b must have the same layer shapes, got {x.shape} and {y.shape}.")
    L = len(keys) - 1  # hidden layers
    perms = [np.arange(Wa[l].shape[0]) for l in range(L)]
    g = as_generator(rng)
    for _ in range(max_iter):
        changed = False
        for l in g.permutation(L):
            Bin = Wb[l][:, perms[l - 1]] if l > 0 else Wb[l]
            C = Wa[l] @ Bin.T + np.outer(ba[l], bb[l])
            Bout = Wb[l + 1][perms[l + 1]] if l + 1 < L else Wb[l + 1]
            C += Wa[l + 1].T @ Bout
            _, col = linear_sum_assignment(C, maximize=True)
            if not np.array_equal(col, perms[l]):
                perms[l] = col
                changed = True
        if not changed:
            break
    out = copy.deepcopy(model_b)
    with torch.no_grad():
        for l, k in enumerate(keys):
            lin = out._modules[k]
            assert isinstance(lin, nn.Linear)
            W = lin.weight
            if l < L:
                W.copy_(W[torch.as_tensor(perms[l])])
                if lin.bias is not None:
                    lin.bias.copy_(lin.bias[torch.as_tensor(perms[l])])
            if l > 0:
                W.copy_(W[:, torch.as_tensor(perms[l - 1])])
    return out, perms


def _lin(model: nn.Module, key: str) -> nn.Linear:
    m = model._modules[key]
    assert isinstance(m, nn.Linear)
    return m


def _bias(m: nn.Module) -> np.ndarray:
    assert isinstance(m, nn.Linear)
    if m.bias is None:
        return np.zeros(m.out_features)
    return m.bias.detach().double().cpu().numpy()


# ---------------------------------------------------------------------- interpolation
@dataclasses.dataclass(frozen=True)
class Interpolation(Result):
    """``loss[i] = L((1−t_i)θ_A + t_i θ_B)`` and the loss barriers.

    ``barrier = max_t [L(t) − ((1−t)L_A + tL_B)]`` (against the interpolated endpoint losses) and
    ``barrier_mean = max_t L(t) − (L_A + L_B)/2`` (against their mean). ``aligned`` tells whether B's hidden
    units were permuted first; ``loss_unaligned`` keeps the curve before alignment (empty otherwise).
    """

    ts: np.ndarray
    loss: np.ndarray
    loss_a: float
    loss_b: float
    barrier: float
    barrier_mean: float
    aligned: bool
    loss_unaligned: np.ndarray
    barrier_unaligned: float
    distance: float


def _barriers(ts: np.ndarray, loss: np.ndarray) -> tuple[float, float]:
    la, lb = loss[0], loss[-1]
    return float(np.max(loss - ((1 - ts) * la + ts * lb))), float(np.max(loss) - 0.5 * (la + lb))


def interpolate(
    model_a: nn.Module,
    model_b: nn.Module,
    loss_fn: LossFn,
    data: Any,
    *,
    n_points: int = 25,
    align: bool = False,
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
    chunk_size: int | None = None,
    rng: RNGLike = 0,
) -> Interpolation:
    """Linear interpolation ``θ(t) = (1−t)θ_A + tθ_B``, ``t ∈ [0, 1]``, and the loss barrier.

    With ``align=True`` the hidden units of B are first permuted to match A (:func:`weight_matching`);
    the unaligned curve is kept for comparison.
    """
    n_points = as_count(n_points, "n_points", minimum=2)
    if chunk_size is not None:
        chunk_size = as_count(chunk_size, "chunk_size", minimum=1)
    check_module(model_b, "model_b")
    prob = Problem(model_a, loss_fn, data, dtype=dtype, device=device, name="model_a")
    ts = np.linspace(0.0, 1.0, n_points)
    names_b = [n for n, p in model_b.named_parameters() if p.requires_grad]
    if names_b != prob.names:
        raise ValueError(f"model_b's trainable parameters {names_b[:4]} are not those of model_a {prob.names[:4]}; "
                         "interpolation needs two networks of the same architecture.")

    def curve(mb: nn.Module) -> tuple[np.ndarray, float]:
        tb = torch.as_tensor(flat_parameters(mb), dtype=prob.dtype, device=prob.device)
        if tb.numel() != prob.n_params:
            raise ValueError(f"model_b has {tb.numel()} parameters, model_a {prob.n_params}; interpolation needs "
                             "two networks of the same architecture.")
        d = (tb - prob.theta0)[None]
        vals = evaluate_losses(prob, torch.as_tensor(ts[:, None]), d, chunk_size=chunk_size)
        return vals, float(torch.linalg.vector_norm(d))

    loss_u, dist_u = curve(model_b)
    if align:
        mb, _ = weight_matching(model_a, model_b, rng=rng)
        loss, dist = curve(mb)
    else:
        loss, dist = loss_u, dist_u
    bar, bar_mean = _barriers(ts, loss)
    return Interpolation(
        ts=ts,
        loss=loss,
        loss_a=float(loss[0]),
        loss_b=float(loss[-1]),
        barrier=bar,
        barrier_mean=bar_mean,
        aligned=bool(align),
        loss_unaligned=loss_u if align else np.zeros(0),
        barrier_unaligned=_barriers(ts, loss_u)[0],
        distance=dist,
    )
