"""PhaseMonitor in a plain loop: the same numbers as ``spinlens phases --checkpoints`` and as a direct analysis of the
weights, TensorBoard and CSV read back, the report re-rendered, the Hessian against exact values, bad networks refused
at the first step."""
from __future__ import annotations

import csv
import importlib.util
import json
import math
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from spinlens.monitor import PHASE_CODES, PhaseMonitor, hessian_unit, make_schedule, step_scalars
from spinlens.networks.phases import analyze
from spinlens.networks.reader import spin_graph
from tests.cli_helpers import run_main
from tests.monitor.monitor_helpers import LR, MODEL_FILE, MOMENTUM, assert_close_records, build, data, plain_loop

STEPS = 40
HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None
OPTIONS = dict(n_points=7, dataset="digits", n_samples=512, n_starts=2, tap_checkpoints=2, seed=3,
               loss_fn=F.cross_entropy, hessian_matvec=12, hessian_iter=30)


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """One monitored plain-loop run (worker process, TensorBoard, CSV, Hessian of each step's batch), closed right
    after training: close() analyses from the last checkpoint back while the worker goes on from the first."""
    out = tmp_path_factory.mktemp("plain") / "run"
    snaps: dict[int, dict] = {}
    mon = PhaseMonitor(out, total_steps=STEPS, tensorboard=HAS_TENSORBOARD, csv=True, **OPTIONS)
    plain_loop(mon, STEPS, snaps)
    result = mon.close()
    return {"out": out, "mon": mon, "snaps": snaps, "live": mon.hessian_records, "result": result}


def test_schedule_and_checkpoints(plain_run):
    out, mon = plain_run["out"], plain_run["mon"]
    sched = make_schedule("log", 7, STEPS)
    assert sched[0] == 0 and sched[-1] == STEPS and len(sched) == 7 and sched == mon.schedule
    assert sorted(plain_run["snaps"]) == sched
    from spinlens.networks.checkpoints import list_checkpoints, load_checkpoint

    cks = list_checkpoints(out / "checkpoints")
    assert [s for s, _ in cks] == sched
    for step, path in cks:  # weights_only-loadable state dicts of the weights at that step
        sd = load_checkpoint(path)
        for k, v in plain_run["snaps"][step].items():
            assert torch.equal(sd[k], v)
    assert plain_run["result"].steps.tolist() == sched
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["monitor"]["executor"] == "process" and manifest["monitor"]["schedule"] == sched


def test_numbers_match_direct_analysis_and_the_pipeline_reuses_the_monitors_units(plain_run):
    """T_c of each checkpoint equals analyze() of the snapshot of the weights taken in the loop (independent of the
    pipeline), and the pipeline's analyze_checkpoints reuses every unit the monitor stored (the same identity: none
    is analysed twice), one per step."""
    import dataclasses

    from spinlens.networks.checkpoints import list_checkpoints
    from spinlens.networks.experiment import analyze_checkpoints

    res, snaps, out = plain_run["result"], plain_run["snaps"], plain_run["out"]
    for k, step in enumerate(res.steps):
        net = build()
        net.load_state_dict(snaps[int(step)])
        direct = analyze(spin_graph(net.eval(), (1, 64)), n_grid=16, n_starts=0)
        assert res.phases[k] == direct.phase
        assert np.isclose(res.t_c[k], direct.t_c, rtol=1e-7, equal_nan=True)
        assert np.isclose(res.lambda_max[k], direct.lambda_max, rtol=1e-9)
    assert res.phases[0] == "spin glass" and res.phases[-1] == "hidden order"  # glass at init, order after training
    units = {p.name: p.stat().st_mtime_ns for p in (out / "analysis" / "units").glob("step_*.json")}
    assert sorted(units) == [f"step_{s:08d}.json" for s in res.steps]
    cfg = dataclasses.replace(plain_run["mon"].config, threads=None)
    records = analyze_checkpoints(cfg, list_checkpoints(out / "checkpoints"), out, class_alignment=True)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "analysis" / "units").glob("step_*.json")} == units
    assert records == json.loads((out / "checkpoints_analysis.json").read_text())
    assert sorted(h["step"] for h in plain_run["live"]) == res.steps.tolist()  # every step's Hessian, once


