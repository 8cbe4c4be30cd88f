r"""MLPs (ReLU, tanh, binarized sign) and a trainer that saves log-spaced checkpoints.

Checkpoints are plain state dicts (``torch.save``, loaded back with ``weights_only=True``) or
safetensors files, listed in ``checkpoints.json``. Training is resumable: finished checkpoints are
kept and a re-run continues from the last one (batches are a deterministic function of the seed and
the step, so a resumed run gives the same weights as an uninterrupted one).

Lazy-training control (Chizat, Oyallon & Bach 2019): with output scale :math:`\alpha` the trained
function is :math:`f(x) = \alpha\,(f_w(x) - f_{w_0}(x))` and the learning rate is divided by
:math:`\alpha^2`; for large :math:`\alpha` the weights barely move (:math:`\|w - w_0\| = O(1/\alpha)`)
while the function still fits (kernel regime).
"""
from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, as_generator, seed_int
from spinlens.results import Result, atomic_write_bytes, atomic_write_text
from spinlens.spins.model import as_count, as_positive, as_real, as_real_array

__all__ = ["Sign", "mlp", "train", "TrainResult", "checkpoint_steps", "read_checkpoint_index", "INDEX_NAME"]

log = logging.getLogger(__name__)

INDEX_NAME = "checkpoints.json"
_ACTIVATIONS = ("relu", "tanh", "sign")


def _sign_ste():
    import torch

    class _SignSTE(torch.autograd.Function):
        """sign(x) forward; straight-through gradient 1_{|x| <= 1} backward (Hubara et al. 2016)."""

        @staticmethod
        def forward(ctx, x):  # type: ignore[override]
            ctx.save_for_backward(x)
            return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

        @staticmethod
        def backward(ctx, g):  # type: ignore[override]
            (x,) = ctx.saved_tensors
            return g * (x.abs() <= 1).to(g.dtype)

    return _SignSTE


def _make_sign_class():
    import torch.nn as nn

    class Sign(nn.Module):
        r"""Binarized activation :math:`\mathrm{sign}(x) \in \{-1, +1\}` with the straight-through estimator.

        Backward pass: :math:`\partial L/\partial x = \partial L/\partial y \cdot 1_{|x|\le 1}`
        (Hubara et al., *Binarized Neural Networks*, 2016).
        """

        def forward(self, x):
            return _sign_ste().apply(x)

    return Sign


try:  # torch is a hard dependency, but keep import errors readable
    Sign = _make_sign_class()
except ImportError:  # pragma: no cover
    Sign = None  # type: ignore[assignment,misc]


def mlp(
    widths: Sequence[int],
    activation: str = "relu",
    bias: bool = True,
    *,
    rng: RNGLike = None,
    dtype: Any = None,
) -> Any:
    """A fully connected ``nn.Sequential``: Linear, activation, ..., Linear (no activation on the output).

    Parameters
    ----------
    widths : sequence of int
        ``(n_0, n_1, ..., n_L)``, input first, e.g. ``(784, 256, 256, 10)``.
    activation : {"relu", "tanh", "sign"}
        ``"sign"`` is the binarized activation with a straight-through estimator.
    bias : bool
        Linear layers with biases.
    rng : seed for the initialisation (PyTorch's default law: ``U(-1/sqrt(n_in), 1/sqrt(n_in))`` for
        weights and biases, i.e. weight variance ``1/(3 n_in)``).
    """
    import torch
    import torch.nn as nn

    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) and not hasattr(widths, "__iter__"):
        raise ValueError(f"widths must be a sequence of layer sizes such as (784, 256, 10), got {widths!r}.")
    widths = [as_count(w, "widths (layer sizes)", minimum=1) for w in widths]
    if len(widths) < 2:
        raise ValueError(f"widths must list at least two positive layer sizes, got {widths}.")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}.")
    g = torch.Generator().manual_seed(seed_int(rng))
    layers: list[nn.Module] = []
    for l in range(len(widths) - 1):
        lin = nn.Linear(widths[l], widths[l + 1], bias=bias)
        bound = 1.0 / np.sqrt(widths[l])
        with torch.no_grad():
            lin.weight.uniform_(-bound, bound, generator=g)
            if lin.bias is not None:
                lin.bias.uniform_(-bound, bound, generator=g)
        layers.append(lin)
        if l < len(widths) - 2:
            layers.append({"relu": nn.ReLU, "tanh": nn.Tanh, "sign": Sign}[activation]())
    net = nn.Sequential(*layers)
    if dtype is not None:
        net = net.to(dtype=dtype)
    return net


