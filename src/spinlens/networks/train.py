r"""Built-in networks (MLPs, a LeNet-style CNN, a small residual CNN) and a trainer that saves log-spaced checkpoints.

Builders, all on *flat* inputs ``(n_samples, d)`` (the convolutional ones start with ``nn.Unflatten``), all
initialised with PyTorch's default law drawn reproducibly from ``rng``, all mapped exactly by
:func:`~spinlens.networks.map_network` (``net.eval()`` first where there is BatchNorm):

* :func:`mlp` — Linear layers with ReLU, tanh or binarized sign (straight-through estimator, :class:`Sign`);
* :func:`cnn` — conv5, act, avgpool2, conv3, act, avgpool2, Linear(128), act, Linear: ``784 + 784 c_1 + 196 c_2 +
  138`` spins on MNIST (average pooling only: max-pooling has no exact spin couplings);
* :func:`resnet` — stem conv [+ BatchNorm], ``n_blocks`` basic blocks ``x -> a(x + BN(conv(a(BN(conv(x))))))``
  with identity shortcuts, 7x7 adaptive average pooling, Linear: ``784 + 784 width (1 + 2 n_blocks) + 10`` spins.

:func:`train` optimises in training mode (BatchNorm on batch statistics, updating its running ones) and
evaluates, saves and reports every checkpoint in eval mode (BatchNorm on its running statistics: the network
that :func:`~spinlens.networks.map_network` maps). Checkpoints are the full state dicts (parameters and buffers,
BatchNorm's ``running_mean``/``running_var``/``num_batches_tracked`` included) as ``torch.save`` files (loaded
back with ``weights_only=True`` by :func:`~spinlens.networks.checkpoints.load_checkpoint`) or safetensors
files, listed in ``checkpoints.json``. Training is resumable: finished checkpoints are kept and a re-run
continues from the last one with its weights, buffers and optimizer state (batches are a deterministic function
of the seed and the step, so a resumed run gives the same weights as an uninterrupted one).

Lazy-training control (Chizat, Oyallon & Bach 2019): with output scale :math:`\alpha` the trained
function is :math:`f(x) = \alpha\,(f_w(x) - f_{w_0}(x))` and the learning rate is divided by
:math:`\alpha^2`; for large :math:`\alpha` the weights barely move (:math:`\|w - w_0\| = O(1/\alpha)`)
while the function still fits (kernel regime).
"""
from __future__ import annotations

import copy
import hashlib
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

__all__ = ["Sign", "mlp", "cnn", "resnet", "BasicBlock", "ResNet", "train", "TrainResult", "checkpoint_steps",
           "read_checkpoint_index", "INDEX_NAME"]

log = logging.getLogger(__name__)

INDEX_NAME = "checkpoints.json"
_ACTIVATIONS = ("relu", "tanh", "sign")
_EVAL_CHUNK = 1024  # samples per forward pass when a checkpoint is evaluated on the whole training set


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
    init: str = "uniform",
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
    rng : seed for the initialisation.
    init : {"uniform", "normal"}
        ``"uniform"``: PyTorch's default law, ``U(-1/sqrt(n_in), 1/sqrt(n_in))`` for weights and biases (weight
        variance ``1/(3 n_in)``); ``"normal"``: weights ``N(0, 1/n_in)`` and zero biases (the set-up of Barney,
        Winer & Galitski, arXiv:2408.06421).
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
    if init not in ("uniform", "normal"):
        raise ValueError(f"init must be 'uniform' or 'normal', got {init!r}.")
    g = torch.Generator().manual_seed(seed_int(rng))
    layers: list[nn.Module] = []
    for l in range(len(widths) - 1):
        lin = nn.Linear(widths[l], widths[l + 1], bias=bias)
        bound = 1.0 / np.sqrt(widths[l])
        with torch.no_grad():
            if init == "normal":
                lin.weight.normal_(0.0, bound, generator=g)
                if lin.bias is not None:
                    lin.bias.zero_()
            else:
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


