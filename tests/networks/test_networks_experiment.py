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
    recs = sorted((out / "analysis").glob("step_*.json"))
    assert len(recs) == len(ck)
    before = {p.name: p.stat().st_mtime_ns for p in recs}
    res2 = CliRunner().invoke(_app(), ["phases", "--out", str(out), *TINY])
    assert res2.exit_code == 0, res2.output
    assert {p.name: p.stat().st_mtime_ns for p in sorted((out / "analysis").glob("step_*.json"))} == before


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
        torch.save(net.state_dict(), ckdir / f"epoch{step}.pt")
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
