"""The ``spinlens ising`` and ``spinlens sk`` commands on tiny inputs."""
from __future__ import annotations

import json

import numpy as np
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


def test_sk_command_couplings(tmp_path):
    """--couplings reaches the sweeps (int16 energies are those of the rounded couplings); bad values fail."""
    runs = {}
    for c in ("float64", "int16"):
        out = tmp_path / c
        r = CliRunner().invoke(_app(), ["sk", "--N", "16", "--temps", "0.6:1.2:3", "--samples", "1", "--sweeps",
                                        "50", "--anneal-steps", "20", "--restarts", "1", "--couplings", c,
                                        "--workers", "1", "--out", str(out)])
        assert r.exit_code == 0, r.output
        runs[c] = np.load(out / "results.npz")["energy"]
    assert not np.array_equal(runs["float64"], runs["int16"])
    assert np.allclose(runs["float64"], runs["int16"], atol=0.05)
    r = CliRunner().invoke(_app(), ["sk", "--couplings", "int8", "--out", str(tmp_path / "bad")])
    assert r.exit_code != 0 and "--couplings" in (r.output + str(r.exception))