def _act_module(activation: str) -> Any:
    import torch.nn as nn

    return {"relu": nn.ReLU, "tanh": nn.Tanh, "sign": Sign}[activation]()


def _check_in_shape(in_shape: Any) -> tuple[int, int, int]:
    if isinstance(in_shape, (str, bytes)) or not hasattr(in_shape, "__iter__"):
        raise ValueError(f"in_shape must be (channels, height, width) such as (1, 28, 28), got {in_shape!r}.")
    shape = tuple(as_count(v, "in_shape (channels, height, width)", minimum=1) for v in in_shape)
    if len(shape) != 3:
        raise ValueError(f"in_shape must be (channels, height, width) such as (1, 28, 28), got {in_shape!r}.")
    return shape  # type: ignore[return-value]


def _init_default(net: Any, seed: int) -> None:
    """PyTorch's default law, drawn from ``seed``: weights and biases of every Linear/Conv ``U(-1/sqrt(fan_in),
    1/sqrt(fan_in))`` with ``fan_in = C_in/groups * prod(kernel)``; BatchNorm ``gamma = 1, beta = 0`` and fresh
    running statistics (mean 0, variance 1). Modules are drawn in ``net.modules()`` order."""
    import torch
    import torch.nn as nn

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                fan_in = int(np.prod(m.weight.shape[1:]))
                bound = 1.0 / np.sqrt(fan_in)
                m.weight.uniform_(-bound, bound, generator=g)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=g)
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()


def cnn(
    in_shape: Sequence[int] = (1, 28, 28),
    channels: Sequence[int] = (16, 32),
    n_classes: int = 10,
    activation: str = "relu",
    bias: bool = True,
    *,
    rng: RNGLike = None,
    dtype: Any = None,
) -> Any:
    r"""A LeNet-style convolutional ``nn.Sequential`` on *flat* inputs ``(n, C_0 H W)``.

    ``Unflatten(1, in_shape)``, ``Conv2d(C_0 -> c_1, 5, padding=2)``, act, ``AvgPool2d(2)``,
    ``Conv2d(c_1 -> c_2, 3, padding=1)``, act, ``AvgPool2d(2)``, ``Flatten``, ``Linear(c_2 (H/4)(W/4) -> 128)``, act,
    ``Linear(128 -> n_classes)``. The flat input keeps :func:`train` and the datasets as they are for MLPs.
    Pooling is by averages on purpose: average pooling is linear and has exact spin couplings
    (:func:`~spinlens.networks.map_network` composes it into the next block), max-pooling has none.

    Spins (neuron layers of :func:`~spinlens.networks.map_network`: input, each activation, output):
    :math:`C_0HW + c_1 HW + c_2 HW/4 + 128 + n_{classes}`; on ``1x28x28``:
    :math:`784 + 784 c_1 + 196 c_2 + 138` (19\,738 for ``channels=(16, 32)``, 32\,282 for ``(32, 32)``).

    Parameters
    ----------
    in_shape : (C_0, H, W)
        Shape of one sample; ``H`` and ``W`` divisible by 4.
    channels : (c_1, c_2)
        Channels of the two convolutions.
    n_classes : int
        Outputs (logits).
    activation : {"relu", "tanh", "sign"}
        As in :func:`mlp` (``"sign"``: binarized with a straight-through estimator).
    bias : bool
        Convolutions and Linear layers with biases.
    rng : seed for the initialisation, PyTorch's default law drawn reproducibly: every weight and bias
        ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, ``fan_in = C_in k^2`` for a ``k x k`` convolution.
    dtype : torch dtype of the parameters (default: torch's default, float32).
    """
    import torch.nn as nn

    C0, H, W = _check_in_shape(in_shape)
    if isinstance(channels, (str, bytes)) or not hasattr(channels, "__iter__"):
        raise ValueError(f"channels must be two channel counts such as (16, 32), got {channels!r}.")
    ch = [as_count(c, "channels (of the two convolutions)", minimum=1) for c in channels]
    if len(ch) != 2:
        raise ValueError(f"channels must be two channel counts such as (16, 32), got {channels!r}.")
    n_classes = as_count(n_classes, "n_classes", minimum=1)
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}.")
    if H % 4 or W % 4:
        raise ValueError(f"in_shape height and width must be divisible by 4 (two 2x2 average poolings), got {H}x{W}.")
    c1, c2 = ch
    net = nn.Sequential(
        nn.Unflatten(1, (C0, H, W)),
        nn.Conv2d(C0, c1, 5, padding=2, bias=bias), _act_module(activation), nn.AvgPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1, bias=bias), _act_module(activation), nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * (H // 4) * (W // 4), 128, bias=bias), _act_module(activation),
        nn.Linear(128, n_classes, bias=bias),
    )
    _init_default(net, seed_int(rng))
    if dtype is not None:
        net = net.to(dtype=dtype)
    return net


