"""MLP builder, straight-through sign, log-spaced checkpoints, resumable training, lazy control."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spinlens.networks import Sign, checkpoint_steps, load_checkpoint, mlp, read_checkpoint_index, train
from spinlens.networks.spectrum import relative_change


def _data(n=256, d=12, k=3, seed=0):
    g = np.random.default_rng(seed)
    X = g.normal(size=(n, d))
    y = (X[:, :k] * [1, 2, 3][:k]).argmax(1)
    return X, y


def test_mlp_structure_and_seeding():
    a, b = mlp([6, 5, 4], "tanh", rng=3), mlp([6, 5, 4], "tanh", rng=3)
    assert [type(m).__name__ for m in a] == ["Linear", "Tanh", "Linear"]
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    assert mlp([6, 5, 4], bias=False, rng=0)[0].bias is None
    with pytest.raises(ValueError, match="activation"):
        mlp([3, 2], "swish")
    with pytest.raises(ValueError, match="widths"):
        mlp([3])


def test_sign_straight_through():
    x = torch.tensor([-2.0, -0.5, 0.0, 0.3, 1.5], requires_grad=True)
    y = Sign()(x)
    assert y.tolist() == [-1, -1, 1, 1, 1]
    y.sum().backward()
    assert x.grad.tolist() == [0, 1, 1, 1, 0]


def test_checkpoint_steps():
    s = checkpoint_steps(2000, 20)
    assert s[0] == 0 and s[-1] == 2000 and len(s) == 20 and s == sorted(set(s))
    r = np.diff(np.log(s[5:]))
    assert np.allclose(r, r.mean(), rtol=0.2)  # log-spaced
    assert checkpoint_steps(5, 20) == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="steps"):
        checkpoint_steps(0, 5)  # no training: nothing to checkpoint over (issue 17, item 15)
    with pytest.raises(ValueError, match="checkpoints"):
        checkpoint_steps(100, 1)  # step 0 and the last step are always kept


def test_train_checkpoints_and_resume(tmp_path):
    X, y = _data()
    net = mlp([12, 8, 3], rng=0)
    r = train(net, (X, y), 40, lr=0.1, batch_size=32, checkpoints=6, out_dir=tmp_path, rng=7, num_threads=1)
    assert r.steps[0] == 0 and r.steps[-1] == 40
    idx = read_checkpoint_index(tmp_path)
    assert [c["step"] for c in idx["checkpoints"]] == list(r.steps)
    assert r.train_loss[-1] < r.train_loss[0]
    final = load_checkpoint(r.paths[-1])
    # an interrupted run: drop the last two checkpoints and train again from scratch objects
    for p in r.paths[-2:]:
        (tmp_path / p.split("/")[-1]).unlink()
        (tmp_path / p.split("/")[-1].replace("step_", "optim_")).unlink()
    net2 = mlp([12, 8, 3], rng=0)
    r2 = train(net2, (X, y), 40, lr=0.1, batch_size=32, checkpoints=6, out_dir=tmp_path, rng=7)
    assert r2.resumed_from == r.steps[-3]
    again = load_checkpoint(r2.paths[-1])
    for k in final:
        torch.testing.assert_close(again[k], final[k], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="different training configuration"):
        train(mlp([12, 8, 3], rng=0), (X, y), 40, lr=0.2, batch_size=32, checkpoints=6, out_dir=tmp_path, rng=7)


def test_in_memory_and_safetensors(tmp_path):
    X, y = _data()
    r = train(mlp([12, 8, 3], rng=0), (X, y), 10, checkpoints=3, rng=0)
    assert len(r.state_dicts) == len(r.steps) and r.out_dir is None
    r2 = train(mlp([12, 8, 3], rng=0), (X, y), 10, checkpoints=3, rng=0, out_dir=tmp_path, file_format="safetensors")
    assert r2.paths[-1].endswith(".safetensors")
    for k, v in load_checkpoint(r2.paths[-1]).items():
        torch.testing.assert_close(v, r.state_dicts[-1][k])


def test_lazy_training_barely_moves_weights():
    X, y = _data(seed=1)
    rich = train(mlp([12, 16, 3], rng=0), (X, y), 60, lr=0.1, checkpoints=2, rng=0, num_threads=1)
    lazy = train(mlp([12, 16, 3], rng=0), (X, y), 60, lr=0.1, checkpoints=2, rng=0, lazy_scale=30.0, num_threads=1)
    w = lambda sd: [sd[k].numpy() for k in sd if k.endswith("weight")]
    d_rich = relative_change(w(rich.state_dicts[-1]), w(rich.state_dicts[0]))
    d_lazy = relative_change(w(lazy.state_dicts[-1]), w(lazy.state_dicts[0]))
    assert np.all(d_lazy < 0.1 * d_rich)
    assert lazy.train_loss[-1] < lazy.train_loss[0]  # it still learns (kernel regime)


def test_train_bad_input():
    X, y = _data()
    with pytest.raises(ValueError, match="optimizer"):
        train(mlp([12, 3]), (X, y), 5, optimizer="lbfgs")
    with pytest.raises(ValueError, match="data"):
        train(mlp([12, 3]), X, 5)
    with pytest.raises(ValueError, match="lazy_scale"):
        train(mlp([12, 3]), (X, y), 5, lazy_scale=-1.0)
