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


_USER_NET = """
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 12)
        self.fc2 = nn.Linear(12, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x.view(x.size(0), -1))))
"""


def _user_run(tmp_path, monkeypatch):
    """A user's own nn.Module trained a few steps, saved as training dicts; one checkpoint diverged."""
    monkeypatch.chdir(tmp_path)  # --model mymod:Net is imported from the current directory
    (tmp_path / "user_net_for_spinlens.py").write_text(_USER_NET)
    sys.modules.pop("user_net_for_spinlens", None)
    space: dict = {}
    exec(_USER_NET, space)
    Net = space["Net"]

    from spinlens.data import load_dataset

    d = load_dataset("digits", n_samples=300)
    X, y = torch.as_tensor(d.X, dtype=torch.float32), torch.as_tensor(d.y)
    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.2, momentum=0.9)
    ck = tmp_path / "cks"
    ck.mkdir()
    for step in range(41):
        if step in (0, 5, 20, 40):
            torch.save({"model_state_dict": net.state_dict(), "step": step}, ck / f"ckpt_{step}.pt")
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    bad = {k: v.clone() for k, v in net.state_dict().items()}
    bad["fc2.weight"][0, 0] = float("nan")
    torch.save(bad, ck / "ckpt_30.pt")
    return ck


FAST = ["--n-starts", "0", "--tap-checkpoints", "0", "--workers", "1"]


def test_user_checkpoints_give_a_report_of_this_run_only(tmp_path, monkeypatch):
    """Items 6, 7: options that do not apply are refused, the dataset is used, a diverged checkpoint is marked."""
    ck = _user_run(tmp_path, monkeypatch)
    base = ["phases", "--checkpoints", str(ck), "--model", "user_net_for_spinlens:Net", *FAST]
    for extra, what in ((["--lr", "0.1"], "--lr describes training"),
                        (["--steps", "9", "--binarized"], "--steps, --binarized describe training"),
                        (["--widths", "784,256,10"], "contradicts the checkpoints"),
                        (["--n-samples", "10"], "give --dataset too")):
        res = CliRunner().invoke(_app(), [*base, "--out", str(tmp_path / "no"), *extra])
        assert res.exit_code != 0 and what in str(res.exception), (extra, res.output, res.exception)
        assert not (tmp_path / "no").exists()  # refused before a run directory is made
    out = tmp_path / "run"
    res = CliRunner().invoke(_app(), [*base, "--out", str(out), "--dataset", "digits", "--n-samples", "300",
                                      "--widths", "64,12,10"])
    assert res.exit_code == 1, res.output  # the diverged checkpoint is an error, after the others are analysed
    assert "ckpt_30.pt" in res.output and "NaN" in res.output
    data = json.loads((out / "results.json").read_text())["data"]
    assert data["phases"][3] == "invalid" and data["invalid"][0]["file"] == "ckpt_30.pt"
    assert [p for k, p in enumerate(data["phases"]) if k != 3] and "invalid" not in data["phases"][:3]
    with np.load(out / "results.npz") as z:
        assert np.isnan(z["t_c"][3]) and np.all(np.isfinite(z["t_star"][[0, 1, 2, 4]]))
        acc = z["eval_accuracy"]
    assert acc[-1] > 0.5 and acc[-1] > acc[0]  # the checkpoints' own forward pass on the given data
    manifest = json.loads((out / "manifest.json").read_text())["config"]
    assert manifest["dataset"] == "digits" and manifest["model_builder"] == "user_net_for_spinlens:Net"
    for key in ("steps", "lr", "optimizer", "batch_size", "n_checkpoints", "widths", "activation"):
        assert key not in manifest, key  # training options did not apply: not recorded as if they did
    html = (out / "report.html").read_text()
    assert "acc (digits)" in html and "could not be analysed" in html and "traced with torch.fx" in html
    assert "samples flat (64 values per sample)" in html  # the input shape assumed for the user's module is said
    assert ">nan<" not in html and "± 0.000" not in html


