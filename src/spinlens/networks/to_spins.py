r"""A trained network as an Ising model (Barney, Winer & Galitski, arXiv:2408.06421).

Every neuron (input, hidden, output) becomes a spin :math:`s_i \in \{-1,+1\}`; the weights become
couplings. With layer widths :math:`n_0, \dots, n_L` and weight matrices :math:`W_l` of shape
:math:`(n_{l+1}, n_l)` the bond matrix is symmetric and block-tridiagonal with block
:math:`(l, l+1) = W_l^\top` and no couplings inside a layer:

.. math:: H(s) = -\sum_{l=0}^{L-1} \sum_{i,j} (W_l)_{ji}\, s^{(l)}_i s^{(l+1)}_j
                 \;-\; \sum_{l=1}^{L} \sum_j b^{(l)}_j s^{(l)}_j \quad(\text{fields only if requested}).

The activation functions do not enter :math:`H`; they only shape which weights training produces.
Checkpoints are untrusted input: :func:`~spinlens.networks.checkpoints.load_checkpoint` never unpickles
arbitrary objects.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from spinlens.networks.checkpoints import load_checkpoint
from spinlens.spins import IsingModel, layered_sk_from_weights

__all__ = ["MappedNetwork", "to_spins", "extract_weights", "load_checkpoint", "SUPPORTED_LAYERS"]

#: What the mapping reads exactly (every other module or operation is refused by name).
SUPPORTED_LAYERS = (
    "Linear",
    "element-wise activations (ReLU, LeakyReLU, Tanh, Sigmoid, GELU, SiLU, ELU, Softplus, Hardtanh, Sign, ...)",
    "Identity",
    "Dropout",
    "Flatten / view / reshape before the first Linear",
    "Softmax / LogSoftmax after the last Linear",
)
_ELEMENTWISE = {
    "ReLU", "ReLU6", "LeakyReLU", "Tanh", "Sigmoid", "GELU", "SiLU", "ELU", "SELU", "CELU", "Softplus",
    "Hardtanh", "Hardsigmoid", "Hardswish", "Mish", "Softsign", "Tanhshrink", "Sign", "Identity", "Dropout",
    "AlphaDropout",
}
_OUTPUT_ONLY = {"Softmax", "LogSoftmax", "softmax", "log_softmax"}
_FUNCTIONS = {  # call_function / call_method targets by name: element-wise, reshapes, output normalisation
    "relu", "relu_", "relu6", "leaky_relu", "tanh", "sigmoid", "gelu", "silu", "elu", "selu", "celu", "softplus",
    "hardtanh", "hardsigmoid", "hardswish", "mish", "softsign", "sign", "dropout", "identity",
}
_RESHAPES = {"flatten", "view", "reshape", "contiguous"}
_METADATA = {"size", "dim", "shape"}
_SUPPORTED_TEXT = ("to_spins maps chains of Linear layers and element-wise activations; "
                   "map_network(net, example_input) maps convolutions, BatchNorm, pooling and skip connections")
_STATE_DICT_NOTE = (
    "read from a state dict, which does not record the forward pass: assumed to be the plain chain {names} "
    "(an nn.Sequential); pass the module (to_spins(net), or --model module:builder) to have it checked."
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
    notes : tuple of str
        What the mapping assumed about the input (e.g. that a state dict is a plain chain); results and reports
        repeat these.
    """

    model: IsingModel
    widths: tuple[int, ...]
    layer_names: tuple[str, ...]
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray | None, ...]
    notes: tuple[str, ...] = ()


def _to_numpy(x: Any, what: str) -> np.ndarray:
    try:
        import torch

        if isinstance(x, torch.Tensor):
            return x.detach().to("cpu", dtype=torch.float64).numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not a numeric array: {exc}") from None
    return arr


def trace_module(net: Any, is_leaf: Any = None) -> Any:
    """``torch.fx`` graph of ``net.forward``; ``is_leaf(module)`` (default: it has no children) keeps a module as
    one call node, named by its path. Untraceable code (data-dependent control flow) is a ``ValueError``."""
    import torch.fx as fx

    leaf = is_leaf if is_leaf is not None else (lambda m: not any(True for _ in m.children()))

    class _Tracer(fx.Tracer):
        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return super().is_leaf_module(m, qualname) or bool(leaf(m))

    try:
        return _Tracer().trace(net)
    except Exception as exc:  # torch.fx raises TraceError, TypeError, RuntimeError, ... for untraceable code
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ValueError(
            f"{type(net).__name__}.forward() cannot be traced by torch.fx ({first}): data-dependent control flow "
            "has no fixed spin couplings. Rewrite forward() without branching on tensor values."
        ) from None


