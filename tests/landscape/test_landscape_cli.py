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


def test_hessian_manifest_and_report_record_training_solver_and_time(tmp_path: Path) -> None:
    out = tmp_path / "h"
    r = CliRunner().invoke(_app(), ["hessian", "--hidden", "8", "--epochs", "2", "--lr", "0.01", "--n-train", "150",
                                    "--k", "2", "--lanczos-steps", "30", "--trace-matvec", "12", "--density-steps",
                                    "9", "--density-vectors", "2", "--seed", "4", "--out", str(out)])
    assert r.exit_code == 0, r.output
    cfg = json.loads((out / "manifest.json").read_text())["config"]
    assert cfg["training"] == {"trained": True, "optimizer": "Adam", "batch_size": 128, "epochs": 2, "lr": 0.01,
                               "n_train": 150, "seed": 4}
    assert cfg["widths"] == [64, 8, 10] and cfg["dataset"] == "digits" and cfg["activation"] == "relu"
    solver = cfg["solver"]
    assert solver["lanczos"]["k"] == 2 and solver["lanczos"]["which"] == "both"
    assert solver["lanczos"]["tol"] > 0 and solver["lanczos"]["max_steps"] == 30
    assert solver["trace"] == {"method": "hutch++", "n_matvec": 12}
    assert solver["density"] == {"n_steps": 9, "n_vectors": 2}
    assert solver["dtype"] == "float64" and solver["backend"] == "double_backward"
    s = json.loads((out / "summary.json").read_text())
    for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds", "train_seconds"):
        assert isinstance(s[key], float), key
    assert 0.0 <= s["train_accuracy"] <= 1.0 and s["train_loss"] > 0 and s["seconds"] >= s["train_seconds"] > 0
    assert 4 <= s["lanczos_steps"] <= 30 and isinstance(s["lanczos_converged"], bool)
    assert s["n_matvec"]["trace"] == 12 and s["n_matvec"]["density"] == 18
    html = (out / "report.html").read_text()
    for words in ("train loss", "test accuracy", "run time", "Lanczos steps", "Hessian-vector products", "converged"):
        assert words in html, words


@pytest.mark.slow
def test_landscape_command(tmp_path: Path) -> None:
    out = tmp_path / "l"
    r = CliRunner().invoke(_app(), ["landscape", "--hidden", "8", "--epochs", "3", "--n-train", "300", "--grid", "7",
                                    "--k", "2", "--n-planes", "5", "--out", str(out)])
    assert r.exit_code == 0, r.output
    for name in ("planes", "spectrum", "interpolation", "pca_plane", "report"):
        assert any(p.name.startswith(name) for p in out.iterdir()), name


def test_landscape_with_model_records_training_solver_and_time(tmp_path: Path) -> None:
    import torch

    from spinlens.cli.landscape import _build_mlp

    torch.manual_seed(5)
    ckpt = tmp_path / "a.pt"
    torch.save({"state_dict": _build_mlp([64, 4, 10], "relu").state_dict(), "epoch": 2}, ckpt)
    out = tmp_path / "l"
    r = CliRunner().invoke(_app(), ["landscape", "--model", str(ckpt), "--hidden", "4", "--epochs", "2", "--n-train",
                                    "150", "--grid", "5", "--k", "1", "--n-planes", "3", "--trace-matvec", "9",
                                    "--density-steps", "8", "--density-vectors", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    cfg = json.loads((out / "manifest.json").read_text())["config"]
    assert cfg["training"]["networks"] == ["B"] and cfg["training"]["epochs"] == 2 and cfg["training"]["lr"] == 3e-3
    assert cfg["training"]["n_train"] == 150 and cfg["model"]["path"] == str(ckpt)
    assert cfg["solver"]["trace"] == {"method": "hutch++", "n_matvec": 9}
    assert cfg["solver"]["density"] == {"n_steps": 8, "n_vectors": 1}
    assert cfg["solver"]["lanczos"]["k"] == 1 and cfg["grid"] == 5 and cfg["n_planes"] == 3
    s = json.loads((out / "summary.json").read_text())
    for key in ("train_loss_A", "test_loss_A", "train_loss_B", "test_acc_B", "seconds", "train_seconds"):
        assert isinstance(s[key], float), key
    html = (out / "report.html").read_text()
    for words in ("train loss", "test accuracy", "run time", "Lanczos steps", "Hessian-vector products", "a.pt"):
        assert words in html, words
