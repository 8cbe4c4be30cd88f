"""CLI: default analysis writes a run directory with report; ``init`` prints the critical initialisation."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from spinlens.cli.criticality import register
from spinlens.criticality import erf_maps


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


def _erf_critical_closed_form(sigma_b2: float) -> tuple[float, float]:
    """Critical (sigma_w^2, q*) of erf at sigma_b^2 from the closed forms (SCIENCE.md): chi_1 =
    (4 sigma_w^2/pi)/sqrt(1 + 4q*) = 1 and q* = sigma_w^2 (2/pi) arcsin(2q*/(1 + 2q*)) + sigma_b^2."""
    from scipy.optimize import brentq

    def sb(q: float) -> float:
        return q - 0.5 * np.sqrt(1 + 4 * q) * np.arcsin(2 * q / (1 + 2 * q)) - sigma_b2

    q = brentq(sb, 1e-6, 1e3, xtol=1e-15, rtol=1e-15)
    return float(np.pi / 4 * np.sqrt(1 + 4 * q)), float(q)


def test_criticality_cut_and_simulations_use_the_requested_sigma_b2(tmp_path: Path) -> None:
    # sigma_b^2 = 0.05 is not a row of the 24-point grid linspace(0, 0.5, 24) (nearest: 0.0435): the cut, the
    # critical point and every simulation must be evaluated at 0.05 itself, and the report must say 0.05
    out = tmp_path / "run"
    res = CliRunner().invoke(_app(), ["criticality", "--activation", "erf", "--out", str(out), "--grid", "24",
                                      "--sigma-b2", "0.05", "--width", "40", "--depth", "4", "--n-networks", "2"])
    assert res.exit_code == 0, res.output
    sw_c, _ = _erf_critical_closed_form(0.05)
    cut = json.loads((out / "depth_scales.json").read_text())["data"]
    assert cut["sigma_b2"] == 0.05
    assert cut["critical"] == pytest.approx(sw_c, rel=1e-9)
    with np.load(out / "depth_scales.npz") as z:
        sw, q, chi1 = z["sigma_w2"], z["q_star"], z["chi_1"]
    np.testing.assert_allclose(chi1, 4 * sw / np.pi / np.sqrt(1 + 4 * q), rtol=1e-6)  # erf chi_1 closed form
    qn, _ = erf_maps(q, 1.0, sw, 0.05)
    np.testing.assert_allclose(qn, q, rtol=1e-6)  # q* is the fixed point of the closed-form length map at 0.05
    for label, factor in (("ordered", 0.7), ("critical", 1.0), ("chaotic", 1.5)):
        sim = json.loads((out / f"simulation_{label}.json").read_text())["data"]
        assert sim["sigma_b2"] == 0.05, label
        assert sim["sigma_w2"] == pytest.approx(factor * sw_c, rel=1e-9), label
    with np.load(out / "simulation_critical.npz") as z:  # the theory curve is the erf length map at 0.05
        qt, ct = z["q_theory"], z["c_theory"]
    qn, cn = erf_maps(qt[:-1], ct[:-1], sw_c, 0.05)
    np.testing.assert_allclose(qt[1:], qn, rtol=1e-6)
    np.testing.assert_allclose(ct[1:], cn, rtol=1e-5)
    html = (out / "report.html").read_text()
    assert "at sigma_b^2 = 0.05 (" in html and "0.0435" not in html
