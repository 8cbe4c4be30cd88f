r"""Watch a network's magnetic phase while it trains: :class:`PhaseMonitor`, called from any training loop.

At the scheduled steps (log-spaced by default, :func:`spinlens.networks.train.checkpoint_steps`) the monitor saves the
network's state dict into ``OUT/checkpoints/step_XXXXXXXX.pt`` (``torch.save`` of plain tensors: loadable with
``weights_only=True``) and hands it to a worker process, which runs the ``spinlens phases`` analysis of that checkpoint
(T_c and the phase from the stability of the TAP paramagnet, :math:`\lambda_{\max}(J)` and the outliers of every
coupling block, the weight motion since the first checkpoint, TAP evidence on a few checkpoints) and, when a loss and a
batch are given, the Hessian's :math:`\lambda_{\max}`, the edge-of-stability ratio :math:`\eta\lambda_{\max}/2` and a
Hutch++ trace with its standard error (:mod:`spinlens.monitor._runner`). The training thread only copies the weights
(and the batch) and goes on; :meth:`PhaseMonitor.close` waits for the analyses left and writes the run directory as
``spinlens phases`` does (``results.json``, ``checkpoints_analysis.json``, figures, ``report.html``), so
``spinlens report OUT`` re-renders it and ``spinlens phases --checkpoints OUT/checkpoints --model FILE.py:BUILDER``
gives the same numbers.

Resuming: a new monitor on the same ``out`` (a training run restarted from its own checkpoint) reuses every finished
analysis (stored atomically, one file per step), analyses the checkpoints that were saved but not finished, and
logs no (tag, step) twice to TensorBoard.
"""
from __future__ import annotations

import atexit
import bisect
import concurrent.futures as cf
import contextlib
import copy
import dataclasses
import functools
import hashlib
import io
import json
import logging
import os
import pickle
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spinlens.monitor import _builders
from spinlens.monitor._runner import Runner, unit_key
from spinlens.monitor._worker import ProcessWorker, WorkerError
from spinlens.results import atomic_write_bytes, atomic_write_text
from spinlens.spins.model import _describe, as_count, as_positive

__all__ = ["PhaseMonitor", "EXECUTORS"]

log = logging.getLogger(__name__)

#: Where the analyses run: a worker process (default), a thread of the training process, or inline in ``step``.
EXECUTORS = ("process", "thread", "serial")
_STATE = "monitor.json"
#: Seconds a worker gets to finish its queue once close() has analysed what it had not reached; at idle priority on a
#: busy machine it may get no CPU at all, so it is then stopped and this process finishes the rest.
_GRACE_S = 3.0
_STATE_VERSION = 1


def _unwrap(model: Any) -> Any:
    """The module whose weights are monitored: ``torch.compile``'s original module, DataParallel's ``.module``."""
    import torch.nn as nn

    for _ in range(4):
        if hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        elif isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        else:
            break
    return model


def _architecture_digest(net: Any) -> str:
    """SHA-256 (16 hex digits) of the module's class, repr and state-dict layout (names, shapes, dtypes)."""
    h = hashlib.sha256()
    h.update(f"{type(net).__module__}.{type(net).__qualname__}\n{net!r}\n".encode())
    for k, v in net.state_dict().items():
        h.update(f"{k} {tuple(getattr(v, 'shape', ()))} {getattr(v, 'dtype', type(v).__name__)}\n".encode())
    return h.hexdigest()[:16]


def _cpu_copy(net: Any) -> Any:
    """The module itself when it lives on the CPU, else a deep copy moved there."""
    import itertools

    tensors = itertools.chain(net.parameters(), net.buffers())
    if all(t.device.type == "cpu" for t in tensors):
        return net
    return copy.deepcopy(net).to("cpu")


def _serialize(net: Any) -> tuple[bytes | None, str]:
    """Pickle bytes of the network for the worker process (cloudpickle where installed: it carries classes defined in
    ``__main__``, a notebook or an ``exec`` by value), or ``(None, why)`` when it cannot be pickled."""
    try:
        import cloudpickle
    except ImportError:
        cloudpickle = None
    errors = []
    for name, mod in (("cloudpickle", cloudpickle), ("pickle", pickle)):
        if mod is None:
            continue
        try:
            payload = mod.dumps(net, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.loads(payload)  # noqa: S301 - our own bytes; proves the copy can be rebuilt
            return payload, name
        except Exception as exc:  # noqa: BLE001 - any failure means: no worker process for this network
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    return None, "; ".join(errors)


def _main_module_class(net: Any) -> bool:
    return type(net).__module__ in ("__main__", "__mp_main__")


def _as_pair(batch: Any) -> tuple[Any, Any]:
    """``(inputs, targets)`` of a batch: a pair (tuple, list) of tensors or arrays, or a dict with inputs/targets."""
    import torch

    if isinstance(batch, dict):
        for a, b in (("inputs", "targets"), ("input", "target"), ("x", "y"), ("image", "label"), ("images", "labels")):
            if a in batch and b in batch:
                batch = (batch[a], batch[b])
                break
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ValueError(f"batch must be (inputs, targets), got {_describe(batch)}; pass batch=(x, y) (or set "
                         "hessian_batch=(x, y) once).")
    x, y = batch[0], batch[1]
    x = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    y = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
    if x.ndim == 0 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"batch inputs and targets must be non-empty with one row per sample, got shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}.")
    return x, y


def _inputs_of(batch: Any) -> Any:
    """The inputs of a batch: a tensor, or the first entry of a pair / dict (see :func:`_as_pair`)."""
    import torch

    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, np.ndarray):
        return torch.as_tensor(batch)
    return _as_pair(batch)[0]


def _snapshot(t: Any) -> Any:
    return t.detach().to("cpu", copy=True)


