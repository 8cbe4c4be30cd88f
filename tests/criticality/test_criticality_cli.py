"""CLI: default analysis writes a run directory with report; ``init`` prints the critical initialisation."""
from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from spinlens.cli.criticality import register


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:  # keeps "criticality" as a subcommand group
        pass

    register(app)
    return app


def test_criticality_init_prints_gelu_values() -> None:
    res = CliRunner().invoke(_app(), ["criticality", "init", "--activation", "gelu"])
    assert res.exit_code == 0, res.output
    assert "0.17292239" in res.output and "1.98305826" in res.output and "half-stable" in res.output


def test_criticality_default_analysis_writes_report(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = CliRunner().invoke(_app(), ["criticality", "--activation", "tanh", "--out", str(out), "--grid", "24",
                                      "--width", "60", "--depth", "6", "--n-networks", "3"])
    assert res.exit_code == 0, res.output
    for name in ("report.html", "manifest.json", "phase_diagram.json", "phase_diagram.npz", "phase_diagram.png",
                 "rg_flow.png", "simulation_critical.png"):
        assert (out / name).exists(), name
