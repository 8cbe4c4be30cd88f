"""to_spins: round-trip energies, supported inputs, bad input, safe checkpoint loading."""
from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from spinlens.networks import Sign, load_checkpoint, mlp, to_spins


def _energy_from_weights(Ws, bs, s_layers, with_field):
    """H = -sum_l s^(l+1) . W_l s^(l) - sum_l b^(l+1) . s^(l+1), straight from the raw weights."""
    e = 0.0
    for l, W in enumerate(Ws):
        e -= s_layers[l + 1] @ W @ s_layers[l]
        if with_field and bs[l] is not None:
            e -= bs[l] @ s_layers[l + 1]
    return e


@settings(max_examples=25, deadline=None)
@given(widths=st.lists(st.integers(1, 6), min_size=2, max_size=5), seed=st.integers(0, 2**31 - 1),
       with_field=st.booleans())
def test_round_trip_energies(widths, seed, with_field):
    g = np.random.default_rng(seed)
    net = mlp(widths, "tanh", bias=True, rng=seed)
    Ws = [m.weight.detach().double().numpy() for m in net if isinstance(m, nn.Linear)]
    bs = [m.bias.detach().double().numpy() for m in net if isinstance(m, nn.Linear)]
    mapped = to_spins(net, bias_as_field=with_field)
    assert mapped.widths == tuple(widths)
    assert mapped.model.layers == tuple(widths)
    assert mapped.model.is_sparse
    S = g.choice([-1, 1], size=(5, sum(widths)))
    for s in S:
        parts = np.split(s.astype(float), np.cumsum(widths)[:-1])
        assert mapped.model.energy(s) == pytest.approx(_energy_from_weights(Ws, bs, parts, with_field), abs=1e-9)


def test_no_couplings_inside_a_layer_and_block_structure():
    Ws = [np.arange(6.0).reshape(3, 2) + 1, np.ones((1, 3))]
    m = to_spins(Ws).model.dense_J()
    assert np.all(m[:2, :2] == 0) and np.all(m[2:5, 2:5] == 0)
    np.testing.assert_array_equal(m[:2, 2:5], Ws[0].T)
    np.testing.assert_array_equal(m[2:5, 5:], Ws[1].T)
    assert not to_spins(Ws).model.has_field


def test_state_dict_weight_list_and_module_agree():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Dropout(0.1), nn.Linear(3, 2), Sign(),
                        nn.Identity(), nn.Sequential(nn.GELU(), nn.Linear(2, 2)))
    a = to_spins(net, bias_as_field=True).model
    b = to_spins(net.state_dict(), bias_as_field=True).model
    c = to_spins([m.weight for m in net.modules() if isinstance(m, nn.Linear)]).model
    assert (a.csr() != b.csr()).nnz == 0 and (a.csr() != c.csr()).nnz == 0
    np.testing.assert_array_equal(a.h, b.h)
    assert to_spins(net).layer_names == ("input", "1", "4", "7.1")


class _Skip(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 3)

    def forward(self, x):
        return x + self.a(x)


@pytest.mark.parametrize(
    "net, match",
    [
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2)), r"layer 0 \(Conv2d\) is not supported"),
        (nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.Linear(3, 2)), r"BatchNorm1d"),
        (nn.Sequential(nn.Linear(4, 4), nn.MultiheadAttention(4, 1)), r"MultiheadAttention"),
        (nn.Sequential(nn.Linear(3, 3), nn.PReLU(), nn.Linear(3, 2)), r"PReLU"),
        (_Skip(), r"skip connection"),
        (nn.Sequential(nn.Linear(3, 4), nn.Flatten(), nn.Linear(4, 2)), r"Flatten"),
        (nn.Sequential(nn.ReLU()), r"no Linear"),
        ({"conv.weight": torch.zeros(2, 1, 3, 3)}, r"conv.weight"),
        ({"0.weight": torch.zeros(3, 2), "1.running_mean": torch.zeros(3)}, r"BatchNorm"),
        ([np.zeros((3, 2)), np.zeros((2, 4))], r"not a chain of Linear layers"),
        ([np.array([[np.nan, 1.0]])], r"NaN"),
        ("not a model", r"does not exist"),
        (3.5, r"net is a float"),
    ],
)
def test_bad_input(net, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        to_spins(net)


def test_nan_in_module_weights():
    net = mlp([3, 2, 2], rng=0)
    with torch.no_grad():
        net[0].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        to_spins(net)


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['SPINLENS_EVIL_MARKER']}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_malicious_pickles_are_refused_without_running(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("SPINLENS_EVIL_MARKER", str(marker))
    raw = tmp_path / "evil.pkl"
    raw.write_bytes(pickle.dumps({"0.weight": _Evil()}))
    buf = io.BytesIO()
    torch.save({"0.weight": _Evil()}, buf)
    zipped = tmp_path / "evil.pt"
    zipped.write_bytes(buf.getvalue())
    for p in (raw, zipped):
        with pytest.raises(ValueError, match="never unpickles"):
            load_checkpoint(p)
        with pytest.raises(ValueError):
            to_spins(str(p))
    assert not marker.exists()


def test_checkpoint_that_is_not_a_state_dict(tmp_path):
    p = tmp_path / "list.pt"
    torch.save([torch.zeros(2, 2)], p)
    with pytest.raises(ValueError, match="not a state dict"):
        load_checkpoint(p)
    q = tmp_path / "mixed.pt"
    torch.save({"0.weight": torch.zeros(2, 2), "epoch": 3}, q)
    with pytest.raises(ValueError, match="not tensors"):
        load_checkpoint(q)
    bad = tmp_path / "junk.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="safetensors"):
        load_checkpoint(bad)


def test_checkpoint_formats_round_trip(tmp_path):
    from safetensors.torch import save_file

    net = mlp([5, 4, 3], rng=1)
    torch.save(net.state_dict(), tmp_path / "a.pt")
    torch.save({"state_dict": net.state_dict(), "epoch": torch.tensor(3)}, tmp_path / "b.pt")
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "c.safetensors"))
    ref = to_spins(net).model.csr()
    for name in ("a.pt", "b.pt", "c.safetensors"):
        assert (to_spins(str(tmp_path / name)).model.csr() != ref).nnz == 0