def _make_resnet_classes() -> tuple[Any, Any]:
    import torch.nn as nn

    class BasicBlock(nn.Module):
        r"""Residual basic block with an identity shortcut: :math:`x \mapsto a(x + N_2 K_2\, a(N_1 K_1 x))`.

        :math:`K_1, K_2`: ``3x3`` convolutions (padding 1, stride 1, ``width -> width``); :math:`N_1, N_2`:
        BatchNorm2d (or identities); :math:`a`: the activation. Two neuron layers (``act1``, ``act2``) of
        ``width H W`` spins each; the shortcut is a unit coupling block between the block's input and ``act2``.
        """

        def __init__(self, width: int, activation: str, bias: bool, batchnorm: bool) -> None:
            super().__init__()
            conv_bias = bias and not batchnorm  # BatchNorm's shift replaces the (redundant) conv bias
            self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=conv_bias)
            self.bn1 = nn.BatchNorm2d(width) if batchnorm else nn.Identity()
            self.act1 = _act_module(activation)
            self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=conv_bias)
            self.bn2 = nn.BatchNorm2d(width) if batchnorm else nn.Identity()
            self.act2 = _act_module(activation)

        def forward(self, x: Any) -> Any:
            return self.act2(x + self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x))))))

    class ResNet(nn.Module):
        """Small residual CNN on flat inputs (built by :func:`resnet`; see there)."""

        def __init__(self, in_shape: tuple[int, int, int], width: int, n_blocks: int, n_classes: int,
                     activation: str, bias: bool, batchnorm: bool) -> None:
            super().__init__()
            C0 = in_shape[0]
            self.unflatten = nn.Unflatten(1, in_shape)
            self.stem = nn.Conv2d(C0, width, 3, padding=1, bias=bias and not batchnorm)
            self.stem_bn = nn.BatchNorm2d(width) if batchnorm else nn.Identity()
            self.stem_act = _act_module(activation)
            self.blocks = nn.Sequential(*(BasicBlock(width, activation, bias, batchnorm) for _ in range(n_blocks)))
            self.pool = nn.AdaptiveAvgPool2d(7)
            self.flatten = nn.Flatten()
            self.fc = nn.Linear(width * 49, n_classes, bias=bias)

        def forward(self, x: Any) -> Any:
            x = self.stem_act(self.stem_bn(self.stem(self.unflatten(x))))
            x = self.blocks(x)
            return self.fc(self.flatten(self.pool(x)))

    for cls in (BasicBlock, ResNet):  # module-level names (repr, pickling of whole modules)
        cls.__qualname__ = cls.__name__
    return BasicBlock, ResNet


try:
    BasicBlock, ResNet = _make_resnet_classes()
except ImportError:  # pragma: no cover
    BasicBlock = ResNet = None