def test_same_numbers_as_spinlens_phases_on_the_saved_checkpoints(plain_run, tmp_path, monkeypatch, capsys):
    out, mon = plain_run["out"], plain_run["mon"]
    (tmp_path / "tiny_model.py").write_text(MODEL_FILE)
    monkeypatch.chdir(tmp_path)
    cli_out = tmp_path / "cli"
    argv = mon.command("tiny_model.py:build").split()[1:]
    assert argv[argv.index("--checkpoints") + 1] == str(out / "checkpoints")
    argv[argv.index("--out") + 1] = str(cli_out)
    code, text = run_main([*argv, "--workers", "1"], capsys)
    assert code == 0, text
    mine = json.loads((out / "checkpoints_analysis.json").read_text())
    theirs = json.loads((cli_out / "checkpoints_analysis.json").read_text())
    assert [r["step"] for r in mine] == [r["step"] for r in theirs] == mon.schedule
    assert sum(1 for r in mine if r["tap"]) == 2 and all(0 <= r["eval_accuracy"] <= 1 for r in mine)
    for a, b in zip(mine, theirs, strict=True):
        assert_close_records(a, b, where=f"step {a['step']}")
    r_mine = json.loads((out / "results.json").read_text())["data"]
    r_theirs = json.loads((cli_out / "results.json").read_text())["data"]
    assert r_mine["phases"] == r_theirs["phases"]
    assert_close_records(r_mine["fit"], r_theirs["fit"], where="fit")


def test_report_rerenders_and_holds_the_monitor_section(plain_run, capsys):
    out = plain_run["out"]
    (out / "report.html").unlink()
    code, text = run_main(["report", str(out)], capsys)
    assert code == 0, text
    html = (out / "report.html").read_text()
    for needle in ("Phases over training (monitored run)", "T_c", "Monitor", "spinlens phases --checkpoints",
                   "edge-of-stability", "Hessian per checkpoint"):
        assert needle in html, needle
    for fig in ("tc_vs_step.png", "stability_curves.png", "hessian_over_training.png"):
        assert (out / fig).stat().st_size > 1000


