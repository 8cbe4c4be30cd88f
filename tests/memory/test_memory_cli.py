"""Smoke tests of ``spinlens hopfield capacity``, ``spinlens hopfield phase-diagram`` and ``spinlens rbm train``
on tiny settings."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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
    # one sweep unit per (N, alpha); a serial re-run reuses them all and reproduces the pooled run exactly
    units = sorted((out / "units").glob("*.json"))
    assert len(units) == 8
    before = {p.name: p.stat().st_mtime_ns for p in units}
    r = CliRunner().invoke(_app(), ["hopfield", "capacity", "--sizes", "60,120", "--alphas", "0.08,0.14,0.2,0.3",
                                    "--n-tested", "20", "--workers", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert {p.name: p.stat().st_mtime_ns for p in sorted((out / "units").glob("*.json"))} == before
    assert json.loads((out / "results.json").read_text())["data"] == data


def test_rbm_train_cli(tmp_path: Path) -> None:
    out = tmp_path / "rbm"
    r = CliRunner().invoke(_app(), ["rbm", "train", "--n-hidden", "12", "--n-epochs", "2", "--eval-every", "1",
                                    "--out", str(out)])
    assert r.exit_code == 0, r.output
    for f in ("report.html", "likelihood.png", "samples.png", "filters.png"):
        assert (out / f).exists()
    curve = json.loads((out / "results.json").read_text())["curve"]
    assert len(curve) == 2 and all(c["test_ll"] < 0 for c in curve)


def test_hopfield_phase_diagram_cli(tmp_path: Path) -> None:
    out = tmp_path / "pd"
    r = CliRunner().invoke(_app(), ["hopfield", "phase-diagram", "--n-spins", "100", "--alphas", "0.03,0.2",
                                    "--temperatures", "0.1,1.4", "--n-trials", "2", "--n-sweeps", "20",
                                    "--n-lines", "4", "--workers", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "report.html").exists() and (out / "phase_diagram.png").exists()
    z = np.load(out / "results.npz")
    m = z["m"]  # (T, alpha): retrieval at low T and load, lost when hot or overloaded
    assert m[0, 0] > 0.9 and m[1, 0] < 0.4 and m[1, 1] < 0.4
