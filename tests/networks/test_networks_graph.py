"""map_network: graph capture of feed-forward nn.Modules (conv, BatchNorm, pooling, residual, concat) as spins.

Every energy test compares the mapped IsingModel with the Hamiltonian written with torch's own ops on the raw
parameters, H = -sum_blocks s_dst . (A s_src) - h . s, on random +-1 spins, in float64.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn as nn
import torch.nn.functional as F

from spinlens.networks import mlp, to_spins
from spinlens.networks.graph import GRAPH_SUPPORTED, SpinGraph, map_network

TOL = 1e-10


def _spins(g: SpinGraph, seed: int = 0, n: int = 4) -> tuple[np.ndarray, list[dict[str, torch.Tensor]]]:
    S = np.random.default_rng(seed).choice([-1.0, 1.0], size=(n, g.n_spins))
    per = g.split(S)
    return S, [{k: torch.tensor(v[b])[None] for k, v in per.items()} for b in range(n)]


def _check(g: SpinGraph, hamiltonian, seed: int = 0) -> None:
    """The mapped energies equal ``hamiltonian(spins by layer)`` written with torch ops, to 1e-10."""
    assert sp.issparse(g.model.J) and g.model.J.format == "csr"
    S, per = _spins(g, seed)
    mine = g.model.energy(S)
    with torch.no_grad():
        ref = np.array([float(hamiltonian(t)) for t in per])
    scale = max(1.0, float(np.max(np.abs(ref))))
    np.testing.assert_allclose(mine, ref, rtol=0, atol=TOL * scale)
    # the blocks are the same Hamiltonian
    e_blocks = np.zeros(len(S))
    for b in g.blocks:
        e_blocks -= np.einsum("bi,bi->b", S[:, g.layer(b.dst).slice], (b.matrix @ S[:, g.layer(b.src).slice].T).T)
    np.testing.assert_allclose(e_blocks - S @ g.fields, mine, rtol=0, atol=TOL * scale)


def _bcast(b: torch.Tensor, ndim: int) -> torch.Tensor:
    return b.reshape((1, -1) + (1,) * (ndim - 2))


def _field(s: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    return torch.zeros(()) if b is None else (s * _bcast(b, s.ndim)).sum()


# ---------------------------------------------------------------------------------------------- exact maps
@pytest.mark.parametrize("with_field", [False, True])
def test_conv1d_energy(with_field):
    torch.manual_seed(1)
    c1 = nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2)
    c2 = nn.Conv1d(6, 3, 2)
    net = nn.Sequential(c1, nn.Tanh(), c2).double()
    g = map_network(net, torch.zeros(1, 4, 11, dtype=torch.float64), bias_as_field=with_field)
    assert g.layer_names == ("input", "1", "output")
    assert g.layer("1").shape == (6, 5)

    def H(t):
        e = -(t["1"] * F.conv1d(t["input"], c1.weight, stride=2, padding=1, dilation=2, groups=2)).sum()
        e = e - (t["output"] * F.conv1d(t["1"], c2.weight)).sum()
        if with_field:
            e = e - _field(t["1"], c1.bias) - _field(t["output"], c2.bias)
        return e

    _check(g, H)


@pytest.mark.parametrize("with_field", [False, True])
def test_conv2d_energy_stride_padding_dilation_groups(with_field):
    torch.manual_seed(2)
    c1 = nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2)
    c2 = nn.Conv2d(6, 4, (2, 3), stride=(1, 2), padding=(1, 0))
    lin = nn.Linear(4 * 5 * 1, 3)
    net = nn.Sequential(c1, nn.ReLU(), c2, nn.GELU(), nn.Flatten(), lin).double()
    g = map_network(net, torch.zeros(2, 4, 9, 8, dtype=torch.float64), bias_as_field=with_field)
    assert [L.shape for L in g.layers] == [(4, 9, 8), (6, 4, 3), (4, 5, 1), (3,)]
    assert [L.offset for L in g.layers] == [0, 288, 360, 380]

    def H(t):
        e = -(t["1"] * F.conv2d(t["input"], c1.weight, stride=2, padding=1, dilation=2, groups=2)).sum()
        e = e - (t["3"] * F.conv2d(t["1"], c2.weight, stride=(1, 2), padding=(1, 0))).sum()
        e = e - (t["output"] * F.linear(t["3"].flatten(1), lin.weight)).sum()
        if with_field:
            e = e - _field(t["1"], c1.bias) - _field(t["3"], c2.bias) - _field(t["output"], lin.bias)
        return e

    _check(g, H)


@pytest.mark.parametrize("mode", ["circular", "reflect", "replicate", "same"])
def test_conv2d_padding_modes(mode):
    torch.manual_seed(3)
    if mode == "same":
        conv = nn.Conv2d(2, 3, (3, 4), padding="same", dilation=(1, 2), bias=False)
    else:
        conv = nn.Conv2d(2, 3, 3, padding=2, stride=(2, 1), padding_mode=mode, bias=False)
    net = nn.Sequential(conv, nn.Sigmoid()).double()
    g = map_network(net, torch.zeros(1, 2, 5, 6, dtype=torch.float64))
    _check(g, lambda t: -(t["1"] * conv(t["input"])).sum())


def test_batchnorm_folding_equals_eval_forward_and_energy():
    torch.manual_seed(4)
    conv, bn = nn.Conv2d(3, 5, 3, padding=1), nn.BatchNorm2d(5)
    lin, bn1 = nn.Linear(5 * 4 * 4, 6), nn.BatchNorm1d(6)
    out = nn.Linear(6, 2)
    net = nn.Sequential(conv, bn, nn.ReLU(), nn.Flatten(), lin, bn1, nn.Tanh(), out).double()
    with torch.no_grad():
        for m in (bn, bn1):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            m.weight.normal_()
            m.bias.normal_()
    net.eval()
    g = map_network(net, torch.zeros(1, 3, 4, 4, dtype=torch.float64), bias_as_field=True)
    assert g.notes[0] == "BatchNorm folded with its running statistics (eval mode): 1, 5."
    # the block into layer "2" plus its field is the eval-mode forward of conv -> bn, on any real input
    x = torch.randn(3, 3, 4, 4, dtype=torch.float64)
    (blk,) = [b for b in g.blocks if b.dst == "2"]
    with torch.no_grad():
        want = bn(conv(x)).reshape(3, -1).numpy()
    got = (blk.matrix @ x.reshape(3, -1).numpy().T).T + g.fields[g.layer("2").slice]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)

    # energies against BN folded by hand: W' = W * scale, b' = (b - mean) * scale + beta
    def fold(m, W, b):
        scale = m.weight / torch.sqrt(m.running_var + m.eps)
        return W * scale.reshape((-1,) + (1,) * (W.ndim - 1)), (b - m.running_mean) * scale + m.bias

    Wc, bc = fold(bn, conv.weight, conv.bias)
    Wl, bl = fold(bn1, lin.weight, lin.bias)

    def H(t):
        e = -(t["2"] * F.conv2d(t["input"], Wc, padding=1)).sum() - _field(t["2"], bc)
        e = e - (t["6"] * F.linear(t["2"].flatten(1), Wl)).sum() - _field(t["6"], bl)
        return e - (t["output"] * F.linear(t["6"], out.weight)).sum() - _field(t["output"], out.bias)

    _check(g, H)


@pytest.mark.parametrize("pool", [
    nn.AvgPool2d(2),
    nn.AvgPool2d(3, stride=2, padding=1),
    nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
    nn.AvgPool2d((2, 3), stride=(1, 2), divisor_override=5),
    nn.AdaptiveAvgPool2d((3, 2)),
    nn.AdaptiveAvgPool2d(1),
])
def test_avgpool_energy_and_forward(pool):
    torch.manual_seed(5)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    net = nn.Sequential(conv, pool, nn.Tanh()).double()
    g = map_network(net, torch.zeros(1, 2, 7, 6, dtype=torch.float64), bias_as_field=True)
    (blk,) = g.blocks
    x = torch.randn(2, 2, 7, 6, dtype=torch.float64)
    with torch.no_grad():
        want = pool(conv(x)).reshape(2, -1).numpy()
    np.testing.assert_allclose((blk.matrix @ x.reshape(2, -1).numpy().T).T + g.fields[g.layer("2").slice], want,
                               rtol=0, atol=1e-12)
    _check(g, lambda t: -(t["2"] * pool(F.conv2d(t["input"], conv.weight, padding=1))).sum()
           - (t["2"] * pool(_bcast(conv.bias, 4).expand(1, 3, 7, 6))).sum())


def test_avgpool1d_and_adaptive1d():
    torch.manual_seed(6)
    lin = nn.Conv1d(2, 2, 1, bias=False)
    net = nn.Sequential(lin, nn.AvgPool1d(3, stride=2, padding=1), nn.ReLU(), nn.Conv1d(2, 2, 1, bias=False),
                        nn.AdaptiveAvgPool1d(3)).double()
    g = map_network(net, torch.zeros(1, 2, 10, dtype=torch.float64))
    _check(g, lambda t: -(t["2"] * net[1](net[0](t["input"]))).sum() - (t["output"] * net[4](net[3](t["2"]))).sum())


class _ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.short = nn.Identity() if (c_in == c_out and stride == 1) else nn.Conv2d(c_in, c_out, 1, stride=stride)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.short(x))


class _ResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.block1 = _ResBlock(4, 4)
        self.block2 = _ResBlock(4, 6, stride=2)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        x = self.act(self.stem(x))
        x = self.block2(self.block1(x))
        return self.head(x.mean(dim=(2, 3)))


def _randomise_bn(net):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_()
                m.bias.normal_()
    return net.eval()


def test_residual_identity_and_projection_shortcuts():
    torch.manual_seed(7)
    net = _randomise_bn(_ResNet().double())
    g = map_network(net, torch.zeros(1, 1, 6, 6, dtype=torch.float64), bias_as_field=True)
    names = g.layer_names
    assert names[0] == "input" and names[1] == "act" and names[-1] == "output"
    b1, b2 = net.block1, net.block2
    pairs = {(b.src, b.dst) for b in g.blocks}
    # identity shortcut: a unit block from the block input ("act") to the block output, besides conv2
    h1, o1, h2, o2 = names[2], names[3], names[4], names[5]
    assert ("act", o1) in pairs and ("act", h1) in pairs and (h1, o1) in pairs
    assert (o1, o2) in pairs and (o1, h2) in pairs  # projection shortcut skips h2
    ident = next(b for b in g.blocks if (b.src, b.dst) == ("act", o1)).matrix
    assert (ident != sp.identity(ident.shape[0])).nnz == 0  # the identity shortcut: unit bonds, nothing else
    proj = next(b for b in g.blocks if (b.src, b.dst) == (o1, o2)).matrix
    assert proj.nnz == 6 * 4 * 3 * 3  # 1x1 stride-2 projection: 6x4 weights at each of the 3x3 output positions

    def bn_lin(m, x):  # linear part of eval BatchNorm (no shift)
        return x * _bcast(m.weight / torch.sqrt(m.running_var + m.eps), 4)

    def bn_shift(m):
        scale = m.weight / torch.sqrt(m.running_var + m.eps)
        return m.bias - m.running_mean * scale

    def H(t):
        s0, s1, sh1, so1, sh2, so2, sout = (t[n] for n in names)
        e = -(s1 * F.conv2d(s0, net.stem.weight, padding=1)).sum() - _field(s1, net.stem.bias)
        e = e - (sh1 * bn_lin(b1.bn1, F.conv2d(s1, b1.conv1.weight, padding=1))).sum() - _field(sh1, bn_shift(b1.bn1))
        e = e - (so1 * (bn_lin(b1.bn2, F.conv2d(sh1, b1.conv2.weight, padding=1)) + s1)).sum()
        e = e - _field(so1, bn_shift(b1.bn2))
        e = e - (sh2 * bn_lin(b2.bn1, F.conv2d(so1, b2.conv1.weight, stride=2, padding=1))).sum()
        e = e - _field(sh2, bn_shift(b2.bn1))
        e = e - (so2 * (bn_lin(b2.bn2, F.conv2d(sh2, b2.conv2.weight, padding=1))
                        + F.conv2d(so1, b2.short.weight, stride=2))).sum()
        e = e - _field(so2, bn_shift(b2.bn2) + b2.short.bias)
        e = e - (sout * F.linear(so2.mean(dim=(2, 3)), net.head.weight)).sum() - _field(sout, net.head.bias)
        return e

    _check(g, H)


def test_two_paths_between_the_same_layers_are_summed():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Linear(4, 5), nn.Linear(4, 5), nn.Linear(4, 5, bias=False)

        def forward(self, x):
            h = torch.tanh(x @ torch.eye(4, dtype=x.dtype) * 2.0)  # scaled copy of the input: a new layer
            return self.a(h) + torch.add(self.b(h), self.c(h), alpha=-0.5) - 1.0

    torch.manual_seed(8)
    net = Two().double()
    g = map_network(net, torch.zeros(1, 4, dtype=torch.float64), bias_as_field=True)
    assert [b.src for b in g.blocks] == ["input", "tanh"]
    W = (net.a.weight + net.b.weight - 0.5 * net.c.weight).detach().numpy()
    np.testing.assert_allclose(g.blocks[1].matrix.toarray(), W, rtol=0, atol=1e-14)
    np.testing.assert_allclose(g.blocks[0].matrix.toarray(), 2 * np.eye(4), rtol=0, atol=0)
    np.testing.assert_allclose(g.fields[g.layer("output").slice],
                               (net.a.bias + net.b.bias).detach().numpy() - 1.0, rtol=0, atol=1e-14)


class _Concat(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(2, 3, 3, padding=1)
        self.c2 = nn.Conv2d(2, 2, 1)
        self.c3 = nn.Conv2d(5, 2, 3)
        self.fc = nn.Linear(2 * 2 * 3 + 5, 3)

    def forward(self, x):
        a = torch.relu(self.c1(x))
        b = F.silu(self.c2(x))
        y = torch.cat([a, b], dim=1)  # channels
        z = torch.tanh(self.c3(y))
        flat = torch.cat((z.view(z.size(0), -1), x[:, 0, 0, :]), 1)  # a slice of the input too
        return self.fc(flat)


def test_concat_and_functional_style_energy():
    torch.manual_seed(9)
    net = _Concat().double()
    g = map_network(net, torch.zeros(2, 2, 4, 5, dtype=torch.float64), bias_as_field=True)
    assert g.layer_names == ("input", "relu", "silu", "tanh", "output")
    pairs = [(b.src, b.dst) for b in g.blocks]
    assert pairs == [("input", "relu"), ("input", "silu"), ("relu", "tanh"), ("silu", "tanh"),
                     ("input", "output"), ("tanh", "output")]

    def H(t):
        x, a, b, z, o = (t[n] for n in g.layer_names)
        e = -(a * F.conv2d(x, net.c1.weight, padding=1)).sum() - _field(a, net.c1.bias)
        e = e - (b * F.conv2d(x, net.c2.weight)).sum() - _field(b, net.c2.bias)
        e = e - (z * F.conv2d(torch.cat([a, b], 1), net.c3.weight)).sum() - _field(z, net.c3.bias)
        flat = torch.cat([z.flatten(1), x[:, 0, 0, :]], 1)
        return e - (o * F.linear(flat, net.fc.weight)).sum() - _field(o, net.fc.bias)

    _check(g, H)


def test_module_subclass_mlp_maps_like_to_spins_of_sequential():
    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.out = nn.Linear(6, 5), nn.Linear(5, 4), nn.Linear(4, 3)
            self.drop = nn.Dropout(0.1)

        def forward(self, x):
            x = self.drop(torch.relu(self.fc1(x.view(x.shape[0], -1))))
            return self.out(F.tanh(self.fc2(x)))

    torch.manual_seed(10)
    net = MLP().double().eval()
    seq = nn.Sequential(nn.Flatten(), net.fc1, nn.ReLU(), nn.Dropout(0.1), net.fc2, nn.Tanh(), net.out)
    ref = to_spins(seq, bias_as_field=True)
    g = map_network(net, torch.zeros(1, 2, 3, dtype=torch.float64), bias_as_field=True)
    assert g.model.layers == ref.model.layers == (6, 5, 4, 3)
    diff = g.model.J - ref.model.J
    assert diff.nnz == 0 or float(abs(diff).max()) == 0.0
    assert g.model.J.nnz == ref.model.J.nnz
    np.testing.assert_array_equal(g.model.h, ref.model.h)
    # an MLP from spinlens itself, and one ending in an activation (the output is that activation's layer)
    m = mlp([5, 4, 3], "tanh", rng=0)
    assert (map_network(m, (1, 5)).model.J != to_spins(m).model.J).nnz == 0
    ends = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.Tanh(), nn.Sigmoid())
    g2 = map_network(ends, (1, 3))
    assert g2.layer_names == ("input", "1", "3") and (g2.model.J != to_spins(nn.Sequential(*ends[:4])).model.J).nnz == 0


def test_softmax_at_output_is_noted_elsewhere_refused():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Softmax(dim=1))
    g = map_network(net, (1, 3))
    assert any("Softmax" in n for n in g.notes)
    bad = nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=1), nn.Linear(4, 2))
    with pytest.raises(ValueError, match=r"module '1' \(Softmax\)"):
        map_network(bad, (1, 3))


# ---------------------------------------------------------------------------------------------- refusals
class _Mul(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(3, 3), nn.Linear(3, 3)

    def forward(self, x):
        return self.a(x) * self.b(x)


class _Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return x


class _Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.att = nn.MultiheadAttention(4, 2, batch_first=True)

    def forward(self, x):
        return self.att(x, x, x)[0]


class _Emb(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.emb(x))


def _train_bn():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).train()


@pytest.mark.parametrize("build, shape, match", [
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.ReLU()), (1, 1, 6, 6),
     r"module '1' \(MaxPool2d\).*max-pooling.*AvgPool.*linearize_at"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.ReLU()), (1, 3), r"module '1' \(LayerNorm\)"),
    (lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.GroupNorm(2, 4), nn.ReLU()), (1, 1, 5, 5),
     r"module '1' \(GroupNorm\)"),
    (_train_bn, (2, 3), r"module '1' \(BatchNorm1d\).*training mode.*net\.eval\(\)"),
    (_Attn, (1, 2, 4), r"module 'att' \(MultiheadAttention\).*attention"),
    (_Mul, (1, 3), r"operation 'mul' \(graph node mul\).*product of two network values"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.ConvTranspose1d(1, 1, 2)), (1, 3),
     r"module '1' \(ConvTranspose1d\)"),
])
def test_refused_ops_name_the_node(build, shape, match):
    net = build()
    with pytest.raises(ValueError, match=match) as info:
        map_network(net, shape)
    msg = str(info.value)
    assert "supported:" in msg and "What to do:" in msg and len(msg) < 400


def test_refused_embedding_control_flow_and_bad_input():
    with pytest.raises(ValueError, match=r"module 'emb' \(Embedding\).*integer ids"):
        map_network(_Emb(), torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"_Branchy.forward\(\) cannot be traced.*control flow"):
        map_network(_Branchy(), (1, 3))
    with pytest.raises(ValueError, match="nn.Module"):
        map_network({"0.weight": torch.zeros(2, 2)}, (1, 2))
    with pytest.raises(ValueError, match="fails on example_input of shape"):
        map_network(nn.Sequential(nn.Linear(3, 4), nn.ReLU()), (1, 5))
    with pytest.raises(ValueError, match="batch dimension"):
        map_network(nn.Sequential(nn.Linear(3, 4)), torch.zeros(3))
    with pytest.raises(ValueError, match="no linear operation"):
        map_network(nn.Sequential(nn.ReLU()), (1, 3))
    with pytest.raises(ValueError, match="mixes the batch dimension"):
        map_network(_Flat(), (1, 2, 3))
    bn = nn.BatchNorm1d(4, track_running_stats=False).eval()
    with pytest.raises(ValueError, match="running statistics"):
        map_network(nn.Sequential(nn.Linear(3, 4), bn, nn.ReLU()), (2, 3))
    # a refusal does not run the network: the training-mode BatchNorm statistics are untouched
    net = _train_bn()
    with pytest.raises(ValueError):
        map_network(net, torch.randn(4, 3))
    assert int(net[1].num_batches_tracked) == 0


class _Flat(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        return torch.tanh(self.fc(x.reshape(-1)[:6]))


# ---------------------------------------------------------------------------------------------- approximation
def test_linearize_at_maxpool_is_reported_and_exact_at_the_reference():
    torch.manual_seed(11)
    conv = nn.Conv2d(1, 2, 3, padding=1)
    net = nn.Sequential(conv, nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 3 * 3, 2)).double()
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    g = map_network(net, (1, 1, 6, 6), bias_as_field=True, linearize_at=x)
    assert any(n.startswith("APPROXIMATION") and "MaxPool2d" in n for n in g.notes)
    blk = next(b for b in g.blocks if b.dst == "2")
    per_row = np.diff(blk.matrix.indptr)  # one selected pre-pool unit per output: a (clipped) 3x3 input patch
    assert per_row.min() >= 4 and per_row.max() <= 9
    with torch.no_grad():
        want = net[1](conv(x)).reshape(-1).numpy()
    got = blk.matrix @ x.reshape(-1).numpy() + g.fields[g.layer("2").slice]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_linearize_at_a_linear_op_is_exact_and_products_are_linearised():
    torch.manual_seed(12)
    up = nn.ConvTranspose1d(2, 1, 3, stride=2)
    net = nn.Sequential(nn.Conv1d(1, 2, 1, bias=False), up, nn.Tanh()).double()
    g = map_network(net, (1, 1, 4), bias_as_field=True, linearize_at=torch.randn(3, 1, 4, dtype=torch.float64))
    x = torch.randn(5, 1, 4, dtype=torch.float64)
    with torch.no_grad():
        want = net[:2](x).reshape(5, -1).numpy()
    (blk,) = g.blocks
    np.testing.assert_allclose((blk.matrix @ x.reshape(5, -1).numpy().T).T + g.fields[g.layer("2").slice], want,
                               rtol=0, atol=1e-12)
    gm = map_network(_Mul().double(), (1, 3), linearize_at=torch.randn(2, 3, dtype=torch.float64))
    assert any("mul" in n for n in gm.notes) and gm.layer_names == ("input", "output")


# ---------------------------------------------------------------------------------------------- scale and solvers
def _lenet():
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(16, 16, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 10),
    )


def _valid_taps(size: int, k: int, pad: int) -> int:
    """sum over output positions of the kernel taps that land inside the input (stride 1, 'same' size)."""
    return sum(1 for o in range(size) for j in range(k) if 0 <= o - pad + j < size)


def test_lenet_cnn_maps_with_the_derived_number_of_couplings():
    torch.manual_seed(13)
    g = map_network(_lenet(), (1, 1, 28, 28))
    assert [L.shape for L in g.layers] == [(1, 28, 28), (16, 28, 28), (16, 14, 14), (10,)]
    # conv1: 16 filters x (taps inside the 28x28 image)^2; conv2 o pool1: 16x16 filters x (taps inside 14x14,
    # each pooled unit averaging 2 pre-pool rows/cols)^2; fc o pool2: dense 10 x 3136
    n1 = 16 * 1 * _valid_taps(28, 5, 2) ** 2
    n2 = 16 * 16 * (2 * _valid_taps(14, 5, 2)) ** 2
    n3 = 10 * 16 * 14 * 14
    assert [b.nnz for b in g.blocks] == [n1, n2, n3]
    assert g.model.J.nnz == 2 * (n1 + n2 + n3)
    assert g.n_spins == 784 + 12544 + 3136 + 10


def test_small_mapped_cnn_runs_through_the_solvers():
    from spinlens.meanfield import naive
    from spinlens.networks.phases import analyze

    torch.manual_seed(14)
    net = _randomise_bn(_ResNet())
    g = map_network(net, (1, 1, 4, 4))
    res = analyze(g.model, n_grid=8, n_starts=2, rng=0)
    assert res.phase in ("paramagnet", "spin glass", "hidden order")
    mf = naive(g.model, beta=0.5, rng=0)
    assert np.all(np.isfinite(np.asarray(mf.m)))


def test_supported_list_is_public():
    assert any("Conv" in s for s in GRAPH_SUPPORTED)


class _InPlaceLost(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.out = nn.Linear(3, 4), nn.Linear(4, 2)

    def forward(self, x):
        h = self.fc(x)
        h.relu_()  # result dropped: fx would silently skip the activation
        return self.out(h)


class _InPlaceOk(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.out, self.act = nn.Linear(3, 4), nn.Linear(4, 2), nn.ReLU(inplace=True)
        self.aux = nn.MaxPool1d(2)  # dead code below: it does not reach the output, so it is not refused

    def forward(self, x):
        unused = self.aux(x.unsqueeze(1))
        del unused
        h = self.act(self.fc(x))
        h = F.relu(h, inplace=True)
        return self.out(h)


def test_in_place_ops_and_dead_code():
    with pytest.raises(ValueError, match=r"in-place operation 'relu' \(graph node relu_\).*out-of-place"):
        map_network(_InPlaceLost(), (1, 3))
    net = _InPlaceOk()
    g = map_network(net, (1, 3))
    assert g.layer_names == ("input", "act", "output")
    ref = to_spins(nn.Sequential(net.fc, nn.ReLU(), net.out))
    assert (g.model.J != ref.model.J).nnz == 0


def test_functional_activation_layers_are_named_by_module_path():
    torch.manual_seed(15)
    g = map_network(_randomise_bn(_ResNet()), (1, 1, 4, 4))
    assert g.layer_names[2:6] == ("block1.relu", "block1.relu_1", "block2.relu_2", "block2.relu_3")
    assert {b.dst for b in g.blocks} == set(g.layer_names[1:])


class _Seq(nn.Module):
    """Linear on a (length, features) input, permutes, scaling, a mean over positions."""

    def __init__(self):
        super().__init__()
        self.fc, self.head = nn.Linear(3, 4), nn.Linear(4, 2)

    def forward(self, x):  # x: (batch, 3 features, 5 positions)
        h = torch.tanh(self.fc(x.permute(0, 2, 1)) / 2.0)  # (batch, 5, 4)
        return -self.head(h.mean(dim=1)) + 0.5 * h.sum(1)[:, :2]


def test_linear_on_sequences_permute_scale_and_reduce():
    torch.manual_seed(16)
    net = _Seq().double()
    g = map_network(net, torch.zeros(3, 3, 5, dtype=torch.float64), bias_as_field=True)
    assert g.layer("tanh").shape == (5, 4)

    def H(t):
        x, h, o = t["input"], t["tanh"], t["output"]
        e = -(h * F.linear(x.permute(0, 2, 1), net.fc.weight) / 2.0).sum() - (h * net.fc.bias / 2.0).sum()
        e = e - (o * (-F.linear(h.mean(1), net.head.weight) + 0.5 * h.sum(1)[:, :2])).sum()
        return e + (o * net.head.bias).sum()

    _check(g, H)


def test_linearize_at_layernorm_is_exact_at_the_reference_point():
    torch.manual_seed(17)
    net = nn.Sequential(nn.Linear(3, 5), nn.LayerNorm(5), nn.ReLU(), nn.Linear(5, 2)).double()
    x = torch.randn(1, 3, dtype=torch.float64)
    g = map_network(net, (1, 3), bias_as_field=True, linearize_at=x)
    assert any("LayerNorm" in n and "APPROXIMATION" in n for n in g.notes)
    (blk,) = [b for b in g.blocks if b.dst == "2"]
    with torch.no_grad():
        want = net[:2](x).reshape(-1).numpy()
    np.testing.assert_allclose(blk.matrix @ x.reshape(-1).numpy() + g.fields[g.layer("2").slice], want,
                               rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="linearize_at must be a batch"):
        map_network(net, (1, 3), linearize_at=torch.zeros(2, 4))
