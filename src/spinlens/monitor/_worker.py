"""The monitor's worker process (``python -m spinlens.monitor._worker_main``) and the training side's handle on it.

The worker is a plain child process, not a ``multiprocessing`` one: it never imports the training script's
``__main__`` (a script without an ``if __name__ == "__main__":`` guard would otherwise start training again in the
child). Messages are length-prefixed pickles over its stdin/stdout; its stdout is kept for them (anything the user's
code prints in the worker goes to stderr, which is the run's ``monitor/worker.log``).

Protocol (training side → worker): ``("init", spec)`` once, then ``("task", id, task)``; ``("stop",)`` finishes the
queued tasks and exits, ``("abort",)`` exits after the task in progress. Worker → training side: ``("ready",)`` or
``("init_error", text)``, then ``("start", id)`` and ``("done", id, output)`` or ``("error", id, text)`` per task.
The worker reads its stdin on a thread of its own, so the training side never blocks on a full pipe. It runs at
idle scheduling priority (Linux ``SCHED_IDLE``: only on CPU time that nothing else wants; or at a given ``nice``
increment) with one thread for torch and BLAS, and on Linux it dies with the training process
(``PR_SET_PDEATHSIG``): its finished analyses are already on disk (written atomically), and a resumed run redoes
only the one in progress.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import itertools
import logging
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["ProcessWorker", "WorkerError", "main"]

log = logging.getLogger(__name__)
_HEADER = struct.Struct("<Q")


class WorkerError(RuntimeError):
    """The worker process could not start, could not read the network, or died."""


def _dumps(obj: Any) -> bytes:
    """Pickle bytes; cloudpickle where installed (a loss function defined in a script or a lambda travels too)."""
    try:
        import cloudpickle
    except ImportError:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _send(stream: IO[bytes], obj: Any, data: bytes | None = None) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL) if data is None else data
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _recv(stream: IO[bytes]) -> Any:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (n,) = _HEADER.unpack(head)
    data = stream.read(n)
    if len(data) < n:
        return None
    return pickle.loads(data)  # noqa: S301 - messages of our own training process


# ---------------------------------------------------------------------------------------------- worker side
def _die_with_parent() -> None:
    """Linux: SIGTERM when the process that started the worker dies (a killed training run leaves no worker)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def main() -> int:
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # fd 1 (C-level prints) goes to the log too
    sys.stdout = sys.stderr
    parent = int(os.environ.get("SPINLENS_MONITOR_PARENT", "0"))
    _die_with_parent()
    if parent and os.getppid() != parent:
        return 0  # the training process died before the worker was set up
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s spinlens-monitor-worker %(levelname)s %(message)s")
    inbox: queue.Queue[Any] = queue.Queue()
    aborted = threading.Event()

    def read() -> None:
        stdin = sys.stdin.buffer
        while True:
            msg = _recv(stdin)
            if msg is None or msg[0] == "abort":
                aborted.set()
                inbox.put(None)
                return
            inbox.put(msg)

    threading.Thread(target=read, daemon=True).start()
    first = inbox.get()
    if first is None:
        return 0
    try:
        spec = first[1]
        if spec.get("cwd"):
            os.chdir(spec["cwd"])
        sys.path[:0] = [p for p in spec.get("sys_path", []) if p not in sys.path]
        import torch

        torch.set_num_threads(1)
        from spinlens.monitor import _builders
        from spinlens.monitor._runner import Runner

        _builders.register(spec["builder_name"], payload=spec["builder_payload"])
        _builders.Builder(spec["builder_name"])()  # the network unpickles here, or the training side hears why now
        runner = Runner(spec["runner"])
    except Exception as exc:  # noqa: BLE001 - sent to the training side, which falls back to a thread
        _send(proto_out, ("init_error", f"{type(exc).__name__}: {exc}"))
        return 1
    _send(proto_out, ("ready",))
    try:
        while not aborted.is_set():
            msg = inbox.get()
            if msg is None or msg[0] == "stop" or aborted.is_set():
                break
            _, task_id, task = msg
            _send(proto_out, ("start", task_id))
            try:
                out = runner.run(task)
            except Exception as exc:  # noqa: BLE001 - reported with the task; the traceback goes to worker.log
                sys.stderr.write(f"step {task.get('step')}:\n{traceback.format_exc()}\n")
                sys.stderr.flush()
                _send(proto_out, ("error", task_id, f"{type(exc).__name__}: {exc}"))
                continue
            _send(proto_out, ("done", task_id, out))
    finally:
        runner.close()
    return 0


