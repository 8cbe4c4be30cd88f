"""Built-in CNN and residual builders (cnn, resnet) and the trainer on them: spins, seeding, BatchNorm, resume."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn as nn

from spinlens.networks import cnn, load_checkpoint, map_network, resnet, train

SHAPE = (1, 8, 8)  # tiny images: 64 input pixels


def _data(n=96, seed=0):
    """Three classes told apart by the mean brightness of the image's top, middle and bottom rows."""
    g = np.random.default_rng(seed)
    y = g.integers(0, 3, size=n)
    X = g.normal(scale=0.5, size=(n, *SHAPE))
    for k in range(3):
        X[y == k, :, 3 * k : 3 * k + 2, :] += 1.5
    return X.reshape(n, -1), y


def _tiny_resnet(rng=0, **kw):
    return resnet(SHAPE, width=3, n_blocks=2, n_classes=3, rng=rng, **kw)


def _tiny_cnn(rng=0, **kw):
    return cnn(SHAPE, channels=(2, 3), n_classes=3, rng=rng, **kw)


def _params_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ---------------------------------------------------------------------------------------------- builders
@pytest.mark.parametrize(("channels", "n_spins"), [((2, 3), 784 + 784 * 2 + 196 * 3 + 138),
                                                   ((16, 32), 784 + 784 * 16 + 196 * 32 + 138)])
def test_cnn_shapes_and_spin_count(channels, n_spins):
    net = cnn(channels=channels, rng=0)
    assert net(torch.zeros(5, 784)).shape == (5, 10)
    g = map_network(net.eval(), (1, 784))
    assert g.model.n_spins == n_spins
    c1, c2 = channels
    assert [ly.size for ly in g.layers] == [784, 784 * c1, 196 * c2, 128, 10]
    assert [type(m).__name__ for m in net][:2] == ["Unflatten", "Conv2d"]
    assert not any(isinstance(m, nn.MaxPool2d) for m in net.modules())


@pytest.mark.parametrize(("width", "n_blocks"), [(2, 1), (3, 2), (16, 2)])
def test_resnet_shapes_and_spin_count(width, n_blocks):
    net = resnet(width=width, n_blocks=n_blocks, rng=0)
    assert not isinstance(net, nn.Sequential)
    assert net(torch.zeros(4, 784)).shape == (4, 10)  # training-mode BatchNorm needs > 1 value per channel
    g = map_network(net.eval(), (1, 784))
    assert g.model.n_spins == 784 + 784 * width * (1 + 2 * n_blocks) + 10
    names = [ly.name for ly in g.layers]
    assert names[0] == "input" and names[-1] == "output" and names[1] == "stem_act"
    assert names[2:4] == ["blocks.0.act1", "blocks.0.act2"]
    # identity shortcut: a unit block from each block's input to its output layer, skipping act1
    pairs = {(b.src, b.dst): b for b in g.blocks}
    short = sp.csr_matrix(pairs[("stem_act", "blocks.0.act2")].matrix, copy=True)
    assert short.count_nonzero() == 784 * width and abs(short - sp.identity(784 * width)).max() == 0


def test_resnet_mapping_folds_batchnorm_exactly():
    """The mapped couplings reproduce the eval-mode network's pre-activations (non-trivial BN statistics)."""
    net = _tiny_resnet(rng=1, dtype=torch.float64)
    with torch.no_grad():  # give BatchNorm non-trivial statistics and affine parameters
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    net.eval()
    g = map_network(net, (1, 64), bias_as_field=True)
    x = torch.randn(1, 64, dtype=torch.float64)
    # value arriving at the stem activation: BN(conv(x)) computed with torch, vs A x + b from the mapping
    with torch.no_grad():
        pre = net.stem_bn(net.stem(net.unflatten(x))).reshape(-1).numpy()
    A = {(b.src, b.dst): b.matrix for b in g.blocks}[("input", "stem_act")]
    off = {ly.name: ly for ly in g.layers}["stem_act"]
    h = np.asarray(g.fields)[off.offset : off.offset + off.size]
    np.testing.assert_allclose(A @ x.numpy().ravel() + h, pre, rtol=1e-12, atol=1e-12)