def _is_metadata(node: Any) -> bool:
    return (node.op == "call_method" and node.target in _METADATA) or (
        node.op == "call_function" and node.target is getattr)


def _role(node: Any, modules: Mapping[str, Any]) -> str | None:
    """What a graph node does to the chain: linear, reshape, output (softmax), elementwise, parametrised, None."""
    import torch.nn as nn

    if node.op == "call_module":
        mod = modules[node.target]
        kind = type(mod).__name__
        if isinstance(mod, nn.Linear):
            return "linear"
        if isinstance(mod, nn.Flatten):
            return "reshape"
        if kind in _OUTPUT_ONLY:
            return "output"
        if kind in _ELEMENTWISE:
            return "parametrised" if any(True for _ in mod.parameters()) else "elementwise"
        return None
    name = str(getattr(node.target, "__name__", node.target))
    if name.endswith("_") and name != "relu_":  # in-place variants: tanh_, sigmoid_, ...
        name = name[:-1]
    if name in _RESHAPES:
        return "reshape"
    if name in _OUTPUT_ONLY:
        return "output"
    return "elementwise" if name in _FUNCTIONS else None


def _from_module(net: Any) -> tuple[list[np.ndarray], list[np.ndarray | None], list[str], list[str]]:
    """Weights of a module whose traced forward pass is a chain (input → Linear/activations → output)."""
    import torch.nn as nn

    graph = trace_module(net)
    modules = dict(net.named_modules())
    Ws: list[np.ndarray] = []
    bs: list[np.ndarray | None] = []
    names: list[str] = []
    notes: list[str] = []
    cur: Any = None  # the node that carries the chain's value
    meta: set[Any] = set()  # nodes that compute sizes, not values
    finished = False  # a Softmax/LogSoftmax after the last Linear ends the chain
    cls = type(net).__name__

    def refuse(node: Any, what: str, why: str) -> ValueError:
        return ValueError(f"{cls}: {what} is not supported ({why}). {_SUPPORTED_TEXT}.")

    def label(node: Any) -> str:
        if node.op == "call_module":
            return f"layer {node.target} ({type(modules[node.target]).__name__})"
        name = getattr(node.target, "__name__", str(node.target))
        return f"operation {name!r} (graph node {node.name})"

    for node in graph.nodes:
        if node.op == "placeholder":
            if cur is not None:
                raise ValueError(f"{cls}.forward() takes several inputs; spins map a network with one input.")
            cur = node
            continue
        if node.op == "output":
            if node.args[0] is not cur:
                raise ValueError(f"{cls}.forward() does not return the output of its last layer as one tensor "
                                 "(it returns a tuple, a dict or an earlier value): not a chain.")
            break
        if node.op == "get_attr":
            raise refuse(node, f"the parameter {node.target!r} used directly in forward()",
                         "use it through an nn.Linear module")
        kind = type(modules[node.target]).__name__ if node.op == "call_module" else \
            getattr(node.target, "__name__", str(node.target))
        if node.op != "call_module" and (_is_metadata(node) or node.all_input_nodes
                                         and all(a in meta for a in node.all_input_nodes)):
            meta.add(node)  # x.size(0), x.shape[0]: sizes used by view/reshape, not values of the chain
            continue
        data_inputs = [a for a in node.all_input_nodes if a not in meta]
        if cur not in data_inputs:
            raise refuse(node, label(node), "it does not act on the previous layer's output")
        if len(data_inputs) != 1:
            raise refuse(node, label(node), "it combines several values: a skip connection, concatenation or "
                         "product; residual networks are not mapped yet")
        users = [u for u in cur.users if not _is_metadata(u)]
        if len(users) != 1:
            src = "the network input" if cur.op == "placeholder" else f"the output of {label(cur)}"
            raise ValueError(f"{cls}: {src} feeds {len(users)} operations ({', '.join(u.name for u in users)}): a "
                             "branch or skip connection, which the spin mapping does not support yet. "
                             f"{_SUPPORTED_TEXT}.")
        if finished:
            raise ValueError(f"{cls}: {label(cur)} is followed by {label(node)}; a softmax mixes the units of a "
                             f"layer and is supported only at the output. {_SUPPORTED_TEXT}.")
        role = _role(node, modules)
        if role == "linear":
            mod = modules[node.target]
            Ws.append(_to_numpy(mod.weight, f"layer {node.target} (Linear) weight"))
            bs.append(None if mod.bias is None else _to_numpy(mod.bias, f"layer {node.target} (Linear) bias"))
            names.append(str(node.target))
        elif role == "reshape":
            if Ws:
                raise refuse(node, label(node), "a reshape after a Linear layer mixes hidden units")
        elif role == "output":
            if not Ws:
                raise refuse(node, label(node), "a softmax may only follow the last Linear layer")
            finished = True
            notes.append(f"the {kind} at the output ({node.name}) normalises the output units; it does not enter "
                         "the Hamiltonian.")
        elif role == "parametrised":
            raise refuse(node, label(node), "it has learnable parameters, which the spin mapping ignores")
        elif role != "elementwise":
            raise refuse(node, label(node), "not a Linear layer or an element-wise activation")
        cur = node
    if not Ws:
        raise ValueError(f"{cls} has no Linear layer. {_SUPPORTED_TEXT}.")
    if not isinstance(net, nn.Sequential) or type(net).forward is not nn.Sequential.forward:
        notes.append(f"forward pass of {cls} traced with torch.fx: a chain of {len(Ws)} Linear layers.")
    return Ws, bs, names, notes


