r"""Any feed-forward ``nn.Module`` as a spin system: graph capture of convolutions, residual blocks, normalisation.

Neurons and couplings
---------------------
The **neuron layers** are the network input, the output of every element-wise activation (ReLU, tanh, GELU,
SiLU, sigmoid, sign, ...) and the network output. Every unit of a neuron layer is one Ising spin
:math:`s_i \in \{-1, +1\}`; a convolutional feature map of shape ``(C, H, W)`` has one spin per
``(channel, row, col)``, in C (row-major) order. The computation between neuron layers is affine, so the value
arriving at a neuron layer :math:`d` is :math:`\sum_{\ell} A_{d\ell}\, s^{(\ell)} + b_d`, summed over the earlier
neuron layers :math:`\ell` it depends on (more than one with skip connections). This gives the Hamiltonian

.. math:: H(s) = -\sum_{(\ell \to d)} s^{(d)} \cdot A_{d\ell}\, s^{(\ell)} \;-\; h \cdot s,
          \qquad h^{(d)} = b_d \ \text{(only with ``bias_as_field=True``, else } h = 0),

i.e. :math:`H = -\tfrac12 s^\top J s - h^\top s` with :math:`J_{d\ell} = A_{d\ell}`, :math:`J_{\ell d} =
A_{d\ell}^\top`; a :class:`CouplingBlock` holds one :math:`A_{d\ell}` (shape ``(size_d, size_l)``). As in
:func:`~spinlens.networks.to_spins` (Barney, Winer & Galitski, arXiv:2408.06421) the activation functions do
not enter :math:`H`. Element-wise functions applied one after another with no linear operation between them act
on the same neurons (one neuron layer, as in ``to_spins``); a network that ends in an activation has that
activation's layer as its output layer. Dimension 0 is the batch dimension throughout; an operation that mixes it
with the units of a sample is refused. Code that does not reach the output is not mapped; in-place operations
that ``fx`` cannot follow (a mutated tensor read again) are refused.

How the maps are built
----------------------
Every graph node carries its value as an affine map of the neuron layers created so far:
``{layer: sparse matrix (n_node, n_layer)}`` plus a bias vector. Linear operations compose (sparse products);
an addition of two network values sums their maps, so an identity shortcut becomes a unit coupling block, and a
1x1-projection shortcut a block of its weights, between *non-adjacent* neuron layers; two paths between the
same pair of layers add into one block. A convolution with weight :math:`W` of shape
``(C_out, C_in/g, k_1, ..., k_D)``, stride :math:`\sigma`, left padding :math:`p`, dilation :math:`\delta` and
``g`` groups is built by index arithmetic, for every kernel offset :math:`\kappa` at once over all channels and
positions (never by applying it to basis vectors):

.. math:: A[(c_o, o), (c_i, i)] \mathrel{+}= W[c_o, c_i - \gamma(c_o)\,C_{in}/g, \kappa], \quad
          i_d = o_d \sigma_d - p_d + \kappa_d \delta_d, \quad \gamma(c_o) = \lfloor c_o g / C_{out} \rfloor,

kept where :math:`0 \le i_d < X_d` (zero padding) or with :math:`i_d` wrapped (``circular``), reflected
(``reflect``) or clamped (``replicate``). Average pooling is the Kronecker product over spatial dimensions of
1-D window-average matrices (with torch's divisors: ``count_include_pad``, ``ceil_mode``,
``divisor_override``; adaptive windows :math:`[\lfloor oX/Y \rfloor, \lceil (o+1)X/Y \rceil)`). Eval-mode
BatchNorm is folded: :math:`y = \gamma (x - \mu)/\sqrt{\sigma^2 + \epsilon} + \beta` multiplies the rows of the
incoming map by :math:`\gamma/\sqrt{\sigma^2+\epsilon}` and adds :math:`\beta - \mu\gamma/\sqrt{\sigma^2+\epsilon}`
to the bias. Reshapes, slicing, permutations, broadcasting and concatenation are selections of rows, found by
applying the operation to a tensor of unit indices.

Why ``torch.fx`` and not ``torch.export``: ``fx`` symbolic tracing keeps every ``nn.Module`` call as one node
with its module path (``layer3.0.conv1``), which is what the neuron layers are named by and what a refusal must
name; it runs no real computation (``example_input`` is used only for the shapes, through
``torch.fx.passes.shape_prop.ShapeProp``); and it is pure Python, fast and available wherever torch is.
``torch.export`` lowers modules to ATen operators (a BatchNorm becomes an opaque ``batch_norm`` call, a
Linear an ``addmm``), loses the module boundaries, and compiles through Dynamo, which is slow and refuses
more user code than it helps here.

Cost
----
Tracing is linear in the number of graph nodes; the shapes cost one forward pass on ``example_input``. Each
linear operation costs time and memory linear in the number of non-zeros of its map; compositions are sparse
products, so the whole mapping costs :math:`O(\mathrm{nnz}(J))` memory (a few times the final couplings while
``J`` is assembled and checked for symmetry) and about :math:`O(\mathrm{nnz}(J))` time; no dense
:math:`n\times n` array is ever formed. ``linearize_at`` costs, per linearised operation and reference sample,
one vector-Jacobian product per output unit (vectorised in chunks).
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from spinlens.spins import IsingModel

__all__ = ["CouplingBlock", "NeuronLayer", "SpinGraph", "map_network", "GRAPH_SUPPORTED"]

#: What :func:`map_network` maps exactly (everything else is refused by name, or linearised on request).
GRAPH_SUPPORTED = (
    "Linear",
    "Conv1d / Conv2d / Conv3d (stride, padding incl. zeros/circular/reflect/replicate and 'same', dilation, groups)",
    "BatchNorm1d / BatchNorm2d / BatchNorm3d in eval mode (folded)",
    "AvgPool1d / AvgPool2d, AdaptiveAvgPool1d / AdaptiveAvgPool2d, mean / sum over non-batch dimensions",
    "Flatten / Unflatten / view / reshape / permute / transpose / squeeze / unsqueeze / slicing",
    "Dropout / Identity",
    "additions and subtractions of network values (residual shortcuts), scaling by constants, torch.cat",
    "element-wise activations (ReLU, LeakyReLU, PReLU, Tanh, Sigmoid, GELU, SiLU, ELU, Softplus, sign, ...)",
    "Softmax / LogSoftmax at the output (ignored)",
)
_BATCH = "keep the batch dimension first and apart from the units (e.g. x.flatten(1), x.view(x.size(0), -1))"
_SUPPORTED_SHORT = "supported: Linear, Conv, eval BatchNorm, AvgPool, reshapes, sums, cat, element-wise activations"

_ACT_MODULES = {
    "ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "Tanh", "Sigmoid", "GELU", "SiLU", "ELU", "SELU", "CELU",
    "Softplus", "Hardtanh", "Hardsigmoid", "Hardswish", "Mish", "Softsign", "Tanhshrink", "Softshrink",
    "Hardshrink", "LogSigmoid", "Threshold", "Sign",
}
_ACT_FUNCS = {
    "relu", "relu6", "leaky_relu", "prelu", "rrelu", "tanh", "sigmoid", "gelu", "silu", "elu", "selu", "celu",
    "softplus", "hardtanh", "hardsigmoid", "hardswish", "mish", "softsign", "tanhshrink", "softshrink",
    "hardshrink", "logsigmoid", "threshold", "sign", "clamp", "clip", "erf", "abs",
}
_PASS_MODULES = {"Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"}
_PASS_FUNCS = {"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
               "identity", "contiguous", "clone", "detach", "to", "float", "double"}
_INDEX_FUNCS = {"view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "permute", "transpose",
                "movedim", "moveaxis", "swapaxes", "swapdims", "narrow", "expand", "repeat", "getitem", "t"}
_OUTPUT_ONLY = {"Softmax", "LogSoftmax", "softmax", "log_softmax"}
_METADATA = {"size", "dim", "numel", "ndimension", "shape", "dtype", "device", "ndim"}
_CAT = {"cat", "concat", "concatenate"}

# refused with a specific reason and remedy: (names, reason, remedy); remedy _NO_LIN = linearize_at refuses it too
_NO_LIN = "map the network after this module (its output as the input)"
_LIN = "pass linearize_at=x (its Jacobian at a reference batch x: an approximation)"
_REFUSED: tuple[tuple[set[str], str, str], ...] = (
    ({"MaxPool1d", "MaxPool2d", "MaxPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
      "max_pool1d", "max_pool2d", "max_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "max",
      "max_pool1d_with_indices", "max_pool2d_with_indices", "adaptive_max_pool2d_with_indices", "amax",
      "FractionalMaxPool2d", "LPPool1d", "LPPool2d", "lp_pool2d", "lp_pool1d"},
     "max-pooling selects by value: not linear", "use AvgPool (exact), or " + _LIN),
    ({"LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm",
      "RMSNorm", "layer_norm", "group_norm", "instance_norm", "local_response_norm", "rms_norm", "normalize"},
     "it divides by a statistic of the sample: not linear", "use eval-mode BatchNorm (exact), or " + _LIN),
    ({"MultiheadAttention", "Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
      "TransformerDecoderLayer", "scaled_dot_product_attention", "multi_head_attention_forward"},
     "attention multiplies network values with each other", _LIN),
    ({"Embedding", "EmbeddingBag", "embedding", "embedding_bag", "one_hot"},
     "an embedding reads integer ids, which are not spins", _NO_LIN),
    ({"batch_norm"}, "functional batch_norm is not folded", "use an nn.BatchNorm module in eval mode"),
)


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class NeuronLayer:
    """One neuron layer: ``size`` spins from ``offset``, one per unit of a tensor of shape ``shape`` (C order).

    ``name`` is ``"input"``, ``"output"`` or the module path (or graph-node name) of the activation.
    """

    name: str
    shape: tuple[int, ...]
    offset: int
    size: int

    @property
    def slice(self) -> slice:
        return slice(self.offset, self.offset + self.size)


@dataclass(frozen=True, eq=False)
class CouplingBlock:
    r"""Couplings from neuron layer ``src`` to ``dst``: ``matrix`` (CSR, shape ``(size_dst, size_src)``) is
    :math:`A` in :math:`H \ni -s^{(dst)} \cdot A\, s^{(src)}`."""

    src: str
    dst: str
    matrix: Any

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)


@dataclass(frozen=True, eq=False)
class SpinGraph:
    r"""What :func:`map_network` returns.

    Attributes
    ----------
    model : IsingModel
        Sparse symmetric CSR couplings :math:`J` (``model.layers`` = the layer sizes), fields ``fields``.
    layers : tuple of NeuronLayer
        Input first, output last, in spin order.
    blocks : tuple of CouplingBlock
        :math:`H = -\sum_{\rm blocks} s^{(dst)} \cdot A\, s^{(src)} - h \cdot s`.
    fields : (n_spins,) ndarray
        The biases arriving at each neuron layer with ``bias_as_field=True``, else zeros.
    notes : tuple of str
        What was assumed or approximated (folded BatchNorm, ignored softmax, linearised operations).
    """

    model: IsingModel
    layers: tuple[NeuronLayer, ...]
    blocks: tuple[CouplingBlock, ...]
    fields: np.ndarray
    notes: tuple[str, ...] = ()

    @property
    def n_spins(self) -> int:
        return self.model.n_spins

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.layers)

    def layer(self, name: str) -> NeuronLayer:
        """The neuron layer called ``name``."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no neuron layer {name!r}; the layers are {', '.join(self.layer_names)}.")

    def split(self, s: Any) -> dict[str, np.ndarray]:
        """Spins (or any per-spin vector) ``(n,)`` or ``(b, n)`` as ``{layer name: array (…, *layer.shape)}``."""
        S = np.asarray(s)
        if S.shape[-1] != self.n_spins:
            raise ValueError(f"got {S.shape[-1]} values per state, the model has {self.n_spins} spins.")
        lead = S.shape[:-1]
        return {layer.name: S[..., layer.slice].reshape(lead + layer.shape) for layer in self.layers}