def test_state_dict_checkpoints_say_what_was_assumed(tmp_path):
    """Item 5: a state dict alone cannot show the forward pass; the result and the report say so."""
    ck = tmp_path / "cks"
    ck.mkdir()
    net = mlp([12, 9, 4], rng=0)
    g = torch.Generator().manual_seed(0)
    for step in (0, 10, 100, 1000):
        with torch.no_grad():
            for p in net.parameters():
                p.mul_(1.3).add_(0.05 * torch.randn(p.shape, generator=g))
        torch.save(net.state_dict(), ck / f"step_{step}.pt")
    out = tmp_path / "run"
    res = CliRunner().invoke(_app(), ["phases", "--checkpoints", str(ck), "--out", str(out), *FAST,
                                      "--dataset", "digits"])
    assert res.exit_code != 0 and "features" in str(res.exception)  # 64 pixels, 12 inputs: refused, not ignored
    res = CliRunner().invoke(_app(), ["phases", "--checkpoints", str(ck), "--out", str(out), *FAST])
    assert res.exit_code == 0, res.output
    notes = json.loads((out / "results.json").read_text())["data"]["notes"]
    assert any("does not record the forward pass" in n for n in notes)
    assert any("no dataset was given" in n for n in notes)
    assert "does not record the forward pass" in (out / "report.html").read_text()