def test_builders_seeding_and_init_law():
    for build in (_tiny_cnn, _tiny_resnet):
        assert _params_equal(build(rng=5), build(rng=5))
        assert not _params_equal(build(rng=5), build(rng=6))
    net = cnn(channels=(16, 32), rng=0)
    w = net[1].weight.detach()  # Conv2d(1 -> 16, 5): fan_in 25, U(-1/5, 1/5)
    assert float(w.abs().max()) <= 0.2 and float(w.abs().max()) > 0.19
    np.testing.assert_allclose(float(w.var()), 0.2**2 / 3, rtol=0.15)
    w2 = net[4].weight.detach()  # Conv2d(16 -> 32, 3): fan_in 144
    assert float(w2.abs().max()) <= 1 / 12
    np.testing.assert_allclose(float(w2.var()), 1 / (3 * 144), rtol=0.05)
    r = _tiny_resnet()
    assert r.stem.bias is None and r.fc.bias is not None  # BatchNorm's shift replaces conv biases
    assert resnet(SHAPE, width=2, batchnorm=False, rng=0).stem.bias is not None
    assert cnn(SHAPE, (2, 3), n_classes=3, dtype=torch.float64, rng=0)[1].weight.dtype == torch.float64


def test_builders_sign_and_bad_input():
    assert any(type(m).__name__ == "Sign" for m in _tiny_cnn(activation="sign").modules())
    assert sum(isinstance(m, nn.Tanh) for m in _tiny_resnet(activation="tanh").modules()) == 5
    with pytest.raises(ValueError, match="activation"):
        cnn(activation="swish")
    with pytest.raises(ValueError, match="channels"):
        cnn(channels=(4, 4, 4))
    with pytest.raises(ValueError, match="divisible by 4"):
        cnn((1, 10, 10))
    with pytest.raises(ValueError, match="in_shape"):
        resnet((28, 28))
    with pytest.raises(ValueError, match="width"):
        resnet(width=0)


# ---------------------------------------------------------------------------------------------- training
def _eval_outputs(net, X):
    net.eval()
    with torch.no_grad():
        return net(torch.as_tensor(X, dtype=torch.float32))


@pytest.mark.parametrize("build", [_tiny_cnn, _tiny_resnet], ids=["cnn", "resnet"])
def test_checkpoints_load_into_fresh_builder(tmp_path, build):
    X, y = _data()
    net = build(rng=0)
    r = train(net, (X, y), 12, lr=0.05, batch_size=32, checkpoints=4, out_dir=tmp_path, rng=1, num_threads=1)
    assert not net.training  # left in eval mode
    final = load_checkpoint(r.paths[-1])
    assert final.keys() == net.state_dict().keys()
    fresh = build(rng=99)
    fresh.load_state_dict(final)
    torch.testing.assert_close(_eval_outputs(fresh, X), _eval_outputs(net, X), rtol=0, atol=0)
    # every checkpoint's recorded loss/accuracy is that of the eval-mode network it holds
    for p, loss, acc in zip(r.paths, r.train_loss, r.train_accuracy, strict=True):
        fresh.load_state_dict(load_checkpoint(p))
        out = _eval_outputs(fresh, X)
        yt = torch.as_tensor(y)
        assert acc == pytest.approx(float((out.argmax(1) == yt).double().mean()), abs=1e-12)
        assert loss == pytest.approx(float(nn.functional.cross_entropy(out, yt)), rel=1e-5)