def test_tensorboard_events_hold_the_expected_tags_and_values(plain_run):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, res = plain_run["out"], plain_run["result"]
    acc = EventAccumulator(str(out / "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    for tag in ("spinlens/t_c", "spinlens/phase_code", "spinlens/lambda_max_J", "spinlens/t_star",
                "spinlens/outliers/W0", "spinlens/top_ratio/W1", "spinlens/weight_motion/W0",
                "spinlens/mode_share/input", "spinlens/eval_accuracy", "spinlens/hessian/lambda_max",
                "spinlens/hessian/eos_ratio", "spinlens/hessian/eos_ratio_momentum", "spinlens/hessian/trace",
                "spinlens/hessian/trace_se"):
        assert tag in tags, tag
    by_step = {int(s): k for k, s in enumerate(res.steps)}

    def series(tag):
        evs = acc.Scalars(tag)
        steps = [e.step for e in evs]
        assert len(steps) == len(set(steps)), f"{tag}: a step logged twice"
        return {e.step: e.value for e in evs}

    for tag in tags:  # whoever analysed a step (the worker, or close() in this process), it is logged once
        series(tag)

    t_c = series("spinlens/t_c")
    assert sorted(t_c) == sorted(s for s, k in by_step.items() if np.isfinite(res.t_c[k]))
    for s, v in t_c.items():
        assert np.isclose(v, res.t_c[by_step[s]], rtol=1e-6)  # float32 in the event file
    codes = series("spinlens/phase_code")
    assert [codes[s] for s in sorted(codes)] == [PHASE_CODES[p] for p in res.phases]
    motion = series("spinlens/weight_motion/W1")
    assert motion[0] == 0.0 and np.allclose([motion[s] for s in sorted(motion)], res.rel_change[:, 1], rtol=1e-6)
    hess = {h["step"]: h for h in json.loads((out / "hessian_analysis.json").read_text())}
    lam = series("spinlens/hessian/lambda_max")
    eos = series("spinlens/hessian/eos_ratio")
    assert sorted(lam) == sorted(hess) == res.steps.tolist()
    for s in lam:
        assert np.isclose(lam[s], hess[s]["lambda_max"], rtol=1e-6)
        assert np.isclose(eos[s], LR * hess[s]["lambda_max"] / 2, rtol=1e-6)  # lr read from the optimizer
        assert hess[s]["momentum"] == MOMENTUM and np.isclose(
            hess[s]["eos_ratio_momentum"], LR * hess[s]["lambda_max"] / (2 * (1 + MOMENTUM)))


def test_csv_has_one_row_per_step_with_the_records_values(plain_run):
    out, res = plain_run["out"], plain_run["result"]
    rows = list(csv.DictReader((out / "monitor.csv").open()))
    assert [int(r["step"]) for r in rows] == res.steps.tolist()
    assert [r["phase"] for r in rows] == list(res.phases)
    for k, r in enumerate(rows):
        assert (r["t_c"] == "") == (not np.isfinite(res.t_c[k]))
        if r["t_c"]:
            assert float(r["t_c"]) == pytest.approx(res.t_c[k], rel=1e-12)
        assert float(r["lambda_max_J"]) == pytest.approx(res.lambda_max[k], rel=1e-12)


def test_hessian_unit_against_the_exact_hessian(tmp_path):
    """λ_max(H) by Lanczos and tr H by Hutch++ against the dense Hessian of a 51-parameter network; Hutch++ with at
    least 3N products sketches the whole space, so its trace is exact."""
    from spinlens.monitor import _builders

    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(8, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    x = torch.randn(40, 8, dtype=torch.float64)
    y = torch.randint(0, 3, (40,))
    (tmp_path / "ck").mkdir()
    torch.save(net.state_dict(), tmp_path / "ck" / "step_00000007.pt")
    torch.save({"inputs": x, "targets": y}, tmp_path / "b.pt")
    name = "net_" + "ab" * 8
    spec = _builders.register(name, payload=pickle.dumps(net))
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    theta = torch.cat([p.detach().reshape(-1) for p in net.parameters()])

    def loss_of(th):
        parts, i = {}, 0
        for n, s in zip(names, shapes, strict=True):
            parts[n] = th[i: i + s.numel()].reshape(s)
            i += s.numel()
        return F.cross_entropy(torch.func.functional_call(net, parts, (x,)), y)

    H = torch.autograd.functional.hessian(loss_of, theta).numpy()
    ev = np.linalg.eigvalsh(H)
    n = H.shape[0]
    assert n == 51
    config = {"builder": spec, "checkpoint_dir": str(tmp_path / "ck"), "batch_dir": str(tmp_path),
              "loss_fn": F.cross_entropy, "n_matvec": 3 * n, "tol": 1e-10, "max_iter": n, "dtype": "float64",
              "method": "hutch++"}
    params = {"step": 7, "file": "step_00000007.pt", "batch_file": "b.pt", "lr": 0.2, "momentum": 0.5}
    rec = hessian_unit(config, "step_00000007", params, seed=5)["record"]
    assert rec["lambda_max"] == pytest.approx(ev[-1], rel=1e-8)
    assert rec["trace"] == pytest.approx(np.trace(H), rel=1e-8, abs=1e-10)
    assert rec["eos_ratio"] == pytest.approx(0.2 * ev[-1] / 2, rel=1e-8)
    assert rec["eos_ratio_momentum"] == pytest.approx(0.2 * ev[-1] / 3, rel=1e-8)
    assert rec["batch_loss"] == pytest.approx(float(loss_of(theta)), rel=1e-12)
    few = hessian_unit({**config, "n_matvec": 12}, "step_00000007", params, seed=5)["record"]
    assert few["trace_se"] > 0 and abs(few["trace"] - np.trace(H)) <= 4 * few["trace_se"]


def test_step_scalars_names_and_skips_non_finite_values():
    rec = {"step": 5, "t_c": "nan", "phase": "paramagnet", "t_star": 0.3, "f_min_rel": 0.2, "lambda_max": 1.5,
           "layers": [["input", [4]], ["1", [3]], ["output", [2]]],
           "blocks": [["input", "1", [3, 4]], ["1", "output", [2, 3]]],
           "outliers": [0, 1], "top_ratio": [0.9, 1.2], "rel_change": [0.1, float("nan")],
           "mode_share": [0.5, 0.3, 0.2]}
    sc = step_scalars(rec, {"lambda_max": 3.0, "eos_ratio": float("nan"), "trace": 9.0, "trace_se": 0.5})
    assert "t_c" not in sc and sc["phase_code"] == 0 and sc["lambda_max_J"] == 1.5
    assert sc["outliers/W1"] == 1 and sc["top_ratio/W0"] == 0.9 and "weight_motion/W1" not in sc
    assert sc["mode_share/output"] == 0.2 and sc["hessian/lambda_max"] == 3.0 and "hessian/eos_ratio" not in sc
    conv = {**rec, "layers": [["input", [1, 4, 4]], ["conv.1", [2, 4, 4]], ["output", [2]]],
            "blocks": [["input", "conv.1", [32, 16]], ["conv.1", "output", [2, 32]], ["input", "output", [2, 16]]]}
    assert [k for k in step_scalars(conv) if k.startswith("outliers/")] == ["outliers/input_to_conv.1",
                                                                           "outliers/conv.1_to_output"]
    assert step_scalars({"invalid": "NaN weights", "phase": "invalid"}) == {}


def test_refuses_unsupported_networks_at_the_first_step(tmp_path):
    X, y = data()
    images = X[:8].reshape(8, 1, 8, 8)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32, 10))
    mon = PhaseMonitor(tmp_path / "r", total_steps=10)
    with pytest.raises(ValueError, match="MaxPool2d"):
        mon.step(net, 0, batch=(images, y[:8]))
    with pytest.raises(ValueError, match="input_shape"):  # no batch: the shape of a conv input is asked for
        PhaseMonitor(tmp_path / "r", total_steps=10).step(net, 0)
    assert not (tmp_path / "r").exists()  # nothing written, no worker started
    with pytest.raises(TypeError, match="nn.Module"):
        PhaseMonitor(tmp_path / "r", total_steps=10).step({"w": torch.zeros(2)}, 0)


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="total_steps"):
        PhaseMonitor(tmp_path / "a")
    with pytest.raises(ValueError, match="executor"):
        PhaseMonitor(tmp_path / "a", total_steps=10, executor="gpu")
    with pytest.raises(ValueError, match="n_samples"):
        PhaseMonitor(tmp_path / "a", total_steps=10, n_samples=5)
    with pytest.raises(ValueError, match="loss_fn"):
        PhaseMonitor(tmp_path / "a", total_steps=10, hessian_batch=(torch.zeros(2, 3), torch.zeros(2)))
    with pytest.raises(ValueError, match="unknown dataset"):
        PhaseMonitor(tmp_path / "a", total_steps=10, dataset="cifar")
    with pytest.raises(ValueError, match="schedule"):
        PhaseMonitor(tmp_path / "a", schedule="cubic", total_steps=10)
    assert make_schedule([30, 0, 5, 5], None, None) == [0, 5, 30]
    assert make_schedule("linear", 5, 8) == [0, 2, 4, 6, 8]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        PhaseMonitor(tmp_path / "file", total_steps=10)
    assert not (tmp_path / "a").exists()


