"""Several seeds of the phases pipeline: bands, the exponent over seeds, learned structure beyond the null."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from spinlens.networks.experiment import ExperimentConfig, ExperimentResult
from spinlens.networks.seeds import seed_configs, summarize_seeds
from tests.cli_helpers import run_main


def _result(t_c, null, phases, gamma=None):
    k = len(t_c)
    z = np.zeros(k)
    fit = None
    if gamma is not None:
        from spinlens.networks.experiment import PowerLawFit

        fit = PowerLawFit(gamma, 0.01, (gamma - 0.02, gamma + 0.02), 1.0, 1.0, 10.0, 3, 0.99)
    return ExperimentResult(steps=np.arange(k), t_c=np.asarray(t_c, float), t_star=z, f_min_rel=z, lambda_max=z,
                            phases=list(phases), outliers=np.zeros((k, 1)), top_ratio=z[:, None],
                            rel_change=z[:, None], train_loss=z, train_accuracy=z + 0.5, init_prediction=1.0,
                            init_measured=1.0, fit=fit, widths=(2, 2), t_c_shuffled=np.asarray(null, float),
                            t_c_variance=np.asarray(null, float) * 0.9)


def test_bands_and_the_beyond_null_criterion():
    rs = [_result([1.0, 2.0, 3.0], [1.0, 1.5, 1.5], ["spin glass", "hidden order", "hidden order"], 0.5),
          _result([1.2, 2.4, 3.2], [1.1, 1.6, 1.5], ["spin glass", "spin glass", "hidden order"], 0.6),
          _result([0.8, 1.6, 2.8], [0.9, 1.4, 1.5], ["spin glass", "hidden order", "hidden order"], None)]
    s = summarize_seeds(rs, [0, 1, 2])
    np.testing.assert_allclose(s.t_c_mean, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(s.t_c_std, [0.2, 0.4, 0.2])  # sample s.d. (K - 1)
    # step 1: 2.0 - 1.5 = 0.5 > spread max(0.4, 0.1); step 2: 3.0 - 1.5 = 1.5 > 0.2; step 0: 0 < spread
    assert s.beyond_null.tolist() == [False, True, True]
    assert s.phase_counts[1] == {"hidden order": 2, "spin glass": 1}
    assert s.n_fitted == 2 and s.exponent_mean == pytest.approx(0.55)
    assert s.exponent_se == pytest.approx(np.std([0.5, 0.6], ddof=1) / np.sqrt(2))
    # a spread larger than the gap: no claim
    wide = [dataclasses.replace(rs[0], t_c=np.array([1.0, 2.0, 3.0])),
            dataclasses.replace(rs[1], t_c=np.array([1.0, 0.5, 0.5]))]
    assert not summarize_seeds(wide, [0, 1]).beyond_null.any()
    with pytest.raises(ValueError, match="different checkpoint steps"):
        summarize_seeds([rs[0], dataclasses.replace(rs[1], steps=np.array([0, 1, 5]))], [0, 1])


def test_seed_configs_and_refusals():
    cs = seed_configs(ExperimentConfig(seed=5), 3)
    assert [c.seed for c in cs] == [5, 6, 7]
    with pytest.raises(ValueError, match="one run"):
        seed_configs(ExperimentConfig(checkpoint_dir="x"), 2)
    with pytest.raises(ValueError, match="n_seeds"):
        seed_configs(ExperimentConfig(), 0)


def test_cli_seeds_run_each_seed_and_report_bands(tmp_path, capsys):
    out = tmp_path / "run"
    code, text = run_main(["phases", "--dataset", "digits", "--n-samples", "200", "--widths", "64,8,10", "--steps",
                           "8", "--n-checkpoints", "3", "--n-starts", "0", "--seeds", "2", "--seed", "3",
                           "--workers", "1", "--out", str(out)], capsys)
    assert code == 0, text
    assert (out / "seed_3" / "checkpoints").is_dir() and (out / "seed_4" / "checkpoints").is_dir()
    seeds = json.loads((out / "seeds.json").read_text())["data"]
    assert seeds["seeds"] == [3, 4]
    with np.load(out / "seeds.npz") as z:
        assert z["t_c"].shape == (2, 3)
    recs3 = json.loads((out / "seed_3" / "analysis" / "units" / "step_00000008.json").read_text())
    recs4 = json.loads((out / "seed_4" / "analysis" / "units" / "step_00000008.json").read_text())
    with np.load(out / "seeds.npz") as z:
        assert z["t_c"][0, -1] == pytest.approx(recs3["output"]["record"]["t_c"])
        assert z["t_c"][1, -1] == pytest.approx(recs4["output"]["record"]["t_c"])
    assert "Seeds (2)" in (out / "report.html").read_text()
    code, text = run_main(["phases", "--checkpoints", str(out / "seed_3" / "checkpoints"), "--seeds", "2",
                           "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "drop --seeds" in text
