"""Null models of a network's couplings (spinlens.networks.nulls) and their place in the phases pipeline."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from spinlens.networks import cnn, mlp, spin_graph
from spinlens.networks.experiment import ExperimentConfig, run_experiment
from spinlens.networks.nulls import shuffled_graph
from spinlens.networks.phases import analyze, layered_tc


def test_shuffle_keeps_each_blocks_values_and_pattern_and_J_is_its_blocks():
    g = spin_graph(cnn((1, 8, 8), (2, 3), 10, rng=0).eval(), (1, 64))
    n = shuffled_graph(g, rng=1)
    assert [layer.shape for layer in n.layers] == [layer.shape for layer in g.layers]
    for b, c in zip(g.blocks, n.blocks, strict=True):
        assert (b.src, b.dst) == (c.src, c.dst)
        assert np.array_equal(b.matrix.indptr, c.matrix.indptr) and np.array_equal(b.matrix.indices, c.matrix.indices)
        np.testing.assert_array_equal(np.sort(b.matrix.data), np.sort(c.matrix.data))
        assert not np.array_equal(b.matrix.data, c.matrix.data)
    # the assembled J holds exactly the shuffled blocks, symmetrically
    s = np.random.default_rng(2).choice([-1.0, 1.0], size=n.n_spins)
    parts = {layer.name: s[layer.slice] for layer in n.layers}
    e = -sum(parts[b.dst] @ (b.matrix @ parts[b.src]) for b in n.blocks)
    assert n.model.energy(s) == pytest.approx(e, rel=1e-12)
    assert abs(n.model.csr() - n.model.csr().T).max() == 0
    assert np.array_equal(shuffled_graph(g, rng=1).model.csr().data, n.model.csr().data)  # same seed, same null


def test_shuffled_null_of_a_planted_spike_is_the_glass_of_its_variance():
    """A rank-one spike on a random MLP is hidden order; shuffling its entries keeps the variance and gives the
    layered-SK glass temperature of that variance (within 3%), far below the spiked T_c."""
    torch.manual_seed(0)
    net = mlp((400, 300, 200), rng=0)
    with torch.no_grad():
        for lin in (net[0], net[2]):
            u, v = torch.randn(lin.out_features), torch.randn(lin.in_features)
            lin.weight.add_(2.5 * torch.outer(u, v) / (u.norm() * v.norm()))
    g = spin_graph(net)
    spiked = analyze(g, n_starts=0)
    null = analyze(shuffled_graph(g, rng=0), n_starts=0)
    pred = layered_tc([400, 300, 200], [float(np.mean(net[0].weight.detach().double().numpy() ** 2)),
                                        float(np.mean(net[2].weight.detach().double().numpy() ** 2))])
    assert spiked.phase == "hidden order" and null.phase == "spin glass"
    assert null.t_c == pytest.approx(pred, rel=0.03)
    assert spiked.t_c > 1.5 * null.t_c


def test_pipeline_reports_both_nulls_at_every_checkpoint(tmp_path):
    cfg = ExperimentConfig(widths=(64, 24, 10), dataset="digits", n_samples=400, steps=40, n_checkpoints=3,
                           lr=0.1, n_starts=0)
    res = run_experiment(cfg, tmp_path / "run")
    assert res.t_c_shuffled is not None and res.t_c_variance is not None
    assert np.all(np.isfinite(res.t_c_shuffled)) and np.all(np.isfinite(res.t_c_variance))
    assert res.t_c_variance[0] == pytest.approx(res.init_prediction, rel=1e-12)  # step 0: the init theory
    off = run_experiment(ExperimentConfig(**{**cfg.__dict__, "null_models": False}), tmp_path / "off")
    assert off.t_c_shuffled is None
    np.testing.assert_allclose(off.t_c, res.t_c, rtol=1e-12)  # the nulls do not touch the measurement


def test_shuffled_graph_refuses_wrong_block_shapes():
    from spinlens.networks.nulls import graph_from_blocks

    g = spin_graph(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)))
    with pytest.raises(ValueError, match="has shape"):
        graph_from_blocks(g, [np.zeros((3, 4)), np.zeros((3, 3))], "x")