def resnet(
    in_shape: Sequence[int] = (1, 28, 28),
    width: int = 16,
    n_blocks: int = 2,
    n_classes: int = 10,
    activation: str = "relu",
    bias: bool = True,
    batchnorm: bool = True,
    *,
    rng: RNGLike = None,
    dtype: Any = None,
) -> Any:
    r"""A small residual CNN (an ``nn.Module`` with a ``forward()``, residual additions) on *flat* inputs.

    ``Unflatten(1, in_shape)``; stem ``Conv2d(C_0 -> width, 3, padding=1)`` [+ ``BatchNorm2d``], act; ``n_blocks``
    :class:`BasicBlock` s :math:`x \mapsto a(x + N_2 K_2\, a(N_1 K_1 x))` (``3x3`` convolutions, padding 1,
    stride 1, identity shortcuts); ``AdaptiveAvgPool2d(7)``, ``Flatten``, ``Linear(49 width -> n_classes)``.
    Mapped exactly by :func:`~spinlens.networks.map_network` in eval mode (BatchNorm folded into the preceding
    convolution, each shortcut a unit coupling block between non-adjacent neuron layers).

    Spins (input, every activation, output): :math:`C_0 HW + (1 + 2\,n_{blocks})\,\mathrm{width}\,HW +
    n_{classes}`; on ``1x28x28``: :math:`784 + 784\,\mathrm{width}\,(1 + 2 n_{blocks}) + 10` (63\,514 for width 16
    and 2 blocks). The pooling adds no spins whichever is used (it is linear, and composed with the final Linear
    into one dense block of ``n_classes x width HW`` couplings); ``AdaptiveAvgPool2d(7)`` rather than
    ``AvgPool2d(4)`` (identical on 28x28) so that the classifier has ``49 width`` inputs for any ``in_shape``,
    and rather than global average pooling so that it keeps the digit's coarse layout (accuracy of a small
    network).

    Parameters
    ----------
    in_shape : (C_0, H, W)
        Shape of one sample (``H, W >= 7``).
    width : int
        Channels of the stem and of every block.
    n_blocks : int
        Residual blocks (0 allowed: stem and classifier only).
    n_classes : int
        Outputs (logits).
    activation : {"relu", "tanh", "sign"}
        As in :func:`mlp`.
    bias : bool
        Bias of the final Linear, and of the convolutions when ``batchnorm=False`` (a convolution followed by
        BatchNorm has none: BatchNorm's shift :math:`\beta` plays its role).
    batchnorm : bool
        BatchNorm2d after every convolution. Train it with :func:`train` (which evaluates and checkpoints in
        eval mode); map it with ``map_network(net.eval(), (1, C_0 H W))``.
    rng : seed for the initialisation: PyTorch's default law drawn reproducibly (convolution and Linear weights
        and biases ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, ``fan_in = C_in k^2``; BatchNorm ``gamma = 1``,
        ``beta = 0``, running mean 0 and variance 1).
    dtype : torch dtype of the parameters and buffers (default: torch's default, float32).
    """
    shape = _check_in_shape(in_shape)
    width = as_count(width, "width (channels)", minimum=1)
    n_blocks = as_count(n_blocks, "n_blocks (residual blocks)", minimum=0)
    n_classes = as_count(n_classes, "n_classes", minimum=1)
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}.")
    if shape[1] < 7 or shape[2] < 7:
        raise ValueError(f"in_shape height and width must be at least 7 (7x7 average pooling), got {shape[1:]}.")
    net = ResNet(shape, width, n_blocks, n_classes, activation, bool(bias), bool(batchnorm))
    _init_default(net, seed_int(rng))
    if dtype is not None:
        net = net.to(dtype=dtype)
    return net


