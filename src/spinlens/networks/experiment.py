r"""The phases-over-training pipeline: train (or load) checkpoints, analyse each, fit :math:`T_c(t)`, report.

For every checkpoint the network is mapped to spins (:func:`spinlens.networks.reader.spin_graph`: graph capture of
any supported ``nn.Module`` — MLPs, CNNs, residual nets — or the chain rule for a bare state dict), its stability
curve and phase are computed (:func:`spinlens.networks.phases.analyze`), TAP evidence is gathered on a few
checkpoints, and the spectrum of every coupling block and of :math:`J` is summarised
(:func:`spinlens.networks.spectrum.spectrum`); every per-layer quantity is kept per neuron layer or block, by name.
The network trained by spinlens is an MLP (``arch="mlp"``), a LeNet-style CNN (``"cnn"``) or a residual network
(``"resnet"``) of :mod:`spinlens.networks.train`. Each checkpoint's record is
one unit of the sweep runner (:mod:`spinlens.sweeps`), written atomically to ``analysis/units/step_XXXXXXXX.json``;
a re-run reuses finished units, and the units can run on a local process pool or a Dask cluster.

The melting temperature is fitted as a power law :math:`T_c(t) = a\,t^{\gamma}` by least squares on
:math:`\log T_c` vs :math:`\log t` over the trailing hidden-order checkpoints without the onset one (the fit
range is reported), with a
95% confidence interval for :math:`\gamma` from the t distribution (Barney, Winer & Galitski, arXiv:2408.06421).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spinlens._progress import ProgressCallback
from spinlens._rng import spawn
from spinlens.networks.checkpoints import list_checkpoints
from spinlens.results import Result, to_jsonable
from spinlens.sweeps import Unit, load_unit, run_sweep_with

__all__ = [
    "ExperimentConfig",
    "ExperimentResult",
    "PowerLawFit",
    "fit_power_law",
    "saturation_test",
    "SaturationTest",
    "list_checkpoints",
    "train_checkpoints",
    "analyze_checkpoints",
    "summarize",
    "summarize_run",
    "experiment_checkpoints",
    "check_checkpoints",
    "run_experiment",
    "experiment_figures",
    "experiment_sections",
    "init_text",
    "load_builder",
    "build_network",
    "analysis_identity",
    "analysis_key",
    "file_digest",
    "PRESETS",
    "preset_config",
    "network_graph",
    "reference_graph",
]

log = logging.getLogger(__name__)


@dataclass
class ExperimentConfig:
    """Everything that defines a phases-over-training run (defaults: the ``spinlens phases`` demo)."""

    widths: tuple[int, ...] = (784, 256, 256, 10)  # arch "mlp" only
    arch: str = "mlp"  # what spinlens trains: "mlp", "cnn" (LeNet-style) or "resnet"
    channels: tuple[int, ...] | None = None  # cnn: (c1, c2), default (16, 32); resnet: (width,), default (8,)
    n_blocks: int | None = None  # resnet: residual blocks (default 2)
    activation: str = "relu"
    bias: bool = True
    init: str = "uniform"  # arch "mlp": "uniform" (PyTorch's default) or "normal" (N(0, 1/fan_in), zero biases)
    dataset: str | None = None  # None: MNIST-5000 when training; no data for checkpoint_dir (see ``data``)
    n_samples: int | None = None
    steps: int = 2000
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    batch_size: int = 128
    n_checkpoints: int = 20
    dense_checkpoints: int = 0  # every step below this is checkpointed too (dense early checkpoints)
    lazy_scale: float | None = None
    test_fraction: float | None = 0.2  # held out of training, evaluated at every checkpoint (None: train on all)
    seed: int = 0
    preset: str | None = None  # the name of the preset these values came from (PRESETS), for the record
    # analysis
    n_grid: int = 16
    n_starts: int = 8
    tap_max_iter: int = 1000
    n_tap_checkpoints: int = 5
    null_models: bool = True  # per checkpoint: T_c of the entry-shuffled couplings and the variance prediction
    threads: int | None = 1
    # the user's own run
    checkpoint_dir: str | None = None
    model_builder: str | None = None
    steps_from: str | None = None  # CSV/JSON file -> step table for checkpoint_dir (see checkpoints.list_checkpoints)
    input_shape: tuple[int, ...] | None = None  # per-sample input of the user's module, e.g. (1, 28, 28)

    @property
    def data(self) -> str | None:
        """The dataset of the run: ``dataset``, else MNIST-5000 when training, else None (the user's checkpoints)."""
        return self.dataset if self.dataset is not None else (None if self.checkpoint_dir else "mnist5000")

    #: Fields that describe training; they do not apply to (and are not recorded for) a user's checkpoints.
    TRAINING_FIELDS = ("widths", "arch", "channels", "n_blocks", "activation", "bias", "init", "steps", "optimizer",
                       "lr", "momentum", "batch_size", "n_checkpoints", "dense_checkpoints", "lazy_scale",
                       "test_fraction", "preset")
    ARCHS = ("mlp", "cnn", "resnet")

    def __post_init__(self) -> None:
        if self.arch not in self.ARCHS:
            raise ValueError(f"arch must be one of {self.ARCHS}, got {self.arch!r}.")
        if self.arch == "mlp" and (self.channels is not None or self.n_blocks is not None):
            raise ValueError("channels and n_blocks describe the cnn and resnet architectures, not an MLP (arch "
                             "'mlp', whose layers are set by widths).")
        if self.arch == "cnn" and self.n_blocks is not None:
            raise ValueError("n_blocks sets the residual blocks of arch 'resnet'; the cnn has none.")
        want = {"cnn": 2, "resnet": 1}.get(self.arch)
        if want and self.channels is not None and len(self.channels) != want:
            raise ValueError(f"channels of arch {self.arch!r} must be {want} number(s) "
                             f"({'c1, c2' if want == 2 else 'the width'}), got {tuple(self.channels)}.")
        if self.init not in ("uniform", "normal"):
            raise ValueError(f"init must be 'uniform' or 'normal', got {self.init!r}.")
        if self.arch != "mlp" and self.init != "uniform":
            raise ValueError(f"init {self.init!r} is for the MLP; the {self.arch} uses PyTorch's default law.")
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; known: {', '.join(PRESETS)}.")
        if self.input_shape is not None and not self.checkpoint_dir:
            raise ValueError("input_shape is the input of the user's module (checkpoint_dir with model_builder); "
                             "the networks spinlens trains take the dataset's samples flat.")


#: Named set-ups: ``ExperimentConfig(**PRESETS[name], preset=name)``, any field overridable.
PRESETS: dict[str, dict[str, Any]] = {
    # Barney, Winer & Galitski, arXiv:2408.06421: three hidden layers of 512, no biases, weights N(0, 1/fan_in),
    # SGD lr 0.01 momentum 0.9 batch 64 on MNIST; spinlens: MNIST-5000 with 20% held out, 3000 steps (about 48
    # epochs of the 4000 training samples; spinlens's choice), every step below 10 and 20 log-spaced checkpoints.
    "barney2024": {"widths": (784, 512, 512, 512, 10), "bias": False, "init": "normal", "optimizer": "sgd",
                   "lr": 0.01, "momentum": 0.9, "batch_size": 64, "steps": 3000, "n_checkpoints": 20,
                   "dense_checkpoints": 10, "test_fraction": 0.2, "dataset": "mnist5000"},
}


def preset_config(name: str, **overrides: Any) -> ExperimentConfig:
    """The configuration of preset ``name`` (:data:`PRESETS`) with ``overrides`` (e.g. ``steps=300`` for a short
    run, ``activation="sign"`` for the binarized network)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}.")
    return ExperimentConfig(**{**PRESETS[name], **overrides, "preset": name})


# ---------------------------------------------------------------------------------------------- fit
@dataclass(frozen=True)
class PowerLawFit(Result):
    r""":math:`T_c = a\,t^{\gamma}` fitted on ``[t_start, t_end]`` (``n_points`` checkpoints).

    ``exponent_ci`` is the 95% interval from the t distribution with ``n_points - 2`` degrees of freedom.
    """

    exponent: float
    exponent_stderr: float
    exponent_ci: tuple
    prefactor: float
    t_start: float
    t_end: float
    n_points: int
    r2: float

    def predict(self, t: Any) -> np.ndarray:
        return self.prefactor * np.asarray(t, dtype=np.float64) ** self.exponent


def fit_power_law(t: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                  t_range: tuple[float, float] | None = None) -> PowerLawFit:
    r"""Least-squares fit of :math:`\log y = \log a + \gamma \log t` over ``t_range`` (default: all t > 0).

    Raises ``ValueError`` with fewer than 3 usable points (positive, finite).
    """
    from scipy import stats

    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = (t > 0) & (y > 0) & np.isfinite(t) & np.isfinite(y)
    if t_range is not None:
        ok &= (t >= t_range[0]) & (t <= t_range[1])
    if ok.sum() < 3:
        raise ValueError(f"a power-law fit needs at least 3 positive points in the range, got {int(ok.sum())}.")
    x, z = np.log(t[ok]), np.log(y[ok])
    n = len(x)
    A = np.vstack([np.ones(n), x]).T
    coef, *_ = np.linalg.lstsq(A, z, rcond=None)
    resid = z - A @ coef
    dof = n - 2
    s2 = float(resid @ resid / dof) if dof > 0 else 0.0
    cov = s2 * np.linalg.inv(A.T @ A)
    se = float(np.sqrt(cov[1, 1]))
    q = float(stats.t.ppf(0.975, dof)) if dof > 0 else float("inf")
    ss_tot = float(np.sum((z - z.mean()) ** 2))
    return PowerLawFit(
        exponent=float(coef[1]),
        exponent_stderr=se,
        exponent_ci=(float(coef[1] - q * se), float(coef[1] + q * se)),
        prefactor=float(np.exp(coef[0])),
        t_start=float(t[ok].min()),
        t_end=float(t[ok].max()),
        n_points=n,
        r2=1.0 - float(resid @ resid) / ss_tot if ss_tot > 0 else 1.0,
    )


@dataclass(frozen=True)
class SaturationTest(Result):
    r"""A pure power law against a broken one for :math:`T_c(t)` (:func:`saturation_test`).

    ``break_step``: the step where the exponent changes (NaN when the pure law is preferred); ``exponent_before``,
    ``exponent_after`` the two slopes of the broken law; ``delta_bic`` = BIC(pure) − BIC(broken) (positive: the
    broken law fits better); ``broken`` whether it is preferred (``delta_bic > threshold``).
    """

    broken: bool
    break_step: float
    exponent_before: float
    exponent_after: float
    bic_pure: float
    bic_broken: float
    delta_bic: float
    threshold: float
    n_points: int


def saturation_test(t: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                    threshold: float = 6.0) -> SaturationTest:
    r"""Does :math:`T_c(t)` keep growing as one power law, or does its exponent change (saturation)?

    Two least-squares models of :math:`z = \log y` against :math:`x = \log t`: the pure power law
    :math:`z = a + \gamma x` (2 parameters) and a continuous broken power law
    :math:`z = a + \gamma_1 x + (\gamma_2 - \gamma_1)\max(0, x - x_b)` (4 parameters: :math:`a, \gamma_1,
    \gamma_2, x_b`; :math:`x_b` scanned over the interior data points, at least 3 points on each side), compared
    by the Bayesian information criterion :math:`\mathrm{BIC} = n\ln(\mathrm{RSS}/n) + k\ln n` (Schwarz 1978).
    The broken law is preferred when it lowers the BIC by more than ``threshold`` (6: "strong" evidence on the
    scale of Kass & Raftery 1995). Saturation is a broken law with :math:`\gamma_2 < \gamma_1`. Needs at least 6
    positive points (fewer: the pure law, ``broken=False``).
    """
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = (t > 0) & (y > 0) & np.isfinite(t) & np.isfinite(y)
    x, z = np.log(t[ok]), np.log(y[ok])
    n = len(x)
    nan = float("nan")

    def rss(A: np.ndarray) -> float:
        coef, *_ = np.linalg.lstsq(A, z, rcond=None)
        r = z - A @ coef
        return max(float(r @ r), 1e-300)

    if n < 3:
        raise ValueError(f"a saturation test needs at least 3 positive points, got {n}.")
    base = np.vstack([np.ones(n), x]).T
    bic_pure = n * np.log(rss(base) / n) + 2 * np.log(n)
    best = (np.inf, nan, nan, nan)
    for i in range(2, n - 3):  # break at x[i]: at least 3 points on each side
        A = np.column_stack([base, np.maximum(0.0, x - x[i])])
        coef, *_ = np.linalg.lstsq(A, z, rcond=None)
        b = n * np.log(rss(A) / n) + 4 * np.log(n)
        if b < best[0]:
            best = (b, float(np.exp(x[i])), float(coef[1]), float(coef[1] + coef[2]))
    bic_broken, t_b, g1, g2 = best
    delta = float(bic_pure - bic_broken) if np.isfinite(bic_broken) else -np.inf
    broken = bool(delta > threshold)
    return SaturationTest(broken=broken, break_step=t_b if broken else nan, exponent_before=g1, exponent_after=g2,
                          bic_pure=float(bic_pure), bic_broken=float(bic_broken), delta_bic=delta,
                          threshold=float(threshold), n_points=n)


# ---------------------------------------------------------------------------------------------- checkpoints
_IMPORT_LOCK = threading.Lock()


def load_builder(spec: str) -> Any:
    """``"package.module:builder"`` or ``"path/to/file.py:builder"`` → the callable (the user's code: it is run).

    A module name is imported from the current directory first (as ``python -m`` does), then from ``sys.path``.
    """
    import sys

    if ":" not in spec or not all(spec.split(":", 1)):
        raise ValueError(f"--model must look like 'module:builder' or 'file.py:builder', got {spec!r}.")
    mod_name, fn_name = spec.rsplit(":", 1)
    if mod_name.endswith(".py"):
        path = Path(mod_name).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"--model {spec}: file {path} does not exist.")
        # run once per file version (not once per analysed checkpoint), registered so that its source is known
        name = f"_spinlens_user_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}_{path.stat().st_mtime_ns}"
        with _IMPORT_LOCK:
            mod = sys.modules.get(name)
            if mod is None:
                spec_ = importlib.util.spec_from_file_location(name, path)
                mod = importlib.util.module_from_spec(spec_)  # type: ignore[arg-type]
                try:
                    spec_.loader.exec_module(mod)  # type: ignore[union-attr]
                except Exception as exc:
                    raise ValueError(f"--model {spec}: running {path.name} failed: {type(exc).__name__}: {exc}") \
                        from None
                sys.modules[name] = mod
    else:
        cwd = os.getcwd()
        with _IMPORT_LOCK:  # sys.path is process-wide: one import at a time
            added = cwd not in sys.path
            if added:
                sys.path.insert(0, cwd)
            try:
                mod = importlib.import_module(mod_name)
            except ImportError as exc:
                raise ValueError(
                    f"cannot import {mod_name!r} for --model ({exc}); spinlens looks in the current directory "
                    f"({cwd}) and on PYTHONPATH: run from the folder that holds it, or give --model "
                    f"path/to/{mod_name}.py:{fn_name}."
                ) from None
            finally:
                if added:
                    sys.path.remove(cwd)
    fn = getattr(mod, fn_name, None)
    if not callable(fn):
        raise ValueError(f"module {mod_name!r} has no callable {fn_name!r} (--model {spec}).")
    return fn


def _builder(cfg: ExperimentConfig) -> Any:
    """The module of the run's checkpoints: the user's ``--model``, the network spinlens trained (``cfg.arch``), or
    None (a state dict of the user's, read by the mapping's state-dict rule)."""
    if cfg.model_builder:
        return load_builder(cfg.model_builder)
    if cfg.checkpoint_dir:
        return None
    return _arch_builder(cfg)


def _arch_builder(cfg: ExperimentConfig) -> Any:
    """``builder(rng=None) -> nn.Module``: the network of ``cfg.arch`` for the configured dataset (flat inputs)."""
    nets = importlib.import_module("spinlens.networks.train")  # the module (spinlens.networks.train is a function)
    if cfg.arch == "mlp":
        return functools.partial(nets.mlp, cfg.widths, cfg.activation, cfg.bias, init=cfg.init)
    data = _make_data(cfg)
    shape = (1, *data.image_shape)
    if cfg.arch == "cnn":
        return functools.partial(nets.cnn, shape, tuple(cfg.channels or (16, 32)), data.n_classes, cfg.activation,
                                 cfg.bias)
    return functools.partial(nets.resnet, shape, int((cfg.channels or (8,))[0]), int(cfg.n_blocks or 2),
                             data.n_classes, cfg.activation, cfg.bias)


def _example_input(cfg: ExperimentConfig) -> tuple[int, ...] | None:
    """Input shape (batch first) the run's modules are mapped on: the user's ``input_shape``; the dataset's samples
    flat (the networks spinlens trains, and a user's module given a dataset); else None (read from the module's
    first Linear layer by :func:`~spinlens.networks.reader.input_shape_of`)."""
    if cfg.input_shape is not None:
        return (1, *(int(x) for x in cfg.input_shape))
    if cfg.data is not None and (cfg.model_builder or not cfg.checkpoint_dir):
        return (1, int(_make_data(cfg).X.shape[1]))
    return None


def build_network(cfg: ExperimentConfig, rng: Any = None) -> Any:
    """A fresh network of the run (``cfg.arch``, initialised from ``rng``): what spinlens trains."""
    if cfg.checkpoint_dir:
        raise ValueError("build_network builds the network spinlens trains; a run of the user's checkpoints "
                         "(checkpoint_dir) has the user's own --model.")
    return _arch_builder(cfg)(rng=rng)


def network_graph(cfg: ExperimentConfig, net: Any) -> Any:
    """A checkpoint's SpinGraph: a module mapped on the run's input shape (:func:`_example_input`), a bare state
    dict by the chain rule of :func:`~spinlens.networks.to_spins.to_spins`."""
    import torch.nn as nn

    from spinlens.networks.reader import spin_graph

    if not isinstance(net, nn.Module):
        return spin_graph(net)
    shape = _example_input(cfg)
    try:
        graph = spin_graph(net, shape)
    except ValueError as exc:
        if cfg.input_shape is not None or shape is None or "fails on example_input" not in str(exc):
            raise
        raise ValueError(f"{exc} The module was given the dataset's samples flat ({shape[1]} values): give its "
                         "input shape (input_shape, or --input-shape, e.g. 1,28,28).") from None
    if cfg.checkpoint_dir and cfg.input_shape is None and shape is not None:  # the user's module, fed flat samples
        note = (f"{type(net).__name__} mapped on the dataset's samples flat ({shape[1]} values per sample); give "
                "--input-shape if it takes them in another shape.")
        graph = dataclasses.replace(graph, notes=(note, *graph.notes))
    return graph


def _load_network(path: Path, builder: Any) -> Any:
    """The checkpoint as a state dict, or loaded into ``builder()`` (a ``model.``-style prefix is stripped)."""
    import torch.nn as nn

    from spinlens.networks.checkpoints import load_checkpoint

    sd = load_checkpoint(path)
    if builder is None:
        return sd
    net = builder()
    if not isinstance(net, nn.Module):
        raise ValueError(f"--model builder returned a {type(net).__name__}, not an nn.Module.")
    wanted = set(net.state_dict())
    if set(sd) != wanted:
        for prefix in {k.split(".", 1)[0] + "." for k in sd}:
            if all(k.startswith(prefix) for k in sd) and {k[len(prefix):] for k in sd} == wanted:
                sd = {k[len(prefix):]: v for k, v in sd.items()}  # e.g. a LightningModule's "model." prefix
                break
    try:
        net.load_state_dict(sd)
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        missing = sorted(wanted - set(sd))[:3]
        extra = sorted(set(sd) - wanted)[:3]
        detail = f"missing {missing}, unexpected {extra}" if (missing or extra) else first[:200]
        raise ValueError(f"checkpoint {path.name} does not fit the network from --model ({detail}).") from None
    net.eval()
    return net


def _make_data(cfg: ExperimentConfig) -> Any:
    from spinlens.data import load_dataset

    if cfg.data is None:
        raise ValueError("this run has no dataset: set ExperimentConfig.dataset.")
    return load_dataset(cfg.data, n_samples=cfg.n_samples)


def train_checkpoints(cfg: ExperimentConfig, directory: str | os.PathLike[str],
                      progress: ProgressCallback | None = None) -> list[tuple[int, Path]]:
    """Train the configured network (``cfg.arch``) and save its checkpoints in ``directory`` (resumes finished ones)."""
    from spinlens.networks.train import checkpoint_steps, train

    data = _make_data(cfg)
    if cfg.arch == "mlp" and data.X.shape[1] != cfg.widths[0]:
        raise ValueError(f"the data have {data.X.shape[1]} features but widths[0] = {cfg.widths[0]}.")
    if cfg.arch == "mlp" and data.n_classes > cfg.widths[-1]:
        raise ValueError(f"the data have {data.n_classes} classes but widths[-1] = {cfg.widths[-1]}.")
    s_init, s_train, s_split = spawn(cfg.seed, 3)
    net = build_network(cfg, rng=s_init)
    held_out = None
    if cfg.test_fraction is not None:
        data, held_out = data.split(cfg.test_fraction, rng=s_split)
    train(net, data, cfg.steps, optimizer=cfg.optimizer, lr=cfg.lr, momentum=cfg.momentum,
          batch_size=cfg.batch_size, checkpoints=checkpoint_steps(cfg.steps, cfg.n_checkpoints, cfg.dense_checkpoints),
          out_dir=directory, lazy_scale=cfg.lazy_scale,
          rng=s_train, progress=progress, num_threads=cfg.threads, test_data=held_out)
    return list_checkpoints(directory)


# ---------------------------------------------------------------------------------------------- per checkpoint
def _tap_indices(n: int, k: int) -> set[int]:
    if k <= 0 or n == 0:
        return set()
    return {int(round(x)) for x in np.linspace(0, n - 1, min(k, n))}


def _invalid_record(step: int, path: Path, error: str) -> dict[str, Any]:
    """The record of a checkpoint that could not be analysed (diverged weights, unreadable file, ...)."""
    nan = float("nan")
    return {"step": step, "file": path.name, "invalid": error, "t_c": nan, "phase": "invalid", "criterion": "",
            "t_star": nan, "f_min_rel": nan, "tolerance": nan, "lambda_max": nan, "widths": None, "outliers": None,
            "top_ratio": None, "rel_change": None, "edges": None, "notes": [], "evidence_agrees": None, "tap": None}


def _evaluate(net: Any, data: Any, input_shape: Sequence[int] | None = None) -> tuple[float, float]:
    r"""Cross-entropy loss and accuracy of a module on a dataset (its own forward pass, no grad); the samples are
    given flat, or reshaped to ``input_shape``.

    The loss is :math:`-\overline{\log p_y}`: outputs are read as logits, or as probabilities when every row is
    non-negative and sums to 1 (a final Softmax).
    """
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        X = torch.as_tensor(data.X, dtype=next(net.parameters()).dtype)
        if input_shape is not None:
            X = X.reshape(len(X), *input_shape)
        y = torch.as_tensor(data.y, dtype=torch.long)
        out = torch.cat([net(X[i: i + 1024]) for i in range(0, len(X), 1024)])  # wide feature maps: in chunks
        acc = float((out.argmax(1) == y).double().mean())
        if bool((out >= 0).all()) and bool(torch.allclose(out.sum(1), torch.ones(len(out), dtype=out.dtype),
                                                          atol=1e-4)):
            # a network ending in Softmax gives probabilities: the loss is -log p_y (cross_entropy would apply a
            # second softmax); log-probabilities (LogSoftmax) are already right for cross_entropy
            return float(F.nll_loss(torch.log(out.clamp_min(1e-45)), y)), acc
        return float(F.cross_entropy(out, y)), acc


def _layout(graph: Any) -> dict[str, Any]:
    """What a record keeps of a SpinGraph's layout: neuron layers (name, shape) and blocks (src, dst, shape)."""
    return {"layers": [[layer.name, list(layer.shape)] for layer in graph.layers],
            "blocks": [[b.src, b.dst, list(b.matrix.shape)] for b in graph.blocks]}


def _mode_share(graph: Any, v: np.ndarray) -> list[float]:
    r"""Share :math:`\sum_{i \in l} v_i^2 / \sum_i v_i^2` of each neuron layer in the critical mode ``v``."""
    w = np.asarray(v, dtype=np.float64) ** 2
    tot = float(w.sum()) or 1.0
    return [float(w[layer.slice].sum()) / tot for layer in graph.layers]


def _analyze_one(step: int, path: Path, builder: Any, ref: Any, cfg: ExperimentConfig,
                 with_tap: bool, rng: Any, data: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from spinlens.networks.phases import analyze, class_alignment
    from spinlens.networks.spectrum import spectrum

    try:
        net = _load_network(path, builder)
        graph = network_graph(cfg, net)
    except (ValueError, FileNotFoundError) as exc:  # one bad checkpoint must not sink the others
        return _invalid_record(step, path, str(exc)), {}
    if _layout(graph) != _layout(ref):
        return _invalid_record(step, path, "its neuron layers or coupling blocks differ from those of the first "
                                           "checkpoint: not the same network"), {}
    g_tap, g_null, g_dens = spawn(rng, 3)
    res = analyze(graph, n_grid=cfg.n_grid, n_starts=cfg.n_starts if with_tap else 0,
                  tap_max_iter=cfg.tap_max_iter, rng=g_tap)
    spec = spectrum(graph, ref)
    nulls: dict[str, Any] = {}
    density_arrays: dict[str, np.ndarray] = {}
    if cfg.null_models:
        from spinlens.networks.nulls import shuffled_graph
        from spinlens.networks.theory import init_theory

        shuffled = shuffled_graph(graph, g_null)
        null = analyze(shuffled, n_grid=cfg.n_grid, n_starts=0)
        nulls = {"t_c_shuffled": null.t_c if np.isfinite(null.t_c) else null.t_star,
                 "phase_shuffled": null.phase, "t_c_variance": init_theory(graph).t_c}
        if graph.n_spins >= 3:
            from spinlens.networks.density import bond_density

            dens = bond_density(graph, null=shuffled, rng=g_dens)  # the same null as the stability's
            nulls.update({"null_edge": dens.null_edge, "outliers_null": dens.n_outliers,
                          "tail_mass": dens.tail_mass, "ipr_top": float(dens.ipr[0]),
                          "top_mode_share": dens.layer_share[0].tolist()})
            density_arrays = {"density_grid": dens.grid, "density": dens.density, "null_density": dens.null_density}
    rec: dict[str, Any] = {
        "step": step,
        "file": path.name,
        "t_c": res.t_c,
        "phase": res.phase,
        "criterion": res.criterion,
        "t_star": res.t_star,
        "f_min_rel": res.f_min_rel,
        "tolerance": res.tolerance,
        "lambda_max": res.lambda_max,
        "widths": [layer.size for layer in graph.layers],
        **_layout(graph),
        "edge_kinds": list(spec.edge_kinds),
        "mode_share": _mode_share(graph, res.critical_mode),
        "outliers": spec.outliers.tolist(),
        "top_ratio": spec.top_ratio.tolist(),
        "rel_change": spec.rel_change.tolist(),
        "edges": spec.edges.tolist(),
        "notes": list(graph.notes) + list(res.notes),
        "evidence_agrees": res.evidence_agrees,
        **nulls,
        "tap": None,
    }
    if data is not None and builder is not None and cfg.checkpoint_dir:
        rec["eval_loss"], rec["eval_accuracy"] = _evaluate(net, data, cfg.input_shape)
    arrays = {
        **density_arrays,
        "temperatures": res.temperatures,
        "stability": res.stability,
        "top_eigenvalues": spec.top_eigenvalues,
        **{f"sv_{l}": sv for l, sv in enumerate(spec.singular_values)},
    }
    if res.tap:
        ev = res.tap[0]
        rec["tap"] = {
            "temperature": ev.temperature,
            "n_starts": ev.n_starts,
            "n_converged": ev.n_converged,
            "n_nontrivial": ev.n_nontrivial,
            "n_distinct": ev.n_distinct,
            "pm_pairs": ev.pm_pairs,
            "overlap_spread": ev.overlap_spread,
            "q_layers": ev.q_layers.tolist(),
            "m_layers": ev.m_layers.tolist(),
            "alignment": ev.alignment.tolist(),
            "critical_alignment": ev.critical_alignment,
        }
        if data is not None and ev.n_nontrivial:
            rec["tap"]["class_alignment"] = class_alignment(ev.m_best[: graph.layers[0].size], data.X,
                                                            data.y).tolist()
        arrays["m_best"] = ev.m_best
    return rec, arrays


def _config_from(fields: Mapping[str, Any]) -> ExperimentConfig:
    """An ExperimentConfig from its ``dataclasses.asdict`` (as stored in JSON: tuples became lists)."""
    tuples = {k: tuple(v) for k, v in fields.items()
              if k in ("widths", "channels", "input_shape") and v is not None}
    return ExperimentConfig(**{**fields, **tuples})


def analysis_unit(config: Mapping[str, Any], key: str, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """One checkpoint of :func:`analyze_checkpoints`, a unit of :func:`spinlens.sweeps.run_sweep`.

    ``config`` holds the experiment configuration (``cfg``), the checkpoint folder and the step-0 file (the
    reference for weight motion); ``params`` the step, file name and whether to gather TAP evidence. Returns
    ``{"record": JSON-able summary, "arrays": stability curve, spectra, TAP solution}``; a checkpoint that cannot
    be read or mapped (NaN weights, a file that does not load) gets a record with ``phase = "invalid"`` and the
    reason in ``invalid``.
    """
    cfg = _config_from(config["cfg"])
    if cfg.threads:
        import torch

        torch.set_num_threads(int(cfg.threads))
    builder = _builder(cfg)
    folder = Path(config["checkpoint_dir"])
    ref = reference_graph(cfg, folder / config["init_file"])
    with_tap = bool(params["with_tap"])
    use_data = bool(config["class_alignment"]) and cfg.data is not None and (with_tap or bool(cfg.model_builder))
    data = _make_data(cfg) if use_data else None  # its size was checked against the network by analyze_checkpoints
    rec, arrays = _analyze_one(int(params["step"]), folder / params["file"], builder, ref, cfg, with_tap,
                               seed, data)
    return {"record": to_jsonable(rec), "arrays": arrays}


def reference_graph(cfg: ExperimentConfig, path: str | os.PathLike[str]) -> Any:
    """The SpinGraph of a checkpoint of the run (typically step 0: the reference of weight motion and of the
    initialisation theory), mapped once per process, configuration and file version."""
    path = str(Path(path).resolve())
    st = os.stat(path)
    key = json.dumps(to_jsonable(dataclasses.asdict(cfg)), sort_keys=True)
    return _read_reference(key, _builder_digest(cfg.model_builder), path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=2)
def _read_reference(cfg_json: str, builder_digest: str | None, path: str, mtime_ns: int, size: int) -> Any:
    cfg = _config_from(json.loads(cfg_json))
    return network_graph(cfg, _load_network(Path(path), _builder(cfg)))


def check_checkpoints(cfg: ExperimentConfig, checkpoints: Sequence[tuple[int, Path]],
                      with_data: bool = True) -> tuple[int, ...]:
    """Neuron-layer sizes of the first checkpoint (the reference for weight motion), read and mapped once per
    process; refuses a first checkpoint that cannot be analysed, and (``with_data``) a dataset whose feature count
    is not the network's input size. Cheap enough to run before a run directory is made."""
    step, path = checkpoints[0]
    try:
        ref = reference_graph(cfg, path)
    except ValueError as exc:
        raise ValueError(f"the first checkpoint, {Path(path).name} (step {step}, the reference for weight motion), "
                         f"cannot be analysed: {exc}") from None
    widths = tuple(layer.size for layer in ref.layers)
    if with_data and cfg.data is not None:
        n_features = _make_data(cfg).X.shape[1]
        if n_features != widths[0]:
            raise ValueError(f"the dataset {cfg.data} has {n_features} features but the network has {widths[0]} "
                             "inputs: give the dataset the checkpoints were trained on.")
    return widths


def analyze_checkpoints(cfg: ExperimentConfig, checkpoints: Sequence[tuple[int, Path]],
                        out_dir: str | os.PathLike[str], progress: ProgressCallback | None = None,
                        class_alignment: bool = False, sweep: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Analyse every checkpoint, one sweep unit each (:func:`analysis_unit`); returns the records in step order.

    Units are kept in ``out_dir/analysis/units`` and reused when the same analysis runs again (another
    configuration or seed, or a checkpoint file whose contents changed, is analysed afresh).
    ``class_alignment``: also compare the TAP magnetisation of the inputs with the class means of the configured
    dataset. ``sweep``: runner options (``executor``, ``n_workers``, ``scheduler``) of
    :func:`spinlens.sweeps.run_sweep_with`; serial by default.
    """
    if not checkpoints:
        raise ValueError("no checkpoints to analyse.")
    folders = {Path(p).parent.resolve() for _, p in checkpoints}
    if len(folders) != 1:
        raise ValueError(f"checkpoints must share one folder, got {sorted(map(str, folders))}.")
    folder = folders.pop()
    init_file = Path(checkpoints[0][1]).name
    # bad input (a builder that does not exist, layers the mapping does not support, a dataset of another size)
    # is refused here, before any unit runs
    check_checkpoints(cfg, checkpoints, with_data=class_alignment)
    tap_idx = _tap_indices(len(checkpoints), cfg.n_tap_checkpoints)
    fields = dataclasses.asdict(cfg)
    config = {"cfg": fields, "checkpoint_dir": str(folder), "init_file": init_file,
              "class_alignment": bool(class_alignment)}
    # what a stored analysis depends on: the configuration and the *contents* of its checkpoint and of the
    # step-0 reference (a file overwritten with other weights is analysed again); not the thread count, nor
    # where the run folder lies
    contents = [file_digest(Path(path)) for _, path in checkpoints]  # contents[0]: the step-0 reference
    # (and the options that apply, the source of the user's --model and the bytes of a dataset file)
    identity = analysis_identity(cfg, init_file, contents[0], class_alignment, _builder_digest(cfg.model_builder))
    units = [Unit(analysis_key(step), {"step": int(step), "file": Path(path).name, "with_tap": k in tap_idx,
                                        "content": contents[k]})
             for k, (step, path) in enumerate(checkpoints)]
    opts = {**(sweep or {}), "run_dir": Path(out_dir) / "analysis", "identity": identity}
    res = run_sweep_with(opts, analysis_unit, units, config=config, seed=cfg.seed + 1, progress=progress)
    return [res[u.key]["record"] for u in units]


def _builder_digest(spec: str | None) -> str | None:
    """SHA-256 of the file that defines the ``--model`` builder (an edited builder is a new analysis)."""
    import sys

    if not spec:
        return None
    fn = load_builder(spec)
    source = getattr(sys.modules.get(getattr(fn, "__module__", ""), None), "__file__", None)
    return file_digest(Path(source)) if source and Path(source).is_file() else None


def analysis_identity(cfg: ExperimentConfig, init_file: str, init_content: str, class_alignment: bool,
                      builder_source: str | None) -> dict[str, Any]:
    """What a stored checkpoint analysis depends on besides its own file: the options that apply (not the thread
    count, nor where the run folder lies), the step-0 reference's name and contents, the source of the builder and
    the bytes of a dataset file. :func:`analyze_checkpoints` and the training monitor key their units on it."""
    data = cfg.data
    return {"cfg": {k: v for k, v in config_dict(cfg).items() if k not in ("threads", "checkpoint_dir")},
            "init_file": init_file, "init_content": init_content, "class_alignment": bool(class_alignment),
            "builder_source": builder_source,
            "dataset_content": file_digest(Path(data)) if data and Path(data).is_file() else None}


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (checkpoints are a few MB: hashing them costs far less than analysing them)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def analysis_key(step: int) -> str:
    """The sweep-unit key of a checkpoint's analysis (also its file name stem, ``step_XXXXXXXX``)."""
    return f"step_{int(step):08d}"


def _analysis_of(out_dir: Path, step: int) -> dict[str, Any]:
    out = load_unit(Path(out_dir) / "analysis", analysis_key(step))
    if out is None:
        raise FileNotFoundError(f"no analysis of step {step} in {out_dir}/analysis: run the analysis first.")
    return out


# ---------------------------------------------------------------------------------------------- summary
@dataclass(frozen=True)
class ExperimentResult(Result):
    r"""Phases over training.

    Attributes
    ----------
    steps : (k,) checkpoint steps; ``t_c``, ``t_star``, ``f_min_rel``, ``lambda_max`` per checkpoint (NaN for
        an invalid checkpoint).
    phases : phase per checkpoint (``"invalid"`` where a checkpoint could not be analysed).
    outliers, top_ratio, rel_change : (k, B) per coupling block (``block_names``; one per weight matrix of an MLP).
    mode_share : (k, L) share of each neuron layer (``layer_names``) in the critical mode at :math:`T_c`.
    train_loss, train_accuracy : from the training run's ``checkpoints.json`` (NaN where not recorded);
        ``test_loss``, ``test_accuracy`` on the samples held out of training (None when none were).
    t_c_shuffled, t_c_variance : the null models per checkpoint (:mod:`spinlens.networks.nulls`): :math:`T_c` of
        the entry-shuffled couplings and the variance prediction from the current weights (None when not run).
    eval_loss, eval_accuracy : of each checkpoint's own forward pass on ``eval_dataset`` (user checkpoints with
        a module and a dataset; NaN otherwise).
    init_prediction : the initialisation theory's :math:`T_c` from the step-0 couplings
        (:func:`~spinlens.networks.theory.init_theory`: layered SK for an MLP); ``init_formula`` which formula,
        ``init_phase`` the phase it predicts, ``init_description`` the line for reports.
    init_measured : measured :math:`T_c` at step 0.
    fit : the power-law fit (None when fewer than 3 hidden-order checkpoints).
    invalid : ``{"step", "file", "error"}`` of each checkpoint that could not be analysed.
    notes : what was assumed or could not be done (repeated in the report).
    """

    steps: np.ndarray
    t_c: np.ndarray
    t_star: np.ndarray
    f_min_rel: np.ndarray
    lambda_max: np.ndarray
    phases: list
    outliers: np.ndarray
    top_ratio: np.ndarray
    rel_change: np.ndarray
    train_loss: np.ndarray
    train_accuracy: np.ndarray
    init_prediction: float
    init_measured: float
    fit: PowerLawFit | None
    widths: tuple
    notes: list = field(default_factory=list)
    eval_loss: np.ndarray | None = None
    eval_accuracy: np.ndarray | None = None
    eval_dataset: str | None = None
    invalid: list = field(default_factory=list)
    layer_names: tuple = ()
    layer_shapes: tuple = ()
    block_names: tuple = ()
    mode_share: np.ndarray | None = None
    init_formula: str = "layered SK"
    init_phase: str = "spin glass"
    init_description: str = ""
    test_loss: np.ndarray | None = None
    test_accuracy: np.ndarray | None = None
    t_c_shuffled: np.ndarray | None = None
    t_c_variance: np.ndarray | None = None
    saturation: SaturationTest | None = None

    def scalars(self) -> dict[str, Any]:
        d = super().scalars()
        d["fit"] = self.fit.to_dict() if self.fit is not None else None
        d["saturation"] = self.saturation.to_dict() if self.saturation is not None else None
        return d


def _floats(records: Sequence[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([float(r[key]) if r.get(key) not in (None, "nan") else np.nan for r in records])


def _per_layer(records: Sequence[dict[str, Any]], key: str, n_layers: int, fill: float) -> np.ndarray:
    return np.array([[float(x) if x not in (None, "nan") else np.nan for x in r[key]] if r.get(key) is not None
                     else [fill] * n_layers for r in records])


def summarize(records: Sequence[dict[str, Any]], checkpoint_dir: str | os.PathLike[str] | None,
              init_network: Any, eval_dataset: str | None = None) -> ExperimentResult:
    """Collect the per-checkpoint records, the init prediction and the power-law fit of :math:`T_c(t)`.

    ``init_network``: the step-0 network (a SpinGraph, module, state dict or weight list) for the initialisation
    theory (:func:`~spinlens.networks.theory.init_theory`).

    Invalid checkpoints (``record["invalid"]``) keep their place with NaN values and are listed in ``invalid``;
    the notes of the mapping (e.g. "read from a state dict: assumed to be a chain") are collected once each.
    """
    from spinlens.networks.reader import spin_graph
    from spinlens.networks.theory import init_theory
    from spinlens.networks.train import read_checkpoint_index

    steps = np.array([r["step"] for r in records], dtype=np.int64)
    t_c = _floats(records, "t_c")
    phases = [r["phase"] for r in records]
    valid = [r for r in records if not r.get("invalid")]
    if not valid:
        raise ValueError("no checkpoint could be analysed: " + "; ".join(f"{r['file']}: {r['invalid']}"
                                                                          for r in records[:3]))
    n_blocks = len(valid[0]["top_ratio"])
    first = valid[0]
    layer_names = tuple(str(name) for name, _ in first.get("layers", [])) or tuple(
        ["input"] + [f"layer {l}" for l in range(1, len(first["widths"]) - 1)] + ["output"])
    layer_shapes = tuple(tuple(shape) for _, shape in first.get("layers", [])) or tuple(
        (int(w),) for w in first["widths"])
    block_names = tuple(f"{a} → {b}" for a, b, _ in first.get("blocks", [])) or tuple(
        f"W{l}" for l in range(n_blocks))
    notes: list[str] = []
    for r in valid:
        for note in r.get("notes", []):
            if note not in notes:
                notes.append(note)
    invalid = [{"step": int(r["step"]), "file": r["file"], "error": r["invalid"]} for r in records if r.get("invalid")]
    loss = np.full(len(steps), np.nan)
    acc = np.full(len(steps), np.nan)
    test_loss = np.full(len(steps), np.nan)
    test_acc = np.full(len(steps), np.nan)
    idx = read_checkpoint_index(checkpoint_dir) if checkpoint_dir is not None else None
    if idx:
        by = {int(c["step"]): c for c in idx.get("checkpoints", [])}
        for k, s in enumerate(steps):
            if int(s) in by and by[int(s)].get("train_loss") is not None:
                loss[k] = by[int(s)]["train_loss"]
                acc[k] = by[int(s)]["train_accuracy"]
            if int(s) in by and by[int(s)].get("test_loss") is not None:
                test_loss[k] = by[int(s)]["test_loss"]
                test_acc[k] = by[int(s)]["test_accuracy"]
    has_test = bool(np.isfinite(test_acc).any())
    t_shuf, t_var = _floats(records, "t_c_shuffled"), _floats(records, "t_c_variance")
    has_null = bool(np.isfinite(t_shuf).any())
    eval_loss, eval_acc = _floats(records, "eval_loss"), _floats(records, "eval_accuracy")
    has_eval = bool(np.isfinite(eval_acc).any())
    # fit range: from the first checkpoint after which every checkpoint is in hidden order
    # (invalid checkpoints are skipped: they neither end the run nor enter the fit)
    fit = None
    ok = np.array([p != "invalid" for p in phases])
    v_steps, v_tc = steps[ok], t_c[ok]
    ho = np.array([p == "hidden order" for p in phases])[ok] & np.isfinite(v_tc) & (v_steps > 0)
    start = len(v_steps)
    while start > 0 and ho[start - 1]:
        start -= 1
    if len(v_steps) - start >= 4:  # skip the onset checkpoint (the jump out of the glass), fit the growth
        start += 1
    saturation = None
    if len(v_steps) - start >= 3:
        t_hi = float(v_steps[-1])
        saturation = saturation_test(v_steps[start:], v_tc[start:])
        if saturation.broken:  # the exponent changes: fit it over the power-law range before the break only
            t_hi = saturation.break_step
            notes.append(f"T_c(t) is a broken power law (BIC lower by {saturation.delta_bic:.1f} than one power "
                         f"law): the exponent changes at step {saturation.break_step:.0f} from "
                         f"{saturation.exponent_before:.3g} to {saturation.exponent_after:.3g}; γ is fitted before it.")
        fit = fit_power_law(v_steps, v_tc, (float(v_steps[start]), t_hi))
    else:
        notes.append("fewer than 3 trailing hidden-order checkpoints: no power-law fit of T_c(t).")
    theory = init_theory(spin_graph(init_network))
    if invalid:
        notes.append(f"{len(invalid)} of {len(records)} checkpoints could not be analysed and are left out of every "
                     "figure and fit: " + "; ".join(f"{r['file']} ({r['error']})" for r in invalid))
    return ExperimentResult(
        steps=steps,
        t_c=t_c,
        t_star=_floats(records, "t_star"),
        f_min_rel=_floats(records, "f_min_rel"),
        lambda_max=_floats(records, "lambda_max"),
        phases=phases,
        outliers=_per_layer(records, "outliers", n_blocks, -1).astype(np.int64),
        top_ratio=_per_layer(records, "top_ratio", n_blocks, np.nan),
        rel_change=_per_layer(records, "rel_change", n_blocks, np.nan),
        train_loss=loss,
        train_accuracy=acc,
        init_prediction=theory.t_c,
        init_measured=float(t_c[0]) if steps[0] == 0 else float("nan"),
        fit=fit,
        widths=tuple(valid[0]["widths"]),
        notes=notes,
        eval_loss=eval_loss if has_eval else None,
        eval_accuracy=eval_acc if has_eval else None,
        eval_dataset=eval_dataset if has_eval else None,
        invalid=invalid,
        layer_names=layer_names,
        layer_shapes=layer_shapes,
        block_names=block_names,
        mode_share=_per_layer(records, "mode_share", len(layer_names), np.nan),
        init_formula=theory.formula,
        init_phase=theory.phase,
        init_description=theory.text,
        test_loss=test_loss if has_test else None,
        test_accuracy=test_acc if has_test else None,
        t_c_shuffled=t_shuf if has_null else None,
        t_c_variance=t_var if has_null else None,
        saturation=saturation,
    )


def experiment_checkpoints(cfg: ExperimentConfig, out_dir: str | os.PathLike[str],
                           progress: ProgressCallback | None = None) -> tuple[Path, list[tuple[int, Path]]]:
    """``(folder, [(step, file), ...])``: the user's checkpoints (``cfg.checkpoint_dir``, steps by
    :func:`~spinlens.networks.checkpoints.list_checkpoints`), or the configured MLP trained into
    ``out_dir/checkpoints`` (resuming finished checkpoints)."""
    if cfg.checkpoint_dir:
        cks = list_checkpoints(cfg.checkpoint_dir, steps_from=cfg.steps_from)
        return Path(cks[0][1]).parent, cks
    ckdir = Path(out_dir) / "checkpoints"
    return ckdir, train_checkpoints(cfg, ckdir, progress=progress)


def summarize_run(cfg: ExperimentConfig, records: Sequence[dict[str, Any]], checkpoint_dir: Path,
                  checkpoints: Sequence[tuple[int, Path]]) -> ExperimentResult:
    """:func:`summarize` with the step-0 network of the run as the reference of the init prediction."""
    first = reference_graph(cfg, checkpoints[0][1])  # mapped once per process, cached
    res = summarize(records, checkpoint_dir, first, eval_dataset=cfg.data if cfg.checkpoint_dir else None)
    if not cfg.checkpoint_dir or res.eval_accuracy is not None:
        return res
    if cfg.data is None:
        why = "no dataset was given (--dataset): no accuracy and no class alignment of the checkpoints."
    else:
        why = (f"accuracy on {cfg.data} not computed: a state dict does not record the activations, so the "
               "forward pass is unknown; pass --model module:builder to evaluate the checkpoints.")
    return dataclasses.replace(res, notes=[*res.notes, why])


def run_experiment(cfg: ExperimentConfig, out_dir: str | os.PathLike[str],
                   progress: ProgressCallback | None = None) -> ExperimentResult:
    """Train (or take ``cfg.checkpoint_dir``), analyse every checkpoint, summarise (no figures)."""
    ckdir, cks = experiment_checkpoints(cfg, out_dir)
    records = analyze_checkpoints(cfg, cks, out_dir, progress=progress, class_alignment=cfg.data is not None)
    return summarize_run(cfg, records, ckdir, cks)


# ---------------------------------------------------------------------------------------------- figures
_PHASE_STYLE = {"spin glass": ("tab:blue", "o"), "hidden order": ("tab:red", "s"), "paramagnet": ("tab:gray", "^")}


def step_axis(steps: np.ndarray) -> np.ndarray:
    """Training steps as x values of a log axis: step 0 is drawn at half the first positive step (at least 0.5)."""
    pos = steps > 0
    x0 = max(float(steps[pos].min()) / 2, 0.5) if pos.any() else 1.0
    return np.where(pos, steps, x0).astype(float)


def _curve(ax: Any, x: np.ndarray, y: np.ndarray, *args: Any, **kwargs: Any) -> None:
    """A line through the finite points only (an invalid checkpoint does not cut the curve)."""
    ok = np.isfinite(y)
    ax.plot(x[ok], y[ok], *args, **kwargs)


def experiment_figures(result: ExperimentResult, out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Figures (matplotlib ``Figure`` objects, Agg) keyed by file stem."""
    from spinlens.report import new_figure

    out = Path(out_dir)
    figs: dict[str, Any] = {}
    steps = result.steps
    xs = step_axis(steps)

    fig, ax = new_figure()
    for ph, (c, mk) in _PHASE_STYLE.items():
        sel = np.array([p == ph for p in result.phases]) & np.isfinite(result.t_c)
        if sel.any():
            ax.plot(xs[sel], result.t_c[sel], mk, color=c, label=ph)
    if result.fit is not None:
        tt = np.geomspace(result.fit.t_start, result.fit.t_end, 50)
        lo, hi = result.fit.exponent_ci
        ax.plot(tt, result.fit.predict(tt), "k-", lw=1,
                label=f"fit: T_c ∝ t^{result.fit.exponent:.2f} [{lo:.2f}, {hi:.2f}]")
        ax.axvspan(result.fit.t_start, result.fit.t_end, color="k", alpha=0.05)
    if np.isfinite(result.init_prediction):
        ax.axhline(result.init_prediction, color="tab:blue", ls=":", lw=1,
                   label=f"{result.init_formula} prediction (init)")
    if result.t_c_shuffled is not None and result.t_c_variance is not None:
        _curve(ax, xs, result.t_c_shuffled, "x--", color="tab:green", ms=4, lw=0.8, label="null: shuffled couplings")
        _curve(ax, xs, result.t_c_variance, "--", color="tab:purple", lw=0.8, label="null: variance prediction")
    ax.set(xscale="log", yscale="log", xlabel="training step (step 0 drawn at the left edge)",
           ylabel="T_c", title="melting temperature over training")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3, which="both")
    figs["tc_vs_step"] = fig

    fig, ax = new_figure()
    good = [k for k, p in enumerate(result.phases) if p != "invalid"]  # invalid checkpoints have no curves
    picks = sorted({good[0], good[len(good) // 3], good[2 * len(good) // 3], good[-1]})
    stored = {k: _analysis_of(out, int(steps[k])) for k in picks}  # read each unit file once (ends used twice)
    for k in picks:
        arr = stored[k]["arrays"]
        ax.plot(arr["temperatures"], arr["stability"] / arr["temperatures"], "-", label=f"step {steps[k]}")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xscale="log", xlabel="T", ylabel="f(T) / T", title="stability of the TAP paramagnet")
    ax.set_ylim(-1.0, 1.5)
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    figs["stability_curves"] = fig

    fig, axes = new_figure(1, 2, size=(9.6, 3.6))
    names = _block_labels(result)
    for l in range(result.top_ratio.shape[1]):
        _curve(axes[0], xs, result.top_ratio[:, l], "o-", ms=3, label=names[l])
        _curve(axes[1], xs, result.rel_change[:, l], "o-", ms=3, label=names[l])
    axes[0].axhline(1.0, color="k", lw=0.8, ls="--")
    axes[0].set(xscale="log", yscale="log", xlabel="training step", ylabel="σ_max / bulk edge",
                title="largest singular value vs bulk edge")
    axes[1].set(xscale="log", yscale="log", xlabel="training step", ylabel="‖A(t) − A(0)‖ / ‖A(0)‖",
                title="weight motion per coupling block")
    for a in axes:
        a.legend(frameon=False, fontsize=8)
        a.grid(alpha=0.3)
    figs["spectra_over_training"] = fig

    fig, axes = new_figure(1, 2, size=(9.6, 3.6))
    final = stored[good[-1]]
    first, last = stored[good[0]]["arrays"], final["arrays"]
    rec_edges = final["record"].get("edges")
    for l in range(result.top_ratio.shape[1]):
        sv0, sv1 = first[f"sv_{l}"], last[f"sv_{l}"]
        col = f"C{l % 10}"  # one colour per layer: solid at step 0, dashed at the last step
        axes[0].plot(np.arange(1, len(sv0) + 1), sv0, "-", lw=1, color=col,
                     label=f"{names[l]} step {steps[good[0]]}")
        axes[0].plot(np.arange(1, len(sv1) + 1), sv1, "--", lw=1, color=col,
                     label=f"{names[l]} step {steps[good[-1]]}")
        if rec_edges:
            axes[0].axhline(rec_edges[l], lw=0.6, ls=":", color=col)
    axes[0].set(xscale="log", yscale="log", xlabel="rank", ylabel="singular value",
                title="singular values per block (dotted: bulk edges)")
    axes[0].legend(frameon=False, fontsize=7)
    _curve(axes[1], xs, result.lambda_max, "o-", ms=3)
    axes[1].set(xscale="log", yscale="log", xlabel="training step", ylabel="λ_max(J)", title="top eigenvalue of J")
    for a in axes:
        a.grid(alpha=0.3)
    figs["singular_values"] = fig

    first_arr, last_arr = stored[good[0]]["arrays"], stored[good[-1]]["arrays"]
    if "density" in last_arr:
        fig, ax = new_figure()
        for arr, k, style in ((first_arr, good[0], ":"), (last_arr, good[-1], "-")):
            if "density" in arr:
                ax.plot(arr["density_grid"], arr["density"], style, color="tab:red", lw=1,
                        label=f"J, step {steps[k]}")
                ax.plot(arr["density_grid"], arr["null_density"], style, color="tab:green", lw=1,
                        label=f"shuffled null, step {steps[k]}")
        edge = stored[good[-1]]["record"].get("null_edge")
        if edge is not None:
            ax.axvline(float(edge), color="k", lw=0.6, ls="--", label="null edge (last step)")
        top = max(float(np.max(a[key])) for a in (first_arr, last_arr) if "density" in a
                  for key in ("density", "null_density"))
        ax.set(yscale="log", xlabel="eigenvalue of J", ylabel="density", ylim=(1e-4 * top, 2 * top),
               title="bond-matrix spectrum against its null (SLQ)")
        ax.legend(frameon=False, fontsize=7)
        ax.grid(alpha=0.3)
        figs["bond_density"] = fig

    if result.mode_share is not None and np.isfinite(result.mode_share).any():
        fig, ax = new_figure()
        for l, name in enumerate(result.layer_names):
            _curve(ax, xs, result.mode_share[:, l], "o-", ms=3, label=name)
        ax.set(xscale="log", xlabel="training step", ylabel="Σ_{i∈layer} v_i²", ylim=(0, 1),
               title="critical mode at T_c: share per layer")
        ax.legend(frameon=False, fontsize=7)
        ax.grid(alpha=0.3)
        figs["mode_share"] = fig

    curves = [(result.train_loss, "o-", "train loss"), (result.train_accuracy, "s-", "train accuracy")]
    if result.test_accuracy is not None and result.test_loss is not None:
        curves += [(result.test_loss, "o:", "held-out loss"), (result.test_accuracy, "s:", "held-out accuracy")]
    if result.eval_accuracy is not None and result.eval_loss is not None:
        curves += [(result.eval_loss, "o--", f"loss on {result.eval_dataset}"),
                   (result.eval_accuracy, "s--", f"accuracy on {result.eval_dataset}")]
    curves = [c for c in curves if np.isfinite(c[0]).any()]
    if curves:
        fig, ax = new_figure()
        for y, style, label in curves:
            _curve(ax, xs, y, style, ms=3, label=label)
        ax.set(xscale="log", xlabel="training step", title="loss and accuracy of the checkpoints")
        ax.legend(frameon=False)
        ax.grid(alpha=0.3)
        figs["training"] = fig
    return figs


def _block_labels(result: ExperimentResult) -> list[str]:
    """Figure labels of the coupling blocks: W0, W1, ... for a chain of dense layers, else "src → dst"."""
    chain = len(result.block_names) == len(result.layer_names) - 1 and all(
        name == f"{a} → {b}" for name, a, b in zip(result.block_names, result.layer_names[:-1],
                                                     result.layer_names[1:], strict=False))
    if chain and all(len(shape) == 1 for shape in result.layer_shapes):
        return [f"W{l}" for l in range(len(result.block_names))]
    return list(result.block_names) or [f"W{l}" for l in range(result.top_ratio.shape[1])]


def layout_text(result: ExperimentResult) -> str:
    """One line on what the spins are: the layer widths of an MLP, else each neuron layer's shape and the blocks."""
    shapes = result.layer_shapes or tuple((int(w),) for w in result.widths)
    if all(len(s) == 1 for s in shapes) and _block_labels(result)[0] == "W0":
        return (f"Network widths {list(result.widths)}: every neuron is an Ising spin and every weight a coupling "
                "(block (l, l+1) of J is W_l^T)")
    layers = ", ".join(f"{name} ({'×'.join(map(str, s))})" for name, s in zip(result.layer_names, shapes,
                                                                               strict=True))
    return (f"{sum(result.widths)} spins in {len(shapes)} neuron layers (input, the outputs of the activations, "
            f"the output; one spin per unit, e.g. per channel and pixel): {layers}; {len(result.block_names)} "
            f"coupling blocks: {', '.join(result.block_names)}")


def experiment_sections(result: ExperimentResult, records: Sequence[dict[str, Any]],
                        figure_paths: dict[str, Path], elapsed_s: float | None = None) -> list[Any]:
    """Report sections for :func:`spinlens.report.write_report`."""
    from spinlens.report import Section

    fit = result.fit
    head = [
        f"{layout_text(result)}. {len(result.steps)} checkpoints from step {result.steps[0]} to {result.steps[-1]}; "
        "the phase comes from the stability of the TAP paramagnet, f(T) = λ_min(T I + D/T − J).",
        init_text(result) + ".",
    ]
    if fit is not None:
        head.append(f"Power law T_c(t) = {fit.prefactor:.3g} t^γ: {fit_text(fit)}.")
    sat = result.saturation
    if sat is not None and not sat.broken:
        head.append(f"Saturation test: one power law is preferred over a broken one (BIC difference "
                    f"{sat.delta_bic:.1f} ≤ {sat.threshold:g}, {sat.n_points} points).")
    if result.t_c_shuffled is not None and result.t_c_variance is not None:
        head.append(null_text(result) + ".")
    head += list(result.notes)
    if elapsed_s is not None:
        head.append(f"Run time: {elapsed_s:.0f} s.")
    rows = []
    show_train = bool(np.isfinite(result.train_accuracy).any())
    for k, r in enumerate(records):
        tap = r.get("tap") or {}
        if r.get("invalid"):
            rows.append({"step": r["step"], "phase": "invalid (not analysed, see below)"})
            continue
        row: dict[str, Any] = {"step": r["step"]}
        if show_train:
            row["train acc"] = _num(result.train_accuracy[k])
        if result.test_accuracy is not None:
            row["held-out acc"] = _num(result.test_accuracy[k])
        if result.eval_accuracy is not None:
            row[f"acc ({result.eval_dataset})"] = _num(result.eval_accuracy[k])
        if result.t_c_shuffled is not None:
            row["T_c null (shuffled / variance)"] = (f"{float(r['t_c_shuffled']):.4g} / {float(r['t_c_variance']):.4g}"
                                                     if r.get("t_c_shuffled") is not None else "")
        rows.append({
            **row,
            "phase": r["phase"],
            "T_c": float(r["t_c"]) if r["t_c"] not in (None, "nan") else float("nan"),
            "f_min/T*": float(r["f_min_rel"]),
            "λ_max(J)": float(r["lambda_max"]),
            "outliers/block": " ".join(str(o) for o in r["outliers"]),
            "‖ΔW‖/‖W0‖": " ".join(f"{x:.3g}" if isinstance(x, float) else str(x) for x in r["rel_change"]),
            "TAP distinct (±)": f"{tap['n_distinct']} ({'yes' if tap['pm_pairs'] else 'no'})" if tap else "",
            "q_l (TAP)": " ".join(f"{x:.2g}" for x in tap.get("q_layers", [])) if tap else "",
            "mode share/layer": " ".join(f"{x:.2f}" for x in r.get("mode_share", [])),
            "outliers > null edge (IPR v1)": (f"{r['outliers_null']} ({r['ipr_top']:.2g})"
                                              if r.get("outliers_null") is not None else ""),
            "|m*·v1|": f"{tap['alignment'][0]:.2f}" if tap and tap.get("alignment") else "",
            "best class cos": _best_class(tap.get("class_alignment")) if tap else "",
        })
    secs = [
        Section("Phases over training", text=head,
                figures=[(figure_paths[k], c) for k, c in (
                    ("tc_vs_step", "T_c(t) on log–log axes, coloured by phase, with the power-law fit (shaded range)"),
                    ("stability_curves", "f(T)/T for a few checkpoints: tangency = glass, dip below 0 = hidden order"),
                ) if k in figure_paths]),
        Section("Per checkpoint", text=[
            "TAP evidence (on a few checkpoints): distinct non-trivial TAP solutions from random starts below T_c "
            "(up to the global flip; (±) = a solution and its mirror image were both found), per-layer q_l of the "
            "best solution, its overlap with the top eigenvector v1 of J, and the largest cosine between the "
            "input-layer magnetisation and a centred class-mean image."],
            tables=[("phase, transition and evidence per checkpoint", rows)] + ([(
                "checkpoints that could not be analysed", [{"step": r["step"], "file": r["file"],
                                                            "what is wrong": r["error"]} for r in result.invalid])]
                if result.invalid else [])),
        Section("Bond-matrix spectrum", text=[
            "Singular values of each coupling block against its bulk edge: for a dense block (a weight matrix) the "
            "random-matrix edge s(√n + √m) of the initial weights, above which singular values (BBP outliers) are "
            "learned structure; for a sparse, weight-shared block (a convolution, pooling, a shortcut), which has "
            "no random-matrix edge, its own largest singular value at the first checkpoint. Lazy training keeps "
            "‖A(t) − A(0)‖ small and no outliers appear. The last figure shows where the critical mode lives: the "
            "share of each neuron layer in it at T_c."],
            figures=[(figure_paths[k], k.replace("_", " ")) for k in
                     ("spectra_over_training", "singular_values", "bond_density", "mode_share", "training")
                     if k in figure_paths]),
    ]
    return secs


def null_text(result: ExperimentResult) -> str:
    """The null models at the last analysed checkpoint: how far T_c lies above couplings without structure."""
    ok = [k for k, p in enumerate(result.phases) if p != "invalid"]
    k = ok[-1]
    t, ts, tv = result.t_c[k], result.t_c_shuffled[k], result.t_c_variance[k]  # type: ignore[index]
    null = max(ts, tv)
    verdict = ("above both nulls: learned structure, not only larger weights" if t > null * 1.05 else
               "within 5% of a null: not distinguishable from couplings without structure")
    return (f"Null models at step {result.steps[k]}: T_c = {t:.4g}, entry-shuffled couplings {ts:.4g}, variance "
            f"prediction from the current weights {tv:.4g} (T_c / null = {t / null:.3g}: {verdict}; one seed, so "
            "the seed-to-seed spread is not measured)")


def init_text(result: ExperimentResult) -> str:
    """The initialisation line: the theory's prediction beside the measurement at step 0 (or says there is none)."""
    pred = result.init_description or (f"layered-SK prediction T_c = {result.init_prediction:.4g} "
                                       "(T_c² = λ_max(M), M_ab = n_b σ_ab²)")
    if result.steps[0] == 0:
        return f"Initialisation: {pred}; measured at step 0: T_c = {result.init_measured:.4g} ({result.phases[0]})"
    return (f"No step-0 checkpoint: the first is step {result.steps[0]} ({result.phases[0]}), so the initialisation "
            f"is not measured; the {pred} is computed from that checkpoint's weights")


def _num(x: float) -> Any:
    return float(x) if np.isfinite(x) else "—"


def fit_text(fit: PowerLawFit) -> str:
    """γ with an honest error bar: the standard error to 2 significant digits, the value to the same place."""
    lo, hi = fit.exponent_ci
    where = f"over steps {fit.t_start:.0f}–{fit.t_end:.0f} ({fit.n_points} hidden-order checkpoints)"
    se = fit.exponent_stderr
    if not (np.isfinite(se) and se > 0):
        return f"γ = {fit.exponent:.3g} {where}; no error bar (the points lie exactly on the line)"
    digits = max(0, 1 - int(np.floor(np.log10(se))))
    return (f"γ = {fit.exponent:.{digits}f} ± {se:.{digits}f} (95% CI [{lo:.{digits}f}, {hi:.{digits}f}], "
            f"R² = {fit.r2:.3f}) {where}")


def _best_class(a: Any) -> str:
    if not a:
        return ""
    k = int(np.argmax(np.abs(a)))
    return f"{a[k]:+.2f} (class {k})"


def config_dict(cfg: ExperimentConfig) -> dict[str, Any]:
    """The options that apply to this run (a user's checkpoints: no training options, no unused dataset)."""
    d = {**dataclasses.asdict(cfg), "dataset": cfg.data}
    if cfg.checkpoint_dir:
        for k in ExperimentConfig.TRAINING_FIELDS:
            d.pop(k)
        if cfg.data is None:
            d.pop("n_samples")
        if cfg.steps_from is None:
            d.pop("steps_from")
        if cfg.model_builder is None:
            d.pop("model_builder")
        if cfg.input_shape is None:
            d.pop("input_shape")
    else:
        for k in ("checkpoint_dir", "model_builder", "steps_from", "input_shape"):
            d.pop(k)
        for k in {"mlp": ("channels", "n_blocks"), "cnn": ("widths", "n_blocks", "init"),
                  "resnet": ("widths", "init")}[cfg.arch]:
            d.pop(k)
        if cfg.preset is None:
            d.pop("preset")
        if cfg.arch == "cnn":
            d["channels"] = list(cfg.channels or (16, 32))
        elif cfg.arch == "resnet":
            d["channels"], d["n_blocks"] = list(cfg.channels or (8,)), int(cfg.n_blocks or 2)
    return d
