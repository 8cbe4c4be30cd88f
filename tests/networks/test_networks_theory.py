"""Initialisation theory beyond MLPs: variance profile (independent couplings) and Fourier symbol (conv, residual)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")
nn = torch.nn

from spinlens.networks import map_network  # noqa: E402
from spinlens.networks.graph import CouplingBlock  # noqa: E402
from spinlens.networks.phases import analyze, layered_tc, stability_curve  # noqa: E402
from spinlens.networks.theory import fourier_prediction, variance_profile_tc  # noqa: E402


class Shortcut(nn.Module):
    """300-300-300 MLP with a dense projection shortcut from the input to the output (layers 0 -> 2)."""

    def __init__(self, n: int = 300) -> None:
        super().__init__()
        self.l1, self.l2, self.proj = nn.Linear(n, n), nn.Linear(n, n), nn.Linear(n, n)

    def forward(self, x):
        return self.l2(torch.relu(self.l1(x))) + self.proj(x)


class ResMLP(nn.Module):
    def __init__(self, n: int, n_blocks: int) -> None:
        super().__init__()
        self.a = nn.ModuleList([nn.Linear(n, n) for _ in range(n_blocks)])
        self.b = nn.ModuleList([nn.Linear(n, n) for _ in range(n_blocks)])

    def forward(self, x):
        for a, b in zip(self.a, self.b, strict=True):
            x = torch.relu(b(torch.relu(a(x))) + x)
        return x


class ResCNN(nn.Module):
    def __init__(self, c: int, n_blocks: int, pad: str) -> None:
        super().__init__()
        conv = [nn.Conv2d(c, c, 3, padding=1, padding_mode=pad) for _ in range(2 * n_blocks)]
        self.a, self.b = nn.ModuleList(conv[::2]), nn.ModuleList(conv[1::2])

    def forward(self, x):
        for a, b in zip(self.a, self.b, strict=True):
            x = torch.relu(b(torch.relu(a(x))) + x)
        return x


def _cnn(channels, pad, seed):
    torch.manual_seed(seed)
    mods: list = []
    for a, b in zip(channels[:-1], channels[1:], strict=True):
        mods += [nn.Conv2d(a, b, 3, padding=1, padding_mode=pad), nn.ReLU()]
    return nn.Sequential(*mods[:-1])


# ---------------------------------------------------------------------------------------------- variance profile
def test_chain_equals_layered_tc():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(40, 70), nn.Tanh(), nn.Linear(70, 50), nn.Tanh(), nn.Linear(50, 30))
    g = map_network(net, (1, 40))
    Ws = [m.weight.detach().double().numpy() for m in net if isinstance(m, nn.Linear)]
    expected = layered_tc([40, 70, 50, 30], [float(np.mean(W**2)) for W in Ws])
    assert variance_profile_tc(g) == pytest.approx(expected, rel=1e-10)
    assert variance_profile_tc(g.blocks) == pytest.approx(expected, rel=1e-10)  # blocks alone suffice
    assert variance_profile_tc(g, variance="entry") == pytest.approx(expected, rel=0.05)


def test_sparse_profile_equals_dense_spectral_radius():
    rng = np.random.default_rng(1)
    sizes = {"a": 30, "b": 40, "c": 25}
    blocks = []
    for src, dst, dens in (("a", "b", 1.0), ("b", "c", 0.3), ("a", "c", 0.5)):
        M = sp.random(sizes[dst], sizes[src], density=dens, random_state=rng, data_rvs=rng.standard_normal)
        blocks.append(CouplingBlock(src=src, dst=dst, matrix=sp.csr_matrix(M)))
    off = {"a": 0, "b": 30, "c": 70}
    V = np.zeros((95, 95))
    for b in blocks:
        A = b.matrix.toarray()
        full = A.size == b.matrix.nnz
        mean_sq = np.sum(A**2) / b.matrix.nnz
        Vb = np.full(A.shape, mean_sq) if full else np.where(A != 0, mean_sq, 0.0)
        V[off[b.dst]:off[b.dst] + A.shape[0], off[b.src]:off[b.src] + A.shape[1]] = Vb
    V = V + V.T
    assert variance_profile_tc(blocks) == pytest.approx(np.sqrt(np.linalg.eigvalsh(V)[-1]), rel=1e-8)
    # entry-wise profile: V_ij = A_ij^2
    W = np.zeros((95, 95))
    for b in blocks:
        A = b.matrix.toarray()
        W[off[b.dst]:off[b.dst] + A.shape[0], off[b.src]:off[b.src] + A.shape[1]] = A**2
    W = W + W.T
    assert variance_profile_tc(blocks, variance="entry") == pytest.approx(np.sqrt(np.linalg.eigvalsh(W)[-1]),
                                                                          rel=1e-8)
    assert variance_profile_tc(blocks, exclude=[("a", "c")]) < variance_profile_tc(blocks)


@pytest.mark.parametrize("init", ["pytorch", "normal"])
def test_dense_shortcut_graph_is_a_glass_at_the_variance_profile_tc(init):
    torch.manual_seed(3)
    net = Shortcut(300)
    if init == "normal":  # N(0, 1/fan_in): each layer pair has C = 1, the triangle of layers has rho(V) = 2
        with torch.no_grad():
            for m in (net.l1, net.l2, net.proj):
                m.weight.normal_(0.0, 1.0 / np.sqrt(300))
    g = map_network(net, (1, 300))
    assert {(b.src, b.dst) for b in g.blocks} == {("input", "relu"), ("relu", "output"), ("input", "output")}
    pred = variance_profile_tc(g)
    # PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)) has variance 1/(3 fan_in): rho(V) = 2/3
    assert pred == pytest.approx(np.sqrt(2 / 3) if init == "pytorch" else np.sqrt(2.0), rel=0.02)
    r = analyze(g, n_starts=0)
    assert r.phase == "spin glass"
    assert r.t_c == pytest.approx(pred, rel=0.03)


# ---------------------------------------------------------------------------------------------- Fourier symbol
def test_single_channel_symbol_is_the_kernel_fourier_transform():
    net = _cnn((1, 1), "circular", seed=0)
    w = net[0].weight.detach().double().numpy()[0, 0]
    g = map_network(net, (1, 1, 12, 12))
    p = fourier_prediction(g)
    K = np.zeros((12, 12))
    K[:3, :3] = w
    lam = np.abs(np.fft.fft2(K)).max()  # max_k |w_hat(k)|
    d = float(np.sum(w**2))
    assert p.exact and p.translation_error < 1e-12
    assert p.lambda_max == pytest.approx(lam, rel=1e-10)
    assert p.block_sigma_max[0][2] == pytest.approx(lam, rel=1e-10)
    # f(T) = T + d/T - lambda: minimum 2 sqrt(d) - lambda at T = sqrt(d)
    assert p.t_star == pytest.approx(np.sqrt(d), rel=1e-6)
    assert p.f_min == pytest.approx(2 * np.sqrt(d) - lam, abs=1e-9)
    r = analyze(g, n_starts=0)
    assert r.lambda_max == pytest.approx(lam, rel=1e-8)
    assert r.phase == p.phase


@pytest.mark.parametrize("channels, size, seed", [((2, 4, 4), 10, 0), ((2, 4, 4), 10, 1), ((4, 8, 8), 8, 0)])
def test_circular_cnn_fourier_prediction_is_the_measured_curve(channels, size, seed):
    g = map_network(_cnn(channels, "circular", seed), (1, channels[0], size, size))
    p = fourier_prediction(g)
    assert p.exact
    # one cold-started eigen-solve per temperature: J commutes with translations, so a Lanczos run warm-started
    # from the critical mode of another temperature can stay in that mode's wave-vector sector and miss the top
    sel = np.nonzero(p.temperatures >= p.t_star / 2)[0][::3]
    f_measured = [stability_curve(g, [T], refine=False).f[0] for T in p.temperatures[sel]]
    np.testing.assert_allclose(p.stability[sel], f_measured, rtol=1e-7, atol=1e-9)
    r = analyze(g, n_starts=0)
    assert r.lambda_max == pytest.approx(p.lambda_max, rel=1e-8)
    assert r.phase == p.phase
    assert p.f_min <= r.f_min + 1e-9  # the per-wave-vector minimisation finds the true minimum of f
    assert r.t_c == pytest.approx(p.t_c, rel=0.03)


def test_few_channel_cnn_orders_like_a_modulated_ferromagnet():
    """Two input channels, four hidden: f < 0 on an interval, critical mode a plane wave at +-k_star."""
    g = map_network(_cnn((2, 4, 4), "circular", 1), (1, 2, 10, 10))
    p = fourier_prediction(g)
    r = analyze(g, n_starts=0)
    assert p.phase == r.phase == "hidden order"
    assert r.t_c == pytest.approx(p.t_c, rel=1e-6)
    # the independent-couplings formula misses it by far more than 3% (and calls it a glass)
    assert abs(p.variance_profile_tc / p.t_c - 1) > 0.2
    # the critical mode: in every layer, the Fourier power sits at +-k_star
    kk = np.round(np.array(p.k_star) * 10 / (2 * np.pi)).astype(int) % 10
    share = []
    for layer in g.layers:
        v = r.critical_mode[layer.slice].reshape(layer.shape)
        P = np.sum(np.abs(np.fft.fft2(v)) ** 2, axis=0)
        share.append((P[kk[0], kk[1]] + P[-kk[0] % 10, -kk[1] % 10]) / P.sum() / (1 + (kk == 0).all()))
    assert min(share) > 0.9


def test_zero_padding_is_a_boundary_perturbation_of_the_circular_prediction():
    """Same kernels, zero padding: the circulant prediction is an approximation (measured offsets, 8x8 maps)."""
    out = []
    for channels, seed in (((2, 4, 4), 1), ((4, 8, 8), 0)):
        g = map_network(_cnn(channels, "zeros", seed), (1, channels[0], 8, 8))
        p = fourier_prediction(g)
        assert not p.exact and p.translation_error > 0.1
        r = analyze(g, n_starts=0)
        assert r.phase == p.phase
        out.append(abs(r.t_c / p.t_c - 1))
    assert max(out) < 0.12  # measured 2.0% (modulated order) and 8.6% (glass) at 8x8; 3.0% and 6.7% at 12x12


def test_residual_nets_are_paramagnets_not_glasses():
    """Identity shortcuts are unit bonds: the Onsager term wins, f stays positive (no transition)."""
    g = map_network(ResCNN(4, 1, "circular"), (1, 4, 8, 8))
    p = fourier_prediction(g)
    assert p.exact
    assert p.block_sigma_max[[(s, t) for s, t, _ in p.block_sigma_max].index(("input", "relu_1"))][2] == (
        pytest.approx(1.0))  # the identity shortcut's symbol is I at every k
    r = analyze(g, n_starts=0)
    assert p.phase == r.phase == "paramagnet"
    assert r.f_min == pytest.approx(p.f_min, rel=1e-6)
    assert variance_profile_tc(g) > 0.9  # the independent-couplings formula predicts a glass at T ~ 1.09
    torch.manual_seed(0)
    gm = map_network(ResMLP(150, 1), (1, 150))
    rm = analyze(gm, n_starts=0)
    assert rm.phase == "paramagnet" and rm.f_min_rel > 0.2
    assert variance_profile_tc(gm) > 0.9


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_input_is_refused_clearly():
    g = map_network(nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3)), (1, 5))
    with pytest.raises(ValueError, match="feature map"):
        fourier_prediction(g)
    with pytest.raises(ValueError, match="SpinGraph"):
        fourier_prediction(g.blocks)
    with pytest.raises(ValueError, match="variance must be"):
        variance_profile_tc(g, variance="mean")
    with pytest.raises(ValueError, match="exclude names blocks"):
        variance_profile_tc(g, exclude=[("input", "output")])
    with pytest.raises(ValueError, match="map_network"):
        variance_profile_tc(np.eye(3))