def checkpoint_steps(steps: int, n: int, dense: int = 0) -> list[int]:
    """About ``n`` log-spaced training steps in ``[0, steps]``, always including 0 and ``steps``, plus every step
    below ``dense`` (dense early checkpoints: the glass melts in the first few steps)."""
    steps = as_count(steps, "steps (training steps)", minimum=1)
    n = as_count(n, "n (checkpoints, step 0 and the last step included)", minimum=2)
    dense = as_count(dense, "dense (early steps that are all checkpointed)", minimum=0)
    if dense:
        return sorted(set(range(min(dense, steps + 1))) | set(checkpoint_steps(steps, n)))
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
    test_loss, test_accuracy : (k,) arrays, the same on the held-out ``test_data`` (NaN without).
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
    test_loss: np.ndarray | None = None
    test_accuracy: np.ndarray | None = None

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
    test_data: Any = None,
) -> TrainResult:
    r"""Train ``model`` with cross-entropy on ``data`` and save checkpoints at log-spaced steps.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place (e.g. from :func:`mlp`, :func:`cnn`, :func:`resnet`), in training mode during the
        optimisation steps and in eval mode for every checkpoint's loss, accuracy and saved state (BatchNorm
        buffers included); left in eval mode.
    data : Dataset or (X, y)
        Inputs ``(n_samples, ...)`` (flattened: the model gets ``(batch, d)``) and integer class labels.
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
        :math:`f = \alpha (f_w - f_{w_0})`, learning rate :math:`\eta/\alpha^2` (Chizat & Bach). Refused for
        networks with BatchNorm (their :math:`f_{w_0}` is not defined consistently across modes).
    rng : seed for the minibatch order.
    num_threads : int, optional
        Torch intra-op threads while training (restored afterwards); 1 is fastest for small MLPs on
        busy machines. ``None`` leaves torch's setting alone.
    test_data : Dataset or (X, y), optional
        Held-out samples (never trained on): their loss and accuracy are recorded at every checkpoint beside the
        training ones.

    Returns
    -------
    TrainResult
        ``train_loss``/``train_accuracy``: mean cross-entropy and accuracy of the eval-mode network on the whole
        training set at each checkpoint; ``test_loss``/``test_accuracy`` the same on ``test_data`` (NaN
        without).

    Notes
    -----
    Cost per step: one forward and backward pass on ``batch_size`` samples; per checkpoint, one eval-mode
    forward pass over the training set (in chunks of 1024 samples) and one file write.
    """
    import torch

    if num_threads is None:
        return _train(model, data, steps, optimizer, lr, momentum, weight_decay, batch_size, checkpoints, out_dir,
                      file_format, lazy_scale, rng, progress, device, test_data)
    old = torch.get_num_threads()
    torch.set_num_threads(int(num_threads))
    try:
        return _train(model, data, steps, optimizer, lr, momentum, weight_decay, batch_size, checkpoints, out_dir,
                      file_format, lazy_scale, rng, progress, device, test_data)
    finally:
        torch.set_num_threads(old)