def test_an_edited_model_builder_is_analysed_again(tmp_path, monkeypatch):
    """Review of issue 17: stored analyses were reused after the --model source changed (ReLU -> Tanh)."""
    ck = _user_run(tmp_path, monkeypatch)
    (ck / "ckpt_30.pt").unlink()
    argv = ["phases", "--checkpoints", str(ck), "--model", "user_net_for_spinlens:Net", *FAST, "--out",
            str(tmp_path / "run")]

    def stamps():
        return {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run" / "analysis" / "units").glob("step_*.json")}

    assert CliRunner().invoke(_app(), argv).exit_code == 0
    first = stamps()
    assert CliRunner().invoke(_app(), argv).exit_code == 0
    assert stamps() == first  # unchanged: reused
    src = tmp_path / "user_net_for_spinlens.py"
    src.write_text(src.read_text().replace("F.relu", "torch.tanh").replace("import torch.nn as nn",
                                                                          "import torch\nimport torch.nn as nn"))
    sys.modules.pop("user_net_for_spinlens", None)
    assert CliRunner().invoke(_app(), argv).exit_code == 0
    again = stamps()
    assert set(again) == set(first) and all(again[k] != first[k] for k in first)


def test_held_out_accuracy_is_recorded_at_every_checkpoint(tmp_path):
    """Issue 15 item 1: test accuracy on samples held out of training, beside the training accuracy."""
    from spinlens._rng import spawn
    from spinlens.data import load_dataset
    from spinlens.networks import load_checkpoint
    from spinlens.networks.experiment import ExperimentConfig, run_experiment

    cfg = ExperimentConfig(widths=(64, 16, 10), dataset="digits", n_samples=400, steps=30, n_checkpoints=3,
                           lr=0.1, n_starts=0, test_fraction=0.25)
    res = run_experiment(cfg, tmp_path / "run")
    assert res.test_accuracy is not None and np.all(np.isfinite(res.test_accuracy))
    idx = json.loads((tmp_path / "run" / "checkpoints" / "checkpoints.json").read_text())
    assert idx["config"]["n_samples"] == 300 and idx["config"]["n_test"] == 100  # trained on 75% only
    _, held = load_dataset("digits", n_samples=400).split(0.25, rng=spawn(cfg.seed, 3)[2])
    net = mlp((64, 16, 10))
    net.load_state_dict(load_checkpoint(tmp_path / "run" / "checkpoints" / "step_00000030.pt"))
    with torch.no_grad():
        acc = float((net(torch.tensor(held.X, dtype=torch.float32)).argmax(1).numpy() == held.y).mean())
    assert res.test_accuracy[-1] == pytest.approx(acc, abs=1e-12)


def test_preset_values_and_overrides(tmp_path, capsys):
    """Issue 15 item 1: --preset barney2024 sets the paper's network and training; options given override it."""
    from spinlens.networks.experiment import PRESETS, preset_config
    from spinlens.networks.train import checkpoint_steps
    from tests.cli_helpers import run_main

    cfg = preset_config("barney2024")
    assert cfg.widths == (784, 512, 512, 512, 10) and not cfg.bias and cfg.init == "normal"
    assert (cfg.lr, cfg.momentum, cfg.batch_size, cfg.optimizer) == (0.01, 0.9, 64, "sgd")
    assert set(range(10)) <= set(checkpoint_steps(cfg.steps, cfg.n_checkpoints, cfg.dense_checkpoints))
    out = tmp_path / "run"
    code, text = run_main(["phases", "--preset", "barney2024", "--widths", "784,8,10", "--steps", "6",
                           "--n-checkpoints", "2", "--n-samples", "200", "--n-starts", "0", "--workers", "1",
                           "--out", str(out)], capsys)
    assert code == 0, text
    manifest = json.loads((out / "manifest.json").read_text())["config"]
    assert manifest["preset"] == "barney2024" and manifest["widths"] == [784, 8, 10] and manifest["steps"] == 6
    assert manifest["lr"] == PRESETS["barney2024"]["lr"] and manifest["bias"] is False
    idx = json.loads((out / "checkpoints" / "checkpoints.json").read_text())
    assert [c["step"] for c in idx["checkpoints"]] == [0, 1, 2, 3, 4, 5, 6]  # dense early checkpoints
    from spinlens.networks import load_checkpoint

    sd = load_checkpoint(out / "checkpoints" / "step_00000000.pt")
    assert set(sd) == {"0.weight", "2.weight"}  # no biases
    assert float(sd["0.weight"].double().var()) * 784 == pytest.approx(1.0, rel=0.1)  # N(0, 1/fan_in)
    code, text = run_main(["phases", "--preset", "barney2024", "--arch", "cnn", "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "MLP set-up" in text


def test_saturation_test_tells_a_broken_power_law_from_a_pure_one():
    """Issue 15 item 3: a pure power law against a broken one by BIC, on synthetic T_c(t) with 2% noise."""
    from spinlens.networks.experiment import saturation_test

    g = np.random.default_rng(0)
    t = np.geomspace(10, 10_000, 16)
    pure = 0.3 * t**0.4 * np.exp(0.02 * g.standard_normal(16))
    r = saturation_test(t, pure)
    assert not r.broken and np.isnan(r.break_step) and r.delta_bic <= 6
    bent = np.where(t < 500, 0.3 * t**0.4, 0.3 * 500**0.4 * (t / 500) ** 0.05) * np.exp(0.02 * g.standard_normal(16))
    r = saturation_test(t, bent)
    assert r.broken and 250 < r.break_step < 1000
    assert r.exponent_before == pytest.approx(0.4, abs=0.05) and r.exponent_after == pytest.approx(0.05, abs=0.05)
    with pytest.raises(ValueError, match="at least 3"):
        saturation_test([1, 2], [1, 2])


def test_cli_census_of_the_last_checkpoint(tmp_path, capsys):
    """Issue 15 item 4: the TAP census of a hidden-order checkpoint finds one ordered minimum pair, and its melting
    temperature on heating is the stability-curve T_c."""
    from tests.cli_helpers import run_main

    out = tmp_path / "run"
    code, text = run_main(["phases", "--census", "--dataset", "digits", "--n-samples", "400", "--widths", "64,24,10",
                           "--steps", "60", "--n-checkpoints", "3", "--n-starts", "0", "--lr", "0.1", "--workers", "1",
                           "--no-null-models", "--out", str(out)], capsys)
    assert code == 0, text
    data = json.loads((out / "results.json").read_text())["data"]
    assert data["phases"][-1] == "hidden order"
    census = json.loads((out / "tap_census.json").read_text())["data"]
    assert census["phases"][1] == "hidden order"  # at 0.7 T_c
    html = (out / "report.html").read_text()
    m = __import__("re").search(r"([0-9.]+) × the stability-curve T_c", html)
    assert m is not None and abs(float(m.group(1)) - 1.0) < 0.02
