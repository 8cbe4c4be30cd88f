r"""Every network spinlens reads, as one :class:`~spinlens.networks.graph.SpinGraph`.

The pipelines (phases over training, spectra, the initialisation theory) work on named neuron layers and coupling
blocks, whatever the network was given as:

* an ``nn.Module`` (an MLP, a CNN, a residual net, the user's own ``forward()``) is mapped by graph capture,
  :func:`~spinlens.networks.graph.map_network`, on an example input of the network's input shape;
* a state dict, a checkpoint path, a list of weight matrices or a :class:`~spinlens.networks.to_spins.MappedNetwork`
  does not record the forward pass: it is read by :func:`~spinlens.networks.to_spins.to_spins`'s chain rule (the
  state dict of one ``nn.Sequential`` of Linear layers, said in the notes) and its layers become a chain of dense
  blocks.

Both give the same couplings for an MLP (tested), so the analyses downstream cannot tell how the network came in.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from spinlens.networks.graph import CouplingBlock, NeuronLayer, SpinGraph, map_network

__all__ = ["spin_graph", "input_shape_of"]


def input_shape_of(net: Any) -> tuple[int, ...]:
    """The per-sample input shape of a module whose forward pass starts with a ``Linear`` layer: ``(in_features,)``.

    The first layer with parameters in the traced forward pass decides; anything else (a convolution, whose image
    size its weights do not show) is a ``ValueError`` that asks for the shape.
    """
    import torch.nn as nn

    from spinlens.networks.to_spins import trace_module

    graph = trace_module(net)
    modules = dict(net.named_modules())
    for node in graph.nodes:
        if node.op != "call_module":
            continue
        mod = modules.get(str(node.target))
        if isinstance(mod, nn.Linear):
            return (int(mod.in_features),)
        if mod is not None and any(True for _ in mod.parameters(recurse=False)):
            raise ValueError(
                f"the input shape of {type(net).__name__} cannot be read from its first layer {node.target!r} "
                f"({type(mod).__name__}): give it (example_input, e.g. (1, 1, 28, 28); on the command line "
                "--input-shape 1,28,28, or --dataset whose samples the network takes flat)."
            )
    raise ValueError(f"{type(net).__name__} has no Linear or convolution layer: nothing to read the input shape from; "
                     "give example_input.")


def _chain_graph(mapped: Any) -> SpinGraph:
    """A chain of dense blocks from :func:`~spinlens.networks.to_spins.to_spins` (same ``J``, fields and notes)."""
    import scipy.sparse as sp

    widths = tuple(int(w) for w in mapped.widths)
    names = list(mapped.layer_names[:-1]) + ["output"]
    offsets = np.concatenate([[0], np.cumsum(widths)]).astype(int)
    layers = tuple(NeuronLayer(name, (w,), int(offsets[l]), w) for l, (name, w) in enumerate(zip(names, widths,
                                                                                                    strict=True)))
    blocks = []
    for l, W in enumerate(mapped.weights):
        M = sp.csr_matrix(np.asarray(W, dtype=np.float64))
        M.data.setflags(write=False)
        blocks.append(CouplingBlock(names[l], names[l + 1], M))
    h = np.asarray(mapped.model.h, dtype=np.float64)
    return SpinGraph(model=mapped.model, layers=layers, blocks=tuple(blocks), fields=h, notes=tuple(mapped.notes))


def spin_graph(net: Any, example_input: Any = None, *, bias_as_field: bool = False) -> SpinGraph:
    r"""The spin model of ``net`` with its layout: neuron layers (name, shape, spin offset) and coupling blocks.

    Parameters
    ----------
    net : nn.Module, SpinGraph, MappedNetwork, state dict, checkpoint path or list of (out, in) weight matrices
        A module is mapped by :func:`~spinlens.networks.graph.map_network` (convolutions, eval-mode BatchNorm,
        pooling, residual additions, ...); everything else by :func:`~spinlens.networks.to_spins.to_spins` (a
        chain of Linear layers).
    example_input : Tensor or input shape with the batch dimension first, optional
        For a module only. Default: ``(1, in_features)`` of its first ``Linear`` layer (:func:`input_shape_of`); a
        network that starts with a convolution needs it.
    bias_as_field : bool
        Biases as fields :math:`h` (default: none).

    Returns
    -------
    SpinGraph
        :math:`H = -\sum_{\rm blocks} s^{(dst)}\cdot A\,s^{(src)} - h\cdot s`, spins ordered layer by layer.
    """
    from spinlens.networks.to_spins import MappedNetwork, to_spins

    if isinstance(net, SpinGraph):
        return net
    try:
        import torch.nn as nn

        is_module = isinstance(net, nn.Module)
    except ImportError:  # pragma: no cover - torch is a dependency
        is_module = False
    if is_module:
        shape = example_input if example_input is not None else (1, *input_shape_of(net))
        g = map_network(net, shape, bias_as_field=bias_as_field)
        per_sample = tuple(int(x) for x in (shape.shape if hasattr(shape, "shape") else shape)[1:])
        cls = type(net).__name__
        notes = []
        if not isinstance(net, nn.Sequential) or type(net).forward is not nn.Sequential.forward:
            notes.append(f"forward pass of {cls} traced with torch.fx: {len(g.layers)} neuron layers, "
                         f"{len(g.blocks)} coupling blocks.")
        if example_input is None:
            notes.append(f"{cls} mapped on inputs of shape {per_sample}, read from its first Linear layer.")
        return dataclasses.replace(g, notes=(*notes, *g.notes)) if notes else g
    if example_input is not None:
        raise ValueError("example_input applies to an nn.Module only: a state dict or weight list has no forward "
                         "pass to run it through.")
    mapped = net if isinstance(net, MappedNetwork) and not bias_as_field else to_spins(net, bias_as_field)
    return _chain_graph(mapped)