def checkpoint_steps(steps: int, n: int) -> list[int]:
    """About ``n`` log-spaced training steps in ``[0, steps]``, always including 0 and ``steps``."""
    steps = as_count(steps, "steps (training steps)", minimum=1)
    n = as_count(n, "n (checkpoints, step 0 and the last step included)", minimum=2)
    if n == 2:
        return [0, steps]
    k = max(n - 1, 1)
    # increase the grid density until we have n distinct integers (or run out of steps)
    pts: list[int] = []
    for m in range(k, 4 * k + 8):
        pts = sorted({int(round(x)) for x in np.geomspace(1, steps, m)})
        if len(pts) >= k:
            break
    return [0] + pts


@dataclass(frozen=True)
class TrainResult(Result):
    """What :func:`train` produced.

    Attributes
    ----------
    steps : (k,) int array, the checkpointed steps.
    paths : checkpoint files, one per step (``None`` entries if ``out_dir`` was not given).
    train_loss, train_accuracy : (k,) arrays, full-training-set loss/accuracy at each checkpoint.
    loss_history : (steps,) minibatch loss per step (NaN for steps done in an earlier run).
    state_dicts : the checkpoint state dicts in memory when ``out_dir`` is None (else empty).
    """

    steps: np.ndarray
    paths: list[str]
    train_loss: np.ndarray
    train_accuracy: np.ndarray
    loss_history: np.ndarray
    out_dir: str | None
    config: dict
    resumed_from: int = -1
    state_dicts: list = ()  # type: ignore[assignment]

    def scalars(self) -> dict[str, Any]:
        d = super().scalars()
        d.pop("state_dicts", None)
        return d


def _as_tensors(data: Any, device: Any, dtype: Any) -> tuple[Any, Any]:
    import torch

    if hasattr(data, "X") and hasattr(data, "y"):
        X, y = data.X, data.y
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        X, y = data
    else:
        raise ValueError("data must be a spinlens.data.Dataset or a tuple (X, y).")
    X = as_real_array(X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else X, "data X (inputs)")
    y_arr = np.asarray(y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y)
    if y_arr.dtype.kind not in "iu" and not (y_arr.dtype.kind == "f" and np.all(np.isfinite(y_arr))
                                             and np.all(y_arr == np.round(y_arr))):
        raise ValueError(f"data y (labels) must be integer class labels, got dtype {y_arr.dtype}.")
    if X.ndim < 2 or X.shape[0] != y_arr.shape[0] or y_arr.ndim != 1:
        raise ValueError(f"data X must be (n_samples, ...) and y (n_samples,); got {X.shape} and {y_arr.shape}.")
    if y_arr.size and y_arr.min() < 0:
        raise ValueError(f"data y (labels) must be >= 0, got {int(y_arr.min())}.")
    Xt = torch.as_tensor(X, dtype=dtype, device=device)
    yt = torch.as_tensor(y_arr.astype(np.int64), dtype=torch.long, device=device)
    return Xt.reshape(Xt.shape[0], -1), yt


