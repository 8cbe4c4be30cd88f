"""A model + loss + data turned into a function of one flat parameter vector (internal).

``Problem`` validates the user's inputs once (trainable parameters exist, inputs and targets agree, the
model runs on the inputs, the loss is a scalar) and exposes ``loss(theta)`` for a flat vector ``theta``
of the selected trainable parameters, evaluated with :func:`torch.func.functional_call` so that the
module itself is never modified.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from spinlens.spins.model import _describe

__all__ = ["Problem", "default_device", "as_batches", "check_module"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def default_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else the CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _to_tensor(a: Any) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a
    return torch.as_tensor(np.asarray(a))


def check_module(model: Any, name: str = "model") -> nn.Module:
    """``model`` if it is a ``torch.nn.Module``, else a ``TypeError`` naming the argument."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__} ({_describe(model)}).")
    return model


def _batch_tensor(a: Any, what: str) -> torch.Tensor:
    try:
        t = _to_tensor(a)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"data: the {what} of a batch are not a numeric array ({_describe(a)}): {exc}") from None
    if t.ndim == 0:
        raise ValueError(f"data: the {what} of a batch are a scalar ({_describe(a)}); pass one row per sample.")
    return t


def as_batches(data: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(inputs, targets)`` or an iterable of such pairs (a DataLoader) → a list of tensor pairs.

    Refuses anything else, an empty batch (0 samples) and inputs/targets of different lengths with a
    ``ValueError`` naming ``data``.
    """
    usage = "pass (inputs, targets) or an iterable of (inputs, targets) batches (a DataLoader)"
    if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data[0], (tuple, list)):
        pairs: Iterable[Any] = [data]
    elif isinstance(data, Iterable) and not isinstance(data, (str, bytes, dict, np.ndarray, torch.Tensor)):
        pairs = data
    else:
        raise ValueError(f"data must be (inputs, targets) or a DataLoader, got {_describe(data)}; {usage}.")
    out = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) < 2:
            raise ValueError(f"data: batch {i} is {_describe(pair)}, not a pair (inputs, targets); {usage}.")
        x, y = _batch_tensor(pair[0], "inputs"), _batch_tensor(pair[1], "targets")
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"data: inputs and targets disagree in length: {x.shape[0]} inputs vs {y.shape[0]} targets."
            )
        if x.shape[0] == 0:
            raise ValueError(f"data: batch {i} holds no samples (inputs of shape {tuple(x.shape)}); the mean loss "
                             "needs at least one.")
        out.append((x, y))
    if not out:
        raise ValueError(f"data holds no batches; {usage}.")
    return out


def _select(names: Sequence[str], params: Sequence[str] | str | None) -> list[str]:
    if params is None:
        return list(names)
    if isinstance(params, str):
        wanted = [params]
    elif isinstance(params, (list, tuple)) and params and all(isinstance(w, str) for w in params):
        wanted = list(params)
    else:
        raise TypeError(f"params must be a parameter name (or prefix) or a non-empty list of them, e.g. "
                        f"{list(names)[:2]}; got {_describe(params)}.")
    chosen = [n for n in names if any(n == w or n.startswith(w.rstrip(".") + ".") for w in wanted)]
    if not chosen:
        raise ValueError(f"params={wanted!r} selects none of the trainable parameters {list(names)}.")
    return chosen


class Problem:
    """Loss of ``model`` on ``data`` as a function of a flat vector of (some of) its trainable parameters.

    Parameters
    ----------
    model : any ``nn.Module``; evaluated in its current train/eval mode.
    loss_fn : ``loss_fn(output, target) -> scalar`` with mean reduction over the batch (batches of a
        DataLoader are combined as ``sum_b n_b L_b / n``).
    data : ``(inputs, targets)`` (tensors or arrays) or an iterable of such batches.
    params : names (or name prefixes such as ``"0"`` or ``"0.weight"``) of the parameters to vary;
        ``None`` varies all trainable parameters (the per-layer restriction).
    dtype : ``torch.float64`` for accurate spectra; default the model's dtype.
    device : default CUDA when available.
    name : how errors call ``model`` (``"model_a"`` in :func:`~spinlens.landscape.interpolate`).
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        data: Any,
        params: Sequence[str] | str | None = None,
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
        name: str = "model",
    ) -> None:
        check_module(model, name)
        if not callable(loss_fn):
            raise ValueError("loss_fn must be callable as loss_fn(output, target).")
        trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not trainable:
            raise ValueError(
                "the model has no trainable parameters (all have requires_grad=False); "
                "a Hessian needs at least one parameter to vary."
            )
        self.device = default_device(device)
        ref_dtype = trainable[0][1].dtype
        self.dtype = dtype or (ref_dtype if ref_dtype.is_floating_point else torch.float32)
        self.model = model
        self.loss_fn = loss_fn
        all_names = [n for n, _ in trainable]
        self.names = _select(all_names, params)
        named = dict(model.named_parameters())
        self.shapes = [tuple(named[n].shape) for n in self.names]
        self.numels = [int(named[n].numel()) for n in self.names]
        self.n_params = int(sum(self.numels))
        self.fixed = {
            n: p.detach().to(self.device, self.dtype if p.is_floating_point() else p.dtype)
            for n, p in model.named_parameters()
            if n not in self.names
        }
        self.buffers = {
            n: b.detach().to(self.device, self.dtype if b.is_floating_point() else b.dtype)
            for n, b in model.named_buffers()
        }
        self.theta0 = torch.cat([named[n].detach().reshape(-1) for n in self.names]).to(self.device, self.dtype)
        batches = as_batches(data)
        self.batches = [(self._cast(x), self._cast(y)) for x, y in batches]
        self.n_samples = int(sum(x.shape[0] for x, _ in self.batches))
        self.weights = [x.shape[0] / self.n_samples for x, _ in self.batches]
        self._check()

    def _cast(self, t: torch.Tensor) -> torch.Tensor:
        t = t.to(self.device)
        return t.to(self.dtype) if t.is_floating_point() else t

    def _check(self) -> None:
        x, y = self.batches[0]
        with torch.no_grad():
            try:
                out = self.forward(self.theta0, x)
            except RuntimeError as exc:
                raise ValueError(
                    f"the model cannot be evaluated on inputs of shape {tuple(x.shape)} "
                    f"(data/model shape mismatch?): {exc}"
                ) from exc
            try:
                loss = self.loss_fn(out, y)
            except (RuntimeError, ValueError, IndexError) as exc:
                raise ValueError(
                    f"loss_fn failed on model output of shape {tuple(out.shape)} and targets of shape "
                    f"{tuple(y.shape)} (data/model shape mismatch?): {exc}"
                ) from exc
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise ValueError(
                f"loss_fn must return a scalar (use reduction='mean'); it returned shape {shape}."
            )
        if not torch.isfinite(loss):
            raise ValueError(f"the loss at the given parameters is not finite ({float(loss)}).")

    # ------------------------------------------------------------------ flat <-> dict
    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Flat vector (N,) → ``{name: tensor}`` for the selected parameters."""
        parts = torch.split(theta, self.numels)
        return {n: p.view(s) for n, p, s in zip(self.names, parts, self.shapes, strict=False)}

    def full_params(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        d = dict(self.fixed)
        d.update(self.unflatten(theta))
        d.update(self.buffers)
        return d

    def flatten(self, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([tensors[n].reshape(-1) for n in self.names]).to(self.device, self.dtype)

    def forward(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.model, self.full_params(theta), (x,))

    def batch_loss(self, theta: torch.Tensor, b: int) -> torch.Tensor:
        x, y = self.batches[b]
        return self.loss_fn(self.forward(theta, x), y).reshape(())

    def loss(self, theta: torch.Tensor) -> torch.Tensor:
        """Mean loss over all data at the flat parameters ``theta``."""
        total = self.batch_loss(theta, 0) * self.weights[0]
        for b in range(1, len(self.batches)):
            total = total + self.batch_loss(theta, b) * self.weights[b]
        return total

    def as_vector(self, v: Any) -> torch.Tensor:
        """A direction as a flat tensor: accepts a flat array/tensor or a ``{name: tensor}`` mapping."""
        if isinstance(v, dict):
            missing = [n for n in self.names if n not in v]
            if missing:
                raise ValueError(f"direction lacks parameters {missing}.")
            return self.flatten(v)
        t = _to_tensor(v).to(self.device, self.dtype).reshape(-1)
        if t.numel() != self.n_params:
            raise ValueError(f"direction has {t.numel()} entries but the model has {self.n_params} parameters.")
        return t