def _natural_key(name: str) -> list[Any]:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t]


def _sequential_index(base: str) -> tuple[str, tuple[int, ...]]:
    """``"model.3.1"`` → ``("model.", (3, 1))``: the trailing integer path of a module name and what precedes it."""
    parts = base.split(".")
    k = len(parts)
    while k > 0 and parts[k - 1].isdigit():
        k -= 1
    return ".".join(parts[:k]) + ("." if k else ""), tuple(int(p) for p in parts[k:])


def _from_state_dict(sd: Mapping[str, Any]) -> tuple[list[np.ndarray], list[np.ndarray | None], list[str], list[str]]:
    """Linear layers of a state dict, ordered by their nn.Sequential index (never by key order).

    A state dict does not record the forward pass. It is read as a chain only when it is the state dict of an
    ``nn.Sequential`` itself: every layer an integer path (``0.weight``, ``2.weight``, ..., nested ``7.1.weight``),
    read in index order. Any other naming needs the module: ``fc1``/``out``; ``blocks.0.fc1``; and also
    ``model.0.weight`` or ``layers.0.weight``, which may be an ``nn.ModuleList`` that a custom ``forward`` combines
    with skip connections.
    """
    weights: dict[str, np.ndarray] = {}
    biases: dict[str, np.ndarray] = {}
    for key, val in sd.items():
        if not isinstance(key, str):
            raise ValueError(f"state dict keys must be strings, got {key!r}.")
        if any(h in key for h in ("running_mean", "running_var", "num_batches_tracked")):
            raise ValueError(f"state-dict entry {key!r} belongs to a normalisation layer (BatchNorm), which is not "
                             "mapped yet; map the network without it, or pass its Linear weights as a list.")
        arr = _to_numpy(val, f"state-dict entry {key!r}")
        base, _, leaf = key.rpartition(".")
        if leaf == "weight":
            if arr.ndim != 2:
                raise ValueError(
                    f"state-dict entry {key!r} has shape {tuple(arr.shape)}: not a Linear layer's (out, in) weight "
                    "(convolution and normalisation layers are not mapped yet)."
                )
            weights[base] = arr
        elif leaf == "bias":
            biases[base] = arr
        else:
            raise ValueError(f"state-dict entry {key!r} is not a Linear weight or bias "
                             "(spinlens maps state dicts of Linear layers only).")
    if not weights:
        raise ValueError("the state dict holds no Linear weights (keys ending in '.weight').")
    for base, b in biases.items():
        if base not in weights:
            raise ValueError(f"state-dict entry {base + '.bias'!r} is a bias without a Linear weight.")
        if b.shape != (weights[base].shape[0],):
            raise ValueError(f"bias {base + '.bias'!r} has shape {b.shape}, expected ({weights[base].shape[0]},).")
    index = {b: _sequential_index(b) for b in weights}
    if not all(ix[1] and not ix[0] for ix in index.values()):
        shown = ", ".join(sorted(weights, key=_natural_key)[:6]) + (", ..." if len(weights) > 6 else "")
        raise ValueError(
            f"the state dict names its layers {shown}: a state dict does not show the forward pass (layer order, "
            "skip connections), and only the keys of an nn.Sequential itself (0.weight, 2.weight, ...) prove a "
            "chain. Pass the module: to_spins(net), or --model module:builder on the command line."
        )
    names = sorted(weights, key=lambda b: index[b][1])
    notes = [_STATE_DICT_NOTE.format(names=" → ".join(names))]
    return [weights[n] for n in names], [biases.get(n) for n in names], names, notes


