"""End to end: tiny network trained a few steps -> checkpoints, phases, report; user checkpoints; resume."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from spinlens.cli.phases import register
from spinlens.networks import mlp
from spinlens.networks.experiment import ExperimentConfig, list_checkpoints, run_experiment


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _cb() -> None:
        pass

    register(app)
    return app


TINY = ["--dataset", "digits", "--n-samples", "400", "--widths", "64,24,10", "--steps", "30",
        "--n-checkpoints", "5", "--n-starts", "3", "--tap-checkpoints", "2", "--lr", "0.1"]


def test_cli_end_to_end_and_resume(tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(_app(), ["phases", "--out", str(out), *TINY])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").is_file() and (out / "tc_vs_step.png").is_file()
    ck = list_checkpoints(out / "checkpoints")
    assert [s for s, _ in ck][0] == 0 and [s for s, _ in ck][-1] == 30
    results = json.loads((out / "results.json").read_text())["data"]
    assert len(results["phases"]) == len(ck)
    assert set(results["phases"]) <= {"paramagnet", "spin glass", "hidden order"}
    assert results["init_prediction"] > 0
    html = (out / "report.html").read_text()
    assert "layered-SK prediction" in html and "data:image/png;base64" in html
    recs = sorted((out / "analysis" / "units").glob("step_*.json"))
    assert len(recs) == len(ck)
    before = {p.name: p.stat().st_mtime_ns for p in recs}
    res2 = CliRunner().invoke(_app(), ["phases", "--out", str(out), *TINY])
    assert res2.exit_code == 0, res2.output
    assert {p.name: p.stat().st_mtime_ns for p in sorted((out / "analysis" / "units").glob("step_*.json"))} == before
    # a checkpoint overwritten with other weights (same name) is analysed again; the others are reused
    step, path = ck[-1]
    state = torch.load(path)
    torch.save({k: 2.0 * v for k, v in state.items()}, path)
    res3 = CliRunner().invoke(_app(), ["phases", "--out", str(out), *TINY])
    assert res3.exit_code == 0, res3.output
    after = {p.name: p.stat().st_mtime_ns for p in sorted((out / "analysis" / "units").glob("step_*.json"))}
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {f"step_{step:08d}.json"}, changed


def test_user_checkpoints_with_builder(tmp_path, monkeypatch):
    mod = tmp_path / "my_nets_for_spinlens.py"
    mod.write_text("import torch.nn as nn\n\ndef build():\n"
                   "    return nn.Sequential(nn.Linear(12, 9), nn.Tanh(), nn.Linear(9, 4))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ckdir = tmp_path / "cks"
    ckdir.mkdir()
    g = torch.Generator().manual_seed(0)
    net = mlp([12, 9, 4], "tanh", rng=0)
    for step in (0, 10, 100, 1000):
        with torch.no_grad():
            for p in net.parameters():
                p.mul_(1.3).add_(0.05 * torch.randn(p.shape, generator=g))
        torch.save(net.state_dict(), ckdir / f"ckpt_step{step}.pt")
    cfg = ExperimentConfig(checkpoint_dir=str(ckdir), model_builder="my_nets_for_spinlens:build", n_starts=2,
                           n_tap_checkpoints=1)
    r = run_experiment(cfg, tmp_path / "out")
    np.testing.assert_array_equal(r.steps, [0, 10, 100, 1000])
    assert r.widths == (12, 9, 4) and np.all(np.isfinite(r.t_star))
    sys.modules.pop("my_nets_for_spinlens", None)
    bad = ExperimentConfig(checkpoint_dir=str(ckdir), model_builder="my_nets_for_spinlens:nope")
    with pytest.raises(ValueError, match="no callable"):
        run_experiment(bad, tmp_path / "out2")


def test_cli_bad_input(tmp_path):
    res = CliRunner().invoke(_app(), ["phases", "--out", str(tmp_path / "x"), "--model", "a:b"])
    assert res.exit_code != 0 and "--checkpoints" in str(res.exception)
    (tmp_path / "conv").mkdir()
    torch.save({"0.weight": torch.zeros(2, 1, 3, 3)}, tmp_path / "conv" / "step_0.pt")
    res = CliRunner().invoke(_app(), ["phases", "--out", str(tmp_path / "y"), "--checkpoints", str(tmp_path / "conv")])
    assert res.exit_code != 0 and "not a Linear layer" in str(res.exception)


def test_cli_lazy_stays_glass_binarized_orders(tmp_path):
    """--lazy: weights barely move and T_c stays at the glass value; --binarized: hidden order appears."""
    base = ["--dataset", "digits", "--n-samples", "600", "--widths", "64,32,10", "--steps", "60",
            "--n-checkpoints", "6", "--lr", "0.1", "--n-starts", "0", "--tap-checkpoints", "0"]
    runs = {}
    for name, flags in (("lazy", ["--lazy"]), ("sign", ["--binarized"])):
        res = CliRunner().invoke(_app(), ["phases", "--out", str(tmp_path / name), *base, *flags])
        assert res.exit_code == 0, res.output
        runs[name] = dict(json.loads((tmp_path / name / "results.json").read_text())["data"])
        with np.load(tmp_path / name / "results.npz") as z:
            runs[name].update({k: z[k] for k in z.files})
        assert (tmp_path / name / "report.html").is_file()
    man = json.loads((tmp_path / "sign" / "manifest.json").read_text())["config"]
    assert man["activation"] == "sign" and man["lazy_scale"] is None
    assert json.loads((tmp_path / "lazy" / "manifest.json").read_text())["config"]["lazy_scale"] == 100.0
    lazy, sign = runs["lazy"], runs["sign"]
    t_lazy = lazy["t_c"]
    assert set(lazy["phases"]) == {"spin glass"}
    np.testing.assert_allclose(t_lazy, t_lazy[0], rtol=0.02)
    assert abs(t_lazy[0] / lazy["init_prediction"] - 1) < 0.05  # layered-SK prediction (106 spins)
    d_lazy, d_sign = lazy["rel_change"][-1], sign["rel_change"][-1]
    assert np.all(d_lazy < 0.05) and np.all(d_sign > 10 * d_lazy)
    t_sign = sign["t_c"]
    assert sign["phases"][0] == "spin glass" and sign["phases"][-1] == "hidden order"
    assert t_sign[-1] > 3 * t_sign[0]


def test_demo_runs_the_flagship_pipeline(tmp_path):
    from spinlens.cli.main import app

    out = tmp_path / "demo"
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "results.json").read_text())["data"]
    assert data["widths"] == [64, 32, 10] and len(data["phases"]) >= 5
    assert data["phases"][0] == "spin glass" and data["phases"][-1] == "hidden order"
    html = (out / "report.html").read_text()
    assert "spinlens demo: Phases over training" in html and "layered-SK prediction" in html


@pytest.mark.slow
def test_mc_crosscheck_on_a_small_trained_network():
    """Parallel tempering on a trained 64-32-10 network: no order above the TAP T_c, order building below."""
    from spinlens.data import load_dataset
    from spinlens.networks import to_spins, train
    from spinlens.networks.phases import analyze, mc_crosscheck

    tr = train(mlp([64, 32, 10], rng=0), load_dataset("digits", n_samples=600), 60, lr=0.1, checkpoints=2, rng=0,
               num_threads=1)
    m = to_spins(tr.state_dicts[-1])
    r = analyze(m, n_starts=0)
    assert r.phase == "hidden order"
    ratios = np.geomspace(0.6, 1.7, 12)
    mc = mc_crosscheck(m, ratios * r.t_c, n_sweeps=3000, rng=1)
    assert np.all(np.abs(mc.binder[ratios > 1.05]) < 0.2)  # paramagnet above T_c, as the stability says
    assert mc.binder[0] > 0.4  # order well below T_c
    assert mc.binder[0] > mc.binder[ratios > 1.05].max() + 0.3


def test_cli_mc_check(tmp_path):
    out = tmp_path / "mc"
    res = CliRunner().invoke(_app(), ["phases", "--out", str(out), *TINY, "--mc-check", "--mc-sweeps", "400"])
    assert res.exit_code == 0, res.output
    assert (out / "mc_crosscheck.png").is_file()
    with np.load(out / "mc_crosscheck.npz") as z:
        assert z["binder"].shape == (12,) and np.all(np.diff(z["temperatures"]) > 0)
        assert z["p_q"].shape[0] == 12
    assert "Monte Carlo cross-check" in (out / "report.html").read_text()
    res = CliRunner().invoke(_app(), ["phases", "--out", str(tmp_path / "big"), "--mc-check"])
    assert res.exit_code != 0 and "small networks" in str(res.exception)


def test_run_phases_defaults_are_the_command_defaults():
    """Training options left unset take ExperimentConfig's defaults (defined once); the help text quotes them."""
    from spinlens.cli.phases import _command_defaults, phases, run_phases

    d = _command_defaults()
    cfg = ExperimentConfig()
    for name in ("widths", "steps", "lr", "n_checkpoints", "batch_size", "optimizer", "dataset"):
        assert d[name] is None, name  # unset: "not given" is told apart from the default value
    assert (d["seed"], d["n_starts"], d["tap_checkpoints"]) == (cfg.seed, cfg.n_starts, cfg.n_tap_checkpoints)
    import inspect

    helps = {n: p.default.help for n, p in inspect.signature(phases).parameters.items() if hasattr(p.default, "help")}
    assert f"default {','.join(map(str, cfg.widths))}" in helps["widths"]
    for name in ("steps", "lr", "n_checkpoints", "batch_size"):
        assert f"default {getattr(cfg, name)}" in helps[name], name
    with pytest.raises(TypeError, match="unknown options"):
        run_phases("unused", stepz=3)