def _train(model: Any, data: Any, steps: int, optimizer: str, lr: float, momentum: float, weight_decay: float,
           batch_size: int, checkpoints: Any, out_dir: Any, file_format: str, lazy_scale: float | None,
           rng: RNGLike, progress: ProgressCallback | None, device: Any, test_data: Any = None) -> TrainResult:
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
        bn = [name for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if bn:
            raise ValueError(
                f"lazy_scale does not support BatchNorm (module {bn[0]!r}): the reference f_w0 would normalise with "
                "other statistics than the trained network (batch statistics in training, running ones in eval), "
                "so f_w - f_w0 is not zero at initialisation. Build the network without BatchNorm (e.g. "
                "resnet(batchnorm=False)) or train without lazy_scale."
            )
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
    Xt, yt = _as_tensors(test_data, device, dtype) if test_data is not None else (None, None)
    if Xt is not None and tuple(Xt.shape[1:]) != tuple(X.shape[1:]):
        raise ValueError(f"test_data samples have shape {tuple(Xt.shape[1:])}, the training data "
                         f"{tuple(X.shape[1:])}.")
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
        # which network: its layers, shapes and activations (repr), so that a run is never resumed into another
        # network whose parameters merely have the same shapes (e.g. sign instead of ReLU)
        "model": f"{type(model).__name__} {hashlib.sha256(repr(model).encode()).hexdigest()[:16]}",
    }
    if Xt is not None:
        config["n_test"] = int(Xt.shape[0])

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
            old = index.get("config") or {}
            differ = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
            what = "a different network" if differ == ["model"] else \
                f"a different training configuration ({', '.join(differ)} differ)"
            raise ValueError(f"{out_path} already holds checkpoints of {what}; use another out_dir or delete it.")
        done = [s for s in ck_steps if (out_path / names[s]).is_file()]
        if done:
            last = max(done)
            from spinlens.networks.to_spins import load_checkpoint

            try:
                model.load_state_dict(load_checkpoint(out_path / names[last]))
            except RuntimeError as exc:  # missing/unexpected keys or shapes: another architecture
                raise ValueError(
                    f"{out_path} holds checkpoints of a different network ({out_path / names[last]} does not load "
                    f"into this model: {str(exc).splitlines()[0]}); use another out_dir or delete it."
                ) from None
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
    def evaluate(Xe: Any, ye: Any) -> tuple[float, float]:
        # the eval-mode network (BatchNorm on its running statistics: the one that is saved and mapped), in chunks
        # of _EVAL_CHUNK samples so that wide feature maps of the whole set are never held at once
        model.eval()
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = 0
        m = Xe.shape[0]
        for i in range(0, m, _EVAL_CHUNK):
            out = forward(Xe[i : i + _EVAL_CHUNK])
            yb = ye[i : i + _EVAL_CHUNK]
            loss_sum += F.cross_entropy(out, yb, reduction="sum").double()
            correct += int((out.argmax(1) == yb).sum())
        model.train()
        return float(loss_sum) / m, correct / m

    losses: dict[int, float] = {}
    accs: dict[int, float] = {}
    test: dict[int, tuple[float, float]] = {}  # step -> (loss, accuracy) on test_data
    state_dicts: dict[int, dict[str, Any]] = {}
    history = np.full(steps, np.nan)

    def checkpoint(step: int) -> None:
        losses[step], accs[step] = evaluate(X, y)
        if Xt is not None:
            test[step] = evaluate(Xt, yt)
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
        _write_index(out_path, config, ck_steps, names, losses, accs, test)

    if out_path is not None:
        old = read_checkpoint_index(out_path) or {}
        for rec in old.get("checkpoints", []):
            if rec.get("train_loss") is not None:
                losses[int(rec["step"])] = float(rec["train_loss"])
                accs[int(rec["step"])] = float(rec["train_accuracy"])
            if rec.get("test_loss") is not None:
                test[int(rec["step"])] = (float(rec["test_loss"]), float(rec["test_accuracy"]))
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
        test_loss=np.asarray([test.get(s, (np.nan, np.nan))[0] for s in ck_steps]),
        test_accuracy=np.asarray([test.get(s, (np.nan, np.nan))[1] for s in ck_steps]),
        loss_history=history,
        out_dir=str(out_path) if out_path is not None else None,
        config=config,
        resumed_from=start if start > 0 else -1,
        state_dicts=[state_dicts[s] for s in ck_steps] if out_path is None else [],
    )


def _write_index(out: Path, config: dict, ck_steps: list[int], names: dict[int, str],
                 losses: dict[int, float], accs: dict[int, float], test: dict[int, tuple[float, float]]) -> None:
    recs = [
        {"step": s, "file": names[s], "train_loss": losses.get(s), "train_accuracy": accs.get(s),
         **({"test_loss": test[s][0], "test_accuracy": test[s][1]} if s in test else {})}
        for s in ck_steps
        if (out / names[s]).is_file()
    ]
    atomic_write_text(out / INDEX_NAME, json.dumps({"config": config, "checkpoints": recs}, indent=2))
