"""Watch a network's phase while it trains (issue 16): a monitor for plain loops, PyTorch Lightning and TensorBoard.

* :class:`PhaseMonitor` — call ``mon.step(model, step)`` from any training loop: at log-spaced steps the network's
  state dict is saved into the run directory and analysed off the training thread (T_c and the phase from the TAP
  paramagnet's stability, λ_max(J) and outliers, weight motion, and with a loss the Hessian λ_max, edge-of-stability
  ratio and trace ± SE); ``mon.close()`` writes the same run directory as ``spinlens phases`` (``spinlens report``
  renders it, ``spinlens phases --checkpoints RUN/checkpoints --model FILE.py:BUILDER`` gives the same numbers).
* :class:`LightningPhaseMonitor` — the same as a PyTorch Lightning ``Callback`` (needs ``lightning``; imported on
  first use).
* :func:`step_scalars` — the scalars logged per step (TensorBoard tags ``spinlens/<name>``, CSV columns).
"""
from __future__ import annotations

from typing import Any

from spinlens.monitor._runner import PHASE_CODES, block_labels, hessian_unit, step_scalars
from spinlens.monitor.monitor import EXECUTORS, PhaseMonitor, make_schedule

__all__ = ["PhaseMonitor", "LightningPhaseMonitor", "step_scalars", "block_labels", "hessian_unit", "make_schedule",
           "PHASE_CODES", "EXECUTORS"]


def __getattr__(name: str) -> Any:
    if name == "LightningPhaseMonitor":
        from spinlens.monitor.lightning import LightningPhaseMonitor

        return LightningPhaseMonitor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
