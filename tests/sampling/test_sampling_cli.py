"""The ``spinlens ising`` and ``spinlens sk`` commands on tiny inputs."""
from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from spinlens.cli import ising, sk


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:  # keep subcommands as subcommands
        pass

    ising.register(app)
    sk.register(app)
    return app


def test_ising_command(tmp_path):
    out = tmp_path / "ising"
    r = CliRunner().invoke(_app(), ["ising", "--L", "4,8", "--temps", "1.9:2.7:5", "--sweeps", "300",
                                    "--chains", "2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    for f in ("report.html", "thermodynamics.png", "collapse.png", "results.json", "results.npz", "manifest.json"):
        assert (out / f).exists(), f
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tc_pairs"][0]["L1"] == 4


def test_sk_command(tmp_path):
    out = tmp_path / "sk"
    r = CliRunner().invoke(_app(), ["sk", "--N", "12,16", "--temps", "0.5:1.5:4", "--samples", "2", "--sweeps",
                                    "100", "--anneal-steps", "40", "--restarts", "2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    for f in ("report.html", "sk_scan.png", "overlaps.png", "results.json"):
        assert (out / f).exists(), f


def test_bad_options(tmp_path):
    r = CliRunner().invoke(_app(), ["ising", "--temps", "2.0:x:3", "--out", str(tmp_path / "x")])
    assert r.exit_code != 0