# ---------------------------------------------------------------------------------------------- training side
class ProcessWorker:
    """Starts the worker and hands it tasks; ``submit`` returns a ``concurrent.futures.Future`` at once.

    ``on_init_error(text, tasks)`` is called (on the reader thread) if the worker cannot start or cannot read the
    network, with the tasks not done yet; their futures are then left to the caller (who reruns them elsewhere).
    """

    def __init__(self, spec: dict[str, Any], log_path: Path,
                 on_init_error: Callable[[str, list[tuple[dict[str, Any], cf.Future[Any]]]], None]) -> None:
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            env[var] = "1"
        paths = [p or os.getcwd() for p in sys.path]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        init = _dumps(("init", {**spec, "cwd": os.getcwd(), "sys_path": paths}))  # refused here if it cannot travel
        env["SPINLENS_MONITOR_PARENT"] = str(os.getpid())
        env["SPINLENS_MONITOR_PRIORITY"] = str(spec.get("priority", "idle"))  # applied before the worker imports
        env.setdefault("MPLBACKEND", "Agg")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")  # noqa: SIM115 - open for the worker's lifetime
        self.proc = subprocess.Popen([sys.executable, "-m", "spinlens.monitor._worker_main"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, env=env, cwd=os.getcwd())
        with contextlib.suppress(OSError):  # who the worker is (a killed training run's worker dies with it)
            (log_path.parent / "worker.pid").write_text(f"{self.proc.pid}\n")
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._pending: dict[int, tuple[dict[str, Any], cf.Future[Any]]] = {}
        self._started: set[int] = set()  # steps whose task the worker has begun
        self._on_init_error = on_init_error
        self.ready = threading.Event()
        self.failed: str | None = None
        self._dead = False
        assert self.proc.stdin is not None
        _send(self.proc.stdin, None, data=init)
        self._reader = threading.Thread(target=self._read, name="spinlens-monitor-reader", daemon=True)
        self._reader.start()

    def submit(self, task: dict[str, Any]) -> cf.Future[Any]:
        fut: cf.Future[Any] = cf.Future()
        with self._lock:
            if self.failed is not None or self._dead:
                raise WorkerError(self.failed or "the monitor's worker process has exited.")
            task_id = next(self._ids)
            self._pending[task_id] = (task, fut)
            try:
                assert self.proc.stdin is not None
                _send(self.proc.stdin, None, data=_dumps(("task", task_id, task)))
            except (BrokenPipeError, OSError, ValueError):
                del self._pending[task_id]
                raise WorkerError("the monitor's worker process has exited.") from None
        return fut

    def started(self, step: int) -> bool:
        """Whether the worker has begun (or finished) the task of ``step``."""
        with self._lock:
            return int(step) in self._started

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            try:
                msg = _recv(self.proc.stdout)
            except Exception:  # noqa: BLE001 - a torn message means the worker died
                msg = None
            if msg is None:
                break
            if msg[0] == "ready":
                self.ready.set()
            elif msg[0] == "start":
                with self._lock:
                    item = self._pending.get(msg[1])
                    if item is not None:
                        self._started.add(int(item[0]["step"]))
            elif msg[0] == "init_error":
                with self._lock:
                    self.failed = msg[1]
                    left = list(self._pending.values())
                    self._pending.clear()
                self.ready.set()
                self._on_init_error(msg[1], left)
                return
            else:
                with self._lock:
                    item = self._pending.pop(msg[1], None)
                if item is None:
                    continue
                if msg[0] == "done":
                    item[1].set_result(msg[2])
                else:
                    item[1].set_exception(WorkerError(msg[2]))
        with self._lock:
            self._dead = True
            left = list(self._pending.values())
            self._pending.clear()
        self.ready.set()
        code = self.proc.poll()
        for _, fut in left:
            if not fut.done():
                fut.set_exception(WorkerError(f"the monitor's worker process exited (code {code}) before this "
                                              "analysis finished; see monitor/worker.log."))

    def close(self, wait: bool = True, timeout: float | None = None) -> bool:
        """``wait``: finish every queued task, then exit; else exit after the task in progress. A worker that has not
        exited after ``timeout`` seconds (at idle priority on a busy machine it may get no CPU at all) is terminated;
        its finished analyses are on disk. Returns whether it exited by itself."""
        with self._lock:
            with contextlib.suppress(BrokenPipeError, OSError, ValueError):
                assert self.proc.stdin is not None
                _send(self.proc.stdin, ("stop",) if wait else ("abort",))
                self.proc.stdin.close()
        clean = True
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            clean = False
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        self._log.close()
        return clean

    @property
    def pid(self) -> int:
        return int(self.proc.pid)
