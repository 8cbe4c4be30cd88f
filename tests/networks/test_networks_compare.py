"""--compare: the ReLU, binarized and lazy-control variants of one set-up, side by side."""
from __future__ import annotations

import json

import pytest

from spinlens.networks.compare import variant_configs
from spinlens.networks.experiment import ExperimentConfig
from tests.cli_helpers import run_main


def test_variants_differ_in_one_thing_each():
    v = variant_configs(ExperimentConfig(widths=(64, 8, 10), steps=7))
    assert [(c.activation, c.lazy_scale, c.steps) for c in v.values()] == [("relu", None, 7), ("sign", None, 7),
                                                                          ("relu", 100.0, 7)]
    with pytest.raises(ValueError, match="one run"):
        variant_configs(ExperimentConfig(checkpoint_dir="x"))
    with pytest.raises(ValueError, match="MLPs"):
        variant_configs(ExperimentConfig(arch="cnn"))


def test_cli_compare_trains_three_variants_and_reports_them(tmp_path, capsys):
    out = tmp_path / "run"
    code, text = run_main(["phases", "--compare", "--dataset", "digits", "--n-samples", "200", "--widths",
                           "64,8,10", "--steps", "8", "--n-checkpoints", "3", "--n-starts", "0", "--workers", "1",
                           "--out", str(out)], capsys)
    assert code == 0, text
    models = {}
    for label in ("relu", "binarized", "lazy"):
        res = json.loads((out / label / "checkpoints" / "checkpoints.json").read_text())["config"]
        assert res["lazy_scale"] == (100.0 if label == "lazy" else None)
        assert (out / label / "analysis" / "units").is_dir()
        models[label] = res["model"]  # type and repr digest of the network trained
    assert models["relu"] == models["lazy"] != models["binarized"]  # sign activations only in the binarized one
    html = (out / "report.html").read_text()
    assert "ReLU, binarized and lazy control" in html and all((out / f"compare_{k}.png").is_file()
                                                                for k in ("tc", "phases", "accuracy"))
    assert json.loads((out / "manifest.json").read_text())["config"]["compare"] == ["relu", "binarized", "lazy"]
    code, text = run_main(["phases", "--compare", "--binarized", "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "drop --binarized" in text
