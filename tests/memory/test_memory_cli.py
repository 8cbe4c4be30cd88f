"""Smoke tests of ``spinlens hopfield capacity``, ``spinlens hopfield phase-diagram`` and ``spinlens rbm train``
on tiny settings."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
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
    args = ["hopfield", "capacity", "--sizes", "60,120,240", "--alphas", "0.08,0.14,0.2,0.3", "--n-tested", "20",
            "--out", str(out)]
    r = CliRunner().invoke(_app(), args)
    assert r.exit_code == 0, r.output
    assert (out / "report.html").exists() and (out / "capacity.png").exists()
    data = json.loads((out / "results.json").read_text())["data"]
    assert data["alpha_c_n_flag"] == ["ok", "ok", "ok"] and data["notes"] == []
    assert 0.0 < data["alpha_c"]["mean"] < 0.4
    # the key numbers and the report path are printed, as by the other commands
    assert "alpha_c(N): N = 60:" in r.output and "alpha_c(N -> inf) = " in r.output
    assert f"report: {out / 'report.html'}" in r.output.replace("\n", "")
    # the manifest records every setting of the experiment, the API defaults too
    config = json.loads((out / "manifest.json").read_text())["config"]
    assert config["threshold"] == 0.9 and config["per_set"] == 20 and config["max_sweeps"] == 1000
    assert config["sizes"] == [60, 120, 240] and config["rule"] == "hebb"
    # one sweep unit per (N, alpha); a serial re-run reuses them all and reproduces the pooled run exactly
    units = sorted((out / "units").glob("*.json"))
    assert len(units) == 12
    before = {p.name: p.stat().st_mtime_ns for p in units}
    r = CliRunner().invoke(_app(), [*args, "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert {p.name: p.stat().st_mtime_ns for p in sorted((out / "units").glob("*.json"))} == before
    assert json.loads((out / "results.json").read_text())["data"] == data


def test_hopfield_capacity_cli_flags_alpha_c_above_the_scanned_loads(tmp_path: Path) -> None:
    # alpha_c(100) lies above the largest load 0.2: no number for it and, with two sizes left, no extrapolation;
    # the console, results and report all say so and what to change
    out = tmp_path / "cap"
    r = CliRunner().invoke(_app(), ["hopfield", "capacity", "--sizes", "100,200,400", "--alphas", "0.05,0.1,0.15,0.2",
                                    "--n-tested", "20", "--workers", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "N = 100: above the scanned loads" in text
    assert "warning: alpha_c(N=100) lies above the scanned loads" in text and "extend alphas beyond 0.2" in text
    assert "warning: no finite-size extrapolation" in text and "alpha_c(N -> inf)" not in text
    data = json.loads((out / "results.json").read_text())["data"]
    assert data["alpha_c_n_flag"] == ["above", "ok", "ok"] and data["alpha_c"]["mean"] == "nan"
    report = " ".join((out / "report.html").read_text().split())
    assert "alpha_c(N=100) lies above the scanned loads" in report and "not extrapolated" in report
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finite_size"][0]["status"] == "above" and len(summary["notes"]) == 3


@pytest.mark.parametrize(("flags", "match"), [
    (["--sizes", "100,200"], "at least 3 sizes"),
    (["--alphas", "0.1,0.2"], "at least 3 loads"),
    (["--alphas", "0.1,x"], "cannot read --alphas"),
    (["--rule", "oja"], "unknown rule"),
    (["--threshold", "1.5"], "--threshold in"),
])
def test_hopfield_capacity_cli_refuses_bad_grids(tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str],
                                                 match: str) -> None:
    from spinlens.cli.main import main

    out = tmp_path / "cap"
    with pytest.raises(SystemExit) as ex:
        main(["hopfield", "capacity", *flags, "--out", str(out)])
    assert ex.value.code == 2
    assert match in " ".join(capsys.readouterr().err.split())
    assert not out.exists()  # refused before the run directory is written


def test_rbm_train_cli(tmp_path: Path) -> None:
    out = tmp_path / "rbm"
    r = CliRunner().invoke(_app(), ["rbm", "train", "--n-hidden", "12", "--n-epochs", "2", "--eval-every", "1",
                                    "--out", str(out)])
    assert r.exit_code == 0, r.output
    for f in ("report.html", "likelihood.png", "samples.png", "filters.png"):
        assert (out / f).exists()
    curve = json.loads((out / "results.json").read_text())["curve"]
    assert len(curve) == 2 and all(c["test_ll"] < 0 for c in curve)
    # the summary and the report path are printed, not only the run directory
    text = " ".join(r.output.split())
    assert f"held-out log-likelihood {curve[-1]['test_ll']:.2f} nats" in text and "(exact)" in text
    assert f"report: {out / 'report.html'}" in r.output.replace("\n", "")
    # the manifest records the settings that applied, including those without a flag
    config = json.loads((out / "manifest.json").read_text())["config"]
    assert config["log_z_method"] == "exact" and config["ais"] == "not used (exact log Z)"
    assert config["test_fraction"] == 0.2 and config["n_train"] + config["n_test"] == 1797
    assert config["visible"] == "bernoulli" and config["device"] == "cpu" and config["samples"]["n_gibbs"] == 1000
    assert config["n_visible"] == 64 and config["image_shape"] == [8, 8]


def test_rbm_train_cli_refuses_zero_eval_every(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from spinlens.cli.main import main

    with pytest.raises(SystemExit) as ex:
        main(["rbm", "train", "--eval-every", "0", "--out", str(tmp_path / "rbm")])
    assert ex.value.code == 2 and "--eval-every" in capsys.readouterr().err


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
    text = " ".join(r.output.split())
    assert "largest load with m >= 0.9 at T = 0.1: 0.03" in text
    assert f"report: {out / 'report.html'}" in r.output.replace("\n", "")
    config = json.loads((out / "manifest.json").read_text())["config"]
    assert config["alphas"] == [0.03, 0.2] and config["temperatures"] == [0.1, 1.4]


def test_hopfield_phase_diagram_cli_records_the_default_grid(tmp_path: Path) -> None:
    from spinlens.memory.ags import phase_diagram_grid

    A, T = phase_diagram_grid()
    assert A[0] == 0.01 and A[-1] == 0.18 and A.size == 18 and T[0] == 0.05 and T[-1] == 1.5 and T.size == 30
    # a one-trial run has no error bar: NaN, not 0
    out = tmp_path / "pd"
    r = CliRunner().invoke(_app(), ["hopfield", "phase-diagram", "--n-spins", "20", "--temperatures", "0.5",
                                    "--n-trials", "1", "--n-sweeps", "2", "--n-lines", "2", "--workers", "1",
                                    "--out", str(out)])
    assert r.exit_code == 0, r.output
    config = json.loads((out / "manifest.json").read_text())["config"]
    assert config["alphas"] == A.tolist() and config["temperatures"] == [0.5]
    assert np.all(np.isnan(np.load(out / "results.npz")["m_error"]))


@pytest.mark.parametrize(("args", "message"), [
    (["rbm", "train", "--n-hidden", "0"], "n_hidden must be an integer >= 1, got 0 (option --n-hidden)."),
    (["rbm", "train", "--momentum", "2"], "(option --momentum)."),
    (["rbm", "train", "--n-chains", "0"], "--n-chains must be >= 1, got 0."),
    (["hopfield", "capacity", "--per-set", "0"], "--per-set must be >= 1, got 0."),
    (["hopfield", "phase-diagram", "--n-lines", "1"], "--n-lines must be >= 2, got 1."),
])
def test_bad_options_name_the_option_and_leave_no_run_directory(tmp_path: Path, capsys, args, message) -> None:
    """Issue #17: one error line naming the option (was: one line for four options), exit 2, and for rbm train
    the RBM settings are refused before the dataset is loaded and the run directory made (was: manifest.json
    left in a half-made run directory)."""
    from spinlens.cli.main import main

    out = tmp_path / "run"
    with pytest.raises(SystemExit) as ex:
        main([*args, "--out", str(out)])
    assert ex.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err and "Traceback" not in err
    assert not out.exists()
