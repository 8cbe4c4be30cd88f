"""Random-plane statistics vs GOE(2), grid sanity, filter normalisation, interpolation and weight matching."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from spinlens.landscape import (
    goe2_probabilities,
    interpolate,
    random_direction,
    random_plane_statistics,
    surface_1d,
    surface_2d,
    weight_matching,
)
from tests.landscape._landscape_models import DUMMY, Quadratic, identity_loss, planted


def test_goe2_formula_at_mu_zero() -> None:
    p = goe2_probabilities(0.0)
    assert p["saddle"] == pytest.approx(1 / np.sqrt(2), abs=1e-12)
    assert p["min"] == pytest.approx((2 - np.sqrt(2)) / 4, abs=1e-12)
    assert p["max"] == pytest.approx(p["min"], abs=1e-15)


@pytest.mark.parametrize("mu", [0.0, 1.0])
def test_random_plane_probabilities_match_goe2(mu: float) -> None:
    n = 300
    lam = np.linspace(-1.0, 1.0, n)
    lam = lam + mu * lam.std() / np.sqrt(n)
    A, _ = planted(lam, seed=4)
    n_planes = 1500
    res = random_plane_statistics(Quadratic(A), identity_loss, DUMMY, n_planes=n_planes, mean_eig=lam.mean(),
                                  std_eig=lam.std(), rng=0, device="cpu")
    assert res.mu == pytest.approx(mu, abs=1e-9)
    goe = goe2_probabilities(mu)
    for kind in ("min", "max", "saddle"):
        p = goe[kind]
        sigma = np.sqrt(p * (1 - p) / n_planes)
        assert abs(getattr(res, f"p_{kind}") - p) < 3 * sigma, kind
    # principal curvatures of a projection never leave [lambda_min, lambda_max]
    assert res.principal_curvatures.min() >= lam.min() - 1e-9
    assert res.principal_curvatures.max() <= lam.max() + 1e-9


def _mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 3)).double()


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return torch.randn(64, 6, generator=g, dtype=torch.float64), torch.randint(0, 3, (64,), generator=g)


LOSS = nn.functional.cross_entropy


@pytest.mark.parametrize("fast", [True, False])
def test_grid_centre_and_mirror(fast: bool) -> None:
    net, data = _mlp(), _data()
    d1 = random_direction(net, rng=1)
    d2 = random_direction(net, rng=2)
    s = surface_2d(net, LOSS, data, (d1, d2), n_points=9, span=(-0.8, 0.8), fast=fast, device="cpu")
    with torch.no_grad():
        l0 = float(LOSS(net(data[0]), data[1]))
    assert s.loss[4, 4] == pytest.approx(l0, abs=1e-12)
    assert s.loss0 == pytest.approx(s.loss[4, 4], abs=1e-12)
    m = surface_2d(net, LOSS, data, (-d1, d2), n_points=9, span=(-0.8, 0.8), fast=fast, device="cpu")
    np.testing.assert_allclose(m.loss, s.loss[::-1, :], atol=1e-12)
    slow = surface_2d(net, LOSS, data, (d1, d2), n_points=9, span=(-0.8, 0.8), fast=not fast, device="cpu")
    np.testing.assert_allclose(slow.loss, s.loss, atol=1e-12)
    # each grid value is the loss of an explicitly perturbed model
    theta = torch.nn.utils.parameters_to_vector(net.parameters()).detach()
    probe = copy.deepcopy(net)
    torch.nn.utils.vector_to_parameters(theta + 0.6 * torch.as_tensor(d1) - 0.2 * torch.as_tensor(d2),
                                        probe.parameters())
    with torch.no_grad():
        lp = float(LOSS(probe(data[0]), data[1]))
    assert s.loss[7, 3] == pytest.approx(lp, abs=1e-12)


@settings(max_examples=8, deadline=None)
@given(a=st.floats(0.2, 5.0), bias=st.sampled_from(["ignore", "include"]), seed=st.integers(0, 1000))
def test_filter_normalised_slices_invariant_under_relu_rescaling(a: float, bias: str, seed: int) -> None:
    net, data = _mlp(), _data()
    scaled = copy.deepcopy(net)
    with torch.no_grad():
        scaled[0].weight *= a
        scaled[0].bias *= a
        scaled[2].weight /= a
    d = random_direction(net, bias=bias, rng=seed)
    d_s = random_direction(scaled, bias=bias, rng=seed)
    s = surface_1d(net, LOSS, data, d, n_points=7, device="cpu")
    t = surface_1d(scaled, LOSS, data, d_s, n_points=7, device="cpu")
    np.testing.assert_allclose(t.loss, s.loss, rtol=1e-9, atol=1e-10)


def test_weight_matching_undoes_a_permutation() -> None:
    net, data = _mlp(), _data()
    perm_net = copy.deepcopy(net)
    g = np.random.default_rng(0)
    p0, p1 = torch.as_tensor(g.permutation(8)), torch.as_tensor(g.permutation(5))
    with torch.no_grad():
        perm_net[0].weight.copy_(net[0].weight[p0])
        perm_net[0].bias.copy_(net[0].bias[p0])
        perm_net[2].weight.copy_(net[2].weight[p1][:, p0])
        perm_net[2].bias.copy_(net[2].bias[p1])
        perm_net[4].weight.copy_(net[4].weight[:, p1])
    torch.testing.assert_close(perm_net(data[0]), net(data[0]))
    aligned, _ = weight_matching(net, perm_net)
    for p, q in zip(aligned.parameters(), net.parameters(), strict=False):
        torch.testing.assert_close(p, q)
    res = interpolate(net, perm_net, LOSS, data, n_points=11, align=True, device="cpu")
    assert abs(res.barrier) < 1e-12 and abs(res.barrier_mean) < 1e-12
    assert np.ptp(res.loss_unaligned) > 1e-4 and res.distance == 0.0
    ts, L = res.ts, res.loss_unaligned
    assert res.barrier_unaligned == pytest.approx(np.max(L - ((1 - ts) * L[0] + ts * L[-1])))
