"""PyTorch Lightning callback: :class:`LightningPhaseMonitor`, a thin adapter over :class:`PhaseMonitor`.

Needs ``lightning`` (``pip install 'spinlens[monitor]'``) or the older ``pytorch_lightning`` package: the callback
derives from the ``Callback`` class of whichever is installed (``lightning`` first).

The monitor sees the network after every optimizer step: at the start of the first training batch (step
``trainer.global_step``: 0 for a new run, the restored step when ``trainer.fit(..., ckpt_path=...)`` resumes, with that
batch for the input shape) and at the end of every training batch (``trainer.global_step`` counts optimizer steps, so
gradient accumulation repeats a step, which the monitor takes once). The learning rate and SGD momentum come from the
first optimizer. In distributed training only global rank 0 monitors. ``on_train_end`` closes the monitor (waits for
the analyses, writes the report); an exception in training closes it without waiting, and a resumed fit continues the
same run directory.
"""
from __future__ import annotations

import os
from typing import Any

from spinlens.monitor.monitor import PhaseMonitor

try:
    from lightning.pytorch import Callback as _Callback
except ImportError:  # pragma: no cover - depends on the environment
    try:
        from pytorch_lightning import Callback as _Callback  # type: ignore[no-redef, assignment]
    except ImportError:
        raise ImportError("LightningPhaseMonitor needs PyTorch Lightning: pip install lightning (or pip install "
                          "'spinlens[monitor]'); in any other loop use spinlens.monitor.PhaseMonitor.") from None

__all__ = ["LightningPhaseMonitor"]


class LightningPhaseMonitor(_Callback):  # type: ignore[misc, valid-type]
    """:class:`~spinlens.monitor.PhaseMonitor` as a Lightning ``Callback``.

    Parameters
    ----------
    out : the run directory (as :class:`~spinlens.monitor.PhaseMonitor`).
    module : the attribute path of the network inside the ``LightningModule`` (e.g. ``"net"``); default the
        ``LightningModule`` itself (its ``forward`` is mapped; checkpoints then carry its key prefix, e.g. ``net.``,
        which ``spinlens phases --model`` strips).
    total_steps : optimizer steps of the run for the schedule; default ``trainer.max_steps``, else
        ``trainer.estimated_stepping_batches``.
    use_batch : hand each step's training batch to the monitor (the Hessian's batch when a ``loss_fn`` is given
        without a ``hessian_batch``, and the input shape).
    report : write the run directory's results and report when training ends (else only the analyses).
    **options : every other option of :class:`~spinlens.monitor.PhaseMonitor` (``loss_fn``, ``tensorboard``, ``csv``,
        ``n_points``, ``schedule``, ``dataset``, ...).
    """

    def __init__(self, out: str | os.PathLike[str], *, module: str | None = None, total_steps: int | None = None,
                 use_batch: bool = True, report: bool = True, **options: Any) -> None:
        super().__init__()
        self.out = out
        self.module = module
        self.total_steps = total_steps
        self.use_batch = use_batch
        self.report = report
        self.options = options
        self.monitor: PhaseMonitor | None = None
        self.result: Any = None
        self._seen_first = False

    def _net(self, pl_module: Any) -> Any:
        return pl_module if self.module is None else pl_module.get_submodule(self.module)

    def _optimizer(self, trainer: Any) -> Any:
        opts = getattr(trainer, "optimizers", None) or []
        return opts[0] if opts else None

    def _monitor(self, trainer: Any) -> PhaseMonitor:
        if self.monitor is None:
            total = self.total_steps
            if total is None and self.options.get("schedule", "log") in ("log", "linear"):
                max_steps = int(getattr(trainer, "max_steps", -1) or -1)
                total = max_steps if max_steps > 0 else int(trainer.estimated_stepping_batches)
            self.monitor = PhaseMonitor(self.out, total_steps=total, **self.options)
        return self.monitor

    def _step(self, trainer: Any, pl_module: Any, batch: Any) -> None:
        if not getattr(trainer, "is_global_zero", True):  # distributed training: rank 0 monitors, the others train
            return
        self._monitor(trainer).step(self._net(pl_module), int(trainer.global_step),
                                    batch=batch if self.use_batch else None, optimizer=self._optimizer(trainer))

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if not self._seen_first:  # the network before this fit's first optimizer step (step 0, or the resumed step)
            self._seen_first = True
            self._step(trainer, pl_module, batch)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._step(trainer, pl_module, batch)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.monitor is not None:
            self.result = self.monitor.close(report=self.report)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if self.monitor is not None:
            self.monitor.close(wait=False, report=False)
