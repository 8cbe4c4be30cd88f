"""`spinlens landscape` and `spinlens hessian` through typer's CliRunner (small settings)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from spinlens.cli.landscape import register


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        pass

    register(app)
    return app


def test_hessian_command(tmp_path: Path) -> None:
    out = tmp_path / "h"
    r = CliRunner().invoke(_app(), ["hessian", "--hidden", "8", "--epochs", "1", "--n-train", "200", "--k", "2",
                                    "--trace-matvec", "12", "--density-steps", "10", "--density-vectors", "1",
                                    "--out", str(out)])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert len(s["eigenvalues"]) == 4 and s["eigenvalues"][0] >= s["eigenvalues"][2]
    assert (out / "report.html").exists() and (out / "spectrum.png").exists()


@pytest.mark.slow
def test_landscape_command(tmp_path: Path) -> None:
    out = tmp_path / "l"
    r = CliRunner().invoke(_app(), ["landscape", "--hidden", "8", "--epochs", "3", "--n-train", "300", "--grid", "7",
                                    "--k", "2", "--n-planes", "5", "--out", str(out)])
    assert r.exit_code == 0, r.output
    for name in ("planes", "spectrum", "interpolation", "pca_plane", "report"):
        assert any(p.name.startswith(name) for p in out.iterdir()), name