def test_batchnorm_buffers_saved_and_updated(tmp_path):
    X, y = _data()
    init = _tiny_resnet(rng=0)
    r = train(_tiny_resnet(rng=0), (X, y), 10, lr=0.05, batch_size=32, checkpoints=[0, 10], out_dir=tmp_path,
              rng=1, file_format="safetensors")
    sd0, sd1 = load_checkpoint(r.paths[0]), load_checkpoint(r.paths[-1])
    bn_keys = [k for k in sd1 if k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert len(bn_keys) == 3 * 5  # stem + 2 per block, 2 blocks
    for k in bn_keys:
        torch.testing.assert_close(sd0[k], init.state_dict()[k], rtol=0, atol=0)  # step 0: fresh statistics
    assert int(sd1["stem_bn.num_batches_tracked"]) == 10
    assert not torch.allclose(sd1["stem_bn.running_mean"], sd0["stem_bn.running_mean"])
    assert not torch.allclose(sd1["blocks.1.bn2.running_var"], sd0["blocks.1.bn2.running_var"])
    # the recorded accuracy is the eval-mode one: recompute it, and check it is not the training-mode one
    net = _tiny_resnet(rng=3)
    net.load_state_dict(sd1)
    acc_eval = float((_eval_outputs(net, X).argmax(1) == torch.as_tensor(y)).double().mean())
    assert r.train_accuracy[-1] == pytest.approx(acc_eval, abs=1e-12)
    net.train()
    with torch.no_grad():
        out_train = net(torch.as_tensor(X, dtype=torch.float32))
    assert not torch.allclose(out_train, _eval_outputs(net, X), atol=1e-3)


@pytest.mark.parametrize("build", [_tiny_cnn, _tiny_resnet], ids=["cnn", "resnet"])
def test_training_is_deterministic_and_resumes(tmp_path, build):
    X, y = _data()
    kw = dict(lr=0.05, batch_size=32, checkpoints=[0, 3, 6, 10, 16], rng=2, num_threads=1)
    full = train(build(rng=0), (X, y), 16, out_dir=tmp_path / "a", **kw)
    again = train(build(rng=0), (X, y), 16, **kw)  # in memory, same seed: the same weights and buffers
    final = load_checkpoint(full.paths[-1])
    for k in final:
        torch.testing.assert_close(again.state_dicts[-1][k], final[k], rtol=0, atol=0)
    # an interrupted run: drop the last two checkpoints and resume from step 6 with fresh objects
    d = tmp_path / "a"
    for s in (10, 16):
        (d / f"step_{s:08d}.pt").unlink()
        (d / f"optim_{s:08d}.pt").unlink()
    resumed = train(build(rng=123), (X, y), 16, out_dir=d, **kw)
    assert resumed.resumed_from == 6
    got = load_checkpoint(resumed.paths[-1])
    assert got.keys() == final.keys()
    for k in final:
        torch.testing.assert_close(got[k], final[k], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(resumed.train_accuracy, full.train_accuracy)


def test_resume_into_another_network_and_lazy_batchnorm_refused(tmp_path):
    X, y = _data()
    train(_tiny_cnn(), (X, y), 4, batch_size=32, checkpoints=[0, 2, 4], out_dir=tmp_path, rng=0)
    (tmp_path / "step_00000004.pt").unlink()
    with pytest.raises(ValueError, match="different network"):
        train(_tiny_resnet(), (X, y), 4, batch_size=32, checkpoints=[0, 2, 4], out_dir=tmp_path, rng=0)
    with pytest.raises(ValueError, match="BatchNorm"):
        train(_tiny_resnet(), (X, y), 4, batch_size=32, lazy_scale=10.0, rng=0)
    r = train(_tiny_resnet(batchnorm=False), (X, y), 4, batch_size=32, lazy_scale=10.0, checkpoints=2, rng=0)
    assert np.isfinite(r.train_loss).all()


def test_resume_refuses_another_network_with_the_same_shapes(tmp_path):
    """The index records the network (repr digest): sign activations do not resume a ReLU run of equal shapes."""
    from spinlens.networks import mlp

    X, y = _data()
    X = X.reshape(len(X), -1)
    train(mlp((X.shape[1], 6, 10), "relu", rng=0), (X, y), 4, batch_size=32, checkpoints=[0, 2, 4], out_dir=tmp_path,
          rng=0)
    with pytest.raises(ValueError, match="a different network"):
        train(mlp((X.shape[1], 6, 10), "sign", rng=0), (X, y), 4, batch_size=32, checkpoints=[0, 2, 4],
              out_dir=tmp_path, rng=0)
    again = train(mlp((X.shape[1], 6, 10), "relu", rng=0), (X, y), 4, batch_size=32, checkpoints=[0, 2, 4],
                  out_dir=tmp_path, rng=0)
    assert len(again.steps) == 3
