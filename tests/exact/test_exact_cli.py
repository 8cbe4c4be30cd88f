"""``spinlens exact`` through typer's CliRunner on a fresh app."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from spinlens.cli.exact import parse_betas, register

runner = CliRunner()


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:  # keeps subcommands as subcommands
        pass

    register(app)
    return app


def summary(out: Path) -> dict[str, float]:
    rows = json.loads((out / "summary.json").read_text())["summary"]
    return {r["quantity"]: r["value"] for r in rows}


@pytest.mark.parametrize(
    ("model", "size", "checked"),
    [("square", "3", True), ("chain", "7", True), ("curie-weiss", "8", True), ("sk", "8", False),
     ("layered-sk", "3", False)],
)
def test_exact_command_writes_run_dir(tmp_path: Path, model: str, size: str, checked: bool) -> None:
    out = tmp_path / model
    r = runner.invoke(make_app(), ["exact", "--model", model, "--size", size, "--betas", "0.2:1.2:5",
                                   "--seed", "3", "--out", str(out)])
    assert r.exit_code == 0, r.output + repr(r.exception)
    for name in ("manifest.json", "report.html", "results.json", "results.npz", "thermodynamics.npz",
                 "thermodynamics.png", "model.npz", "summary.json"):
        assert (out / name).exists(), name
    s = summary(out)
    if checked:
        assert s["max |ln Z - ln Z(closed form)|"] < 1e-10
    with np.load(out / "thermodynamics.npz") as z:
        assert z["T"].shape == (5,)
        assert np.all(np.isfinite(z["energy"]))
    man = json.loads((out / "manifest.json").read_text())
    assert man["config"]["n_spins"] == (int(size) ** 2 if model == "square" else
                                        3 * int(size) if model == "layered-sk" else int(size))
    assert "<img" in (out / "report.html").read_text()


def test_exact_command_from_npz_and_single_beta(tmp_path: Path) -> None:
    from spinlens.exact import enumerate
    from spinlens.spins import sk

    m = sk(6, h=0.3, rng=1)
    f = tmp_path / "model.npz"
    np.savez(f, J=m.J, h=m.h)
    out = tmp_path / "run"
    r = runner.invoke(make_app(), ["exact", "--npz", str(f), "--beta", "0.7", "--out", str(out)])
    assert r.exit_code == 0, r.output + repr(r.exception)
    with np.load(out / "thermodynamics.npz") as z:
        assert z["log_z"][0] == pytest.approx(enumerate(m, 0.7).log_z, abs=1e-12)


def test_exact_command_errors(tmp_path: Path) -> None:
    app = make_app()
    r = runner.invoke(app, ["exact", "--model", "square", "--size", "6", "--out", str(tmp_path / "a")])
    assert r.exit_code != 0 and "spinlens.sampling.sample" in str(r.exception)
    r = runner.invoke(app, ["exact", "--beta", "-1", "--out", str(tmp_path / "b")])
    assert r.exit_code != 0 and "beta" in str(r.exception)
    r = runner.invoke(app, ["exact", "--npz", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "c")])
    assert isinstance(r.exception, FileNotFoundError)


def test_parse_betas() -> None:
    np.testing.assert_allclose(parse_betas("0.1:1.0:10"), np.linspace(0.1, 1.0, 10))
    np.testing.assert_allclose(parse_betas("0.2,0.5"), [0.2, 0.5])
    from spinlens.cli._common import UserError

    with pytest.raises(UserError):
        parse_betas("1:2")
