r"""The work done for one monitored checkpoint, off the training thread (a worker process, or a thread).

For a checkpoint ``checkpoints/step_XXXXXXXX.pt`` of a monitored run:

1. **Phases** — one unit of the phases pipeline, :func:`spinlens.networks.experiment.analysis_unit` (the function
   ``spinlens phases`` runs per checkpoint), stored by :func:`spinlens.sweeps.run_sweep` in
   ``analysis/units/step_XXXXXXXX.json`` with the identity that
   :func:`~spinlens.networks.experiment.analyze_checkpoints` gives the same unit, so the monitor's close reuses
   it. Cost: that of the pipeline (a stability curve of 16 sparse eigen-solves, the block spectra, TAP starts on a
   few checkpoints).
2. **Curvature** (when a loss and a batch are given) — :func:`hessian_unit`: the top Hessian eigenvalue
   :math:`\lambda_{\max}(H)` of the batch loss by Lanczos (:func:`spinlens.landscape.hessian_eigs`) and the trace
   :math:`\mathrm{tr}\,H` with its standard error by Hutch++ (:func:`spinlens.landscape.hessian_trace`), in
   float64 on the checkpoint's eval-mode network; with the learning rate :math:`\eta` the edge-of-stability ratio
   :math:`\eta\,\lambda_{\max}/2` (1 is the stability limit of gradient descent, Cohen et al. 2021) and, for heavy-ball
   momentum :math:`\beta`, :math:`\eta\,\lambda_{\max}/(2(1+\beta))` (its limit :math:`\lambda = (2 + 2\beta)/\eta`).
   Cost: about ``max_iter + n_matvec`` Hessian-vector products (each about two backward passes on the batch).
   Stored in ``hessian/units/step_XXXXXXXX.json``.
3. **Loggers** — the step's scalars (:func:`step_scalars`) to TensorBoard (only the (tag, step) pairs the event
   files do not hold yet, read back with tensorboard's ``EventAccumulator``: a resumed run never duplicates a point)
   and to a CSV file rewritten whole and atomically from every analysed step.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spinlens.networks.experiment import analysis_identity, file_digest
from spinlens.networks.experiment import analysis_key as unit_key
from spinlens.results import atomic_write_text

__all__ = ["Runner", "hessian_unit", "step_scalars", "block_labels", "file_digest", "PHASE_CODES", "phase_identity",
           "unit_key"]

log = logging.getLogger(__name__)

#: Numeric code of each phase in TensorBoard and CSV (``spinlens/phase_code``); invalid checkpoints are not logged.
PHASE_CODES = {"paramagnet": 0, "spin glass": 1, "hidden order": 2}


def phase_identity(cfg: Any, init_file: str, init_content: str, class_alignment: bool) -> dict[str, Any]:
    """What :func:`~spinlens.networks.experiment.analyze_checkpoints` keys its stored units on (its ``identity``),
    for the monitor's configuration: a unit written here is reused by the pipeline (and by the monitor's close)."""
    from spinlens.monitor import _builders

    return analysis_identity(cfg, init_file, init_content, class_alignment, file_digest(Path(_builders.__file__)))


# ---------------------------------------------------------------------------------------------- curvature
def _describe_loss(loss_fn: Any) -> str:
    """A stable description of a loss function for the analysis identity (its qualified name or its repr)."""
    import torch.nn as nn

    if isinstance(loss_fn, nn.Module):
        return f"{type(loss_fn).__module__}.{type(loss_fn).__qualname__} {loss_fn!r}"
    name = getattr(loss_fn, "__qualname__", None) or type(loss_fn).__qualname__
    return f"{getattr(loss_fn, '__module__', '')}.{name}"


def hessian_identity(config: Mapping[str, Any]) -> dict[str, Any]:
    from spinlens.monitor import _builders

    return {"builder": config["builder"], "builder_source": file_digest(Path(_builders.__file__)),
            "loss": _describe_loss(config["loss_fn"]),
            **{k: config[k] for k in ("n_matvec", "tol", "max_iter", "dtype", "method")}}


def load_module(builder_spec: str, path: Path) -> Any:
    """The checkpoint at ``path`` loaded (``weights_only``) into a fresh copy of the registered network, in eval
    mode."""
    from spinlens.networks.checkpoints import load_checkpoint
    from spinlens.networks.experiment import load_builder

    net = load_builder(builder_spec)()
    net.load_state_dict(load_checkpoint(path))
    return net.eval()


def hessian_unit(config: Mapping[str, Any], key: str, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
    r"""Curvature of one checkpoint's batch loss, a unit of :func:`spinlens.sweeps.run_sweep`.

    ``config``: ``builder`` (the network's ``model_builder``), ``checkpoint_dir``, ``loss_fn``, ``n_matvec`` (Hutch++
    products), ``tol`` and ``max_iter`` (Lanczos), ``dtype``, ``device`` (default the CPU); ``params``: ``step``,
    ``file``, ``batch_file`` (a ``{"inputs", "targets"}`` tensor file), ``lr`` and ``momentum`` (None where not
    known).

    Returns ``{"record": ...}`` with ``lambda_max`` (:math:`\lambda_{\max}(H)`), ``lambda_residual``
    (:math:`\|Hv - \lambda v\|`), ``trace`` and ``trace_se``, ``batch_loss``,
    ``eos_ratio`` :math:`= \eta\lambda_{\max}/2` and ``eos_ratio_momentum`` :math:`= \eta\lambda_{\max}/(2(1+\beta))`
    (NaN without a learning rate).
    """
    import torch

    from spinlens._rng import spawn
    from spinlens.landscape.hessian import hessian_eigs, hessian_trace

    folder = Path(config["checkpoint_dir"])
    net = load_module(config["builder"], folder / params["file"])
    batch = torch.load(Path(config["batch_dir"]) / params["batch_file"], map_location="cpu", weights_only=True)
    data = (batch["inputs"], batch["targets"])
    dtype = getattr(torch, config["dtype"])
    loss_fn = config["loss_fn"]
    g_eig, g_trace = spawn(seed, 2)
    device = config.get("device") or "cpu"
    eig = hessian_eigs(net, loss_fn, data, k=1, which="top", tol=float(config["tol"]),
                       max_iter=int(config["max_iter"]), dtype=dtype, device=device, rng=g_eig)
    tr = hessian_trace(net, loss_fn, data, method=config["method"], n_matvec=int(config["n_matvec"]), dtype=dtype,
                       device=device, rng=g_trace)
    with torch.no_grad():
        net64 = net.to(device=device, dtype=dtype)
        x, y = (t.to(device=device, dtype=dtype) if t.is_floating_point() else t.to(device) for t in data)
        batch_loss = float(loss_fn(net64(x), y))
    lam = float(eig.eigenvalues[0])
    lr, momentum = params.get("lr"), params.get("momentum")
    nan = float("nan")
    rec = {
        "step": int(params["step"]),
        "lambda_max": lam,
        "lambda_residual": float(eig.residuals[0]),
        "trace": float(tr.trace.mean),
        "trace_se": float(tr.trace.error),
        "n_params": int(eig.n_params),
        "batch_size": int(len(data[0])),
        "batch_loss": batch_loss,
        "n_matvec": int(eig.n_matvec + tr.n_matvec),
        "lr": float(lr) if lr is not None else None,
        "momentum": float(momentum) if momentum is not None else None,
        "eos_ratio": float(lr) * lam / 2 if lr is not None else nan,
        "eos_ratio_momentum": float(lr) * lam / (2 * (1 + float(momentum)))
        if lr is not None and momentum is not None else nan,
    }
    return {"record": rec}


# ---------------------------------------------------------------------------------------------- scalars
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", str(name)).strip("_") or "x"


def block_labels(record: Mapping[str, Any]) -> list[str]:
    """Names of a record's coupling blocks in tags and columns: ``W0, W1, ...`` for a chain of dense layers (an MLP),
    else ``<src>_to_<dst>`` (neuron layers by module path)."""
    blocks = record.get("blocks") or []
    layers = record.get("layers") or []
    names = [str(n) for n, _ in layers]
    chain = (len(blocks) == len(names) - 1 and all(len(shape) == 1 for _, shape in layers)
             and all(b[0] == names[l] and b[1] == names[l + 1] for l, b in enumerate(blocks)))
    if chain or not blocks:
        n = len(blocks) or len(record.get("top_ratio") or [])
        return [f"W{l}" for l in range(n)]
    return [f"{_safe(a)}_to_{_safe(b)}" for a, b, _ in blocks]


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def step_scalars(record: Mapping[str, Any] | None, hessian: Mapping[str, Any] | None = None) -> dict[str, float]:
    """The scalars of one step, by name (TensorBoard tag ``spinlens/<name>``, CSV column ``<name>``); values that are
    not finite (a paramagnet's T_c, an invalid checkpoint) are left out.

    ``t_c``, ``phase_code`` (:data:`PHASE_CODES`), ``t_star``, ``f_min_rel``, ``lambda_max_J``; per coupling block
    (:func:`block_labels`) ``outliers/<block>``, ``top_ratio/<block>`` (:math:`\\sigma_{\\max}` / bulk edge),
    ``weight_motion/<block>`` (:math:`\\|A(t) - A(0)\\|_F / \\|A(0)\\|_F`); per neuron layer ``mode_share/<layer>``;
    ``eval_loss``, ``eval_accuracy`` (with a dataset); and ``hessian/lambda_max``, ``hessian/eos_ratio``,
    ``hessian/eos_ratio_momentum``, ``hessian/trace``, ``hessian/trace_se``, ``hessian/batch_loss``.
    """
    out: dict[str, float] = {}

    def put(name: str, value: Any) -> None:
        v = _finite(value)
        if v is not None:
            out[name] = v

    if record is not None and not record.get("invalid"):
        put("t_c", record.get("t_c"))
        if record.get("phase") in PHASE_CODES:
            out["phase_code"] = float(PHASE_CODES[record["phase"]])
        put("t_star", record.get("t_star"))
        put("f_min_rel", record.get("f_min_rel"))
        put("lambda_max_J", record.get("lambda_max"))
        labels = block_labels(record)
        for key, name in (("outliers", "outliers"), ("top_ratio", "top_ratio"), ("rel_change", "weight_motion")):
            for label, v in zip(labels, record.get(key) or [], strict=False):
                put(f"{name}/{label}", v)
        for (layer, _), v in zip(record.get("layers") or [], record.get("mode_share") or [], strict=False):
            put(f"mode_share/{_safe(layer)}", v)
        put("eval_loss", record.get("eval_loss"))
        put("eval_accuracy", record.get("eval_accuracy"))
    if hessian is not None:
        for k in ("lambda_max", "eos_ratio", "eos_ratio_momentum", "trace", "trace_se", "batch_loss"):
            put(f"hessian/{k}", hessian.get(k))
    return out


class _TensorBoard:
    """A SummaryWriter that writes each (tag, step) once, whatever earlier runs into the same folder wrote."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self._writer: Any = None
        self._seen: set[tuple[str, int]] = set()

    def _open(self) -> Any:
        if self._writer is None:
            try:
                from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ImportError("tensorboard=True needs the tensorboard package: pip install tensorboard (or "
                                  "pip install 'spinlens[monitor]').") from None
            self.logdir.mkdir(parents=True, exist_ok=True)
            acc = EventAccumulator(str(self.logdir), size_guidance={"scalars": 0})
            acc.Reload()
            for tag in acc.Tags().get("scalars", []):
                self._seen.update((tag, int(ev.step)) for ev in acc.Scalars(tag))
            self._writer = SummaryWriter(log_dir=str(self.logdir))
        return self._writer

    def write(self, step: int, scalars: Mapping[str, float]) -> int:
        writer = self._open()
        n = 0
        for name, value in scalars.items():
            tag = f"spinlens/{name}"
            if (tag, int(step)) in self._seen:
                continue
            writer.add_scalar(tag, value, int(step))
            self._seen.add((tag, int(step)))
            n += 1
        writer.flush()
        return n

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def write_csv(path: Path, rows: Mapping[int, tuple[str, Mapping[str, float]]]) -> None:
    """``step, phase, <scalars>`` for every step (sorted), written whole and atomically."""
    cols: list[str] = []
    for _, (_, sc) in sorted(rows.items()):
        cols += [c for c in sc if c not in cols]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["step", "phase", *cols])
    for step, (phase, sc) in sorted(rows.items()):
        w.writerow([step, phase, *[repr(sc[c]) if c in sc else "" for c in cols]])
    atomic_write_text(path, buf.getvalue())


