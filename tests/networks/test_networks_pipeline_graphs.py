"""The phases pipeline on networks beyond MLPs: the user's own CNN module, built-in cnn/resnet, one pipeline."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from spinlens.networks import cnn, mlp, resnet
from spinlens.networks.experiment import (
    ExperimentConfig,
    analyze_checkpoints,
    network_graph,
    run_experiment,
    summarize_run,
)
from spinlens.networks.reader import input_shape_of, spin_graph
from spinlens.networks.spectrum import spectrum
from spinlens.networks.theory import init_theory, variance_profile_tc
from tests.cli_helpers import run_main

USER_CNN = textwrap.dedent('''
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class Net(nn.Module):
        """A user's CNN on 1x8x8 images: conv, eval BatchNorm, a residual add, average pooling, a dense head."""

        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 3, 3, padding=1)
            self.bn1 = nn.BatchNorm2d(3)
            self.conv2 = nn.Conv2d(3, 3, 3, padding=1)
            self.head = nn.Linear(3 * 4 * 4, 10)

        def forward(self, x):
            a = F.relu(self.bn1(self.conv1(x)))
            b = torch.tanh(self.conv2(a) + a)
            return self.head(F.avg_pool2d(b, 2).flatten(1))


    def build():
        return Net()
''')


def _user_cnn_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Train the user's CNN a little on digits and save checkpoints as people do (dicts with a state_dict key)."""
    from spinlens.data import load_dataset

    src = tmp_path / "user_cnn.py"
    src.write_text(USER_CNN)
    monkeypatch.syspath_prepend(str(tmp_path))
    ns: dict = {}
    exec(compile(USER_CNN, str(src), "exec"), ns)
    torch.manual_seed(0)
    net = ns["build"]()
    ds = load_dataset("digits", n_samples=300)
    X = torch.tensor(ds.X, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(ds.y)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    ck = tmp_path / "cks"
    ck.mkdir()
    for step in range(41):
        if step in (0, 5, 20, 40):
            torch.save({"epoch": 0, "model_state_dict": net.state_dict()}, ck / f"step_{step}.pt")
        net.train()
        opt.zero_grad()
        nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    return ck


def test_user_cnn_module_checkpoints_through_the_cli(tmp_path, monkeypatch, capsys):
    """Done-when: a user's own nn.Module CNN checkpoints are analysed with --checkpoints/--model."""
    ck = _user_cnn_run(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    base = ["phases", "--checkpoints", str(ck), "--model", "user_cnn.py:build", "--n-starts", "2",
            "--tap-checkpoints", "1", "--workers", "1"]
    code, text = run_main([*base, "--out", str(tmp_path / "no"), "--dataset", "digits"], capsys)
    assert code == 2 and "--input-shape" in text and not (tmp_path / "no").exists()  # flat samples do not fit
    code, text = run_main([*base, "--out", str(tmp_path / "no")], capsys)
    assert code == 2 and "--input-shape" in text and "conv1" in text  # no Linear layer first: the shape is asked
    out = tmp_path / "run"
    code, text = run_main([*base, "--out", str(out), "--dataset", "digits", "--n-samples", "300",
                           "--input-shape", "1,8,8"], capsys)
    assert code == 0, text
    recs = json.loads((out / "checkpoints_analysis.json").read_text())
    assert [r["step"] for r in recs] == [0, 5, 20, 40]
    layers = recs[0]["layers"]
    assert [tuple(s) for _, s in layers] == [(1, 8, 8), (3, 8, 8), (3, 8, 8), (10,)]
    # conv1 (+ folded BN), conv2, the residual identity a -> b, and the pooled head
    assert {(a, b) for a, b, _ in recs[0]["blocks"]} == {("input", layers[1][0]), (layers[1][0], layers[2][0]),
                                                          (layers[2][0], "output")}
    for r in recs:
        assert abs(sum(r["mode_share"]) - 1) < 1e-9 and len(r["mode_share"]) == 4
        assert len(r["top_ratio"]) == len(r["blocks"]) == len(r["rel_change"])
        assert 0 <= r["eval_accuracy"] <= 1
    assert recs[0]["outliers"] == [0, 0, 0] and recs[0]["rel_change"] == [0.0, 0.0, 0.0]
    assert recs[-1]["eval_accuracy"] > recs[0]["eval_accuracy"]  # the checkpoints' own forward pass on 1x8x8
    html = (out / "report.html").read_text()
    assert "BatchNorm folded" in html and "1×8×8" in html and "critical mode" in html
    manifest = json.loads((out / "manifest.json").read_text())["config"]
    assert manifest["input_shape"] == [1, 8, 8] and "arch" not in manifest and "channels" not in manifest


SUB_MLP = textwrap.dedent('''
    import torch
    import torch.nn as nn


    class Sub(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(12, 9), nn.Linear(9, 4)

        def forward(self, x):
            return self.b(torch.tanh(self.a(x)))
''')


def test_module_mlp_and_its_state_dict_give_the_same_analysis(tmp_path):
    """One pipeline: an MLP read as a module (graph capture) and as a bare state dict (chain rule) agree."""
    (tmp_path / "m.py").write_text(SUB_MLP)
    ns: dict = {}
    exec(compile(SUB_MLP, "m.py", "exec"), ns)
    torch.manual_seed(1)
    net = ns["Sub"]()
    seq = nn.Sequential(net.a, nn.Tanh(), net.b)  # shares the Linear layers
    g_mod, g_sd = spin_graph(net), spin_graph(seq.state_dict())
    assert abs(g_mod.model.csr() - g_sd.model.csr()).max() == 0
    assert input_shape_of(net) == (12,)
    s1, s2 = spectrum(g_mod), spectrum(g_sd)
    np.testing.assert_allclose(s1.top_ratio, s2.top_ratio, rtol=1e-12)
    for path in ("a", "b"):
        (tmp_path / path).mkdir()
    for step in (0, 10):
        torch.save(net.state_dict(), tmp_path / "a" / f"step_{step}.pt")
        torch.save(seq.state_dict(), tmp_path / "b" / f"step_{step}.pt")
        with torch.no_grad():  # a rank-one spike: hidden order at step 10
            net.a.weight.add_(torch.outer(torch.ones(9), torch.ones(12)) * 0.4)
    out = {}
    for path, builder in (("a", f"{tmp_path / 'm.py'}:Sub"), ("b", None)):
        cfg = ExperimentConfig(checkpoint_dir=str(tmp_path / path), model_builder=builder, n_starts=0)
        cks = [(0, tmp_path / path / "step_0.pt"), (10, tmp_path / path / "step_10.pt")]
        out[path] = analyze_checkpoints(cfg, cks, tmp_path / f"run_{path}")
        res = summarize_run(cfg, out[path], tmp_path / path, cks)
        assert res.init_formula == "layered SK" and abs(res.init_prediction - variance_profile_tc(g_mod)) < 1e-12
    for ra, rb in zip(out["a"], out["b"], strict=True):
        assert ra["t_c"] == pytest.approx(rb["t_c"], rel=1e-9) and ra["phase"] == rb["phase"]
        np.testing.assert_allclose(ra["top_ratio"], rb["top_ratio"], rtol=1e-10)
        np.testing.assert_allclose(ra["mode_share"], rb["mode_share"], atol=1e-6)
    assert out["a"][1]["phase"] == "hidden order" and out["a"][1]["outliers"][0] >= 1


def test_block_spectrum_edges_and_motion():
    """Conv blocks get the step-0 sigma_max as their edge, dense i.i.d. blocks the random-matrix edge; a pooled
    dense head (Linear after AvgPool, correlated columns) is recognised as not i.i.d."""
    net = cnn((1, 8, 8), (3, 4), 10, rng=0).eval()
    g0 = spin_graph(net, (1, 64))
    sp0 = spectrum(g0, g0)
    kinds = dict(zip(sp0.blocks, sp0.edge_kinds, strict=True))
    assert [k for b, k in kinds.items() if b.startswith("input")] == ["step-0 sigma_max"]
    assert list(kinds.values())[-1] == "random-matrix"  # the last Linear: i.i.d. at initialisation
    for sv, kind, edge, ratio in zip(sp0.singular_values, sp0.edge_kinds, sp0.edges, sp0.top_ratio, strict=True):
        if kind == "step-0 sigma_max":
            assert ratio == pytest.approx(1.0, rel=1e-6) and sv[0] == pytest.approx(edge, rel=1e-6)
    np.testing.assert_array_equal(sp0.rel_change, 0.0)
    with torch.no_grad():  # double the first conv's kernel: its singular values and motion double, exactly
        net[1].weight.mul_(2.0)
        net[1].bias.zero_()
    sp1 = spectrum(spin_graph(net, (1, 64)), g0)
    assert sp1.top_ratio[0] == pytest.approx(2.0, rel=1e-6) and sp1.rel_change[0] == pytest.approx(1.0, rel=1e-12)
    assert sp1.outliers[0] >= 1 and sp1.outliers[1] == 0


def test_init_theory_says_which_formula_applies():
    g_mlp = spin_graph(mlp((30, 20, 10), rng=0))
    t = init_theory(g_mlp)
    assert (t.formula, t.exact) == ("layered SK", True)

    class Circ(nn.Module):  # one spatial grid, circular padding: the Fourier symbol is exact
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = (nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular"),
                                nn.Conv2d(3, 2, 3, padding=1, padding_mode="circular"))

        def forward(self, x):
            return self.c2(torch.relu(self.c1(x)))

    torch.manual_seed(0)
    t = init_theory(spin_graph(Circ(), (1, 2, 6, 6)))
    assert t.formula == "Fourier symbol" and t.exact
    t = init_theory(spin_graph(cnn((1, 8, 8), (2, 2), 10, rng=0).eval(), (1, 64)))
    assert t.formula == "variance profile (as if independent)" and not t.exact and "approximation" in t.text


@pytest.mark.parametrize("arch,channels,blocks", [("cnn", (2, 3), None), ("resnet", (2,), 1)])
def test_builtin_architectures_train_and_report(tmp_path, arch, channels, blocks):
    cfg = ExperimentConfig(arch=arch, channels=channels, n_blocks=blocks, dataset="digits", n_samples=200, steps=12,
                           n_checkpoints=3, n_starts=2, n_tap_checkpoints=1, lr=0.05)
    res = run_experiment(cfg, tmp_path / arch)
    assert len(res.steps) == 3 and set(res.phases) <= {"paramagnet", "spin glass", "hidden order"}
    built = (cnn((1, 8, 8), channels, 10, rng=0) if arch == "cnn" else resnet((1, 8, 8), channels[0], blocks, 10,
                                                                                rng=0)).eval()
    g = network_graph(cfg, built)
    assert res.layer_shapes == tuple(layer.shape for layer in g.layers) and res.widths == tuple(
        layer.size for layer in g.layers)
    assert res.mode_share is not None and np.allclose(res.mode_share.sum(axis=1), 1.0)
    assert res.init_formula == "variance profile (as if independent)"
    if arch == "resnet":
        assert any("BatchNorm folded" in note for note in res.notes)
        assert len(res.block_names) > len(res.layer_names) - 1  # identity shortcuts skip layers


def test_config_refuses_options_that_do_not_apply():
    with pytest.raises(ValueError, match="arch must be one of"):
        ExperimentConfig(arch="vgg")
    with pytest.raises(ValueError, match="not an MLP"):
        ExperimentConfig(channels=(4, 4))
    with pytest.raises(ValueError, match="residual blocks"):
        ExperimentConfig(arch="cnn", n_blocks=2)
    with pytest.raises(ValueError, match="must be 2 number"):
        ExperimentConfig(arch="cnn", channels=(4,))
    with pytest.raises(ValueError, match="user's module"):
        ExperimentConfig(input_shape=(1, 28, 28))