# ---------------------------------------------------------------------------------------------- values
@dataclass
class _Affine:
    """A network value: ``sum_L maps[L] @ s_L + bias`` of per-sample shape ``shape``."""

    maps: dict[str, Any]
    bias: np.ndarray
    shape: tuple[int, ...]

    @property
    def n(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass
class _Const:
    value: Any


def _np(t: Any) -> np.ndarray:
    import torch

    if isinstance(t, torch.Tensor):
        return t.detach().to("cpu", dtype=torch.float64).numpy()
    return np.asarray(t, dtype=np.float64)


def _is_identity(M: Any) -> bool:
    """``M`` is a CSR identity matrix (the map of a neuron layer onto itself): O(n) check."""
    n = M.shape[0]
    return bool(M.format == "csr" and M.shape[1] == n and M.nnz == n and np.array_equal(M.indptr, np.arange(n + 1))
                and np.array_equal(M.indices, np.arange(n)) and np.all(M.data == 1.0))


def _linear(v: _Affine, A: Any, c: np.ndarray | None, shape: tuple[int, ...]) -> _Affine:
    """``A @ v + c`` (A sparse, (n_out, v.n)); ``A @ I`` is ``A`` itself (no sparse product, no copy)."""
    A = sp.csr_matrix(A)
    maps = {k: A if _is_identity(M) else sp.csr_matrix(A @ M) for k, M in v.maps.items()}
    bias = np.asarray(A @ v.bias).ravel()
    if c is not None:
        bias = bias + c
    return _Affine(maps, bias, shape)


def _select(v: _Affine, idx: np.ndarray, shape: tuple[int, ...]) -> _Affine:
    return _Affine({k: M[idx] for k, M in v.maps.items()}, v.bias[idx], shape)


def _scale_rows(v: _Affine, scale: np.ndarray, shift: np.ndarray | None = None) -> _Affine:
    D = sp.diags(scale)
    out = _linear(v, D, shift, v.shape)
    return out


def _add(a: _Affine, b: _Affine, shape: tuple[int, ...]) -> _Affine:
    maps = dict(a.maps)
    for k, M in b.maps.items():
        maps[k] = sp.csr_matrix(maps[k] + M) if k in maps else M
    return _Affine(maps, a.bias + b.bias, shape)


def _is_permutation_of_layer(v: _Affine, sizes: Mapping[str, int]) -> str | None:
    """The layer ``v`` is a reordering of (unit weights, zero bias), else None."""
    if len(v.maps) != 1 or np.any(v.bias != 0):
        return None
    (name, M), = v.maps.items()
    M = sp.csr_matrix(M)
    n = v.n
    if n != sizes[name] or M.nnz != n or not np.all(M.data == 1.0) or not np.all(np.diff(M.indptr) == 1):
        return None
    return name if np.unique(M.indices).size == n else None


# ---------------------------------------------------------------------------------------------- index arithmetic
def _pad_index(i: np.ndarray, size: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Input coordinates ``i`` (may lie in the padding) → (kept mask, coordinate inside the input)."""
    if mode == "zeros":
        keep = (i >= 0) & (i < size)
        return keep, i
    keep = np.ones(i.shape, dtype=bool)
    if mode == "circular":
        return keep, np.mod(i, size)
    if mode == "replicate":
        return keep, np.clip(i, 0, size - 1)
    if mode == "reflect":
        if size == 1:
            return keep, np.zeros_like(i)
        period = 2 * (size - 1)
        j = np.mod(i, period)
        return keep, np.where(j >= size, period - j, j)
    raise ValueError(f"padding mode {mode!r} is not one of zeros, circular, reflect, replicate.")


def _conv_matrix(weight: np.ndarray, in_shape: tuple[int, ...], out_shape: tuple[int, ...],
                 stride: Sequence[int], pad: Sequence[int], dilation: Sequence[int], groups: int,
                 mode: str) -> Any:
    r"""Sparse ``(prod out_shape, prod in_shape)`` matrix of an N-d convolution (see the module docstring).

    Loops over the kernel offsets only; each offset is vectorised over channels and positions.
    Cost: time and memory linear in the number of couplings, ``C_out · C_in/g · prod(k) · prod(out)``.
    """
    c_out, cg = weight.shape[:2]
    ksize = weight.shape[2:]
    D = len(ksize)
    c_in, X = in_shape[0], in_shape[1:]
    Y = out_shape[1:]
    n_in_sp = int(np.prod(X, dtype=np.int64))
    n_out_sp = int(np.prod(Y, dtype=np.int64))
    co = np.arange(c_out)
    ci = (co // (c_out // groups))[:, None] * cg + np.arange(cg)[None, :]  # (c_out, cg) input channel
    x_strides = [int(np.prod(X[d + 1:], dtype=np.int64)) for d in range(D)]
    y_strides = [int(np.prod(Y[d + 1:], dtype=np.int64)) for d in range(D)]
    offsets: list[tuple[tuple[int, ...], np.ndarray, np.ndarray]] = []
    for kappa in np.ndindex(*ksize):
        r_sp = np.zeros(1, dtype=np.int64)
        c_sp = np.zeros(1, dtype=np.int64)
        empty = False
        for d in range(D):
            o = np.arange(Y[d], dtype=np.int64)
            i = o * stride[d] - pad[d] + kappa[d] * dilation[d]
            keep, i = _pad_index(i, X[d], mode)
            if not keep.any():
                empty = True
                break
            r_sp = (r_sp[:, None] + o[keep][None, :] * y_strides[d]).ravel()
            c_sp = (c_sp[:, None] + i[keep][None, :] * x_strides[d]).ravel()
        if not empty:
            offsets.append((tuple(kappa), r_sp, c_sp))
    n_out, n_in = c_out * n_out_sp, c_in * n_in_sp
    if not offsets:
        return sp.csr_matrix((n_out, n_in))
    # one preallocated COO triple (int32 indices where they fit): 16 bytes per entry before the CSR conversion
    total = sum(c_out * cg * r.size for _, r, _ in offsets)
    idx = np.int32 if max(n_out, n_in) < 2**31 else np.int64
    rows, cols, vals = np.empty(total, dtype=idx), np.empty(total, dtype=idx), np.empty(total, dtype=np.float64)
    pos = 0
    for kappa, r_sp, c_sp in offsets:
        m = c_out * cg * r_sp.size
        w = weight[(slice(None), slice(None)) + kappa]  # (c_out, cg)
        rows[pos:pos + m].reshape(c_out, cg, -1)[...] = co[:, None, None] * n_out_sp + r_sp[None, None, :]
        cols[pos:pos + m].reshape(c_out, cg, -1)[...] = ci[:, :, None] * n_in_sp + c_sp[None, None, :]
        vals[pos:pos + m].reshape(c_out, cg, -1)[...] = w[:, :, None]
        pos += m
    A = sp.coo_matrix((vals, (rows, cols)), shape=(n_out, n_in)).tocsr()
    del rows, cols, vals
    A.sum_duplicates()
    return A


def _window_matrix(starts: np.ndarray, ends: np.ndarray, size: int, divisors: np.ndarray) -> Any:
    """1-D pooling matrix: row o averages the inputs ``[starts[o], ends[o])`` with weight ``1/divisors[o]``."""
    counts = np.maximum(ends - starts, 0)
    rows = np.repeat(np.arange(starts.size), counts)
    first = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    cols = np.arange(rows.size) + first
    vals = np.repeat(1.0 / divisors, counts)
    return sp.csr_matrix((vals, (rows, cols)), shape=(starts.size, size))


def _avgpool_1d(size: int, out: int, k: int, s: int, p: int, include_pad: bool, override: int | None) -> Any:
    o = np.arange(out)
    start = o * s - p
    end = np.minimum(start + k, size + p)
    pool = end - start
    start_c, end_c = np.maximum(start, 0), np.minimum(end, size)
    div = np.ones(out) if override else (pool if include_pad else (end_c - start_c)).astype(np.float64)
    return _window_matrix(start_c, end_c, size, div)


def _adaptive_1d(size: int, out: int) -> Any:
    o = np.arange(out)
    start = (o * size) // out
    end = -((-(o + 1) * size) // out)
    return _window_matrix(start, end, size, (end - start).astype(np.float64))


def _spatial_kron(lead: int, mats: Sequence[Any]) -> Any:
    A = sp.identity(lead, format="csr")
    for M in mats:
        A = sp.kron(A, M, format="csr")
    return A


def _tuple(x: Any, d: int) -> tuple[int, ...]:
    if isinstance(x, (tuple, list)):
        return tuple(int(v) for v in x) if len(x) == d else tuple(int(x[0]) for _ in range(d))
    return (int(x),) * d


def _block_csr(strips: Sequence[tuple[int, int, list[tuple[int, Any, bool]]]], n: int) -> Any:
    """CSR ``(n, n)`` from row strips ``(row offset, rows, [(column offset, canonical CSR block, transposed), ...])``.

    A part with ``transposed`` contributes ``B.T``: its row counts are the column counts of ``B`` and its CSR form
    (``B.T.tocsr()``, a csr→csc transposition, sorted) is built only while it is copied in, then dropped, so at most
    one transposed block exists at a time besides ``J``. Blocks of a strip are merged row by row in order of their
    column offsets, so the result is canonical without any sort: time and memory linear in the number of non-zeros.
    """
    indptr = np.zeros(n + 1, dtype=np.int64)
    for r0, nr, parts in strips:
        for _, B, tr in parts:
            counts = np.bincount(B.indices, minlength=B.shape[1]) if tr else np.diff(B.indptr)
            indptr[r0 + 1: r0 + nr + 1] += counts
    np.cumsum(indptr, out=indptr)
    nnz = int(indptr[-1])
    idx_dtype = np.int32 if max(nnz, n) < 2**31 else np.int64
    indices = np.empty(nnz, dtype=idx_dtype)
    data = np.empty(nnz, dtype=np.float64)
    for r0, nr, parts in strips:
        cursor = indptr[r0: r0 + nr].copy()  # next free slot in each row of the strip
        for c0, B, tr in sorted(parts, key=lambda p: p[0]):
            if tr:
                B = B.T.tocsr()
            counts = np.diff(B.indptr)
            pos = np.repeat(cursor - B.indptr[:-1], counts) + np.arange(B.nnz)
            indices[pos] = B.indices + c0
            data[pos] = B.data
            cursor += counts
            del B
    J = sp.csr_matrix((data, indices, indptr.astype(idx_dtype)), shape=(n, n))
    J.has_sorted_indices = True
    return J


# ---------------------------------------------------------------------------------------------- tracing
def _trace(net: Any) -> Any:
    from spinlens.networks.to_spins import trace_module

    return trace_module(net, lambda m: type(m).__name__ in _ACT_MODULES and not any(True for _ in m.children()))


def _fname(node: Any) -> str:
    name = getattr(node.target, "__name__", str(node.target))
    if name in ("iadd", "isub", "imul", "itruediv"):
        name = name[1:]
    if name.endswith("_") and not name.startswith("_"):
        name = name[:-1]  # in-place variants: relu_, add_, ...
    if name.startswith("__") and name.endswith("__"):
        name = name[2:-2]
    return name


# ---------------------------------------------------------------------------------------------- the mapping
class _Mapper:
    def __init__(self, net: Any, example: Any, bias_as_field: bool, linearize_at: Any) -> None:
        import torch
        import torch.fx as fx

        self.torch = torch
        self.net = net
        self.cls = type(net).__name__
        self.graph = _trace(net)
        self.modules = dict(net.named_modules())
        self.gm = fx.GraphModule(net, self.graph)
        self.bias_as_field = bias_as_field
        self.linearize_at = linearize_at
        self.notes: list[str] = []
        self.folded: list[str] = []  # BatchNorm modules folded into the couplings
        self.layer_order: list[str] = []
        self.layer_shapes: dict[str, tuple[int, ...]] = {}
        self.blocks: dict[tuple[str, str], Any] = {}
        self.fields: dict[str, np.ndarray] = {}
        self.env: dict[Any, _Affine | _Const] = {}
        self.ref: dict[Any, Any] | None = None
        self._precheck()
        from torch.fx.passes.shape_prop import ShapeProp

        self.batch = int(example.shape[0])
        self.example_dtype, self.example_device = example.dtype, example.device
        try:
            with torch.no_grad():
                ShapeProp(self.gm).propagate(example)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise ValueError(f"{self.cls}.forward() fails on example_input of shape {tuple(example.shape)} "
                             f"({first}); pass an input the network accepts, batch dimension first.") from None

    # -- labels and errors
    def label(self, node: Any) -> str:
        if node.op == "call_module":
            return f"module {node.target!r} ({type(self.modules[node.target]).__name__})"
        where = ""
        stack = node.meta.get("nn_module_stack") or {}
        if stack:
            last = list(stack.values())[-1]
            path = last[0] if isinstance(last, tuple) else str(last)
            if path:
                where = f", in module {path!r}"
        return f"operation {_fname(node)!r} (graph node {node.name}{where})"

    def func_name(self, node: Any) -> str:
        """Neuron-layer name of a functional activation: ``<module path>.<graph node>`` (module path if any)."""
        stack = node.meta.get("nn_module_stack") or {}
        if stack:
            last = list(stack.values())[-1]
            path = last[0] if isinstance(last, tuple) else str(last)
            if path:
                return f"{path}.{node.name}"
        return str(node.name)

    def kind(self, node: Any) -> str:
        if node.op == "call_module":
            return type(self.modules[node.target]).__name__
        return _fname(node)

    def refuse(self, node: Any, why: str, remedy: str | None = None) -> ValueError:
        todo = remedy or (_LIN if self.linearize_at is None else "rewrite forward() without it")
        return ValueError(f"{self.cls}: {self.label(node)} is not supported ({why}); {_SUPPORTED_SHORT}. "
                          f"What to do: {todo}.")

    def _precheck(self) -> None:
        """Refusals that must come before anything runs (shape propagation would update BatchNorm statistics)."""
        import torch.nn as nn

        for node in self.graph.nodes:
            if node.op != "call_module":
                continue
            mod = self.modules[node.target]
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                if mod.training:
                    raise self.refuse(node, "BatchNorm in training mode normalises with the statistics of the "
                                      "batch, which couples samples", "call net.eval() first")
                if mod.running_mean is None or mod.running_var is None:
                    raise self.refuse(node, "a BatchNorm without running statistics (track_running_stats=False) "
                                      "uses the batch's statistics even in eval mode",
                                      "train it with track_running_stats=True")
            for names, why, remedy in _REFUSED:
                if type(mod).__name__ in names and remedy == _NO_LIN:
                    raise self.refuse(node, why, remedy)

    # -- layers
    def new_layer(self, name: str, shape: tuple[int, ...]) -> str:
        base, k = name, 1
        while name in self.layer_shapes:
            k += 1
            name = f"{base}#{k}"
        self.layer_order.append(name)
        self.layer_shapes[name] = shape
        return name

    def identity(self, name: str) -> _Affine:
        shape = self.layer_shapes[name]
        n = int(np.prod(shape, dtype=np.int64))
        return _Affine({name: sp.identity(n, format="csr")}, np.zeros(n), shape)

    def neuron_layer(self, v: _Affine, name: str, node: Any) -> _Affine:
        """The affine value ``v`` feeds a new neuron layer: its maps become coupling blocks."""
        sizes = {k: int(np.prod(s, dtype=np.int64)) for k, s in self.layer_shapes.items()}
        if _is_permutation_of_layer(v, sizes) is not None:
            return v  # element-wise after element-wise (or a reshape of it): the same neurons
        if not v.maps:
            raise self.refuse(node, "its input does not depend on the network input", "apply it to a network value")
        dst = self.new_layer(name, v.shape)
        for src, M in v.maps.items():
            M = sp.csr_matrix(M)
            M.eliminate_zeros()
            self.blocks[(src, dst)] = M
        self.fields[dst] = v.bias
        return self.identity(dst)

    # -- helpers
    def shape_of(self, node: Any) -> tuple[int, ...]:
        meta = node.meta.get("tensor_meta")
        if meta is None or not hasattr(meta, "shape"):
            raise self.refuse(node, "it does not return one tensor", "return one tensor from each operation")
        shape = tuple(int(x) for x in meta.shape)
        if not shape or shape[0] != self.batch:
            raise self.refuse(node, f"its output of shape {shape} has no batch dimension of size {self.batch} first",
                              _BATCH)
        return shape[1:]

    def _lookup(self, n: Any) -> Any:
        return self.env[n]

    def resolve(self, a: Any) -> Any:
        import torch.fx as fx

        return fx.node.map_arg(a, self._lookup)

    @staticmethod
    def flat(args: Any) -> list[Any]:
        out: list[Any] = []

        def walk(a: Any) -> None:
            if isinstance(a, (list, tuple)):
                for x in a:
                    walk(x)
            elif isinstance(a, dict):
                for x in a.values():
                    walk(x)
            else:
                out.append(a)

        walk(args)
        return out

    def const(self, a: Any) -> Any:
        """Python value of resolved arguments with every _Const unwrapped (no _Affine allowed)."""
        if isinstance(a, _Const):
            return a.value
        if isinstance(a, list):
            return [self.const(x) for x in a]
        if isinstance(a, tuple):
            return tuple(self.const(x) for x in a)
        if isinstance(a, dict):
            return {k: self.const(x) for k, x in a.items()}
        return a

    def as_affine(self, c: Any, node: Any, shape: tuple[int, ...]) -> _Affine:
        """A constant broadcast to the per-sample ``shape`` (it must not vary over the batch)."""
        arr = _np(c)
        full = np.broadcast_to(arr, (self.batch,) + shape) if arr.ndim > len(shape) else np.broadcast_to(arr, shape)
        if full.ndim > len(shape):
            if not np.all(full == full[:1]):
                raise self.refuse(node, "a constant that differs between samples of the batch",
                                  "use one constant for all samples")
            full = full[0]
        return _Affine({}, np.array(full, dtype=np.float64).ravel(), shape)

    def broadcast(self, v: _Affine, shape: tuple[int, ...]) -> _Affine:
        if v.shape == shape:
            return v
        idx = np.broadcast_to(np.arange(v.n).reshape(v.shape), shape).ravel()
        return _select(v, idx, shape)

    def index_op(self, node: Any, fn: Callable[[Any], Any]) -> _Affine:
        """Apply a pure indexing op to a tensor of unit codes; check it keeps samples apart; select rows."""
        torch = self.torch
        (src,) = [a for a in self.flat(self.resolve((node.args, node.kwargs))) if isinstance(a, _Affine)]
        n = src.n
        codes = torch.arange(self.batch * n, dtype=torch.int64).reshape((self.batch,) + src.shape)
        try:
            res = fn(codes)
        except Exception as exc:
            raise self.refuse(node, f"it could not be applied as an index map ({str(exc)[:100]})", _BATCH) from None
        if not isinstance(res, torch.Tensor) or res.ndim == 0 or res.shape[0] != self.batch:
            raise self.refuse(node, "it mixes the batch dimension with the units of a sample", _BATCH)
        r = res.reshape(self.batch, -1).numpy()
        if not np.all(r // n == np.arange(self.batch)[:, None]):
            raise self.refuse(node, "it mixes the batch dimension with the units of a sample", _BATCH)
        return _select(src, r[0] % n, tuple(int(x) for x in res.shape[1:]))

    def call_with(self, node: Any, sub: Callable[[Any], Any]) -> Any:
        """Run ``node``'s operation with each _Affine argument replaced by ``sub(_Affine)``."""
        import torch.fx as fx

        args = fx.node.map_arg((node.args, node.kwargs), self._lookup)

        def rep(a: Any) -> Any:
            if isinstance(a, _Affine):
                return sub(a)
            if isinstance(a, _Const):
                return a.value
            if isinstance(a, list):
                return [rep(x) for x in a]
            if isinstance(a, tuple):
                return tuple(rep(x) for x in a)
            if isinstance(a, dict):
                return {k: rep(x) for k, x in a.items()}
            return a

        (fargs, fkwargs) = rep(args)
        if node.op == "call_module":
            return self.modules[node.target](*fargs, **fkwargs)
        if node.op == "call_method":
            return getattr(fargs[0], node.target)(*fargs[1:], **fkwargs)
        return node.target(*fargs, **fkwargs)

    # -- the walk
    def needed(self) -> set[Any]:
        """Nodes the output depends on. Refuses in-place operations whose input is read again afterwards (or whose
        result is dropped): fx does not track mutation, so those readers would silently see the old value."""
        order = {n: i for i, n in enumerate(self.graph.nodes)}
        for node in self.graph.nodes:
            if node.op == "call_module":
                name = type(self.modules[node.target]).__name__
                inplace = getattr(self.modules[node.target], "inplace", False) is True
            elif node.op in ("call_method", "call_function"):
                name = getattr(node.target, "__name__", str(node.target))
                inplace = (name.endswith("_") and not name.endswith("__")) or name in ("iadd", "isub", "imul",
                                                                                     "itruediv") \
                    or node.kwargs.get("inplace") is True
            else:
                continue
            first: Any = node.args[0] if node.args else None
            if not inplace or not hasattr(first, "users"):
                continue
            later = [u for u in first.users if u is not node and order[u] > order[node]]
            if later or not node.users:
                raise ValueError(f"{self.cls}: the in-place {self.label(node)} changes {first.name}, which "
                                 f"{'is read again later' if later else 'is used instead of its result'}; torch.fx "
                                 "cannot follow mutation. Use the out-of-place form (inplace=False, x = f(x)).")
        out = next(n for n in self.graph.nodes if n.op == "output")
        seen, stack = {out}, [out]
        while stack:
            for a in stack.pop().all_input_nodes:
                if a not in seen:
                    seen.add(a)
                    stack.append(a)
        return seen

    def run(self) -> SpinGraph:
        out_node = None
        n_inputs = 0
        needed = self.needed()
        nodes = list(self.graph.nodes)
        last_use: dict[Any, int] = {}  # a value is dropped after its last reader: memory of live maps only
        for i, node in enumerate(nodes):
            if node in needed or node.op == "output":
                for a in node.all_input_nodes:
                    last_use[a] = i
        for i, node in enumerate(nodes):
            if node not in needed and node.op not in ("placeholder", "output"):
                continue  # dead code: it does not reach the output
            if node.op == "placeholder":
                if n_inputs == 0:
                    shape = self.shape_of(node)
                    self.env[node] = self.identity(self.new_layer("input", shape))
                elif node.args:
                    self.env[node] = _Const(node.args[0])
                else:
                    raise ValueError(f"{self.cls}.forward() takes several inputs ({node.name} has no default); "
                                     "spins map a network with one input tensor.")
                n_inputs += 1
            elif node.op == "get_attr":
                obj: Any = self.net
                for part in str(node.target).split("."):
                    obj = getattr(obj, part)
                self.env[node] = _Const(obj)
            elif node.op == "output":
                out_node = node
                break
            else:
                self.env[node] = self.visit(node)
                for a in node.all_input_nodes:
                    if last_use.get(a) == i:
                        self.env.pop(a, None)
        assert out_node is not None
        val = self.env.get(out_node.args[0]) if not isinstance(out_node.args[0], (tuple, list, dict)) else None
        if not isinstance(val, _Affine):
            raise ValueError(f"{self.cls}.forward() does not return one tensor computed from its input (it returns "
                             "a tuple, a dict or a constant); spins map a network with one output tensor.")
        sizes = {k: int(np.prod(s, dtype=np.int64)) for k, s in self.layer_shapes.items()}
        last = _is_permutation_of_layer(val, sizes)
        if last is None:
            self.neuron_layer(val, "output", out_node)
        elif last == "input":
            raise ValueError(f"{self.cls} has no linear operation between its input and its output: no couplings.")
        return self.assemble()

    def visit(self, node: Any) -> _Affine | _Const:
        import torch.fx as fx

        args = fx.node.map_arg((node.args, node.kwargs), self._lookup)
        affs = [a for a in self.flat(args) if isinstance(a, _Affine)]
        kind = self.kind(node)
        if not affs:  # constants, and sizes of network values
            return _Const(self.call_with(node, lambda a: a))
        if kind in _METADATA or (node.op == "call_function" and node.target is getattr):
            torch = self.torch
            return _Const(self.call_with(node, lambda a: torch.empty((self.batch,) + a.shape, device="meta")))
        handler = self.handler(node, kind, affs)
        if handler is not None:
            return handler()
        return self.unsupported(node, kind, affs)

    def handler(self, node: Any, kind: str, affs: list[_Affine]) -> Callable[[], _Affine] | None:
        import torch.nn as nn

        mod = self.modules.get(node.target) if node.op == "call_module" else None
        if (kind in _ACT_MODULES and node.op == "call_module") or (kind in _ACT_FUNCS and node.op != "call_module"):
            if len(affs) != 1:
                return None
            if mod is not None and any(True for _ in mod.parameters()):
                self.notes.append(f"the parameters of {self.label(node)} shape the activation only; they do not "
                                  "enter the Hamiltonian.")
            name = str(node.target) if node.op == "call_module" else self.func_name(node)
            return lambda: self.neuron_layer(affs[0], name, node)
        if kind in _OUTPUT_ONLY:
            users = list(node.users)
            if len(users) == 1 and users[0].op == "output" and users[0].args[0] is node and len(affs) == 1:
                self.notes.append(f"the {kind} at the output ({self.label(node)}) normalises the output units; "
                                  "it does not enter the Hamiltonian.")
                return lambda: affs[0]
            return None
        if len(affs) == 1 and ((mod is not None and kind in _PASS_MODULES) or
                               (mod is None and kind in _PASS_FUNCS and kind not in ("to",))):
            if "ropout" in kind and (mod is None or mod.training):
                self.notes.append(f"{self.label(node)} is taken as the identity (inference).")
            return lambda: affs[0]
        if mod is None and kind == "to" and len(affs) == 1:
            return lambda: affs[0]
        if mod is not None:
            if isinstance(mod, nn.Linear):
                return lambda: self.linear(node, affs[0], _np(mod.weight), None if mod.bias is None else _np(mod.bias))
            if isinstance(mod, nn.modules.conv._ConvNd) and not isinstance(mod, nn.modules.conv._ConvTransposeNd):
                return lambda: self.conv(node, affs[0], mod.weight, mod.bias, mod.stride, mod.padding,
                                         mod.dilation, mod.groups, mod.padding_mode)
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                return lambda: self.batchnorm(node, affs[0], mod)
            if isinstance(mod, (nn.AvgPool1d, nn.AvgPool2d)):
                d = 1 if isinstance(mod, nn.AvgPool1d) else 2
                return lambda: self.avgpool(node, affs[0], d, mod.kernel_size, mod.stride, mod.padding,
                                            mod.count_include_pad, getattr(mod, "divisor_override", None))
            if isinstance(mod, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)):
                d = 1 if isinstance(mod, nn.AdaptiveAvgPool1d) else 2
                return lambda: self.adaptive(node, affs[0], d)
            if isinstance(mod, (nn.Flatten, nn.Unflatten)):
                return lambda: self.index_op(node, lambda c: mod(c))
            return None
        # functions and methods
        if kind in _INDEX_FUNCS and len(affs) == 1:
            return lambda: self.index_op(node, lambda c: self.call_with(node, lambda a: c))
        if kind in ("add", "sub") and len(self.flat(self.resolve(node.args))) >= 2:
            return lambda: self.add(node, kind == "sub")
        if kind == "neg" and len(affs) == 1:
            return lambda: _scale_rows(affs[0], -np.ones(affs[0].n))
        if kind in ("mul", "truediv", "div") and len(affs) == 1 and (
                kind == "mul" or self.resolve(node.args)[0] is affs[0]):
            return lambda: self.mul(node, kind != "mul")
        if kind in _CAT:
            return lambda: self.cat(node)
        if kind in ("mean", "sum") and len(affs) == 1:
            return lambda: self.reduce(node, kind == "mean")
        if kind == "linear" and len(affs) == 1 and self.resolve(node.args)[0] is affs[0]:
            return lambda: self.f_linear(node)
        if kind in ("conv1d", "conv2d", "conv3d") and len(affs) == 1 and self.resolve(node.args)[0] is affs[0]:
            return lambda: self.f_conv(node)
        if kind in ("avg_pool1d", "avg_pool2d") and len(affs) == 1:
            return lambda: self.f_avgpool(node, int(kind[-2]))
        if kind in ("adaptive_avg_pool1d", "adaptive_avg_pool2d") and len(affs) == 1:
            return lambda: self.adaptive(node, affs[0], int(kind[-2]))
        if kind in ("matmul",) and len(affs) == 1 and self.resolve(node.args)[0] is affs[0]:
            return lambda: self.matmul(node)
        return None

    def unsupported(self, node: Any, kind: str, affs: list[_Affine]) -> _Affine:
        why, remedy = None, None
        for names, w, r in _REFUSED:
            if kind in names:
                why, remedy = w, r
                break
        linearisable = why is None or remedy != _NO_LIN
        if why is None:
            if kind in ("mul", "matmul", "bmm", "mm", "einsum", "div", "truediv", "pow") and len(affs) > 1:
                why = "a product of two network values is not linear in the spins"
            elif kind in ("div", "truediv"):
                why = "a division by a network value is not linear in the spins"
            elif kind in _OUTPUT_ONLY:
                why = "a softmax mixes the units of a layer; it is accepted only as the last operation"
            elif kind in _ACT_FUNCS or kind in _ACT_MODULES:
                why = "an element-wise function of several network values"
            else:
                why = f"no exact coupling map is known for this {'module' if node.op == 'call_module' else 'operation'}"
        if self.linearize_at is not None and linearisable:
            return self.linearize(node, affs)
        raise self.refuse(node, why, remedy if self.linearize_at is None or not linearisable else None)

    # -- exact linear operations
    def linear(self, node: Any, v: _Affine, W: np.ndarray, b: np.ndarray | None) -> _Affine:
        shape = self.shape_of(node)
        m = v.n // W.shape[1]
        A = sp.kron(sp.identity(m, format="csr"), sp.csr_matrix(W), format="csr") if m > 1 else sp.csr_matrix(W)
        c = None if b is None else np.tile(b, m)
        return _linear(v, A, c, shape)

    def conv(self, node: Any, v: _Affine, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any,
             groups: int, mode: str) -> _Affine:
        W = _np(weight)
        D = W.ndim - 2
        shape = self.shape_of(node)
        if len(v.shape) != D + 1:
            raise self.refuse(node, f"a {D}-d convolution on an unbatched or differently shaped input {v.shape}",
                              "give the network a batch dimension first")
        k = W.shape[2:]
        dil = _tuple(dilation, D)
        if isinstance(padding, str):
            pad = tuple(dil[d] * (k[d] - 1) // 2 for d in range(D)) if padding == "same" else (0,) * D
        else:
            pad = _tuple(padding, D)
        A = _conv_matrix(W, v.shape, shape, _tuple(stride, D), pad, dil, int(groups), mode)
        c = None if bias is None else np.repeat(_np(bias), int(np.prod(shape[1:], dtype=np.int64)))
        return _linear(v, A, c, shape)

    def batchnorm(self, node: Any, v: _Affine, mod: Any) -> _Affine:
        mean, var = _np(mod.running_mean), _np(mod.running_var)
        scale = 1.0 / np.sqrt(var + mod.eps)
        if mod.weight is not None:
            scale = scale * _np(mod.weight)
        shift = -mean * scale + (0.0 if mod.bias is None else _np(mod.bias))
        rest = int(np.prod(v.shape[1:], dtype=np.int64))
        self.folded.append(str(node.target))
        return _scale_rows(v, np.repeat(scale, rest), np.repeat(shift, rest))

    def avgpool(self, node: Any, v: _Affine, d: int, k: Any, s: Any, p: Any, include_pad: bool,
                override: Any) -> _Affine:
        shape = self.shape_of(node)
        k, p = _tuple(k, d), _tuple(p, d)
        s = k if s is None or (isinstance(s, (list, tuple)) and len(s) == 0) else _tuple(s, d)
        X, Y = v.shape[-d:], shape[-d:]
        mats = [_avgpool_1d(X[i], Y[i], k[i], s[i], p[i], bool(include_pad), override) for i in range(d)]
        A = _spatial_kron(v.n // int(np.prod(X)), mats)
        if override:
            A = A / float(override)
        return _linear(v, A, None, shape)

    def adaptive(self, node: Any, v: _Affine, d: int) -> _Affine:
        shape = self.shape_of(node)
        X, Y = v.shape[-d:], shape[-d:]
        A = _spatial_kron(v.n // int(np.prod(X)), [_adaptive_1d(X[i], Y[i]) for i in range(d)])
        return _linear(v, A, None, shape)

    def reduce(self, node: Any, mean: bool) -> _Affine:
        shape = self.shape_of(node)
        (v,) = [a for a in self.flat(self.resolve((node.args, node.kwargs))) if isinstance(a, _Affine)]
        args = self.const(self.resolve(node.args[1:]))
        kwargs = self.const(self.resolve(node.kwargs))
        dim = args[0] if args else kwargs.get("dim", None)
        if dim is None:
            raise self.refuse(node, "it reduces over the batch dimension too", "reduce over dim=(1, ...) only")
        dims = sorted({int(x) % (len(v.shape) + 1) for x in (dim if isinstance(dim, (list, tuple)) else [dim])})
        if 0 in dims:
            raise self.refuse(node, "it reduces over the batch dimension", "reduce over the unit dimensions only")
        pdims = [x - 1 for x in dims]
        keep = [i for i in range(len(v.shape)) if i not in pdims]
        unr = np.unravel_index(np.arange(v.n), v.shape)
        kept_shape = tuple(v.shape[i] for i in keep)
        rows = np.ravel_multi_index(tuple(unr[i] for i in keep), kept_shape) if keep else np.zeros(v.n, np.int64)
        n_out = int(np.prod(kept_shape, dtype=np.int64))
        w = 1.0 / (v.n // max(n_out, 1)) if mean else 1.0
        A = sp.csr_matrix((np.full(v.n, w), (rows, np.arange(v.n))), shape=(n_out, v.n))
        return _linear(v, A, None, shape)

    def add(self, node: Any, subtract: bool) -> _Affine:
        shape = self.shape_of(node)
        operands = self.resolve(node.args)[:2]
        alpha = self.const(self.resolve(node.kwargs)).get("alpha", 1.0)
        vals = [self.broadcast(a, shape) if isinstance(a, _Affine) else self.as_affine(self.const(a), node, shape)
                for a in operands]
        second = vals[1]
        factor = (-1.0 if subtract else 1.0) * float(alpha)
        if factor != 1.0:
            second = _scale_rows(second, np.full(second.n, factor))
        return _add(vals[0], second, shape)

    def mul(self, node: Any, divide: bool) -> _Affine:
        shape = self.shape_of(node)
        a, b = self.resolve(node.args)[:2]
        v, c = (a, b) if isinstance(a, _Affine) else (b, a)
        v = self.broadcast(v, shape)
        scale = self.as_affine(self.const(c), node, shape).bias
        return _scale_rows(v, 1.0 / scale if divide else scale)

    def cat(self, node: Any) -> _Affine:
        torch = self.torch
        shape = self.shape_of(node)
        args = self.resolve(node.args)
        kwargs = self.const(self.resolve(node.kwargs))
        parts = args[0]
        dim = self.const(args[1]) if len(args) > 1 else kwargs.get("dim", 0)
        vals: list[_Affine] = []
        for a in parts:
            if isinstance(a, _Affine):
                vals.append(a)
            else:
                t = self.const(a)
                vals.append(self.as_affine(t, node, tuple(int(x) for x in t.shape[1:])))
        offs = np.concatenate([[0], np.cumsum([v.n for v in vals])]).astype(np.int64)
        total = int(offs[-1])
        codes = [torch.arange(self.batch * v.n, dtype=torch.int64).reshape((self.batch,) + v.shape) % v.n
                 + int(offs[k]) + torch.arange(self.batch).reshape((-1,) + (1,) * len(v.shape)) * total
                 for k, v in enumerate(vals)]
        res = torch.cat(codes, dim=dim)
        if res.shape[0] != self.batch:
            raise self.refuse(node, "it concatenates along the batch dimension", "concatenate along dim=1 or later")
        r = res.reshape(self.batch, -1).numpy()
        if not np.all(r // total == np.arange(self.batch)[:, None]):
            raise self.refuse(node, "it mixes the batch dimension with the units of a sample", _BATCH)
        layers = sorted({k for v in vals for k in v.maps}, key=self.layer_order.index)
        maps = {}
        for L in layers:
            n_L = int(np.prod(self.layer_shapes[L], dtype=np.int64))
            maps[L] = sp.vstack([v.maps.get(L, sp.csr_matrix((v.n, n_L))) for v in vals], format="csr")
        stacked = _Affine(maps, np.concatenate([v.bias for v in vals]), shape)
        return _select(stacked, r[0] % total, shape)

    def f_linear(self, node: Any) -> _Affine:
        args = self.resolve(node.args)
        kwargs = self.const(self.resolve(node.kwargs))
        W = self.const(args[1]) if len(args) > 1 else kwargs["weight"]
        b = self.const(args[2]) if len(args) > 2 else kwargs.get("bias")
        return self.linear(node, args[0], _np(W), None if b is None else _np(b))

    def f_conv(self, node: Any) -> _Affine:
        names = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
        defaults = {"bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1}
        args = self.resolve(node.args)
        vals: dict[str, Any] = dict(defaults)
        vals.update(dict(zip(names[1:], (self.const(a) for a in args[1:]), strict=False)))
        vals.update(self.const(self.resolve(node.kwargs)))
        return self.conv(node, args[0], vals["weight"], vals["bias"], vals["stride"], vals["padding"],
                         vals["dilation"], int(vals["groups"]), "zeros")

    def f_avgpool(self, node: Any, d: int) -> _Affine:
        names = ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
        args = self.resolve(node.args)
        vals: dict[str, Any] = {"stride": None, "padding": 0, "count_include_pad": True, "divisor_override": None}
        vals.update(dict(zip(names[1:], (self.const(a) for a in args[1:]), strict=False)))
        vals.update(self.const(self.resolve(node.kwargs)))
        return self.avgpool(node, args[0], d, vals["kernel_size"], vals["stride"], vals["padding"],
                            vals["count_include_pad"], vals["divisor_override"])

    def matmul(self, node: Any) -> _Affine:
        args = self.resolve(node.args)
        C = _np(self.const(args[1]))
        if C.ndim != 2:
            raise self.refuse(node, "a product with a constant that is not a matrix")
        return self.linear(node, args[0], C.T, None)

    # -- the approximation
    def reference(self) -> dict[Any, Any]:
        if self.ref is None:
            import torch.fx as fx

            torch = self.torch
            interp = fx.Interpreter(self.gm, garbage_collect_values=False)
            x = self.linearize_at.to(dtype=self.example_dtype, device=self.example_device)
            try:
                with torch.no_grad():
                    interp.run(x)
            except Exception as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
                raise ValueError(f"{self.cls}.forward() fails on linearize_at ({first}); pass a batch the network "
                                 "accepts.") from None
            self.ref = interp.env
        return self.ref

    def linearize(self, node: Any, affs: list[_Affine]) -> _Affine:
        r"""Batch-mean first-order expansion :math:`f(u) \approx \overline{f(u_b) - J_b u_b} + \bar J u`."""
        import torch.fx as fx
        from torch.func import vjp, vmap

        torch = self.torch
        shape = self.shape_of(node)
        ref = self.reference()
        inputs = [n for n in node.all_input_nodes if isinstance(self.env[n], _Affine)]
        B = int(self.linearize_at.shape[0])
        op_mod = None
        if node.op == "call_module":
            op_mod = copy.deepcopy(self.modules[node.target]).to(torch.float64)

        def f(*us: Any) -> Any:
            lookup = dict(zip(inputs, us, strict=True))

            def rep(n: Any) -> Any:
                if n in lookup:
                    return lookup[n].unsqueeze(0)
                val = self.env[n]
                assert isinstance(val, _Const)
                x = val.value
                return x.to(torch.float64) if isinstance(x, torch.Tensor) and x.is_floating_point() else x

            a, k = fx.node.map_arg((node.args, node.kwargs), rep)  # type: ignore[misc]
            if op_mod is not None:
                out = op_mod(*a, **k)
            elif node.op == "call_method":
                out = getattr(a[0], node.target)(*a[1:], **k)
            else:
                out = node.target(*a, **k)
            if not isinstance(out, torch.Tensor):
                raise TypeError("it returns several tensors")
            return out[0]

        n_out = int(np.prod(shape, dtype=np.int64))
        sizes = [self.env[n].n for n in inputs]  # type: ignore[union-attr]
        Jsum = [sp.csr_matrix((n_out, m)) for m in sizes]
        csum = np.zeros(n_out)
        chunk = max(1, min(n_out, 2**22 // max(1, sum(sizes), n_out)))  # rows per vmapped batch of vjps
        try:
            for b in range(B):
                us = [ref[n][b].detach().to(torch.float64) for n in inputs]
                out0, vjp_fn = vjp(f, *us)  # type: ignore[misc]
                c = out0.detach().reshape(-1).cpu().numpy().copy()
                parts: list[list[Any]] = [[] for _ in inputs]
                for start in range(0, n_out, chunk):
                    rows = torch.arange(start, min(n_out, start + chunk))
                    cot = torch.zeros(rows.numel(), n_out, dtype=torch.float64, device=out0.device)
                    cot[torch.arange(rows.numel()), rows] = 1.0
                    grads = vmap(vjp_fn)(cot.reshape((rows.numel(),) + tuple(out0.shape)))
                    for i, g in enumerate(grads):
                        parts[i].append(sp.csr_matrix(g.detach().reshape(rows.numel(), -1).cpu().numpy()))
                for i in range(len(inputs)):
                    Jb = sp.vstack(parts[i], format="csr")
                    Jsum[i] = Jsum[i] + Jb
                    c -= Jb @ us[i].detach().reshape(-1).cpu().numpy()
                csum += c
        except Exception as exc:
            raise self.refuse(node, f"it could not be linearised at linearize_at ({str(exc)[:120]})") from None
        out = _Affine({}, csum / B, shape)
        for i, n in enumerate(inputs):
            v = self.env[n]
            assert isinstance(v, _Affine)
            out = _add(out, _linear(v, Jsum[i] / B, None, shape), shape)
        self.notes.append(f"APPROXIMATION: {self.label(node)} linearised at the reference batch linearize_at "
                          f"({B} samples): its couplings are its batch-mean Jacobian, exact only for linear ops.")
        return out

    # -- result
    def assemble(self) -> SpinGraph:
        if self.folded:
            self.notes.insert(0, f"BatchNorm folded with its running statistics (eval mode): {', '.join(self.folded)}.")
        layers, off = [], 0
        offsets = {}
        for name in self.layer_order:
            shape = self.layer_shapes[name]
            size = int(np.prod(shape, dtype=np.int64))
            layers.append(NeuronLayer(name, shape, off, size))
            offsets[name] = off
            off += size
        n = off
        blocks = []
        strips: dict[str, list[tuple[int, Any, bool]]] = {name: [] for name in self.layer_order}  # row layer → blocks
        for (src, dst), M in self.blocks.items():
            M = sp.csr_matrix(M)
            M.sum_duplicates()  # canonical: sorted, unique column indices in every row
            M.data.setflags(write=False)
            blocks.append(CouplingBlock(src, dst, M))
            strips[dst].append((offsets[src], M, False))
            strips[src].append((offsets[dst], M, True))  # M.T, built inside _block_csr one block at a time
        self.blocks.clear()
        self.env.clear()  # intermediate maps: only the blocks are kept
        if not blocks:
            raise ValueError(f"{self.cls} maps to no couplings (no linear operation reaches a neuron layer).")
        J = _block_csr([(offsets[name], sizes, strips[name]) for name, sizes in
                        ((L.name, L.size) for L in layers)], n)
        del strips
        h = np.zeros(n)
        if self.bias_as_field:
            for name, b in self.fields.items():
                h[offsets[name]: offsets[name] + b.size] = b
        h.setflags(write=False)
        for name, M in ((b.dst, b.matrix) for b in blocks):
            if not np.all(np.isfinite(M.data)):
                raise ValueError(f"the couplings into neuron layer {name!r} contain NaN or inf: the network "
                                 "diverged or is corrupt.")
        if not np.all(np.isfinite(h)):
            raise ValueError("the biases contain NaN or inf: the network diverged or is corrupt.")
        # J = sum of the blocks and their transposes: exactly symmetric, canonical, zero diagonal (src != dst), finite
        model = IsingModel._trusted(J, h, layers=tuple(layer.size for layer in layers))
        return SpinGraph(model=model, layers=tuple(layers), blocks=tuple(blocks), fields=h, notes=tuple(self.notes))


def map_network(net: Any, example_input: Any, *, bias_as_field: bool = False,
                linearize_at: Any = None) -> SpinGraph:
    r"""Map any feed-forward ``nn.Module`` onto an Ising model by graph capture (see the module docstring).

    Parameters
    ----------
    net : nn.Module
        Its ``forward`` must be traceable by ``torch.fx`` (no branching on tensor values), take one input tensor
        with the batch dimension first, and return one tensor. Call ``net.eval()`` first when it has BatchNorm.
    example_input : Tensor, or the input shape as a tuple (batch dimension first)
        Used only for the shapes of the intermediate values; its values do not matter.
    bias_as_field : bool
        Put the bias arriving at each neuron layer (Linear/conv biases, folded BatchNorm shifts, added
        constants) on its spins as fields :math:`h` (default: no fields).
    linearize_at : Tensor, optional
        A reference batch :math:`x` (same per-sample shape as ``example_input``). Operations with no exact
        coupling map that are not element-wise (max-pooling, LayerNorm/GroupNorm, attention, products of
        network values, ...) are then replaced by their first-order expansion around the values :math:`u_b` they
        receive on :math:`x`: :math:`f(u) \approx \overline{f(u_b) - J_f(u_b)\,u_b} + \overline{J_f(u_b)}\,u`
        (bars: means over the batch; :math:`J_f` from ``torch.func.vjp``, stored sparse). **An
        approximation**, listed in ``notes``; exact for linear operations. Without it such operations are
        refused.

    Returns
    -------
    SpinGraph
        ``model`` (sparse CSR :math:`J`, fields), ``layers`` (name, shape, offset, size), ``blocks``
        (``src``, ``dst``, CSR ``(size_dst, size_src)``), ``fields`` and ``notes``. Spins are ordered layer by
        layer (input first, output last), each layer in C order of its shape.

    Raises
    ------
    ValueError
        For untraceable ``forward()`` code, several inputs or outputs, and every unsupported operation, naming the
        module path or graph node, what is supported (``GRAPH_SUPPORTED``) and what to do: max-pooling,
        LayerNorm/GroupNorm, BatchNorm in training mode, attention, embeddings, products of network values.

    Notes
    -----
    Cost: one symbolic trace, one forward pass on ``example_input``, then time and memory linear in the number
    of couplings (sparse index arithmetic and sparse products; no dense :math:`n \times n` array).
    """
    try:
        import torch
        import torch.nn as nn
    except ImportError as exc:  # pragma: no cover - torch is a dependency
        raise ValueError("map_network needs torch.") from exc
    if not isinstance(net, nn.Module):
        raise ValueError(f"map_network maps an nn.Module, got {type(net).__name__}; for a state dict or weight "
                         "list use to_spins, or build the module and load the weights into it.")
    if isinstance(example_input, (tuple, list, torch.Size)) and all(isinstance(x, int) for x in example_input):
        try:
            p = next(net.parameters())
            dtype, device = p.dtype, p.device
        except StopIteration:
            dtype, device = torch.get_default_dtype(), torch.device("cpu")
        example_input = torch.zeros(tuple(example_input), dtype=dtype, device=device)
    if not isinstance(example_input, torch.Tensor) or example_input.ndim < 2:
        raise ValueError("example_input must be a tensor (or shape) with the batch dimension first, e.g. "
                         "torch.zeros(1, 1, 28, 28) for 1x28x28 images.")
    if linearize_at is not None:
        if not isinstance(linearize_at, torch.Tensor) or tuple(linearize_at.shape[1:]) != tuple(
                example_input.shape[1:]) or linearize_at.shape[0] < 1:
            raise ValueError(f"linearize_at must be a batch of inputs of shape (b, "
                             f"{', '.join(str(x) for x in example_input.shape[1:])}) like example_input.")
        if not bool(torch.isfinite(linearize_at).all()):
            raise ValueError("linearize_at contains NaN or inf.")
    return _Mapper(net, example_input, bool(bias_as_field), linearize_at).run()

