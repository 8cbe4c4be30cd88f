"""CLI: ``spinlens maxent fit`` and ``spinlens tap`` on a fresh typer app."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import typer
from typer.testing import CliRunner

import spinlens.exact as ex
from spinlens.cli import maxent as maxent_cli
from spinlens.cli import tap as tap_cli
from spinlens.spins import layered_sk, sk


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        pass

    maxent_cli.register(app)
    tap_cli.register(app)
    return app


def test_maxent_fit_writes_fit_and_report(tmp_path) -> None:
    model = sk(6, rng=1).with_field(np.linspace(-0.3, 0.3, 6))
    states, p = ex.boltzmann_probabilities(model, 1.0)
    S = states[np.random.default_rng(0).choice(p.size, size=5000, p=p)]
    data = tmp_path / "data.npy"
    np.save(data, (S + 1) // 2)  # {0, 1} input
    out = tmp_path / "run"
    r = CliRunner().invoke(_app(), ["maxent", "fit", str(data), "--method", "boltzmann", "--out", str(out)])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    # exact Boltzmann learning matches the empirical moments (checked by exact enumeration of the fit)
    assert summary["converged"] and summary["max_abs_error_m"] < 1e-6 and summary["max_abs_error_pair"] < 1e-6
    r = CliRunner().invoke(_app(), ["maxent", "fit", str(data), "--out", str(tmp_path / "pl")])
    assert r.exit_code == 0, r.output
    pl = json.loads((tmp_path / "pl" / "summary.json").read_text())
    assert max(pl["max_abs_error_pair"], pl["max_abs_error_connected"]) < 3 * pl["sampling_error_scale"]
    with np.load(out / "fit.npz") as z:
        assert z["J"].shape == (6, 6) and np.allclose(z["J"], z["J"].T)
        assert np.max(np.abs(z["J"] - model.J)) < 0.15
    assert (out / "couplings.png").exists() and (out / "report.html").exists()


def test_maxent_fit_names_the_two_second_moments_apart_and_draws_J_and_h(tmp_path) -> None:
    # <s_i s_j> (raw pair moment) and C_ij = <s_i s_j> - <s_i><s_j> (connected correlation) are different
    # quantities: each gets its own name in fit.npz, summary.json, the figures and the report; the fitted
    # couplings J and fields h (the actual output of the fit) get their own figure in the report
    model = sk(5, rng=3).with_field(np.linspace(0.4, -0.2, 5))
    states, p = ex.boltzmann_probabilities(model, 1.0)
    S = states[np.random.default_rng(1).choice(p.size, size=3000, p=p)].astype(np.int8)
    data = tmp_path / "data.npy"
    np.save(data, S)
    out = tmp_path / "run"
    r = CliRunner().invoke(_app(), ["maxent", "fit", str(data), "--method", "boltzmann", "--out", str(out)])
    assert r.exit_code == 0, r.output
    X = S.astype(float)
    m = X.mean(0)
    iu = np.triu_indices(5, 1)
    with np.load(out / "fit.npz") as z:
        np.testing.assert_allclose(z["m_data"], m, atol=1e-12)
        np.testing.assert_allclose(z["pair_data"], X.T @ X / len(X), atol=1e-12)
        np.testing.assert_allclose(z["connected_data"], X.T @ X / len(X) - np.outer(m, m), atol=1e-12)
        np.testing.assert_allclose(z["connected_fit"], z["pair_fit"] - np.outer(z["m_fit"], z["m_fit"]),
                                   atol=1e-12)
        d_pair = np.max(np.abs(z["pair_fit"] - z["pair_data"])[iu])
        d_conn = np.max(np.abs(z["connected_fit"] - z["connected_data"])[iu])
        J, h = z["J"], z["h"]
    summary = json.loads((out / "summary.json").read_text())
    assert "max_abs_error_corr" not in summary
    assert summary["max_abs_error_pair"] == d_pair and summary["max_abs_error_connected"] == d_conn
    assert summary["max_abs_error_connected"] < 1e-6  # Boltzmann learning matches every moment
    assert summary["max_abs_J"] == np.max(np.abs(J[iu])) and summary["max_abs_h"] == np.max(np.abs(h))
    for name in ("couplings", "moments_m", "moments_pair", "moments_connected"):
        assert (out / f"{name}.png").exists(), name
    html = (out / "report.html").read_text()
    assert html.count("<img") == 4
    assert "fitted couplings J_ij (heat map, symmetric colour scale) and fields h_i" in html
    assert "pair moments ⟨s_i s_j⟩ (i &lt; j): fitted model against data" in html
    assert "connected correlations C_ij = ⟨s_i s_j⟩ − ⟨s_i⟩⟨s_j⟩ (i &lt; j): fitted model against data" in html


def test_maxent_bad_data_is_a_clear_error(tmp_path) -> None:
    data = tmp_path / "bad.npy"
    np.save(data, np.full((10, 3), 2.0))
    r = CliRunner().invoke(_app(), ["maxent", "fit", str(data), "--out", str(tmp_path / "r")])
    assert r.exit_code != 0
    assert "{-1, +1}" in str(r.exception)


@pytest.mark.parametrize("kind", ["empty", "truncated npy", "text", "pickle", "directory"])
def test_maxent_unreadable_data_file_is_one_error_line_and_exit_2(tmp_path, kind, capsys) -> None:
    """Files that are not samples are refused before a run directory exists, naming DATA (exit 2, one line)."""
    from spinlens.cli.main import main

    data = tmp_path / "data.npy"
    if kind == "empty":
        data.write_bytes(b"")
    elif kind == "truncated npy":
        np.save(data, np.ones((50, 4)))
        data.write_bytes(data.read_bytes()[:100])
    elif kind == "text":
        data.write_text("1 -1 1\n")
    elif kind == "pickle":
        data.write_bytes(pickle.dumps(np.ones((3, 3))))
    else:
        data.mkdir()
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["maxent", "fit", str(data), "--out", str(out)])
    text = capsys.readouterr().err
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert exc.value.code == 2, text
    assert len([ln for ln in lines if ln.startswith("error:")]) == 1 and len(lines) <= 2, text
    assert "DATA" in text and "Traceback" not in text
    assert not out.exists()


def test_tap_command_on_sparse_model(tmp_path) -> None:
    model = layered_sk([40, 40, 40], C=1.0, rng=0)
    J = model.csr()
    f = tmp_path / "model.npz"
    np.savez(f, J_data=J.data, J_indices=J.indices, J_indptr=J.indptr, J_shape=np.array(J.shape))
    out = tmp_path / "tap"
    r = CliRunner().invoke(_app(), ["tap", "--npz", str(f), "--tmin", "0.5", "--tmax", "2", "--n-temps", "6",
                                    "--out", str(out)])
    assert r.exit_code == 0, r.output
    with np.load(out / "stability.npz") as z:
        assert z["f"].shape == (6,)
    with np.load(out / "tap_scan.npz") as z:
        assert z["m"].shape == (6, 120)
    assert (out / "tap.png").exists() and (out / "report.html").exists()
    # a scipy save_npz file works too
    g = tmp_path / "model2.npz"
    sp.save_npz(g, J)
    r = CliRunner().invoke(_app(), ["tap", "--npz", str(g), "--n-temps", "3", "--out", str(tmp_path / "t2")])
    assert r.exit_code == 0, r.output
