r"""A trained network as an Ising model (Barney, Winer & Galitski, arXiv:2408.06421).

Every neuron (input, hidden, output) becomes a spin :math:`s_i \in \{-1,+1\}`; the weights become
couplings. With layer widths :math:`n_0, \dots, n_L` and weight matrices :math:`W_l` of shape
:math:`(n_{l+1}, n_l)` the bond matrix is symmetric and block-tridiagonal with block
:math:`(l, l+1) = W_l^\top` and no couplings inside a layer:

.. math:: H(s) = -\sum_{l=0}^{L-1} \sum_{i,j} (W_l)_{ji}\, s^{(l)}_i s^{(l+1)}_j
                 \;-\; \sum_{l=1}^{L} \sum_j b^{(l)}_j s^{(l)}_j \quad(\text{fields only if requested}).

The activation functions do not enter :math:`H`; they only shape which weights training produces.
Checkpoints are untrusted input: :func:`load_checkpoint` never unpickles arbitrary objects.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from spinlens.spins import IsingModel, layered_sk_from_weights

__all__ = ["MappedNetwork", "to_spins", "extract_weights", "load_checkpoint", "SUPPORTED_LAYERS"]

#: Element-wise modules that may sit between Linear layers (they do not enter the Hamiltonian).
SUPPORTED_LAYERS = (
    "Linear",
    "ReLU",
    "LeakyReLU",
    "Tanh",
    "Sigmoid",
    "GELU",
    "SiLU",
    "ELU",
    "Softplus",
    "Hardtanh",
    "Sign",
    "Identity",
    "Dropout",
    "Flatten (before the first Linear only)",
)
_ELEMENTWISE = {
    "ReLU", "ReLU6", "LeakyReLU", "Tanh", "Sigmoid", "GELU", "SiLU", "ELU", "SELU", "CELU", "Softplus",
    "Hardtanh", "Hardsigmoid", "Hardswish", "Mish", "Softsign", "Tanhshrink", "Sign", "Identity", "Dropout",
    "AlphaDropout",
}
_SUPPORTED_TEXT = (
    "to_spins maps an nn.Sequential of Linear layers with element-wise activations "
    f"({', '.join(SUPPORTED_LAYERS)}), a state dict of such Linear layers, or a list of weight matrices "
    "of shape (out, in)"
)


class MappedNetwork(NamedTuple):
    """What :func:`to_spins` returns: the spin model and its layer layout.

    Attributes
    ----------
    model : IsingModel
        Sparse block-tridiagonal couplings, ``model.layers == widths``.
    widths : tuple of int
        Layer widths :math:`(n_0, \\dots, n_L)` (input first).
    layer_names : tuple of str
        One name per spin layer (``"input"``, names of the Linear layers producing the others).
    weights : tuple of ndarray
        The weight matrices :math:`W_l`, shape ``(n_{l+1}, n_l)``, float64.
    biases : tuple of ndarray or None
        The biases :math:`b^{(l+1)}` (None where a layer has no bias).
    """

    model: IsingModel
    widths: tuple[int, ...]
    layer_names: tuple[str, ...]
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray | None, ...]


def _to_numpy(x: Any, what: str) -> np.ndarray:
    try:
        import torch

        if isinstance(x, torch.Tensor):
            return x.detach().to("cpu", dtype=torch.float64).numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not a numeric array: {exc}") from None


def _from_module(net: Any) -> tuple[list[np.ndarray], list[np.ndarray | None], list[str]]:
    import torch.nn as nn

    if not isinstance(net, nn.Sequential):
        raise ValueError(
            f"{type(net).__name__} is not an nn.Sequential: its forward() may contain skip connections or other "
            f"operations the spin mapping cannot see. {_SUPPORTED_TEXT}. Pass the nn.Sequential inside it, "
            "or the list of its weight matrices."
        )

    def flat(seq: nn.Sequential, prefix: str) -> list[tuple[str, nn.Module]]:
        out: list[tuple[str, nn.Module]] = []
        for name, mod in seq.named_children():
            full = f"{prefix}{name}"
            if isinstance(mod, nn.Sequential):
                out += flat(mod, full + ".")
            else:
                out.append((full, mod))
        return out

    Ws: list[np.ndarray] = []
    bs: list[np.ndarray | None] = []
    names: list[str] = []
    for name, mod in flat(net, ""):
        kind = type(mod).__name__
        if isinstance(mod, nn.Linear):
            Ws.append(_to_numpy(mod.weight, f"layer {name} (Linear) weight"))
            bs.append(None if mod.bias is None else _to_numpy(mod.bias, f"layer {name} (Linear) bias"))
            names.append(name)
        elif isinstance(mod, nn.Flatten):
            if Ws:
                raise ValueError(
                    f"layer {name} (Flatten) comes after a Linear layer; only a leading Flatten is supported. "
                    f"{_SUPPORTED_TEXT}."
                )
        elif kind in _ELEMENTWISE:
            if any(True for _ in mod.parameters()):
                raise ValueError(
                    f"layer {name} ({kind}) has learnable parameters, which the spin mapping ignores. "
                    f"{_SUPPORTED_TEXT}."
                )
        else:
            raise ValueError(f"layer {name} ({kind}) is not supported. {_SUPPORTED_TEXT}.")
    if not Ws:
        raise ValueError(f"the network has no Linear layer. {_SUPPORTED_TEXT}.")
    return Ws, bs, names


_BAD_KEY_HINTS = ("running_mean", "running_var", "num_batches_tracked", "in_proj", "conv", "attn", "norm")


def _natural_key(name: str) -> list[Any]:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t]


def _chain_ok(Ws: list[np.ndarray]) -> bool:
    return all(Ws[l].shape[1] == Ws[l - 1].shape[0] for l in range(1, len(Ws)))


def _from_state_dict(sd: Mapping[str, Any]) -> tuple[list[np.ndarray], list[np.ndarray | None], list[str]]:
    weights: dict[str, np.ndarray] = {}
    biases: dict[str, np.ndarray] = {}
    for key, val in sd.items():
        if not isinstance(key, str):
            raise ValueError(f"state dict keys must be strings, got {key!r}.")
        if any(h in key.lower() for h in ("running_mean", "running_var", "num_batches_tracked")):
            raise ValueError(f"state-dict entry {key!r} belongs to a normalisation layer (BatchNorm); "
                             f"it is not supported. {_SUPPORTED_TEXT}.")
        arr = _to_numpy(val, f"state-dict entry {key!r}")
        base, _, leaf = key.rpartition(".")
        if leaf == "weight":
            if arr.ndim != 2:
                raise ValueError(
                    f"state-dict entry {key!r} has shape {arr.shape}: not a Linear layer "
                    f"(convolutions and normalisation layers are not supported). {_SUPPORTED_TEXT}."
                )
            weights[base] = arr
        elif leaf == "bias":
            biases[base] = arr
        else:
            raise ValueError(f"state-dict entry {key!r} is not a Linear weight or bias. {_SUPPORTED_TEXT}.")
    if not weights:
        raise ValueError(f"the state dict holds no Linear weights. {_SUPPORTED_TEXT}.")
    for base, b in biases.items():
        if base not in weights:
            raise ValueError(f"state-dict entry {base + '.bias'!r} is a bias without a Linear weight.")
        if b.shape != (weights[base].shape[0],):
            raise ValueError(f"bias {base + '.bias'!r} has shape {b.shape}, expected ({weights[base].shape[0]},).")
    names = list(weights)  # insertion order = module order for torch state dicts
    if not _chain_ok([weights[n] for n in names]):
        natural = sorted(names, key=_natural_key)  # e.g. safetensors files store keys sorted as text
        if _chain_ok([weights[n] for n in natural]):
            names = natural
    return [weights[n] for n in names], [biases.get(n) for n in names], names


def extract_weights(net: Any) -> tuple[list[np.ndarray], list[np.ndarray | None], list[str]]:
    """Weight matrices ``W_l`` (out, in), biases and layer names from any input :func:`to_spins` accepts.

    Raises
    ------
    ValueError
        For unsupported layers (naming the layer), NaN/inf weights or a broken chain of shapes.
    """
    if isinstance(net, MappedNetwork):
        return list(net.weights), list(net.biases), list(net.layer_names[1:])
    try:
        import torch.nn as nn

        is_module = isinstance(net, nn.Module)
    except ImportError:  # pragma: no cover
        is_module = False
    if is_module:
        Ws, bs, names = _from_module(net)
    elif isinstance(net, Mapping):
        Ws, bs, names = _from_state_dict(net)
    elif isinstance(net, (str, os.PathLike)):
        Ws, bs, names = _from_state_dict(load_checkpoint(net))
    elif isinstance(net, Sequence) or isinstance(net, np.ndarray):
        Ws = [_to_numpy(W, f"weight {l}") for l, W in enumerate(net)]
        bs = [None] * len(Ws)
        names = [f"W{l}" for l in range(len(Ws))]
        if not Ws:
            raise ValueError("the weight list is empty.")
    else:
        raise ValueError(f"cannot map a {type(net).__name__} to spins. {_SUPPORTED_TEXT}.")
    for l, (W, name) in enumerate(zip(Ws, names, strict=True)):
        if W.ndim != 2:
            raise ValueError(f"weight {l} ({name}) must be a 2-D (out, in) matrix, got shape {W.shape}.")
        if not np.all(np.isfinite(W)):
            raise ValueError(f"weight {l} ({name}) contains NaN or inf: the network diverged or is corrupt.")
        b = bs[l]
        if b is not None and not np.all(np.isfinite(b)):
            raise ValueError(f"bias of layer {name} contains NaN or inf.")
        if l > 0 and W.shape[1] != Ws[l - 1].shape[0]:
            raise ValueError(
                f"layer {name} expects {W.shape[1]} inputs but the previous Linear layer has {Ws[l - 1].shape[0]} "
                "outputs: the layers do not form a chain (skip connections or reshapes are not supported)."
            )
    return Ws, bs, names


def to_spins(net: Any, bias_as_field: bool = False) -> MappedNetwork:
    r"""Map a feed-forward network onto an Ising model.

    Parameters
    ----------
    net : nn.Sequential, state dict, list of (out, in) weight matrices, or a checkpoint path
        ``nn.Sequential`` of ``Linear`` layers with element-wise activations (a leading ``Flatten``,
        ``Dropout`` and ``Identity`` are allowed), or the state dict of such a network.
    bias_as_field : bool
        Put the biases :math:`b^{(l+1)}` on the spins of layer ``l+1`` as fields (default: no fields).

    Returns
    -------
    MappedNetwork
        ``(model, widths, layer_names, weights, biases)``; ``model`` has the sparse bond matrix with
        block :math:`(l, l+1) = W_l^\top` and ``model.layers = widths``.

    Raises
    ------
    ValueError
        Unsupported layers (convolutions, attention, normalisation, non-Sequential modules), NaN weights,
        inconsistent shapes, or ``bias_as_field=True`` for a plain weight list.
    """
    Ws, bs, names = extract_weights(net)
    widths = (int(Ws[0].shape[1]),) + tuple(int(W.shape[0]) for W in Ws)
    h = None
    if bias_as_field:
        h = np.zeros(sum(widths))
        off = widths[0]
        for W, b in zip(Ws, bs, strict=True):
            if b is not None:
                h[off : off + W.shape[0]] = b
            off += W.shape[0]
    model = layered_sk_from_weights(Ws, h)
    return MappedNetwork(
        model=model,
        widths=widths,
        layer_names=("input",) + tuple(names),
        weights=tuple(Ws),
        biases=tuple(bs),
    )


_NESTED_KEYS = ("state_dict", "model_state_dict", "model")


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a state dict safely (``torch.load(weights_only=True)`` or safetensors; no arbitrary unpickling).

    A dict nesting the state dict under ``"state_dict"``, ``"model_state_dict"`` or ``"model"`` is unwrapped.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a state dict of tensors (e.g. a pickled module or a pickle that would run code;
        it is refused without executing anything).
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint {p} does not exist.")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            obj: Any = load_file(str(p), device="cpu")
        except Exception as exc:  # safetensors raises its own error types
            raise ValueError(f"{p} is not a valid safetensors file: {exc}") from None
    else:
        try:
            obj = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:  # UnpicklingError, RuntimeError, EOFError, ...
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(
                f"{p} could not be loaded as a plain state dict with torch.load(weights_only=True) "
                f"({first[:200]}). spinlens refuses to unpickle arbitrary objects; save the network with "
                "torch.save(model.state_dict(), path) or as .safetensors."
            ) from None
    if isinstance(obj, Mapping):
        for k in _NESTED_KEYS:
            if k in obj and isinstance(obj[k], Mapping):
                obj = obj[k]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(
            f"{p} holds a {type(obj).__name__}, not a state dict (a mapping of parameter names to tensors); "
            "save it with torch.save(model.state_dict(), path)."
        )
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"{p} is not a state dict: entries {bad[:5]} are not tensors.")
    return dict(obj)
