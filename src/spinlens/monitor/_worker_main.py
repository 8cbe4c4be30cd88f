"""Entry point of the monitor's worker process: ``python -m spinlens.monitor._worker_main`` (see
:mod:`spinlens.monitor._worker`; a module of its own so that running it does not re-import a loaded module).

The worker's priority (``SPINLENS_MONITOR_PRIORITY``: ``idle`` or a nice increment) is lowered before anything is
imported, so that even its start-up (numpy, scipy, torch) runs only on CPU time the training leaves free.
"""
import os
import sys


def _lower_priority(priority: str) -> None:
    """``"idle"``: SCHED_IDLE where the OS has it (else nice 19); a number: that nice increment (0: unchanged)."""
    if priority == "idle":
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # type: ignore[attr-defined]
            return
        except (AttributeError, OSError):
            priority = "19"
    try:
        if int(priority) > 0:
            os.nice(int(priority))
    except (ValueError, OSError, AttributeError):
        pass


if __name__ == "__main__":
    _lower_priority(os.environ.get("SPINLENS_MONITOR_PRIORITY", "idle"))
    from spinlens.monitor._worker import main

    sys.exit(main())
