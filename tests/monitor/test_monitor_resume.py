"""Killing the training process mid-run (SIGKILL) and restarting it from its own checkpoint: no finished analysis is
lost or redone, no step is logged twice, and the run ends with every scheduled step."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent('''
    """A user's training script: resumes from its own checkpoint (every 5 steps); pauses at step 30 the first time."""
    import sys
    import time
    from pathlib import Path

    import torch
    import torch.nn.functional as F

    from spinlens.monitor import PhaseMonitor
    from tests.monitor.monitor_helpers import BATCH, build, data

    out, ck, executor = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    X, y = data()
    net = build()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    start = 0
    if ck.exists():
        state = torch.load(ck, weights_only=True)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start = state["step"]
    mon = PhaseMonitor(out, total_steps=60, n_points=10, tensorboard=True, csv=True, n_starts=2, tap_checkpoints=3,
                       null_models=False, executor=executor)
    mon.step(net, start, optimizer=opt)
    for t in range(start + 1, 61):
        i = (t - 1) % 8
        opt.zero_grad()
        F.cross_entropy(net(X[i * BATCH:(i + 1) * BATCH]), y[i * BATCH:(i + 1) * BATCH]).backward()
        opt.step()
        mon.step(net, t, optimizer=opt)
        if t % 5 == 0:
            torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "step": t}, str(ck) + ".tmp")
            Path(str(ck) + ".tmp").replace(ck)
        if t == 30 and start == 0:
            (out.parent / "paused").write_text("30")
            time.sleep(600)  # killed here by the test
    mon.close(report=False)
''')


def _units(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (out / "analysis" / "units").glob("step_*.json")}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def _kill_and_resume(tmp_path: Path, executor: str) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from spinlens.monitor import make_schedule
    from spinlens.sweeps import load_unit

    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    out, ck = tmp_path / "run", tmp_path / "train_state.pt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(script), str(out), str(ck), executor]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # paused at step 30, with some analyses finished
        if proc.poll() is not None:
            pytest.fail(f"the training script ended early:\n{proc.stdout.read().decode()[-3000:]}")
        if (tmp_path / "paused").exists() and len(_units(out)) >= 3:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the training script did not reach step 30 with 3 analyses in time")
    worker = int((out / "monitor" / "worker.pid").read_text()) if executor == "process" else None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if worker is not None:  # the worker dies with the training process
        for _ in range(100):
            if not _alive(worker):
                break
            time.sleep(0.1)
        assert not _alive(worker)
    before = _units(out)
    cks_before = {p.name: p.read_bytes() for p in (out / "checkpoints").glob("step_*.pt")}
    schedule = make_schedule("log", 10, 60)
    assert set(cks_before) == {f"step_{s:08d}.pt" for s in schedule if s <= 30}
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    after = _units(out)
    assert sorted(after) == [f"step_{s:08d}.json" for s in schedule]  # every step, once
    assert all(after[n] == b for n, b in before.items())  # finished analyses kept, not redone
    assert all((out / "checkpoints" / n).read_bytes() == b for n, b in cks_before.items())
    recs = [load_unit(out / "analysis", f"step_{s:08d}")["record"] for s in schedule]
    assert [r["step"] for r in recs] == schedule and not any(r.get("invalid") for r in recs)
    assert sum(1 for r in recs if r["tap"]) == 3
    rows = (out / "monitor.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == schedule
    acc = EventAccumulator(str(out / "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    for tag in ("spinlens/phase_code", "spinlens/lambda_max_J", "spinlens/weight_motion/W0"):
        steps = [e.step for e in acc.Scalars(tag)]
        assert sorted(steps) == schedule, tag  # each step once, across both runs' event files


def test_killed_training_resumes_without_losing_or_redoing_analyses_thread(tmp_path):
    """The analyses on a thread of the training process: SIGKILL takes the one in progress with it."""
    _kill_and_resume(tmp_path, "thread")


@pytest.mark.slow
def test_killed_training_resumes_without_losing_or_redoing_analyses_worker_process(tmp_path):
    """The default worker process: it dies with the killed training process (PR_SET_PDEATHSIG)."""
    _kill_and_resume(tmp_path, "process")