def extract_weights(net: Any) -> tuple[list[np.ndarray], list[np.ndarray | None], list[str]]:
    """Weight matrices ``W_l`` (out, in), biases and layer names from any input :func:`to_spins` accepts.

    Raises
    ------
    ValueError
        For unsupported layers (naming the layer), NaN/inf weights or a broken chain of shapes.
    """
    Ws, bs, names, _ = _read(net)
    return Ws, bs, names


def _read(net: Any) -> tuple[list[np.ndarray], list[np.ndarray | None], list[str], list[str]]:
    """:func:`extract_weights` and the notes on what was assumed about the input."""
    notes: list[str] = []
    if isinstance(net, MappedNetwork):
        return list(net.weights), list(net.biases), list(net.layer_names[1:]), list(net.notes)
    try:
        import torch.nn as nn

        is_module = isinstance(net, nn.Module)
    except ImportError:  # pragma: no cover
        is_module = False
    if is_module:
        Ws, bs, names, notes = _from_module(net)
    elif isinstance(net, Mapping):
        Ws, bs, names, notes = _from_state_dict(net)
    elif isinstance(net, (str, os.PathLike)):
        if not os.path.exists(net):
            raise FileNotFoundError(f"net is the string {os.fspath(net)!r}: a str is read as a checkpoint path, and "
                                    "that file does not exist.")
        Ws, bs, names, notes = _from_state_dict(load_checkpoint(net))
    elif isinstance(net, Sequence) or isinstance(net, np.ndarray):
        if isinstance(net, np.ndarray) and net.ndim != 3:
            raise ValueError(f"net is a {net.ndim}-D array; pass a list of (out, in) weight matrices ([W] for one "
                             "layer).")
        Ws = [_to_numpy(W, f"net (weight list): weight {l}") for l, W in enumerate(net)]
        bs = [None] * len(Ws)
        names = [f"W{l}" for l in range(len(Ws))]
        if not Ws:
            raise ValueError("net (a weight list) is empty.")
    else:
        raise ValueError(f"net is a {type(net).__name__}: pass an nn.Module, a state dict, a checkpoint path or a "
                         "list of (out, in) weight matrices.")
    for l, (W, name) in enumerate(zip(Ws, names, strict=True)):
        if W.ndim != 2:
            raise ValueError(f"weight {l} ({name}) must be a 2-D (out, in) matrix, got shape {W.shape}.")
        if not np.all(np.isfinite(W)):
            raise ValueError(f"layer {name} (weight {l}) contains NaN or inf: the network diverged or is corrupt.")
        b = bs[l]
        if b is not None and not np.all(np.isfinite(b)):
            raise ValueError(f"the bias of layer {name} contains NaN or inf: the network diverged or is corrupt.")
        if l > 0 and W.shape[1] != Ws[l - 1].shape[0]:
            raise ValueError(
                f"layer {name} (shape {W.shape[0]}×{W.shape[1]}) expects {W.shape[1]} inputs but layer {names[l - 1]} "
                f"has {Ws[l - 1].shape[0]} outputs: not a chain of Linear layers (a 2-D weight may belong to an "
                "Embedding or another layer). Pass the module: to_spins(net), or --model module:builder."
            )
    return Ws, bs, names, notes


def to_spins(net: Any, bias_as_field: bool = False) -> MappedNetwork:
    r"""Map a feed-forward network onto an Ising model.

    Parameters
    ----------
    net : nn.Module, state dict, list of (out, in) weight matrices, or a checkpoint path
        Any ``nn.Module`` whose forward pass (traced with ``torch.fx``) is a chain of ``Linear`` layers with
        element-wise activations (``SUPPORTED_LAYERS``: a leading ``Flatten``/``view``, ``Dropout``,
        ``Identity`` and a final ``Softmax``/``LogSoftmax`` are allowed). A state dict does not record the
        forward pass: it is read only when its layers are the integer-indexed children of one
        ``nn.Sequential`` (``0.weight``, ``2.weight``, ...), in index order, and the result's ``notes`` say so.
    bias_as_field : bool
        Put the biases :math:`b^{(l+1)}` on the spins of layer ``l+1`` as fields (default: no fields).

    Returns
    -------
    MappedNetwork
        ``(model, widths, layer_names, weights, biases, notes)``; ``model`` has the sparse bond matrix with
        block :math:`(l, l+1) = W_l^\top` and ``model.layers = widths``; ``notes`` what was assumed.

    Raises
    ------
    ValueError
        Unsupported layers or operations (convolutions, attention, normalisation, skip connections), a state
        dict whose names do not show the layer order, NaN weights, inconsistent shapes.
    """
    Ws, bs, names, notes = _read(net)
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
        notes=tuple(notes),
    )