def test_every_k_steps_caller_shape_from_the_batch_thread_executor_and_resume_refusals(tmp_path):
    """A CNN whose input shape comes from the batch, analysed on a thread; a loop that calls every 4 steps
    checkpoints once per call that passes scheduled steps; resuming with another network or schedule is refused."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(32, 10))
    X, y = data()
    images = X[:64].reshape(64, 1, 8, 8)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    mon = PhaseMonitor(tmp_path / "r", schedule=[0, 1, 2, 3, 9, 16], executor="serial",  # thread: known fx race
 n_starts=0,
                       null_models=False)
    taken = []
    for t in range(0, 17, 4):
        if t:
            for _ in range(4):
                opt.zero_grad()
                F.cross_entropy(net(images), y[:64]).backward()
                opt.step()
        if mon.step(net, t, batch=(images, y[:64])):
            taken.append(t)
    assert taken == [0, 4, 12, 16]  # 1-3 fall in (0, 4]; 9 in (8, 12]
    mon.close(report=False)
    assert mon.config.input_shape == (1, 8, 8) and "--input-shape 1,8,8" in mon.command()
    recs = mon.records
    assert [r["step"] for r in recs] == taken
    direct = analyze(spin_graph(net.eval(), (1, 1, 8, 8)), n_starts=0)
    assert np.isclose(recs[-1]["t_c"], direct.t_c, rtol=1e-7, equal_nan=True) and recs[-1]["phase"] == direct.phase
    assert [tuple(s) for _, s in recs[0]["layers"]] == [(1, 8, 8), (2, 8, 8), (10,)]
    with pytest.raises(ValueError, match="another network"):
        PhaseMonitor(tmp_path / "r", schedule=[0, 1, 2, 3, 9, 16]).step(build(), 0)
    with pytest.raises(ValueError, match="another schedule"):
        PhaseMonitor(tmp_path / "r", schedule=[0, 5, 16], executor="thread").step(net, 0, batch=(images, y[:64]))
    with pytest.raises(RuntimeError, match="closed"):
        mon.step(net, 20)


def test_unpicklable_network_falls_back_to_a_thread(tmp_path, monkeypatch):
    """A network that cannot be pickled for the worker is analysed on a thread, with the same numbers; the report
    says so."""
    import spinlens.monitor.monitor as monitor_mod

    monkeypatch.setattr(monitor_mod, "_serialize", lambda net: (None, "pickle: a lambda in the module"))
    mon = PhaseMonitor(tmp_path / "r", total_steps=12, n_points=3, n_starts=0, null_models=False)
    plain_loop(mon, 12)
    res = mon.close()
    assert json.loads((tmp_path / "r" / "manifest.json").read_text())["monitor"]["executor"] == "thread"
    assert any("cannot be pickled" in n for n in res.notes)
    assert res.steps.tolist() == make_schedule("log", 3, 12) == [0, 1, 12] and all(math.isfinite(t) for t in res.t_c)


@pytest.mark.slow
def test_worker_that_cannot_rebuild_the_network_hands_over_to_a_thread(tmp_path, monkeypatch):
    """A class the worker process cannot import (its module exists only in the training process): the worker says
    so at start, and the analyses queued for it run on a thread instead; nothing is lost."""
    import sys
    import types

    mod = types.ModuleType("phantom_models")
    exec("import torch.nn as nn\n\nclass Phantom(nn.Sequential):\n    pass\n", mod.__dict__)  # noqa: S102
    monkeypatch.setitem(sys.modules, "phantom_models", mod)
    torch.manual_seed(0)
    net = mod.Phantom(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    X, y = data()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    mon = PhaseMonitor(tmp_path / "r", total_steps=12, n_points=4, n_starts=0, null_models=False, csv=True)
    mon.step(net, 0)
    for t in range(1, 13):
        opt.zero_grad()
        F.cross_entropy(net(X[:64]), y[:64]).backward()
        opt.step()
        mon.step(net, t)
    res = mon.close()
    assert any("worker could not read the network" in n and "phantom_models" in n for n in res.notes)
    assert res.steps.tolist() == make_schedule("log", 4, 12) and len(mon.records) == 4
    rows = (tmp_path / "r" / "monitor.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in rows[1:]] == res.steps.tolist()

