"""Issue #17 item 15: bad input to landscape/report functions and to ``spinlens landscape``/``hessian`` is refused.

Each case raises ValueError/TypeError naming the argument (or, on the command line, exits 2 with one ``error:``
line naming the option) before any work is done: no silent result, no ZeroDivisionError/AttributeError.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from spinlens import landscape as ls
from spinlens import report as rp
from tests.cli_helpers import run_main

CE = nn.functional.cross_entropy


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (8,), generator=g)


EMPTY = (np.zeros((0, 3)), np.zeros(0))
N = 26  # parameters of _net()


# ------------------------------------------------------------------------------------------ the data
@pytest.mark.parametrize("fn,kw", [
    (ls.HessianOperator, {}), (ls.hessian_eigs, {}), (ls.curvature_fd, {}), (ls.surface_1d, {"n_points": 3}),
    (ls.random_walk, {"n_steps": 2}), (ls.sharpness, {}),
])
def test_empty_data_is_refused_naming_data(fn: Any, kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="data: batch 0 holds no samples"):
        fn(_net(), CE, EMPTY, **kw)


@pytest.mark.parametrize("data", ["d", {"x": 1}])
def test_data_that_is_no_pair_names_data(data: Any) -> None:
    with pytest.raises(ValueError, match="data"):
        ls.HessianOperator(_net(), CE, data)


@pytest.mark.parametrize("fn,kw,name", [
    (ls.flat_parameters, {}, "model"), (ls.random_direction, {}, "model"), (ls.user_direction, {"direction": 1},
                                                                             "model"),
    (ls.edge_of_stability, {"loss_fn": CE, "data": _data(), "lr": 0.1, "n_steps": 1}, "model"),
])
def test_a_model_that_is_no_module_is_a_type_error(fn: Any, kw: dict[str, Any], name: str) -> None:
    with pytest.raises(TypeError, match=f"{name} must be a torch.nn.Module"):
        fn(model=None, **kw)


def test_interpolate_and_weight_matching_name_the_model() -> None:
    for a, b, name in [(None, _net(), "model_a"), (_net(), None, "model_b")]:
        with pytest.raises(TypeError, match=name):
            ls.interpolate(a, b, CE, _data(), n_points=3)
        with pytest.raises(TypeError, match=name):
            ls.weight_matching(a, b)
    with pytest.raises(TypeError, match="prob must be a prepared Problem"):
        ls.evaluate_losses(None, torch.zeros(1, 2), torch.zeros(2, N))


# ------------------------------------------------------------------------------------------ counts, rates
@pytest.mark.parametrize("call,name", [
    (lambda: ls.hessian_eigs(_net(), CE, _data(), k=1j), "k"),
    (lambda: ls.hessian_trace(_net(), CE, _data(), n_matvec=[2]), "n_matvec"),
    (lambda: ls.spectral_density(_net(), CE, _data(), n_steps=0), "n_steps"),
    (lambda: ls.spectral_density(_net(), CE, _data(), n_vectors=0), "n_vectors"),
    (lambda: ls.spectral_density(_net(), CE, _data(), sigma=[1.0]), "sigma"),
    (lambda: ls.curvature_fd(_net(), CE, _data(), eps=[1.0]), "eps"),
    (lambda: ls.random_plane_statistics(_net(), CE, _data(), mean_eig=0.0, std_eig=0.0), "std_eig"),
    (lambda: ls.random_plane_statistics(_net(), CE, _data(), n_planes=[2]), "n_planes"),
    (lambda: ls.random_walk(_net(), CE, _data(), step_size=[1.0]), "step_size"),
    (lambda: ls.sharpness(_net(), CE, _data(), n_steps=0), "n_steps"),
    (lambda: ls.sharpness_vs_error([], CE, _data(), _data()), "models"),
    (lambda: ls.edge_of_stability(_net(), CE, _data(), lr=[1.0]), "lr"),
    (lambda: ls.weight_matching(_net(), _net(), max_iter=0), "max_iter"),
    (lambda: ls.interpolate(_net(), _net(), CE, _data(), n_points=[2]), "n_points"),
    (lambda: ls.surface_1d(_net(), CE, _data(), n_points=1), "n_points"),
    (lambda: ls.surface_1d(_net(), CE, _data(), span=(1.0, -1.0)), "span"),
    (lambda: ls.surface_2d(_net(), CE, _data(), span=(0.0, 0.0), n_points=3), "span"),
    (lambda: ls.pca_directions(np.random.default_rng(0).normal(size=(5, 4)), n_components=0), "n_components"),
    (lambda: ls.pca_directions(np.zeros(())), "trajectory"),
    (lambda: ls.cluster_solutions(np.zeros(())), "solutions"),
    (lambda: ls.cluster_solutions(np.full((5, 4), -6.1e-5)), "solutions are all the same point"),
    (lambda: ls.goe2_probabilities(float("nan")), "mu"),
    (lambda: ls.lanczos(lambda v: v, torch.ones(3, dtype=torch.float64), 0), "n_steps"),
    (lambda: ls.lanczos(lambda v: v, None, 3), "v0"),
])
def test_bad_numbers_name_the_argument(call: Any, name: str) -> None:
    with pytest.raises((ValueError, TypeError), match=name):
        call()


# ------------------------------------------------------------------------------------------ directions
def test_zero_nan_and_dependent_directions_are_refused() -> None:
    u = np.zeros((2, N))
    u[0, 0] = 1.0
    with pytest.raises(ValueError, match="zero direction"):
        ls.projected_hessian(_net(), CE, _data(), directions=u)
    u[1] = 2 * u[0]
    with pytest.raises(ValueError, match="linearly dependent"):
        ls.projection_curvature(_net(), CE, _data(), directions=u)
    u[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ls.projected_hessian(_net(), CE, _data(), directions=u)
    with pytest.raises(ValueError, match="linearly dependent"):
        ls.orthonormalize([np.ones(3), np.ones(3)])
    with pytest.raises(ValueError, match="directions is empty"):
        ls.orthonormalize([])
    with pytest.raises(ValueError, match="direction is zero everywhere"):
        ls.filter_normalize(np.zeros(N), _net())
    with pytest.raises(ValueError, match="direction must hold real numbers"):
        ls.user_direction(_net(), np.full(N, None, dtype=object))


def test_random_direction_normalization_none_is_a_word() -> None:
    with pytest.raises(ValueError, match="'none'"):
        ls.random_direction(_net(), normalization=None)  # type: ignore[arg-type]
    d = ls.random_direction(_net(), normalization="none", rng=0)
    assert d.shape == (N,) and np.all(np.isfinite(d))
    with pytest.raises(TypeError, match="params must be"):
        ls.flat_parameters(_net(), params=3)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ report
@pytest.mark.parametrize("call,name", [
    (lambda: rp.line_plot(np.array([np.nan, 0.0, 1.0]), {"a": np.ones(3)}), "x"),
    (lambda: rp.line_plot(np.arange(3.0), {}), "ys"),
    (lambda: rp.line_plot(np.arange(3.0), {"a": np.ones(4)}), "ys"),
    (lambda: rp.errorbar_plot({}), "series"),
    (lambda: rp.errorbar_plot({"a": (np.ones(3), np.ones(4), np.ones(3))}), "series"),
    (lambda: rp.new_figure(0), "nrows"),
    (lambda: rp.new_figure(1, 0), "ncols"),
    (lambda: rp.new_figure(size=(0.0, 1.0)), "size"),
    (lambda: rp.figure_png(None), "fig"),
    (lambda: rp.figure_png(rp.new_figure()[0], dpi=[2]), "dpi"),
    (lambda: rp.Section(None), "title"),  # type: ignore[arg-type]
    (lambda: rp.Section("t", tables=3), "tables"),  # type: ignore[arg-type]
    (lambda: rp.Section("t", tables=[("name", ["row"])]), "tables"),
    (lambda: rp.render_report("t", None), "sections"),  # type: ignore[arg-type]
    (lambda: rp.render_report("t", [None]), "sections"),  # type: ignore[list-item]
    (lambda: rp.rerender(3.5), "run_dir"),  # type: ignore[arg-type]
])
def test_report_bad_input_names_the_argument(call: Any, name: str) -> None:
    with pytest.raises((ValueError, TypeError), match=name):
        call()


def test_rerender_refuses_a_file_and_broken_json(tmp_path: Path) -> None:
    f = tmp_path / "text.txt"
    f.write_text("no run")
    with pytest.raises(ValueError, match="is a file, not a run directory"):
        rp.rerender(f)
    (tmp_path / "report.json").write_text("{not json")
    with pytest.raises(ValueError, match="report.json of the run directory is not valid JSON"):
        rp.rerender(tmp_path)
    (tmp_path / "report.json").write_text(json.dumps({"title": "t", "sections": [{"title": 3}]}))
    with pytest.raises(ValueError, match="not a report written by spinlens"):
        rp.rerender(tmp_path)


# ------------------------------------------------------------------------------------------ the CLI


@pytest.mark.parametrize("argv,option", [
    (["landscape", "--epochs", "-1"], "--epochs"),
    (["landscape", "--epochs", "0"], "--epochs"),
    (["landscape", "--lr", "nan"], "--lr"),
    (["landscape", "--lr", "0"], "--lr"),
    (["landscape", "--grid", "0"], "--grid"),
    (["landscape", "--grid", "1"], "--grid"),
    (["landscape", "--n-planes", "0"], "--n-planes"),
    (["landscape", "--k", "1000"], "--k"),
    (["hessian", "--n-train", "-1"], "--n-train"),
    (["hessian", "--epochs", "-1"], "--epochs"),
    (["hessian", "--lr", "inf"], "--lr"),
    (["hessian", "--seed", "-2"], "--seed"),
    (["hessian", "--which", "largest"], "--which"),
])
def test_cli_refuses_bad_numbers_before_anything_runs(argv: list[str], option: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code, text = run_main([*argv, "--hidden", "4", "--n-train", "64", "--out", str(out)]
                         if "--n-train" not in argv else [*argv, "--hidden", "4", "--out", str(out)], capsys)
    assert code == 2, text
    assert "Traceback" not in text, text
    errors = [ln for ln in text.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and option in errors[0], text
    assert "training" not in text.lower().split("error:")[0], text  # nothing was trained
    assert not out.exists(), "a run directory was written for refused input"