def _tap_steps(schedule: Sequence[int], n_tap: int) -> set[int]:
    """The scheduled steps that get TAP evidence: the pipeline's choice (evenly spread indices) on the schedule."""
    n = len(schedule)
    if n_tap <= 0 or n == 0:
        return set()
    return {int(schedule[int(round(x))]) for x in np.linspace(0, n - 1, min(n_tap, n))}


def make_schedule(schedule: str | Sequence[int], n_points: int | None, total_steps: int | None) -> list[int]:
    """The steps to analyse: ``"log"`` (about ``n_points`` log-spaced steps in ``[0, total_steps]``, always with 0
    and ``total_steps``: :func:`~spinlens.networks.train.checkpoint_steps`), ``"linear"`` (``n_points`` evenly spaced,
    rounded) or the given steps."""
    from spinlens.networks.train import checkpoint_steps

    if isinstance(schedule, str):
        if schedule not in ("log", "linear"):
            raise ValueError(f"schedule must be 'log', 'linear' or a list of steps, got {schedule!r}.")
        if total_steps is None:
            raise ValueError(f"schedule={schedule!r} needs total_steps (the number of optimizer steps the run will "
                             "take), or pass the steps themselves: schedule=[0, 10, 100, ...].")
        total = as_count(total_steps, "total_steps (optimizer steps of the run)", minimum=1)
        n = as_count(20 if n_points is None else n_points, "n_points (checkpoints, step 0 and the last included)",
                     minimum=2)
        if schedule == "log":
            return checkpoint_steps(total, n)
        return sorted({int(round(x)) for x in np.linspace(0, total, n)})
    if isinstance(schedule, (bytes, dict)) or not hasattr(schedule, "__iter__"):
        raise ValueError(f"schedule must be 'log', 'linear' or a list of steps, got {_describe(schedule)}.")
    steps = sorted({as_count(s, "schedule step", minimum=0) for s in schedule})
    if not steps:
        raise ValueError("schedule lists no steps.")
    return steps


@dataclasses.dataclass
class _Taken:
    step: int
    future: cf.Future[Any] | None = None


class _Dispatch:
    """Runs tasks in the worker process, a thread or inline; falls back from the process to a thread when the worker
    cannot read the network (the reason becomes a note of the run)."""

    def __init__(self, mode: str, process_spec: dict[str, Any] | None, thread_spec: dict[str, Any],
                 log_path: Path) -> None:
        self._lock = threading.Lock()
        self.mode = mode
        self.notes: list[str] = []
        self._thread_spec = thread_spec
        self._runner: Runner | None = None
        self._pool: cf.ThreadPoolExecutor | None = None
        self.proc: ProcessWorker | None = None
        if mode == "process":
            assert process_spec is not None
            try:
                self.proc = ProcessWorker(process_spec, log_path, self._fallback)
            except Exception as exc:  # noqa: BLE001 - e.g. a loss function that cannot be pickled: use a thread
                self._to_thread(f"the worker could not be started ({type(exc).__name__}: {str(exc)[:200]})")
        elif mode == "thread":
            self._pool = cf.ThreadPoolExecutor(1, thread_name_prefix="spinlens-monitor-analysis")

    def _run_here(self, task: dict[str, Any]) -> Any:
        if self._runner is None:
            self._runner = Runner(self._thread_spec)
        return self._runner.run(task)

    def _to_thread(self, why: str) -> None:
        """Switch to a thread (the lock is held)."""
        if self.mode != "process":
            return
        self.mode = "thread"
        self._pool = cf.ThreadPoolExecutor(1, thread_name_prefix="spinlens-monitor-analysis")
        self.notes.append(f"the analyses ran on a thread of the training process, not in a worker process: {why}")
        log.warning("spinlens monitor: analysing on a thread of the training process (%s)", why)

    def _fallback(self, why: str, left: list[tuple[dict[str, Any], cf.Future[Any]]]) -> None:
        with self._lock:
            self._to_thread(f"the worker could not read the network ({why.strip().splitlines()[-1][:300]})")
            pool = self._pool
        assert pool is not None
        for task, fut in left:
            _chain(pool.submit(self._run_here, task), fut)

    def submit(self, task: dict[str, Any]) -> cf.Future[Any]:
        with self._lock:
            mode = self.mode
        if mode == "process":
            assert self.proc is not None
            try:
                return self.proc.submit(task)
            except WorkerError as exc:
                with self._lock:
                    self._to_thread(str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else "it exited")
                    mode = self.mode
        if mode == "serial":
            fut: cf.Future[Any] = cf.Future()
            try:
                fut.set_result(self._run_here(task))
            except Exception as exc:  # noqa: BLE001 - reported through the future, like the other executors
                fut.set_exception(exc)
            return fut
        assert self._pool is not None
        return self._pool.submit(self._run_here, task)

    def close(self, wait: bool = True, grace: float | None = None) -> None:
        if self.proc is not None:
            self.proc.close(wait=wait, timeout=grace)
        with self._lock:
            pool = self._pool
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=not wait)
        if self._runner is not None:
            self._runner.close()