# ---------------------------------------------------------------------------------------------- runner
class Runner:
    """Analyses monitored checkpoints one at a time (see the module docstring).

    ``spec``: ``run_dir``, ``cfg`` (the fields of the run's :class:`~spinlens.networks.experiment.ExperimentConfig`),
    ``init_file`` (the reference checkpoint: weight motion is measured from it), ``class_alignment``, ``hessian``
    (the :func:`hessian_unit` config without ``checkpoint_dir``, or None), ``tensorboard`` (log folder or None),
    ``csv`` (file or None).
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        from spinlens.networks.experiment import ExperimentConfig

        self.run_dir = Path(spec["run_dir"])
        fields = dict(spec["cfg"])
        tuples = {k: tuple(v) for k, v in fields.items() if k in ("widths", "channels", "input_shape")
                  and v is not None}
        self.cfg = ExperimentConfig(**{**fields, **tuples})
        self.folder = Path(self.cfg.checkpoint_dir or self.run_dir / "checkpoints").resolve()
        self.init_file = str(spec["init_file"])
        self.class_alignment = bool(spec["class_alignment"])
        self.hessian = dict(spec["hessian"]) if spec.get("hessian") else None
        self.tb = _TensorBoard(Path(spec["tensorboard"])) if spec.get("tensorboard") else None
        self.csv = Path(spec["csv"]) if spec.get("csv") else None
        self._identity: dict[str, Any] | None = None
        self.rows: dict[int, tuple[str, dict[str, float]]] = self._stored_rows()

    def _stored_rows(self) -> dict[int, tuple[str, dict[str, float]]]:
        """The scalars of the steps analysed before (an earlier run, or the worker before a fallback), from disk."""
        from spinlens.sweeps import load_unit

        rows = {}
        for f in sorted((self.run_dir / "analysis" / "units").glob("step_*.json")):
            unit = load_unit(self.run_dir / "analysis", f.stem)
            if unit is None:
                continue
            record = unit["record"]
            hess = load_unit(self.run_dir / "hessian", f.stem) if self.hessian is not None else None
            rows[int(record["step"])] = (str(record.get("phase", "")),
                                         step_scalars(record, hess["record"] if hess else None))
        return rows

    def _phase(self, step: int, file: str, with_tap: bool) -> tuple[dict[str, Any], bool]:
        from spinlens.networks.experiment import analysis_unit
        from spinlens.sweeps import Unit, run_sweep

        if self._identity is None:  # the reference file exists once the first checkpoint is written
            self._identity = phase_identity(self.cfg, self.init_file, file_digest(self.folder / self.init_file),
                                            self.class_alignment)
        config = {"cfg": dataclasses.asdict(self.cfg), "checkpoint_dir": str(self.folder),
                  "init_file": self.init_file, "class_alignment": self.class_alignment}
        unit = Unit(unit_key(step), {"step": int(step), "file": file, "with_tap": bool(with_tap),
                                     "content": file_digest(self.folder / file)})
        res = run_sweep(analysis_unit, [unit], self.run_dir / "analysis", config=config, seed=self.cfg.seed + 1,
                        executor="serial", identity=self._identity)
        return res[unit.key]["record"], bool(res.reused)

    def _curvature(self, step: int, file: str, task: Mapping[str, Any]) -> dict[str, Any]:
        from spinlens.sweeps import Unit, run_sweep

        assert self.hessian is not None
        config = {**self.hessian, "checkpoint_dir": str(self.folder)}
        unit = Unit(unit_key(step), {"step": int(step), "file": file, "content": file_digest(self.folder / file),
                                     "batch_file": task["batch_file"],
                                     "batch_content": file_digest(Path(config["batch_dir"]) / task["batch_file"]),
                                     "lr": task.get("lr"), "momentum": task.get("momentum")})
        res = run_sweep(hessian_unit, [unit], self.run_dir / "hessian", config=config, seed=self.cfg.seed + 2,
                        executor="serial", identity=hessian_identity(self.hessian))
        return res[unit.key]["record"]

    def run(self, task: Mapping[str, Any]) -> dict[str, Any]:
        """Analyse the checkpoint ``task["file"]`` of step ``task["step"]`` (reusing a finished analysis) and log it.

        Returns ``{"step", "record", "reused", "hessian", "hessian_error"}``.
        """
        step, file = int(task["step"]), str(task["file"])
        record, reused = self._phase(step, file, bool(task.get("with_tap")))
        hess, hess_error = None, None
        if self.hessian is not None and task.get("batch_file"):
            try:
                hess = self._curvature(step, file, task)
            except Exception as exc:  # noqa: BLE001 - the phase result stands; the failure is reported
                hess_error = f"{type(exc).__name__}: {exc}"
                log.error("curvature of step %d failed: %s", step, hess_error)
        self.log(step, record, hess)
        return {"step": step, "record": record, "reused": reused, "hessian": hess, "hessian_error": hess_error}

    def log(self, step: int, record: Mapping[str, Any], hessian: Mapping[str, Any] | None) -> None:
        scalars = step_scalars(record, hessian)
        self.rows[int(step)] = (str(record.get("phase", "")), scalars)
        if self.tb is not None:
            self.tb.write(step, scalars)
        if self.csv is not None:
            write_csv(self.csv, self.rows)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
