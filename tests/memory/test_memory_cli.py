"""Smoke tests of ``spinlens hopfield capacity`` and ``spinlens rbm train`` on tiny settings."""
from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from spinlens.cli import hopfield, rbm


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        pass

    hopfield.register(app)
    rbm.register(app)
    return app


def test_hopfield_capacity_cli(tmp_path: Path) -> None:
    out = tmp_path / "cap"
    r = CliRunner().invoke(_app(), ["hopfield", "capacity", "--sizes", "60,120", "--alphas", "0.08,0.14,0.2,0.3",
                                    "--n-tested", "20", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "report.html").exists() and (out / "capacity.png").exists()
    data = json.loads((out / "results.json").read_text())["data"]
    assert 0.0 < data["alpha_c"]["mean"] < 0.4


def test_rbm_train_cli(tmp_path: Path) -> None:
    out = tmp_path / "rbm"
    r = CliRunner().invoke(_app(), ["rbm", "train", "--n-hidden", "12", "--n-epochs", "2", "--eval-every", "1",
                                    "--out", str(out)])
    assert r.exit_code == 0, r.output
    for f in ("report.html", "likelihood.png", "samples.png", "filters.png"):
        assert (out / f).exists()
    curve = json.loads((out / "results.json").read_text())["curve"]
    assert len(curve) == 2 and all(c["test_ll"] < 0 for c in curve)