@contextlib.contextmanager
def _one_thread() -> Any:
    """Torch and BLAS on one thread while close() analyses here (the worker has the other core; many threads on
    small eigen-solves and einsums only contend), the caller's settings restored afterwards."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - scikit-learn brings it
            yield
            return
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(old)


def _chain(src: cf.Future[Any], dst: cf.Future[Any]) -> None:
    def done(f: cf.Future[Any]) -> None:
        if f.cancelled():
            dst.cancel()
        elif f.exception() is not None:
            dst.set_exception(f.exception())
        else:
            dst.set_result(f.result())

    src.add_done_callback(done)


_OPEN: weakref.WeakSet[PhaseMonitor] = weakref.WeakSet()


@atexit.register
def _close_open_monitors() -> None:  # pragma: no cover - interpreter exit
    for mon in list(_OPEN):
        log.warning("spinlens monitor %s was not closed: its saved checkpoints are kept; the analyses left are done "
                    "by the next monitor on the same out (or spinlens phases --checkpoints).", mon.run_dir)
        with contextlib.suppress(Exception):
            mon.close(wait=False, report=False)


class PhaseMonitor:
    r"""The magnetic phase of a network while it trains, from any training loop.

    Parameters
    ----------
    out : run directory (created at the first checkpoint; a monitor on an existing one resumes it).
    schedule : ``"log"`` (default: ``n_points`` log-spaced steps in ``[0, total_steps]`` with 0 and the last),
        ``"linear"``, or the steps themselves.
    n_points : checkpoints of a ``"log"`` or ``"linear"`` schedule (default 20, as ``spinlens phases``).
    total_steps : optimizer steps of the run (for ``"log"`` and ``"linear"``).
    input_shape : per-sample input of the network, e.g. ``(1, 28, 28)``; default: read from its first ``Linear``
        layer, else from the first batch given to :meth:`step`.
    dataset : ``"digits"``, ``"mnist5000"`` or an ``.npz`` file the network takes (flat, or reshaped to
        ``input_shape``): each checkpoint's loss and accuracy on it and the class alignment of the TAP solutions, as
        ``spinlens phases --dataset``. ``n_samples``: its first N samples.
    loss_fn : ``loss_fn(output, target) -> scalar`` (mean over the batch), e.g. ``torch.nn.functional.cross_entropy``:
        with a batch, the Hessian :math:`\lambda_{\max}`, the edge-of-stability ratio and the trace of each checkpoint.
    hessian_batch : ``(inputs, targets)`` used for the Hessian at every checkpoint (comparable across steps); default:
        the batch given to :meth:`step` at that step.
    lr : learning rate :math:`\eta` for the edge-of-stability ratio :math:`\eta\lambda_{\max}/2` (or pass
        ``optimizer=`` / ``lr=`` to :meth:`step`); ``momentum`` the heavy-ball :math:`\beta` (SGD), for
        :math:`\eta\lambda_{\max}/(2(1+\beta))`.
    hessian_matvec : Hutch++ Hessian-vector products for the trace (default 99); ``hessian_iter``: Lanczos steps at
        most for :math:`\lambda_{\max}` (default 60), to relative residual ``hessian_tol`` (1e-5); in float64, on the
        eval-mode network (no dropout, BatchNorm on its running statistics), on ``hessian_device`` (default the CPU,
        so that the worker never takes memory or time on the training's GPU; ``"cuda"`` to use one).
    tensorboard : True (``OUT/tensorboard``) or a log folder (e.g. a Lightning ``TensorBoardLogger``'s ``log_dir``):
        scalar tags ``spinlens/t_c``, ``spinlens/phase``, ... (see :func:`spinlens.monitor.step_scalars`).
    csv : True (``OUT/monitor.csv``) or a file: one row per analysed step.
    n_starts, tap_checkpoints, null_models, seed : as ``spinlens phases --n-starts --tap-checkpoints
        --null-models/--no-null-models --seed`` (TAP starts per probed checkpoint, how many checkpoints get TAP
        evidence, whether each checkpoint is compared with its entry-shuffled couplings and their bond density, the
        analysis seed).
    executor : ``"process"`` (default: a worker process at ``priority``, one thread), ``"thread"`` (a thread of
        the training process) or ``"serial"`` (inside :meth:`step`, for debugging). A network that cannot be pickled
        is analysed on a thread.
    priority : of the worker process: ``"idle"`` (default; Linux ``SCHED_IDLE``, elsewhere nice 19: it runs only on
        CPU time that the training and everything else leave free) or a nice increment (0: the training's priority).
        :meth:`close` runs the analyses left in this process as well, at its own priority, from the last checkpoint
        back, while the worker goes on from the first.

    Notes
    -----
    Cost on the training thread: nothing at unscheduled steps; at a scheduled step a copy of the state dict (and of the
    batch, with a loss); at the first step one mapping of the network (refused there, before training goes on, if the
    mapping does not support it) and the start of the worker. Files are written and the analyses run elsewhere: the
    worker's cost per checkpoint is that of ``spinlens phases`` (and ``hessian_iter + hessian_matvec`` Hessian-vector
    products with a loss).

    Examples
    --------
    >>> mon = PhaseMonitor("runs/mine", total_steps=1000)            # doctest: +SKIP
    >>> mon.step(model, 0)                                           # doctest: +SKIP
    >>> for t in range(1, 1001):                                     # doctest: +SKIP
    ...     train_one_step(model)
    ...     mon.step(model, t)
    >>> result = mon.close()                                         # doctest: +SKIP
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        schedule: str | Sequence[int] = "log",
        n_points: int | None = 20,
        total_steps: int | None = None,
        input_shape: Sequence[int] | None = None,
        dataset: str | None = None,
        n_samples: int | None = None,
        loss_fn: Any = None,
        hessian_batch: Any = None,
        lr: float | None = None,
        momentum: float | None = None,
        hessian_matvec: int = 99,
        hessian_iter: int = 60,
        hessian_tol: float = 1e-5,
        hessian_device: str | None = None,
        tensorboard: bool | str | os.PathLike[str] = False,
        csv: bool | str | os.PathLike[str] = False,
        n_starts: int = 8,
        tap_checkpoints: int = 5,
        null_models: bool = True,
        seed: int = 0,
        executor: str = "process",
        priority: str | int = "idle",
    ) -> None:
        if not isinstance(out, (str, os.PathLike)):
            raise TypeError(f"out must be a directory path, got {_describe(out)}.")
        self.run_dir = Path(out)
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise ValueError(f"out {self.run_dir} is a file; give a directory.")
        self.schedule = make_schedule(schedule, n_points, total_steps)
        self.schedule_kind = schedule if isinstance(schedule, str) else "steps"
        self.total_steps = int(total_steps) if total_steps is not None else max(self.schedule)
        if input_shape is not None:
            input_shape = tuple(as_count(x, "input_shape entry", minimum=1) for x in input_shape)
            if not input_shape:
                raise ValueError("input_shape must list the per-sample dimensions, e.g. (1, 28, 28).")
        self.input_shape: tuple[int, ...] | None = input_shape
        if dataset is not None:
            from spinlens.data import load_dataset

            load_dataset(dataset, n_samples=n_samples)  # refused now, not in the worker
        elif n_samples is not None:
            raise ValueError("n_samples selects samples of dataset: give dataset too, or drop n_samples.")
        self.dataset, self.n_samples = dataset, n_samples
        if loss_fn is not None and not callable(loss_fn):
            raise ValueError(f"loss_fn must be callable as loss_fn(output, target), got {_describe(loss_fn)}.")
        if hessian_batch is not None and loss_fn is None:
            raise ValueError("hessian_batch is the batch of the Hessian's loss: give loss_fn too.")
        self.loss_fn = loss_fn
        self.hessian_batch = _as_pair(hessian_batch) if hessian_batch is not None else None
        self.lr = as_positive(lr, "lr (learning rate)") if lr is not None else None
        self.momentum = float(momentum) if momentum is not None else None
        if self.momentum is not None and not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}.")
        self.hessian_matvec = as_count(hessian_matvec, "hessian_matvec", minimum=3)
        self.hessian_iter = as_count(hessian_iter, "hessian_iter", minimum=2)
        self.hessian_tol = as_positive(hessian_tol, "hessian_tol")
        self.hessian_device = str(hessian_device) if hessian_device is not None else "cpu"
        self.tensorboard = self._path_option(tensorboard, "tensorboard", "tensorboard")
        self.csv = self._path_option(csv, "csv", "monitor.csv")
        self.n_starts = as_count(n_starts, "n_starts", minimum=0)
        self.tap_checkpoints = as_count(tap_checkpoints, "tap_checkpoints", minimum=0)
        if not isinstance(null_models, bool):
            raise ValueError(f"null_models must be True or False, got {_describe(null_models)}.")
        self.null_models = null_models
        self.seed = as_count(seed, "seed", minimum=0)
        if executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}.")
        self.executor = executor
        if priority != "idle" and not (isinstance(priority, int) and not isinstance(priority, bool)
                                       and 0 <= priority <= 19):
            raise ValueError(f"priority must be 'idle' or a nice increment 0..19, got {_describe(priority)}.")
        self.priority = priority
        self._tap = _tap_steps(self.schedule, self.tap_checkpoints)
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self._next = 0  # index into schedule of the first step not passed yet
        self._last_step = -1
        self._taken: dict[int, _Taken] = {}
        self._tasks: dict[int, dict[str, Any]] = {}
        self._missed: set[int] = set()  # scheduled steps an earlier run of this out never saved (resumed past them)
        self._aborting = False
        self._executor_used = executor
        self._records: dict[int, dict[str, Any]] = {}
        self._hessian: dict[int, dict[str, Any]] = {}
        self._errors: dict[int, str] = {}
        self._futures: list[cf.Future[Any]] = []
        self._dispatch: _Dispatch | None = None
        self._io: cf.ThreadPoolExecutor | None = None
        self._cfg: Any = None
        self._builder_name = ""
        self._payload: bytes | None = None
        self._init_file: str | None = None
        self._notes: list[str] = []
        self._t0 = 0.0
        self.result: Any = None

    # ------------------------------------------------------------------------------------------ public
    def step(self, model: Any, step: int, batch: Any = None, *, lr: float | None = None,
             momentum: float | None = None, optimizer: Any = None) -> bool:
        """Call after optimizer step ``step`` (and once with ``step=0`` before training); returns True when this step
        was checkpointed.

        ``batch``: the step's ``(inputs, targets)`` (for the Hessian when the monitor has a ``loss_fn``, and for the
        input shape of a network that does not start with a Linear layer). ``optimizer``: the learning rate and SGD
        momentum of this step are read from its first parameter group (else ``lr`` / ``momentum``, else the
        monitor's). Steps between scheduled ones cost nothing; a call that passes several scheduled steps at once
        (a loop that calls every k steps) checkpoints once, at ``step``.
        """
        if self._closed:
            raise RuntimeError(f"this PhaseMonitor ({self.run_dir}) is closed; make a new one to resume the run.")
        if self._next >= len(self.schedule) or step < self.schedule[self._next]:
            return False
        step = as_count(step, "step", minimum=0)
        if step <= self._last_step:
            return False
        if not self._started:
            self._start(model, step, batch)
        passed_to = bisect.bisect_right(self.schedule, step)
        passed = self.schedule[self._next:passed_to]
        self._next = passed_to
        self._last_step = step
        if step in self._taken or not any(t not in self._taken and t not in self._missed for t in passed):
            return False
        if optimizer is not None:
            group = optimizer.param_groups[0]
            lr = group.get("lr", lr) if lr is None else lr
            if momentum is None and "momentum" in group:
                momentum = group["momentum"]
        self._take(model, step, batch, with_tap=any(t in self._tap for t in passed),
                   lr=lr if lr is not None else self.lr, momentum=momentum if momentum is not None else self.momentum)
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Block until every checkpoint taken so far is written and analysed."""
        if self._io is not None:
            self._io.submit(lambda: None).result(timeout=timeout)
        cf.wait(list(self._futures), timeout=timeout)

    def close(self, wait: bool = True, report: bool = True) -> Any:
        """Wait for the analyses left (``wait=False``: only the one in progress; the others are done on resume), stop
        the worker and (``report``) write the run directory as ``spinlens phases`` does. Returns the
        :class:`~spinlens.networks.experiment.ExperimentResult` (None without a report or before any checkpoint)."""
        if self._closed:
            return self.result
        self._closed = True
        _OPEN.discard(self)
        if not self._started:
            return None
        self._aborting = not wait
        process = self._dispatch is not None and self._dispatch.mode == "process"
        try:
            if self._io is not None:
                self._io.submit(lambda: None).result()  # every snapshot is on disk and handed on
            if wait and process:
                with _one_thread():
                    self._help()
            elif wait:
                cf.wait(list(self._futures))
        finally:
            if self._dispatch is not None:
                self._aborting = True  # what the worker leaves undone is done here, below
                self._dispatch.close(wait=wait, grace=_GRACE_S if process else None)
                self._notes += [n for n in self._dispatch.notes if n not in self._notes]
            if self._io is not None:
                self._io.shutdown(wait=True)
        if wait:
            with _one_thread():
                self._finish_here()
                if report:
                    self.result = self._write_report()
        return self.result

    def _finish_here(self) -> None:
        """Analyse (or reuse) and log, in this process, every step whose result did not come back from the worker."""
        left = [s for s in sorted(self._tasks) if s not in self._records]
        if not left:
            return
        runner = Runner(self._runner_spec(None))  # reads back what the worker logged: nothing is logged twice
        try:
            for s in left:
                try:
                    out = runner.run(self._tasks[s])
                except Exception as exc:  # noqa: BLE001 - recorded; the report's analysis tries it once more
                    self._errors[s] = f"{type(exc).__name__}: {exc}"[:500]
                    continue
                with self._lock:
                    self._records[s] = out["record"]
                    if out.get("hessian") is not None:
                        self._hessian[s] = out["hessian"]
        finally:
            runner.close()

    def _help(self) -> None:
        """Training is over: analyse the checkpoints the worker has not reached here too, at this process's priority,
        from the last one back, while the worker goes on from the first (each finds what the other stored and reuses
        it); the worker then gets :data:`_GRACE_S` seconds to log the rest and exit (:meth:`_finish_here` does what it
        leaves)."""
        dispatch = self._dispatch
        if dispatch is None or dispatch.mode != "process" or dispatch.proc is None:
            return
        left = [s for s in sorted(self._tasks, reverse=True)
                if self._taken[s].future is not None and not self._taken[s].future.done()]  # type: ignore[union-attr]
        if not left:
            return
        runner = Runner({**self._runner_spec(None), "tensorboard": None, "csv": None})
        for s in left:
            if self._taken[s].future.done() or dispatch.proc.started(s):  # type: ignore[union-attr]
                break  # the worker has come this far
            try:
                runner.run(self._tasks[s])
            except Exception as exc:  # noqa: BLE001 - the worker's own attempt stands
                log.warning("spinlens monitor: analysing step %d at close failed (%s); left to the worker", s, exc)
        runner.close()

    def __enter__(self) -> PhaseMonitor:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:  # an interrupted or failed training run: keep what is done, resume later
            self.close(wait=False, report=False)

    @property
    def records(self) -> list[dict[str, Any]]:
        """Phase records of the checkpoints analysed so far (the ``spinlens phases`` record format), by step."""
        with self._lock:
            return [self._records[s] for s in sorted(self._records)]

    @property
    def hessian_records(self) -> list[dict[str, Any]]:
        """Curvature records of the checkpoints analysed so far, by step."""
        with self._lock:
            return [self._hessian[s] for s in sorted(self._hessian)]

    @property
    def pending(self) -> int:
        """Checkpoints taken whose analysis has not finished."""
        return sum(1 for f in self._futures if not f.done())

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def config(self) -> Any:
        """The run's :class:`~spinlens.networks.experiment.ExperimentConfig` (after the first step)."""
        return self._cfg

    def command(self, model: str = "YOUR_FILE.py:BUILDER") -> str:
        """The ``spinlens phases`` command that analyses this run's checkpoints with the same settings (and gives the
        same numbers), for a builder ``model`` of the network."""
        parts = ["spinlens", "phases", "--checkpoints", str(self.checkpoint_dir), "--model", model]
        shape = self._cfg.input_shape if self._cfg is not None else self.input_shape
        if shape:
            parts += ["--input-shape", ",".join(map(str, shape))]
        if self.dataset is not None:
            parts += ["--dataset", str(self.dataset)]
        if self.n_samples is not None:
            parts += ["--n-samples", str(self.n_samples)]
        parts += ["--n-starts", str(self.n_starts), "--tap-checkpoints", str(self.tap_checkpoints)]
        if not self.null_models:
            parts.append("--no-null-models")
        parts += ["--seed", str(self.seed), "--out", "OUT"]
        return " ".join(parts)

    # ------------------------------------------------------------------------------------------ internals
    def _path_option(self, value: Any, name: str, default: str) -> Path | None:
        if value is False or value is None:
            return None
        if value is True:
            return self.run_dir / default
        if isinstance(value, (str, os.PathLike)):
            return Path(value)
        raise ValueError(f"{name} must be True, False or a path, got {_describe(value)}.")

    def _make_cfg(self, input_shape: tuple[int, ...] | None, threads: int | None) -> Any:
        from spinlens.networks.experiment import ExperimentConfig

        return ExperimentConfig(checkpoint_dir=str(self.checkpoint_dir.resolve()),
                                model_builder=_builders.builder_spec(self._builder_name), input_shape=input_shape,
                                dataset=self.dataset, n_samples=self.n_samples, n_starts=self.n_starts,
                                n_tap_checkpoints=self.tap_checkpoints, null_models=self.null_models,
                                threads=threads, seed=self.seed)

    def _check_network(self, skel: Any, batch: Any) -> tuple[int, ...] | None:
        """Map the network as the pipeline will (refusing what the mapping does not support); the input shape to use
        (None: the pipeline's default, the first Linear layer's or the dataset's samples flat)."""
        from spinlens.networks.experiment import network_graph

        if self.input_shape is not None:
            network_graph(self._make_cfg(self.input_shape, None), skel)
            return self.input_shape
        try:
            network_graph(self._make_cfg(None, None), skel)
            return None
        except ValueError as exc:
            if batch is None:
                if "input shape" not in str(exc) and "example_input" not in str(exc):
                    raise
                raise ValueError(f"{exc} (PhaseMonitor: give input_shape=..., or pass the step's batch to "
                                 "mon.step(model, step, batch=(x, y)) so that the shape is read from it.)") from None
        x = _inputs_of(batch)
        shape = tuple(int(s) for s in x.shape[1:])
        network_graph(self._make_cfg(shape, None), skel)
        return shape

    def _start(self, model: Any, step: int, batch: Any) -> None:
        import torch.nn as nn

        net = _unwrap(model)
        if not isinstance(net, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {_describe(model)}.")
        cpu = _cpu_copy(net)
        payload, how = _serialize(cpu)
        template = copy.deepcopy(cpu) if payload is None else pickle.loads(payload)  # noqa: S301 - our bytes
        template.eval()
        digest = _architecture_digest(net)
        self._builder_name = f"net_{digest}"
        self._payload = payload
        _builders.register(self._builder_name, payload=payload, template=template)
        # refused here, before anything is written and before training goes on
        shape = self._check_network(template, batch)
        state = self._read_state()
        if state is not None and state.get("network") != digest:
            raise ValueError(f"{self.run_dir} holds a monitored run of another network ({state.get('network_class')} "
                             f"{state.get('network')}, this is {type(net).__qualname__} {digest}): use another out, "
                             "or delete it.")
        if state is not None and list(state.get("schedule", [])) != self.schedule:
            raise ValueError(f"{self.run_dir} holds a monitored run with another schedule ({len(state['schedule'])} "
                             f"steps up to {max(state['schedule'])}; this monitor has {len(self.schedule)} up to "
                             f"{max(self.schedule)}): resume with the same schedule, n_points and total_steps, or use "
                             "another out.")
        self._cfg = self._make_cfg(shape, 1 if self.executor == "process" else None)
        self._init_file = state.get("init_file") if state else None
        if self._init_file and not (self.checkpoint_dir / self._init_file).is_file():
            self._init_file = None
        executor = self.executor
        if executor == "process" and payload is None:
            executor = "thread"
            self._notes.append(f"{type(net).__qualname__} cannot be pickled ({how[:300]}): the analyses ran on a "
                               "thread of the training process.")
        elif executor == "process" and how == "pickle" and _main_module_class(net):
            executor = "thread"
            self._notes.append(f"{type(net).__qualname__} is defined in __main__ and cloudpickle is not installed: "
                               "the analyses ran on a thread of the training process (pip install cloudpickle).")
        self._executor_used = executor
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        self._io = cf.ThreadPoolExecutor(1, thread_name_prefix="spinlens-monitor-io")
        self._started = True
        self._t0 = time.perf_counter()
        _OPEN.add(self)
        if self.hessian_batch is not None:
            self._io.submit(self._save_batch, "fixed.pt", *self.hessian_batch)
        self._resume(step, resumed=state is not None)
        self._write_state(net, digest)
        self._write_manifest()

    def _read_state(self) -> dict[str, Any] | None:
        p = self.run_dir / _STATE
        if not p.is_file():
            return None
        try:
            state = json.loads(p.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{p} is not readable ({exc}); delete it to start the run afresh.") from None
        if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
            raise ValueError(f"{p} is not a PhaseMonitor state file of this spinlens version; use another out.")
        return state

    def _write_state(self, net: Any, digest: str) -> None:
        state = {"version": _STATE_VERSION, "network": digest, "network_class": type(net).__qualname__,
                 "schedule": self.schedule, "schedule_kind": self.schedule_kind, "total_steps": self.total_steps,
                 "input_shape": list(self._cfg.input_shape) if self._cfg.input_shape else None,
                 "init_file": self._init_file}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.run_dir / _STATE, json.dumps(state, indent=2))

    def _write_manifest(self) -> Any:
        from spinlens.networks.experiment import config_dict
        from spinlens.results import RunDir

        cfg = dataclasses.replace(self._cfg, threads=1)
        run = RunDir(self.run_dir, command="spinlens.monitor.PhaseMonitor", config=config_dict(cfg),
                     seeds={"seed": self.seed})
        run.manifest["monitor"] = {
            "schedule": self.schedule, "schedule_kind": self.schedule_kind, "total_steps": self.total_steps,
            "executor": self._executor_used, "network": self._builder_name,
            "tensorboard": str(self.tensorboard) if self.tensorboard else None,
            "csv": str(self.csv) if self.csv else None,
            "hessian": self._hessian_options(),
            "equivalent_command": self.command(),
        }
        run.write_manifest()
        return run

    def _hessian_options(self) -> dict[str, Any] | None:
        if self.loss_fn is None:
            return None
        from spinlens.monitor._runner import _describe_loss

        return {"loss": _describe_loss(self.loss_fn), "batch": "fixed" if self.hessian_batch is not None else "step",
                "n_matvec": self.hessian_matvec, "max_iter": self.hessian_iter, "tol": self.hessian_tol,
                "method": "hutch++", "dtype": "float64"}

    def _runner_spec(self, threads: int | None) -> dict[str, Any]:
        hessian = None
        if self.loss_fn is not None:
            hessian = {"builder": _builders.builder_spec(self._builder_name), "loss_fn": self.loss_fn,
                       "batch_dir": str((self.run_dir / "hessian" / "batches").resolve()),
                       "n_matvec": self.hessian_matvec, "tol": self.hessian_tol, "max_iter": self.hessian_iter,
                       "dtype": "float64", "method": "hutch++", "device": self.hessian_device}
        return {"run_dir": str(self.run_dir.resolve()), "cfg": dataclasses.asdict(
                    dataclasses.replace(self._cfg, threads=threads)),
                "init_file": self._init_file, "class_alignment": self.dataset is not None, "hessian": hessian,
                "tensorboard": str(self.tensorboard.resolve()) if self.tensorboard else None,
                "csv": str(self.csv.resolve()) if self.csv else None}

    def _ensure_dispatch(self) -> _Dispatch:
        """The executor, started with the first checkpoint (the reference of weight motion); on the io thread."""
        if self._dispatch is None:
            process_spec = None
            if self._executor_used == "process":
                process_spec = {"builder_name": self._builder_name, "builder_payload": self._payload,
                                "priority": self.priority, "runner": self._runner_spec(1)}
            self._dispatch = _Dispatch(self._executor_used, process_spec, self._runner_spec(None),
                                       self.run_dir / "monitor" / "worker.log")
        return self._dispatch

    def _resume(self, first_step: int, resumed: bool) -> None:
        """Hand on the checkpoints of an earlier run of this ``out``: those before ``first_step`` (the training resumed
        after them) and those whose analysis is finished; a checkpoint at or after ``first_step`` without a finished
        analysis is taken again when training reaches it."""
        from spinlens.networks.checkpoints import checkpoint_step
        from spinlens.sweeps import load_unit

        files = sorted(self.checkpoint_dir.glob("step_*.pt"))
        found = []
        for f in files:
            s = checkpoint_step(f.name)
            if s is None or f.name != f"{unit_key(s)}.pt":
                continue
            done = load_unit(self.run_dir / "analysis", unit_key(s)) is not None
            if s < first_step or done:
                found.append(s)
        for s in found:
            batch = self.run_dir / "hessian" / "batches" / f"{unit_key(s)}.pt"
            batch_file = "fixed.pt" if self.hessian_batch is not None else (batch.name if batch.is_file() else None)
            if self._init_file is None:
                self._init_file = f"{unit_key(s)}.pt"
            self._taken[s] = _Taken(s)
            task = {"step": s, "file": f"{unit_key(s)}.pt", "with_tap": s in self._tap, "batch_file": batch_file,
                    "lr": None, "momentum": None}
            self._tasks[s] = task
            assert self._io is not None
            self._io.submit(self._hand_on, task)
        if resumed:
            self._missed = {t for t in self.schedule if t < first_step and t not in self._taken}
            if self._missed:
                self._note_once(f"the earlier run of {self.run_dir} ended before saving step(s) "
                                f"{', '.join(map(str, sorted(self._missed)[:8]))}"
                                f"{' ...' if len(self._missed) > 8 else ''}, and training resumed at step "
                                f"{first_step}: they are missing.")
        if found:
            log.info("spinlens monitor: resuming %s (%d checkpoints of an earlier run)", self.run_dir, len(found))

    def _take(self, model: Any, step: int, batch: Any, with_tap: bool, lr: Any, momentum: Any) -> None:
        net = _unwrap(model)
        state = {k: _snapshot(v) for k, v in net.state_dict().items()}
        pair = None
        if self.loss_fn is not None and self.hessian_batch is None and batch is not None:
            x, y = _as_pair(batch)
            pair = (_snapshot(x), _snapshot(y))
        self._taken[step] = _Taken(step)
        name = f"{unit_key(step)}.pt"
        if self._init_file is None:
            self._init_file = name
            self._write_state(net, self._builder_name[4:])
        batch_file = "fixed.pt" if self.hessian_batch is not None else (f"{unit_key(step)}.pt" if pair else None)
        if self.loss_fn is not None and batch_file is None:
            self._note_once("no batch was given at some checkpoints (mon.step(model, step, batch=(x, y))): they have "
                            "no Hessian.")
        task = {"step": step, "file": name, "with_tap": with_tap, "batch_file": batch_file,
                "lr": float(lr) if lr is not None else None,
                "momentum": float(momentum) if momentum is not None else None}
        assert self._io is not None
        self._tasks[step] = task
        self._io.submit(self._persist, state, pair, task)
        if self._executor_used == "serial":
            self.wait()

    def _note_once(self, note: str) -> None:
        if note not in self._notes:
            self._notes.append(note)

    # -- io thread
    def _save_batch(self, name: str, x: Any, y: Any) -> None:
        import torch

        buf = io.BytesIO()
        torch.save({"inputs": x, "targets": y}, buf)
        atomic_write_bytes(self.run_dir / "hessian" / "batches" / name, buf.getvalue())

    def _persist(self, state: dict[str, Any], pair: Any, task: dict[str, Any]) -> None:
        import torch

        try:
            buf = io.BytesIO()
            torch.save(state, buf)
            atomic_write_bytes(self.checkpoint_dir / task["file"], buf.getvalue())
            if pair is not None:
                self._save_batch(task["batch_file"], *pair)
        except Exception as exc:  # noqa: BLE001 - the training goes on; the report lists the step
            self._io_error(task, f"saving the checkpoint failed: {type(exc).__name__}: {exc}")
            return
        self._hand_on(task)

    def _io_error(self, task: dict[str, Any], text: str) -> None:
        with self._lock:
            self._errors[int(task["step"])] = text[:500]
        log.error("spinlens monitor: step %d: %s", int(task["step"]), text)

    def _hand_on(self, task: dict[str, Any]) -> None:
        try:
            fut = self._ensure_dispatch().submit(task)
        except Exception as exc:  # noqa: BLE001 - recorded; close() analyses the saved checkpoint
            self._io_error(task, f"the analysis could not be started: {type(exc).__name__}: {exc}")
            return
        step = int(task["step"])
        self._taken[step].future = fut
        self._futures.append(fut)
        fut.add_done_callback(functools.partial(self._on_done, step))

    def _on_done(self, step: int, fut: cf.Future[Any]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        with self._lock:
            if exc is not None and self._aborting:
                return  # close(wait=False): the analyses left are done on resume
            if exc is not None:
                self._errors[step] = str(exc).strip().splitlines()[0][:500] if str(exc).strip() else repr(exc)
                log.error("spinlens monitor: the analysis of step %d failed (it is tried again at close; "
                          "traceback in %s): %s", step, self.run_dir / "monitor" / "worker.log", self._errors[step])
                return
            out = fut.result()
            self._records[step] = out["record"]
            if out.get("hessian") is not None:
                self._hessian[step] = out["hessian"]
            if out.get("hessian_error"):
                self._errors[step] = f"curvature: {out['hessian_error']}"

    # -- the report
    def _write_report(self) -> Any:
        from spinlens.networks.checkpoints import list_checkpoints
        from spinlens.networks.experiment import (
            analyze_checkpoints,
            experiment_figures,
            experiment_sections,
            summarize_run,
        )
        from spinlens.report import write_report

        cfg = dataclasses.replace(self._cfg, threads=None)  # in this process: the user's torch threads stay
        if not any(self.checkpoint_dir.glob("step_*.pt")):
            return None
        cks = list_checkpoints(self.checkpoint_dir)
        # every unit the worker finished is reused; any left (an analysis that failed or was not finished) runs here
        records = analyze_checkpoints(cfg, cks, self.run_dir, class_alignment=cfg.data is not None)
        result = summarize_run(cfg, records, self.checkpoint_dir, cks)
        if self._notes:
            result = dataclasses.replace(result, notes=[*result.notes, *self._notes])
        run = self._write_manifest()
        run.save_result(result, "results")
        run.save_json(records, "checkpoints_analysis")
        paths = {name: run.save_figure(fig, name) for name, fig in experiment_figures(result, self.run_dir).items()}
        hess = self._stored_hessian([s for s, _ in cks])
        if hess:
            run.save_json(hess, "hessian_analysis")
            paths["hessian_over_training"] = run.save_figure(_hessian_figure(hess), "hessian_over_training")
        elapsed = time.perf_counter() - self._t0
        sections = experiment_sections(result, records, paths, elapsed) + [self._section(hess, paths)]
        write_report(self.run_dir, "Phases over training (monitored run)", sections, run.manifest)
        with self._lock:
            for r in records:
                self._records[int(r["step"])] = r
        return result

    def _stored_hessian(self, steps: Sequence[int]) -> list[dict[str, Any]]:
        from spinlens.sweeps import load_unit

        if self.loss_fn is None and not (self.run_dir / "hessian" / "units").is_dir():
            return []
        out = []
        for s in steps:
            unit = load_unit(self.run_dir / "hessian", unit_key(s))
            if unit is not None:
                out.append(unit["record"])
        return out

    def _section(self, hess: list[dict[str, Any]], paths: dict[str, Path]) -> Any:
        from spinlens.report import Section

        text = [
            f"Monitored training run: {len(self.schedule)} scheduled checkpoints ({self.schedule_kind} schedule up to "
            f"step {self.total_steps}), saved by the training loop and analysed off its thread "
            f"({'a worker process' if self._executor_used == 'process' else self._executor_used}).",
            "The same numbers come from the saved checkpoints with: " + self.command() + " (your builder of this "
            "network for --model).",
        ]
        tables = []
        figures = []
        if hess:
            text.append("Curvature of the batch loss at each checkpoint (float64, eval mode): λ_max(H) by Lanczos, "
                        "tr H by Hutch++ with its standard error, and the edge-of-stability ratio η λ_max / 2 (1: the "
                        "stability limit of gradient descent with learning rate η; with heavy-ball momentum β the "
                        "limit is η λ_max / (2(1+β)) = 1).")
            def num(x: Any) -> Any:
                return float(x) if x is not None and np.isfinite(x) else "—"

            tables.append(("Hessian per checkpoint", [
                {"step": h["step"], "λ_max(H)": h["lambda_max"], "η": num(h["lr"]), "β": num(h["momentum"]),
                 "η λ_max / 2": num(h["eos_ratio"]), "η λ_max / (2(1+β))": num(h["eos_ratio_momentum"]),
                 "tr H": h["trace"], "± SE": h["trace_se"], "batch loss": h["batch_loss"], "batch": h["batch_size"]}
                for h in hess]))
            figures.append((paths["hessian_over_training"], "λ_max(H) against the stability limit 2/η, and tr H ± SE"))
        if self._errors:
            tables.append(("analyses that failed in the worker (redone when the report was written)",
                           [{"step": s, "error": e} for s, e in sorted(self._errors.items())]))
        return Section("Monitor", text=text, tables=tables, figures=figures)


def _hessian_figure(hess: list[dict[str, Any]]) -> Any:
    from spinlens.report import new_figure

    steps = np.array([h["step"] for h in hess], dtype=float)
    x = np.where(steps > 0, steps, max(float(steps[steps > 0].min()) / 2, 0.5) if (steps > 0).any() else 1.0)
    lam = np.array([h["lambda_max"] for h in hess])
    tr = np.array([h["trace"] for h in hess])
    se = np.array([h["trace_se"] for h in hess])
    fig, axes = new_figure(1, 2, size=(9.6, 3.6))
    axes[0].plot(x, lam, "o-", ms=3, label="λ_max(H)")
    lrs = np.array([h["lr"] if h["lr"] is not None else np.nan for h in hess], dtype=float)
    if np.isfinite(lrs).any():
        axes[0].plot(x, 2 / lrs, "k--", lw=1, label="2 / η (gradient descent)")
        betas = np.array([h["momentum"] if h["momentum"] is not None else np.nan for h in hess], dtype=float)
        if (np.isfinite(betas) & (betas > 0)).any():
            axes[0].plot(x, 2 * (1 + betas) / lrs, "k:", lw=1, label="2(1+β) / η (heavy-ball momentum β)")
    axes[0].set(xscale="log", yscale="log", xlabel="training step (step 0 at the left edge)", ylabel="λ_max(H)",
                title="sharpness of the batch loss")
    axes[0].legend(frameon=False, fontsize=8)
    axes[1].errorbar(x, tr, yerr=se, fmt="o-", ms=3, capsize=2)
    axes[1].set(xscale="log", xlabel="training step", ylabel="tr H (Hutch++ ± SE)", title="Hessian trace")
    for a in axes:
        a.grid(alpha=0.3, which="both")
    return fig