def _batch_indices(seed: int, step: int, n: int, batch_size: int) -> np.ndarray:
    """Minibatch of ``step``: epochs are permutations drawn from (seed, epoch); deterministic in the step."""
    per_epoch = max(1, n // batch_size)
    epoch, j = divmod(step, per_epoch)
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    return perm[j * batch_size : (j + 1) * batch_size]


def _save_state(sd: dict[str, Any], path: Path) -> None:
    import io

    import torch

    clean = {k: v.detach().to("cpu").contiguous().clone() for k, v in sd.items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save

        atomic_write_bytes(path, save(clean))
    else:
        buf = io.BytesIO()
        torch.save(clean, buf)
        atomic_write_bytes(path, buf.getvalue())


def read_checkpoint_index(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``checkpoints.json`` index of a checkpoint folder (None if absent)."""
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise ValueError(f"directory {d} is a file, not a checkpoint folder.")
    p = d / INDEX_NAME
    if not p.is_file():
        return None
    try:
        index = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{p} is not a readable checkpoint index ({exc}); fix it or delete it (the steps are then "
                         "read from the file names).") from None
    if not isinstance(index, dict) or not isinstance(index.get("checkpoints", []), list):
        raise ValueError(f"{p} is not a spinlens checkpoint index (expected {{'checkpoints': [...]}}); fix or delete "
                         "it.")
    return index


def train(
    model: Any,
    data: Any,
    steps: int,
    *,
    optimizer: str = "sgd",
    lr: float = 0.05,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    batch_size: int = 128,
    checkpoints: int | Sequence[int] = 20,
    out_dir: str | os.PathLike[str] | None = None,
    file_format: str = "pt",
    lazy_scale: float | None = None,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
    device: Any = None,
    num_threads: int | None = None,
) -> TrainResult:
    r"""Train ``model`` with cross-entropy on ``data`` and save checkpoints at log-spaced steps.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place (e.g. from :func:`mlp`).
    data : Dataset or (X, y)
        Inputs ``(n_samples, ...)`` (flattened) and integer class labels.
    steps : int
        Number of optimisation steps (minibatches).
    optimizer : {"sgd", "adam"}
        SGD with ``momentum`` or Adam.
    checkpoints : int or sequence of int
        Number of log-spaced checkpoints (including step 0 and the last step) or the explicit steps.
    out_dir : folder for ``step_XXXXXXXX.pt`` (or ``.safetensors``) and ``checkpoints.json``; a re-run
        with the same configuration skips finished checkpoints and resumes from the last one. ``None``
        keeps the state dicts in memory (``result.state_dicts``).
    lazy_scale : float, optional
        Output scale :math:`\alpha` of the lazy-training control:
        :math:`f = \alpha (f_w - f_{w_0})`, learning rate :math:`\eta/\alpha^2` (Chizat & Bach).
    rng : seed for the minibatch order.
    num_threads : int, optional
        Torch intra-op threads while training (restored afterwards); 1 is fastest for small MLPs on
        busy machines. ``None`` leaves torch's setting alone.

    Returns
    -------
    TrainResult
    """
    import torch

    if num_threads is None:
        return _train(model, data, steps, optimizer, lr, momentum, weight_decay, batch_size, checkpoints, out_dir,
                      file_format, lazy_scale, rng, progress, device)
    old = torch.get_num_threads()
    torch.set_num_threads(int(num_threads))
    try:
        return _train(model, data, steps, optimizer, lr, momentum, weight_decay, batch_size, checkpoints, out_dir,
                      file_format, lazy_scale, rng, progress, device)
    finally:
        torch.set_num_threads(old)


def _train(model: Any, data: Any, steps: int, optimizer: str, lr: float, momentum: float, weight_decay: float,
           batch_size: int, checkpoints: Any, out_dir: Any, file_format: str, lazy_scale: float | None,
           rng: RNGLike, progress: ProgressCallback | None, device: Any) -> TrainResult:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}.")
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    steps = as_count(steps, "steps (training steps)", minimum=1)
    lr = as_positive(lr, "lr (learning rate)")
    momentum = as_real(momentum, "momentum", low=0.0, high=1.0, high_open=True)
    weight_decay = as_real(weight_decay, "weight_decay", low=0.0)
    batch_size = as_count(batch_size, "batch_size", minimum=1)
    if lazy_scale is not None:
        lazy_scale = as_positive(lazy_scale, "lazy_scale")
    if file_format not in ("pt", "safetensors"):
        raise ValueError(f"file_format must be 'pt' or 'safetensors', got {file_format!r}.")
    ck_steps = (
        checkpoint_steps(steps, int(checkpoints))
        if isinstance(checkpoints, (int, np.integer))
        else sorted({int(s) for s in checkpoints})
    )
    if any(s < 0 or s > steps for s in ck_steps):
        raise ValueError(f"checkpoint steps must lie in [0, {steps}], got {ck_steps}.")
    param = next(model.parameters())
    device = device if device is not None else param.device
    dtype = param.dtype
    model.to(device)
    X, y = _as_tensors(data, device, dtype)
    n = X.shape[0]
    batch_size = int(min(batch_size, n))
    out_path = Path(out_dir) if out_dir is not None else None
    old_index = read_checkpoint_index(out_path) if out_path is not None else None
    if rng is None and old_index is not None and "seed" in old_index.get("config", {}):
        seed = int(old_index["config"]["seed"])  # resuming a run started without an explicit seed
    else:
        seed = seed_int(as_generator(rng))
    eff_lr = lr / lazy_scale**2 if lazy_scale is not None else lr
    config = {
        "steps": steps,
        "optimizer": optimizer,
        "lr": lr,
        "momentum": momentum,
        "weight_decay": weight_decay,
        "batch_size": batch_size,
        "checkpoint_steps": ck_steps,
        "lazy_scale": lazy_scale,
        "seed": seed,
        "n_samples": int(n),
        "file_format": file_format,
    }

    def make_opt(params: Any) -> torch.optim.Optimizer:
        if optimizer == "sgd":
            return torch.optim.SGD(params, lr=eff_lr, momentum=momentum, weight_decay=weight_decay)
        return torch.optim.Adam(params, lr=eff_lr, weight_decay=weight_decay)

    opt = make_opt(model.parameters())
    ref = copy.deepcopy(model).eval() if lazy_scale is not None else None
    for p_ in ref.parameters() if ref is not None else ():
        p_.requires_grad_(False)

    def forward(xb: Any) -> Any:
        out = model(xb)
        if ref is not None:
            with torch.no_grad():
                out0 = ref(xb)
            out = lazy_scale * (out - out0)
        return out

    ext = ".safetensors" if file_format == "safetensors" else ".pt"
    names = {s: f"step_{s:08d}{ext}" for s in ck_steps}
    start = 0
    if out_path is not None:
        out_path.mkdir(parents=True, exist_ok=True)
        index = read_checkpoint_index(out_path)
        if index is not None and index.get("config") != config:
            raise ValueError(
                f"{out_path} already holds checkpoints of a different training configuration; "
                "use another out_dir or delete it."
            )
        done = [s for s in ck_steps if (out_path / names[s]).is_file()]
        if done:
            last = max(done)
            from spinlens.networks.to_spins import load_checkpoint

            model.load_state_dict(load_checkpoint(out_path / names[last]))
            if ref is not None and 0 in done:
                ref.load_state_dict(load_checkpoint(out_path / names[0]))
            opt_file = out_path / f"optim_{last:08d}.pt"
            if last > 0 and opt_file.is_file():
                opt.load_state_dict(torch.load(opt_file, map_location=device, weights_only=True))
            elif last > 0:
                log.warning("optimizer state for step %d missing; resuming with a fresh optimizer", last)
            start = last
            log.info("resuming training from step %d (%d checkpoints already saved)", last, len(done))

    @torch.no_grad()
    def evaluate() -> tuple[float, float]:
        model.eval()
        out = forward(X)
        model.train()
        return float(F.cross_entropy(out, y)), float((out.argmax(1) == y).float().mean())

    losses: dict[int, float] = {}
    accs: dict[int, float] = {}
    state_dicts: dict[int, dict[str, Any]] = {}
    history = np.full(steps, np.nan)

    def checkpoint(step: int) -> None:
        loss, acc = evaluate()
        losses[step], accs[step] = loss, acc
        sd = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
        if out_path is None:
            state_dicts[step] = sd
            return
        _save_state(sd, out_path / names[step])
        if step > 0:  # optimizer state for resuming (plain tensors and numbers: weights_only-loadable)
            import io

            buf = io.BytesIO()
            torch.save(opt.state_dict(), buf)
            atomic_write_bytes(out_path / f"optim_{step:08d}.pt", buf.getvalue())
        _write_index(out_path, config, ck_steps, names, losses, accs)

    if out_path is not None:
        old = read_checkpoint_index(out_path) or {}
        for rec in old.get("checkpoints", []):
            if rec.get("train_loss") is not None:
                losses[int(rec["step"])] = float(rec["train_loss"])
                accs[int(rec["step"])] = float(rec["train_accuracy"])
    if start == 0 and (out_path is None or not (out_path / names[0]).is_file()) and 0 in ck_steps:
        checkpoint(0)
    model.train()
    total = steps - start
    notify(progress, 0, total)
    for step in range(start + 1, steps + 1):
        idx = torch.as_tensor(_batch_indices(seed, step - 1, n, batch_size), device=device)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward(X[idx]), y[idx])
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training diverged at step {step} (loss {float(loss)}); lower the lr.")
        loss.backward()
        opt.step()
        history[step - 1] = float(loss.detach())
        if step in names:
            checkpoint(step)
        notify(progress, step - start, total)
    model.eval()
    return TrainResult(
        steps=np.asarray(ck_steps, dtype=np.int64),
        paths=[str(out_path / names[s]) if out_path is not None else "" for s in ck_steps],
        train_loss=np.asarray([losses.get(s, np.nan) for s in ck_steps]),
        train_accuracy=np.asarray([accs.get(s, np.nan) for s in ck_steps]),
        loss_history=history,
        out_dir=str(out_path) if out_path is not None else None,
        config=config,
        resumed_from=start if start > 0 else -1,
        state_dicts=[state_dicts[s] for s in ck_steps] if out_path is None else [],
    )


def _write_index(out: Path, config: dict, ck_steps: list[int], names: dict[int, str],
                 losses: dict[int, float], accs: dict[int, float]) -> None:
    recs = [
        {"step": s, "file": names[s], "train_loss": losses.get(s), "train_accuracy": accs.get(s)}
        for s in ck_steps
        if (out / names[s]).is_file()
    ]
    atomic_write_text(out / INDEX_NAME, json.dumps({"config": config, "checkpoints": recs}, indent=2))
